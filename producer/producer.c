/*
 * producer - creates a shmlab run and produces its items.
 *
 * Creates the semaphore set, then the shared memory segment, both with
 * IPC_CREAT | IPC_EXCL and mode 0600 (widened only by --perm, through
 * IPC_SET), writes the items 0 .. count-1 through the ring, posts the
 * end-of-stream token, waits until every consumer has finished and
 * detached, reports the ledger, and removes both objects.  It removes them
 * on every path after creating them, failures included: every exit after
 * create_objects() goes through finish().
 *
 *	producer -c 1000 -b 10 &	# then: consumer -n 3
 *	producer -d -P /tmp/p.pid -n 3 -o report.json
 *
 * Exit status: 0 verified, 1 damage in the ledger, 2 bad usage, 3 an IPC or
 * peer failure (see docs/DESIGN.md).
 */
#include <sys/types.h>

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
#include "prod.h"
#include "slides_main.h"
#include "walkthrough.h"

/* The only file-scope state: what the signal handler must reach. */
volatile sig_atomic_t prod_stop;
volatile sig_atomic_t prod_dump;

static void	 usage(void) __attribute__((noreturn));
static void	 on_signal(int);
static void	 prod_init(struct prod *);
static void	 parse_args(struct prod *, int, char *[]);
static void	 take_opt(struct prod *, int, const char *);
static void	 check_args(struct prod *);
static int	 walk(struct prod *);
static int	 run(struct prod *);

static void
usage(void)
{
	fprintf(stderr, _("usage: %s [-d] [-c count] [-b maxbuf] [-B batch] "
	    "[-m queue|broadcast] [-n consumers]\n"
	    "\t[-k keyfile] [-p proj_id] [-P pidfile] [-s seed] [-t seconds]\n"
	    "\t[-o report.json] [-r report.txt] [--json] [--delay ms] "
	    "[--perm mode]\n"
	    "\t[--unsafe] [--jitter us] [--no-verify] [-q]\n"
	    "       %s --clean [-k keyfile [-p proj_id] | -K key]\n"
	    "       %s --walkthrough [--step] [-k keyfile] [-p proj_id] "
	    "[--perm mode]\n"),
	    getprogname(), getprogname(), getprogname());
	exit(2);
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		prod_dump = 1;
	else
		prod_stop = 1;
}

static void
prod_init(struct prod *p)
{
	memset(p, 0, sizeof(*p));
	p->par.capacity = MAXBUF;
	p->par.count = 1000;
	p->par.mode = MODE_QUEUE;
	p->par.flags = SHM_F_VERIFY;
	p->par.perm = 0600;
	p->perm = 0600;
	p->verbose = 1;
	p->key = (key_t)-1;
	p->ring.shmid = -1;
	p->ring.semid = -1;
	p->ready_fd = -1;
	run_opts_init(&p->opt, 30);
}

int
main(int argc, char *argv[], char *envp[])
{
	struct prod p;
	int ch;

	/* The slides' protocol is a program of its own (slides.c). */
	if (slides_wanted(argc, argv))
		return slides_producer(argc, argv);
	if ((ch = prog_start(argc, argv, envp)) != 0)
		errx(2, _("argument %d holds a control character (a newline?): "
		    "nothing was done"), ch);
	prod_init(&p);
	parse_args(&p, argc, argv);
	switch (p.action) {
	case ACT_WALK:
		return walk(&p);
	case ACT_CLEAN:
		return clean_run(&p);
	default:
		return run(&p);
	}
}

/*
 * The run: refuse what cannot run before creating anything (the key file
 * included), create, publish, produce, and end in finish() whatever
 * happened, which reports and removes both objects.
 */
static int
run(struct prod *p)
{
	check_outputs(p);
	check_limits(p->mode, &p->par);
	resolve_key(p);
	if (p->daemonise)
		daemon_start(p);
	/* Before the objects exist: a signal from now on ends in finish(). */
	if (test_fail("sigaction") || sig_catch(on_signal, 1) == -1) {
		fail(p, "%s: %s", _("sigaction"), strerror(errno));
		return finish(p);
	}
	create_objects(p);
	if (p->perm_set && (test_fail("perm") || widen(p) == -1))
		fatal_ipc(p, "IPC_SET (--perm)");
	else
		produce(p);
	return finish(p);
}

/*
 * The slides' own example, on the slides' terms.  Without -k, a key file
 * of this user's own: a class on one machine never shares a key (the
 * slides' /bin/cat would).
 */
static int
walk(struct prod *p)
{
	char keybuf[PATH_MAX];
	const char *keypath = p->opt.keypath;

	if (keypath == NULL) {
		if (key_walk_path(keybuf, sizeof(keybuf)) == -1)
			err(2, _("default walkthrough key file path"));
		if (key_ensure_file(keybuf) == -1)
			err(3, _("key file %s: cannot create it, or it is not a "
			    "regular file of yours; pass -k PATH"), keybuf);
		keypath = keybuf;
	}
	return walkthrough(keypath, p->opt.proj, p->perm_set ? p->perm : 0,
	    p->step);
}

static void
parse_args(struct prod *p, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json",	no_argument,	   NULL, 'J' },
		{ "delay",	required_argument, NULL, RUN_OPT_DELAY },
		{ "perm",	required_argument, NULL, 'M' },
		{ "unsafe",	no_argument,	   NULL, 'U' },
		{ "jitter",	required_argument, NULL, 'j' },
		{ "no-verify",	no_argument,	   NULL, 'V' },
		{ "seed",	required_argument, NULL, 's' },
		{ "clean",	no_argument,	   NULL, 'C' },
		{ "walkthrough", no_argument,	   NULL, 'W' },
		{ "step",	no_argument,	   NULL, 'S' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	char msg[160];
	int ch, r;

	while ((ch = getopt_long(argc, argv, "B:b:c:dhK:k:m:n:o:P:p:qr:s:t:",
	    longopts, NULL)) != -1) {
		if ((r = run_opt(&p->opt, ch, optarg, msg, sizeof(msg))) == -1)
			errx(2, "%s", msg);
		if (r == 0)
			take_opt(p, ch, optarg);
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();
	p->par.batch = p->opt.batch;
	check_args(p);
}

/* One option that is the producer's own (run_opt took the shared ones). */
static void
take_opt(struct prod *p, int ch, const char *arg)
{
	const char *errstr;
	unsigned long rawkey;
	char *end;

	switch (ch) {
	case 'b':
		p->par.capacity = (uint32_t)opt_number(arg, 1, SHM_MAXBUF_MAX,
		    &errstr);
		if (errstr != NULL)
			errx(2, _("maxbuf %s: %s (1..%u)"), arg, errstr,
			    SHM_MAXBUF_MAX);
		break;
	case 'c':
		p->par.count = (uint64_t)opt_number(arg, 0, SHM_COUNT_MAX,
		    &errstr);
		if (errstr != NULL)
			errx(2, _("count %s: %s (0..%lld)"), arg, errstr,
			    SHM_COUNT_MAX);
		break;
	case 'K':
		/* A raw key, as ipcs prints it: for --clean only. */
		errno = 0;
		rawkey = strtoul(arg, &end, 16);
		if (errno != 0 || end == arg || *end != '\0' || rawkey == 0 ||
		    rawkey > 0xffffffffUL)
			errx(2, _("key %s: want a hexadecimal key such as "
			    "0x1400207a"), arg);
		p->key = (key_t)(uint32_t)rawkey;
		p->rawkey_set = 1;
		break;
	case 'm':
		if (opt_mode(arg, &p->par.mode) == -1)
			errx(2, _("mode %s: want queue or broadcast"), arg);
		break;
	case 'n':
		p->par.expected = (uint32_t)opt_number(arg, 0,
		    SHM_MAX_CONSUMERS, &errstr);
		if (errstr != NULL)
			errx(2, _("consumers %s: %s (0..%d)"), arg, errstr,
			    SHM_MAX_CONSUMERS);
		break;
	case 's':
		p->par.seed = (uint64_t)opt_number(arg, 0, LLONG_MAX, &errstr);
		if (errstr != NULL)
			errx(2, _("seed %s: %s"), arg, errstr);
		break;
	case 'M':
		if (opt_perm(arg, &p->perm) == -1)
			errx(2, _("perm %s: want an octal mode between 0600 and "
			    "0777 that keeps 0600"), arg);
		p->perm_set = 1;
		break;
	case 'j':
		p->par.jitter_us = (uint32_t)opt_number(arg, 0, 100000,
		    &errstr);
		if (errstr != NULL)
			errx(2, _("jitter %s: %s (0..100000 us)"), arg, errstr);
		break;
	case 'd': p->daemonise = 1; break;
	case 'o': p->json_path = arg; break;
	case 'P': p->pidpath = arg; break;
	case 'q': p->verbose = 0; break;
	case 'r': p->text_path = arg; break;
	case 'U': p->par.flags |= SHM_F_UNSAFE; break;
	case 'V': p->par.flags &= ~SHM_F_VERIFY; break;
	case 'J': p->json_stdout = 1; break;
	case 'C':
		if (p->action != ACT_WALK)
			p->action = ACT_CLEAN;
		break;
	case 'W': p->action = ACT_WALK; break;
	case 'S': p->step = 1; break;
	default:
		usage();
	}
}

/* What the options say together; --walkthrough wins over --clean. */
static void
check_args(struct prod *p)
{
	int walk = p->action == ACT_WALK;

	p->mode = run_mode(p->par.mode, p->par.flags);
	if ((p->mode->flags & MF_NEEDS_N) && p->par.expected == 0)
		errx(2, _("broadcast mode needs -n: the number of consumers "
		    "that will register before production starts"));
	/* The unsafe table is a queue's: it refuses broadcast. */
	if (p->mode->mode != p->par.mode)
		errx(2, _("--unsafe works in queue mode only"));
	if (p->daemonise && p->json_stdout)
		errx(2, _("--json writes to stdout, which a daemon (-d) closes: "
		    "use -o FILE"));
	parse_fault(p);
	/* Declared in the header: the consumers' own stall bound uses them. */
	p->par.timeout_s = (uint32_t)p->opt.timeout_s;
	p->par.delay_ms = (uint32_t)p->opt.delay_ms;
	if (p->step && !walk)
		errx(2, _("--step goes with --walkthrough"));
	if (walk)
		return;
	if (p->rawkey_set && p->action != ACT_CLEAN)
		errx(2, _("-K goes with --clean; a run takes -k keyfile"));
	if (p->action == ACT_RUN && p->daemonise && p->pidpath == NULL)
		errx(2, _("-d needs -P pidfile"));
}
