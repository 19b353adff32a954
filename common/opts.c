/*
 * opts.c - small helpers the programs share: mode names, permissions,
 * clocks and liveness.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmlib.h"

int
opt_mode(const char *s, enum shm_mode *m)
{
	if (strcmp(s, "queue") == 0)
		*m = MODE_QUEUE;
	else if (strcmp(s, "broadcast") == 0)
		*m = MODE_BROADCAST;
	else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

const char *
mode_name(enum shm_mode m)
{
	return m == MODE_BROADCAST ? "broadcast" : "queue";
}

/*
 * Parses an octal permission such as 0660.  The owner must keep read and
 * write, or the run could not use its own objects.
 */
int
opt_perm(const char *s, mode_t *perm)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || end == s || *end != '\0' || v > 0777 ||
	    (v & 0600) != 0600 || strchr(s, '-') != NULL) {
		errno = EINVAL;
		return -1;
	}
	*perm = (mode_t)v;
	return 0;
}

uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * A pid we may not signal (EPERM) is still alive; a zombie is not, though
 * kill(2) still finds it until its parent (or init) reaps it.
 */
int
pid_alive(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *fp;
	size_t n;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) == -1 && errno != EPERM)
		return 0;
	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 1;	/* no /proc: trust kill(2) */
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	(void)fclose(fp);
	buf[n] = '\0';
	/* The state follows the command name, which may hold ") ". */
	if ((p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'Z')
		return 0;
	return 1;
}

/* The names reports, titles and the monitor use for enum shm_state. */
const char *
state_name(uint32_t s)
{
	switch (s) {
	case ST_INIT:
		return "init";
	case ST_WAITING:
		return "waiting";
	case ST_PRODUCING:
		return "producing";
	case ST_DRAINING:
		return "draining";
	case ST_DONE:
		return "done";
	case ST_ABORTED:
		return "aborted";
	default:
		return "unknown";
	}
}

/* ... and for enum shm_cstate. */
const char *
cstate_name(uint32_t s)
{
	switch (s) {
	case CS_FREE:
		return "free";
	case CS_ACTIVE:
		return "active";
	case CS_DONE:
		return "done";
	case CS_FAILED:
		return "failed";
	case CS_DIED:
		return "died";
	default:
		return "unknown";
	}
}

/* Sleeps ms milliseconds; a signal cuts it short, on purpose. */
void
sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL);
}

/*
 * Catches SIGINT, SIGTERM, SIGHUP (and SIGUSR1 when usr1) with handler,
 * without SA_RESTART: a signal must cut a sleep or a wait short, so that
 * the flag the handler sets is seen at once.
 */
int
sig_catch(void (*handler)(int), int usr1)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	if (sigemptyset(&sa.sa_mask) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		return -1;
	if (usr1 && sigaction(SIGUSR1, &sa, NULL) == -1)
		return -1;
	return 0;
}

/*
 * Busy-waits a pseudo-random time up to us microseconds: widens a race
 * window on purpose (--unsafe --jitter).  Busy, not asleep: a sleep would
 * hand the CPU to the other side and close the window it should open.
 */
void
jitter(uint32_t us, uint64_t *rng)
{
	uint64_t end;

	if (us == 0)
		return;
	*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
	end = now_ns() + (*rng >> 33) % ((uint64_t)us * 1000 + 1);
	while (now_ns() < end)
		;
}

/*
 * strtonum(3), but only for plain decimal digits: strtonum itself takes
 * " 5" and "+5" (strtoll skips blanks and a sign), which no user means.
 */
long long
opt_number(const char *s, long long min, long long max, const char **errstr)
{
	const char *p = s;

	if (*p == '-' && min < 0)
		p++;
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
		*errstr = "invalid";
		errno = EINVAL;
		return 0;
	}
	return strtonum(s, min, max, errstr);
}

/*
 * The first argument holding a control character (a newline would split
 * the one-line error in two), or 0.
 */
int
opt_control(int argc, char *argv[])
{
	const unsigned char *p;
	int i;

	for (i = 1; i < argc; i++)
		for (p = (const unsigned char *)argv[i]; *p != '\0'; p++)
			if (*p < 0x20 || *p == 0x7f)
				return i;
	return 0;
}
