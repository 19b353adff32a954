/*
 * slides.c - the slides' protocol (slides.h): layout, creation,
 * attachment and the semaphore choreography of one item.
 *
 * Library code: -1 with errno set, never exit().
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "i18n.h"
#include "optloop.h"
#include "runopts.h"
#include "shmlib.h"
#include "slides.h"
#include "slides_main.h"

#define SL_TICK_MS	200	/* a wait looks at the stop flag this often */

int
slides_maxbuf(size_t segsz, uint32_t *maxbuf)
{
	size_t n;

	if (segsz % sizeof(int) != 0 || segsz < SL_SEGSZ(1)) {
		errno = EPROTO;
		return -1;
	}
	n = segsz / sizeof(int) - 2;
	if (n > SL_MAXBUF_MAX) {
		errno = EPROTO;
		return -1;
	}
	*maxbuf = (uint32_t)n;
	return 0;
}

int
slides_protocol_arg(const char *s)
{
	return strcmp(s, "slides") == 0 ? 0 : -1;
}

/*
 * Set by slides_on_signal(): the slides' programs catch SIGINT, SIGTERM
 * and SIGHUP with it (sig_catch), and every wait of theirs looks at it
 * (struct slides.stop).  The one mutable global here, because a signal
 * handler must reach it; a process runs one slides program at most.
 */
volatile sig_atomic_t slides_stop;

void
slides_on_signal(int sig)
{
	(void)sig;
	slides_stop = 1;
}

/* The long options of the slides' producer and consumer. */
const struct option slides_longopts[] = {
	{ "delay",	required_argument, NULL, RUN_OPT_DELAY },
	{ "help",	no_argument,	   NULL, 'h' },
	{ NULL,		0,		   NULL, 0 }
};

/*
 * One option of a -L slides program: -L itself, and -k, -p, -t and
 * --delay as every shmlab program reads them (run_opt()).  Returns 1
 * taken, 0 not one of these, -1 (EINVAL) with the one-line message in msg.
 */
int
slides_opt(struct run_opts *o, int ch, const char *arg, char *msg,
    size_t len)
{
	if (ch != 'L')
		return run_opt(o, ch, arg, msg, len);
	if (slides_protocol_arg(arg) == 0)
		return 1;
	(void)snprintf(msg, len, _("protocol %s: want slides (or no -L for "
	    "shmlab's own)"), arg);
	errno = EINVAL;
	return -1;
}

/* The defaults: MAXBUF, one consumer, -t timeout_s, -c count. */
void
slides_opts_init(struct slides_opts *o, int timeout_s, long long count)
{
	memset(o, 0, sizeof(*o));
	run_opts_init(&o->ro, timeout_s);
	o->maxbuf = MAXBUF;
	o->nchildren = 1;
	o->count = count;
	o->verbose = 1;
}

/* -b, -c, -n, -q (opt_loop's callback): getopt offers each its own. */
static int
slides_own(void *ctx, int ch, const char *arg, char *msg, size_t len)
{
	struct slides_opts *o = ctx;
	const char *errstr = NULL;

	switch (ch) {
	case 'b':
		o->maxbuf = (uint32_t)strtonum(arg, 1, SL_MAXBUF_MAX, &errstr);
		if (errstr != NULL)
			(void)snprintf(msg, len, _("maxbuf %s: %s (1..%u)"), arg,
			    strtonum_word(errstr), SL_MAXBUF_MAX);
		break;
	case 'c':
		o->count = strtonum(arg, 0, SL_COUNT_MAX, &errstr);
		if (errstr != NULL)
			(void)snprintf(msg, len, _("count %s: %s (0..%lld: "
			    "values are ints)"), arg, strtonum_word(errstr), SL_COUNT_MAX);
		break;
	case 'n':
		o->nchildren = (uint32_t)strtonum(arg, 1, SHM_MAX_CONSUMERS,
		    &errstr);
		if (errstr != NULL)
			(void)snprintf(msg, len, _("consumers %s: %s (1..%d)"),
			    arg, strtonum_word(errstr), SHM_MAX_CONSUMERS);
		break;
	case 'q':
		o->verbose = 0;
		break;
	default:
		return 0;
	}
	if (errstr == NULL)
		return 1;
	errno = EINVAL;
	return -1;
}

/*
 * The slides' producer's or consumer's command line (optstring says
 * which options it takes): 0, or -1 as opt_loop() returns it.
 */
int
slides_parse(struct slides_opts *o, int argc, char *argv[],
    const char *optstring, char *msg, size_t len)
{
	struct opt_loop l = { optstring, slides_longopts, &o->ro, 1,
	    slides_own, o };

	return opt_loop(&l, argc, argv, msg, len);
}

/* Any -L means the caller chose a protocol; slides is the only one. */
int
slides_wanted(int argc, char *const argv[])
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strncmp(argv[i], "-L", 2) == 0)
			return 1;
	}
	return 0;
}

static void
sl_map(struct slides *s, void *base)
{
	s->buffer = base;
	s->in = s->buffer + s->maxbuf;
	s->out = s->in + 1;
}

/*
 * The set first, initialised with SETALL before the segment exists: a
 * consumer that finds the segment can trust the semaphores.  On failure
 * what was created is removed again and errno says why (EEXIST: the key
 * is taken).
 */
int
slides_create(key_t key, uint32_t maxbuf, struct slides *s)
{
	unsigned short init[SL_NSEMS] = { 1, 0, 0 };
	union semun arg;
	void *base;
	int e;

	init[SL_EMPTY] = (unsigned short)maxbuf;
	s->key = key;
	s->maxbuf = maxbuf;
	s->shmid = -1;
	s->semid = semget(key, SL_NSEMS, IPC_CREAT | IPC_EXCL | 0600);
	if (s->semid == -1)
		return -1;
	arg.array = init;
	if (semctl(s->semid, 0, SETALL, arg) == -1)
		goto fail;
	s->shmid = shmget(key, SL_SEGSZ(maxbuf), IPC_CREAT | IPC_EXCL | 0600);
	if (s->shmid == -1)
		goto fail;
	if ((base = shmat(s->shmid, NULL, 0)) == (void *)-1)
		goto fail;
	sl_map(s, base);
	*s->in = 0;
	*s->out = 0;
	return 0;
fail:
	e = errno;
	if (s->shmid != -1)
		(void)shmctl(s->shmid, IPC_RMID, NULL);
	(void)semctl(s->semid, 0, IPC_RMID);
	s->shmid = s->semid = -1;
	errno = e;
	return -1;
}

/*
 * Attaches an existing run: ENOENT while there is no segment yet, EPROTO
 * when what is there is not a slides run (size, or a set of another
 * size), EACCES when it is another user's.
 */
int
slides_open(key_t key, int shmflg, struct slides *s)
{
	struct shmid_ds ds;
	struct semid_ds sds;
	union semun arg;
	void *base;

	s->key = key;
	if ((s->shmid = shmget(key, 0, 0)) == -1)
		return -1;
	if (shmctl(s->shmid, IPC_STAT, &ds) == -1)
		return -1;
	if (slides_maxbuf(ds.shm_segsz, &s->maxbuf) == -1)
		return -1;
	if ((s->semid = semget(key, 0, 0)) == -1)
		return -1;
	arg.buf = &sds;
	if (semctl(s->semid, 0, IPC_STAT, arg) == -1)
		return -1;
	if (sds.sem_nsems != SL_NSEMS) {
		errno = EPROTO;
		return -1;
	}
	if ((base = shmat(s->shmid, NULL, shmflg)) == (void *)-1)
		return -1;
	sl_map(s, base);
	return 0;
}

int
slides_detach(struct slides *s)
{
	if (s->buffer == NULL)
		return 0;
	if (shmdt(s->buffer) == -1)
		return -1;
	s->buffer = s->in = s->out = NULL;
	return 0;
}

/* The segment, then the set: nobody new finds a run whose set is gone. */
int
slides_remove(struct slides *s)
{
	int r = 0;

	if (s->shmid != -1 && shmctl(s->shmid, IPC_RMID, NULL) == -1)
		r = -1;
	if (s->semid != -1 && semctl(s->semid, 0, IPC_RMID) == -1)
		r = -1;
	s->shmid = s->semid = -1;
	return r;
}

/*
 * One semaphore operation, bounded.  SEM_UNDO on the mutex only: a
 * holder killed inside the critical section gives it back, while
 * empty/full must keep what a dead process took (pitfalls.md).  Waits in
 * ticks so that a stop flag is noticed; ETIMEDOUT after timeout_ms.
 */
static int
sl_op(struct slides *s, unsigned short sem, short op)
{
	struct sembuf sb;
	struct timespec ts;
	uint64_t start = now_ns();

	sb.sem_num = sem;
	sb.sem_op = op;
	sb.sem_flg = sem == SL_MUTEX ? SEM_UNDO : 0;
	for (;;) {
		if (s->stop != NULL && *s->stop) {
			errno = EINTR;
			return -1;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = SL_TICK_MS * 1000000L;
		if (semtimedop(s->semid, &sb, 1, &ts) == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (s->timeout_ms > 0 &&
		    now_ns() - start >= (uint64_t)s->timeout_ms * 1000000ULL) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/* in and out live in shared memory: never index with them unchecked. */
static int
sl_index(const struct slides *s, const int *idx)
{
	int i = *(volatile const int *)idx;

	if (i < 0 || (uint32_t)i >= s->maxbuf) {
		errno = EPROTO;
		return -1;
	}
	return i;
}

/* P(empty) P(mutex) buffer[in] = v; in = (in + 1) % MAXBUF; V(mutex) V(full) */
int
slides_put(struct slides *s, int v)
{
	int i;

	if (sl_op(s, SL_EMPTY, -1) == -1)
		return -1;
	if (sl_op(s, SL_MUTEX, -1) == -1)
		return -1;
	if ((i = sl_index(s, s->in)) == -1) {
		(void)sl_op(s, SL_MUTEX, 1);
		return -1;
	}
	s->buffer[i] = v;
	*s->in = (int)(((uint32_t)i + 1) % s->maxbuf);
	if (sl_op(s, SL_MUTEX, 1) == -1)
		return -1;
	return sl_op(s, SL_FULL, 1);
}

/*
 * P(full) P(mutex) v = buffer[out]; the end marker stays (V(mutex)
 * V(full)) for the other consumers; anything else moves out on and
 * frees the slot.  1: an item in *v; 0: the end marker.
 */
int
slides_take(struct slides *s, int *v)
{
	int i, val;

	if (sl_op(s, SL_FULL, -1) == -1)
		return -1;
	if (sl_op(s, SL_MUTEX, -1) == -1)
		return -1;
	if ((i = sl_index(s, s->out)) == -1) {
		(void)sl_op(s, SL_MUTEX, 1);
		return -1;
	}
	val = s->buffer[i];
	if (val == SL_END) {
		if (sl_op(s, SL_MUTEX, 1) == -1)
			return -1;
		return sl_op(s, SL_FULL, 1) == -1 ? -1 : 0;
	}
	*s->out = (int)(((uint32_t)i + 1) % s->maxbuf);
	if (sl_op(s, SL_MUTEX, 1) == -1)
		return -1;
	if (sl_op(s, SL_EMPTY, 1) == -1)
		return -1;
	*v = val;
	return 1;
}
