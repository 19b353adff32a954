/*
 * bench_pipe - throughput baseline: one producer, N consumers, one pipe.
 *
 * The parent is the producer.  It forks the consumers, writes COUNT
 * 32-bit items into one pipe that all of them read, and closes it.  Each
 * item goes to exactly one consumer: whichever read(2) takes it.  At end
 * of file every consumer sends its (items, sum, finish time) back through
 * a second pipe, and the parent checks the totals against what it sent.
 *
 * Who creates and removes what: the parent makes both pipes before
 * forking; they vanish with their last descriptor, so no exit path can
 * leak them.  The parent kills (by pid) and reaps its children on every
 * way out, from an exit hook.
 *
 * Sample: bench_pipe -w 1024 -n 4 -c 10000000
 *
 * Build:  cc -std=c11 -Wall -Wextra -pedantic -Werror -O2 -D_GNU_SOURCE \
 *	   $(pkg-config --cflags libbsd-overlay) bench_pipe.c kids.c -o bench_pipe \
 *	   $(pkg-config --libs libbsd-overlay) -pthread
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kids.h"

#define COUNT_MAX	10000000000LL	/* 1e10 items */
#define COUNT_DEFAULT	10000000LL	/* 1e7 items */
/* Items per write(2): at most PIPE_BUF bytes, so that every write is atomic. */
#define RECORD_MAX	((long long)(PIPE_BUF / sizeof(uint32_t)))

/* What a consumer reports.  Smaller than PIPE_BUF, so each write is atomic. */
struct result {
	uint64_t	items;		/* items received */
	uint64_t	sum;		/* their sum, mod 2^64 */
	struct timespec	done;		/* CLOCK_MONOTONIC at EOF */
};


static _Noreturn void usage(void);
static _Noreturn void consume(int, int, size_t);
static void	produce(int, uint64_t, size_t);

int
main(int argc, char *argv[])
{
	struct result rs[CONSUMERS_MAX + 1], tot;
	struct sigaction sa = { 0 };
	struct timespec t0;
	const char *errstr, *variant;
	double secs;
	char name[32];
	size_t got, i, nconsumers = 1, per_write = 1;
	uint64_t count = COUNT_DEFAULT;
	ssize_t n;
	pid_t pid;
	int ch, datafd[2], resfd[2], ok;

	while ((ch = getopt(argc, argv, "c:n:w:")) != -1) {
		switch (ch) {
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
		case 'w':
			per_write = strtonum(optarg, 1, RECORD_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "ints per write %s: %s", errstr,
				    optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();

	/* The two sizes the baseline table uses get short names. */
	if (per_write == 1)
		variant = "pipe1";
	else if (per_write * sizeof(uint32_t) == 4096)
		variant = "pipe4k";
	else {
		(void)snprintf(name, sizeof(name), "pipe%zu", per_write);
		variant = name;
	}

	owner = getpid();
	if (atexit(kids_kill) != 0)
		errx(1, "atexit failed");
	/* With every consumer gone, write(2) should fail, not kill us. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal");
	/*
	 * While the others read on, a dead consumer would go unnoticed until
	 * the end; the producer looks at this flag before every write.
	 * SA_RESTART keeps pipe I/O and waitpid(2) clear of EINTR.
	 */
	sa.sa_handler = on_sigchld;
	if (sigemptyset(&sa.sa_mask) == -1)
		err(1, "sigemptyset");
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		err(1, "sigaction");
	if (pipe(datafd) == -1)
		err(1, "pipe");
	if (pipe(resfd) == -1)
		err(1, "pipe");

	for (i = 0; i < nconsumers; i++) {
		pid = fork();
		if (pid == -1)
			err(1, "fork");
		if (pid == 0) {
			/*
			 * A stray copy of the write end would keep end of
			 * file from ever coming.
			 */
			if (close(datafd[1]) == -1)
				err(1, "close");
			if (close(resfd[0]) == -1)
				err(1, "close");
			consume(datafd[0], resfd[1], per_write);
		}
		kids[nkids++] = pid;
		nlive++;
	}
	if (close(datafd[0]) == -1)
		err(1, "close");
	if (close(resfd[1]) == -1)
		err(1, "close");

	if (clock_gettime(CLOCK_MONOTONIC, &t0) == -1)
		err(1, "clock_gettime");
	produce(datafd[1], count, per_write);
	if (close(datafd[1]) == -1)
		err(1, "close");

	/*
	 * Collect the reports before reaping: a consumer cannot block here,
	 * its only wait is the data pipe, which now ends.  End of file
	 * means every consumer has exited or closed its end.
	 */
	got = 0;
	for (;;) {
		n = read(resfd[0], (char *)rs + got, sizeof(rs) - got);
		if (n == -1)
			err(1, "read results");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (close(resfd[0]) == -1)
		err(1, "close");
	if (kids_reap() == -1)
		exit(1);
	if (got != nconsumers * sizeof(rs[0]))
		errx(1, "got %zu bytes of results, want %zu", got,
		    nconsumers * sizeof(rs[0]));

	tot = rs[0];
	for (i = 1; i < nconsumers; i++) {
		tot.items += rs[i].items;
		tot.sum += rs[i].sum;
		if (elapsed(&tot.done, &rs[i].done) > 0)
			tot.done = rs[i].done;
	}
	ok = tot.items == count && tot.sum == expected_sum(count);
	if (!ok)
		warnx("received %ju items summing to %ju, sent %ju summing "
		    "to %ju", (uintmax_t)tot.items, (uintmax_t)tot.sum,
		    (uintmax_t)count, (uintmax_t)expected_sum(count));
	secs = elapsed(&t0, &tot.done);
	printf("variant=%s consumers=%zu count=%ju elapsed_s=%.6f "
	    "items_per_s=%.1f checksum_ok=%d\n", variant, nconsumers,
	    (uintmax_t)count, secs, secs > 0 ? count / secs : 0.0, ok);
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	return ok ? 0 : 1;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: %s [-w ints_per_write] [-n consumers] "
	    "[-c count]\n", getprogname());
	exit(2);
}

/*
 * Why several readers can share one pipe without losing or splitting
 * items.  Every write but the last is exactly per_write items, at most
 * PIPE_BUF bytes, so POSIX makes it atomic; the last is shorter.  Every
 * read asks for per_write items.  Linux serves a pipe read under the pipe
 * lock, taking from as many buffers as needed and stopping short only
 * when the pipe runs dry.  The pipe therefore only ever holds whole
 * records, plus the short final one, and each read takes one of them
 * whole.
 *
 * POSIX itself promises nothing about read sizes, but all that matters
 * here is that no item is split between two readers: a read that is a
 * whole number of items, short or not, is fine.  A split item cannot be
 * put back together, so it is a hard error, and the parent's count and
 * sum catch anything else.
 */
static _Noreturn void
consume(int datafd, int resfd, size_t per_write)
{
	uint32_t buf[RECORD_MAX];
	struct result r = { 0 };
	size_t i, k;
	ssize_t n;

	for (;;) {
		n = read(datafd, buf, per_write * sizeof(buf[0]));
		if (n == -1)
			err(1, "read");
		if (n == 0)
			break;
		if ((size_t)n % sizeof(buf[0]) != 0)
			errx(1, "read %zd bytes: an item was split", n);
		k = (size_t)n / sizeof(buf[0]);
		for (i = 0; i < k; i++)
			r.sum += buf[i];
		r.items += k;
	}
	if (clock_gettime(CLOCK_MONOTONIC, &r.done) == -1)
		err(1, "clock_gettime");
	n = write(resfd, &r, sizeof(r));
	if (n == -1)
		err(1, "write results");
	if ((size_t)n != sizeof(r))
		errx(1, "write results: wrote %zd of %zu bytes", n, sizeof(r));
	exit(0);
}

static void
produce(int fd, uint64_t count, size_t per_write)
{
	uint32_t buf[RECORD_MAX];
	uint64_t sent;
	size_t j, k;
	ssize_t n;

	for (sent = 0; sent < count; sent += k) {
		if (kid_exited)
			kids_check();
		k = count - sent < per_write ? count - sent : per_write;
		for (j = 0; j < k; j++)
			buf[j] = (uint32_t)(sent + j);
		n = write(fd, buf, k * sizeof(buf[0]));
		if (n == -1)
			err(1, "write");
		/* Atomic writes are all or nothing; a short one is a bug. */
		if ((size_t)n != k * sizeof(buf[0]))
			errx(1, "write: wrote %zd of %zu bytes", n,
			    k * sizeof(buf[0]));
	}
}
