/*
 * monitor - watches a shmlab run without touching it.
 *
 * Attaches the run's segment read-only (SHM_RDONLY) and reads the
 * semaphore set with semctl(IPC_STAT, GETALL, GETNCNT, GETZCNT, GETPID)
 * only.  It never calls semop, never sets a value and never writes to the
 * segment, so watching a run cannot change its outcome; it creates and
 * removes nothing, not even the default key file.  Two traces of it are
 * unavoidable and documented: its attachment counts in shm_nattch, and
 * its shmat makes it the segment's shm_lpid until the next attach.
 *
 * Start order: after the producer.  With no segment under the key it says
 * so and exits 3; a segment not yet initialised is polled for a while.
 *
 *	producer -c 200 --delay 100 & consumer -n 2 & monitor
 *	monitor --json | python3 -m json.tool
 *
 * Exit status: 0 a snapshot was shown, the run ended while watched, or a
 * signal ended the watch; 2 bad usage; 3 no run under the key, not a
 * shmlab segment, another user's run, or an IPC failure.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "live.h"
#include "mode.h"
#include "optloop.h"
#include "runopts.h"
#include "shmlib.h"
#include "slides_main.h"
#include "watch.h"

#define MONITOR_SCHEMA	1	/* bump when a JSON key changes meaning */
#define READY_WAIT_MS	5000	/* a producer initialises in microseconds */
#define RING_CELLS	64	/* rings up to this size: shown slot by slot */
#define MARK_MAX	6	/* characters of a slot's marker cell */
#define LABEL_W		11	/* width of the section labels */
#define PLAIN_COLS	80	/* layout width when not on a terminal */
#define DRAIN_POLL_MS	20	/* how soon we let go of a drained run */
#define HOLD_MS		600000	/* --hold: the longest the last frame stays */

/*
 * What stays fixed for the life of a run, copied once after validation.
 * Sizes and offsets are never read from the segment again: a writer that
 * changed capacity later could otherwise send us past its end.
 */
struct run {
	key_t		 key;
	const char	*keypath;
	int		 proj;
	int		 shmid;
	int		 semid;
	int		 nsems;
	uint32_t	 capacity;
	uint32_t	 mode;
	uint32_t	 flags;
	uint32_t	 expected;
	uint32_t	 max_consumers;
	uint32_t	 batch;
	uint64_t	 count;
	uint64_t	 seed;
};

struct sem_view {
	int		 value;
	int		 ncnt;
	int		 zcnt;
	int		 pid;
};

struct con_view {
	uint32_t	 index;
	uint32_t	 state;
	int32_t		 pid;
	int32_t		 exit_status;
	uint64_t	 consumed;
	uint64_t	 first_seq;
	uint64_t	 last_seq;
	uint64_t	 out_of_order;
	uint64_t	 corrupted;
	uint64_t	 pos;
	uint64_t	 freed;
	uint64_t	 claim_len;
	uint64_t	 batches;
	uint64_t	 end_ns;
	int		 alive;
	double		 rate;		/* items/s since the last refresh, */
	double		 avg;		/* ... since the first; < 0 unknown */
};

/* One refresh: everything read, nothing computed from it yet shown. */
struct snapshot {
	uint64_t	 now;		/* now_ns(), the producer's clock */
	time_t		 wall;
	struct shmid_ds	 ds;
	struct semid_ds	 sds;
	int		 have_sem;
	uint32_t	 state;
	uint32_t	 eos;
	uint32_t	 registered;
	uint32_t	 ncons;		/* records shown: registered, clamped */
	int32_t		 producer_pid;
	int		 producer_alive;
	uint64_t	 head;
	uint64_t	 tail;
	uint64_t	 freed;
	uint64_t	 total;
	uint64_t	 start_ns;
	uint64_t	 lo;		/* oldest position still held */
	uint64_t	 mid;		/* first position not read by all */
	uint64_t	 fill;
	uint64_t	 over;		/* --unsafe: items overwritten unread */
	uint64_t	 consumed;	/* over every record */
	uint64_t	 end_ns;	/* last consumer's finish, all done */
	double		 prate;		/* produced items/s; < 0 unknown */
	double		 crate;
	double		 pavg;
	double		 cavg;
	int		 ended;
	const char	*why_ended;
	int32_t		 vals[RING_CELLS];
	char		 map[RING_CELLS];
};

/* The counters of the previous refresh, for rates between two. */
struct prev {
	int		 have;
	uint64_t	 now;
	uint64_t	 head;
	uint64_t	 consumed;
	uint64_t	 con[SHM_MAX_CONSUMERS];
};

struct monitor;

/*
 * What each kind of run shows, set once from the run's mode table when
 * the run is attached (view_init), so that no function below tests the
 * mode again.  Queue consumers share one tail; broadcast consumers each
 * have a position and a pair of semaphores; the race demonstration
 * guards nothing, so items can be overwritten unread.  The texts
 * (common/modetab.c) are translated where shown.
 */
struct view {
	int		 shared_tail;	/* 'T', and the tail/freed counters */
	int		 own_pos;	/* each consumer's mark, pos, pair */
	int		 unsafe;	/* '!' and OVERWRITTEN are possible */
	const struct mode_texts *text;
	/* [*lo, head) is held and [*mid, head) not yet taken. */
	void		(*window)(const struct monitor *, uint64_t *,
			    uint64_t *);
	/* The semaphore invariant's line, or NULL: none holds. */
	void		(*balance)(const struct monitor *, FILE *);
};

/*
 * The monitor's whole state, passed to every function that needs it: the
 * run as attached, the latest snapshot, and what the rates compare to.
 */
struct monitor {
	const struct mode_table *mode;	/* the run's mode table (mode.h) */
	struct view	 view;		/* how it is shown: from the table */
	struct run	 run;
	struct shm_ring	 ring;
	struct snapshot	 snap;
	struct con_view	 cons[SHM_MAX_CONSUMERS];
	struct sem_view	*sems;		/* run.nsems of them */
	unsigned short	*semvals;	/* GETALL's buffer */
	struct prev	 prev;
	int		 detached;	/* header counters are final */
};

/*
 * The only file-scope state: what a signal handler and the atexit hook
 * must reach.  stop_flag ends the watch; cursor_hidden lets every exit,
 * errx(3) included, show the terminal's cursor again.
 */
static volatile sig_atomic_t stop_flag;
static int	 cursor_hidden;

static void	 usage(void) __attribute__((noreturn));
static void	 parse_args(int, char *[], struct watch *);
static void	 resolve_key(struct monitor *, struct watch *);
static void	 watch_loop(struct monitor *, const struct watch *);
static void	 show(struct monitor *, const struct watch *, long long);
static void	 on_signal(int);
static void	 restore_cursor(void);
static void	 attach_run(struct monitor *);
static void	 attach_refused(const struct run *, const char *, int *);
static void	 never_ready(const struct run *) __attribute__((noreturn));
static void	 open_sems(struct monitor *);
static int	 ipc_gone(int);
static void	 collect(struct monitor *);
static int	 drained(const struct monitor *);
static void	 let_go(struct monitor *);
static void	 collect_sems(struct monitor *);
static void	 ended(struct monitor *, const char *);
static int	 sems_gone(struct monitor *, const char *, int);
static void	 collect_consumers(struct monitor *);
static void	 window(struct monitor *);
static void	 window_queue(const struct monitor *, uint64_t *, uint64_t *);
static void	 window_broadcast(const struct monitor *, uint64_t *,
		    uint64_t *);
static void	 window_unsafe(const struct monitor *, uint64_t *, uint64_t *);
static void	 view_init(struct view *, const struct mode_table *);
static void	 rates(struct monitor *);
static double	 per_s(uint64_t, uint64_t);
static const char *sem_name(const struct monitor *, int, char *, size_t);
static char	 con_mark(uint32_t);
static void	 put_time(FILE *, time_t, time_t, int);
static char	*fmt_rate(char *, size_t, double);
static void	 text(const struct monitor *, FILE *, int);
static void	 text_segment(const struct monitor *, FILE *);
static void	 text_notes(const struct monitor *, FILE *);
static void	 text_ring(const struct monitor *, FILE *, int);
static void	 text_cells(const struct monitor *, FILE *, int);
static void	 text_bar(const struct monitor *, FILE *);
static void	 balance_queue(const struct monitor *, FILE *);
static void	 balance_broadcast(const struct monitor *, FILE *);
static void	 text_sems(const struct monitor *, FILE *);
static int	 state_cols(void);
static void	 text_consumers(const struct monitor *, FILE *);
static void	 json(const struct monitor *, FILE *);
static void	 json_head(const struct monitor *, FILE *);
static void	 json_segment(const struct monitor *, FILE *);
static void	 json_counters(const struct monitor *, FILE *);
static void	 json_sems(const struct monitor *, FILE *);
static void	 json_consumers(const struct monitor *, FILE *);
static void	 json_ring(const struct monitor *, FILE *);
static void	 json_rate(FILE *, double);
static void	 term_size(int *, int *);
static void	 frame(const struct monitor *, int);
static void	 ended_line(const struct monitor *, FILE *);
static void	 nap_ms(int);
static void	 nap(struct monitor *, int);
static int	 lw(const char *);
static int	 pad(int, const char *);
static int	 hold(void);

static void
usage(void)
{
	fprintf(stderr, _("usage: %s [-k keyfile] [-p proj_id] [-i interval_ms] "
	    "[-n iterations] [--hold]\n"
	    "       %s [-k keyfile] [-p proj_id] --once | --json\n"),
	    getprogname(), getprogname());
	exit(2);
}

/*
 * The field width that pads a translated label to LABEL_W columns:
 * printf pads bytes, and an accented letter takes two.
 */
static int
lw(const char *s)
{
	return pad(LABEL_W, s);
}

/* The field width that pads s to w columns (a column head, translated). */
static int
pad(int w, const char *s)
{
	return i18n_pad(w, s);
}

/*
 * --hold: the last frame stays until a key is pressed on the terminal
 * (no Enter needed), a signal, or HOLD_MS, so that a class can read the
 * final counters.  Returns 0, or -1 when stdin is not a terminal.
 */
static int
hold(void)
{
	struct termios old, raw;
	struct pollfd pfd;
	char c;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &old) == -1)
		return -1;
	raw = old;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == -1)
		return -1;
	(void)printf("%s", _("-- press a key to close --"));
	(void)fflush(stdout);
	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	(void)tcflush(STDIN_FILENO, TCIFLUSH);
	if (poll(&pfd, 1, HOLD_MS) == 1 && read(STDIN_FILENO, &c, 1) == -1)
		warn("%s", _("reading the key press"));
	if (tcsetattr(STDIN_FILENO, TCSANOW, &old) == -1)
		warn("%s", _("restoring the terminal"));
	(void)putchar('\n');
	return 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Runs at exit on every path, errx(3) included: never leave it hidden. */
static void
restore_cursor(void)
{
	if (cursor_hidden) {
		fputs("\033[?25h", stdout);
		(void)fflush(stdout);
		cursor_hidden = 0;
	}
}

static void
nap_ms(int ms)
{
	struct timespec ts, left;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &left) == -1 && errno == EINTR && !stop_flag)
		ts = left;
}

/*
 * Waits for the next refresh, but wakes early when the run has drained,
 * so that the monitor lets go of the segment within DRAIN_POLL_MS.
 */
static void
nap(struct monitor *m, int ms)
{
	int slept;

	for (slept = 0; slept < ms && !stop_flag; slept += DRAIN_POLL_MS) {
		nap_ms(ms - slept < DRAIN_POLL_MS ? ms - slept :
		    DRAIN_POLL_MS);
		if (drained(m))
			return;
	}
}

/*
 * Why seg_attach_msg() failed, as errno says: a reason to stop (exit 3),
 * or one to look again (the segment was removed between shmget and shmat,
 * or is not initialised yet: said once).
 */
static void
attach_refused(const struct run *r, const char *why, int *said)
{
	switch (errno) {
	case ENOENT:
		errx(3, _("no shmlab run under key 0x%08lx (%s, proj_id "
		    "%d): start a producer, or check -k/-p"),
		    (unsigned long)(uint32_t)r->key, r->keypath, r->proj);
	case EPROTO:
		/* The reason says what is wrong; -k/-p, what to try. */
		errx(3, _("key 0x%08lx (%s): %s; check -k/-p"),
		    (unsigned long)(uint32_t)r->key, r->keypath, why);
	case EACCES:
		errx(3, _("key 0x%08lx (%s): permission denied: the run "
		    "belongs to another user (its producer can widen "
		    "it with --perm), or use your own -k/-p"),
		    (unsigned long)(uint32_t)r->key, r->keypath);
	case EIDRM:
	case EINVAL:
		/* Removed between shmget and shmat: look again. */
		break;
	case EAGAIN:
		if (!*said)
			warnx(_("key 0x%08lx (%s): %s; waiting up to "
			    "%d s"), (unsigned long)(uint32_t)r->key,
			    r->keypath, why, READY_WAIT_MS / 1000);
		*said = 1;
		break;
	default:
		err(3, _("attaching the segment under key 0x%08lx (%s)"),
		    (unsigned long)(uint32_t)r->key, r->keypath);
	}
}

/* READY_WAIT_MS passed and the segment is still not ready: say why. */
static void
never_ready(const struct run *r)
{
	struct shmid_ds ds;
	int id;

	id = shmget(r->key, 0, 0);
	if (id != -1 && shmctl(id, IPC_STAT, &ds) == 0 &&
	    !pid_alive(ds.shm_cpid))
		errx(3, _("key 0x%08lx (%s): the segment was "
		    "never initialised and its creator (pid "
		    "%d) is gone: remove it with 'producer "
		    "--clean' and the same -k/-p"),
		    (unsigned long)(uint32_t)r->key, r->keypath,
		    (int)ds.shm_cpid);
	errx(3, _("key 0x%08lx (%s): the segment is still not "
	    "initialised after %d s: is its producer stopped?"),
	    (unsigned long)(uint32_t)r->key, r->keypath,
	    READY_WAIT_MS / 1000);
}

/*
 * Attaches read-only and validates.  ENOENT and EPROTO end the program at
 * once; a segment that exists but is not ready yet is the producer between
 * shmget and its last store, so it is polled for a while.
 */
static void
attach_run(struct monitor *m)
{
	const struct shm_header *h;
	struct run *r = &m->run;
	char why[256];
	uint64_t start = now_ns();
	int said = 0;

	while (seg_attach_msg(r->key, SHM_RDONLY, &m->ring, why,
	    sizeof(why)) == -1) {
		attach_refused(r, why, &said);
		if (stop_flag)
			exit(0);
		if (now_ns() - start > READY_WAIT_MS * 1000000ULL)
			never_ready(r);
		nap_ms(20);
	}
	h = m->ring.hdr;
	r->shmid = m->ring.shmid;
	r->capacity = h->capacity;
	r->mode = h->mode;
	r->flags = h->flags;
	r->expected = h->expected;
	r->max_consumers = h->max_consumers;
	r->batch = h->batch;
	r->count = h->count;
	r->seed = h->seed;
	m->mode = run_mode((enum shm_mode)r->mode, r->flags);
	view_init(&m->view, m->mode);
}

/* EINVAL and EIDRM from an id we held: the object was removed. */
static int
ipc_gone(int e)
{
	return e == EINVAL || e == EIDRM || e == ENOENT;
}

/*
 * Finds the semaphore set through the key, as the kernel knows it, and
 * cross-checks the id the producer wrote into the header.  A set already
 * gone is not an error: the run ended between our attach and here.
 */
static void
open_sems(struct monitor *m)
{
	struct run *r = &m->run;
	struct semid_ds ds;
	union semun arg;
	int hdr_semid = SHM_LOAD(&m->ring.hdr->semid);

	r->semid = semget(r->key, 0, 0);
	if (r->semid == -1) {
		if (ipc_gone(errno))
			return;
		if (errno == EACCES)
			errx(3, _("semaphore set of key 0x%08lx (%s): permission "
			    "denied: the run belongs to another user"),
			    (unsigned long)(uint32_t)r->key, r->keypath);
		err(3, _("semget(key 0x%08lx from %s)"),
		    (unsigned long)(uint32_t)r->key, r->keypath);
	}
	if (r->semid != hdr_semid)
		warnx(_("the segment names semaphore set %d but key 0x%08lx has "
		    "set %d: showing the key's"), hdr_semid,
		    (unsigned long)(uint32_t)r->key, r->semid);
	arg.buf = &ds;
	if (semctl(r->semid, 0, IPC_STAT, arg) == -1) {
		if (ipc_gone(errno)) {
			r->semid = -1;
			return;
		}
		err(3, _("semctl(IPC_STAT) on sem id %d of key 0x%08lx"),
		    r->semid, (unsigned long)(uint32_t)r->key);
	}
	r->nsems = (int)ds.sem_nsems;
	m->semvals = calloc((size_t)r->nsems, sizeof(*m->semvals));
	if (m->semvals == NULL)
		err(3, "calloc(%d semaphore values)", r->nsems);
	m->sems = calloc((size_t)r->nsems, sizeof(*m->sems));
	if (m->sems == NULL)
		err(3, "calloc(%d semaphore views)", r->nsems);
}

/* The run ended while watched; why says how, untranslated (N_). */
static void
ended(struct monitor *m, const char *why)
{
	m->snap.ended = 1;
	m->snap.why_ended = why;
}

/*
 * A semctl on the set failed with errno: the set was removed (the run has
 * ended, not an error), or the call failed and the monitor stops.  what
 * names the call; sem is its semaphore, or -1 for the whole set.
 */
static int
sems_gone(struct monitor *m, const char *what, int sem)
{
	if (!ipc_gone(errno)) {
		if (sem >= 0)
			err(3, _("%s on semaphore %d of sem id %d"), what, sem,
			    m->run.semid);
		err(3, _("%s on sem id %d"), what, m->run.semid);
	}
	ended(m, N_("semaphore set removed"));
	return -1;
}

/*
 * Reads the semaphores.  GETALL is one atomic read of every value; the
 * wait counts and pids come one call each, a moment later, which is as
 * close as System V lets an observer get.
 */
static void
collect_sems(struct monitor *m)
{
	struct sem_view *v;
	union semun arg;
	int i, id = m->run.semid;

	m->snap.have_sem = 0;
	if (id == -1) {
		ended(m, N_("semaphore set removed"));
		return;
	}
	arg.buf = &m->snap.sds;
	if (semctl(id, 0, IPC_STAT, arg) == -1 &&
	    sems_gone(m, "semctl(IPC_STAT)", -1) == -1)
		return;
	arg.array = m->semvals;
	if (semctl(id, 0, GETALL, arg) == -1 &&
	    sems_gone(m, "semctl(GETALL)", -1) == -1)
		return;
	for (i = 0; i < m->run.nsems; i++) {
		v = &m->sems[i];
		v->value = m->semvals[i];
		if ((v->ncnt = semctl(id, i, GETNCNT)) == -1 ||
		    (v->zcnt = semctl(id, i, GETZCNT)) == -1 ||
		    (v->pid = semctl(id, i, GETPID)) == -1) {
			(void)sems_gone(m, "semctl(GETNCNT/GETZCNT/GETPID)",
			    i);
			return;
		}
	}
	m->snap.have_sem = 1;
}

/* Copies the consumer records, each field one atomic load. */
static void
collect_consumers(struct monitor *m)
{
	struct snapshot *sn = &m->snap;
	const struct shm_consumer *c;
	struct con_view *v;
	uint32_t i;

	sn->registered = SHM_LOAD(&m->ring.hdr->registered);
	sn->ncons = live_records(sn->registered, (enum shm_mode)m->run.mode,
	    m->run.expected);
	sn->consumed = 0;
	sn->end_ns = 0;
	for (i = 0; i < sn->ncons; i++) {
		c = &m->ring.table[i];
		v = &m->cons[i];
		v->index = i;
		v->state = SHM_LOAD(&c->state);
		v->pid = SHM_LOAD(&c->pid);
		v->exit_status = SHM_LOAD(&c->exit_status);
		v->consumed = SHM_LOAD(&c->consumed);
		v->first_seq = SHM_LOAD(&c->first_seq);
		v->last_seq = SHM_LOAD(&c->last_seq);
		v->out_of_order = SHM_LOAD(&c->out_of_order);
		v->corrupted = SHM_LOAD(&c->corrupted);
		v->pos = SHM_LOAD(&c->pos);
		v->freed = SHM_LOAD(&c->freed);
		v->claim_len = SHM_LOAD(&c->claim_len);
		v->batches = SHM_LOAD(&c->batches);
		v->end_ns = SHM_LOAD(&c->end_ns);
		/* kill(pid, 0) delivers nothing: it only asks. */
		v->alive = v->state == CS_ACTIVE && pid_alive(v->pid);
		sn->consumed += v->consumed;
		if (v->state == CS_ACTIVE)
			sn->end_ns = UINT64_MAX;
		else if (sn->end_ns != UINT64_MAX && v->end_ns > sn->end_ns)
			sn->end_ns = v->end_ns;
	}
	if (sn->end_ns == UINT64_MAX || sn->ncons == 0)
		sn->end_ns = 0;
}

/* Queue: [freed, tail) is claimed and being read, [tail, head) waits. */
static void
window_queue(const struct monitor *m, uint64_t *lo, uint64_t *mid)
{
	*lo = m->snap.freed;
	*mid = m->snap.tail;
}

/* The race demonstration never counts freed: its window is the tail's. */
static void
window_unsafe(const struct monitor *m, uint64_t *lo, uint64_t *mid)
{
	*lo = *mid = m->snap.tail;
}

/*
 * Broadcast: [min freed, min pos) has been read by every consumer but not
 * yet released by all of them, [min pos, head) waits for someone.  The
 * producer waits on exactly these records (bcast_views, common/modetab.c).
 */
static void
window_broadcast(const struct monitor *m, uint64_t *lo, uint64_t *mid)
{
	uint32_t i;

	*lo = *mid = UINT64_MAX;
	for (i = 0; i < m->snap.ncons; i++) {
		if (!proto_record_counts(m->cons[i].state))
			continue;
		if (m->cons[i].freed < *lo)
			*lo = m->cons[i].freed;
		if (m->cons[i].pos < *mid)
			*mid = m->cons[i].pos;
	}
}

/*
 * Which positions the ring still holds (the view's window), and the
 * small ring's map of them.  Counters were read oldest first, so lo <=
 * mid <= head holds except through --unsafe's races, which the clamps
 * absorb.
 */
static void
window(struct monitor *m)
{
	struct snapshot *sn = &m->snap;
	uint64_t lo, mid, p;
	uint32_t i, cap = m->run.capacity;

	m->view.window(m, &lo, &mid);
	/*
	 * --unsafe: a head more than a ring ahead of the tail has written
	 * over items that nobody read ([tail, head - cap) are gone).
	 */
	sn->over = m->view.unsafe && sn->head > sn->tail &&
	    sn->head - sn->tail > cap ? sn->head - sn->tail - cap : 0;
	if (lo > sn->head)
		lo = sn->head;
	if (sn->head - lo > cap)
		lo = sn->head - cap;
	if (mid > sn->head)
		mid = sn->head;
	if (mid < lo)
		mid = lo;
	sn->lo = lo;
	sn->mid = mid;
	sn->fill = sn->head - lo;
	if (cap > RING_CELLS)
		return;
	memset(sn->map, '.', sizeof(sn->map));
	for (p = lo; p < sn->head; p++)
		sn->map[p % cap] = sn->over > 0 && p >= sn->tail + cap ?
		    '!' : p < mid ? '+' : '#';
	for (i = 0; i < cap; i++)
		sn->vals[i] = SHM_LOAD(&m->ring.slots[i]);
}

static double
per_s(uint64_t items, uint64_t ns)
{
	if (ns == 0)
		return -1;
	return (double)items * 1e9 / (double)ns;
}

/*
 * Rates between two refreshes, and averages since the first item
 * (hdr.start_ns, on the same CLOCK_MONOTONIC as now_ns()).  The producer
 * records no end time, so its average stops being shown at end of stream.
 */
static void
rates(struct monitor *m)
{
	struct snapshot *sn = &m->snap;
	uint64_t end;
	uint32_t i;

	sn->prate = sn->crate = sn->pavg = sn->cavg = -1;
	for (i = 0; i < sn->ncons; i++)
		m->cons[i].rate = m->cons[i].avg = -1;
	if (m->prev.have && sn->now > m->prev.now) {
		sn->prate = per_s(sn->head >= m->prev.head ?
		    sn->head - m->prev.head : 0, sn->now - m->prev.now);
		sn->crate = per_s(sn->consumed >= m->prev.consumed ?
		    sn->consumed - m->prev.consumed : 0, sn->now - m->prev.now);
		for (i = 0; i < sn->ncons; i++)
			m->cons[i].rate = per_s(m->cons[i].consumed >=
			    m->prev.con[i] ? m->cons[i].consumed -
			    m->prev.con[i] : 0,
			    sn->now - m->prev.now);
	}
	if (sn->start_ns != 0 && sn->now > sn->start_ns) {
		if (!sn->eos)
			sn->pavg = per_s(sn->head, sn->now - sn->start_ns);
		end = sn->end_ns > sn->start_ns ? sn->end_ns : sn->now;
		sn->cavg = per_s(sn->consumed, end - sn->start_ns);
		for (i = 0; i < sn->ncons; i++) {
			end = m->cons[i].state != CS_ACTIVE &&
			    m->cons[i].end_ns > sn->start_ns ?
			    m->cons[i].end_ns : sn->now;
			m->cons[i].avg = per_s(m->cons[i].consumed,
			    end - sn->start_ns);
		}
	}
	m->prev.now = sn->now;
	m->prev.head = sn->head;
	m->prev.consumed = sn->consumed;
	for (i = 0; i < sn->ncons; i++)
		m->prev.con[i] = m->cons[i].consumed;
	/* Counters of records that appear later start from zero. */
	for (; i < SHM_MAX_CONSUMERS; i++)
		m->prev.con[i] = 0;
	m->prev.have = 1;
}

/*
 * One refresh.  The segment's IPC_STAT comes first: SHM_DEST there means
 * the producer has already removed the run, and everything after is its
 * final state.  Counters are read oldest first (consumer records, freed,
 * tail, head), so that each reads no later than the one it must not pass.
 */
static void
collect(struct monitor *m)
{
	struct snapshot *sn = &m->snap;
	struct shm_header *h = m->ring.hdr;
	struct shmid_ds ds;

	sn->ended = 0;
	sn->why_ended = NULL;
	sn->now = now_ns();
	sn->wall = time(NULL);
	/* A destroyed segment keeps showing its last known data. */
	if (shmctl(m->run.shmid, IPC_STAT, &ds) == -1) {
		if (!ipc_gone(errno))
			err(3, "shmctl(IPC_STAT) on shm id %d", m->run.shmid);
		ended(m, N_("segment removed"));
	} else if ((sn->ds = ds).shm_perm.mode & SHM_DEST)
		ended(m, N_("segment removed by IPC_RMID"));
	if (!m->detached) {
		collect_consumers(m);
		sn->freed = SHM_LOAD(&h->freed);
		sn->tail = SHM_LOAD(&h->tail);
		sn->head = SHM_LOAD(&h->head);
		sn->total = SHM_LOAD(&h->total);
		sn->eos = SHM_LOAD(&h->eos);
		sn->state = SHM_LOAD(&h->state);
		sn->start_ns = SHM_LOAD(&h->start_ns);
		sn->producer_pid = SHM_LOAD(&h->producer_pid);
		window(m);
	}
	sn->producer_alive = pid_alive(sn->producer_pid);
	if (!sn->ended)
		collect_sems(m);
	else
		sn->have_sem = 0;
	rates(m);
}

/*
 * Has the run reached the producer's last wait?  Its drain ends when no
 * consumer is active and enough have registered (producer.c, drain()),
 * and then it waits up to a second for shm_nattch to fall to 1, itself:
 * an observer still attached would cost every watched run that second.
 * Read from the segment, not the snapshot, so the sleep between two
 * refreshes can ask every few milliseconds.
 */
static int
drained(const struct monitor *m)
{
	const struct shm_header *h = m->ring.hdr;
	uint32_t i, n, reg, active = 0;

	if (m->detached || SHM_LOAD(&h->state) != ST_DRAINING)
		return 0;
	reg = SHM_LOAD(&h->registered);
	n = live_records(reg, (enum shm_mode)m->run.mode, m->run.expected);
	for (i = 0; i < n; i++)
		if (SHM_LOAD(&m->ring.table[i].state) == CS_ACTIVE)
			active++;
	/* The drain condition is the producer's own (common/live.c). */
	return live_drained(reg, m->run.expected, active);
}

/*
 * Detaches and goes on watching by id: IPC_STAT and the semaphores need
 * no attachment, and nothing in the header moves any more.
 */
static void
let_go(struct monitor *m)
{
	if (shmdt(m->ring.hdr) == -1)
		err(3, "shmdt");
	m->ring.hdr = NULL;
	m->detached = 1;
}

/*
 * Names from shmlab.h: the four fixed ones, then a pair per consumer
 * (own_pos), or the queue's seats.
 */
static const char *
sem_name(const struct monitor *m, int i, char *buf, size_t len)
{
	static const char *fixed[] = { "mutex", "empty", "full", "join" };

	if (i < SEM_BASE)
		return fixed[i];
	if (i == SEM_SEAT && !m->view.own_pos)
		return "seat";
	(void)snprintf(buf, len, "%s[%d]", (i - SEM_BASE) % 2 ? "full" :
	    "empty", (i - SEM_BASE) / 2);
	return buf;
}

/* A consumer's one-character mark on the ring. */
static char
con_mark(uint32_t i)
{
	static const char marks[] = "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

	return i < sizeof(marks) - 1 ? marks[i] : '*';
}

/*
 * A local time; the date only when it is not the snapshot's day, as ls(1)
 * does, so that three times fit on one line.  JSON has epoch seconds.
 */
static void
put_time(FILE *fp, time_t now, time_t t, int full)
{
	struct tm tm, today;
	char buf[32];

	if (t == 0 || localtime_r(&t, &tm) == NULL ||
	    localtime_r(&now, &today) == NULL) {
		fputs(_("never"), fp);
		return;
	}
	if (!full && (tm.tm_year != today.tm_year ||
	    tm.tm_yday != today.tm_yday))
		full = 1;
	if (strftime(buf, sizeof(buf), full ? "%Y-%m-%d %H:%M:%S" :
	    "%H:%M:%S", &tm) == 0)
		fputs(_("never"), fp);
	else
		fputs(buf, fp);
}

static char *
fmt_rate(char *buf, size_t len, double r)
{
	if (r < 0)
		(void)snprintf(buf, len, "-");
	else
		(void)snprintf(buf, len, "%.1f/s", r);
	return buf;
}

#define U(x)	((unsigned long long)(x))

/*
 * The ring slot by slot: index, value, whether the slot holds an item,
 * and who is where.  Cells are as wide as the widest value or marker.
 */
static void
text_cells(const struct monitor *m, FILE *fp, int cols)
{
	const struct snapshot *sn = &m->snap;
	char mark[RING_CELLS][MARK_MAX + 1], num[16];
	uint32_t i, j, cap = m->run.capacity, per, start, end, last;
	size_t n;
	int w = 2, len;

	for (i = 0; i < cap; i++) {
		n = 0;
		if (sn->head % cap == i)
			mark[i][n++] = 'P';
		if (m->view.shared_tail && sn->tail % cap == i)
			mark[i][n++] = 'T';
		for (j = 0; m->view.own_pos && j < sn->ncons; j++) {
			if (m->cons[j].state != CS_ACTIVE ||
			    m->cons[j].pos % cap != i)
				continue;
			if (n == MARK_MAX) {
				mark[i][MARK_MAX - 1] = '*';
				break;
			}
			mark[i][n++] = con_mark(j);
		}
		mark[i][n] = '\0';
		if ((int)n > w)
			w = (int)n;
		len = snprintf(num, sizeof(num), "%d", sn->vals[i]);
		if (len > w)
			w = len;
	}
	w++;
	per = (uint32_t)((cols - 1 - LABEL_W) / w);
	if (per < 1)
		per = 1;
	for (start = 0; start < cap; start = end) {
		end = start + per < cap ? start + per : cap;
		fprintf(fp, "%-*s", lw(_("  slot")), _("  slot"));
		for (i = start; i < end; i++)
			fprintf(fp, "%*u", w, i);
		fprintf(fp, "\n%-*s", lw(_("  value")), _("  value"));
		for (i = start; i < end; i++)
			fprintf(fp, "%*d", w, sn->vals[i]);
		fprintf(fp, "\n%-*s", lw(_("  holds")), _("  holds"));
		for (i = start; i < end; i++)
			fprintf(fp, "%*c", w, sn->map[i]);
		/* No trailing blanks: logs and diffs stay clean. */
		for (last = end; last > start && mark[last - 1][0] == '\0';)
			last--;
		fprintf(fp, "\n%-*s", last > start ? lw(_("  next")) : 0,
		    _("  next"));
		for (i = start; i < last; i++)
			fprintf(fp, "%*s", w, mark[i]);
		fputc('\n', fp);
	}
}

/*
 * A large ring as RING_CELLS cells, each standing for capacity/RING_CELLS
 * slots: '#' all held, ':' some, '.' none; markers on the line below.
 */
static void
text_bar(const struct monitor *m, FILE *fp)
{
	const struct snapshot *sn = &m->snap;
	unsigned held[RING_CELLS], size[RING_CELLS];
	char cells[RING_CELLS + 1], marks[RING_CELLS + 1];
	uint32_t i, c, cap = m->run.capacity;
	uint64_t p;

	memset(held, 0, sizeof(held));
	memset(size, 0, sizeof(size));
	for (i = 0; i < cap; i++)
		size[(uint64_t)i * RING_CELLS / cap]++;
	for (p = sn->lo; p < sn->head; p++)
		held[(p % cap) * RING_CELLS / cap]++;
	memset(marks, ' ', RING_CELLS);
	marks[RING_CELLS] = cells[RING_CELLS] = '\0';
	for (c = 0; c < RING_CELLS; c++)
		cells[c] = held[c] == 0 ? '.' : held[c] >= size[c] ? '#' : ':';
#define MARK(pos, ch) do {						\
	c = (uint32_t)(((pos) % cap) * RING_CELLS / cap);		\
	marks[c] = marks[c] == ' ' ? (ch) : '*';			\
} while (0)
	MARK(sn->head, 'P');
	if (m->view.shared_tail)
		MARK(sn->tail, 'T');
	for (i = 0; m->view.own_pos && i < sn->ncons; i++)
		if (m->cons[i].state == CS_ACTIVE)
			MARK(m->cons[i].pos, con_mark(i));
#undef MARK
	for (c = RING_CELLS; c > 0 && marks[c - 1] == ' '; c--)
		marks[c - 1] = '\0';
	fprintf(fp, "%-*s|%s|\n%-*s %s\n", LABEL_W, "", cells, LABEL_W, "",
	    marks);
	fprintf(fp, _("%-*seach cell %u-%u slots: '#' all hold items, ':' "
	    "some, '.' none\n"), LABEL_W, "", cap / RING_CELLS,
	    (cap + RING_CELLS - 1) / RING_CELLS);
}

/* The ring's line, with its legend beside it when the width allows. */
static void
text_ring(const struct monitor *m, FILE *fp, int cols)
{
	const struct view *v = &m->view;
	char head[64], legend[80];
	uint32_t cap = m->run.capacity;
	int n;

	n = snprintf(head, sizeof(head), _("%u slots, fill %llu/%u"), cap,
	    U(m->snap.fill), cap);
	if (cap > RING_CELLS)
		(void)snprintf(legend, sizeof(legend), _("next: P producer, %s"),
		    _(v->text->bar_marks));
	else
		(void)snprintf(legend, sizeof(legend), _("P producer, %s; "
		    "# item, + %s, . free%s"), _(v->text->cell_marks), _(v->text->held),
		    v->unsafe ? _(", ! overwrote an unread item") : "");
	if (LABEL_W + n + 2 + (int)strlen(legend) <= cols - 1)
		fprintf(fp, "%-*s%s; %s\n", lw(_("ring")), _("ring"), head,
		    legend);
	else
		fprintf(fp, "%-*s%s\n%-*s%s\n", lw(_("ring")), _("ring"), head,
		    LABEL_W, "", legend);
	if (cap > RING_CELLS)
		text_bar(m, fp);
	else
		text_cells(m, fp, cols);
}

/*
 * The invariant a class can check: every slot is free (empty), holds an
 * item not yet taken (full), or is being read (taken, not yet released);
 * the end-of-stream token adds one to full while its reader is active
 * (a queue consumer puts it back, a broadcast one keeps its own).  It
 * is exact only at a quiet moment: each side moves a semaphore and its
 * counter in two steps, so a moving run is below it by up to the
 * producer's batch plus one consumer's claim (docs/DESIGN.md, "What the
 * values say about the counters").  Values and counters are also read a
 * moment apart, which can move it further for one refresh.  Signed: a
 * sum caught mid-operation may dip below the token.
 */
static void
balance_queue(const struct monitor *m, FILE *fp)
{
	const struct snapshot *sn = &m->snap;
	long long reading;
	int empty = m->sems[SEM_EMPTY].value, full = m->sems[SEM_FULL].value;

	reading = sn->tail >= sn->freed ? (long long)(sn->tail - sn->freed) :
	    0;
	fprintf(fp, _("%-*sempty %d + full %d + being read %lld%s = "
	    "%lld, MAXBUF %u\n"), LABEL_W, "", empty, full, reading,
	    sn->eos ? _(" - eos token") : "",
	    empty + full + reading - (sn->eos ? 1 : 0), m->run.capacity);
}

/* ... and for each broadcast consumer, on its own pair. */
static void
balance_broadcast(const struct monitor *m, FILE *fp)
{
	const struct snapshot *sn = &m->snap;
	const struct con_view *c;
	long long reading, sum;
	uint32_t i, n;

	/* Broadcast records are one per expected consumer (live_records). */
	n = sn->ncons;
	if (n == 0 || m->run.nsems < (int)SEM_FULL_I(n - 1) + 1)
		return;
	fprintf(fp, _("%-*sempty[i] + full[i] + being read%s, MAXBUF %u:"),
	    LABEL_W, "", sn->eos ? _(" - eos token") : "", m->run.capacity);
	for (i = 0; i < n; i++) {
		if (i == 8) {
			fputs(" ...", fp);
			break;
		}
		c = &m->cons[i];
		/* The producer has stopped counting for a dead consumer. */
		if (!proto_record_counts(c->state)) {
			fputs(" -", fp);
			continue;
		}
		reading = c->pos >= c->freed ? (long long)(c->pos - c->freed) :
		    0;
		sum = m->sems[SEM_EMPTY_I(i)].value +
		    m->sems[SEM_FULL_I(i)].value + reading;
		if (sn->eos && c->state == CS_ACTIVE)
			sum--;
		fprintf(fp, " %lld", sum);
	}
	fputc('\n', fp);
}

static void
text_sems(const struct monitor *m, FILE *fp)
{
	const struct snapshot *sn = &m->snap;
	const struct run *r = &m->run;
	char buf[32];
	int i;

	if (!sn->have_sem) {
		fprintf(fp, _("%-*ssem id %d: gone\n"), lw(_("semaphores")),
		    _("semaphores"), r->semid);
		return;
	}
	fprintf(fp, _("%-*ssem id %d, perm %04o, last semop "),
	    lw(_("semaphores")), _("semaphores"), r->semid,
	    (unsigned)(sn->sds.sem_perm.mode & 0777));
	put_time(fp, sn->wall, sn->sds.sem_otime, 0);
	fprintf(fp, "\n  %*s  %-*s %*s %*s %*s %*s\n", pad(5, _("index")),
	    _("index"), pad(10, _("name")), _("name"), pad(6, _("value")),
	    _("value"), pad(6, _("ncnt")), _("ncnt"), pad(6, _("zcnt")),
	    _("zcnt"), pad(8, _("last pid")), _("last pid"));
	/*
	 * Each consumer's pair is on its row of the consumer table, and the
	 * semaphores this mode leaves alone are left out: the frame must fit
	 * a projector's pane.
	 */
	for (i = 0; i < r->nsems && i < SEM_BASE; i++)
		if (mode_sem_used(m->mode, i))
			fprintf(fp, "  %5d  %-10s %6d %6d %6d %8d\n", i,
			    sem_name(m, i, buf, sizeof(buf)), m->sems[i].value,
			    m->sems[i].ncnt, m->sems[i].zcnt, m->sems[i].pid);
	if (r->nsems >= SEM_BASE && m->view.balance != NULL)
		m->view.balance(m, fp);
}

/*
 * The state column's width in display columns: its widest word, each
 * consumer state and "gone", translated ("terminado" is nine columns),
 * and its head; six in English.  A damaged record's "unknown" is left
 * out: its row may stand out, the frame keeps its width.
 */
static int
state_cols(void)
{
	static const uint32_t states[] = { CS_FREE, CS_ACTIVE, CS_DONE,
	    CS_FAILED, CS_DIED };
	const char *s;
	size_t i;
	int w, most = i18n_width(_("gone"), SIZE_MAX);

	if ((w = i18n_width(_("state"), SIZE_MAX)) > most)
		most = w;
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		s = _(cstate_name(states[i]));
		if ((w = i18n_width(s, SIZE_MAX)) > most)
			most = w;
	}
	return most;
}

static void
text_consumers(const struct monitor *m, FILE *fp)
{
	const struct snapshot *sn = &m->snap;
	const struct con_view *c;
	char last[24], pos[24], rate[24], avg[24];
	const char *st;
	uint32_t i;
	int bc = m->view.own_pos, sw = state_cols();

	fprintf(fp, _("%-*s%u registered"), lw(_("consumers")), _("consumers"),
	    sn->registered);
	if (bc)
		fprintf(fp, _(" of %u expected"), m->run.expected);
	fputc('\n', fp);
	if (sn->ncons == 0)
		return;
	/* Queue consumers share the tail: no position, no mark of their own. */
	fprintf(fp, "  %*s %*s%*s %-*s %*s %*s %*s%*s %*s%s\n",
	    pad(5, _("index")), _("index"), bc ? pad(5, _("mark ")) : 0,
	    bc ? _("mark ") : "", pad(7, _("pid")), _("pid"),
	    pad(sw, _("state")), _("state"), pad(9, _("consumed")),
	    _("consumed"), pad(10, _("last_seq")), _("last_seq"),
	    bc ? pad(11, _("pos ")) : 0, bc ? _("pos ") : "",
	    pad(9, _("rate")), _("rate"), pad(9, _("avg")), _("avg"),
	    bc && sn->have_sem ? "  empty  full ncnt" : "");
	for (i = 0; i < sn->ncons; i++) {
		c = &m->cons[i];
		if (c->consumed == 0)
			(void)snprintf(last, sizeof(last), "-");
		else
			(void)snprintf(last, sizeof(last), "%llu",
			    U(c->last_seq));
		(void)snprintf(pos, sizeof(pos), "%llu", U(c->pos));
		fprintf(fp, "  %5u ", i);
		if (bc)
			fprintf(fp, "%4c ", con_mark(i));
		/* An active record whose pid is gone: soon marked died. */
		st = c->state == CS_ACTIVE && !c->alive ? _("gone") :
		    _(cstate_name(c->state));
		fprintf(fp, "%7d %-*s %9llu %10s ", (int)c->pid, pad(sw, st), st,
		    U(c->consumed), last);
		if (bc)
			fprintf(fp, "%10s ", pos);
		fprintf(fp, "%9s %9s", fmt_rate(rate, sizeof(rate), c->rate),
		    fmt_rate(avg, sizeof(avg), c->avg));
		/* Broadcast: this consumer's own pair (semaphores above). */
		if (bc && sn->have_sem && (int)SEM_FULL_I(i) < m->run.nsems)
			fprintf(fp, "  %5d %5d %4d",
			    m->sems[SEM_EMPTY_I(i)].value,
			    m->sems[SEM_FULL_I(i)].value,
			    m->sems[SEM_FULL_I(i)].ncnt);
		fputc('\n', fp);
	}
}

/* The plain-text snapshot: --once, logs, and the live view's frame. */
static void
text(const struct monitor *m, FILE *fp, int cols)
{
	const struct snapshot *sn = &m->snap;
	const struct run *r = &m->run;
	char r1[24], r2[24], r3[24], r4[24];

	put_time(fp, sn->wall, sn->wall, 1);
	fprintf(fp, "  key 0x%08lx (%s, proj_id %d)\n",
	    (unsigned long)(uint32_t)r->key,
	    r->keypath, r->proj);
	/* A batch never exceeds the ring: min(B, MAXBUF) is what moves. */
	fprintf(fp, _("%-*s%s mode, state %s, producer pid %d %s, batch %u\n"),
	    lw(_("run")), _("run"), mode_name((enum shm_mode)r->mode),
	    _(state_name(sn->state)), (int)sn->producer_pid,
	    sn->producer_alive ? _("running") : _("gone"),
	    r->batch < r->capacity ? r->batch : r->capacity);
	if (m->view.unsafe)
		fprintf(fp, _("%-*sUNSAFE: the race demonstration, no "
		    "semaphores guard the ring\n"), LABEL_W, "");
	fprintf(fp, _("%-*sproduced %llu of %llu, consumed %llu"),
	    lw(_("items")), _("items"), U(sn->head), U(r->count),
	    U(sn->consumed));
	if (m->view.shared_tail)
		fprintf(fp, ", tail %llu, freed %llu", U(sn->tail),
		    U(sn->freed));
	fprintf(fp, ", eos %s", sn->eos ? _("yes") : _("no"));
	if (sn->eos)
		fprintf(fp, " (total %llu)", U(sn->total));
	fputc('\n', fp);
	if (m->view.unsafe && sn->over > 0)
		fprintf(fp, ngettext("%-*sOVERWRITTEN: %llu item replaced "
		    "before anyone read it (marked !)\n", "%-*sOVERWRITTEN: "
		    "%llu items replaced before anyone read them (marked !)\n",
		    (unsigned long)sn->over), LABEL_W, "", U(sn->over));
	/* A single snapshot has no "since the last refresh": "-". */
	fprintf(fp, _("%-*sproduced %s (avg %s), consumed %s (avg %s)\n"),
	    lw(_("rates")), _("rates"), fmt_rate(r1, sizeof(r1), sn->prate),
	    fmt_rate(r3, sizeof(r3), sn->pavg),
	    fmt_rate(r2, sizeof(r2), sn->crate),
	    fmt_rate(r4, sizeof(r4), sn->cavg));
	text_ring(m, fp, cols);
	text_segment(m, fp);
	text_sems(m, fp);
	text_consumers(m, fp);
	text_notes(m, fp);
}

/* The segment as the kernel describes it (shmid_ds). */
static void
text_segment(const struct monitor *m, FILE *fp)
{
	const struct shmid_ds *ds = &m->snap.ds;
	time_t now = m->snap.wall;

	fprintf(fp, _("%-*sshm id %d, %llu bytes, perm %04o, nattch %lu "
	    "(monitor %s)%s\n"), lw(_("segment")), _("segment"), m->run.shmid,
	    U(ds->shm_segsz), (unsigned)(ds->shm_perm.mode & 0777),
	    (unsigned long)ds->shm_nattch, m->detached ? _("detached") :
	    _("included"), (ds->shm_perm.mode & SHM_DEST) ? ", dest" : "");
	/* The names of struct shmid_ds's fields, as shmctl(2) shows them. */
	fprintf(fp, "%-*scpid %d lpid %d atime ", LABEL_W, "",
	    (int)ds->shm_cpid, (int)ds->shm_lpid);
	put_time(fp, now, ds->shm_atime, 0);
	fputs(" dtime ", fp);
	put_time(fp, now, ds->shm_dtime, 0);
	fputs(" ctime ", fp);
	put_time(fp, now, ds->shm_ctime, 0);
	fputc('\n', fp);
}

/* The frame's last lines: the words it uses, and what to do next. */
static void
text_notes(const struct monitor *m, FILE *fp)
{
	const struct snapshot *sn = &m->snap;

	/* The words above, for a class that meets them for the first time. */
	fputs(_(m->view.text->words), fp);
	if (m->detached)
		fprintf(fp, "%s", _("note: every consumer has finished; the "
		    "monitor detached so that the\n      producer need not wait "
		    "for it, and shows the final counters\n"));
	else if (!sn->ended && !sn->producer_alive && sn->state < ST_DONE)
		fprintf(fp, _("note: the producer (pid %d) is gone but its "
		    "objects remain:\n      'producer --clean' with the same "
		    "-k/-p removes them\n"), (int)sn->producer_pid);
}

static void
json_rate(FILE *fp, double r)
{
	if (r < 0)
		fputs("null", fp);
	else
		fprintf(fp, "%.1f", r);
}

/*
 * The JSON snapshot.  Keys are a contract with scripts, as the producer's
 * report is: add keys freely, never rename or repurpose one.  The parts
 * write their keys in the table's order, each ending with ",\n" but the
 * last, which closes the document.
 */
static void
json(const struct monitor *m, FILE *fp)
{
	static void (*const parts[])(const struct monitor *, FILE *) = {
		json_head, json_segment, json_counters, json_sems,
		json_consumers, json_ring
	};
	size_t i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		parts[i](m, fp);
}

/* Which document this is, about which key, and whether the run ended. */
static void
json_head(const struct monitor *m, FILE *fp)
{
	const struct snapshot *sn = &m->snap;

	fprintf(fp, "{\n  \"schema\": %d,\n  \"kind\": \"monitor\",\n"
	    "  \"key\": \"0x%08lx\",\n  \"keyfile\": ", MONITOR_SCHEMA,
	    (unsigned long)(uint32_t)m->run.key);
	json_str(fp, m->run.keypath);
	fprintf(fp, ",\n  \"proj_id\": %d,\n  \"monitor_pid\": %ld,\n"
	    "  \"time\": %lld,\n  \"ended\": %s,\n  \"ended_why\": ",
	    m->run.proj, (long)getpid(), (long long)sn->wall,
	    sn->ended ? "true" : "false");
	json_str(fp, sn->why_ended);
	fputs(",\n", fp);
}

/* The objects as the kernel describes them (shmid_ds). */
static void
json_segment(const struct monitor *m, FILE *fp)
{
	const struct shmid_ds *ds = &m->snap.ds;

	fprintf(fp, "  \"shmid\": %d,\n  \"semid\": %d,\n  \"size\": %llu,\n"
	    "  \"perm\": \"%04o\",\n  \"cpid\": %d,\n  \"lpid\": %d,\n"
	    "  \"nattch\": %lu,\n  \"dest\": %s,\n", m->run.shmid,
	    m->run.semid, U(ds->shm_segsz),
	    (unsigned)(ds->shm_perm.mode & 0777), (int)ds->shm_cpid,
	    (int)ds->shm_lpid, (unsigned long)ds->shm_nattch,
	    (ds->shm_perm.mode & SHM_DEST) ? "true" : "false");
	fprintf(fp, "  \"atime\": %lld,\n  \"dtime\": %lld,\n"
	    "  \"ctime\": %lld,\n", (long long)ds->shm_atime,
	    (long long)ds->shm_dtime, (long long)ds->shm_ctime);
}

/* The run's parameters and the header's counters. */
static void
json_counters(const struct monitor *m, FILE *fp)
{
	const struct run *r = &m->run;
	const struct snapshot *sn = &m->snap;

	fprintf(fp, "  \"mode\": \"%s\",\n  \"state\": \"%s\",\n"
	    "  \"unsafe\": %s,\n  \"ledger\": %s,\n  \"batch\": %u,\n"
	    "  \"seed\": %llu,\n  \"capacity\": %u,\n  \"count\": %llu,\n",
	    mode_name((enum shm_mode)r->mode), state_name(sn->state),
	    (r->flags & SHM_F_UNSAFE) ? "true" : "false",
	    (r->flags & SHM_F_VERIFY) ? "true" : "false", r->batch,
	    U(r->seed), r->capacity, U(r->count));
	fprintf(fp, "  \"head\": %llu,\n  \"tail\": %llu,\n  \"freed\": %llu,\n"
	    "  \"total\": %llu,\n  \"eos\": %s,\n  \"registered\": %u,\n"
	    "  \"expected\": %u,\n  \"producer_pid\": %d,\n"
	    "  \"producer_alive\": %s,\n  \"fill\": %llu,\n"
	    "  \"consumed\": %llu,\n",
	    U(sn->head), U(sn->tail), U(sn->freed), U(sn->total),
	    sn->eos ? "true" : "false", sn->registered, r->expected,
	    (int)sn->producer_pid, sn->producer_alive ? "true" : "false",
	    U(sn->fill), U(sn->consumed));
	fputs("  \"produced_avg_per_s\": ", fp);
	json_rate(fp, sn->pavg);
	fputs(",\n  \"consumed_avg_per_s\": ", fp);
	json_rate(fp, sn->cavg);
	fputs(",\n", fp);
}

static void
json_sems(const struct monitor *m, FILE *fp)
{
	const struct run *r = &m->run;
	const struct sem_view *v;
	char buf[32];
	int k;

	fputs("  \"semaphores\": [", fp);
	for (k = 0; m->snap.have_sem && k < r->nsems; k++) {
		v = &m->sems[k];
		fprintf(fp, "%s\n    {\"name\": ", k ? "," : "");
		json_str(fp, sem_name(m, k, buf, sizeof(buf)));
		fprintf(fp, ", \"index\": %d, \"value\": %d, \"ncnt\": %d, "
		    "\"zcnt\": %d, \"pid\": %d, \"used\": %s}", k, v->value,
		    v->ncnt, v->zcnt, v->pid, mode_sem_used(m->mode, k) ?
		    "true" : "false");
	}
	fputs(m->snap.have_sem && r->nsems > 0 ? "\n  ],\n" : "],\n", fp);
}

static void
json_consumers(const struct monitor *m, FILE *fp)
{
	const struct con_view *c;
	uint32_t i;

	fputs("  \"consumers\": [", fp);
	for (i = 0; i < m->snap.ncons; i++) {
		c = &m->cons[i];
		fprintf(fp, "%s\n    {\"index\": %u, \"pid\": %d, \"state\": "
		    "\"%s\", \"alive\": %s, \"consumed\": %llu, ", i ? "," : "",
		    i, (int)c->pid, cstate_name(c->state),
		    c->alive ? "true" : "false", U(c->consumed));
		if (c->first_seq == UINT64_MAX || c->consumed == 0)
			fputs("\"first_seq\": null, \"last_seq\": null, ", fp);
		else
			fprintf(fp, "\"first_seq\": %llu, \"last_seq\": %llu, ",
			    U(c->first_seq), U(c->last_seq));
		if (m->view.own_pos)
			fprintf(fp, "\"pos\": %llu, \"freed\": %llu, ",
			    U(c->pos), U(c->freed));
		else
			fputs("\"pos\": null, \"freed\": null, ", fp);
		fprintf(fp, "\"claim_len\": %llu, \"batches\": %llu, "
		    "\"out_of_order\": %llu, \"corrupted\": %llu, "
		    "\"exit_status\": ", U(c->claim_len), U(c->batches),
		    U(c->out_of_order), U(c->corrupted));
		if (c->exit_status >= 0)
			fprintf(fp, "%d", (int)c->exit_status);
		else
			fputs("null", fp);
		fputs(", \"avg_per_s\": ", fp);
		json_rate(fp, c->avg);
		fputc('}', fp);
	}
	fputs(m->snap.ncons > 0 ? "\n  ],\n" : "],\n", fp);
}

/* The last keys: a small ring slot by slot, a large one not at all. */
static void
json_ring(const struct monitor *m, FILE *fp)
{
	uint32_t i;

	if (m->run.capacity > RING_CELLS) {
		fputs("  \"ring\": null,\n  \"ring_map\": null\n}\n", fp);
		return;
	}
	fputs("  \"ring\": [", fp);
	for (i = 0; i < m->run.capacity; i++)
		fprintf(fp, "%s%d", i ? ", " : "", m->snap.vals[i]);
	fprintf(fp, "],\n  \"ring_map\": \"%.*s\"\n}\n", (int)m->run.capacity,
	    m->snap.map);
}

/* The terminal's size; the plain layout when it cannot be asked. */
static void
term_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = PLAIN_COLS;
	*rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == -1)
		return;
	if (ws.ws_col > 0)
		*cols = ws.ws_col;
	if (ws.ws_row > 0)
		*rows = ws.ws_row;
}

/*
 * One refresh on a terminal.  The frame is drawn over the previous one
 * from the home position, each line cleared to its end and the rest of
 * the screen below, rather than clearing the whole screen first: no
 * flicker.  Lines are cut to the terminal's width and the frame to its
 * height, and the last line has no newline, because a wrapped or
 * scrolled line would shift the next frame.
 */
static void
frame(const struct monitor *m, int first)
{
	char *buf = NULL, *line, *nl;
	size_t len = 0;
	FILE *mem;
	int cols, rows, used, total = 0;

	term_size(&cols, &rows);
	if ((mem = open_memstream(&buf, &len)) == NULL)
		err(3, "open_memstream");
	text(m, mem, cols);
	if (fclose(mem) == EOF)
		err(3, _("building the frame"));
	for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1)
		total++;
	fputs(first ? "\033[?25l\033[H\033[2J" : "\033[H", stdout);
	cursor_hidden = 1;
	used = 0;
	for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		if (used > 0)
			fputs("\033[K\n", stdout);
		if (used == rows - 1 && total > rows) {
			printf(_("... %d more lines: enlarge the terminal, or "
			    "use --once"), total - used);
			break;
		}
		printf("%.*s", i18n_cut(line, (size_t)(nl - line), cols - 1),
		    line);
		used++;
	}
	fputs("\033[K\033[J", stdout);
	free(buf);
	if (fflush(stdout) == EOF)
		err(3, "stdout");
}

/* After let_go(m) the producer's final state was not seen: not shown. */
static void
ended_line(const struct monitor *m, FILE *fp)
{
	const struct snapshot *sn = &m->snap;

	fprintf(fp, _("run ended (%s): "), _(sn->why_ended));
	if (!m->detached)
		fprintf(fp, _("state %s, "), _(state_name(sn->state)));
	fprintf(fp, _("produced %llu of %llu, consumed %llu\n"), U(sn->head),
	    U(m->run.count), U(sn->consumed));
}

/*
 * The view of a mode, from what its table says the ring looks like:
 * consumer pairs (broadcast), a shared tail whose claims the semaphores
 * count (queue), or a shared tail that nothing counts (unsafe).
 */
static void
view_init(struct view *v, const struct mode_table *md)
{
	v->shared_tail = (md->flags & MF_SHARED_TAIL) != 0;
	v->own_pos = (md->flags & MF_PAIRS) != 0;
	v->unsafe = (md->flags & MF_UNGUARDED) != 0;
	v->text = md->text;
	if (md->flags & MF_PAIRS) {
		v->window = window_broadcast;
		v->balance = balance_broadcast;
	} else if (md->flags & MF_COUNTED) {
		v->window = window_queue;
		v->balance = balance_queue;
	} else {
		v->window = window_unsafe;
		v->balance = NULL;	/* no semaphore counts the ring */
	}
}

/* One of the watch's own options (opt_loop's callback). */
static int
watch_opt(void *ctx, int ch, const char *arg, char *msg, size_t len)
{
	struct watch *w = ctx;
	const char *errstr = NULL;

	switch (ch) {
	case 'i':
		w->interval_ms = (int)strtonum(arg, 10, 3600000, &errstr);
		if (errstr != NULL)
			(void)snprintf(msg, len, _("interval %s: %s "
			    "(10..3600000 ms)"), arg, strtonum_word(errstr));
		break;
	case 'n':
		w->iterations = strtonum(arg, 1, LLONG_MAX, &errstr);
		if (errstr != NULL)
			(void)snprintf(msg, len, _("iterations %s: %s"), arg,
			    strtonum_word(errstr));
		break;
	case 'O':
		w->once = 1;
		break;
	case 'H':
		w->keep = 1;
		break;
	case 'J':
		w->as_json = 1;
		break;
	default:
		return 0;
	}
	return errstr == NULL ? 1 : -1;
}

/* Defaults, then the options of either monitor. */
int
watch_parse(struct watch *w, int argc, char *argv[], const char *optstring,
    const struct option *longopts, int slides, char *msg, size_t len)
{
	struct opt_loop l = { optstring, longopts, &w->ro, slides, watch_opt,
	    w };

	memset(w, 0, sizeof(*w));
	run_opts_init(&w->ro, 0);	/* a monitor takes no -t */
	w->interval_ms = WATCH_INTERVAL_MS;
	if (opt_loop(&l, argc, argv, msg, len) == -1)
		return -1;
	w->live = !w->once && !w->as_json && isatty(STDOUT_FILENO);
	return 0;
}

/*
 * Options, then the combinations: nothing is looked at before the whole
 * command line is known to be good (exit 2).
 */
static void
parse_args(int argc, char *argv[], struct watch *w)
{
	static const struct option longopts[] = {
		{ "once",	no_argument,	   NULL, 'O' },
		{ "json",	no_argument,	   NULL, 'J' },
		{ "interval",	required_argument, NULL, 'i' },
		{ "hold",	no_argument,	   NULL, 'H' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	char msg[256];

	if (watch_parse(w, argc, argv, "hi:k:n:p:", longopts, 0, msg,
	    sizeof(msg)) == -1) {
		if (msg[0] != '\0')
			errx(2, "%s", msg);
		usage();
	}
	if (w->once && w->as_json)
		errx(2, _("--once and --json each print one snapshot: pick one"));
	if (w->iterations > 0 && (w->once || w->as_json))
		errx(2, _("-n counts refreshes; --once and --json take a single "
		    "snapshot"));
}

/* Unlike the producer, never create the key file: look, don't touch. */
static void
resolve_key(struct monitor *m, struct watch *w)
{
	struct run *r = &m->run;

	if ((r->keypath = run_keypath(&w->ro)) == NULL)
		err(2, _("default key file path"));
	r->proj = w->ro.proj;
	if ((r->key = key_derive(r->keypath, r->proj)) == (key_t)-1) {
		if (errno == ENOENT)
			errx(3, _("no shmlab run under key file %s: it does not "
			    "exist; start a producer, or check -k"),
			    r->keypath);
		err(3, "ftok(%s, %d)", r->keypath, r->proj);
	}
}

/* One refresh's output, in the form asked for. */
static void
show(struct monitor *m, const struct watch *w, long long n)
{
	if (w->as_json)
		json(m, stdout);
	else if (w->live)
		frame(m, n == 0);
	else {
		/* Blank lines between blocks keep logs readable. */
		if (!w->once && n > 0)
			fputc('\n', stdout);
		text(m, stdout, PLAIN_COLS);
	}
	if (m->snap.ended && w->live)
		fputc('\n', stdout);
	if (m->snap.ended && !w->as_json)
		ended_line(m, stdout);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(3, "stdout");
}

/*
 * Refreshes until the run ends, a single snapshot is shown, -n is
 * reached, or a signal comes.  A drained run is let go of at once.
 */
static void
watch_loop(struct monitor *m, const struct watch *w)
{
	long long n;

	for (n = 0;; n++) {
		collect(m);
		show(m, w, n);
		if (m->snap.ended || w->once || w->as_json || stop_flag ||
		    (w->iterations > 0 && n + 1 >= w->iterations))
			break;
		if (!m->detached && drained(m))
			let_go(m);
		nap(m, w->interval_ms);
		if (stop_flag)
			break;
	}
	/* The live frame's last line has no newline: the prompt needs one. */
	if (w->live && !m->snap.ended)
		fputc('\n', stdout);
}

int
main(int argc, char *argv[], char *envp[])
{
	struct monitor m;
	struct watch w;

	/* The slides' protocol is a program of its own (slides.c). */
	if (slides_wanted(argc, argv))
		return slides_monitor(argc, argv);
	setproctitle_init(argc, argv, envp);
	(void)i18n_init();
	memset(&m, 0, sizeof(m));
	parse_args(argc, argv, &w);
	resolve_key(&m, &w);
	setproctitle("-monitor: key 0x%08lx",
	    (unsigned long)(uint32_t)m.run.key);
	/* No SA_RESTART: a signal cuts the sleep between refreshes short. */
	if (sig_catch(on_signal, 0) == -1)
		err(3, "sigaction");
	attach_run(&m);
	open_sems(&m);
	if (atexit(restore_cursor) != 0)
		errx(3, _("atexit: cannot register the cursor's restoration"));

	watch_loop(&m, &w);
	restore_cursor();
	if (!m.detached && shmdt(m.ring.hdr) == -1)
		err(3, "shmdt");
	/* Detached first: holding the frame must not hold the run. */
	if (w.keep && w.live && hold() == -1)
		warnx("%s", _("--hold needs a terminal on stdin"));
	free(m.sems);
	free(m.semvals);
	return 0;
}
