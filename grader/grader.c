/*
 * grader - runs a student's slides-protocol producer and/or consumer
 * against shmlab's reference (or against each other) and says what is
 * wrong.  run_demo.sh grade execs it; docs/slides-protocol.md is the
 * protocol, docs/exercises/README.md how a course uses it.
 *
 *	grader --consumer ./consumer
 *	grader --producer './producer {keyfile} {proj} {count} {maxbuf}' --json
 *
 * The student's programs run with CPU and memory limits (setrlimit), a
 * wall-clock bound (-t) and in process groups of their own; no root is
 * needed.  The grader makes a private directory and a fresh key per
 * case; it kills only the process groups it started and removes only
 * what exists under those keys.
 *
 * Exit status: 0 every test passed, 1 some test failed, 2 bad usage,
 * 3 the harness itself failed (or was interrupted).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grader.h"
#include "i18n.h"
#include "shmlib.h"

#define G_MAX_TESTS	11

static volatile sig_atomic_t stop_flag;

struct g_opts {
	const char	*cmd[2];
	const char	*gradescope;
	int		 json;
};

static void	 usage(void) __attribute__((noreturn));
static void	 on_signal(int);
static void	 parse(struct grader *, struct g_opts *, int, char *[]);
static void	 reference(struct grader *, enum g_side);
static int	 runnable(const char *);
static int	 sig_catch_grader(void (*)(int));
static void	 rmdir_all(const char *);
static void	 out_json(FILE *, const struct g_result *, int, int);
static int	 out_gradescope(const char *, const struct g_result *, int, int);
static void	 out_table(FILE *, const struct grader *, const struct g_opts *,
		    const struct g_result *, int);

static void
usage(void)
{
	fprintf(stderr, _("usage: %s [--producer CMD] [--consumer CMD] "
	    "[--json] [--gradescope FILE]\n\t[-t seconds] [--memory MB]\n"),
	    getprogname());
	exit(2);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Is argv[0] of a command something execvp would run? */
static int
runnable(const char *prog)
{
	char path[PATH_MAX], *dirs, *d, *save = NULL;
	const char *env = getenv("PATH");
	int ok = 0;

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0;
	if ((dirs = strdup(env != NULL ? env : "/usr/bin:/bin")) == NULL)
		return 0;
	for (d = strtok_r(dirs, ":", &save); d != NULL && !ok;
	    d = strtok_r(NULL, ":", &save)) {
		(void)snprintf(path, sizeof(path), "%s/%s", d, prog);
		ok = access(path, X_OK) == 0;
	}
	free(dirs);
	return ok;
}

static void
parse(struct grader *g, struct g_opts *o, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "producer",	required_argument, NULL, 'P' },
		{ "consumer",	required_argument, NULL, 'C' },
		{ "json",	no_argument,	   NULL, 'J' },
		{ "gradescope",	required_argument, NULL, 'G' },
		{ "memory",	required_argument, NULL, 'M' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	const char *errstr;
	int ch, s;

	while ((ch = getopt_long(argc, argv, "ht:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'P':
			o->cmd[G_PRODUCER] = optarg;
			break;
		case 'C':
			o->cmd[G_CONSUMER] = optarg;
			break;
		case 'J':
			o->json = 1;
			break;
		case 'G':
			o->gradescope = optarg;
			break;
		case 't':
			g->timeout_s = (int)strtonum(optarg, 1, 600, &errstr);
			if (errstr != NULL)
				errx(2, _("timeout %s: %s (1..600 s per test)"),
				    optarg, strtonum_word(errstr));
			break;
		case 'M':
			g->memory_mb = (long)strtonum(optarg, 0, 1048576,
			    &errstr);
			if (errstr != NULL)
				errx(2, _("memory %s: %s (0..1048576 MB; 0: no "
				    "limit)"), optarg, strtonum_word(errstr));
			break;
		case 'h':
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (o->cmd[G_PRODUCER] == NULL && o->cmd[G_CONSUMER] == NULL)
		errx(2, _("nothing to grade: give --producer CMD, --consumer CMD "
		    "or both"));
	for (s = 0; s < 2; s++) {
		if (o->cmd[s] == NULL)
			continue;
		if (g_cmd_split(&g->cmd[s], o->cmd[s], 1) == -1)
			errx(2, _("%s command '%s': empty, or more than %d words"),
			    s == G_PRODUCER ? "producer" : "consumer", o->cmd[s],
			    G_MAX_ARGS);
		if (!runnable(g->cmd[s].argv[0]))
			errx(2, _("%s command: %s is not an executable program "
			    "(build it first, or give its path)"),
			    s == G_PRODUCER ? "producer" : "consumer",
			    g->cmd[s].argv[0]);
	}
}

/*
 * shmlab's own program plays the side not given: beside the grader in
 * the source tree (../producer/producer) or where make install put both.
 */
static void
reference(struct grader *g, enum g_side side)
{
	static const char *words[2] = {
	    "-L slides -k {keyfile} -p {proj} -c {count} -b {maxbuf} "
	    "-t {timeout} -q",
	    "-L slides -k {keyfile} -p {proj} -n 1 -t {timeout} -q"
	};
	static const char *names[2] = { "producer", "consumer" };
	char self[PATH_MAX], path[PATH_MAX + 32], *slash;
	ssize_t n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		err(3, _("readlink /proc/self/exe: cannot find the reference "
		    "programs"));
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	(void)snprintf(path, sizeof(path), "%s/../%s/%s", self, names[side],
	    names[side]);
	if (access(path, X_OK) == -1)
		(void)snprintf(path, sizeof(path), "%s/%s", self, names[side]);
	if (access(path, X_OK) == -1)
		errx(3, _("shmlab's reference %s is missing (%s): run make"),
		    names[side], path);
	if (g_cmd_split(&g->cmd[side], words[side], 0) == -1)
		err(3, _("reference command"));
	/* The path as a word of its own: it may contain spaces. */
	memmove(&g->cmd[side].argv[1], &g->cmd[side].argv[0],
	    (size_t)g->cmd[side].argc * sizeof(char *));
	g->cmd[side].argc++;
	if ((g->cmd[side].argv[0] = strdup(path)) == NULL)
		err(3, "strdup");
}

/* No SA_RESTART: a signal cuts the grader's sleeps short. */
static int
sig_catch_grader(void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	if (sigemptyset(&sa.sa_mask) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

static void
rmdir_all(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == -1)
			warn(_("removing %s"), path);
	}
	(void)closedir(d);
	if (rmdir(dir) == -1)
		warn(_("removing %s"), dir);
}

/* One object: passed, score, max_score, tests [{name, passed, ...}]. */
static void
out_json(FILE *fp, const struct g_result *r, int n, int both)
{
	int i, score = 0;

	for (i = 0; i < n; i++)
		score += r[i].passed;
	fprintf(fp, "{\"passed\":%s,\"score\":%d,\"max_score\":%d,\"tests\":[",
	    score == n ? "true" : "false", score, n);
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{\"name\":", i ? "," : "");
		json_str(fp, r[i].name);
		fprintf(fp, ",\"side\":\"%s\",\"passed\":%s,\"score\":%d,"
		    "\"max_score\":1,\"message\":",
		    r[i].side == G_PRODUCER ? "producer" : "consumer",
		    r[i].passed ? "true" : "false", r[i].passed);
		json_str(fp, r[i].message);
		fputc('}', fp);
	}
	fputs("]}\n", fp);
	(void)both;
}

/* Gradescope's results.json: score, tests [{name, score, max_score, output}]. */
static int
out_gradescope(const char *path, const struct g_result *r, int n, int both)
{
	char tmp[PATH_MAX];
	FILE *fp;
	int i, score = 0;

	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		score += r[i].passed;
	fprintf(fp, "{\"score\":%d,\"tests\":[", score);
	for (i = 0; i < n; i++) {
		char name[96];

		(void)snprintf(name, sizeof(name), "%s%s%s",
		    both ? (r[i].side == G_PRODUCER ? "producer" : "consumer")
		    : "", both ? ": " : "", r[i].name);
		fprintf(fp, "%s{\"name\":", i ? "," : "");
		json_str(fp, name);
		fprintf(fp, ",\"score\":%d,\"max_score\":1,\"output\":",
		    r[i].passed);
		json_str(fp, r[i].passed ? "passed" : r[i].message);
		fputc('}', fp);
	}
	fputs("]}\n", fp);
	if (fclose(fp) == EOF || rename(tmp, path) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* PASS and FAIL in one column whatever their translations' lengths. */
static int
status_width(void)
{
	size_t a = strlen(_("PASS")), b = strlen(_("FAIL"));

	return (int)(a > b ? a : b);
}

static void
out_table(FILE *fp, const struct grader *g, const struct g_opts *o,
    const struct g_result *r, int n)
{
	int i, score = 0, s;

	for (s = 0; s < 2; s++)
		fprintf(fp, "%-9s %s\n", s == G_PRODUCER ? "producer:" :
		    "consumer:", g->cmd[s].student ? o->cmd[s] :
		    _("shmlab's reference"));
	/* The words for people; test names and JSON stay as they are. */
	for (i = 0; i < n; i++) {
		score += r[i].passed;
		fprintf(fp, "  %-*s  %-9s %-19s %s\n", status_width(),
		    r[i].passed ? _("PASS") :
		    _("FAIL"), r[i].side == G_PRODUCER ? "producer" : "consumer",
		    r[i].name, r[i].local);
	}
	fprintf(fp, _("score %d/%d\n"), score, n);
}

int
main(int argc, char *argv[])
{
	struct g_result res[G_MAX_TESTS];
	struct g_case cur;
	struct grader g;
	struct g_opts o;
	const char *tmp = getenv("TMPDIR");
	int n = 0, k, i, passed = 1, both;
	enum g_side s;

	(void)i18n_init();
	memset(&g, 0, sizeof(g));
	memset(&o, 0, sizeof(o));
	memset(&cur, 0, sizeof(cur));
	g.timeout_s = 10;
	g.memory_mb = 512;
	g.stop = &stop_flag;
	g.cur = &cur;
	parse(&g, &o, argc, argv);
	both = o.cmd[G_PRODUCER] != NULL && o.cmd[G_CONSUMER] != NULL;
	for (s = G_PRODUCER; s <= G_CONSUMER; s++)
		if (o.cmd[s] == NULL)
			reference(&g, s);
	(void)snprintf(g.dir, sizeof(g.dir), "%s/shmlab-grade.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(g.dir) == NULL)
		err(3, _("mkdtemp %s: set TMPDIR to a writable directory"), g.dir);
	if (sig_catch_grader(on_signal) == -1)
		err(3, "sigaction");
	for (s = G_CONSUMER; ; s = G_PRODUCER) {
		if (g.cmd[s].student) {
			k = g_run_tests(&g, s, res + n, G_MAX_TESTS - n);
			if (k == -1) {
				g_case_end(&cur);
				rmdir_all(g.dir);
				if (stop_flag)
					errx(3, _("interrupted: every process the "
					    "grader started is gone and its "
					    "IPC objects are removed"));
				err(3, _("the grader itself failed"));
			}
			n += k;
		}
		if (s == G_PRODUCER)
			break;
	}
	rmdir_all(g.dir);
	for (i = 0; i < n; i++)
		passed &= res[i].passed;
	if (o.json)
		out_json(stdout, res, n, both);
	else
		out_table(stdout, &g, &o, res, n);
	if (o.gradescope != NULL && out_gradescope(o.gradescope, res, n,
	    both) == -1)
		err(3, _("writing %s"), o.gradescope);
	if (fflush(stdout) == EOF)
		err(3, "stdout");
	g_cmd_free(&g.cmd[G_PRODUCER]);
	g_cmd_free(&g.cmd[G_CONSUMER]);
	return passed ? 0 : 1;
}
