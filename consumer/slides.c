/*
 * slides.c - the consumers' side of the slides' protocol (-L slides).
 *
 * The parent waits (bounded) for the run's segment, attaches, forks N
 * children and detaches again (the producer waits for shm_nattch 1).
 * Each child takes items until the end marker, which it leaves for the
 * others, and sends what it read to the parent through its own pipe.
 * The parent is the only writer of stdout -- one value per line, nothing
 * else -- and keeps the exact ledger the segment has no room for: which
 * values were read, how often.  Consumers never create or remove objects.
 *
 *	consumer -L slides -k key -n 3 -c 100	# after: producer -L slides
 *
 * Exit status: 0 every child saw the marker and the ledger is clean,
 * 1 the ledger shows duplicates, values out of range, or (with -c: we
 * are all the consumers) values missing below COUNT, 2 bad
 * usage, 3 no run, a child failed (timeout, removed objects, signal).
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "shmlib.h"
#include "slides.h"
#include "slides_main.h"

#define SC_FIRST	5	/* values quoted for each kind of damage */
#define SC_CHUNK	256	/* ints a child sends at once */
#define SC_POLL_MS	20	/* retry period while there is no segment */

/* The parent's ledger of everything its children read. */
struct sc_ledger {
	uint8_t		*seen;		/* bit per value */
	size_t		 bytes;
	long long	 limit;		/* -c COUNT, or -1: grow as needed */
	long long	 items;
	long long	 highest;
	long long	 duplicated;
	long long	 out_of_range;
	int		 dup_first[SC_FIRST];
	int		 bad_first[SC_FIRST];
};

struct sc_run {
	struct slides	 s;
	struct slides_opts o;		/* the command line */
	struct sc_ledger led;
};

static void	 sc_usage(const char *) __attribute__((noreturn));
static void	 sc_parse(struct sc_run *, int, char *[]);
static void	 sc_attach(struct sc_run *);
static int	 sc_child(struct sc_run *, int);
static void	 sc_collect(struct sc_run *, int *, uint32_t);
static void	 sc_tally(struct sc_ledger *, int);
static int	 sc_report(const struct sc_run *);

/* A refused value's one-line error (msg), or the usage line. */
static void
sc_usage(const char *msg)
{
	if (msg != NULL && msg[0] != '\0')
		errx(2, "%s", msg);
	fprintf(stderr, _("usage: %s -L slides [-k keyfile] [-p proj_id] "
	    "[-n consumers] [-c count]\n"
	    "\t[-t seconds] [--delay ms] [-q]\n"), getprogname());
	exit(2);
}

static void
sc_parse(struct sc_run *r, int argc, char *argv[])
{
	char msg[256];

	slides_opts_init(&r->o, 10, -1);
	if (slides_parse(&r->o, argc, argv, "c:hk:L:n:p:qt:", msg,
	    sizeof(msg)) == -1)
		sc_usage(msg);
	r->led.limit = r->o.count;
	r->s.timeout_ms = r->o.ro.timeout_s * 1000;
}

/*
 * A consumer may start first: the key file and the segment are retried
 * for the timeout.  The set exists before the segment (slides.h), so
 * once the segment is there the semaphores can be trusted.
 */
static void
sc_attach(struct sc_run *r)
{
	uint64_t start = now_ns(), limit;
	key_t key = (key_t)-1;

	limit = (uint64_t)r->s.timeout_ms * 1000000ULL;
	if (run_keypath(&r->o.ro) == NULL)
		err(2, _("default key file path"));
	for (;;) {
		if (key == (key_t)-1)
			key = key_derive(r->o.ro.keypath, r->o.ro.proj);
		if (key != (key_t)-1 && slides_open(key, 0, &r->s) == 0)
			break;
		if (key != (key_t)-1 && errno == EPROTO)
			errx(3, _("key 0x%08lx (%s, proj_id %d): not a slides run "
			    "(segment size or semaphore count); check -k/-p"),
			    (unsigned long)(uint32_t)key, r->o.ro.keypath,
			    r->o.ro.proj);
		if (errno == EACCES)
			errx(3, _("key 0x%08lx (%s): permission denied: the run "
			    "belongs to another user; use your own -k/-p"),
			    (unsigned long)(uint32_t)key, r->o.ro.keypath);
		if (errno != ENOENT && errno != EIDRM && errno != EINVAL)
			err(3, _("attaching the slides run under %s, proj_id %d"),
			    r->o.ro.keypath, r->o.ro.proj);
		if (slides_stop || now_ns() - start >= limit)
			errx(3, _("no slides run under %s, proj_id %d after %d s: "
			    "start the producer (producer -L slides), or check "
			    "-k/-p"), r->o.ro.keypath, r->o.ro.proj,
			    r->s.timeout_ms / 1000);
		sleep_ms(SC_POLL_MS);
	}
}

/* One consumer: take, send to the parent, until the marker. */
static int
sc_child(struct sc_run *r, int fd)
{
	int buf[SC_CHUNK], n = 0, v, got;
	size_t len;

	for (;;) {
		got = slides_take(&r->s, &v);
		if (got == 1)
			buf[n++] = v;
		if (n > 0 && (got != 1 || n == SC_CHUNK)) {
			/* A pipe write up to PIPE_BUF is whole. */
			len = (size_t)n * sizeof(int);
			if (write(fd, buf, len) != (ssize_t)len) {
				warn(_("consumer %ld: writing to the parent"),
				    (long)getpid());
				return 3;
			}
			n = 0;
		}
		if (got == 0)
			return 0;
		if (got == -1)
			break;
		if (r->o.ro.delay_ms > 0)
			sleep_ms(r->o.ro.delay_ms);	/* outside the mutex */
	}
	if (errno == ETIMEDOUT)
		warnx(_("consumer %ld: no item and no end marker in %d s: is the "
		    "producer stopped?"), (long)getpid(), r->s.timeout_ms / 1000);
	else if (errno == EIDRM || errno == EINVAL)
		warnx(_("consumer %ld: the run's semaphores were removed before "
		    "the end marker"), (long)getpid());
	else if (errno == EPROTO)
		warnx(_("consumer %ld: out in the segment is out of range (a peer "
		    "wrote there)"), (long)getpid());
	else if (errno != EINTR)
		warn(_("consumer %ld: semop on sem id %d"), (long)getpid(),
		    r->s.semid);
	return 3;
}

static void
sc_tally(struct sc_ledger *l, int v)
{
	size_t need, i;
	uint8_t *p;

	l->items++;
	if (v < 0 || (l->limit >= 0 && v >= l->limit)) {
		if (l->out_of_range < SC_FIRST)
			l->bad_first[l->out_of_range] = v;
		l->out_of_range++;
		return;
	}
	need = (size_t)v / 8 + 1;
	if (need > l->bytes) {
		size_t want = l->bytes * 2 > need ? l->bytes * 2 : need;

		if ((p = realloc(l->seen, want)) == NULL)
			err(3, _("ledger: %zu bytes"), want);
		for (i = l->bytes; i < want; i++)
			p[i] = 0;
		l->seen = p;
		l->bytes = want;
	}
	if (l->seen[v / 8] & (1u << (v % 8))) {
		if (l->duplicated < SC_FIRST)
			l->dup_first[l->duplicated] = v;
		l->duplicated++;
	} else
		l->seen[v / 8] |= (uint8_t)(1u << (v % 8));
	if (v > l->highest)
		l->highest = v;
}

/* Reads every child's pipe to its end; prints and tallies each value. */
static void
sc_collect(struct sc_run *r, int *fds, uint32_t n)
{
	struct pollfd *pfd;
	int buf[SC_CHUNK];
	uint32_t i, open = n;
	ssize_t got, k;

	if ((pfd = calloc(n, sizeof(*pfd))) == NULL)
		err(3, _("calloc"));
	for (i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	while (open > 0) {
		if (poll(pfd, n, -1) == -1) {
			if (errno == EINTR)
				continue;
			err(3, _("poll on the children's pipes"));
		}
		for (i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			got = read(pfd[i].fd, buf, sizeof(buf));
			if (got == -1 && errno == EINTR)
				continue;
			if (got <= 0) {
				(void)close(pfd[i].fd);
				pfd[i].fd = -1;
				open--;
				continue;
			}
			for (k = 0; k < got / (ssize_t)sizeof(int); k++) {
				sc_tally(&r->led, buf[k]);
				if (printf("%d\n", buf[k]) < 0)
					err(3, _("stdout"));
			}
		}
	}
	free(pfd);
	if (fflush(stdout) == EOF)
		err(3, _("stdout"));
}

static void
sc_quote(const int *v, long long n)
{
	long long i;

	for (i = 0; i < n && i < SC_FIRST; i++)
		fprintf(stderr, " %d", v[i]);
	if (n > SC_FIRST)
		fputs(" ...", stderr);
}

/* The ledger on stderr; 1 when it is not exactly 0 .. top-1 once each. */
static int
sc_report(const struct sc_run *r)
{
	const struct sc_ledger *l = &r->led;
	long long top = l->limit >= 0 ? l->limit : l->highest + 1, v, missing = 0;
	int first[SC_FIRST];

	for (v = 0; v < top; v++) {
		if ((size_t)v / 8 < l->bytes &&
		    (l->seen[v / 8] & (1u << (v % 8))))
			continue;
		if (missing < SC_FIRST)
			first[missing] = (int)v;
		missing++;
	}
	if (r->o.verbose || missing || l->duplicated || l->out_of_range) {
		fprintf(stderr, ngettext("%s: ledger: %lld items read by %u "
		    "consumer", "%s: ledger: %lld items read by %u consumers",
		    r->o.nchildren), getprogname(), l->items, r->o.nchildren);
		if (!missing && !l->duplicated && !l->out_of_range)
			fprintf(stderr, _(": 0..%lld each exactly once"), top - 1);
		if (missing) {
			fprintf(stderr, _("; %lld missing below %lld:"), missing,
			    top);
			sc_quote(first, missing);
		}
		if (l->duplicated) {
			fprintf(stderr, _("; %lld duplicated:"), l->duplicated);
			sc_quote(l->dup_first, l->duplicated);
		}
		if (l->out_of_range) {
			fprintf(stderr, _("; %lld out of range:"), l->out_of_range);
			sc_quote(l->bad_first, l->out_of_range);
		}
		fputc('\n', stderr);
	}
	/* Missing values are damage only when -c says we are all of them. */
	return (missing && l->limit >= 0) || l->duplicated || l->out_of_range ?
	    1 : 0;
}

int
slides_consumer(int argc, char *argv[])
{
	struct sc_run r;
	int *fds, p[2], status, worst = 0, code;
	uint32_t i, forked = 0;
	pid_t pid;

	(void)i18n_init();
	memset(&r, 0, sizeof(r));
	r.s.stop = &slides_stop;
	r.led.highest = -1;
	sc_parse(&r, argc, argv);
	if (sig_catch(slides_on_signal, 0) == -1)
		err(3, _("sigaction"));
	sc_attach(&r);
	if ((fds = calloc(r.o.nchildren, sizeof(*fds))) == NULL)
		err(3, _("calloc"));
	fflush(NULL);
	for (i = 0; i < r.o.nchildren && !slides_stop; i++) {
		if (pipe(p) == -1 || (pid = fork()) == -1) {
			warn(_("pipe/fork (consumer %u of %u): the others go on"),
			    i + 1, r.o.nchildren);
			worst = 3;
			break;
		}
		if (pid == 0) {
			(void)close(p[0]);
			while (forked > 0)
				(void)close(fds[--forked]);
			code = sc_child(&r, p[1]);
			(void)slides_detach(&r.s);
			_exit(code);
		}
		(void)close(p[1]);
		fds[forked++] = p[0];
	}
	/* The children hold the attachment now; the producer counts them. */
	if (slides_detach(&r.s) == -1)
		warn(_("shmdt"));
	sc_collect(&r, fds, forked);
	free(fds);
	while (forked > 0) {
		if (wait(&status) == -1) {
			if (errno == EINTR)
				continue;
			err(3, _("wait"));
		}
		forked--;
		code = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
		if (code > worst)
			worst = code;
	}
	code = sc_report(&r);
	free(r.led.seen);
	return worst != 0 ? 3 : code;
}
