/*
 * check_grade.c - the slides protocol's grader (run_demo.sh grade) judged
 * on known programs: shmlab's reference passes every test; each
 * deliberately broken student program (tests/students/, built from
 * docs/solutions/ with one -DBUG_...) fails the test the issue names,
 * with the cause in the message; usage errors are status 2; and nothing
 * is left behind: no IPC object, no process, no private directory.
 *
 * The graded cases run in parallel (their hangs cost wall time, not
 * CPU), except the mutex race, which needs the CPUs; the grader's JSON is
 * read with jansson.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define GRADE_MS	150000	/* one grader run, at most (scaled) */

/* One broken program and what the grader must say about it. */
struct broken {
	const char	*prog;		/* in tests/students/ */
	const char	*side;		/* --producer or --consumer */
	const char	*test;		/* the test that must fail */
	const char	*cause;		/* extended regex on its message */
};

static const struct broken broken[] = {
	{ "consumer_no_mutex", "consumer", "many_consumers",
	    "MAXBUF 10: .*(more than once|lost [0-9]+|timed out)" },
	{ "consumer_busy_wait", "consumer", "blocks_when_empty",
	    "busy waiting: the consumer used [0-9.]+ CPU seconds" },
	{ "consumer_eats_marker", "consumer", "end_marker",
	    "(semaphore 2 \\(full\\)[^;]*value is 0|end marker was gone)" },
	{ "producer_no_cleanup", "producer", "cleanup",
	    "left shm id [0-9]+ and sem id [0-9]+ behind" },
	{ "producer_no_excl", "producer", "key_taken",
	    "(crashed with SIGSEGV|wrote into it)" },
	{ "producer_no_empty", "producer", "blocks_when_full",
	    "without waiting on empty" },
};
#define NBROKEN	(sizeof(broken) / sizeof(broken[0]))

static const char *ref_producer = "-L slides -k {keyfile} -p {proj} "
    "-c {count} -b {maxbuf} -q";
static const char *ref_consumer = "-L slides -k {keyfile} -p {proj} -q";

/* The grader's private directories live in TMPDIR: ours, per test. */
static void
grader_env(void)
{
	ck_assert_int_eq(setenv("TMPDIR", tu_dir(), 1), 0);
}

static int
grade_dirs_left(void)
{
	struct dirent *de;
	DIR *d = opendir(tu_dir());
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "shmlab-grade.", 13) == 0;
	(void)closedir(d);
	return n;
}

/*
 * How many processes run one of tests/students/'s programs with word in
 * their command line (any, when word is NULL)?
 */
static int
students_with(const char *word)
{
	char path[300], exe[PATH_MAX], mine[PATH_MAX], *cmd;
	struct dirent *de;
	DIR *d = opendir("/proc");
	size_t len, i;
	ssize_t n;
	int alive = 0;

	/*
	 * Only this tree's student programs: another checkout's test run on
	 * the same machine is none of ours.  /proc/PID/exe is a resolved
	 * path, so compare it with a resolved one.
	 */
	ck_assert_ptr_nonnull(realpath(tu_bin("tests/students"), mine));
	(void)strlcat(mine, "/", sizeof(mine));
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/exe", de->d_name);
		if ((n = readlink(path, exe, sizeof(exe) - 1)) <= 0)
			continue;
		exe[n] = '\0';
		if (strncmp(exe, mine, strlen(mine)) != 0)
			continue;
		if (word == NULL) {
			alive++;
			continue;
		}
		(void)snprintf(path, sizeof(path), "/proc/%s/cmdline",
		    de->d_name);
		if ((cmd = tu_read_file(path, &len)) == NULL)
			continue;
		for (i = 0; i + 1 < len; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		alive += strstr(cmd, word) != NULL;
		free(cmd);
	}
	(void)closedir(d);
	return alive;
}

/* Any process still running one of tests/students/'s programs? */
static int
students_alive(void)
{
	return students_with(NULL);
}

static char *
cmd_of(const char *rel)
{
	char *s;

	ck_assert_int_ne(asprintf(&s, "%s", tu_bin(rel)), -1);
	return s;
}

/* One of shmlab's programs with opts, as the grader's CMD; to free. */
static char *
ref_cmd(const char *rel, const char *opts)
{
	char *s;

	ck_assert_int_ne(asprintf(&s, "%s %s", tu_bin(rel), opts), -1);
	return s;
}

/*
 * The grader's command line for shmlab's own programs: room for them
 * (--memory), -t 30 and --json; the caller adds the commands.
 */
static void
grader_ref_args(struct args *a)
{
	memset(a, 0, sizeof(*a));
	arg(a, "%s", tu_bin("grader/grader"));
	/* A sanitizer's shadow memory does not fit under RLIMIT_AS. */
	arg(a, "--memory");
	arg(a, "%s", getenv("SHMLAB_SANITIZED") != NULL ? "0" : "512");
	arg(a, "-t");
	arg(a, "30");
	arg(a, "--json");
}

/* The JSON object of test name on side, or NULL. */
static json_t *
find_test(json_t *root, const char *name, const char *side)
{
	json_t *tests = json_object_get(root, "tests"), *t;
	size_t i;

	ck_assert_msg(json_is_array(tests), "no tests array");
	json_array_foreach(tests, i, t) {
		if (strcmp(json_string_value(json_object_get(t, "name")),
		    name) == 0 && strcmp(json_string_value(json_object_get(t,
		    "side")), side) == 0)
			return t;
	}
	return NULL;
}

static json_t *
load_json(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);

	ck_assert_msg(j != NULL, "%s: not JSON: %s (line %d)", path, e.text,
	    e.line);
	return j;
}

/*
 * The grader, given the consumer command cons alone, passes every test
 * of the consumer's side; when conditions (a failure's words) make that
 * hard.
 */
static void
expect_consumer_passes(const char *cons, const char *name,
    const char *when)
{
	struct tu_proc p;
	struct args a;
	json_t *j, *t;
	size_t i;

	grader_ref_args(&a);
	arg(&a, "--consumer");
	arg(&a, "%s", cons);
	ck_assert_int_eq(tu_run(&p, name, a.v, GRADE_MS), 0);
	j = load_json(p.out);
	json_array_foreach(json_object_get(j, "tests"), i, t)
		ck_assert_msg(json_is_true(json_object_get(t, "passed")),
		    "%s failed with %s: %s",
		    json_string_value(json_object_get(t, "name")), when,
		    json_string_value(json_object_get(t, "message")));
	ck_assert_msg(tu_exit_code(&p) == 0, "exit %d", tu_exit_code(&p));
	ck_assert(json_is_true(json_object_get(j, "passed")));
	json_decref(j);
	ck_assert_int_eq(grade_dirs_left(), 0);
	args_free(&a);
}

START_TEST(test_usage)
{
	static const char *bad[][3] = {
		{ NULL, NULL, NULL },
		{ "-t", "0", NULL },
		{ "--producer", "/nonexistent/producer", NULL },
		{ "--consumer", "", NULL },
		{ "--json", "extra", NULL },
	};
	struct tu_snap before, after;
	struct tu_proc p;
	struct args a;
	char what[512];
	size_t i, j;

	grader_env();
	ck_assert_int_eq(tu_snap_take(&before), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&a, 0, sizeof(a));
		arg(&a, "%s", tu_bin("grader/grader"));
		for (j = 0; j < 3 && bad[i][j] != NULL; j++)
			arg(&a, "%s", bad[i][j]);
		ck_assert_int_eq(tu_run(&p, "usage", a.v, 10000), 0);
		ck_assert_msg(tu_exit_code(&p) == 2, "case %zu: exit %d, want 2",
		    i, tu_exit_code(&p));
		args_free(&a);
	}
	ck_assert_int_eq(tu_snap_take(&after), 0);
	ck_assert_msg(tu_snap_new(&before, &after, 0, what, sizeof(what)) == 0,
	    "usage errors left %s", what);
	ck_assert_int_eq(grade_dirs_left(), 0);
	tu_snap_free(&before);
	tu_snap_free(&after);
}
END_TEST

/* shmlab's own programs, given as CMD, pass every test of both sides. */
START_TEST(test_reference_passes)
{
	static const char *names[] = { "exactly_once", "many_consumers",
	    "waits_for_producer", "blocks_when_empty", "end_marker",
	    "exactly_once", "blocks_when_full", "end_marker", "cleanup",
	    "key_taken", "count_zero" };
	char *prod, *cons, gs[PATH_MAX];
	struct tu_proc p;
	struct args a;
	json_t *j, *t;
	size_t i;

	grader_env();
	ck_assert_int_eq(tu_path(gs, sizeof(gs), "results.json"), 0);
	prod = ref_cmd("producer/producer", ref_producer);
	cons = ref_cmd("consumer/consumer", ref_consumer);
	grader_ref_args(&a);
	arg(&a, "--gradescope");
	arg(&a, "%s", gs);
	arg(&a, "--producer");
	arg(&a, "%s", prod);
	arg(&a, "--consumer");
	arg(&a, "%s", cons);
	ck_assert_int_eq(tu_run(&p, "ref", a.v, GRADE_MS), 0);
	j = load_json(p.out);
	ck_assert_msg(tu_exit_code(&p) == 0, "exit %d: %s",
	    tu_exit_code(&p), tu_read_file(p.out, NULL));
	ck_assert(json_is_true(json_object_get(j, "passed")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "score")), 11);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "max_score")),
	    11);
	for (i = 0; i < 11; i++) {
		t = json_array_get(json_object_get(j, "tests"), i);
		ck_assert_str_eq(json_string_value(json_object_get(t, "name")),
		    names[i]);
		ck_assert(json_is_true(json_object_get(t, "passed")));
		ck_assert(json_is_string(json_object_get(t, "message")));
	}
	json_decref(j);
	/* Gradescope's results.json: score, tests[name, score, max_score, output]. */
	j = load_json(gs);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "score")), 11);
	t = json_array_get(json_object_get(j, "tests"), 10);
	ck_assert_str_eq(json_string_value(json_object_get(t, "name")),
	    "producer: count_zero");
	ck_assert_int_eq(json_integer_value(json_object_get(t, "max_score")),
	    1);
	ck_assert(json_is_string(json_object_get(t, "output")));
	json_decref(j);
	ck_assert_int_eq(grade_dirs_left(), 0);
	free(prod);
	free(cons);
	args_free(&a);
}
END_TEST

/*
 * On a loaded machine a consumer may start long after the first: the
 * first can then eat the whole stream and the producer remove the run
 * before the others exist.  The grader holds the segment from before
 * the first consumer starts, so correct consumers still pass every
 * test; the hook stands in for the load (300 ms between consumers).
 */
START_TEST(test_late_consumers)
{
	char *cons;

	grader_env();
	ck_assert_int_eq(setenv("SHMLAB_GRADE_STAGGER_MS", "300", 1), 0);
	cons = ref_cmd("consumer/consumer", ref_consumer);
	expect_consumer_passes(cons, "late", "consumers 300 ms apart");
	ck_assert_int_eq(unsetenv("SHMLAB_GRADE_STAGGER_MS"), 0);
	free(cons);
}
END_TEST

/*
 * Between fork and exec a child still maps the segment the grader holds
 * (fork copies the attachment): a consumer the machine execs late must
 * not count as attached, or the grader lets go, the early consumers
 * finish, and the producer removes the run before that consumer came.
 * The hooks stand in for the load: 100 ms from fork to exec, consumers
 * 300 ms apart, and a consumer that takes 200 ms after its exec before
 * it attaches (a wrapper script).
 */
START_TEST(test_late_exec_consumers)
{
	char *cons, wrap[PATH_MAX];
	FILE *fp;

	grader_env();
	ck_assert_int_eq(tu_path(wrap, sizeof(wrap), "slow_consumer"), 0);
	ck_assert_ptr_nonnull(fp = fopen(wrap, "w"));
	ck_assert_int_gt(fprintf(fp, "#!/bin/sh\nsleep 0.2\nexec %s \"$@\"\n",
	    tu_bin("consumer/consumer")), 0);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(wrap, 0700), 0);
	ck_assert_int_eq(setenv("SHMLAB_GRADE_STAGGER_MS", "300", 1), 0);
	ck_assert_int_eq(setenv("SHMLAB_GRADE_EXEC_DELAY_MS", "100", 1), 0);
	ck_assert_int_ne(asprintf(&cons, "%s %s", wrap, ref_consumer), -1);
	expect_consumer_passes(cons, "lateexec", "consumers exec'd late");
	ck_assert_int_eq(unsetenv("SHMLAB_GRADE_STAGGER_MS"), 0);
	ck_assert_int_eq(unsetenv("SHMLAB_GRADE_EXEC_DELAY_MS"), 0);
	free(cons);
}
END_TEST

/*
 * A consumer that spins gets only its share of a busy CPU: here one CPU
 * shared with SPINNERS processes that spin too, so under a quarter of
 * it.  Its CPU seconds then stay under the grader's bound, but it never
 * sleeps: the grader must still call it busy waiting.
 */
#define SPINNERS	4

START_TEST(test_busy_wait_loaded)
{
	struct tu_proc p;
	struct args a;
	cpu_set_t all, one;
	regex_t re;
	json_t *j, *t;
	const char *msg;
	pid_t spin[SPINNERS];
	int cpu, i;

	grader_env();
	ck_assert_int_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &all); cpu++)
		;
	ck_assert_int_lt(cpu, CPU_SETSIZE);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	/* Us, so the grader and all it starts, and the spinners: one CPU. */
	ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	for (i = 0; i < SPINNERS; i++) {
		ck_assert_int_ne(spin[i] = tu_fork(), -1);
		if (spin[i] == 0) {
			(void)alarm(120);	/* teardown kills us first */
			for (;;)
				;
		}
	}
	memset(&a, 0, sizeof(a));
	arg(&a, "%s", tu_bin("grader/grader"));
	arg(&a, "-t");
	arg(&a, "8");
	arg(&a, "--json");
	arg(&a, "--consumer");
	arg(&a, "%s", tu_bin("tests/students/consumer_busy_wait"));
	ck_assert_int_eq(tu_run(&p, "busy", a.v, GRADE_MS), 0);
	for (i = 0; i < SPINNERS; i++)
		ck_assert_int_eq(kill(-spin[i], SIGKILL), 0);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(all), &all), 0);
	j = load_json(p.out);
	t = find_test(j, "blocks_when_empty", "consumer");
	ck_assert_msg(t != NULL, "no test blocks_when_empty");
	msg = json_string_value(json_object_get(t, "message"));
	ck_assert_msg(json_is_false(json_object_get(t, "passed")), "a busy "
	    "wait on a loaded CPU passed blocks_when_empty: %s", msg);
	ck_assert_int_eq(regcomp(&re, "busy waiting: the consumer used [0-9.]+ "
	    "CPU seconds", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, msg, 0, NULL, 0) == 0, "blocks_when_empty "
	    "failed, but not as a busy wait: %s", msg);
	regfree(&re);
	json_decref(j);
	ck_assert_int_eq(grade_dirs_left(), 0);
	args_free(&a);
}
END_TEST

/*
 * A correct producer that a loaded machine starts slowly -- here it
 * spins 2.5 s before its exec, as a sanitized program's start may take
 * on a busy CPU -- is not waiting yet, so it is not busy waiting: the
 * grader's window must start once it blocks on empty, not after a fixed
 * second.
 */
START_TEST(test_slow_start_producer)
{
	char *prod, wrap[PATH_MAX];
	struct tu_proc p;
	struct args a;
	json_t *j, *t;
	FILE *fp;
	size_t i;

	grader_env();
	ck_assert_int_eq(tu_path(wrap, sizeof(wrap), "slow_producer"), 0);
	ck_assert_ptr_nonnull(fp = fopen(wrap, "w"));
	ck_assert_int_gt(fprintf(fp, "#!/bin/bash\n"
	    "end=$((${EPOCHREALTIME/./} + 2500000))\n"
	    "while ((${EPOCHREALTIME/./} < end)); do :; done\n"
	    "exec %s \"$@\"\n", tu_bin("producer/producer")), 0);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(wrap, 0700), 0);
	ck_assert_int_ne(asprintf(&prod, "%s %s", wrap, ref_producer), -1);
	memset(&a, 0, sizeof(a));
	arg(&a, "%s", tu_bin("grader/grader"));
	arg(&a, "--memory");
	arg(&a, "%s", getenv("SHMLAB_SANITIZED") != NULL ? "0" : "512");
	arg(&a, "-t");
	arg(&a, "30");
	arg(&a, "--json");
	arg(&a, "--producer");
	arg(&a, "%s", prod);
	ck_assert_int_eq(tu_run(&p, "slowprod", a.v, GRADE_MS), 0);
	j = load_json(p.out);
	json_array_foreach(json_object_get(j, "tests"), i, t)
		ck_assert_msg(json_is_true(json_object_get(t, "passed")),
		    "%s failed with a producer slow to start: %s",
		    json_string_value(json_object_get(t, "name")),
		    json_string_value(json_object_get(t, "message")));
	ck_assert_msg(tu_exit_code(&p) == 0, "exit %d", tu_exit_code(&p));
	json_decref(j);
	ck_assert_int_eq(grade_dirs_left(), 0);
	free(prod);
	args_free(&a);
}
END_TEST

/* The keys the grader's cases may have used, for teardown to remove. */
static void
adopt_grade_keys(void)
{
	char path[PATH_MAX + 300], sub[PATH_MAX];
	struct dirent *de, *ke;
	DIR *d, *k;
	key_t key;
	int proj;

	ck_assert_ptr_nonnull(d = opendir(tu_dir()));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "shmlab-grade.", 13) != 0)
			continue;
		(void)snprintf(sub, sizeof(sub), "%s/%s", tu_dir(), de->d_name);
		if ((k = opendir(sub)) == NULL)
			continue;
		while ((ke = readdir(k)) != NULL) {
			if (strncmp(ke->d_name, "key-", 4) != 0)
				continue;
			(void)snprintf(path, sizeof(path), "%s/%s", sub,
			    ke->d_name);
			for (proj = 1; proj <= 4; proj++)
				if ((key = ftok(path, proj)) != (key_t)-1)
					(void)tu_key_adopt(key);
		}
		(void)closedir(k);
	}
	(void)closedir(d);
}

/*
 * A grader killed outright (as a test harness does, by SIGKILL) cannot
 * clean up; what it started must not live on.  Killed while a student's
 * producer waits on empty with no consumer (blocks_when_full: 40000
 * items), that producer would wait for ever.
 */
START_TEST(test_grader_killed)
{
	struct tu_proc p;
	struct args a;
	char *prog;
	uint64_t until;
	int st;

	grader_env();
	prog = cmd_of("tests/students/producer_no_cleanup");
	memset(&a, 0, sizeof(a));
	arg(&a, "%s", tu_bin("grader/grader"));
	arg(&a, "-t");
	arg(&a, "30");
	arg(&a, "--producer");
	arg(&a, "%s", prog);
	ck_assert_int_eq(tu_spawn(&p, "killed", a.v), 0);
	until = tu_now_ms() + (uint64_t)tu_ms(60000);
	while (students_with(" 40000 ") == 0 && tu_now_ms() < until &&
	    waitpid(p.pid, &st, WNOHANG) == 0)
		tu_sleep_ms(5);
	ck_assert_msg(students_with(" 40000 ") > 0, "the grader never started "
	    "blocks_when_full");
	ck_assert_int_eq(kill(p.pid, SIGKILL), 0);
	ck_assert_int_eq(tu_wait(&p, 10000), 0);
	adopt_grade_keys();
	until = tu_now_ms() + (uint64_t)tu_ms(5000);
	while (students_alive() > 0 && tu_now_ms() < until)
		tu_sleep_ms(10);
	ck_assert_msg(students_alive() == 0, "%d student process(es) outlived "
	    "the grader that started them", students_alive());
	free(prog);
	args_free(&a);
}
END_TEST

/* Each broken program fails its test, for its reason; all in parallel. */
START_TEST(test_broken_programs)
{
	struct tu_proc p[NBROKEN];
	struct tu_snap before, after;
	struct args a[NBROKEN];
	char what[512], name[64], *prog;
	regex_t re;
	json_t *j, *t;
	const char *msg;
	size_t i;

	grader_env();
	ck_assert_int_eq(tu_snap_take(&before), 0);
	for (i = 0; i < NBROKEN; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		(void)snprintf(name, sizeof(name), "tests/students/%s",
		    broken[i].prog);
		prog = cmd_of(name);
		arg(&a[i], "%s", tu_bin("grader/grader"));
		arg(&a[i], "-t");
		arg(&a[i], "8");
		arg(&a[i], "--json");
		arg(&a[i], "--%s", broken[i].side);
		arg(&a[i], "%s", prog);
		free(prog);
		ck_assert_int_eq(tu_spawn(&p[i], broken[i].prog, a[i].v), 0);
		/*
		 * The race without a mutex needs consumers running at once:
		 * that grader gets the CPUs first, the others then share.
		 */
		if (i == 0)
			ck_assert_int_eq(tu_wait(&p[i], GRADE_MS), 0);
	}
	for (i = 0; i < NBROKEN; i++) {
		ck_assert_msg(tu_wait(&p[i], GRADE_MS) == 0, "%s: the grader "
		    "did not finish", broken[i].prog);
		ck_assert_msg(tu_exit_code(&p[i]) == 1, "%s: grader exit %d, "
		    "want 1: %s", broken[i].prog, tu_exit_code(&p[i]),
		    tu_read_file(p[i].err, NULL));
		j = load_json(p[i].out);
		ck_assert(json_is_false(json_object_get(j, "passed")));
		t = find_test(j, broken[i].test, broken[i].side);
		ck_assert_msg(t != NULL, "%s: no test %s", broken[i].prog,
		    broken[i].test);
		msg = json_string_value(json_object_get(t, "message"));
		ck_assert_msg(json_is_false(json_object_get(t, "passed")),
		    "%s passed %s", broken[i].prog, broken[i].test);
		ck_assert_int_eq(regcomp(&re, broken[i].cause, REG_EXTENDED |
		    REG_NOSUB), 0);
		ck_assert_msg(regexec(&re, msg, 0, NULL, 0) == 0, "%s: %s "
		    "failed, but not for /%s/: %s", broken[i].prog,
		    broken[i].test, broken[i].cause, msg);
		regfree(&re);
		json_decref(j);
		args_free(&a[i]);
	}
	ck_assert_int_eq(tu_snap_take(&after), 0);
	ck_assert_msg(tu_snap_new(&before, &after, 0, what, sizeof(what)) == 0,
	    "the grader left %s", what);
	ck_assert_int_eq(students_alive(), 0);
	ck_assert_int_eq(grade_dirs_left(), 0);
	tu_snap_free(&before);
	tu_snap_free(&after);
}
END_TEST

/* shmlab's own -L slides programs, and the monitor's view of their run. */
START_TEST(test_slides_programs)
{
	struct tu_proc prod, cons, mon, bad;
	struct tu_key k;
	struct args a, b, m, u;
	char *out;
	size_t len, i, lines = 0;

	ck_assert_int_eq(tu_key_new(&k), 0);
	memset(&u, 0, sizeof(u));
	arg(&u, "%s", tu_bin("producer/producer"));
	arg(&u, "-L");
	arg(&u, "nope");
	ck_assert_int_eq(tu_run(&bad, "bad", u.v, 10000), 0);
	ck_assert_int_eq(tu_exit_code(&bad), 2);
	memset(&a, 0, sizeof(a));
	arg(&a, "%s", tu_bin("producer/producer"));
	arg(&a, "-L");
	arg(&a, "slides");
	arg(&a, "-k");
	arg(&a, "%s", k.path);
	arg(&a, "-p");
	arg(&a, "%s", k.proj_arg);
	arg(&a, "-c");
	arg(&a, "2000");
	arg(&a, "-b");
	arg(&a, "4");
	arg(&a, "--delay");
	arg(&a, "1");
	ck_assert_int_eq(tu_spawn(&prod, "producer", a.v), 0);
	memset(&b, 0, sizeof(b));
	arg(&b, "%s", tu_bin("consumer/consumer"));
	arg(&b, "-L");
	arg(&b, "slides");
	arg(&b, "-k");
	arg(&b, "%s", k.path);
	arg(&b, "-p");
	arg(&b, "%s", k.proj_arg);
	arg(&b, "-n");
	arg(&b, "3");
	arg(&b, "-c");
	arg(&b, "2000");
	ck_assert_int_eq(tu_spawn(&cons, "consumer", b.v), 0);
	tu_sleep_ms(300);
	memset(&m, 0, sizeof(m));
	arg(&m, "%s", tu_bin("monitor/monitor"));
	arg(&m, "-L");
	arg(&m, "slides");
	arg(&m, "-k");
	arg(&m, "%s", k.path);
	arg(&m, "-p");
	arg(&m, "%s", k.proj_arg);
	arg(&m, "--once");
	ck_assert_int_eq(tu_run(&mon, "monitor", m.v, 10000), 0);
	ck_assert_int_eq(tu_exit_code(&mon), 0);
	out = tu_read_file(mon.out, NULL);
	ck_assert_msg(strstr(out, "slides run: key") != NULL &&
	    strstr(out, "MAXBUF 4") != NULL && strstr(out, "full") != NULL,
	    "monitor: %s", out);
	free(out);
	ck_assert_int_eq(tu_wait(&cons, 60000), 0);
	ck_assert_int_eq(tu_wait(&prod, 60000), 0);
	ck_assert_int_eq(tu_exit_code(&cons), 0);
	ck_assert_int_eq(tu_exit_code(&prod), 0);
	out = tu_read_file(cons.out, &len);
	for (i = 0; i < len; i++)
		lines += out[i] == '\n';
	free(out);
	ck_assert_uint_eq(lines, 2000);
	out = tu_read_file(cons.err, NULL);
	ck_assert_msg(strstr(out, "0..1999 each exactly once") != NULL,
	    "ledger: %s", out);
	free(out);
	ck_assert_int_eq(tu_ipc_count_key(k.key), 0);
	args_free(&a);
	args_free(&b);
	args_free(&m);
	args_free(&u);
}
END_TEST

static Suite *
grade_suite(void)
{
	Suite *s = suite_create("grade");
	TCase *tc = tcase_create("grader");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 200);
	tcase_add_test(tc, test_usage);
	tcase_add_test(tc, test_slides_programs);
	tcase_add_test(tc, test_reference_passes);
	tcase_add_test(tc, test_late_consumers);
	tcase_add_test(tc, test_late_exec_consumers);
	tcase_add_test(tc, test_busy_wait_loaded);
	tcase_add_test(tc, test_grader_killed);
	tcase_add_test(tc, test_slow_start_producer);
	tcase_add_test(tc, test_broken_programs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	tu_init();
	sr = srunner_create(grade_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
