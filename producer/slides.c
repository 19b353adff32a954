/*
 * slides.c - the producer's side of the slides' protocol (-L slides).
 *
 * Creates the semaphore set and then the segment (common/slides.c),
 * writes 0 .. COUNT-1 and the end marker -1, waits until it is the only
 * process attached, detaches and removes both objects.  It removes them
 * on every path after creating them, a signal or a timeout included.
 *
 *	producer -L slides -k key -p 20 -c 100 -b 10
 *
 * Exit status: 0 done, 2 bad usage, 3 key taken, IPC failure, timeout or
 * interrupted.
 */
#include <sys/types.h>
#include <sys/ipc.h>
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
#include "shmlib.h"
#include "slides.h"
#include "slides_main.h"

#define SP_POLL_MS	10	/* how often we look at shm_nattch */

/* One run of the slides producer. */
struct sp_run {
	struct slides	 s;
	struct slides_opts o;		/* the command line */
};

static void	 sp_usage(const char *) __attribute__((noreturn));
static void	 sp_parse(struct sp_run *, int, char *[]);
static void	 sp_create(struct sp_run *);
static int	 sp_produce(struct sp_run *);
static int	 sp_wait_alone(struct sp_run *);
static void	 sp_fail(struct sp_run *, const char *) __attribute__((noreturn));

/* A refused value's one-line error (msg), or the usage line. */
static void
sp_usage(const char *msg)
{
	if (msg != NULL && msg[0] != '\0')
		errx(2, "%s", msg);
	fprintf(stderr, _("usage: %s -L slides [-k keyfile] [-p proj_id] "
	    "[-c count] [-b maxbuf]\n"
	    "\t[-t seconds] [--delay ms] [-q]\n"), getprogname());
	exit(2);
}

static void
sp_parse(struct sp_run *r, int argc, char *argv[])
{
	char msg[256];

	slides_opts_init(&r->o, 30, 1000);
	if (slides_parse(&r->o, argc, argv, "b:c:hk:L:p:qt:", msg,
	    sizeof(msg)) == -1)
		sp_usage(msg);
	r->s.maxbuf = r->o.maxbuf;
	r->s.timeout_ms = r->o.ro.timeout_s * 1000;
}

static void
sp_create(struct sp_run *r)
{
	const char *path;
	key_t key;

	if ((path = run_keypath(&r->o.ro)) == NULL)
		err(2, _("default key file path"));
	if (key_ensure_file(path) == -1)
		err(3, _("key file %s: cannot create it, or it is not a regular "
		    "file of yours; pass another -k"), path);
	if ((key = key_derive(path, r->o.ro.proj)) == (key_t)-1)
		err(3, _("ftok(%s, %d)"), path, r->o.ro.proj);
	if (slides_create(key, r->s.maxbuf, &r->s) == -1) {
		if (errno == EEXIST)
			errx(3, _("key 0x%08lx (%s, proj_id %d) is taken: a "
			    "segment or semaphore set exists under it; pick "
			    "another -k/-p, or remove it (ipcs, ipcrm) if it "
			    "is a crashed run of yours"),
			    (unsigned long)(uint32_t)key, path, r->o.ro.proj);
		err(3, _("creating the slides run under key 0x%08lx (%s, "
		    "proj_id %d)"), (unsigned long)(uint32_t)key, path,
		    r->o.ro.proj);
	}
}

/* Removes the run and exits 3: what a failure after creation does. */
static void
sp_fail(struct sp_run *r, const char *what)
{
	int e = errno;

	(void)slides_detach(&r->s);
	(void)slides_remove(&r->s);
	errno = e;
	if (errno == EINTR)
		errx(3, _("%s: interrupted; the run's objects are removed"), what);
	if (errno == ETIMEDOUT)
		errx(3, _("%s: no progress in %d s (are the consumers stopped?); "
		    "the run's objects are removed"), what,
		    r->s.timeout_ms / 1000);
	if (errno == EPROTO)
		errx(3, _("%s: in or out in the segment is out of range (a peer "
		    "wrote there); the run's objects are removed"), what);
	err(3, _("%s on sem id %d; the run's objects are removed"), what,
	    r->s.semid);
}

static int
sp_produce(struct sp_run *r)
{
	long long v;

	for (v = 0; v <= r->o.count; v++) {
		if (r->o.ro.delay_ms > 0)
			sleep_ms(r->o.ro.delay_ms);	/* outside the mutex */
		if (slides_put(&r->s, v < r->o.count ? (int)v : SL_END) == -1)
			return -1;
	}
	return 0;
}

/* The consumers detach after the marker; we wait for that, bounded. */
static int
sp_wait_alone(struct sp_run *r)
{
	struct shmid_ds ds;
	uint64_t start = now_ns();

	for (;;) {
		if (shmctl(r->s.shmid, IPC_STAT, &ds) == -1)
			return -1;
		if (ds.shm_nattch <= 1)
			return 0;
		if (slides_stop) {
			errno = EINTR;
			return -1;
		}
		if (now_ns() - start >= (uint64_t)r->s.timeout_ms * 1000000ULL) {
			errno = ETIMEDOUT;
			return -1;
		}
		sleep_ms(SP_POLL_MS);
	}
}

int
slides_producer(int argc, char *argv[])
{
	struct sp_run r;

	(void)i18n_init();
	memset(&r, 0, sizeof(r));
	r.s.stop = &slides_stop;
	sp_parse(&r, argc, argv);
	if (sig_catch(slides_on_signal, 0) == -1)
		err(3, _("sigaction"));
	sp_create(&r);
	if (r.o.verbose)
		fprintf(stderr, _("%s: slides protocol, key 0x%08lx, shm id %d, "
		    "sem id %d, MAXBUF %u, %lld items\n"), getprogname(),
		    (unsigned long)(uint32_t)r.s.key, r.s.shmid, r.s.semid,
		    r.s.maxbuf, r.o.count);
	if (sp_produce(&r) == -1)
		sp_fail(&r, _("writing an item"));
	if (sp_wait_alone(&r) == -1)
		sp_fail(&r, _("waiting for the consumers to detach"));
	if (slides_detach(&r.s) == -1)
		sp_fail(&r, _("shmdt"));
	if (slides_remove(&r.s) == -1)
		err(3, _("removing the slides run (IPC_RMID)"));
	if (r.o.verbose)
		fprintf(stderr, _("%s: %lld items and the end marker written; "
		    "objects removed\n"), getprogname(), r.o.count);
	return 0;
}
