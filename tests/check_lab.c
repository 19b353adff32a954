/*
 * check_lab.c - issue 5, the lab experience: the monitor (--json, --once,
 * and that watching a run changes nothing), the slides' walkthrough driven
 * from a pipe, the processes' titles, and run_demo.sh's progress bar.
 *
 * Who creates and removes what:
 *   - tu_setup() makes the test's private directory and the guardian;
 *     lab_key() makes key files in it, picks a proj_id in a given range
 *     whose key has no object yet, and registers it (tu_key_range), so
 *     that teardown -- or the guardian, when a test fails or times out --
 *     removes whatever is left under it;
 *   - the producer (or the walkthrough) creates the objects under that key
 *     and removes them; every test then checks that nothing is left;
 *   - run_demo.sh makes a key file of its own under TMPDIR, which the
 *     tests point at their private directory; the test pins the file's
 *     inode with a hard link, adopts its key, and tracks the process
 *     groups of the demo's daemonised producer and of its setsid
 *     consumer as soon as it sees them;
 *   - every program runs in its own process group (tu_fork), killed by
 *     teardown or the guardian.  The test process is a child subreaper, so
 *     orphans come back to it and are reaped.
 *
 * The monitor's JSON is read with jansson, the whole document strictly
 * (duplicate keys refused), so no python3 is needed.  The pseudo-terminal for
 * the progress bar comes from posix_openpt(), so no -lutil either.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "shmlib.h"
#include "testutil.h"

#define RUN_MS		30000	/* one slow run, at most (scaled) */
#define QUICK_MS	10000	/* a program that should end at once */
#define BALANCE_SLACK	2	/* batch window of a non-atomic snapshot */
#define SNAPSHOTS	3	/* --json snapshots of one live run */
#define DRAIN_MS	500	/* producer's exit after the consumers' */


static struct tu_key key;
static const char *producer_bin, *consumer_bin, *monitor_bin, *demo_bin;
static int	 spawned;		/* names for output files */

static void	 lab_setup(void);
static void	 lab_teardown(void);
static void	 lab_key(struct tu_key *, int, int);
static void	 reap_orphans(void);
static int	 wait_file_has(const char *, const char *, int);

static const json_t *jtyped(const json_t *, const char *, json_type,
		    const char *);
static long long jint(const json_t *, const char *);
static const char *jstr(const json_t *, const char *);
static int	 jbool(const json_t *, const char *);
static const json_t *jarr(const json_t *, const char *);
static long long jsem(const json_t *, const char *);

static void	 producer_args(struct args *, const struct tu_key *,
		    const char *, const char *);
static void	 consumer_args(struct args *, const struct tu_key *,
		    const char *);
static void	 monitor_args(struct args *, const struct tu_key *);
static int	 monitor_run(const struct tu_key *, const char *const [],
		    char **, char **);
static void	 monitor_json(const struct tu_key *, json_t **, char **);
static int	 wait_json(const struct tu_key *, const char *, long long,
		    int, json_t **);
static void	 expect_verified(const char *, unsigned long long);
static void	 finish_verified(struct tu_proc *, struct tu_proc *,
		    const char *, unsigned long long);
static long long queue_balance(const json_t *);
static void	 check_snapshot_common(const json_t *, const char *,
		    const char *, const struct tu_key *);

static int	 read_title(pid_t, char *, size_t);
static int	 children_of(pid_t, pid_t *, int);
static int	 rmatch(const char *, const char *, long long *, int);

static void	 demo_env(struct args *);
static void	 demo_scan(struct tu_demo *, uint64_t);
static void	 demo_run(struct tu_demo *, char *const [], int, int, int);
static void	 demo_done(struct tu_demo *);
static int	 open_pty(int *, int *);
static void	 sleep_until_frac(int);

static Suite	*lab_suite(void);

/* ------------------------------------------------------------- fixture */

static void
lab_setup(void)
{
	tu_setup();
	tu_subreaper();
	spawned = 0;
	/* proj_id below 128: a key without its sign bit (see key_hex). */
	lab_key(&key, 1, 127);
	producer_bin = tu_bin("producer/producer");
	consumer_bin = tu_bin("consumer/consumer");
	monitor_bin = tu_bin("monitor/monitor");
	demo_bin = tu_bin("run_demo.sh");
	ck_assert_msg(producer_bin != NULL && consumer_bin != NULL &&
	    monitor_bin != NULL && demo_bin != NULL, "producer/producer, "
	    "consumer/consumer, monitor/monitor or run_demo.sh missing: run "
	    "the tests from the repository root after make, or set "
	    "SHMLAB_ROOT");
}

static void
lab_teardown(void)
{
	tu_teardown();
}

/* ----------------------------------------------------------- processes */

/*
 * A key file in the test's directory and a proj_id in [lo, hi] whose key
 * is free (tu_key_range); teardown removes what is left under it.
 */
static void
lab_key(struct tu_key *k, int lo, int hi)
{
	ck_assert_msg(tu_key_range(k, lo, hi) == 0, "no free key with "
	    "proj_id %d..%d: %s", lo, hi, strerror(errno));
}

/* Orphans that came back to us (subreaper) are reaped, never left. */
static void
reap_orphans(void)
{
	int st;

	while (waitpid(-1, &st, WNOHANG) > 0)
		;
}

/* Waits up to ms (scaled) for path to contain s; 0 found, -1 not. */
static int
wait_file_has(const char *path, const char *s, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);
	char *text;
	int found;

	for (;;) {
		text = tu_read_file(path, NULL);
		found = text != NULL && strstr(text, s) != NULL;
		free(text);
		if (found)
			return 0;
		if (tu_now_ms() >= end)
			return -1;
		tu_sleep_ms(5);
	}
}

/* ---------------------------------------------------------------- JSON */

/*
 * The monitor's snapshot is read with jansson (tu_json_parse(): the whole
 * document, strictly); these fail the test when a member is missing or
 * of another type.
 */
static const json_t *
jtyped(const json_t *o, const char *name, json_type t, const char *what)
{
	const json_t *v = json_object_get(o, name);

	ck_assert_msg(v != NULL && (json_typeof(v) == t ||
	    (t == JSON_TRUE && json_is_boolean(v))), "\"%s\" is missing or "
	    "not %s", name, what);
	return v;
}

static long long
jint(const json_t *o, const char *name)
{
	return json_integer_value(jtyped(o, name, JSON_INTEGER,
	    "an integer"));
}

static const char *
jstr(const json_t *o, const char *name)
{
	return json_string_value(jtyped(o, name, JSON_STRING, "a string"));
}

static int
jbool(const json_t *o, const char *name)
{
	return json_is_true(jtyped(o, name, JSON_TRUE, "a boolean"));
}

static const json_t *
jarr(const json_t *o, const char *name)
{
	return jtyped(o, name, JSON_ARRAY, "an array");
}

/* The value of the semaphore called name in the snapshot's array. */
static long long
jsem(const json_t *d, const char *name)
{
	const json_t *a = jarr(d, "semaphores"), *s;
	size_t i;

	json_array_foreach(a, i, s)
		if (strcmp(jstr(s, "name"), name) == 0)
			return jint(s, "value");
	ck_abort_msg("no semaphore named \"%s\" in the snapshot", name);
	return -1;
}

/* ------------------------------------------------------ shmlab programs */

/* producer -k K -p P -q -t 30 -o REPORT ARGS... (args space-separated) */
static void
producer_args(struct args *a, const struct tu_key *k, const char *report,
    const char *extra)
{
	args_prog(a, producer_bin, k);
	args_add(a, "-q", "-t", "30", NULL);
	if (report != NULL)
		args_add(a, "-o", report, NULL);
	args_words(a, extra);
}

static void
consumer_args(struct args *a, const struct tu_key *k, const char *extra)
{
	args_prog(a, consumer_bin, k);
	args_add(a, "-q", "-t", "30", NULL);
	args_words(a, extra);
}

static void
monitor_args(struct args *a, const struct tu_key *k)
{
	args_prog(a, monitor_bin, k);
}

/*
 * Runs the monitor with opts (NULL-terminated) to its end; returns its
 * exit code, and its stdout and stderr in *out and *err (malloc'd).
 */
static int
monitor_run(const struct tu_key *k, const char *const opts[], char **out,
    char **err)
{
	struct tu_proc p;
	struct args a;
	char name[32];
	int i, code;

	monitor_args(&a, k);
	for (i = 0; opts[i] != NULL; i++)
		arg(&a, "%s", opts[i]);
	(void)snprintf(name, sizeof(name), "monitor%d", spawned++);
	tu_start(&p, name, a.v, NULL, -1, -1, -1);
	(void)tu_wait(&p, QUICK_MS);
	ck_assert_msg(!p.timed_out, "monitor %s did not end in time",
	    opts[0] != NULL ? opts[0] : "");
	code = tu_exit_code(&p);
	*out = tu_out_text(&p);
	*err = tu_err_text(&p);
	args_free(&a);
	return code;
}

/* One --json snapshot, parsed; the raw text too when raw is not NULL. */
static void
monitor_json(const struct tu_key *k, json_t **d, char **raw)
{
	static const char *const opts[] = { "--json", NULL };
	json_error_t why;
	char *out, *err;
	int code;

	code = monitor_run(k, opts, &out, &err);
	ck_assert_msg(code == 0, "monitor --json: exit %d; stderr: %.1000s",
	    code, err);
	*d = json_loads(out, JSON_REJECT_DUPLICATES, &why);
	ck_assert_msg(*d != NULL, "monitor --json is not valid JSON: %s "
	    "(line %d); output: %.2000s", why.text, why.line, out);
	ck_assert_msg(json_is_object(*d), "monitor --json: not an object");
	ck_assert_int_eq(jint(*d, "schema"), 1);
	ck_assert_str_eq(jstr(*d, "kind"), "monitor");
	free(err);
	if (raw != NULL)
		*raw = out;
	else
		free(out);
}

/*
 * Polls --json snapshots until the run is in state and member has at
 * least min (member NULL: the state alone).  Returns 0 with the snapshot
 * in *d, or -1 at the deadline.
 */
static int
wait_json(const struct tu_key *k, const char *state, long long min, int ms,
    json_t **d)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);
	const char *member = min >= 0 ? "head" : NULL;

	for (;;) {
		if (shmget(k->key, 0, 0) != -1) {
			monitor_json(k, d, NULL);
			if (strcmp(jstr(*d, "state"), state) == 0 &&
			    (member == NULL || jint(*d, member) >= min))
				return 0;
			json_decref(*d);
		}
		if (tu_now_ms() >= end)
			return -1;
		tu_sleep_ms(20);
	}
}

/*
 * The run's end: the consumer and the producer exit 0, the report says
 * it verified with count items, and nothing is left under the key.
 */
static void
finish_verified(struct tu_proc *prod, struct tu_proc *cons,
    const char *report, unsigned long long count)
{
	(void)tu_wait(cons, RUN_MS);
	(void)tu_wait(prod, RUN_MS);
	tu_expect_exit(cons, "consumer", 0);
	tu_expect_exit(prod, "producer", 0);
	expect_verified(report, count);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
}

/* The producer's report says the run verified. */
static void
expect_verified(const char *path, unsigned long long count)
{
	unsigned long long v;
	char *js;
	int b;

	js = tu_read_file(path, NULL);
	ck_assert_msg(js != NULL, "no report at %s", path);
	ck_assert_msg(tu_json_bool(js, "verified", &b) == 0 && b == 1,
	    "the run did not verify: %.2000s", js);
	ck_assert_msg(tu_json_u64(js, "consumed", &v) == 0 && v >= count,
	    "consumed %llu of %llu: %.2000s", v, count, js);
	free(js);
}

/*
 * Queue mode: every slot is free (empty), holds an item (full) or is
 * being read (tail - freed); the end-of-stream token adds one to full.
 * Returns the sum minus MAXBUF: 0 when the invariant holds exactly.
 */
static long long
queue_balance(const json_t *d)
{
	long long empty = jsem(d, "empty"), full = jsem(d, "full");
	long long tail = jint(d, "tail"), freed = jint(d, "freed");
	long long eos = jbool(d, "eos");

	return empty + full + (tail - freed) - eos - jint(d, "capacity");
}

/* What every snapshot of a -b 10 -c 60 run on key k must show. */
static void
check_snapshot_common(const json_t *d, const char *raw, const char *mode,
    const struct tu_key *k)
{
	char hex[16];
	long long head, tail, freed, mutex;

	(void)snprintf(hex, sizeof(hex), "0x%08x", (unsigned)(uint32_t)k->key);
	ck_assert_msg(strcmp(jstr(d, "key"), hex) == 0, "\"key\" is %s, the "
	    "test's key is %s", jstr(d, "key"), hex);
	ck_assert_str_eq(jstr(d, "keyfile"), k->path);
	ck_assert_int_eq(jint(d, "proj_id"), k->proj);
	ck_assert_str_eq(jstr(d, "mode"), mode);
	ck_assert_int_eq(jint(d, "capacity"), 10);
	ck_assert_int_eq(jint(d, "count"), 60);
	ck_assert_int_eq(jint(d, "shmid"), shmget(k->key, 0, 0));
	ck_assert_int_eq(jint(d, "semid"), semget(k->key, 0, 0));
	head = jint(d, "head");
	tail = jint(d, "tail");
	freed = jint(d, "freed");
	ck_assert_msg(head >= 0 && head <= 60, "head %lld of 60", head);
	if (strcmp(mode, "queue") == 0)
		ck_assert_msg(freed <= tail && tail <= head, "freed %lld, tail "
		    "%lld, head %lld: out of order", freed, tail, head);
	ck_assert_msg(jint(d, "fill") >= 0 && jint(d, "fill") <= 10,
	    "fill %lld", jint(d, "fill"));
	mutex = jsem(d, "mutex");
	ck_assert_msg(mutex == 0 || mutex == 1, "mutex is %lld", mutex);
	ck_assert_msg(jint(d, "producer_pid") > 0 && jbool(d, "producer_alive"),
	    "producer not alive in the snapshot");
	ck_assert_int_eq(jbool(d, "ended"), 0);
	ck_assert_msg(strlen(jstr(d, "ring_map")) == 10, "ring_map \"%s\"",
	    jstr(d, "ring_map"));
	ck_assert_int_eq((long long)json_array_size(jarr(d, "ring")), 10);
	ck_assert_msg(strchr(raw, '\033') == NULL, "an escape sequence in "
	    "--json");
}

/* --------------------------------------------------------------- /proc */

/* The process title: /proc/PID/cmdline up to its first NUL, trimmed. */
static int
read_title(pid_t pid, char *buf, size_t len)
{
	char path[64], *text;
	size_t n;

	(void)snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if ((text = tu_read_file(path, NULL)) == NULL)
		return -1;
	(void)snprintf(buf, len, "%s", text);
	free(text);
	for (n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--)
		buf[n - 1] = '\0';
	return 0;
}

/* The pids whose parent is ppid (from /proc/PID/stat); how many. */
static int
children_of(pid_t ppid, pid_t *out, int max)
{
	char path[300], *text, *paren;
	struct dirent *de;
	long pid, pp;
	int n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((text = tu_read_file(path, NULL)) == NULL)
			continue;
		paren = strrchr(text, ')');
		if (paren != NULL && sscanf(paren + 2, "%*c %ld", &pp) == 1 &&
		    pp == (long)ppid && paren[2] != 'Z') {
			pid = strtol(de->d_name, NULL, 10);
			out[n++] = (pid_t)pid;
		}
		free(text);
	}
	(void)closedir(d);
	return n;
}

/*
 * Matches s against the extended regex re (anchored by the caller);
 * the first ngroups groups are stored as numbers in g.  1 match, 0 not.
 */
static int
rmatch(const char *re, const char *s, long long *g, int ngroups)
{
	regmatch_t m[8];
	regex_t r;
	int i, ok;

	ck_assert_int_le(ngroups, 7);
	ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED), 0);
	ok = regexec(&r, s, 8, m, 0) == 0;
	for (i = 0; ok && i < ngroups; i++)
		g[i] = m[i + 1].rm_so >= 0 ? strtoll(s + m[i + 1].rm_so, NULL,
		    10) : -1;
	regfree(&r);
	return ok;
}

/* --------------------------------------------------------- run_demo.sh */

/* run_demo.sh's environment (tu_demo_env) with our monitor. */
static void
demo_env(struct args *env)
{
	tu_demo_env(env, producer_bin, consumer_bin);
	arg(env, "SHMLAB_MONITOR=%s", monitor_bin);
}

/*
 * tu_demo_scan(), and the consumer's process group (setsid: a group of
 * its own) once it appears as the script's child.
 */
static void
demo_scan(struct tu_demo *d, uint64_t start_s)
{
	pid_t kids[16];
	int i, n;

	tu_demo_scan(d, start_s);
	if (d->cons == 0 && !d->sh.done) {
		n = children_of(d->sh.pid, kids, 16);
		for (i = 0; i < n; i++)
			if (getpgid(kids[i]) == kids[i]) {
				d->cons = kids[i];
				tu_track_pgid(kids[i]);
			}
	}
}

/*
 * Runs run_demo.sh (argv) to its end with stdout and stderr as given
 * (-1: files); with master >= 0, reads that pty master meanwhile into
 * d->out.  Kills everything at the deadline.
 */
static void
demo_run(struct tu_demo *d, char *const argv[], int out_fd, int err_fd,
    int master)
{
	struct pollfd pfd;
	struct args env;
	uint64_t end, start_s, quiet_end = 0, next_scan = 0;
	char buf[4096], *nb;
	ssize_t n;

	memset(d, 0, sizeof(*d));
	demo_env(&env);
	start_s = (uint64_t)time(NULL);
	tu_start(&d->sh, "demo", argv, env.v, -1, out_fd, err_fd);
	if (out_fd >= 0)
		(void)close(out_fd);
	if (err_fd >= 0 && err_fd != out_fd)
		(void)close(err_fd);
	end = tu_now_ms() + (uint64_t)tu_ms(RUN_MS);
	for (;;) {
		if (tu_now_ms() >= next_scan) {
			demo_scan(d, start_s);
			next_scan = tu_now_ms() + 10;
		}
		if (!d->sh.done && waitpid(d->sh.pid, &d->sh.status,
		    WNOHANG) == d->sh.pid) {
			d->sh.done = 1;
			d->sh.end_ns = (uint64_t)tu_now_ms() * 1000000;
			quiet_end = tu_now_ms() + 200;
		}
		if (master >= 0) {
			pfd.fd = master;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 2) == 1) {
				n = read(master, buf, sizeof(buf));
				if (n > 0) {
					nb = realloc(d->out, d->outlen +
					    (size_t)n + 1);
					ck_assert_ptr_nonnull(nb);
					d->out = nb;
					memcpy(d->out + d->outlen, buf,
					    (size_t)n);
					d->outlen += (size_t)n;
					d->out[d->outlen] = '\0';
					continue;
				}
				/* EIO: every slave fd is closed. */
				if (d->sh.done)
					break;
				tu_sleep_ms(2);
			} else if (d->sh.done && tu_now_ms() >= quiet_end)
				break;
		} else {
			if (d->sh.done)
				break;
			tu_sleep_ms(2);
		}
		if (tu_now_ms() >= end) {
			tu_demo_kill(d);
			break;
		}
	}
	if (d->out == NULL)
		d->out = strdup("");
	demo_scan(d, start_s);
	args_free(&env);
	tu_demo_end(d);
}

/* After a demo: none of its processes left, no object under its key. */
static void
demo_done(struct tu_demo *d)
{
	reap_orphans();
	ck_assert_msg(d->key_seen == 1, "never saw run_demo.sh's key file "
	    "under TMPDIR=%s", tu_dir());
	tu_demo_done(d);
	free(d->out);
	d->out = NULL;
}

/*
 * A pseudo-terminal pair, 120x50, with output post-processing off so that
 * a '\r' read from the master is one the program wrote, not the line
 * discipline's "\n" -> "\r\n".
 */
static int
open_pty(int *master, int *slave)
{
	struct winsize ws = { 50, 120, 0, 0 };
	struct termios t;
	char name[128];

	if ((*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		return -1;
	if (grantpt(*master) == -1 || unlockpt(*master) == -1 ||
	    ptsname_r(*master, name, sizeof(name)) != 0 ||
	    (*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		(void)close(*master);
		return -1;
	}
	if (tcgetattr(*slave, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)OPOST;
		(void)tcsetattr(*slave, TCSANOW, &t);
	}
	(void)ioctl(*slave, TIOCSWINSZ, &ws);
	return 0;
}

/* Sleeps until the wall clock's second is frac_ms into itself. */
static void
sleep_until_frac(int frac_ms)
{
	struct timespec ts;
	long now_ms, wait_ms;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = ts.tv_nsec / 1000000;
	wait_ms = (frac_ms - now_ms + 1000) % 1000;
	tu_sleep_ms((int)wait_ms);
}

/* ------------------------------------------------------------- monitor */

/*
 * Starts a slow run (the producer's options pargs, 50 ms an item; two
 * consumers, 80 ms each) reporting to report, and waits until it has
 * produced three items, so that every snapshot after it sees it at work.
 */
static void
start_watched(struct tu_proc *prod, struct tu_proc *cons, struct args *pa,
    struct args *ca, char *report, size_t len, const char *pargs)
{
	json_t *d;

	ck_assert_int_eq(tu_path(report, len, "report.json"), 0);
	producer_args(pa, &key, report, pargs);
	consumer_args(ca, &key, "-n 2 --delay 80");
	tu_start(prod, "producer", pa->v, NULL, -1, -1, -1);
	tu_start(cons, "consumer", ca->v, NULL, -1, -1, -1);
	ck_assert_msg(wait_json(&key, "producing", 3, QUICK_MS, &d) == 0,
	    "the run never reached 3 items produced");
	json_decref(d);
}

/*
 * A slow queue run (producer 50 ms per item, two consumers 80 ms each):
 * three --json snapshots while it produces.  Each names the test's key,
 * counts every attached process, shows the run's parameters and a mutex
 * of 0 or 1; the semaphores and counters account for the whole ring in
 * at least one snapshot exactly and in none by more than a batch window.
 * --once of the same run is plain text.
 */
START_TEST(test_monitor_json_queue)
{
	static const char *const once[] = { "--once", NULL };
	struct tu_proc prod, cons;
	struct args pa, ca;
	json_t *d;
	char report[PATH_MAX], *raw, *out, *err;
	long long diff[SNAPSHOTS], nattch;
	int i, exact = 0, code;

	start_watched(&prod, &cons, &pa, &ca, report, sizeof(report),
	    "-n 2 -c 60 --delay 50 -b 10");

	for (i = 0; i < SNAPSHOTS; i++) {
		monitor_json(&key, &d, &raw);
		check_snapshot_common(d, raw, "queue", &key);
		ck_assert_str_eq(jstr(d, "state"), "producing");
		ck_assert_int_eq(jint(d, "registered"), 2);
		ck_assert_uint_eq(json_array_size(jarr(d, "consumers")), 2);
		/* mutex, empty, full, join and the queue's seats */
		ck_assert_uint_eq(json_array_size(jarr(d, "semaphores")),
		    SEM_NSEMS(MODE_QUEUE, 0));
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_array_get(jarr(d, "semaphores"), SEM_SEAT), "name")),
		    "seat");
		/* producer, consumer parent, its 2 children, the monitor */
		nattch = jint(d, "nattch");
		ck_assert_msg(nattch >= 4, "nattch %lld during the run",
		    nattch);
		ck_assert_msg(nattch == 5, "nattch %lld, want 5: producer, "
		    "consumer parent, 2 children and the monitor itself",
		    nattch);
		diff[i] = queue_balance(d);
		exact += diff[i] == 0;
		ck_assert_msg(llabs(diff[i]) <= BALANCE_SLACK, "snapshot %d: "
		    "empty + full + (tail - freed) - eos is off MAXBUF by "
		    "%lld: %.3000s", i, diff[i], raw);
		free(raw);
		json_decref(d);
		tu_sleep_ms(150);
	}
	ck_assert_msg(exact >= 1, "no snapshot of %d satisfies empty + full "
	    "+ (tail - freed) - eos == MAXBUF exactly (off by %lld, %lld, "
	    "%lld)", SNAPSHOTS, diff[0], diff[1], diff[2]);

	code = monitor_run(&key, once, &out, &err);
	ck_assert_msg(code == 0, "monitor --once: exit %d; %s", code, err);
	ck_assert_msg(strchr(out, '\033') == NULL, "--once wrote an escape "
	    "sequence: %.2000s", out);
	ck_assert_msg(strstr(out, "mutex") && strstr(out, "empty") &&
	    strstr(out, "full"), "--once does not show the semaphores: "
	    "%.2000s", out);
	ck_assert_msg(strstr(out, "queue mode") != NULL, "%.2000s", out);
	free(out);
	free(err);

	finish_verified(&prod, &cons, report, 60);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/*
 * Broadcast: each consumer has its own pair, empty[i] and full[i], and
 * each pair accounts for the ring with that consumer's pos and freed.
 */
START_TEST(test_monitor_json_broadcast)
{
	static const char *const names[] = {
		"mutex", "empty", "full", "join", "empty[0]", "full[0]",
		"empty[1]", "full[1]"
	};
	const json_t *sems, *cl, *c;
	struct tu_proc prod, cons;
	struct args pa, ca;
	json_t *d;
	char report[PATH_MAX], ename[16], fname[16], *raw;
	long long diff, worst[2] = { 0, 0 };
	int i, s, exact[2] = { 0, 0 }, active;
	size_t j;

	start_watched(&prod, &cons, &pa, &ca, report, sizeof(report),
	    "-m broadcast -n 2 -c 60 --delay 50 -b 10");

	for (i = 0; i < SNAPSHOTS; i++) {
		monitor_json(&key, &d, &raw);
		check_snapshot_common(d, raw, "broadcast", &key);
		ck_assert_int_eq(jint(d, "expected"), 2);
		sems = jarr(d, "semaphores");
		ck_assert_int_eq((long long)json_array_size(sems), 8);
		for (j = 0; j < json_array_size(sems); j++) {
			c = json_array_get(sems, j);
			ck_assert_str_eq(jstr(c, "name"), names[j]);
			ck_assert_int_eq(jint(c, "index"),
			    (long long)j);
		}
		ck_assert_msg(jint(d, "nattch") >= 4, "nattch %lld",
		    jint(d, "nattch"));
		cl = jarr(d, "consumers");
		ck_assert_int_eq((long long)json_array_size(cl), 2);
		for (s = 0; s < 2; s++) {
			c = json_array_get(cl, s);
			(void)snprintf(ename, sizeof(ename), "empty[%d]", s);
			(void)snprintf(fname, sizeof(fname), "full[%d]", s);
			active = strcmp(jstr(c, "state"), "active") == 0;
			diff = jsem(d, ename) + jsem(d, fname) +
			    (jint(c, "pos") - jint(c, "freed")) -
			    (jbool(d, "eos") && active ? 1 : 0) - 10;
			exact[s] += diff == 0;
			if (llabs(diff) > llabs(worst[s]))
				worst[s] = diff;
			ck_assert_msg(llabs(diff) <= BALANCE_SLACK, "snapshot "
			    "%d, consumer %d: %s + %s + (pos - freed) is off "
			    "MAXBUF by %lld: %.3000s", i, s, ename, fname,
			    diff, raw);
		}
		free(raw);
		json_decref(d);
		tu_sleep_ms(150);
	}
	for (s = 0; s < 2; s++)
		ck_assert_msg(exact[s] >= 1, "consumer %d: no snapshot of %d "
		    "has empty[%d] + full[%d] + (pos - freed) == MAXBUF "
		    "exactly (worst off by %lld)", s, SNAPSHOTS, s, s,
		    worst[s]);

	finish_verified(&prod, &cons, report, 120);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/*
 * No segment under a fresh key: exit 3, one line on stderr naming the
 * key, nothing on stdout, nothing created.  A key file that does not
 * exist: the same, and the monitor does not create it.
 */
START_TEST(test_monitor_no_segment)
{
	static const char *const modes[][2] = {
		{ "--json", NULL }, { "--once", NULL }, { NULL, NULL }
	};
	struct tu_key missing;
	char hex[16], *out, *err, *nl;
	int i, code;

	(void)snprintf(hex, sizeof(hex), "0x%08x", (unsigned)(uint32_t)key.key);
	for (i = 0; i < 3; i++) {
		code = monitor_run(&key, modes[i], &out, &err);
		ck_assert_msg(code == 3, "monitor %s with no segment: exit %d, "
		    "want 3; stderr: %s", modes[i][0] ? modes[i][0] : "", code,
		    err);
		nl = strchr(err, '\n');
		ck_assert_msg(nl != NULL && nl[1] == '\0', "not one line: "
		    "\"%s\"", err);
		ck_assert_msg(strstr(err, "no shmlab run") != NULL &&
		    strstr(err, hex) != NULL, "the message does not say there "
		    "is no run under %s: %s", hex, err);
		ck_assert_msg(out[0] == '\0', "stdout: %s", out);
		free(out);
		free(err);
	}
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);

	missing = key;
	ck_assert_int_eq(tu_path(missing.path, sizeof(missing.path),
	    "no-such-key"), 0);
	code = monitor_run(&missing, modes[0], &out, &err);
	ck_assert_msg(code == 3, "monitor -k MISSING: exit %d; %s", code, err);
	nl = strchr(err, '\n');
	ck_assert_msg(nl != NULL && nl[1] == '\0', "not one line: \"%s\"",
	    err);
	ck_assert_msg(access(missing.path, F_OK) == -1, "the monitor created "
	    "the key file %s", missing.path);
	free(out);
	free(err);
}
END_TEST

/*
 * The key as docs/monitor.1 promises it, "0x%08x", also for a proj_id of
 * 128 or more, where key_t (a signed int) is negative: in the message
 * with no run, and in --json of a live run.
 */
START_TEST(test_monitor_key_hex)
{
	static const char *const json_opt[] = { "--json", NULL };
	struct tu_key hk;
	struct tu_proc prod, cons;
	struct args pa, ca;
	json_t *d;
	char hex[16], got[40], report[PATH_MAX], *out, *err;
	int code, msg_ok;

	lab_key(&hk, 128, 255);
	ck_assert_msg(hk.key < 0, "proj_id %d gave key 0x%08x: not negative",
	    hk.proj, (unsigned)hk.key);
	(void)snprintf(hex, sizeof(hex), "0x%08x", (unsigned)(uint32_t)hk.key);

	/* No run: the message names the key. */
	code = monitor_run(&hk, json_opt, &out, &err);
	ck_assert_int_eq(code, 3);
	msg_ok = strstr(err, hex) != NULL;
	free(out);

	/* A live run: --json's "key".  Both are asserted at the end. */
	ck_assert_int_eq(tu_path(report, sizeof(report), "report.json"), 0);
	producer_args(&pa, &hk, report, "-c 20 --delay 10 -b 10");
	tu_start(&prod, "producer", pa.v, NULL, -1, -1, -1);
	ck_assert_msg(wait_json(&hk, "producing", -1, QUICK_MS, &d) == 0,
	    "the run never started");
	(void)snprintf(got, sizeof(got), "%s", jstr(d, "key"));
	json_decref(d);
	consumer_args(&ca, &hk, "-n 1");
	tu_start(&cons, "consumer", ca.v, NULL, -1, -1, -1);
	(void)tu_wait(&cons, RUN_MS);
	(void)tu_wait(&prod, RUN_MS);
	tu_expect_exit(&cons, "consumer", 0);
	tu_expect_exit(&prod, "producer", 0);
	ck_assert_int_eq(tu_ipc_count_key(hk.key), 0);

	ck_assert_msg(msg_ok && strcmp(got, hex) == 0, "key 0x%08x (proj_id "
	    "%d): --json \"key\" is \"%s\", the message with no run says "
	    "\"%.200s\"; want %s in both (docs/monitor.1: \"0x%%08x\")",
	    (unsigned)hk.key, hk.proj, got, err, hex);
	free(err);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/* Everything of a run an observer could change, read without changing it. */
#define RUN_NSEMS	SEM_NSEMS(MODE_QUEUE, 0)	/* with SEM_SEAT */

struct run_state {
	unsigned short	 val[RUN_NSEMS];
	int		 pid[RUN_NSEMS];
	int		 ncnt[RUN_NSEMS];
	time_t		 sem_otime, sem_ctime, shm_ctime;
	unsigned	 sem_mode, shm_mode;
	unsigned long	 nattch;
	void		*bytes;
	size_t		 size;
};

static void
state_take(int shmid, int semid, const void *seg, struct run_state *s)
{
	union semun a;
	struct semid_ds sds;
	struct shmid_ds ds;
	int i;

	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(shmctl(shmid, IPC_STAT, &ds), 0);
	a.buf = &sds;
	ck_assert_int_eq(semctl(semid, 0, IPC_STAT, a), 0);
	ck_assert_int_eq((int)sds.sem_nsems, RUN_NSEMS);
	a.array = s->val;
	ck_assert_int_eq(semctl(semid, 0, GETALL, a), 0);
	for (i = 0; i < RUN_NSEMS; i++) {
		s->pid[i] = semctl(semid, i, GETPID);
		s->ncnt[i] = semctl(semid, i, GETNCNT);
	}
	s->sem_otime = sds.sem_otime;
	s->sem_ctime = sds.sem_ctime;
	s->sem_mode = sds.sem_perm.mode;
	s->shm_ctime = ds.shm_ctime;
	s->shm_mode = ds.shm_perm.mode;
	s->nattch = (unsigned long)ds.shm_nattch;
	s->size = (size_t)ds.shm_segsz;
	s->bytes = malloc(s->size);
	ck_assert_ptr_nonnull(s->bytes);
	memcpy(s->bytes, seg, s->size);
}

static void
state_same(const struct run_state *a, const struct run_state *b,
    const char *after)
{
	int i;

	for (i = 0; i < RUN_NSEMS; i++) {
		ck_assert_msg(a->val[i] == b->val[i], "%s: semaphore %d went "
		    "from %u to %u", after, i, a->val[i], b->val[i]);
		ck_assert_msg(a->pid[i] == b->pid[i], "%s: semaphore %d's "
		    "last pid went from %d to %d", after, i, a->pid[i],
		    b->pid[i]);
	}
	ck_assert_msg(a->sem_otime == b->sem_otime, "%s: sem_otime changed: "
	    "somebody did a semop", after);
	ck_assert_msg(a->sem_ctime == b->sem_ctime, "%s: sem_ctime changed",
	    after);
	ck_assert_msg(a->sem_mode == b->sem_mode && a->shm_mode == b->shm_mode,
	    "%s: a mode changed", after);
	ck_assert_msg(a->shm_ctime == b->shm_ctime, "%s: shm_ctime changed",
	    after);
	ck_assert_msg(a->nattch == b->nattch, "%s: nattch %lu, was %lu",
	    after, b->nattch, a->nattch);
	ck_assert_msg(a->size == b->size && memcmp(a->bytes, b->bytes,
	    a->size) == 0, "%s: the segment's bytes changed", after);
}

/*
 * The monitor changes nothing.  A producer with no consumer fills the
 * ring and blocks, so the run stands still; --once, --json and a
 * refreshing monitor leave the semaphores (values, last pids, otime), the
 * segment's bytes, modes and ctime as they were.  The snapshot shows the
 * full ring and --perm 0640.  A consumer then completes the run.
 */
START_TEST(test_monitor_read_only)
{
	static const char *const runs[][4] = {
		{ "--once", NULL }, { "--json", NULL },
		{ "-n", "3", "-i", "10" },
	};
	struct run_state before, still, after;
	struct shm_ring ring;
	struct tu_proc prod, cons;
	struct args pa, ca;
	json_t *d;
	char report[PATH_MAX], *raw, *out, *err, what[64];
	const char *opts[5];
	uint64_t end;
	int i, j, code;

	ck_assert_int_eq(tu_path(report, sizeof(report), "report.json"), 0);
	producer_args(&pa, &key, report, "-c 60 -b 10 --perm 0640");
	tu_start(&prod, "producer", pa.v, NULL, -1, -1, -1);
	end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	while (seg_attach(key.key, SHM_RDONLY, &ring) == -1) {
		ck_assert_msg(tu_now_ms() < end, "no ready segment");
		tu_sleep_ms(5);
	}
	while (SHM_LOAD(&ring.hdr->head) < 10 ||
	    semctl(ring.semid, SEM_EMPTY, GETNCNT) < 1) {
		ck_assert_msg(tu_now_ms() < end, "the producer did not fill "
		    "the ring and block");
		tu_sleep_ms(5);
	}
	state_take(ring.shmid, ring.semid, ring.hdr, &before);
	tu_sleep_ms(300);
	state_take(ring.shmid, ring.semid, ring.hdr, &still);
	state_same(&before, &still, "with nobody watching (the test is "
	    "moot)");
	free(still.bytes);

	for (i = 0; i < 3; i++) {
		for (j = 0; j < 4 && runs[i][j] != NULL; j++)
			opts[j] = runs[i][j];
		opts[j] = NULL;
		code = monitor_run(&key, opts, &out, &err);
		ck_assert_msg(code == 0, "monitor %s: exit %d; %s", opts[0],
		    code, err);
		ck_assert_msg(strchr(out, '\033') == NULL, "monitor %s wrote "
		    "an escape sequence to a file", opts[0]);
		if (i != 1) {
			ck_assert_msg(strstr(out, "mutex") && strstr(out,
			    "empty") && strstr(out, "full"), "monitor %s: "
			    "%.2000s", opts[0], out);
			ck_assert_msg(strstr(out, "perm 0640") != NULL,
			    "monitor %s does not show --perm 0640: %.2000s",
			    opts[0], out);
			ck_assert_msg(strstr(out, "fill 10/10") != NULL,
			    "monitor %s does not show a full ring: %.2000s",
			    opts[0], out);
		}
		free(out);
		free(err);
		state_take(ring.shmid, ring.semid, ring.hdr, &after);
		(void)snprintf(what, sizeof(what), "after monitor %s",
		    opts[0]);
		state_same(&before, &after, what);
		free(after.bytes);
	}
	monitor_json(&key, &d, &raw);
	ck_assert_str_eq(jstr(d, "perm"), "0640");
	ck_assert_str_eq(jstr(d, "ring_map"), "##########");
	ck_assert_int_eq(jint(d, "fill"), 10);
	ck_assert_int_eq(jsem(d, "empty"), 0);
	ck_assert_int_eq(jsem(d, "full"), 10);
	ck_assert_int_eq(queue_balance(d), 0);
	/* The producer, the test and the monitor. */
	ck_assert_int_eq(jint(d, "nattch"), 3);
	free(raw);
	json_decref(d);
	free(before.bytes);
	ck_assert_int_eq(seg_detach(&ring), 0);

	consumer_args(&ca, &key, "-n 1");
	tu_start(&cons, "consumer", ca.v, NULL, -1, -1, -1);
	finish_verified(&prod, &cons, report, 60);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/*
 * A watched run ends as fast as an unwatched one: the producer waits for
 * the attachments to fall to its own, up to a second, so a monitor that
 * stayed attached would cost every watched run that second.  Once with
 * nobody watching, once with `monitor -n 5 -i 100` and a `monitor -i 1000`
 * (its long sleep must not delay letting go) attached when the run ends.
 */
START_TEST(test_monitor_watched_fast)
{
	static const char *const mon_opts[][4] = {
		{ "-n", "5", "-i", "100" }, { "-i", "1000", NULL, NULL },
	};
	struct tu_proc prod, cons, mon[2];
	struct shm_ring ring;
	struct args pa, ca, ma;
	char report[PATH_MAX], name[32], *out;
	uint64_t end, lag;
	int watched, m, j;

	for (watched = 0; watched < 2; watched++) {
		(void)snprintf(name, sizeof(name), "report%d.json", watched);
		ck_assert_int_eq(tu_path(report, sizeof(report), name), 0);
		producer_args(&pa, &key, report, "-n 2 -c 30 --delay 20 -b 10");
		consumer_args(&ca, &key, "-n 2 --delay 20");
		(void)snprintf(name, sizeof(name), "producer%d", watched);
		tu_start(&prod, name, pa.v, NULL, -1, -1, -1);
		(void)snprintf(name, sizeof(name), "consumer%d", watched);
		tu_start(&cons, name, ca.v, NULL, -1, -1, -1);
		if (watched) {
			/* Attach the monitors a few items before the end. */
			end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
			while (seg_attach(key.key, SHM_RDONLY, &ring) == -1) {
				ck_assert_msg(tu_now_ms() < end, "no segment");
				tu_sleep_ms(2);
			}
			while (SHM_LOAD(&ring.hdr->head) < 24)  {
				ck_assert_msg(tu_now_ms() < end, "no progress");
				tu_sleep_ms(2);
			}
			ck_assert_int_eq(seg_detach(&ring), 0);
			for (m = 0; m < 2; m++) {
				monitor_args(&ma, &key);
				for (j = 0; j < 4 && mon_opts[m][j]; j++)
					arg(&ma, "%s", mon_opts[m][j]);
				(void)snprintf(name, sizeof(name), "watch%d", m);
				tu_start(&mon[m], name, ma.v, NULL, -1, -1,
				    -1);
				args_free(&ma);
			}
		}
		(void)tu_wait(&cons, RUN_MS);
		(void)tu_wait(&prod, RUN_MS);
		tu_expect_exit(&cons, "consumer", 0);
		tu_expect_exit(&prod, watched ? "watched producer" : "producer",
		    0);
		expect_verified(report, 30);
		lag = (prod.end_ns - cons.end_ns) / 1000000;
		ck_assert_msg(lag <= (uint64_t)tu_ms(DRAIN_MS), "%s run: the "
		    "producer exited %llu ms after the consumers (want <= %d)",
		    watched ? "watched" : "unwatched", (unsigned long long)lag,
		    tu_ms(DRAIN_MS));
		if (watched)
			for (m = 0; m < 2; m++) {
				(void)tu_wait(&mon[m], QUICK_MS);
				tu_expect_exit(&mon[m], "monitor", 0);
				out = tu_out_text(&mon[m]);
				ck_assert_msg(strchr(out, '\033') == NULL,
				    "escape sequences in a file");
				/* Attached at the drain, and let go. */
				if (m == 1)
					ck_assert_msg(strstr(out, "monitor "
					    "detached") != NULL && strstr(out,
					    "run ended") != NULL, "monitor -i "
					    "1000 did not let go and see the "
					    "end: %.2000s", out);
				free(out);
			}
		ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
		args_free(&pa);
		args_free(&ca);
	}
}
END_TEST

/* --------------------------------------------------------- walkthrough */

/*
 * The walkthrough's stdout with every run of blanks and newlines made one
 * space: it wraps its lines at 80 columns, wherever a path's length puts
 * the breaks.
 */
static char *
walk_text(const struct tu_proc *p)
{
	char *s = tu_out_text(p), *r, *w;

	for (r = w = s; *r != '\0'; r++) {
		if (*r == ' ' || *r == '\n') {
			if (w > s && w[-1] == ' ')
				continue;
			*w++ = ' ';
		} else
			*w++ = *r;
	}
	*w = '\0';
	return s;
}

static void
walk_args(struct args *a, const struct tu_key *k, const char *perm)
{
	a->n = 0;
	arg(a, "%s", producer_bin);
	arg(a, "--walkthrough");
	arg(a, "-k");
	arg(a, "%s", k->path);
	arg(a, "-p");
	arg(a, "%s", k->proj_arg);
	if (perm != NULL) {
		arg(a, "--perm");
		arg(a, "%s", perm);
	}
}

/* The slides' calls, each named in the walkthrough's output. */
static void
expect_walk_output(const struct tu_proc *p, const struct tu_key *k)
{
	static const char *const calls[] = {
		"ftok(", "shmget(", "IPC_CREAT|IPC_EXCL", "shmat(",
		"buffer[i] = i", "IPC_STAT", "shmdt(", "IPC_RMID", "SHM_DEST",
		"\"dest\"", "nattch 1", "the segment is gone",
	};
	char hex[16], *out, *err;
	size_t i;

	out = walk_text(p);
	err = tu_err_text(p);
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		ck_assert_msg(strstr(out, calls[i]) != NULL, "the walkthrough "
		    "never mentions %s: %.4000s", calls[i], out);
	(void)snprintf(hex, sizeof(hex), "0x%08x", (unsigned)(uint32_t)k->key);
	ck_assert_msg(strstr(out, hex) != NULL, "the walkthrough never shows "
	    "key %s", hex);
	ck_assert_msg(strstr(out, "low 8 bits") != NULL, "no word on ftok's "
	    "8 bits of 1300");
	ck_assert_msg(err[0] == '\0', "stderr: %s", err);
	free(out);
	free(err);
}

/* The segment the walkthrough waits with: ours, 40 bytes, attached once. */
static int
walk_segment(const struct tu_key *k, pid_t pid, unsigned mode)
{
	struct shmid_ds ds;
	int id;

	id = shmget(k->key, 0, 0);
	ck_assert_msg(id != -1, "no segment under the key while the "
	    "walkthrough waits: %s", strerror(errno));
	ck_assert_int_eq(shmctl(id, IPC_STAT, &ds), 0);
	ck_assert_int_eq((long long)ds.shm_segsz, 10 * (long long)sizeof(int));
	ck_assert_int_eq(ds.shm_cpid, pid);
	ck_assert_int_eq((int)ds.shm_nattch, 1);
	ck_assert_msg((ds.shm_perm.mode & 0777) == mode, "mode %04o, want "
	    "%04o", ds.shm_perm.mode & 0777, mode);
	return id;
}

/*
 * Starts the walkthrough (with --perm perm unless NULL) on a pipe and
 * waits at its prompt, the segment in place with mode.  Returns the
 * segment's id; *wfd is the pipe's write end, where a line or the end of
 * file is the key press.
 */
static int
walk_at_prompt(struct tu_proc *w, const char *name, struct args *a,
    const char *perm, unsigned mode, int *wfd)
{
	int fds[2];

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	walk_args(a, &key, perm);
	tu_start(w, name, a->v, NULL, fds[0], -1, -1);
	(void)close(fds[0]);
	*wfd = fds[1];
	ck_assert_msg(wait_file_has(w->out, "press Enter", QUICK_MS) == 0,
	    "no prompt");
	return walk_segment(&key, w->pid, mode);
}

/* The walkthrough w (what) ends with status and leaves nothing behind. */
static void
walk_end(struct tu_proc *w, const char *what, int status)
{
	(void)tu_wait(w, QUICK_MS);
	tu_expect_exit(w, what, status);
	if (status == 0)
		expect_walk_output(w, &key);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	tu_expect_group_gone(w->pid, what);
}

/* stdin from /dev/null: end of file is the key press. */
START_TEST(test_walkthrough_eof)
{
	struct tu_proc w;
	struct args a;
	char *out;

	walk_args(&a, &key, NULL);
	tu_start(&w, "walk", a.v, NULL, -1, -1, -1);
	walk_end(&w, "producer --walkthrough < /dev/null", 0);
	out = walk_text(&w);
	ck_assert_msg(strstr(out, "end of file on stdin") != NULL, "%.3000s",
	    out);
	ck_assert_msg(strstr(out, "IPC_SET) skipped") != NULL, "%.3000s", out);
	free(out);
	args_free(&a);
}
END_TEST

/*
 * stdin a pipe: the walkthrough waits at its prompt with the segment in
 * place until a line comes, then tears down.
 */
START_TEST(test_walkthrough_newline)
{
	struct tu_proc w;
	struct args a;
	char *out;
	int wfd;

	(void)walk_at_prompt(&w, "walk", &a, NULL, 0600, &wfd);
	tu_sleep_ms(200);
	ck_assert_msg(tu_running(&w), "the walkthrough did not wait for "
	    "the key press");
	ck_assert_int_eq(write(wfd, "\n", 1), 1);
	/* Ended by the line: its stdin is still open. */
	walk_end(&w, "producer --walkthrough", 0);
	(void)close(wfd);
	out = walk_text(&w);
	ck_assert_msg(strstr(out, "key pressed") != NULL, "%.3000s", out);
	free(out);
	args_free(&a);
}
END_TEST

/* --perm 0640: IPC_SET changes the mode, and the output says so. */
START_TEST(test_walkthrough_perm)
{
	struct tu_proc w;
	struct args a;
	char *out;
	int wfd;

	(void)walk_at_prompt(&w, "walk", &a, "0640", 0640, &wfd);
	(void)close(wfd);		/* end of file: the key press */
	walk_end(&w, "producer --walkthrough --perm 0640", 0);
	out = walk_text(&w);
	ck_assert_msg(strstr(out, "IPC_SET") != NULL && strstr(out,
	    "mode 0600 -> 0640") != NULL, "IPC_SET not shown: %.4000s", out);
	ck_assert_msg(strstr(out, "mode 0640 now") != NULL && strstr(out,
	    "mode 0640,") != NULL, "the new mode not shown after IPC_SET: "
	    "%.4000s", out);
	ck_assert_msg(strstr(out, "0640 | SHM_DEST") != NULL, "%.4000s", out);
	free(out);
	args_free(&a);
}
END_TEST

/*
 * A second walkthrough on the key while the first waits at its prompt:
 * IPC_EXCL refuses it (exit 3, EEXIST explained, naming the first's pid),
 * and the first is untouched and finishes once its stdin closes.
 */
START_TEST(test_walkthrough_eexist)
{
	struct tu_proc w1, w2;
	struct args a;
	char want[64], *err, *out;
	int wfd, id;

	id = walk_at_prompt(&w1, "walk1", &a, NULL, 0600, &wfd);

	tu_start(&w2, "walk2", a.v, NULL, -1, -1, -1);
	(void)tu_wait(&w2, QUICK_MS);
	tu_expect_exit(&w2, "the second walkthrough", 3);
	err = tu_err_text(&w2);
	(void)snprintf(want, sizeof(want), "pid %ld", (long)w1.pid);
	ck_assert_msg(strstr(err, "EEXIST") != NULL && strstr(err, want) !=
	    NULL, "the refusal does not explain EEXIST and name %s: %s", want,
	    err);
	ck_assert_msg(strstr(err, "nothing was touched") != NULL, "%s", err);
	free(err);
	out = walk_text(&w2);
	ck_assert_msg(strstr(out, "IPC_RMID") == NULL, "the refused "
	    "walkthrough went on: %.2000s", out);
	free(out);
	tu_expect_group_gone(w2.pid, "the second walkthrough");

	ck_assert_msg(tu_running(&w1), "the first walkthrough ended");
	ck_assert_int_eq(walk_segment(&key, w1.pid, 0600), id);
	(void)close(wfd);
	walk_end(&w1, "the first walkthrough", 0);
	args_free(&a);
}
END_TEST

/* SIGTERM at the prompt: exit 3, and the segment removed all the same. */
START_TEST(test_walkthrough_sigterm)
{
	struct tu_proc w;
	struct args a;
	char *err;
	int wfd;

	(void)walk_at_prompt(&w, "walk", &a, NULL, 0600, &wfd);
	ck_assert_int_eq(kill(w.pid, SIGTERM), 0);
	walk_end(&w, "producer --walkthrough, SIGTERM", 3);
	(void)close(wfd);
	err = tu_err_text(&w);
	ck_assert_msg(strstr(err, "removed") != NULL, "%s", err);
	free(err);
	args_free(&a);
}
END_TEST

/* ----------------------------------------------------------------- i18n */

/* The environment of a run in Spanish, and of one in English. */
static char *const env_es[] = { "LC_ALL=", "LANGUAGE=", "LC_MESSAGES=",
	"LANG=es_ES.UTF-8", NULL };
static char *const env_c[] = { "LC_ALL=", "LANGUAGE=", "LC_MESSAGES=",
	"LANG=C", NULL };

/* Every line of s within 80 display columns (UTF-8: one per character). */
static void
expect_80_columns(const char *s, const char *what)
{
	const char *line = s, *p;
	int cols, n = 1;

	for (p = s;; p++) {
		if (*p == '\n' || *p == '\0') {
			for (cols = 0; line < p; line++)
				if (((unsigned char)*line & 0xc0) != 0x80)
					cols++;
			ck_assert_msg(cols <= 80, "%s: line %d is %d columns "
			    "wide", what, n, cols);
			if (*p == '\0')
				break;
			line = p + 1;
			n++;
		}
	}
}

/*
 * The walkthrough with --step under each locale, driven by end of file:
 * Spanish under LANG=es_ES.UTF-8, English under LANG=C, every line within
 * 80 columns, and the same exit status and cleanup in both.
 */
START_TEST(test_i18n_walk)
{
	static const char *const want[] = { "the kernel destroyed",
		"el núcleo destruyó" };
	static const char *const unwanted[] = { "el núcleo",
		"the kernel destroyed" };
	struct tu_proc w;
	struct args a;
	char *out;

	walk_args(&a, &key, NULL);
	arg(&a, "--step");
	tu_start(&w, "walk", a.v, _i ? env_es : env_c, -1, -1, -1);
	(void)tu_wait(&w, QUICK_MS);
	tu_expect_exit(&w, "producer --walkthrough --step < /dev/null", 0);
	out = tu_out_text(&w);
	ck_assert_msg(strstr(out, want[_i]) != NULL && strstr(out,
	    unwanted[_i]) == NULL, "not in the locale's language (want "
	    "\"%s\"): %.3000s", want[_i], out);
	expect_80_columns(out, "the walkthrough");
	free(out);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	tu_expect_group_gone(w.pid, "the walkthrough");
	args_free(&a);
}
END_TEST

/* Is segment id in /proc/sysvipc/shm with SHM_DEST (perms 1600)? */
static int
seg_marked(int id)
{
	char line[512];
	FILE *fp;
	unsigned perms;
	int lid, found = 0;

	fp = fopen("/proc/sysvipc/shm", "r");
	ck_assert_msg(fp != NULL, "/proc/sysvipc/shm: %s", strerror(errno));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%*d %d %o", &lid, &perms) == 2 && lid == id)
			found = (perms & 01000) != 0;
	(void)fclose(fp);
	return found;
}

/*
 * --step pauses after every call: feed one Enter at a time until the
 * pause after IPC_RMID, and see the segment marked dest and still there
 * while the walkthrough waits.
 */
START_TEST(test_step_dest)
{
	struct tu_proc w;
	struct args a;
	char *out, *p;
	int fds[2], id = -1, i;

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	walk_args(&a, &key, NULL);
	arg(&a, "--step");
	tu_start(&w, "walk", a.v, env_es, fds[0], -1, -1);
	(void)close(fds[0]);
	ck_assert_msg(wait_file_has(w.out, "ipcs -m | grep", QUICK_MS) == 0,
	    "no pause after ftok");
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	for (i = 0; i < 20; i++) {
		if (wait_file_has(w.out, "key 0x00000000, estado dest", 300) == 0)
			break;
		ck_assert_msg(tu_running(&w), "ended before IPC_RMID");
		ck_assert_int_eq(write(fds[1], "\n", 1), 1);
	}
	ck_assert_msg(i < 20, "never paused after IPC_RMID");
	out = tu_out_text(&w);
	p = strstr(out, "IPC_RMID, NULL) = 0");
	ck_assert_msg(p != NULL, "%.3000s", out);
	while (p > out && p[-1] != '(')
		p--;
	id = atoi(p);
	free(out);
	tu_sleep_ms(200);
	ck_assert_msg(tu_running(&w), "did not wait at the dest pause");
	ck_assert_msg(seg_marked(id), "segment %d not marked dest while the "
	    "walkthrough waits", id);
	(void)close(fds[1]);
	(void)tu_wait(&w, QUICK_MS);
	tu_expect_exit(&w, "producer --walkthrough --step", 0);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	tu_expect_group_gone(w.pid, "the walkthrough");
	args_free(&a);
}
END_TEST

/*
 * A run under each locale: the table in the locale's language, the JSON
 * the same contract in both (keys, a decimal point, the exit status), and
 * bad usage still exit 2.
 */
START_TEST(test_i18n_run)
{
	static const char *const verified[] = { "VERIFIED", "VERIFICADO" };
	static const char *const done[] = { " done ", " fin " };
	static const char *const invalid[] = { ": invalid (", ": no válido (" };
	char *const *env = _i ? env_es : env_c;
	struct tu_proc d;
	struct args a;
	char *out;
	unsigned long long v;

	a.n = 0;
	arg(&a, "%s", demo_bin);
	arg(&a, "-n");
	arg(&a, "2");
	arg(&a, "-c");
	arg(&a, "200");
	tu_start(&d, "demo", a.v, env, -1, -1, -1);
	(void)tu_wait(&d, QUICK_MS * 3);
	tu_expect_exit(&d, "run_demo.sh -n 2 -c 200", 0);
	out = tu_out_text(&d);
	ck_assert_msg(strstr(out, verified[_i]) != NULL && strstr(out,
	    "(min(-B 4096, MAXBUF))") != NULL, "%.2000s", out);
	ck_assert_msg(_i == 0 || strstr(out, "NO VERIFICADO") == NULL, "%s",
	    out);
	/* The consumers' state in the table: the JSON's word, translated. */
	ck_assert_msg(strstr(out, done[_i]) != NULL, "want \"%s\": %s",
	    done[_i], out);
	free(out);
	args_free(&a);

	a.n = 0;
	arg(&a, "%s", demo_bin);
	arg(&a, "--json");
	arg(&a, "-c");
	arg(&a, "200");
	tu_start(&d, "json", a.v, env, -1, -1, -1);
	(void)tu_wait(&d, QUICK_MS * 3);
	tu_expect_exit(&d, "run_demo.sh --json", 0);
	out = tu_out_text(&d);
	ck_assert_int_eq(tu_json_u64(out, "consumed", &v), 0);
	ck_assert_int_eq((int)v, 200);
	ck_assert_msg(strstr(out, "\"verified\":true") != NULL && strstr(out,
	    "\"elapsed_s\":") != NULL && strchr(strstr(out, "\"elapsed_s\":"),
	    '.') < strchr(strstr(out, "\"elapsed_s\":"), ','), "%s", out);
	free(out);
	args_free(&a);

	a.n = 0;
	arg(&a, "%s", producer_bin);
	arg(&a, "-c");
	arg(&a, "lots");
	tu_start(&d, "usage", a.v, env, -1, -1, -1);
	(void)tu_wait(&d, QUICK_MS);
	tu_expect_exit(&d, "producer -c lots", 2);
	/* strtonum's word too, not only the sentence around it. */
	out = tu_err_text(&d);
	ck_assert_msg(strstr(out, invalid[_i]) != NULL, "want \"%s\": %s",
	    invalid[_i], out);
	free(out);
	args_free(&a);
}
END_TEST

/*
 * A failure whose reason is built with numbers (here: nobody came within
 * -t) is in the user's language on stderr, and in English in the JSON,
 * under both locales: the JSON is a contract.
 */
START_TEST(test_i18n_error)
{
	static const char *const said[] = {
		"no consumer took the items within 1 s (-t)",
		"ningún consumidor tomó los elementos en 1 s (-t)" };
	struct tu_proc p;
	struct args a;
	char *out, *err;

	producer_args(&a, &key, NULL, "-c 10 -t 1 --json");
	tu_start(&p, "producer", a.v, _i ? env_es : env_c, -1, -1, -1);
	(void)tu_wait(&p, QUICK_MS);
	tu_expect_exit(&p, "producer -t 1 without consumers", 3);
	out = tu_out_text(&p);
	err = tu_err_text(&p);
	ck_assert_msg(strstr(out, "\"error\":\"no consumer took the items "
	    "within 1 s (-t)\"") != NULL, "JSON: %s", out);
	ck_assert_msg(strstr(err, said[_i]) != NULL, "want \"%s\": %s",
	    said[_i], err);
	free(out);
	free(err);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&a);
}
END_TEST

/* The display column of p in its line (UTF-8: one per character). */
static int
col_of(const char *line, const char *p)
{
	int cols = 0;

	for (; line < p; line++)
		if (((unsigned char)*line & 0xc0) != 0x80)
			cols++;
	return cols;
}

/*
 * In Spanish the monitor's state column is as wide as its widest word:
 * a consumer whose process is gone shows "terminado", nine columns where
 * the column used to have six, and its row still lines up under the
 * heads.  The producer is stopped meanwhile, so that it cannot mark the
 * record died first; once it goes on, it ends the run (exit 3).
 */
START_TEST(test_monitor_state_width)
{
	struct tu_proc prod, cons, mon;
	struct args pa, ca, ma;
	json_t *d;
	char *out, *head, *row, *num;
	int want, got;

	producer_args(&pa, &key, NULL, "-n 1 -c 1000 --delay 30 -b 10");
	consumer_args(&ca, &key, "-n 1 --delay 50");
	tu_start(&prod, "producer", pa.v, NULL, -1, -1, -1);
	tu_start(&cons, "consumer", ca.v, NULL, -1, -1, -1);
	ck_assert_msg(wait_json(&key, "producing", 3, QUICK_MS, &d) == 0,
	    "the run never reached 3 items produced");
	json_decref(d);
	ck_assert_int_eq(kill(prod.pid, SIGSTOP), 0);
	ck_assert_int_eq(kill(-cons.pid, SIGKILL), 0);
	(void)tu_wait(&cons, QUICK_MS);

	monitor_args(&ma, &key);
	arg(&ma, "--once");
	tu_start(&mon, "monitor", ma.v, env_es, -1, -1, -1);
	(void)tu_wait(&mon, QUICK_MS);
	ck_assert_int_eq(kill(prod.pid, SIGCONT), 0);
	tu_expect_exit(&mon, "monitor --once, in Spanish", 0);
	out = tu_out_text(&mon);
	/* The table's head, not the run line's "estado produciendo". */
	head = strstr(out, " consumido ");
	row = strstr(out, " terminado ");
	ck_assert_msg(head != NULL && row != NULL, "no consumer table head or "
	    "no \"terminado\" row: %.3000s", out);
	want = col_of(out, head + strlen(" consumido"));
	while (head > out && head[-1] != '\n')
		head--;
	want -= col_of(out, head);
	/* consumido: right-aligned counts under a right-aligned head. */
	for (num = row + strlen(" terminado "); *num == ' '; num++)
		continue;
	num += strspn(num, "0123456789");
	while (row > out && row[-1] != '\n')
		row--;
	got = col_of(row, num);
	ck_assert_msg(got == want, "the consumed count of a \"terminado\" "
	    "row ends at column %d, its head at %d: %.3000s", got, want, out);
	free(out);

	(void)tu_wait(&prod, RUN_MS);
	tu_expect_exit(&prod, "producer, its consumer killed", 3);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
	args_free(&ca);
	args_free(&ma);
}
END_TEST

/* -------------------------------------------------------------- titles */

/*
 * ps shows role and progress: "producer: N/M, ring R/MAXBUF" (queue) or
 * "producer: N/M, K consumers" (broadcast), "consumer I/N: K items" for
 * each consumer child, "consumer: parent of N" for their parent.
 */
START_TEST(test_titles)
{
	static const struct {
		const char	*pargs;
		const char	*pre;	/* the producer's title */
	} rows[] = {
		{ "-n 2 -c 40 --delay 50 -b 10",
		    "^producer: ([0-9]+)/40, ring ([0-9]+)/10$" },
		{ "-m broadcast -n 2 -c 40 --delay 50 -b 10",
		    "^producer: ([0-9]+)/40, 2 consumers$" },
	};
	struct tu_proc prod, cons;
	struct args pa, ca;
	char report[PATH_MAX], title[256], ptitle[256], ctitle[2][256];
	long long g[2], prev = -1;
	pid_t kids[8];
	uint64_t end;
	int seen[2], n, i, samples = 0;

	ck_assert_int_eq(tu_path(report, sizeof(report), "report.json"), 0);
	producer_args(&pa, &key, report, rows[_i].pargs);
	consumer_args(&ca, &key, "-n 2 --delay 80");
	tu_start(&prod, "producer", pa.v, NULL, -1, -1, -1);
	tu_start(&cons, "consumer", ca.v, NULL, -1, -1, -1);
	seen[0] = seen[1] = 0;
	ptitle[0] = ctitle[0][0] = ctitle[1][0] = '\0';
	end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	while ((samples < 3 || !seen[0] || !seen[1]) && tu_now_ms() < end) {
		if (read_title(prod.pid, title, sizeof(title)) == 0 &&
		    rmatch(rows[_i].pre, title, g, 1)) {
			ck_assert_msg(g[0] >= prev && g[0] <= 40, "producer "
			    "progress went from %lld to %lld", prev, g[0]);
			if (g[0] > prev)
				samples++;
			prev = g[0];
			(void)snprintf(ptitle, sizeof(ptitle), "%s", title);
		}
		n = children_of(cons.pid, kids, 8);
		for (i = 0; i < n; i++) {
			if (read_title(kids[i], title, sizeof(title)) == -1 ||
			    !rmatch("^consumer ([0-9]+)/2: ([0-9]+) items$",
			    title, g, 2))
				continue;
			ck_assert_msg(g[0] == 1 || g[0] == 2, "consumer title "
			    "\"%s\"", title);
			if (g[1] >= 1) {
				seen[g[0] - 1] = 1;
				(void)snprintf(ctitle[g[0] - 1],
				    sizeof(ctitle[0]), "%s", title);
			}
		}
		tu_sleep_ms(50);
	}
	(void)read_title(prod.pid, title, sizeof(title));
	ck_assert_msg(samples >= 3, "the producer's title never showed "
	    "progress as /%s/: last \"%s\"", rows[_i].pre, title);
	ck_assert_msg(seen[0] && seen[1], "consumer titles: \"%s\", \"%s\"",
	    ctitle[0], ctitle[1]);
	ck_assert_int_eq(read_title(cons.pid, title, sizeof(title)), 0);
	ck_assert_msg(strcmp(title, "consumer: parent of 2") == 0, "consumer "
	    "parent's title \"%s\"", title);

	finish_verified(&prod, &cons, report, 40);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/* ------------------------------------------------------------ progress */

static void
demo_args(struct args *a, const char *extra)
{
	a->n = 0;
	arg(a, "%s", demo_bin);
	args_words(a, extra);
}

/*
 * Output to files: no progress bar, no carriage return, on either
 * stream, although the run lasts more than a second; the summary on
 * stdout.
 */
START_TEST(test_progress_files)
{
	struct tu_demo d;
	struct args a;
	char *out, *err;
	uint64_t ms;

	demo_args(&a, "-c 40 --delay 40");
	demo_run(&d, a.v, -1, -1, -1);
	tu_expect_exit(&d.sh, "run_demo.sh > file 2> file", 0);
	ms = (d.sh.end_ns - d.sh.start_ns) / 1000000;
	ck_assert_msg(ms > 1000, "the run lasted %llu ms: too short for the "
	    "test to mean anything", (unsigned long long)ms);
	out = tu_out_text(&d.sh);
	err = tu_err_text(&d.sh);
	ck_assert_msg(strchr(out, '\r') == NULL && strstr(out, "[#") == NULL,
	    "progress on stdout: %.2000s", out);
	ck_assert_msg(strchr(err, '\r') == NULL && strstr(err, "[#") == NULL &&
	    strchr(err, '%') == NULL, "progress on stderr: %.2000s", err);
	ck_assert_msg(strstr(out, "VERIFIED") != NULL && strstr(out,
	    "40 items") != NULL, "no summary on stdout: %.2000s", out);
	ck_assert_msg(strstr(err, "VERIFIED") == NULL, "the summary went to "
	    "stderr");
	free(out);
	free(err);
	demo_done(&d);
	args_free(&a);
}
END_TEST

/*
 * On a terminal, a run of more than a second draws the bar on stderr:
 * "\r[###   ]  NN% N/40 items", erased at the end before the summary.
 * With stderr a file and stdout the terminal, nothing is drawn.
 */
START_TEST(test_progress_tty)
{
	struct tu_demo d;
	struct args a;
	char *err, *p;
	int master, slave, bars = 0;

	demo_args(&a, "-c 40 --delay 40");
	ck_assert_msg(open_pty(&master, &slave) == 0, "posix_openpt: %s",
	    strerror(errno));
	demo_run(&d, a.v, slave, slave, master);
	(void)close(master);
	tu_expect_exit(&d.sh, "run_demo.sh on a pty", 0);
	for (p = d.out; (p = strstr(p, "\r[")) != NULL; p++)
		bars++;
	ck_assert_msg(bars >= 2 && strstr(d.out, "%") != NULL &&
	    strstr(d.out, "/40 items") != NULL && strstr(d.out, "[#") != NULL,
	    "no progress bar on the terminal (%d bars): %.3000s", bars, d.out);
	p = strstr(d.out, "shmlab queue run");
	ck_assert_msg(p != NULL && strstr(p, "VERIFIED") != NULL, "no summary: "
	    "%.3000s", d.out);
	ck_assert_msg(strstr(p, "\r[") == NULL, "the bar drawn after the "
	    "summary");
	ck_assert_msg(p > d.out && p[-1] == '\r', "the bar was not erased "
	    "before the summary");
	demo_done(&d);

	/* stdout a terminal, stderr a file: no bar anywhere. */
	ck_assert_msg(open_pty(&master, &slave) == 0, "posix_openpt: %s",
	    strerror(errno));
	demo_run(&d, a.v, slave, -1, master);
	(void)close(master);
	tu_expect_exit(&d.sh, "run_demo.sh > pty 2> file", 0);
	err = tu_err_text(&d.sh);
	ck_assert_msg(strchr(d.out, '\r') == NULL && strchr(err, '\r') == NULL
	    && strchr(err, '%') == NULL, "a bar with stderr not a terminal: "
	    "stdout %.1000s; stderr %.1000s", d.out, err);
	ck_assert_msg(strstr(d.out, "VERIFIED") != NULL, "%.2000s", d.out);
	free(err);
	demo_done(&d);
	args_free(&a);
}
END_TEST

/*
 * The bar reads monitor --json snapshots, and a poll may find the run
 * gone or be cut short: here every other one prints half a snapshot, with
 * no final newline, and fails.  The others still draw the bar, and
 * nothing of the failures shows.  (The reader used to take the cut line
 * and the next frame as one line, and drew no bar at all.)
 */
START_TEST(test_progress_monitor_fails)
{
	struct tu_demo d;
	struct args a;
	char wrap[PATH_MAX], *p;
	FILE *fp;
	int master, slave, bars = 0;

	ck_assert_int_eq(tu_path(wrap, sizeof(wrap), "half_monitor"), 0);
	ck_assert_ptr_nonnull(fp = fopen(wrap, "w"));
	ck_assert_int_gt(fprintf(fp, "#!/bin/sh\n"
	    "n=$(cat \"$0.n\" 2>/dev/null || echo 0); n=$((n + 1))\n"
	    "echo $n > \"$0.n\"\n"
	    "if [ $((n %% 2)) = 1 ]; then \"%s\" \"$@\" | head -c 100; "
	    "exit 3; fi\n"
	    "exec \"%s\" \"$@\"\n", monitor_bin, monitor_bin), 0);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(wrap, 0700), 0);
	monitor_bin = wrap;

	demo_args(&a, "-c 50 --delay 40");
	ck_assert_msg(open_pty(&master, &slave) == 0, "posix_openpt: %s",
	    strerror(errno));
	demo_run(&d, a.v, slave, slave, master);
	(void)close(master);
	tu_expect_exit(&d.sh, "run_demo.sh on a pty, a failing monitor", 0);
	for (p = d.out; (p = strstr(p, "\r[")) != NULL; p++)
		bars++;
	ck_assert_msg(bars >= 1 && strstr(d.out, "/50 items") != NULL,
	    "no progress bar with every other poll failing (%d bars): "
	    "%.3000s", bars, d.out);
	ck_assert_msg(strstr(d.out, "Traceback") == NULL && strstr(d.out,
	    "no shmlab run") == NULL && strstr(d.out, "\"schema\"") == NULL,
	    "a failed poll showed: %.3000s", d.out);
	ck_assert_msg(strstr(d.out, "VERIFIED") != NULL, "%.2000s", d.out);
	demo_done(&d);
	args_free(&a);
}
END_TEST

/*
 * A run well under a second shows no bar, even on a terminal, and even
 * when it happens to straddle a change of the wall clock's second: it is
 * started 700 ms into one.
 */
START_TEST(test_progress_short_run)
{
	struct tu_demo d;
	struct args a;
	uint64_t ms;
	int master, slave;

	demo_args(&a, "-c 10 --delay 40");
	ck_assert_msg(open_pty(&master, &slave) == 0, "posix_openpt: %s",
	    strerror(errno));
	sleep_until_frac(700);
	demo_run(&d, a.v, slave, slave, master);
	(void)close(master);
	tu_expect_exit(&d.sh, "run_demo.sh on a pty", 0);
	ms = (d.sh.end_ns - d.sh.start_ns) / 1000000;
	ck_assert_msg(ms >= 1000 || strstr(d.out, "\r[") == NULL, "a run of "
	    "%llu ms drew a progress bar (wanted only for runs over a "
	    "second): %.600s", (unsigned long long)ms, d.out);
	ck_assert_msg(strstr(d.out, "VERIFIED") != NULL, "%.2000s", d.out);
	demo_done(&d);
	args_free(&a);
}
END_TEST

/* ---------------------------------------------------------------- main */

static Suite *
lab_suite(void)
{
	Suite *s = suite_create("lab");
	TCase *tc;

	tc = tcase_create("monitor");
	tcase_add_checked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_monitor_json_queue);
	tcase_add_test(tc, test_monitor_json_broadcast);
	tcase_add_test(tc, test_monitor_no_segment);
	tcase_add_test(tc, test_monitor_key_hex);
	tcase_add_test(tc, test_monitor_read_only);
	tcase_add_test(tc, test_monitor_watched_fast);
	tcase_add_test(tc, test_monitor_state_width);
	suite_add_tcase(s, tc);

	tc = tcase_create("walkthrough");
	tcase_add_checked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_walkthrough_eof);
	tcase_add_test(tc, test_walkthrough_newline);
	tcase_add_test(tc, test_walkthrough_perm);
	tcase_add_test(tc, test_walkthrough_eexist);
	tcase_add_test(tc, test_walkthrough_sigterm);
	tcase_add_loop_test(tc, test_i18n_walk, 0, 2);
	tcase_add_test(tc, test_step_dest);
	tcase_add_loop_test(tc, test_i18n_run, 0, 2);
	tcase_add_loop_test(tc, test_i18n_error, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("titles");
	tcase_add_checked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_titles, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("progress");
	tcase_add_checked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_progress_files);
	tcase_add_test(tc, test_progress_tty);
	tcase_add_test(tc, test_progress_short_run);
	tcase_add_test(tc, test_progress_monitor_fails);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	tu_init();
	sr = srunner_create(lab_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
