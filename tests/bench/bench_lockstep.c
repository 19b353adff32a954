/*
 * bench_lockstep - throughput baseline: one writer, one reader, one System
 * V shared memory block handed back and forth under two System V
 * semaphores used as binary semaphores.
 *
 * The classic lockstep transfer: the writer waits for SEM_WRITE, fills
 * the block, and posts SEM_READ; the reader waits for SEM_READ, drains
 * the block, and posts SEM_WRITE.  Only one side ever touches the block.
 * A block with cnt == 0 ends the stream.  The parent is the writer.
 *
 * Who creates and removes what:
 *   - the parent creates the semaphore set and the segment, both with
 *     IPC_PRIVATE and IPC_CREAT | IPC_EXCL | 0600, initialises the set,
 *     and attaches the segment, all before forking the reader;
 *   - the parent marks the segment for removal (IPC_RMID) as soon as it
 *     is attached: the reader inherits the attachment through fork(), and
 *     the segment goes with the last detach, so not even SIGKILL can leak
 *     it;
 *   - the parent removes the semaphore set from its exit hook, on every
 *     way out, after killing and reaping the reader.  SIGINT, SIGTERM and
 *     SIGHUP are turned into an orderly exit so that the hook runs.
 *
 * Start order: one program; nothing else attaches.  IPC_PRIVATE means
 * nobody else can find the objects, and the set is initialised before
 * the reader exists, so the initialisation race that sem_otime guards
 * against in shared-key designs cannot happen.
 *
 * Sample: bench_lockstep -s 4096 -c 10000000
 *
 * Build:  cc -std=c11 -Wall -Wextra -pedantic -Werror -O2 -D_GNU_SOURCE \
 *	   $(pkg-config --cflags libbsd-overlay) bench_lockstep.c \
 *	   -o bench_lockstep $(pkg-config --libs libbsd-overlay) -pthread
 */

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define COUNT_MAX	10000000000LL	/* 1e10 items */
#define COUNT_DEFAULT	10000000LL	/* 1e7 items */
#define BLOCK_MAX	(1LL << 26)	/* 64 MiB */
#define BLOCK_DEFAULT	4096		/* one page */
/* How often a blocked side looks for a signal, the writer for a dead reader. */
#define POLL_NS		100000000L	/* 100 ms */

/* Semaphore indices in the set. */
#define SEM_WRITE	0		/* 1: the block is the writer's */
#define SEM_READ	1		/* 1: the block is the reader's */
#define SEM_COUNT	2

/* semctl(2) leaves this to the caller to define. */
union semun {
	int		 val;
	struct semid_ds	*buf;
	unsigned short	*array;
};

/* The segment: a small header, then block_bytes of items. */
struct xfr {
	uint64_t	cnt;		/* items in buf; 0 ends stream */
	uint64_t	items;		/* reader's total, at the end */
	uint64_t	sum;		/* their sum, mod 2^64 */
	struct timespec	done;		/* CLOCK_MONOTONIC then */
	uint32_t	buf[];		/* block_bytes / 4 items */
};

static pid_t	owner;		/* the parent: only it tears down */
static pid_t	reader;		/* not yet reaped; 0 if none */
static int	semid = -1;	/* -1 before creation, after removal */
static int	shmid = -1;	/* -1 unless created, not yet removed */
static volatile sig_atomic_t stop; /* a termination signal came */

static _Noreturn void usage(void);
static uint64_t	expected_sum(uint64_t);
static double	elapsed(const struct timespec *, const struct timespec *);
static void	on_signal(int);
static void	cleanup(void);
static void	reader_check(void);
static void	sem_op(unsigned short, short, int);
static _Noreturn void read_side(struct xfr *);
static void	write_side(struct xfr *, uint64_t, size_t);

int
main(int argc, char *argv[])
{
	unsigned short init[SEM_COUNT];
	union semun arg;
	struct sigaction sa = { 0 };
	struct timespec t0;
	struct xfr *seg;
	const char *errstr;
	double secs;
	size_t block = BLOCK_DEFAULT;
	uint64_t count = COUNT_DEFAULT;
	pid_t pid, parent;
	int ch, ok, status;

	while ((ch = getopt(argc, argv, "c:s:")) != -1) {
		switch (ch) {
		case 'c':
			count = strtonum(optarg, 0, COUNT_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "count %s: %s", errstr, optarg);
			break;
		case 's':
			block = strtonum(optarg, sizeof(seg->buf[0]), BLOCK_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(2, "block size %s: %s", errstr, optarg);
			/* A block holds whole items only. */
			if (block % sizeof(seg->buf[0]) != 0)
				errx(2, "block size not a multiple of %zu: %s",
				    sizeof(seg->buf[0]), optarg);
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
	/* Before creating anything, so that a signal cannot skip the hook. */
	sa.sa_handler = on_signal;
	if (sigemptyset(&sa.sa_mask) == -1)
		err(1, "sigemptyset");
	/* No SA_RESTART: waitpid(2) must return to look at the flag. */
	sa.sa_flags = 0;
	if (sigaction(SIGINT, &sa, NULL) == -1)
		err(1, "sigaction SIGINT");
	if (sigaction(SIGTERM, &sa, NULL) == -1)
		err(1, "sigaction SIGTERM");
	if (sigaction(SIGHUP, &sa, NULL) == -1)
		err(1, "sigaction SIGHUP");
	if (atexit(cleanup) != 0)
		errx(1, "atexit failed");

	/* IPC_EXCL is moot with IPC_PRIVATE, but states the intent. */
	semid = semget(IPC_PRIVATE, SEM_COUNT, IPC_CREAT | IPC_EXCL | 0600);
	if (semid == -1)
		err(1, "semget");
	/* The writer goes first. */
	init[SEM_WRITE] = 1;
	init[SEM_READ] = 0;
	arg.array = init;
	if (semctl(semid, 0, SETALL, arg) == -1)
		err(1, "semctl SETALL");

	shmid = shmget(IPC_PRIVATE, sizeof(*seg) + block,
	    IPC_CREAT | IPC_EXCL | 0600);
	if (shmid == -1)
		err(1, "shmget");
	seg = shmat(shmid, NULL, 0);
	if (seg == (void *)-1)
		err(1, "shmat");
	/* Attached: from here on the segment lives exactly as long as we do. */
	if (shmctl(shmid, IPC_RMID, NULL) == -1)
		err(1, "shmctl IPC_RMID");
	shmid = -1;

	pid = fork();
	if (pid == -1)
		err(1, "fork");
	if (pid == 0) {
		/*
		 * Should the parent die by SIGKILL its hook cannot run, the
		 * set stays, and we would wait on it forever.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
			err(1, "prctl");
		if (getppid() != parent)
			errx(1, "writer gone");
		read_side(seg);
	}
	reader = pid;

	if (clock_gettime(CLOCK_MONOTONIC, &t0) == -1)
		err(1, "clock_gettime");
	write_side(seg, count, block / sizeof(seg->buf[0]));

	/* The reader's exit is the last handshake: its report is complete. */
	while (waitpid(reader, &status, 0) == -1) {
		if (errno != EINTR)
			err(1, "waitpid");
		if (stop)
			errx(1, "interrupted");
	}
	reader = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		errx(1, "reader %ld failed: wait status %#x", (long)pid,
		    status);

	ok = seg->items == count && seg->sum == expected_sum(count);
	if (!ok)
		warnx("received %ju items summing to %ju, sent %ju summing "
		    "to %ju", (uintmax_t)seg->items, (uintmax_t)seg->sum,
		    (uintmax_t)count, (uintmax_t)expected_sum(count));
	secs = elapsed(&t0, &seg->done);
	printf("variant=lockstep_%zu consumers=1 count=%ju elapsed_s=%.6f "
	    "items_per_s=%.1f checksum_ok=%d\n", block, (uintmax_t)count,
	    secs, secs > 0 ? count / secs : 0.0, ok);
	if (fflush(stdout) == EOF)
		err(1, "stdout");

	/*
	 * Ours is the last detach, so the segment goes now; the exit hook
	 * removes the set.
	 */
	if (shmdt(seg) == -1)
		err(1, "shmdt");
	return ok ? 0 : 1;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: %s [-s block_bytes] [-c count]\n",
	    getprogname());
	exit(2);
}

/*
 * Items are 32 bits wide, so item i carries i mod 2^32 (for count up to
 * 2^32 that is just 0..count-1), and sums wrap mod 2^64 on both sides.
 */
static uint64_t
expected_sum(uint64_t count)
{
	const uint64_t cycle = UINT64_C(1) << 32;
	uint64_t rest = count % cycle;

	/* 0 + ... + (2^32 - 1) = 2^31 * (2^32 - 1) fits in 64 bits. */
	return count / cycle * (cycle / 2 * (cycle - 1)) +
	    rest * (rest - 1) / 2;
}

/* Seconds from a to b. */
static double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (b->tv_nsec - a->tv_nsec) / 1e9;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * The parent's exit hook, on every way out.  Teardown order: first kill
 * and reap the reader, so that nobody is inside a semop(2) on the set,
 * then remove the set.  The segment needs nothing unless we die between
 * creating it and marking it for removal.  SIGKILL because the reader
 * holds nothing that needs tidying.  The reader inherits the hook; it
 * must do nothing there.
 */
static void
cleanup(void)
{
	if (getpid() != owner)
		return;
	if (reader != 0) {
		/* Not yet reaped, so the pid cannot be anyone else's. */
		if (kill(reader, SIGKILL) == -1)
			warn("kill %ld", (long)reader);
		while (waitpid(reader, NULL, 0) == -1) {
			if (errno != EINTR) {
				warn("waitpid %ld", (long)reader);
				break;
			}
		}
		reader = 0;
	}
	if (semid != -1 && semctl(semid, 0, IPC_RMID) == -1)
		warn("semctl IPC_RMID");
	semid = -1;
	if (shmid != -1 && shmctl(shmid, IPC_RMID, NULL) == -1)
		warn("shmctl IPC_RMID");
	shmid = -1;
}

/*
 * The reader exits only after the end-of-stream block, which is the
 * writer's last wait, so while the writer waits any exit is a failure.
 */
static void
reader_check(void)
{
	pid_t pid;
	int status;

	pid = waitpid(reader, &status, WNOHANG);
	if (pid == -1)
		err(1, "waitpid");
	if (pid == 0)
		return;
	reader = 0;
	errx(1, "reader %ld gone before end of stream: wait status %#x",
	    (long)pid, status);
}

/*
 * Add op to semaphore num.  A wait goes in slices so that it notices a
 * termination signal (semop is never restarted, so one returns EINTR at
 * once; the slice covers a signal that lands just before the call) and,
 * when watch is set, a reader that died and so will never post.  Without
 * SEM_UNDO: the two sides pass each semaphore back and forth, so undoing
 * one side's operations on its exit would be meaningless.
 */
static void
sem_op(unsigned short num, short op, int watch)
{
	const struct timespec slice = { 0, POLL_NS };
	struct sembuf sb;

	sb.sem_num = num;
	sb.sem_op = op;
	sb.sem_flg = 0;
	while (semtimedop(semid, &sb, 1, &slice) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			err(1, "semtimedop");
		if (stop)
			errx(1, "interrupted");
		if (watch)
			reader_check();
	}
	/* A wait that never blocks never sees EINTR; look here as well. */
	if (stop)
		errx(1, "interrupted");
}

/* The reader's report goes in the header, after the last block. */
static _Noreturn void
read_side(struct xfr *seg)
{
	uint64_t items = 0, sum = 0, i, n;

	for (;;) {
		sem_op(SEM_READ, -1, 0);
		n = seg->cnt;
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			sum += seg->buf[i];
		items += n;
		sem_op(SEM_WRITE, 1, 0);
	}
	if (clock_gettime(CLOCK_MONOTONIC, &seg->done) == -1)
		err(1, "clock_gettime");
	seg->items = items;
	seg->sum = sum;
	if (shmdt(seg) == -1)
		err(1, "shmdt");
	exit(0);
}

static void
write_side(struct xfr *seg, uint64_t count, size_t per_block)
{
	uint64_t sent = 0, i, n;

	do {
		sem_op(SEM_WRITE, -1, 1);
		n = count - sent < per_block ? count - sent : per_block;
		for (i = 0; i < n; i++)
			seg->buf[i] = (uint32_t)(sent + i);
		seg->cnt = n;
		sem_op(SEM_READ, 1, 0);
		sent += n;
	} while (n != 0);
}
