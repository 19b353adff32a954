/*
 * kids.c - the consumer children of a baseline, and small helpers the
 * baselines share (see kids.h).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "kids.h"

pid_t	owner;
pid_t	kids[CONSUMERS_MAX];
size_t	nkids;
size_t	nlive;
volatile sig_atomic_t kid_exited;

static void	kids_forget(pid_t);
static void	kid_report(pid_t, int);

/*
 * Items are 32 bits wide, so item i carries i mod 2^32 (for count up to
 * 2^32 that is just 0..count-1), and sums wrap mod 2^64 on both sides.
 */
uint64_t
expected_sum(uint64_t count)
{
	const uint64_t cycle = UINT64_C(1) << 32;
	uint64_t rest = count % cycle;

	/* 0 + ... + (2^32 - 1) = 2^31 * (2^32 - 1) fits in 64 bits. */
	return count / cycle * (cycle / 2 * (cycle - 1)) +
	    rest * (rest - 1) / 2;
}

/* Seconds from a to b. */
double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (b->tv_nsec - a->tv_nsec) / 1e9;
}

void
on_sigchld(int sig)
{
	(void)sig;
	kid_exited = 1;
}

static void
kids_forget(pid_t pid)
{
	size_t i;

	for (i = 0; i < nkids; i++) {
		if (kids[i] == pid) {
			kids[i] = 0;
			nlive--;
			return;
		}
	}
	errx(1, "waitpid returned a stranger, pid %ld", (long)pid);
}

/*
 * Exit hook, and the reaction to a failed child.  A child we have not
 * reaped cannot have its pid reused, so killing by pid hits only our own.
 * SIGKILL because consumers hold nothing that needs tidying.  Children
 * inherit the hook; it must do nothing there.
 */
void
kids_kill(void)
{
	size_t i;

	if (getpid() != owner)
		return;
	for (i = 0; i < nkids; i++)
		if (kids[i] != 0 && kill(kids[i], SIGKILL) == -1)
			warn("kill %ld", (long)kids[i]);
	for (i = 0; i < nkids; i++) {
		if (kids[i] == 0)
			continue;
		while (waitpid(kids[i], NULL, 0) == -1) {
			if (errno != EINTR) {
				warn("waitpid %ld", (long)kids[i]);
				break;
			}
		}
		kids[i] = 0;
		nlive--;
	}
}

/*
 * While the producer still sends, no consumer may have exited: a pipe
 * consumer exits at end of file, a ring consumer at its poison item.  Any
 * exit is a failure; the exit hook kills the rest.
 */
void
kids_check(void)
{
	pid_t pid;
	int status;

	kid_exited = 0;
	pid = waitpid(-1, &status, WNOHANG);
	if (pid == -1)
		err(1, "waitpid");
	if (pid == 0)
		return;
	kids_forget(pid);
	kid_report(pid, status);
	errx(1, "consumer %ld gone before end of stream", (long)pid);
}

/*
 * Reap every child in the order they finish.  On the first failure kill
 * the rest and return -1.
 */
int
kids_reap(void)
{
	pid_t pid;
	int status;

	while (nlive > 0) {
		pid = waitpid(-1, &status, 0);
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			err(1, "waitpid");
		}
		kids_forget(pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			kid_report(pid, status);
			kids_kill();
			return -1;
		}
	}
	return 0;
}

static void
kid_report(pid_t pid, int status)
{
	if (WIFEXITED(status))
		warnx("consumer %ld exited with status %d", (long)pid,
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		warnx("consumer %ld killed by signal %d", (long)pid,
		    WTERMSIG(status));
	else
		warnx("consumer %ld: wait status %#x", (long)pid, status);
}
