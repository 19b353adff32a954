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
#include "runopts.h"
#include "shmlib.h"
#include "slides_main.h"

#define MONITOR_SCHEMA	1	/* bump when a JSON key changes meaning */
#define INTERVAL_MS	500	/* default refresh, for 100 ms/item demos */
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

static volatile sig_atomic_t stop_flag;

static struct run run;
static struct shm_ring ring;
static struct snapshot snap;
static struct con_view cons[SHM_MAX_CONSUMERS];
static struct sem_view *sems;
static unsigned short *semvals;
static uint64_t	 prev_now, prev_head, prev_consumed;
static uint64_t	 prev_con[SHM_MAX_CONSUMERS];
static int	 have_prev;
static int	 cursor_hidden;
static int	 detached;		/* header counters are final */
static int	 interval_ms = INTERVAL_MS;

static void	 usage(void) __attribute__((noreturn));
static void	 on_signal(int);
static void	 restore_cursor(void);
static void	 attach_run(void);
static void	 open_sems(void);
static int	 ipc_gone(int);
static void	 collect(void);
static int	 drained(void);
static void	 let_go(void);
static void	 collect_sems(void);
static void	 collect_consumers(void);
static void	 window(void);
static void	 rates(void);
static double	 per_s(uint64_t, uint64_t);
static const char *sem_name(int, char *, size_t);
static char	 con_mark(uint32_t);
static void	 put_time(FILE *, time_t, int);
static char	*fmt_rate(char *, size_t, double);
static void	 text(FILE *, int);
static void	 text_ring(FILE *, int);
static void	 text_cells(FILE *, int);
static void	 text_bar(FILE *);
static int	 sem_used(int);
static void	 text_balance(FILE *);
static void	 text_sems(FILE *);
static void	 text_consumers(FILE *);
static void	 json(FILE *);
static void	 json_str(FILE *, const char *);
static void	 json_rate(FILE *, double);
static void	 term_size(int *, int *);
static void	 frame(int);
static void	 ended_line(FILE *);
static void	 nap_ms(int);
static void	 nap(int);
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
nap(int ms)
{
	int slept;

	for (slept = 0; slept < ms && !stop_flag; slept += DRAIN_POLL_MS) {
		nap_ms(ms - slept < DRAIN_POLL_MS ? ms - slept :
		    DRAIN_POLL_MS);
		if (drained())
			return;
	}
}

/*
 * Attaches read-only and validates.  ENOENT and EPROTO end the program at
 * once; a segment that exists but is not ready yet is the producer between
 * shmget and its last store, so it is polled for a while.
 */
static void
attach_run(void)
{
	struct shmid_ds ds;
	char why[256];
	uint64_t start = now_ns();
	int said = 0, id;

	for (;;) {
		if (seg_attach_msg(run.key, SHM_RDONLY, &ring, why,
		    sizeof(why)) == 0)
			break;
		switch (errno) {
		case ENOENT:
			errx(3, _("no shmlab run under key 0x%08lx (%s, proj_id "
			    "%d): start a producer, or check -k/-p"),
			    (unsigned long)(uint32_t)run.key, run.keypath, run.proj);
		case EPROTO:
			/* The reason says what is wrong; -k/-p, what to try. */
			errx(3, _("key 0x%08lx (%s): %s; check -k/-p"),
			    (unsigned long)(uint32_t)run.key, run.keypath, why);
		case EACCES:
			errx(3, _("key 0x%08lx (%s): permission denied: the run "
			    "belongs to another user (its producer can widen "
			    "it with --perm), or use your own -k/-p"),
			    (unsigned long)(uint32_t)run.key, run.keypath);
		case EIDRM:
		case EINVAL:
			/* Removed between shmget and shmat: look again. */
			break;
		case EAGAIN:
			if (!said) {
				warnx(_("key 0x%08lx (%s): %s; waiting up to "
				    "%d s"), (unsigned long)(uint32_t)run.key,
				    run.keypath, why, READY_WAIT_MS / 1000);
				said = 1;
			}
			break;
		default:
			err(3, _("attaching the segment under key 0x%08lx (%s)"),
			    (unsigned long)(uint32_t)run.key, run.keypath);
		}
		if (stop_flag)
			exit(0);
		if (now_ns() - start > READY_WAIT_MS * 1000000ULL) {
			id = shmget(run.key, 0, 0);
			if (id != -1 && shmctl(id, IPC_STAT, &ds) == 0 &&
			    !pid_alive(ds.shm_cpid))
				errx(3, _("key 0x%08lx (%s): the segment was "
				    "never initialised and its creator (pid "
				    "%d) is gone: remove it with 'producer "
				    "--clean' and the same -k/-p"),
				    (unsigned long)(uint32_t)run.key, run.keypath,
				    (int)ds.shm_cpid);
			errx(3, _("key 0x%08lx (%s): the segment is still not "
			    "initialised after %d s: is its producer stopped?"),
			    (unsigned long)(uint32_t)run.key, run.keypath,
			    READY_WAIT_MS / 1000);
		}
		nap_ms(20);
	}
	run.shmid = ring.shmid;
	run.capacity = ring.hdr->capacity;
	run.mode = ring.hdr->mode;
	run.flags = ring.hdr->flags;
	run.expected = ring.hdr->expected;
	run.max_consumers = ring.hdr->max_consumers;
	run.batch = ring.hdr->batch;
	run.count = ring.hdr->count;
	run.seed = ring.hdr->seed;
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
open_sems(void)
{
	struct semid_ds ds;
	union semun arg;
	int hdr_semid = SHM_LOAD(&ring.hdr->semid);

	run.semid = semget(run.key, 0, 0);
	if (run.semid == -1) {
		if (ipc_gone(errno))
			return;
		if (errno == EACCES)
			errx(3, _("semaphore set of key 0x%08lx (%s): permission "
			    "denied: the run belongs to another user"),
			    (unsigned long)(uint32_t)run.key, run.keypath);
		err(3, _("semget(key 0x%08lx from %s)"), (unsigned long)(uint32_t)run.key,
		    run.keypath);
	}
	if (run.semid != hdr_semid)
		warnx(_("the segment names semaphore set %d but key 0x%08lx has "
		    "set %d: showing the key's"), hdr_semid,
		    (unsigned long)(uint32_t)run.key, run.semid);
	arg.buf = &ds;
	if (semctl(run.semid, 0, IPC_STAT, arg) == -1) {
		if (ipc_gone(errno)) {
			run.semid = -1;
			return;
		}
		err(3, _("semctl(IPC_STAT) on sem id %d of key 0x%08lx"),
		    run.semid, (unsigned long)(uint32_t)run.key);
	}
	run.nsems = (int)ds.sem_nsems;
	semvals = calloc((size_t)run.nsems, sizeof(*semvals));
	if (semvals == NULL)
		err(3, "calloc(%d semaphore values)", run.nsems);
	sems = calloc((size_t)run.nsems, sizeof(*sems));
	if (sems == NULL)
		err(3, "calloc(%d semaphore views)", run.nsems);
}

/*
 * Reads the semaphores.  GETALL is one atomic read of every value; the
 * wait counts and pids come one call each, a moment later, which is as
 * close as System V lets an observer get.
 */
static void
collect_sems(void)
{
	union semun arg;
	int i, r;

	snap.have_sem = 0;
	if (run.semid == -1) {
		snap.ended = 1;
		snap.why_ended = N_("semaphore set removed");
		return;
	}
	arg.buf = &snap.sds;
	if (semctl(run.semid, 0, IPC_STAT, arg) == -1) {
		if (!ipc_gone(errno))
			err(3, "semctl(IPC_STAT) on sem id %d", run.semid);
		snap.ended = 1;
		snap.why_ended = N_("semaphore set removed");
		return;
	}
	arg.array = semvals;
	if (semctl(run.semid, 0, GETALL, arg) == -1) {
		if (!ipc_gone(errno))
			err(3, "semctl(GETALL) on sem id %d", run.semid);
		snap.ended = 1;
		snap.why_ended = N_("semaphore set removed");
		return;
	}
	for (i = 0; i < run.nsems; i++) {
		sems[i].value = semvals[i];
		if ((r = semctl(run.semid, i, GETNCNT)) == -1)
			break;
		sems[i].ncnt = r;
		if ((r = semctl(run.semid, i, GETZCNT)) == -1)
			break;
		sems[i].zcnt = r;
		if ((r = semctl(run.semid, i, GETPID)) == -1)
			break;
		sems[i].pid = r;
	}
	if (i < run.nsems) {
		if (!ipc_gone(errno))
			err(3, _("semctl(GETNCNT/GETZCNT/GETPID) on semaphore %d "
			    "of sem id %d"), i, run.semid);
		snap.ended = 1;
		snap.why_ended = N_("semaphore set removed");
		return;
	}
	snap.have_sem = 1;
}

/* Copies the consumer records, each field one atomic load. */
static void
collect_consumers(void)
{
	const struct shm_consumer *c;
	struct con_view *v;
	uint32_t i;

	snap.registered = SHM_LOAD(&ring.hdr->registered);
	snap.ncons = snap.registered < run.max_consumers ? snap.registered :
	    run.max_consumers;
	snap.consumed = 0;
	snap.end_ns = 0;
	for (i = 0; i < snap.ncons; i++) {
		c = &ring.table[i];
		v = &cons[i];
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
		snap.consumed += v->consumed;
		if (v->state == CS_ACTIVE)
			snap.end_ns = UINT64_MAX;
		else if (snap.end_ns != UINT64_MAX && v->end_ns > snap.end_ns)
			snap.end_ns = v->end_ns;
	}
	if (snap.end_ns == UINT64_MAX || snap.ncons == 0)
		snap.end_ns = 0;
}

/*
 * Which positions the ring still holds.  Queue: [freed, tail) is claimed
 * and being read, [tail, head) waits.  Broadcast: [min freed, min pos) has
 * been read by every consumer but not yet released by all of them, [min
 * pos, head) waits for someone.  The race demonstration never counts
 * freed, so its window starts at the tail.  Counters were read oldest
 * first, so lo <= mid <= head holds except through --unsafe's races,
 * which the clamps absorb.
 */
static void
window(void)
{
	uint64_t lo = UINT64_MAX, mid = UINT64_MAX, p;
	uint32_t i, n, cap = run.capacity;

	if (run.flags & SHM_F_UNSAFE)
		lo = mid = snap.tail;
	else if (run.mode == MODE_QUEUE) {
		lo = snap.freed;
		mid = snap.tail;
	} else {
		/* The producer waits on exactly these records (build_ops). */
		n = snap.ncons < run.expected ? snap.ncons : run.expected;
		for (i = 0; i < n; i++) {
			if (cons[i].state != CS_ACTIVE &&
			    cons[i].state != CS_DONE)
				continue;
			if (cons[i].freed < lo)
				lo = cons[i].freed;
			if (cons[i].pos < mid)
				mid = cons[i].pos;
		}
	}
	/*
	 * --unsafe: a head more than a ring ahead of the tail has written
	 * over items that nobody read ([tail, head - cap) are gone).
	 */
	snap.over = (run.flags & SHM_F_UNSAFE) && snap.head > snap.tail &&
	    snap.head - snap.tail > cap ? snap.head - snap.tail - cap : 0;
	if (lo > snap.head)
		lo = snap.head;
	if (snap.head - lo > cap)
		lo = snap.head - cap;
	if (mid > snap.head)
		mid = snap.head;
	if (mid < lo)
		mid = lo;
	snap.lo = lo;
	snap.mid = mid;
	snap.fill = snap.head - lo;
	if (cap > RING_CELLS)
		return;
	memset(snap.map, '.', sizeof(snap.map));
	for (p = lo; p < snap.head; p++)
		snap.map[p % cap] = snap.over > 0 && p >= snap.tail + cap ?
		    '!' : p < mid ? '+' : '#';
	for (i = 0; i < cap; i++)
		snap.vals[i] = SHM_LOAD(&ring.slots[i]);
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
rates(void)
{
	uint64_t end;
	uint32_t i;

	snap.prate = snap.crate = snap.pavg = snap.cavg = -1;
	for (i = 0; i < snap.ncons; i++)
		cons[i].rate = cons[i].avg = -1;
	if (have_prev && snap.now > prev_now) {
		snap.prate = per_s(snap.head >= prev_head ?
		    snap.head - prev_head : 0, snap.now - prev_now);
		snap.crate = per_s(snap.consumed >= prev_consumed ?
		    snap.consumed - prev_consumed : 0, snap.now - prev_now);
		for (i = 0; i < snap.ncons; i++)
			cons[i].rate = per_s(cons[i].consumed >= prev_con[i] ?
			    cons[i].consumed - prev_con[i] : 0,
			    snap.now - prev_now);
	}
	if (snap.start_ns != 0 && snap.now > snap.start_ns) {
		if (!snap.eos)
			snap.pavg = per_s(snap.head, snap.now - snap.start_ns);
		end = snap.end_ns > snap.start_ns ? snap.end_ns : snap.now;
		snap.cavg = per_s(snap.consumed, end - snap.start_ns);
		for (i = 0; i < snap.ncons; i++) {
			end = cons[i].state != CS_ACTIVE &&
			    cons[i].end_ns > snap.start_ns ? cons[i].end_ns :
			    snap.now;
			cons[i].avg = per_s(cons[i].consumed,
			    end - snap.start_ns);
		}
	}
	prev_now = snap.now;
	prev_head = snap.head;
	prev_consumed = snap.consumed;
	for (i = 0; i < snap.ncons; i++)
		prev_con[i] = cons[i].consumed;
	/* Counters of records that appear later start from zero. */
	for (; i < SHM_MAX_CONSUMERS; i++)
		prev_con[i] = 0;
	have_prev = 1;
}

/*
 * One refresh.  The segment's IPC_STAT comes first: SHM_DEST there means
 * the producer has already removed the run, and everything after is its
 * final state.  Counters are read oldest first (consumer records, freed,
 * tail, head), so that each reads no later than the one it must not pass.
 */
static void
collect(void)
{
	struct shm_header *h = ring.hdr;
	struct shmid_ds ds;

	snap.ended = 0;
	snap.why_ended = NULL;
	snap.now = now_ns();
	snap.wall = time(NULL);
	/* A destroyed segment keeps showing its last known data. */
	if (shmctl(run.shmid, IPC_STAT, &ds) == -1) {
		if (!ipc_gone(errno))
			err(3, "shmctl(IPC_STAT) on shm id %d", run.shmid);
		snap.ended = 1;
		snap.why_ended = N_("segment removed");
	} else if ((snap.ds = ds).shm_perm.mode & SHM_DEST) {
		snap.ended = 1;
		snap.why_ended = N_("segment removed by IPC_RMID");
	}
	if (!detached) {
		collect_consumers();
		snap.freed = SHM_LOAD(&h->freed);
		snap.tail = SHM_LOAD(&h->tail);
		snap.head = SHM_LOAD(&h->head);
		snap.total = SHM_LOAD(&h->total);
		snap.eos = SHM_LOAD(&h->eos);
		snap.state = SHM_LOAD(&h->state);
		snap.start_ns = SHM_LOAD(&h->start_ns);
		snap.producer_pid = SHM_LOAD(&h->producer_pid);
		window();
	}
	snap.producer_alive = pid_alive(snap.producer_pid);
	if (!snap.ended)
		collect_sems();
	else
		snap.have_sem = 0;
	rates();
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
drained(void)
{
	struct shm_header *h = ring.hdr;
	uint32_t i, n, reg, active = 0;

	if (detached || SHM_LOAD(&h->state) != ST_DRAINING)
		return 0;
	reg = SHM_LOAD(&h->registered);
	n = reg < run.max_consumers ? reg : run.max_consumers;
	for (i = 0; i < n; i++)
		if (SHM_LOAD(&ring.table[i].state) == CS_ACTIVE)
			active++;
	/* The drain condition is the producer's own (common/live.c). */
	return live_drained(reg, run.expected, active);
}

/*
 * Detaches and goes on watching by id: IPC_STAT and the semaphores need
 * no attachment, and nothing in the header moves any more.
 */
static void
let_go(void)
{
	if (shmdt(ring.hdr) == -1)
		err(3, "shmdt");
	ring.hdr = NULL;
	detached = 1;
}

/* Names from shmlab.h: the four fixed ones, then a pair per consumer. */
static const char *
sem_name(int i, char *buf, size_t len)
{
	static const char *fixed[] = { "mutex", "empty", "full", "join" };

	if (i < SEM_BASE)
		return fixed[i];
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
put_time(FILE *fp, time_t t, int full)
{
	struct tm tm, today;
	char buf[32];

	if (t == 0 || localtime_r(&t, &tm) == NULL ||
	    localtime_r(&snap.wall, &today) == NULL) {
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
text_cells(FILE *fp, int cols)
{
	char mark[RING_CELLS][MARK_MAX + 1], num[16];
	uint32_t i, j, cap = run.capacity, per, start, end, last;
	size_t n;
	int w = 2, len;

	for (i = 0; i < cap; i++) {
		n = 0;
		if (snap.head % cap == i)
			mark[i][n++] = 'P';
		if (run.mode == MODE_QUEUE && snap.tail % cap == i)
			mark[i][n++] = 'T';
		for (j = 0; run.mode == MODE_BROADCAST && j < snap.ncons; j++) {
			if (cons[j].state != CS_ACTIVE ||
			    cons[j].pos % cap != i)
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
		len = snprintf(num, sizeof(num), "%d", snap.vals[i]);
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
			fprintf(fp, "%*d", w, snap.vals[i]);
		fprintf(fp, "\n%-*s", lw(_("  holds")), _("  holds"));
		for (i = start; i < end; i++)
			fprintf(fp, "%*c", w, snap.map[i]);
		/* No trailing blanks: logs and diffs stay clean. */
		for (last = end; last > start && mark[last - 1][0] == '\0';)
			last--;
		fprintf(fp, "\n%-*s", last > start ? lw(_("  next")) : 0, _("  next"));
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
text_bar(FILE *fp)
{
	unsigned held[RING_CELLS], size[RING_CELLS];
	char cells[RING_CELLS + 1], marks[RING_CELLS + 1];
	uint32_t i, c, cap = run.capacity;
	uint64_t p;

	memset(held, 0, sizeof(held));
	memset(size, 0, sizeof(size));
	for (i = 0; i < cap; i++)
		size[(uint64_t)i * RING_CELLS / cap]++;
	for (p = snap.lo; p < snap.head; p++)
		held[(p % cap) * RING_CELLS / cap]++;
	memset(marks, ' ', RING_CELLS);
	marks[RING_CELLS] = cells[RING_CELLS] = '\0';
	for (c = 0; c < RING_CELLS; c++)
		cells[c] = held[c] == 0 ? '.' : held[c] >= size[c] ? '#' : ':';
#define MARK(pos, ch) do {						\
	c = (uint32_t)(((pos) % cap) * RING_CELLS / cap);		\
	marks[c] = marks[c] == ' ' ? (ch) : '*';			\
} while (0)
	MARK(snap.head, 'P');
	if (run.mode == MODE_QUEUE)
		MARK(snap.tail, 'T');
	for (i = 0; run.mode == MODE_BROADCAST && i < snap.ncons; i++)
		if (cons[i].state == CS_ACTIVE)
			MARK(cons[i].pos, con_mark(i));
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
text_ring(FILE *fp, int cols)
{
	char head[64], legend[80];
	uint32_t cap = run.capacity;
	int n;

	n = snprintf(head, sizeof(head), _("%u slots, fill %llu/%u"), cap,
	    U(snap.fill), cap);
	if (cap > RING_CELLS)
		(void)snprintf(legend, sizeof(legend), _("next: P producer, %s"),
		    run.mode == MODE_QUEUE ? _("T consumers' claim (tail)") :
		    _("0-9a-zA-Z consumer i's read"));
	else
		(void)snprintf(legend, sizeof(legend), _("P producer, %s; "
		    "# item, + %s, . free%s"), run.mode == MODE_QUEUE ?
		    _("T tail") : _("0-9a-z consumer i"), run.mode ==
		    MODE_QUEUE ? _("being read") : _("unreleased"),
		    (run.flags & SHM_F_UNSAFE) ? _(", ! overwrote an unread "
		    "item") : "");
	if (LABEL_W + n + 2 + (int)strlen(legend) <= cols - 1)
		fprintf(fp, "%-*s%s; %s\n", lw(_("ring")), _("ring"), head,
		    legend);
	else
		fprintf(fp, "%-*s%s\n%-*s%s\n", lw(_("ring")), _("ring"), head,
		    LABEL_W, "", legend);
	if (cap > RING_CELLS)
		text_bar(fp);
	else
		text_cells(fp, cols);
}

/*
 * Which semaphores the run operates on.  Broadcast leaves the queue's pair
 * alone, and the race demonstration keeps only the mutex and join.
 */
static int
sem_used(int i)
{
	if (i != SEM_EMPTY && i != SEM_FULL)
		return 1;
	return run.mode == MODE_QUEUE && !(run.flags & SHM_F_UNSAFE);
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
 * moment apart, which can move it further for one refresh.
 */
static void
text_balance(FILE *fp)
{
	const struct con_view *c;
	long long reading, sum;
	uint32_t i, n;

	if (run.flags & SHM_F_UNSAFE)
		return;
	/* Signed: a sum caught mid-operation may dip below the token. */
	if (run.mode == MODE_QUEUE) {
		reading = snap.tail >= snap.freed ?
		    (long long)(snap.tail - snap.freed) : 0;
		fprintf(fp, _("%-*sempty %d + full %d + being read %lld%s = "
		    "%lld, MAXBUF %u\n"), LABEL_W, "", sems[SEM_EMPTY].value,
		    sems[SEM_FULL].value, reading,
		    snap.eos ? _(" - eos token") : "",
		    sems[SEM_EMPTY].value + sems[SEM_FULL].value + reading -
		    (snap.eos ? 1 : 0), run.capacity);
		return;
	}
	n = snap.ncons < run.expected ? snap.ncons : run.expected;
	if (n == 0 || run.nsems < (int)SEM_FULL_I(n - 1) + 1)
		return;
	fprintf(fp, _("%-*sempty[i] + full[i] + being read%s, MAXBUF %u:"),
	    LABEL_W, "", snap.eos ? _(" - eos token") : "", run.capacity);
	for (i = 0; i < n; i++) {
		if (i == 8) {
			fputs(" ...", fp);
			break;
		}
		c = &cons[i];
		/* The producer has stopped counting for a dead consumer. */
		if (c->state != CS_ACTIVE && c->state != CS_DONE) {
			fputs(" -", fp);
			continue;
		}
		reading = c->pos >= c->freed ? (long long)(c->pos - c->freed) :
		    0;
		sum = sems[SEM_EMPTY_I(i)].value + sems[SEM_FULL_I(i)].value +
		    reading;
		if (snap.eos && c->state == CS_ACTIVE)
			sum--;
		fprintf(fp, " %lld", sum);
	}
	fputc('\n', fp);
}

static void
text_sems(FILE *fp)
{
	char buf[32];
	int i;

	if (!snap.have_sem) {
		fprintf(fp, _("%-*ssem id %d: gone\n"), lw(_("semaphores")),
		    _("semaphores"), run.semid);
		return;
	}
	fprintf(fp, _("%-*ssem id %d, perm %04o, last semop "),
	    lw(_("semaphores")), _("semaphores"), run.semid,
	    (unsigned)(snap.sds.sem_perm.mode & 0777));
	put_time(fp, snap.sds.sem_otime, 0);
	fprintf(fp, "\n  %*s  %-*s %*s %*s %*s %*s\n", pad(5, _("index")),
	    _("index"), pad(10, _("name")), _("name"), pad(6, _("value")),
	    _("value"), pad(6, _("ncnt")), _("ncnt"), pad(6, _("zcnt")),
	    _("zcnt"), pad(8, _("last pid")), _("last pid"));
	/*
	 * Each consumer's pair is on its row of the consumer table, and the
	 * semaphores this mode leaves alone are left out: the frame must fit
	 * a projector's pane.
	 */
	for (i = 0; i < run.nsems && i < SEM_BASE; i++)
		if (sem_used(i))
			fprintf(fp, "  %5d  %-10s %6d %6d %6d %8d\n", i,
			    sem_name(i, buf, sizeof(buf)), sems[i].value,
			    sems[i].ncnt, sems[i].zcnt, sems[i].pid);
	if (run.nsems >= SEM_BASE)
		text_balance(fp);
}

static void
text_consumers(FILE *fp)
{
	const struct con_view *c;
	char last[24], pos[24], rate[24], avg[24];
	const char *st;
	uint32_t i;
	int bc = run.mode == MODE_BROADCAST;

	fprintf(fp, _("%-*s%u registered"), lw(_("consumers")), _("consumers"),
	    snap.registered);
	if (bc)
		fprintf(fp, _(" of %u expected"), run.expected);
	fputc('\n', fp);
	if (snap.ncons == 0)
		return;
	/* Queue consumers share the tail: no position, no mark of their own. */
	fprintf(fp, "  %*s %*s%*s %-*s %*s %*s %*s%*s %*s%s\n",
	    pad(5, _("index")), _("index"), bc ? pad(5, _("mark ")) : 0,
	    bc ? _("mark ") : "", pad(7, _("pid")), _("pid"),
	    pad(6, _("state")), _("state"), pad(9, _("consumed")),
	    _("consumed"), pad(10, _("last_seq")), _("last_seq"),
	    bc ? pad(11, _("pos ")) : 0, bc ? _("pos ") : "",
	    pad(9, _("rate")), _("rate"), pad(9, _("avg")), _("avg"),
	    bc && snap.have_sem ? "  empty  full ncnt" : "");
	for (i = 0; i < snap.ncons; i++) {
		c = &cons[i];
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
		fprintf(fp, "%7d %-*s %9llu %10s ", (int)c->pid, pad(6, st), st,
		    U(c->consumed), last);
		if (bc)
			fprintf(fp, "%10s ", pos);
		fprintf(fp, "%9s %9s", fmt_rate(rate, sizeof(rate), c->rate),
		    fmt_rate(avg, sizeof(avg), c->avg));
		/* Broadcast: this consumer's own pair (semaphores above). */
		if (bc && snap.have_sem && (int)SEM_FULL_I(i) < run.nsems)
			fprintf(fp, "  %5d %5d %4d", sems[SEM_EMPTY_I(i)].value,
			    sems[SEM_FULL_I(i)].value,
			    sems[SEM_FULL_I(i)].ncnt);
		fputc('\n', fp);
	}
}

/* The plain-text snapshot: --once, logs, and the live view's frame. */
static void
text(FILE *fp, int cols)
{
	char r1[24], r2[24], r3[24], r4[24];

	put_time(fp, snap.wall, 1);
	fprintf(fp, "  key 0x%08lx (%s, proj_id %d)\n",
	    (unsigned long)(uint32_t)run.key,
	    run.keypath, run.proj);
	/* A batch never exceeds the ring: min(B, MAXBUF) is what moves. */
	fprintf(fp, _("%-*s%s mode, state %s, producer pid %d %s, batch %u\n"),
	    lw(_("run")), _("run"), mode_name((enum shm_mode)run.mode),
	    _(state_name(snap.state)), (int)snap.producer_pid,
	    snap.producer_alive ? _("running") : _("gone"),
	    run.batch < run.capacity ? run.batch : run.capacity);
	if (run.flags & SHM_F_UNSAFE)
		fprintf(fp, _("%-*sUNSAFE: the race demonstration, no "
		    "semaphores guard the ring\n"), LABEL_W, "");
	fprintf(fp, _("%-*sproduced %llu of %llu, consumed %llu"),
	    lw(_("items")), _("items"), U(snap.head), U(run.count),
	    U(snap.consumed));
	if (run.mode == MODE_QUEUE)
		fprintf(fp, ", tail %llu, freed %llu", U(snap.tail),
		    U(snap.freed));
	fprintf(fp, ", eos %s", snap.eos ? _("yes") : _("no"));
	if (snap.eos)
		fprintf(fp, " (total %llu)", U(snap.total));
	fputc('\n', fp);
	if ((run.flags & SHM_F_UNSAFE) && snap.over > 0)
		fprintf(fp, ngettext("%-*sOVERWRITTEN: %llu item replaced "
		    "before anyone read it (marked !)\n", "%-*sOVERWRITTEN: "
		    "%llu items replaced before anyone read them (marked !)\n",
		    (unsigned long)snap.over), LABEL_W, "", U(snap.over));
	/* A single snapshot has no "since the last refresh": "-". */
	fprintf(fp, _("%-*sproduced %s (avg %s), consumed %s (avg %s)\n"),
	    lw(_("rates")), _("rates"), fmt_rate(r1, sizeof(r1), snap.prate),
	    fmt_rate(r3, sizeof(r3), snap.pavg),
	    fmt_rate(r2, sizeof(r2), snap.crate),
	    fmt_rate(r4, sizeof(r4), snap.cavg));
	text_ring(fp, cols);
	fprintf(fp, _("%-*sshm id %d, %llu bytes, perm %04o, nattch %lu "
	    "(monitor %s)%s\n"), lw(_("segment")), _("segment"), run.shmid,
	    U(snap.ds.shm_segsz), (unsigned)(snap.ds.shm_perm.mode & 0777),
	    (unsigned long)snap.ds.shm_nattch, detached ? _("detached") :
	    _("included"), (snap.ds.shm_perm.mode & SHM_DEST) ? ", dest" : "");
	/* The names of struct shmid_ds's fields, as shmctl(2) shows them. */
	fprintf(fp, "%-*scpid %d lpid %d atime ", LABEL_W, "",
	    (int)snap.ds.shm_cpid, (int)snap.ds.shm_lpid);
	put_time(fp, snap.ds.shm_atime, 0);
	fputs(" dtime ", fp);
	put_time(fp, snap.ds.shm_dtime, 0);
	fputs(" ctime ", fp);
	put_time(fp, snap.ds.shm_ctime, 0);
	fputc('\n', fp);
	text_sems(fp);
	text_consumers(fp);
	/* The words above, for a class that meets them for the first time. */
	fputs(run.mode == MODE_QUEUE ? _("words: tail = next item to claim, "
	    "freed = released so far, eos = end of data, ncnt = waiting\n") :
	    _("words: pos = next item to read, eos = end of data, ncnt = "
	    "waiting, full[i]/empty[i] = its own pair\n"), fp);
	if (detached)
		fprintf(fp, "%s", _("note: every consumer has finished; the "
		    "monitor detached so that the\n      producer need not wait "
		    "for it, and shows the final counters\n"));
	else if (!snap.ended && !snap.producer_alive && snap.state < ST_DONE)
		fprintf(fp, _("note: the producer (pid %d) is gone but its "
		    "objects remain:\n      'producer --clean' with the same "
		    "-k/-p removes them\n"), (int)snap.producer_pid);
}

/*
 * Writes s as a JSON string.  Key file paths are bytes, not text: valid
 * UTF-8 passes through, anything else becomes U+FFFD so that the document
 * stays valid JSON.
 */
static void
json_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i;

	fputc('"', fp);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			fprintf(fp, "\\%c", *p++);
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(fp, "\\u%04x", *p++);
			continue;
		}
		if (*p < 0x80) {
			fputc(*p++, fp);
			continue;
		}
		n = (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 :
		    (*p & 0xf0) == 0xe0 ? 3 :
		    (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;
		for (i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				break;
		/* Overlong, surrogate and out-of-range forms are invalid. */
		if (n == 0 || i < n ||
		    (n == 3 && *p == 0xe0 && p[1] < 0xa0) ||
		    (n == 3 && *p == 0xed && p[1] >= 0xa0) ||
		    (n == 4 && *p == 0xf0 && p[1] < 0x90) ||
		    (n == 4 && *p == 0xf4 && p[1] >= 0x90)) {
			fputs("\\ufffd", fp);
			p++;
			continue;
		}
		(void)fwrite(p, 1, n, fp);
		p += n;
	}
	fputc('"', fp);
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
 * report is: add keys freely, never rename or repurpose one.
 */
static void
json(FILE *fp)
{
	const struct con_view *c;
	char buf[32];
	uint32_t i;
	int k;

	fprintf(fp, "{\n  \"schema\": %d,\n  \"kind\": \"monitor\",\n"
	    "  \"key\": \"0x%08lx\",\n  \"keyfile\": ", MONITOR_SCHEMA,
	    (unsigned long)(uint32_t)run.key);
	json_str(fp, run.keypath);
	fprintf(fp, ",\n  \"proj_id\": %d,\n  \"monitor_pid\": %ld,\n"
	    "  \"time\": %lld,\n  \"ended\": %s,\n  \"ended_why\": ", run.proj,
	    (long)getpid(), (long long)snap.wall,
	    snap.ended ? "true" : "false");
	if (snap.why_ended != NULL)
		json_str(fp, snap.why_ended);
	else
		fputs("null", fp);
	fprintf(fp, ",\n  \"shmid\": %d,\n  \"semid\": %d,\n  \"size\": %llu,\n"
	    "  \"perm\": \"%04o\",\n  \"cpid\": %d,\n  \"lpid\": %d,\n"
	    "  \"nattch\": %lu,\n  \"dest\": %s,\n", run.shmid, run.semid,
	    U(snap.ds.shm_segsz), (unsigned)(snap.ds.shm_perm.mode & 0777),
	    (int)snap.ds.shm_cpid, (int)snap.ds.shm_lpid,
	    (unsigned long)snap.ds.shm_nattch,
	    (snap.ds.shm_perm.mode & SHM_DEST) ? "true" : "false");
	fprintf(fp, "  \"atime\": %lld,\n  \"dtime\": %lld,\n"
	    "  \"ctime\": %lld,\n", (long long)snap.ds.shm_atime,
	    (long long)snap.ds.shm_dtime, (long long)snap.ds.shm_ctime);
	fprintf(fp, "  \"mode\": \"%s\",\n  \"state\": \"%s\",\n"
	    "  \"unsafe\": %s,\n  \"ledger\": %s,\n  \"batch\": %u,\n"
	    "  \"seed\": %llu,\n  \"capacity\": %u,\n  \"count\": %llu,\n",
	    mode_name((enum shm_mode)run.mode), state_name(snap.state),
	    (run.flags & SHM_F_UNSAFE) ? "true" : "false",
	    (run.flags & SHM_F_VERIFY) ? "true" : "false", run.batch,
	    U(run.seed), run.capacity, U(run.count));
	fprintf(fp, "  \"head\": %llu,\n  \"tail\": %llu,\n  \"freed\": %llu,\n"
	    "  \"total\": %llu,\n  \"eos\": %s,\n  \"registered\": %u,\n"
	    "  \"expected\": %u,\n  \"producer_pid\": %d,\n"
	    "  \"producer_alive\": %s,\n  \"fill\": %llu,\n"
	    "  \"consumed\": %llu,\n",
	    U(snap.head), U(snap.tail), U(snap.freed), U(snap.total),
	    snap.eos ? "true" : "false", snap.registered, run.expected,
	    (int)snap.producer_pid, snap.producer_alive ? "true" : "false",
	    U(snap.fill), U(snap.consumed));
	fputs("  \"produced_avg_per_s\": ", fp);
	json_rate(fp, snap.pavg);
	fputs(",\n  \"consumed_avg_per_s\": ", fp);
	json_rate(fp, snap.cavg);
	fputs(",\n  \"semaphores\": [", fp);
	for (k = 0; snap.have_sem && k < run.nsems; k++) {
		fprintf(fp, "%s\n    {\"name\": ", k ? "," : "");
		json_str(fp, sem_name(k, buf, sizeof(buf)));
		fprintf(fp, ", \"index\": %d, \"value\": %d, \"ncnt\": %d, "
		    "\"zcnt\": %d, \"pid\": %d, \"used\": %s}", k,
		    sems[k].value, sems[k].ncnt, sems[k].zcnt, sems[k].pid,
		    sem_used(k) ? "true" : "false");
	}
	fputs(snap.have_sem && run.nsems > 0 ? "\n  ],\n" : "],\n", fp);
	fputs("  \"consumers\": [", fp);
	for (i = 0; i < snap.ncons; i++) {
		c = &cons[i];
		fprintf(fp, "%s\n    {\"index\": %u, \"pid\": %d, \"state\": "
		    "\"%s\", \"alive\": %s, \"consumed\": %llu, ", i ? "," : "",
		    i, (int)c->pid, cstate_name(c->state),
		    c->alive ? "true" : "false", U(c->consumed));
		if (c->first_seq == UINT64_MAX || c->consumed == 0)
			fputs("\"first_seq\": null, \"last_seq\": null, ", fp);
		else
			fprintf(fp, "\"first_seq\": %llu, \"last_seq\": %llu, ",
			    U(c->first_seq), U(c->last_seq));
		if (run.mode == MODE_BROADCAST)
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
	fputs(snap.ncons > 0 ? "\n  ],\n" : "],\n", fp);
	if (run.capacity > RING_CELLS) {
		fputs("  \"ring\": null,\n  \"ring_map\": null\n}\n", fp);
		return;
	}
	fputs("  \"ring\": [", fp);
	for (i = 0; i < run.capacity; i++)
		fprintf(fp, "%s%d", i ? ", " : "", snap.vals[i]);
	fprintf(fp, "],\n  \"ring_map\": \"%.*s\"\n}\n", (int)run.capacity,
	    snap.map);
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
frame(int first)
{
	char *buf = NULL, *line, *nl;
	size_t len = 0;
	FILE *mem;
	int cols, rows, used, total = 0;

	term_size(&cols, &rows);
	if ((mem = open_memstream(&buf, &len)) == NULL)
		err(3, "open_memstream");
	text(mem, cols);
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

/* After let_go() the producer's final state was not seen: not shown. */
static void
ended_line(FILE *fp)
{
	fprintf(fp, _("run ended (%s): "), _(snap.why_ended));
	if (!detached)
		fprintf(fp, _("state %s, "), _(state_name(snap.state)));
	fprintf(fp, _("produced %llu of %llu, consumed %llu\n"), U(snap.head),
	    U(run.count), U(snap.consumed));
}

int
main(int argc, char *argv[], char *envp[])
{
	static const struct option longopts[] = {
		{ "once",	no_argument,	   NULL, 'O' },
		{ "json",	no_argument,	   NULL, 'J' },
		{ "interval",	required_argument, NULL, 'i' },
		{ "hold",	no_argument,	   NULL, 'H' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	struct run_opts ro;
	char msg[160];
	const char *errstr;
	long long iterations = 0, n;
	int ch, once = 0, as_json = 0, live, n_set = 0, keep = 0;

	/* The slides' protocol is a program of its own (slides.c). */
	if (slides_wanted(argc, argv))
		return slides_monitor(argc, argv);
	setproctitle_init(argc, argv, envp);
	(void)i18n_init();
	run_opts_init(&ro, 0);
	while ((ch = getopt_long(argc, argv, "hi:k:n:p:", longopts,
	    NULL)) != -1) {
		/* -k and -p as every program reads them (common/runopts.c). */
		if ((ch == 'k' || ch == 'p') &&
		    run_opt(&ro, ch, optarg, msg, sizeof(msg)) == -1)
			errx(2, "%s", msg);
		switch (ch) {
		case 'i':
			interval_ms = (int)strtonum(optarg, 10, 3600000,
			    &errstr);
			if (errstr != NULL)
				errx(2, _("interval %s: %s (10..3600000 ms)"),
				    optarg, strtonum_word(errstr));
			break;
		case 'k':
		case 'p':
			break;
		case 'n':
			iterations = strtonum(optarg, 1, LLONG_MAX, &errstr);
			if (errstr != NULL)
				errx(2, _("iterations %s: %s"), optarg,
				    strtonum_word(errstr));
			n_set = 1;
			break;
		case 'O':
			once = 1;
			break;
		case 'H':
			keep = 1;
			break;
		case 'J':
			as_json = 1;
			break;
		case 'h':
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();
	if (once && as_json)
		errx(2, _("--once and --json each print one snapshot: pick one"));
	if (n_set && (once || as_json))
		errx(2, _("-n counts refreshes; --once and --json take a single "
		    "snapshot"));

	/* Unlike the producer, never create the key file: look, don't touch. */
	if ((run.keypath = run_keypath(&ro)) == NULL)
		err(2, _("default key file path"));
	run.proj = ro.proj;
	if ((run.key = key_derive(run.keypath, run.proj)) == (key_t)-1) {
		if (errno == ENOENT)
			errx(3, _("no shmlab run under key file %s: it does not "
			    "exist; start a producer, or check -k"),
			    run.keypath);
		err(3, "ftok(%s, %d)", run.keypath, run.proj);
	}
	setproctitle("-monitor: key 0x%08lx", (unsigned long)(uint32_t)run.key);
	/* No SA_RESTART: a signal cuts the sleep between refreshes short. */
	if (sig_catch(on_signal, 0) == -1)
		err(3, "sigaction");
	attach_run();
	open_sems();
	if (atexit(restore_cursor) != 0)
		errx(3, _("atexit: cannot register the cursor's restoration"));

	live = !once && !as_json && isatty(STDOUT_FILENO);
	for (n = 0;; n++) {
		collect();
		if (as_json)
			json(stdout);
		else if (live)
			frame(n == 0);
		else {
			/* Blank lines between blocks keep logs readable. */
			if (!once && n > 0)
				fputc('\n', stdout);
			text(stdout, PLAIN_COLS);
		}
		if (snap.ended && live)
			fputc('\n', stdout);
		if (snap.ended && !as_json)
			ended_line(stdout);
		if (fflush(stdout) == EOF || ferror(stdout))
			err(3, "stdout");
		if (snap.ended || once || as_json || stop_flag ||
		    (iterations > 0 && n + 1 >= iterations))
			break;
		if (!detached && drained())
			let_go();
		nap(interval_ms);
		if (stop_flag)
			break;
	}
	/* The live frame's last line has no newline: the prompt needs one. */
	if (live && !snap.ended)
		fputc('\n', stdout);
	restore_cursor();
	if (!detached && shmdt(ring.hdr) == -1)
		err(3, "shmdt");
	/* Detached first: holding the frame must not hold the run. */
	if (keep && live && hold() == -1)
		warnx("%s", _("--hold needs a terminal on stdin"));
	return 0;
}
