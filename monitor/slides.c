/*
 * slides.c - the monitor's view of a slides-protocol run (-L slides).
 *
 * Attaches read-only and reads the three semaphores with semctl(GETALL,
 * GETNCNT) only, as the main monitor does: watching never changes the
 * run.  Shows the buffer slot by slot with in and out, the semaphores
 * and who waits on them, and the processes attached.  Ends when the run
 * is removed, after -n iterations, with --once, or on a signal.
 *
 *	monitor -L slides -k key [-i ms] [-n iterations] [--once]
 *
 * Exit status: 0 shown, 2 bad usage, 3 no slides run under the key.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "runopts.h"
#include "shmlib.h"
#include "slides.h"
#include "slides_main.h"
#include "watch.h"

#define SM_CELLS	32	/* slots shown one by one; more are summarised */

struct sm_view {
	struct slides	 s;
	struct watch	 w;		/* what the main monitor takes */
};

static void	 sm_usage(const char *) __attribute__((noreturn));
static void	 sm_parse(struct sm_view *, int, char *[]);
static int	 sm_show(const struct sm_view *);

/* A refused value's one-line error (msg), or the usage line. */
static void
sm_usage(const char *msg)
{
	if (msg != NULL && msg[0] != '\0')
		errx(2, "%s", msg);
	fprintf(stderr, _("usage: %s -L slides [-k keyfile] [-p proj_id] "
	    "[-i interval_ms] [-n iterations] [--once]\n"), getprogname());
	exit(2);
}

static void
sm_parse(struct sm_view *v, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "once",	no_argument,	   NULL, 'O' },
		{ "interval",	required_argument, NULL, 'i' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	char msg[256];

	if (watch_parse(&v->w, argc, argv, "hi:k:L:n:p:", longopts, 1, msg,
	    sizeof(msg)) == -1)
		sm_usage(msg);
}

/* One snapshot; -1 once the run is gone. */
static int
sm_show(const struct sm_view *v)
{
	static const char *names[SL_NSEMS] = { "mutex", "empty", "full" };
	unsigned short val[SL_NSEMS];
	union semun arg;
	struct shmid_ds ds;
	int in, out, i, ncnt;
	uint32_t k;

	arg.array = val;
	if (shmctl(v->s.shmid, IPC_STAT, &ds) == -1 ||
	    semctl(v->s.semid, 0, GETALL, arg) == -1)
		return -1;
	in = *(volatile int *)v->s.in;
	out = *(volatile int *)v->s.out;
	printf(_("slides run: key 0x%08lx, shm id %d, sem id %d, MAXBUF %u, "
	    "%lu attached\n"), (unsigned long)(uint32_t)v->s.key, v->s.shmid,
	    v->s.semid, v->s.maxbuf, (unsigned long)ds.shm_nattch);
	printf("  in %d  out %d%s\n", in, out,
	    in < 0 || out < 0 || (uint32_t)in >= v->s.maxbuf ||
	    (uint32_t)out >= v->s.maxbuf ? _("  (out of range!)") : "");
	fputs(_("  buffer:"), stdout);
	for (k = 0; k < v->s.maxbuf && k < SM_CELLS; k++)
		printf(" %s%d", (int)k == in ? (int)k == out ? "<>" : ">" :
		    (int)k == out ? "<" : "", ((volatile int *)v->s.buffer)[k]);
	if (v->s.maxbuf > SM_CELLS)
		printf(_(" ... (%u more)"), v->s.maxbuf - SM_CELLS);
	printf(_("\n  (> in: the producer's next slot, < out: the consumers')\n"));
	for (i = 0; i < SL_NSEMS; i++) {
		ncnt = semctl(v->s.semid, i, GETNCNT);
		printf(_("  sem %d %-5s = %-5u %d waiting\n"), i, names[i], val[i],
		    ncnt < 0 ? 0 : ncnt);
	}
	return fflush(stdout) == EOF ? -1 : 0;
}

int
slides_monitor(int argc, char *argv[])
{
	struct sm_view v;
	const char *path;
	key_t key;
	long long n;

	(void)i18n_init();
	memset(&v, 0, sizeof(v));
	sm_parse(&v, argc, argv);
	if ((path = run_keypath(&v.w.ro)) == NULL)
		err(2, _("default key file path"));
	if ((key = key_derive(path, v.w.ro.proj)) == (key_t)-1)
		err(3, _("ftok(%s, %d): start the producer first, or check -k"),
		    path, v.w.ro.proj);
	if (slides_open(key, SHM_RDONLY, &v.s) == -1) {
		if (errno == ENOENT)
			errx(3, _("no slides run under key 0x%08lx (%s, proj_id "
			    "%d): start one (producer -L slides), or check -k/-p"),
			    (unsigned long)(uint32_t)key, path, v.w.ro.proj);
		if (errno == EPROTO)
			errx(3, _("key 0x%08lx (%s): not a slides run; without -L "
			    "the monitor shows shmlab's own runs"),
			    (unsigned long)(uint32_t)key, path);
		err(3, _("attaching the slides run under key 0x%08lx"),
		    (unsigned long)(uint32_t)key);
	}
	if (sig_catch(slides_on_signal, 0) == -1)
		err(3, _("sigaction"));
	for (n = 0; !slides_stop; n++) {
		if (n > 0)
			putchar('\n');
		if (sm_show(&v) == -1) {
			printf(_("the run ended (its objects are removed)\n"));
			break;
		}
		if (v.w.once || (v.w.iterations > 0 && n + 1 >= v.w.iterations))
			break;
		sleep_ms(v.w.interval_ms);
	}
	if (slides_detach(&v.s) == -1)
		err(3, _("shmdt"));
	return 0;
}
