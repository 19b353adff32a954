/*
 * bench_posix - throughput baseline: one producer, N consumers, a ring in
 * shared memory guarded by process-shared POSIX unnamed semaphores.
 *
 * This is the textbook bounded buffer, one item per semaphore operation:
 * "empty" counts free slots, "full" counts items ready, "mutex" guards
 * the ring indices.  The parent is the producer; each item goes to
 * exactly one consumer.
 *
 * End of stream: items are full 32-bit values, so no value can serve as
 * a marker.  Instead the producer posts "full" N extra times after the
 * last item.  A consumer that wins a post when every item is already
 * taken (taken == count, checked under the mutex) has drawn one of these
 * poison posts and exits; each consumer draws exactly one.
 *
 * Who creates and removes what: the parent maps an anonymous shared
 * region and initialises the semaphores in it before forking.  The
 * mapping goes with its last process, so no exit path can leak it.  The
 * parent kills (by pid) and reaps its children on every way out, from an
 * exit hook; consumers ask for SIGKILL should the parent die first, as
 * they would otherwise wait on "full" forever.
 *
 * Sample: bench_posix -n 4 -c 10000000 -b 1024
 *
 * Build:  cc -std=c11 -Wall -Wextra -pedantic -Werror -O2 -D_GNU_SOURCE \
 *	   $(pkg-config --cflags libbsd-overlay) bench_posix.c kids.c \
 *	   -o bench_posix $(pkg-config --libs libbsd-overlay) -pthread
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kids.h"

#define COUNT_MAX	10000000000LL	/* 1e10 items */
#define COUNT_DEFAULT	10000000LL	/* 1e7 items */
#define MAXBUF_MAX	(1LL << 24)	/* ring slots: 64 MiB of items */
#define MAXBUF_DEFAULT	1024		/* 4 KiB of items, one page */
/* How often a blocked producer looks for dead consumers. */
#define POLL_NS		100000000L	/* 100 ms */

/* What a consumer reports, in its own slot. */
struct result {
	uint64_t	items;		/* items received */
	uint64_t	sum;		/* their sum, mod 2^64 */
	struct timespec	done;		/* CLOCK_MONOTONIC at poison */
};

/* The shared region: semaphores, ring indices, reports, then the ring. */
struct ring {
	sem_t		empty;		/* free slots */
	sem_t		full;		/* items ready, then N poisons */
	sem_t		mutex;		/* guards head, tail, taken */
	size_t		head;		/* next slot to fill */
	size_t		tail;		/* next slot to drain */
	uint64_t	taken;		/* items drained, poison not */
	struct result	res[CONSUMERS_MAX];	/* one per consumer */
	uint32_t	slot[];		/* maxbuf items */
};


static _Noreturn void usage(void);
static void	sem_take(sem_t *);
static void	sem_take_watching(sem_t *);
static void	sem_give(sem_t *);
static _Noreturn void consume(struct ring *, size_t, uint64_t, size_t);
static void	produce(struct ring *, size_t, uint64_t, size_t);

int
main(int argc, char *argv[])
{
	struct sigaction sa = { 0 };
	struct ring *r;
	struct result tot;
	struct timespec t0;
	const char *errstr;
	double secs;
	size_t i, len, maxbuf = MAXBUF_DEFAULT, nconsumers = 1;
	uint64_t count = COUNT_DEFAULT;
	pid_t pid, parent;
	int ch, ok;

	while ((ch = getopt(argc, argv, "b:c:n:")) != -1) {
		switch (ch) {
		case 'b':
			maxbuf = strtonum(optarg, 1, MAXBUF_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "maxbuf %s: %s", errstr, optarg);
			break;
		case 'c':
			count = strtonum(optarg, 0, COUNT_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "count %s: %s", errstr, optarg);
			break;
		case 'n':
			nconsumers = strtonum(optarg, 1, CONSUMERS_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(2, "consumers %s: %s", errstr, optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();

	owner = parent = getpid();
	if (atexit(kids_kill) != 0)
		errx(1, "atexit failed");
	/*
	 * While the others consume on, a dead consumer would go unnoticed
	 * until the end; the producer looks at this flag for every item.
	 */
	sa.sa_handler = on_sigchld;
	if (sigemptyset(&sa.sa_mask) == -1)
		err(1, "sigemptyset");
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		err(1, "sigaction");

	len = sizeof(*r) + maxbuf * sizeof(r->slot[0]);
	r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (r == MAP_FAILED)
		err(1, "mmap");
	/* The mapping starts zeroed: head, tail, taken and res[] are set. */
	if (sem_init(&r->empty, 1, maxbuf) == -1)
		err(1, "sem_init empty");
	if (sem_init(&r->full, 1, 0) == -1)
		err(1, "sem_init full");
	if (sem_init(&r->mutex, 1, 1) == -1)
		err(1, "sem_init mutex");

	for (i = 0; i < nconsumers; i++) {
		pid = fork();
		if (pid == -1)
			err(1, "fork");
		if (pid == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
				err(1, "prctl");
			/* The parent may have died before we asked. */
			if (getppid() != parent)
				errx(1, "producer gone");
			consume(r, maxbuf, count, i);
		}
		kids[nkids++] = pid;
		nlive++;
	}

	if (clock_gettime(CLOCK_MONOTONIC, &t0) == -1)
		err(1, "clock_gettime");
	produce(r, maxbuf, count, nconsumers);

	/*
	 * A consumer that dies holding the mutex strands the others, but
	 * waitpid(-1) hears of the death first, and the rest are killed.
	 */
	if (kids_reap() == -1)
		exit(1);

	tot = r->res[0];
	for (i = 1; i < nconsumers; i++) {
		tot.items += r->res[i].items;
		tot.sum += r->res[i].sum;
		if (elapsed(&tot.done, &r->res[i].done) > 0)
			tot.done = r->res[i].done;
	}
	ok = tot.items == count && tot.sum == expected_sum(count);
	if (!ok)
		warnx("received %ju items summing to %ju, sent %ju summing "
		    "to %ju", (uintmax_t)tot.items, (uintmax_t)tot.sum,
		    (uintmax_t)count, (uintmax_t)expected_sum(count));
	secs = elapsed(&t0, &tot.done);
	printf("variant=posix_sem consumers=%zu count=%ju elapsed_s=%.6f "
	    "items_per_s=%.1f checksum_ok=%d\n", nconsumers, (uintmax_t)count,
	    secs, secs > 0 ? count / secs : 0.0, ok);
	if (fflush(stdout) == EOF)
		err(1, "stdout");

	/* Every process that used them is reaped; nobody waits on them. */
	if (sem_destroy(&r->mutex) == -1)
		err(1, "sem_destroy mutex");
	if (sem_destroy(&r->full) == -1)
		err(1, "sem_destroy full");
	if (sem_destroy(&r->empty) == -1)
		err(1, "sem_destroy empty");
	if (munmap(r, len) == -1)
		err(1, "munmap");
	return ok ? 0 : 1;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: %s [-n consumers] [-c count] [-b maxbuf]\n",
	    getprogname());
	exit(2);
}

/* Consumers wait without a limit: the producer watches over them. */
static void
sem_take(sem_t *s)
{
	while (sem_wait(s) == -1)
		if (errno != EINTR)
			err(1, "sem_wait");
}

/*
 * The producer's wait.  A consumer that dies holding the mutex, or all
 * consumers dying, would leave it blocked forever, so it waits in slices
 * and looks for dead children in between.  The uncontended case is one
 * sem_trywait, with no clock read, so the watch costs nothing there.  A
 * step of the wall clock can only delay a check, so the long-standard
 * sem_timedwait, which counts on CLOCK_REALTIME, will do.
 */
static void
sem_take_watching(sem_t *s)
{
	struct timespec until;

	if (sem_trywait(s) == 0)
		return;
	if (errno != EAGAIN && errno != EINTR)
		err(1, "sem_trywait");
	for (;;) {
		if (clock_gettime(CLOCK_REALTIME, &until) == -1)
			err(1, "clock_gettime");
		until.tv_nsec += POLL_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (sem_timedwait(s, &until) == 0)
			return;
		if (errno != ETIMEDOUT && errno != EINTR)
			err(1, "sem_timedwait");
		kids_check();
	}
}

static void
sem_give(sem_t *s)
{
	if (sem_post(s) == -1)
		err(1, "sem_post");
}

static _Noreturn void
consume(struct ring *r, size_t maxbuf, uint64_t count, size_t me)
{
	struct result *res = &r->res[me];
	uint64_t items = 0, sum = 0;
	uint32_t v;

	for (;;) {
		sem_take(&r->full);
		sem_take(&r->mutex);
		if (r->taken == count) {
			/* Every item is spoken for: this post was poison. */
			sem_give(&r->mutex);
			break;
		}
		v = r->slot[r->tail];
		if (++r->tail == maxbuf)
			r->tail = 0;
		r->taken++;
		sem_give(&r->mutex);
		sem_give(&r->empty);
		sum += v;
		items++;
	}
	if (clock_gettime(CLOCK_MONOTONIC, &res->done) == -1)
		err(1, "clock_gettime");
	res->items = items;
	res->sum = sum;
	exit(0);
}

/*
 * The producer alone moves head, so it would not need the mutex; it takes
 * it anyway because that is the textbook design this baseline measures.
 */
static void
produce(struct ring *r, size_t maxbuf, uint64_t count, size_t nconsumers)
{
	uint64_t i;
	size_t k;

	for (i = 0; i < count; i++) {
		if (kid_exited)
			kids_check();
		sem_take_watching(&r->empty);
		sem_take_watching(&r->mutex);
		r->slot[r->head] = (uint32_t)i;
		if (++r->head == maxbuf)
			r->head = 0;
		sem_give(&r->mutex);
		sem_give(&r->full);
	}
	for (k = 0; k < nconsumers; k++)
		sem_give(&r->full);
}
