/*
 * consumer - forks N consumer processes that take items from a shmlab run.
 *
 * The parent waits (a bounded time) for a producer's segment under the
 * key, attaches and validates it, forks the children, and reaps them; the
 * children inherit the attachment, register in the consumer table, and
 * take items until the end-of-stream token.  How a child claims, copies
 * and releases items is its mode's table (common/modes.c); what it counts
 * is common/take.c.  Each child keeps its own counters in its table
 * record, which the producer reads for the report; the parent records how
 * children it found killed ended, then detaches.  Consumers never create
 * or remove IPC objects.
 *
 *	consumer -n 3			# after: producer -c 1000
 *
 * Exit status: 0 every child finished cleanly, 1 a child was killed,
 * 2 bad usage, 3 no producer, the producer died, objects removed, or a
 * child failed for one of those reasons.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "mode.h"
#include "runopts.h"
#include "semun.h"
#include "shmlib.h"
#include "slides_main.h"
#include "take.h"

#define TICK_MS		SHM_TICK_MS	/* semop bound, then look around */

/* Set by the signal handler: the only file-scope state. */
static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t dump_flag;

/* The consumer program's run handle, one per process after the fork. */
struct cons {
	struct shm_taker tk;	/* first: look_around() gets the handle back */
	struct shm_ring	 ring;
	/*
	 * The header as validated at attach time.  The segment is hostile
	 * input: what the producer writes once is read from here, never
	 * again from the segment, so a value changed later indexes nothing.
	 */
	struct shm_header run;
	const struct mode_table *mode;	/* run's mode and flags: its table */
	struct shm_stall stall;	/* our own bound on a run that stands still */
	struct run_opts	 o;	/* -k -p -t -B --delay */
	uint32_t	 nchildren;
	int		 verbose;
	int		 want_mode;	/* -m, or -1 */
	uint64_t	 last_title_ns;
};

static void	 usage(void) __attribute__((noreturn));
static void	 on_signal(int);
static int	 look_around(struct shm_taker *, const char *);

static void
usage(void)
{
	fprintf(stderr, _("usage: %s [-n consumers] [-k keyfile] [-p proj_id] "
	    "[-m queue|broadcast]\n"
	    "\t[-B batch] [-t seconds] [--delay ms] [-q]\n"), getprogname());
	exit(2);
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_flag = 1;
	else
		stop_flag = 1;
}

/*
 * Only the key file owner's objects are joined (seg_check_owner()): a
 * run that somebody else made under our key is refused with one line
 * that says whose it is and what to do.  semid < 0: only the segment is
 * known yet.  A run of another user, under that user's key file, was
 * shared on purpose (--perm): say whose run this is.
 */
static void
refuse_foreign(const struct cons *c, key_t key, const char *keypath,
    int semid)
{
	static int said;
	struct shmid_ds ds;
	struct stat st;
	char why[256], who[64];
	int id, saved = errno;

	if (stat(keypath, &st) == -1)
		err(3, _("stat %s"), keypath);
	if ((id = shmget(key, 0, 0)) == -1 || shmctl(id, IPC_STAT, &ds) == -1) {
		errno = saved;
		return;		/* gone meanwhile: the caller's loop retries */
	}
	if (semid >= 0 ? seg_check_owner(id, semid, key, st.st_uid, why,
	    sizeof(why)) == -1 && errno == EPERM : (ds.shm_perm.cuid !=
	    st.st_uid || ds.shm_perm.uid != st.st_uid)) {
		if (semid < 0)
			(void)snprintf(why, sizeof(why), _("shm id %d was created "
			    "by %s, not by the owner of the key file: somebody "
			    "else's run on this key, not joined"), id,
			    uid_name(ds.shm_perm.cuid, who, sizeof(who)));
		errx(3, _("key 0x%08lx (%s): %s; ask its owner or root to remove "
		    "it (ipcrm -m %d), or use another -k/-p"),
		    (unsigned long)(uint32_t)key, keypath, why, id);
	}
	if (semid >= 0 && st.st_uid != getuid() && c->verbose && !said++)
		warnx(_("joining %s's run on key 0x%08lx (%s), shared with mode "
		    "%03o"), uid_name(st.st_uid, who, sizeof(who)),
		    (unsigned long)(uint32_t)key, keypath,
		    (unsigned)(ds.shm_perm.mode & 0777));
	errno = saved;
}

/*
 * Waits up to timeout_s for a valid, ready segment under key.  A consumer
 * may start before the producer: it says so once and polls.
 */
static void
attach_wait(struct cons *c, key_t key, const char *keypath)
{
	char why[256];
	uint64_t start = now_ns(), limit;
	int said = 0;

	limit = (uint64_t)c->o.timeout_s * 1000000000ULL;
	for (;;) {
		if (seg_attach_msg(key, 0, &c->ring, why, sizeof(why)) == 0)
			break;
		if (errno == EPROTO || errno == EAGAIN)
			refuse_foreign(c, key, keypath, -1);
		if (errno == EPROTO)
			errx(3, _("key 0x%08lx (%s): %s; remove it (ipcrm) if it "
			    "is yours and stale, or use another -k/-p"),
			    (unsigned long)(uint32_t)key, keypath, why);
		if (errno != ENOENT && errno != EAGAIN && errno != EIDRM &&
		    errno != EINVAL) {
			if (errno == EACCES)
				errx(3, _("key 0x%08lx (%s): permission denied: "
				    "the run belongs to another user (its "
				    "producer can widen it with --perm)"),
				    (unsigned long)(uint32_t)key, keypath);
			err(3, _("attaching the segment under key 0x%08lx (%s)"),
			    (unsigned long)(uint32_t)key, keypath);
		}
		if (stop_flag)
			errx(3, _("interrupted while waiting for a producer"));
		if (now_ns() - start > limit)
			errx(3, _("no producer on key 0x%08lx (%s) after %d s: "
			    "start one first, or raise -t"), (unsigned long)(uint32_t)key,
			    keypath, c->o.timeout_s);
		if (!said && c->verbose) {
			warnx(_("waiting up to %d s for a producer on key 0x%08lx "
			    "(%s)"), c->o.timeout_s, (unsigned long)(uint32_t)key,
			    keypath);
			said = 1;
		}
		sleep_ms(20);
	}
	memcpy(&c->run, c->ring.hdr, sizeof(c->run));
	c->mode = run_mode((enum shm_mode)c->run.mode, c->run.flags);
	stall_init(&c->stall, &c->run, c->o.timeout_s);
	refuse_foreign(c, key, keypath, c->ring.semid);
	if (sem_wait_ready(c->ring.semid, c->o.timeout_s * 1000) == -1)
		err(3, _("semaphore set %d of key 0x%08lx is not usable"),
		    c->ring.semid, (unsigned long)(uint32_t)key);
	if (c->want_mode >= 0 && (uint32_t)c->want_mode != c->run.mode)
		errx(3, _("the producer on key 0x%08lx runs in %s mode, not %s"),
		    (unsigned long)(uint32_t)key, mode_name(c->run.mode),
		    mode_name((enum shm_mode)c->want_mode));
}

/*
 * Takes a record in the consumer table under the mutex, then announces
 * itself on SEM_JOIN (the producer waits there for -n consumers).  A
 * broadcast run has exactly as many records as it expects: a consumer
 * arriving after production started would have missed items, so it is
 * refused.  Returns 0 registered, 1 nothing to do (the run has ended
 * well), -1 refused.
 */
static int
child_register(struct cons *c)
{
	struct sembuf lock = { SEM_MUTEX, -1, SEM_UNDO };
	struct sembuf done[2] = {
		{ SEM_MUTEX, 1, SEM_UNDO }, { SEM_JOIN, 1, 0 }
	};
	struct shm_header *h = c->ring.hdr;
	const struct shm_header *run = &c->run;
	struct shm_consumer *me;
	uint32_t idx, limit;
	int every = (c->mode->flags & MF_EVERY_ITEM) != 0;

	for (;;) {
		if (sem_op(c->ring.semid, &lock, 1, TICK_MS) == 0)
			break;
		if (errno != EAGAIN || look_around(&c->tk, "registering") == -1)
			return -1;
	}
	idx = h->registered;
	limit = mode_records(c->mode, run->expected);
	if (idx >= limit || h->state >= ST_DONE ||
	    (every && h->state >= ST_PRODUCING)) {
		(void)sem_op(c->ring.semid, done, 1, 0);
		if (h->state == ST_DONE && !every) {
			if (c->verbose)
				warnx(_("the run has ended: nothing left to take"));
			return 1;
		}
		if (every && idx >= limit)
			warnx(ngettext("this broadcast run already has its "
			    "%u consumer (producer -n)%s", "this broadcast run "
			    "already has its %u consumers (producer -n)%s",
			    run->expected), run->expected,
			    h->state >= ST_PRODUCING ? _(" and has started: a "
			    "late consumer would miss items") : "");
		else if (every)
			warnx(_("this broadcast run has started: a late "
			    "consumer would miss items"));
		else if (idx >= limit)
			warnx(_("the consumer table is full (%u)"), limit);
		else
			warnx(_("the run was aborted"));
		return -1;
	}
	me = &c->ring.table[idx];
	memset(me, 0, sizeof(*me));
	me->pid = (int32_t)getpid();
	me->index = idx;
	me->exit_status = -1;
	me->first_seq = UINT64_MAX;
	SHM_STORE(&me->state, (uint32_t)CS_ACTIVE);
	SHM_STORE(&h->registered, idx + 1);
	c->tk.me = me;
	c->tk.index = idx;
	taker_hold(&c->tk, HOLD_JOIN);
	if (sem_op(c->ring.semid, done, 2, 0) == -1) {
		warn(_("semop(release mutex, join)"));
		return -1;
	}
	return 0;
}

/*
 * A wait timed out: print counters on SIGUSR1, and check that the run is
 * still alive.  Returns -1 (with a message) when this consumer must stop.
 */
static int
look_around(struct shm_taker *tk, const char *doing)
{
	struct cons *c = (struct cons *)(void *)tk;
	struct shm_header *h = c->ring.hdr;
	uint32_t my_index = tk->index;

	/* The callers' words are extracted as messages (-klook_around:2). */
	doing = _(doing);
	struct semid_ds ds;
	union semun arg;

	if (errno == EIDRM || errno == EINVAL) {
		if (SHM_LOAD(&h->state) >= ST_DONE)
			warnx(_("consumer %u: the producer ended the run while %s "
			    "(see its message)"), my_index, doing);
		else
			warnx(_("consumer %u: the semaphore set was removed while "
			    "%s (ipcrm, or systemd's RemoveIPC at logout)"),
			    my_index, doing);
		return -1;
	}
	if (errno != EAGAIN && errno != 0) {
		warn(_("consumer %u: semop while %s"), my_index, doing);
		return -1;
	}
	if (dump_flag) {
		dump_flag = 0;
		if (tk->me != NULL)
			fprintf(stderr, _("consumer %u: pid %ld, %llu items, "
			    "last seq %llu\n"), my_index, (long)getpid(),
			    (unsigned long long)tk->me->consumed,
			    (unsigned long long)tk->me->last_seq);
	}
	if (stop_flag) {
		warnx(_("consumer %u: stopped by a signal while %s"), my_index,
		    doing);
		return -1;
	}
	arg.buf = &ds;
	if (semctl(c->ring.semid, 0, IPC_STAT, arg) == -1) {
		if (SHM_LOAD(&h->state) >= ST_DONE)
			warnx(_("consumer %u: the producer ended the run while %s "
			    "(see its message)"), my_index, doing);
		else
			warnx(_("consumer %u: the semaphore set is gone while %s "
			    "(removed from outside?)"), my_index, doing);
		return -1;
	}
	if (!SHM_LOAD(&h->eos) && !pid_alive(c->run.producer_pid)) {
		warnx(_("consumer %u: the producer (pid %d) died while %s"),
		    my_index, (int)c->run.producer_pid, doing);
		return -1;
	}
	if (!SHM_LOAD(&h->eos) && seg_removed(c->ring.shmid) == 1) {
		warnx(_("consumer %u: shm id %d was removed from outside while "
		    "%s (ipcrm, or systemd's RemoveIPC at logout)"), my_index,
		    c->ring.shmid, doing);
		return -1;
	}
	if (stall_check(&c->stall, &c->ring, c->run.max_consumers) == 1) {
		warnx(_("consumer %u: nothing in the run moved for %d s while "
		    "%s: the producer (pid %d) is alive but makes no progress "
		    "(stopped?); stopping"), my_index, c->stall.bound_s, doing,
		    (int)c->run.producer_pid);
		return -1;
	}
	return 0;
}

/*
 * ps shows the role and progress, at most ten times a second.  Returns 1
 * when it did, so that a busy consumer looks around at that pace too.
 */
static int
title(struct cons *c)
{
	uint64_t now = now_ns();

	if (!proto_look_due(&c->last_title_ns, now))
		return 0;
	setproctitle("-consumer %u/%u: %llu items", c->tk.index + 1,
	    (c->mode->flags & MF_PAIRS) ? c->run.expected : c->nchildren,
	    (unsigned long long)c->tk.t.consumed);
	return 1;
}

/*
 * A child killed before it registered would leave the producer waiting
 * for it until -t (with -n it counts joins).  The parent registers it
 * instead, as died, so that the producer learns at once that it will
 * never come.  A broadcast record it takes is one the producer leaves
 * out of its waits, and the items it never saw count as lost.
 */
static void
register_dead(struct cons *c, pid_t pid, int code)
{
	struct sembuf lock = { SEM_MUTEX, -1, SEM_UNDO };
	struct sembuf done[2] = {
		{ SEM_MUTEX, 1, SEM_UNDO }, { SEM_JOIN, 1, 0 }
	};
	struct shm_header *h = c->ring.hdr;
	struct shm_consumer *r;
	uint32_t idx, limit;

	if (sem_op(c->ring.semid, &lock, 1, 5 * TICK_MS) == -1)
		return;		/* the run is gone, or wedged: the producer sees */
	idx = SHM_LOAD(&h->registered);
	limit = mode_records(c->mode, c->run.expected);
	if (idx >= limit || SHM_LOAD(&h->state) >= ST_DONE) {
		(void)sem_op(c->ring.semid, done, 1, 0);
		return;
	}
	r = &c->ring.table[idx];
	memset(r, 0, sizeof(*r));
	r->pid = (int32_t)pid;
	r->index = idx;
	r->exit_status = code;
	r->first_seq = UINT64_MAX;
	r->end_ns = now_ns();
	SHM_STORE(&r->state, (uint32_t)CS_DIED);
	SHM_STORE(&h->registered, idx + 1);
	if (sem_op(c->ring.semid, done, 2, 0) == -1)
		warn(_("semop(release mutex, join) for consumer pid %ld"),
		    (long)pid);
}

/* Finds a child's record, to fill in how a killed child ended. */
static struct shm_consumer *
record_of(const struct cons *c, pid_t pid)
{
	uint32_t i, n = SHM_LOAD(&c->ring.hdr->registered);

	for (i = 0; i < n && i < SHM_MAX_CONSUMERS; i++)
		if (c->ring.table[i].pid == pid)
			return &c->ring.table[i];
	return NULL;
}

/*
 * Takes items until the end of the stream, through the mode's table: the
 * mode was decided once, here, from the validated header and -B.
 */
static int
consume(struct cons *c)
{
	const struct shm_mode_ops *ops = mode_ops(&c->run, c->tk.batch);
	struct shm_taker *tk = &c->tk;
	struct shm_claim cl;
	int r;

	while ((r = ops->claim(tk, &cl)) == 1) {
		ops->copy(tk, &cl);
		if (ops->release(tk, &cl) == -1)
			return 3;
		if (tk->t.bad) {
			warnx(_("consumer %u: sequence number %llu is beyond the "
			    "run's %llu items: the segment is corrupt"), tk->index,
			    (unsigned long long)tk->t.bad_seq,
			    (unsigned long long)c->run.count);
			return 3;
		}
		if (dump_flag || stop_flag || title(c)) {
			errno = 0;
			if (look_around(tk, "taking items") == -1)
				return 3;
		}
		if (c->o.delay_ms > 0)
			sleep_ms(c->o.delay_ms);
	}
	if (r == 0)
		ops->end(tk);
	return r == 0 && tk->why[0] == '\0' ? 0 : 3;
}

static int
child_main(struct cons *c)
{
	struct shm_taker *tk = &c->tk;
	int status;

	tk->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
	switch (child_register(c)) {
	case -1:
		return 3;
	case 1:
		return 0;
	}
	if (taker_init(tk) == -1) {
		warn(_("consumer %u: memory for the ledger's runs"), tk->index);
		status = 3;
	} else {
		(void)title(c);
		status = consume(c);
	}
	if (tk->why[0] != '\0')
		warnx("%s", tk->why);
	tally_publish(tk);
	taker_free(tk);
	tk->me->end_ns = now_ns();
	tk->me->exit_status = status;
	SHM_STORE(&tk->me->state, (uint32_t)(status == 0 ? CS_DONE :
	    CS_FAILED));
	if (c->verbose)
		fprintf(stderr, ngettext("consumer %u: pid %ld took %llu item, "
		    "checksum %llu%s\n", "consumer %u: pid %ld took %llu items, "
		    "checksum %llu%s\n", (unsigned long)tk->t.consumed),
		    tk->index, (long)getpid(), (unsigned long long)tk->t.consumed,
		    (unsigned long long)tk->t.checksum,
		    status ? _(" (failed)") : "");
	return status;
}

/*
 * SHMLAB_HOLD_MS is a test-only hook: each queue consumer sleeps that
 * long inside its critical section, so that a test can kill it while it
 * holds the mutex and a claim: after claiming, or with SHMLAB_HOLD_AT=copy
 * after reading the items (and recording them in the ledger) but before
 * reporting them, or with SHMLAB_HOLD_AT=join after storing registered
 * but before posting SEM_JOIN.  SHMLAB_HOLD_CHILD=I: only the consumer
 * with record I holds, the others go on at full speed.  SHMLAB_NO_AVX2
 * (set, any value): the plain checker, not its AVX2 copy, so that a test
 * and the benchmark can run both on a machine that has AVX2.
 */
static void
test_hooks(struct cons *c)
{
	const char *s, *errstr;

	if ((s = getenv("SHMLAB_HOLD_MS")) != NULL) {
		c->tk.hold_ms = (int)strtonum(s, 0, 10000, &errstr);
		if (errstr != NULL)
			errx(2, _("SHMLAB_HOLD_MS: %s (0..10000)"), errstr);
	}
	c->tk.hold_child = -1;
	if ((s = getenv("SHMLAB_HOLD_AT")) != NULL) {
		if (strcmp(s, "copy") == 0)
			c->tk.hold_at = HOLD_COPY;
		else if (strcmp(s, "join") == 0)
			c->tk.hold_at = HOLD_JOIN;
		else if (strcmp(s, "claim") != 0)
			errx(2, _("SHMLAB_HOLD_AT %s: want claim, copy or join"), s);
	}
	if ((s = getenv("SHMLAB_HOLD_CHILD")) != NULL) {
		c->tk.hold_child = (int)strtonum(s, 0, SHM_MAX_CONSUMERS - 1,
		    &errstr);
		if (errstr != NULL)
			errx(2, _("SHMLAB_HOLD_CHILD: %s (0..%d)"), errstr,
			    SHM_MAX_CONSUMERS - 1);
	}
	c->tk.no_vector = getenv("SHMLAB_NO_AVX2") != NULL;
}

/* The options; bad ones exit 2 having done nothing. */
static void
parse_args(struct cons *c, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "delay",	required_argument, NULL, RUN_OPT_DELAY },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	char msg[256];
	const char *errstr;
	enum shm_mode m;
	int ch;

	while ((ch = getopt_long(argc, argv, "B:hk:m:n:p:qt:", longopts,
	    NULL)) != -1) {
		switch (run_opt(&c->o, ch, optarg, msg, sizeof(msg))) {
		case -1:
			errx(2, "%s", msg);
		case 1:
			continue;
		}
		switch (ch) {
		case 'm':
			if (opt_mode(optarg, &m) == -1)
				errx(2, _("mode %s: want queue or broadcast"),
				    optarg);
			c->want_mode = (int)m;
			break;
		case 'n':
			c->nchildren = (uint32_t)opt_number(optarg, 1,
			    SHM_MAX_CONSUMERS, &errstr);
			if (errstr != NULL)
				errx(2, _("consumers %s: %s (1..%d)"), optarg,
				    errstr, SHM_MAX_CONSUMERS);
			break;
		case 'q':
			c->verbose = 0;
			break;
		case 'h':
		default:
			usage();
		}
	}
	if (argc != optind)
		usage();
	if (c->o.delay_ms > 0)
		c->o.batch = 1;	/* slow motion: one item per claim */
}

/* The key, waiting up to -t for the key file too. */
static key_t
wait_key(struct cons *c, const char *keypath)
{
	uint32_t i;
	key_t key;

	for (i = 0; (key = key_derive(keypath, c->o.proj)) == (key_t)-1; i++) {
		if (errno != ENOENT)
			err(3, _("ftok(%s, %d): cannot use the key file (a "
			    "directory on its path you may not search?)"),
			    keypath, c->o.proj);
		if (stop_flag || i * 20 >= (uint32_t)c->o.timeout_s * 1000)
			err(3, _("ftok(%s, %d): no key file: start the producer "
			    "first (it creates it), or pass its -k"), keypath,
			    c->o.proj);
		sleep_ms(20);
	}
	return key;
}

/* Forks the children; returns how many started. */
static uint32_t
fork_children(struct cons *c, pid_t *pids)
{
	uint32_t i, forked = 0;
	pid_t pid;
	int code;

	fflush(NULL);
	for (i = 0; i < c->nchildren && !stop_flag; i++) {
		pid = fork();
		if (pid == -1) {
			warn(_("fork (consumer %u of %u): stopping the others"),
			    i + 1, c->nchildren);
			stop_flag = 1;
			break;
		}
		if (pid == 0) {
			free(pids);
			code = child_main(c);
			(void)shmdt(c->ring.hdr);
			_exit(code);
		}
		pids[forked++] = pid;
	}
	/* A fork failed: the ones started stop now, not at the producer's -t. */
	for (i = 0; stop_flag && i < forked; i++)
		(void)kill(pids[i], SIGTERM);
	return forked;
}

/* A child that a signal killed: its record says so. */
static void
mark_killed(struct cons *c, pid_t pid, int code)
{
	struct shm_consumer *r;
	uint32_t st = CS_ACTIVE;

	if ((r = record_of(c, pid)) == NULL) {
		register_dead(c, pid, code);
		return;
	}
	r->exit_status = code;
	if (__atomic_compare_exchange_n(&r->state, &st, (uint32_t)CS_DIED, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		r->end_ns = now_ns();
}

/* Reaps every child; passes SIGINT/SIGTERM/SIGUSR1 on to them. */
static int
reap_children(struct cons *c, pid_t *pids, uint32_t forked)
{
	uint32_t i, reaped = 0;
	int status, code, worst = 0;
	pid_t pid;

	while (reaped < forked) {
		pid = waitpid(-1, &status, 0);
		if (pid == -1) {
			if (errno != EINTR)
				err(3, _("waitpid"));
			for (i = 0; i < forked; i++)
				if (pids[i] > 0)
					(void)kill(pids[i], dump_flag ?
					    SIGUSR1 : stop_flag ? SIGTERM : 0);
			dump_flag = 0;
			continue;
		}
		for (i = 0; i < forked; i++)
			if (pids[i] == pid)
				pids[i] = -pids[i];
		reaped++;
		if (WIFEXITED(status))
			code = WEXITSTATUS(status);
		else {
			code = 128 + WTERMSIG(status);
			warnx(_("consumer pid %ld was killed by signal %d"),
			    (long)pid, WTERMSIG(status));
			mark_killed(c, pid, code);
		}
		if (code == 3 || (code != 0 && worst != 3))
			worst = code == 3 ? 3 : 1;
	}
	return worst;
}

int
main(int argc, char *argv[], char *envp[])
{
	static struct cons c;
	const char *keypath;
	pid_t *pids;
	uint32_t forked;
	int ch, worst;
	key_t key;

	/* The slides' protocol is a program of its own (slides.c). */
	if (slides_wanted(argc, argv))
		return slides_consumer(argc, argv);
	if ((ch = prog_start(argc, argv, envp)) != 0)
		errx(2, _("argument %d holds a control character (a newline?): "
		    "nothing was done"), ch);
	run_opts_init(&c.o, 10);
	c.nchildren = 1;
	c.verbose = 1;
	c.want_mode = -1;
	test_hooks(&c);
	parse_args(&c, argc, argv);
	if ((keypath = run_keypath(&c.o)) == NULL)
		err(2, _("default key file path"));
	/* The parent passes SIGUSR1 on; each child prints its counters. */
	if (sig_catch(on_signal, 1) == -1)
		err(3, _("sigaction"));
	key = wait_key(&c, keypath);
	attach_wait(&c, key, keypath);
	c.tk.ring = &c.ring;
	c.tk.run = &c.run;
	c.tk.batch = c.o.batch;
	c.tk.timeout_s = c.o.timeout_s;
	c.tk.stop = &stop_flag;
	c.tk.look_around = look_around;

	if ((pids = calloc(c.nchildren, sizeof(*pids))) == NULL)
		err(3, _("calloc"));
	forked = fork_children(&c, pids);
	setproctitle("-consumer: parent of %u", forked);
	worst = reap_children(&c, pids, forked);
	free(pids);
	if (shmdt(c.ring.hdr) == -1)
		err(3, _("shmdt"));
	return worst;
}
