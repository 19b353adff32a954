/*
 * check_e2e.c - the real programs, producer/producer and consumer/consumer,
 * run against each other.
 *
 * Each test has a private key file in its own directory (tu_setup,
 * tu_key_new); every program runs in its own process group with a
 * deadline; the producer writes its JSON report there, and the test reads
 * a few top-level members of it (the full schema is checked elsewhere).
 * Teardown -- or the guardian when a test fails or times out -- kills the
 * process groups the test started and removes the objects under its keys.
 * The test process is a child subreaper, so a daemonised producer comes
 * back to it and can be waited for.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmlib.h"
#include "testutil.h"

#define RUN_MS		60000	/* one program, at most (scaled) */
#define QUICK_MS	10000	/* one program that should exit at once */

/* One producer/consumer run. */
struct row {
	enum shm_mode	mode;
	uint32_t	n;		/* consumers: producer -n, consumer -n */
	uint32_t	maxbuf;		/* -b */
	uint64_t	count;		/* -c */
	uint32_t	batch;		/* -B for both, 0: their default */
	uint64_t	seed;		/* -s, 0: none */
};

/* Exactly once, queue mode: every N, MAXBUF and count class at least once. */
static const struct row queue_rows[] = {
	{ MODE_QUEUE, 1, 1, 0, 0, 0 },
	{ MODE_QUEUE, 1, 1, 1, 0, 0 },
	{ MODE_QUEUE, 1, 1, 2, 0, 0 },
	{ MODE_QUEUE, 1, 1, 100000, 0, 0 },
	{ MODE_QUEUE, 1, 1024, 1025, 0, 0 },
	{ MODE_QUEUE, 2, 2, 2, 0, 0 },
	{ MODE_QUEUE, 2, 2, 3, 0, 0 },
	{ MODE_QUEUE, 2, 10, 1, 0, 0 },
	{ MODE_QUEUE, 2, 1024, 0, 0, 0 },
	{ MODE_QUEUE, 2, 1, 100000, 0, 987654321 },
	{ MODE_QUEUE, 8, 1, 1, 0, 0 },
	{ MODE_QUEUE, 8, 10, 10, 0, 0 },
	{ MODE_QUEUE, 8, 10, 11, 0, 7 },
	{ MODE_QUEUE, 8, 1024, 100000, 0, 0 },
	{ MODE_QUEUE, 32, 10, 0, 0, 0 },
	{ MODE_QUEUE, 32, 2, 100000, 0, 0 },
	{ MODE_QUEUE, 32, 1024, 1024, 0, 0 },
	{ MODE_QUEUE, 32, 1024, 1025, 0, 12345 },
};

/* Broadcast: every consumer takes every item. */
static const struct row bcast_rows[] = {
	{ MODE_BROADCAST, 1, 10, 100000, 0, 0 },
	{ MODE_BROADCAST, 2, 1, 2, 0, 0 },
	{ MODE_BROADCAST, 2, 2, 0, 0, 0 },
	{ MODE_BROADCAST, 2, 1, 1000, 0, 4242 },
	{ MODE_BROADCAST, 8, 10, 11, 0, 0 },
	{ MODE_BROADCAST, 8, 1024, 1024, 0, 0 },
	{ MODE_BROADCAST, 32, 2, 100, 0, 0 },
	{ MODE_BROADCAST, 32, 1024, 1025, 0, 99 },
};

/* Batches of one and of 64, on both sides. */
static const struct row batch_rows[] = {
	{ MODE_QUEUE, 4, 10, 10000, 1, 0 },
	{ MODE_QUEUE, 4, 10, 10000, 64, 0 },
	{ MODE_QUEUE, 2, 1, 1000, 64, 0 },
	{ MODE_QUEUE, 8, 1024, 100000, 64, 5 },
	{ MODE_BROADCAST, 3, 10, 10000, 1, 0 },
	{ MODE_BROADCAST, 3, 1024, 10000, 64, 0 },
	{ MODE_BROADCAST, 4, 32766, 2000000, 4096, 0 },
	{ MODE_BROADCAST, 3, 4096, 200000, 256, 7 },
};

/* Bad input: exit 2 and nothing created. */
static const struct bad {
	const char	*prog;		/* "producer" or "consumer" */
	const char	*args[4];
} bad_rows[] = {
	{ "producer", { "-c", "-5" } },
	{ "producer", { "-b", "0" } },
	{ "producer", { "-b", "99999" } },
	{ "producer", { "-b", "32767" } },
	{ "producer", { "-p", "300" } },
	{ "producer", { "-p", "0" } },
	{ "producer", { "-B", "0" } },
	{ "producer", { "-B", "65537" } },
	{ "producer", { "-m", "foo" } },
	{ "producer", { "-n", "513" } },
	{ "producer", { "-m", "broadcast" } },	/* without -n */
	{ "producer", { "-t", "0" } },
	{ "producer", { "-s", "-1" } },
	{ "producer", { "--perm", "0400" } },
	{ "producer", { "--bogus" } },
	{ "producer", { "-d" } },		/* without -P */
	{ "producer", { "extra" } },
	{ "consumer", { "-n", "0" } },
	{ "consumer", { "-n", "513" } },
	{ "consumer", { "-B", "0" } },
	{ "consumer", { "-p", "256" } },
	{ "consumer", { "-m", "foo" } },
	{ "consumer", { "-t", "0" } },
	{ "consumer", { "extra" } },
};

static struct tu_key key;
static const char *producer_bin, *consumer_bin;

static void	 e2e_setup(void);
static void	 e2e_teardown(void);
static void	 producer_args(struct args *, const struct tu_key *,
		    const struct row *, const char *);
static void	 consumer_args(struct args *, const struct tu_key *,
		    const struct row *);
static void	 expect_verified(const char *, uint64_t, uint64_t, uint64_t);
static void	 report_path(char *, size_t, const char *);
static void	 expect_run_verified(struct tu_proc *, struct tu_proc *,
		    const char *, uint64_t, uint64_t, uint64_t);
static void	 quick_args(struct args *, const char *, const char *);
static void	 attach_at_eos(struct shm_ring *);
static void	 key_taken(int);
static void	 run_row(const struct row *);
static Suite	*e2e_suite(void);

static void
e2e_setup(void)
{
	tu_setup();
	tu_subreaper();
	ck_assert_msg(tu_key_new(&key) == 0, "tu_key_new: %s",
	    strerror(errno));
	producer_bin = tu_bin("producer/producer");
	consumer_bin = tu_bin("consumer/consumer");
	ck_assert_msg(producer_bin != NULL && consumer_bin != NULL,
	    "producer/producer or consumer/consumer not built: run the tests "
	    "from the repository root (make check), or set SHMLAB_ROOT");
}

static void
e2e_teardown(void)
{
	tu_teardown();
}

static void
report_path(char *buf, size_t len, const char *name)
{
	ck_assert_int_eq(tu_path(buf, len, name), 0);
}

/* producer -k KEY -p PROJ -n N -c COUNT -b MAXBUF -q -o REPORT -t 30 ... */
static void
producer_args(struct args *a, const struct tu_key *k, const struct row *r,
    const char *report)
{
	args_prog(a, producer_bin, k);
	if (r->n > 0)
		arg(a, "-n%u", r->n);
	arg(a, "-c%llu", (unsigned long long)r->count);
	arg(a, "-b%u", r->maxbuf);
	args_add(a, "-q", "-o", report, "-t", "30", NULL);
	if (r->mode == MODE_BROADCAST)
		args_add(a, "-m", "broadcast", NULL);
	if (r->batch > 0)
		arg(a, "-B%u", r->batch);
	if (r->seed > 0)
		arg(a, "-s%llu", (unsigned long long)r->seed);
}

/* consumer -k KEY -p PROJ -n N -q -t 30 ... */
static void
consumer_args(struct args *a, const struct tu_key *k, const struct row *r)
{
	args_prog(a, consumer_bin, k);
	arg(a, "-n%u", r->n > 0 ? r->n : 1);
	args_add(a, "-q", "-t", "30", NULL);
	if (r->batch > 0)
		arg(a, "-B%u", r->batch);
}

/* The report says: verified, nothing lost, duplicated, reordered, damaged. */
static void
expect_verified(const char *js, uint64_t count, uint64_t consumed,
    uint64_t sum_factor)
{
	static const char *zero[] = {
		"lost", "duplicated", "out_of_order", "corrupted", "died",
		"unreported", "exit_status",
	};
	unsigned long long v, want_sum;
	size_t i;
	int b;

	ck_assert_msg(tu_json_bool(js, "verified", &b) == 0 && b == 1,
	    "not verified: %.2000s", js);
	for (i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		ck_assert_msg(tu_json_u64(js, zero[i], &v) == 0, "no %s in "
		    "the report: %.2000s", zero[i], js);
		ck_assert_msg(v == 0, "%s is %llu: %.2000s", zero[i], v, js);
	}
	ck_assert_int_eq(tu_json_u64(js, "count", &v), 0);
	ck_assert_uint_eq(v, count);
	ck_assert_int_eq(tu_json_u64(js, "produced", &v), 0);
	ck_assert_uint_eq(v, count);
	ck_assert_int_eq(tu_json_u64(js, "consumed", &v), 0);
	ck_assert_msg(v == consumed, "consumed %llu, want %llu", v,
	    (unsigned long long)consumed);
	ck_assert_int_eq(tu_json_bool(js, "interrupted", &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(tu_json_bool(js, "ledger", &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(tu_json_null(js, "error"), 1);
	ck_assert_int_eq(tu_json_null(js, "fault"), 1);
	/* The checksums, recomputed here from the library. */
	ck_assert_int_eq(tu_json_u64(js, "checksum_expected", &want_sum), 0);
	ck_assert_int_eq(tu_json_u64(js, "seed", &v), 0);
	ck_assert_uint_eq(want_sum, expected_checksum(v, count));
	ck_assert_int_eq(tu_json_u64(js, "checksum_total", &v), 0);
	ck_assert_uint_eq(v, (uint64_t)want_sum * sum_factor);
}

/*
 * The end of a run that must verify: the consumer, then the producer,
 * exit 0; the report shows count items, consumed taken in all, the
 * checksum sum_factor times the expected one; nothing is left in IPC.
 */
static void
expect_run_verified(struct tu_proc *prod, struct tu_proc *cons,
    const char *report, uint64_t count, uint64_t consumed,
    uint64_t sum_factor)
{
	char *js;

	(void)tu_wait(cons, RUN_MS);
	tu_expect_exit(cons, "consumer", 0);
	(void)tu_wait(prod, RUN_MS);
	tu_expect_exit(prod, "producer", 0);
	js = tu_read_report(report);
	expect_verified(js, count, consumed, sum_factor);
	free(js);
	ck_assert_msg(tu_ipc_count_key(key.key) == 0, "the producer left "
	    "objects under key 0x%08x", (unsigned)key.key);
}

/* The program with the test's key, -q and -t SECONDS. */
static void
quick_args(struct args *a, const char *bin, const char *seconds)
{
	args_prog(a, bin, &key);
	args_add(a, "-q", "-t", seconds, NULL);
}

/*
 * Attaches the producer's segment into ring and waits until it has posted
 * the end of stream, with no consumer attached.
 */
static void
attach_at_eos(struct shm_ring *ring)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);

	ck_assert_msg(tu_wait_ready(key.key, QUICK_MS, ring) == 0, "no ready "
	    "segment from the producer");
	while (!SHM_LOAD(&ring->hdr->eos) && tu_now_ms() < end)
		tu_sleep_ms(5);
	ck_assert_msg(SHM_LOAD(&ring->hdr->eos) == 1, "the producer did not "
	    "post the end of stream with nobody attached");
}

/* Producer in the background, then the consumers; both must verify. */
static void
run_row(const struct row *r)
{
	struct tu_proc prod, cons;
	struct args pa, ca;
	char report[PATH_MAX];
	uint64_t per = r->mode == MODE_BROADCAST ? r->n : 1;

	report_path(report, sizeof(report), "report.json");
	producer_args(&pa, &key, r, report);
	consumer_args(&ca, &key, r);
	ck_assert_int_eq(tu_spawn(&prod, "producer", pa.v), 0);
	ck_assert_int_eq(tu_spawn(&cons, "consumer", ca.v), 0);
	expect_run_verified(&prod, &cons, report, r->count, r->count * per,
	    per);
	args_free(&pa);
	args_free(&ca);
}

/* ---------------------------------------------------------------- core */

START_TEST(test_queue_exactly_once)
{
	run_row(&queue_rows[_i]);
}
END_TEST

START_TEST(test_broadcast_every_item)
{
	run_row(&bcast_rows[_i]);
}
END_TEST

START_TEST(test_batch_sizes)
{
	run_row(&batch_rows[_i]);
}
END_TEST

/*
 * A fast broadcast stream (-B 256 of 4096 slots): consumers that have
 * caught up wait for half the ring at once, but no semop claims more than
 * -B, so each takes at least count / -B claims, and every item verifies.
 */
START_TEST(test_broadcast_gathers_within_batch)
{
	static const struct row r = { MODE_BROADCAST, 3, 4096, 500000, 256,
	    0 };
	char report[PATH_MAX], *js;
	unsigned long long claims;
	size_t i;

	run_row(&r);
	report_path(report, sizeof(report), "report.json");
	js = tu_read_report(report);
	for (i = 0; i < r.n; i++) {
		ck_assert_int_eq(tu_json_elem_u64(js, "per_consumer", i,
		    "batches", &claims), 0);
		ck_assert_msg(claims >= (r.count + r.batch - 1) / r.batch,
		    "consumer %zu took %llu items in %llu claims: more than "
		    "-B %u in one", i, (unsigned long long)r.count, claims,
		    r.batch);
	}
	free(js);
}
END_TEST

/* The consumer may come first: it waits for the producer (-t). */
START_TEST(test_consumer_first)
{
	static const struct row r = { MODE_QUEUE, 2, 10, 1000, 0, 0 };
	struct tu_proc prod, cons;
	struct args pa, ca;
	char report[PATH_MAX];

	report_path(report, sizeof(report), "report.json");
	producer_args(&pa, &key, &r, report);
	consumer_args(&ca, &key, &r);
	ck_assert_int_eq(tu_spawn(&cons, "consumer", ca.v), 0);
	tu_sleep_ms(300);
	ck_assert_msg(tu_running(&cons), "the consumer did not wait for "
	    "the producer");
	ck_assert_int_eq(tu_spawn(&prod, "producer", pa.v), 0);
	expect_run_verified(&prod, &cons, report, 1000, 1000, 1);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/*
 * Queue mode without -n: the producer has produced everything and posted
 * the end of stream before any consumer exists; one that joins then takes
 * all the items and exits 0.
 */
START_TEST(test_late_queue_consumer)
{
	static const struct row r = { MODE_QUEUE, 0, 10, 5, 0, 0 };
	static const struct row rc = { MODE_QUEUE, 1, 10, 5, 0, 0 };
	struct shm_ring ring;
	struct tu_proc prod, cons;
	struct args pa, ca;
	char report[PATH_MAX];

	report_path(report, sizeof(report), "report.json");
	producer_args(&pa, &key, &r, report);
	consumer_args(&ca, &key, &rc);
	ck_assert_int_eq(tu_spawn(&prod, "producer", pa.v), 0);
	attach_at_eos(&ring);
	ck_assert_uint_eq(SHM_LOAD(&ring.hdr->head), 5);
	ck_assert_uint_eq(SHM_LOAD(&ring.hdr->registered), 0);
	ck_assert_int_eq(seg_detach(&ring), 0);
	ck_assert_int_eq(tu_run(&cons, "consumer", ca.v, RUN_MS), 0);
	expect_run_verified(&prod, &cons, report, 5, 5, 1);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/* -------------------------------------------------------------- limits */

/* Nobody produces: the consumer gives up after its -t 1 and says why. */
START_TEST(test_consumer_without_producer)
{
	struct tu_proc cons;
	struct args ca;
	uint64_t dt;
	char *err;

	quick_args(&ca, consumer_bin, "1");
	ck_assert_int_eq(tu_run(&cons, "consumer", ca.v, QUICK_MS), 0);
	dt = (cons.end_ns - cons.start_ns) / 1000000;
	tu_expect_exit(&cons, "consumer", 3);
	ck_assert_msg(dt >= 900 && dt <= (uint64_t)tu_ms(4000), "-t 1 gave "
	    "up after %llu ms", (unsigned long long)dt);
	err = tu_err_text(&cons);
	ck_assert_msg(strstr(err, "no producer") != NULL, "stderr: %s", err);
	free(err);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&ca);
}
END_TEST

/* Bad input: exit 2, a message, and nothing created anywhere. */
START_TEST(test_bad_input)
{
	const struct bad *b = &bad_rows[_i];
	struct tu_snap before, after;
	struct tu_proc p;
	struct args a;
	char report[PATH_MAX], what[512], *err;
	size_t i;

	report_path(report, sizeof(report), "report.json");
	quick_args(&a, strcmp(b->prog, "producer") == 0 ? producer_bin :
	    consumer_bin, "1");
	if (strcmp(b->prog, "producer") == 0)
		args_add(&a, "-o", report, NULL);
	for (i = 0; i < 4 && b->args[i] != NULL; i++)
		arg(&a, "%s", b->args[i]);
	ck_assert_int_eq(tu_snap_take(&before), 0);
	ck_assert_int_eq(tu_run(&p, b->prog, a.v, QUICK_MS), 0);
	ck_assert_int_eq(tu_snap_take(&after), 0);
	err = tu_err_text(&p);
	ck_assert_msg(tu_exit_code(&p) == 2, "%s %s %s: exit %d, want 2; "
	    "stderr: %s", b->prog, b->args[0], b->args[1] ? b->args[1] : "",
	    tu_exit_code(&p), err);
	ck_assert_msg(err[0] != '\0', "%s %s: refused without a message",
	    b->prog, b->args[0]);
	free(err);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	ck_assert_msg(tu_snap_new(&before, &after, 1, what, sizeof(what)) == 0,
	    "%s %s created: %s", b->prog, b->args[0], what);
	ck_assert_msg(access(report, F_OK) == -1, "a report was written");
	tu_snap_free(&before);
	tu_snap_free(&after);
	args_free(&a);
}
END_TEST

/* -------------------------------------------------------------- faults */

/*
 * IPC_EXCL: a second producer on a key in use exits 3 and names the key;
 * the first run is untouched and still verifies.  With daemon, the second
 * is a daemon (-d -P): it has written its pidfile at the fork, and exits
 * before finish(), so it must remove the pidfile itself (it used to leave
 * it behind).
 */
static void
key_taken(int daemon)
{
	static const struct row r1 = { MODE_QUEUE, 1, 10, 1000, 0, 0 };
	static const struct row r2 = { MODE_QUEUE, 1, 10, 10, 0, 0 };
	static const char *const who[] = { "producer", "daemon" };
	struct shm_ring ring;
	struct tu_proc a, b, cons;
	struct args pa, pb, ca;
	char ra[PATH_MAX], rb[PATH_MAX], pid[PATH_MAX], *err;
	int shmid, semid;

	report_path(ra, sizeof(ra), "a.json");
	report_path(rb, sizeof(rb), "b.json");
	report_path(pid, sizeof(pid), "b.pid");
	producer_args(&pa, &key, &r1, ra);
	producer_args(&pb, &key, &r2, rb);
	if (daemon)
		args_add(&pb, "-d", "-P", pid, NULL);
	consumer_args(&ca, &key, &r1);
	ck_assert_int_eq(tu_spawn(&a, "producer-a", pa.v), 0);
	ck_assert_msg(tu_wait_ready(key.key, QUICK_MS, &ring) == 0, "the first "
	    "producer did not get ready");
	shmid = ring.shmid;
	semid = ring.semid;
	ck_assert_int_eq(seg_detach(&ring), 0);

	ck_assert_int_eq(tu_run(&b, "producer-b", pb.v, QUICK_MS), 0);
	tu_expect_exit(&b, daemon ? "second producer, a daemon" :
	    "second producer", 3);
	err = tu_err_text(&b);
	ck_assert_msg(strstr(err, "key") != NULL, "the refusal does not "
	    "mention the key: %s", err);
	free(err);
	ck_assert_msg(!daemon || access(pid, F_OK) == -1, "the refused daemon "
	    "left its pidfile %s", pid);
	ck_assert_msg(access(rb, F_OK) == -1, "the refused %s wrote a report",
	    who[daemon]);
	ck_assert_msg(tu_running(&a), "the first producer ended");
	ck_assert_int_eq(shmget(key.key, 0, 0), shmid);
	ck_assert_int_eq(semget(key.key, 0, 0), semid);

	ck_assert_int_eq(tu_run(&cons, "consumer", ca.v, RUN_MS), 0);
	expect_run_verified(&a, &cons, ra, 1000, 1000, 1);
	args_free(&pa);
	args_free(&pb);
	args_free(&ca);
}

START_TEST(test_key_taken)
{
	key_taken(0);
}
END_TEST

/*
 * -d -P: a second daemon with the same pidfile, even on another key, is
 * refused (exit 3, naming the running pid) before it creates anything.
 * The first stops on SIGTERM, removes its objects and its pidfile.
 */
START_TEST(test_pidfile_refusal)
{
	static const struct row r = { MODE_QUEUE, 1, 10, 10, 0, 0 };
	struct shm_ring ring;
	struct tu_key key2;
	struct tu_proc a, b;
	struct args pa, pb;
	char pidfile[PATH_MAX], ra[PATH_MAX], rb[PATH_MAX], want[64];
	char *text, *err, *js, *end;
	uint64_t until;
	long daemon_pid = 0;
	int st, bval;

	ck_assert_int_eq(tu_key_new(&key2), 0);
	report_path(pidfile, sizeof(pidfile), "producer.pid");
	report_path(ra, sizeof(ra), "a.json");
	report_path(rb, sizeof(rb), "b.json");
	producer_args(&pa, &key, &r, ra);
	args_add(&pa, "-d", "-P", pidfile, NULL);
	producer_args(&pb, &key2, &r, rb);
	args_add(&pb, "-d", "-P", pidfile, NULL);

	/* The foreground process exits 0 once the daemon is on its own. */
	ck_assert_int_eq(tu_run(&a, "producer-a", pa.v, QUICK_MS), 0);
	tu_expect_exit(&a, "first producer (foreground)", 0);
	until = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	for (;;) {
		text = tu_read_file(pidfile, NULL);
		if (text != NULL) {
			daemon_pid = strtol(text, &end, 10);
			free(text);
			if (daemon_pid > 0)
				break;
		}
		ck_assert_msg(tu_now_ms() < until, "no pid in %s", pidfile);
		tu_sleep_ms(5);
	}
	tu_track_pgid((pid_t)daemon_pid);	/* setsid(): its own group */
	ck_assert_int_ne(daemon_pid, a.pid);
	ck_assert_int_eq(pid_alive((pid_t)daemon_pid), 1);
	ck_assert_msg(tu_wait_ready(key.key, QUICK_MS, &ring) == 0, "the daemon "
	    "did not get ready");
	ck_assert_int_eq(ring.hdr->producer_pid, daemon_pid);
	ck_assert_int_eq(seg_detach(&ring), 0);

	ck_assert_int_eq(tu_run(&b, "producer-b", pb.v, QUICK_MS), 0);
	tu_expect_exit(&b, "second producer", 3);
	err = tu_err_text(&b);
	(void)snprintf(want, sizeof(want), "pid %ld", daemon_pid);
	ck_assert_msg(strstr(err, want) != NULL, "the refusal does not name "
	    "%s: %s", want, err);
	free(err);
	ck_assert_msg(tu_ipc_count_key(key2.key) == 0, "the refused producer "
	    "created objects");
	ck_assert_msg(access(rb, F_OK) == -1, "the refused producer wrote a "
	    "report");
	text = tu_read_file(pidfile, NULL);
	ck_assert_msg(text != NULL && strtol(text, NULL, 10) == daemon_pid,
	    "the refused producer changed the pidfile: %s",
	    text ? text : "(gone)");
	free(text);

	ck_assert_int_eq(kill((pid_t)daemon_pid, SIGTERM), 0);
	ck_assert_msg(tu_wait_pid_gone((pid_t)daemon_pid, QUICK_MS, &st) == 0,
	    "the daemon did not stop on SIGTERM");
	if (st != -1)
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3, "the "
		    "daemon stopped with status 0x%x, want exit 3", st);
	ck_assert_msg(access(pidfile, F_OK) == -1, "the pidfile is left");
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	js = tu_read_report(ra);
	ck_assert_int_eq(tu_json_bool(js, "interrupted", &bval), 0);
	ck_assert_int_eq(bval, 1);
	ck_assert_int_eq(tu_json_bool(js, "verified", &bval), 0);
	ck_assert_int_eq(bval, 0);
	free(js);
	args_free(&pa);
	args_free(&pb);
}
END_TEST

/*
 * A consumer asking for the wrong mode is refused (exit 3) without
 * disturbing the run; the right one then completes it.
 */
START_TEST(test_consumer_wrong_mode)
{
	static const struct row r = { MODE_BROADCAST, 1, 10, 100, 0, 0 };
	struct shm_ring ring;
	struct tu_proc prod, wrong, cons;
	struct args pa, wa, ca;
	char report[PATH_MAX], *err;

	report_path(report, sizeof(report), "report.json");
	producer_args(&pa, &key, &r, report);
	consumer_args(&ca, &key, &r);
	consumer_args(&wa, &key, &r);
	args_add(&wa, "-m", "queue", NULL);
	ck_assert_int_eq(tu_spawn(&prod, "producer", pa.v), 0);
	ck_assert_int_eq(tu_wait_ready(key.key, QUICK_MS, &ring), 0);
	ck_assert_int_eq(seg_detach(&ring), 0);
	ck_assert_int_eq(tu_run(&wrong, "wrong", wa.v, QUICK_MS), 0);
	tu_expect_exit(&wrong, "queue consumer on a broadcast run", 3);
	err = tu_err_text(&wrong);
	ck_assert_msg(strstr(err, "broadcast") != NULL, "stderr: %s", err);
	free(err);
	ck_assert_int_eq(tu_run(&cons, "consumer", ca.v, RUN_MS), 0);
	expect_run_verified(&prod, &cons, report, 100, 100, 1);
	args_free(&pa);
	args_free(&wa);
	args_free(&ca);
}
END_TEST

/*
 * The dup fault makes the stream one position longer than the count.  A
 * consumer that attaches after the producer has posted all of
 * dup:5 -c 100 -b 200 (no -n) must accept the segment (head = total =
 * 101), take every position and exit 0; the report counts the one
 * duplicate (issue 9, protocol gap 5: every consumer exited 3).
 */
START_TEST(test_late_consumer_dup_stream)
{
	static const struct row r = { MODE_QUEUE, 0, 200, 100, 0, 0 };
	static const struct row rc = { MODE_QUEUE, 1, 200, 100, 0, 0 };
	char fault[] = "SHMLAB_FAULT=dup:5", *env[] = { fault, NULL };
	struct shm_ring ring;
	struct tu_proc prod, cons;
	struct args pa, ca;
	char report[PATH_MAX], *js;

	report_path(report, sizeof(report), "report.json");
	producer_args(&pa, &key, &r, report);
	consumer_args(&ca, &key, &rc);
	tu_start(&prod, "producer", pa.v, env, -1, -1, -1);
	attach_at_eos(&ring);
	ck_assert_uint_eq(SHM_LOAD(&ring.hdr->head), 101);
	ck_assert_uint_eq(SHM_LOAD(&ring.hdr->total), 101);
	ck_assert_int_eq(seg_detach(&ring), 0);
	ck_assert_int_eq(tu_run(&cons, "consumer", ca.v, RUN_MS), 0);
	tu_expect_exit(&cons, "consumer", 0);
	(void)tu_wait(&prod, RUN_MS);
	tu_expect_exit(&prod, "producer (not verified: a fault)", 1);
	js = tu_read_report(report);
	tu_expect_dup_report(js, 100, 5);
	ck_assert_uint_eq(tu_jnum(js, "out_of_order"), 1);
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/*
 * -o naming a FIFO (a grader reading the report as it comes, or
 * /dev/null): the report goes into it, and it stays a FIFO.  Writing
 * aside and renaming over it used to replace it with a regular file; as
 * root, `-o /dev/null` replaced the machine's /dev/null.
 */
START_TEST(test_report_into_fifo)
{
	static const struct row r = { MODE_QUEUE, 1, 10, 300, 0, 0 };
	struct tu_proc prod, cons;
	struct args pa, ca;
	char fifo[PATH_MAX], out[PATH_MAX], tmp[PATH_MAX + 8], buf[4096], *js;
	struct stat st;
	ssize_t n;
	int fd, ofd, status = 0;
	uint64_t end;
	pid_t rd, w = 0;

	report_path(fifo, sizeof(fifo), "report.fifo");
	report_path(out, sizeof(out), "report.json");
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	/* The reader: what a grader piping the report would do. */
	rd = tu_fork();
	ck_assert_int_ne(rd, -1);
	if (rd == 0) {
		if ((fd = open(fifo, O_RDONLY)) == -1 || (ofd = open(out,
		    O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
			_exit(1);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(ofd, buf, (size_t)n) != n)
				_exit(1);
		_exit(n == 0 && close(ofd) == 0 ? 0 : 1);
	}
	producer_args(&pa, &key, &r, fifo);
	consumer_args(&ca, &key, &r);
	tu_start(&prod, "producer", pa.v, NULL, -1, -1, -1);
	ck_assert_int_eq(tu_run(&cons, "consumer", ca.v, RUN_MS), 0);
	tu_expect_exit(&cons, "consumer", 0);
	(void)tu_wait(&prod, RUN_MS);
	tu_expect_exit(&prod, "producer", 0);
	end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	while ((w = waitpid(rd, &status, WNOHANG)) == 0 && tu_now_ms() < end)
		tu_sleep_ms(5);
	ck_assert_msg(w == rd, "the report never came through the FIFO");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the FIFO's reader failed (status 0x%x)", (unsigned)status);
	ck_assert_int_eq(lstat(fifo, &st), 0);
	ck_assert_msg(S_ISFIFO(st.st_mode), "-o FIFO: the FIFO was replaced "
	    "(mode 0%o)", (unsigned)st.st_mode);
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", fifo);
	ck_assert_msg(access(tmp, F_OK) == -1, "%s was left behind", tmp);
	js = tu_read_report(out);
	expect_verified(js, 300, 300, 1);
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/* The same refusal for a daemon (-d -P): see key_taken(). */
START_TEST(test_daemon_key_taken)
{
	key_taken(1);
}
END_TEST

#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))

static Suite *
e2e_suite(void)
{
	Suite *s = suite_create("e2e");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_queue_exactly_once, 0, NELEM(queue_rows));
	tcase_add_loop_test(tc, test_broadcast_every_item, 0,
	    NELEM(bcast_rows));
	tcase_add_loop_test(tc, test_batch_sizes, 0, NELEM(batch_rows));
	tcase_add_test(tc, test_broadcast_gathers_within_batch);
	tcase_add_test(tc, test_consumer_first);
	tcase_add_test(tc, test_late_queue_consumer);
	tcase_add_test(tc, test_report_into_fifo);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_consumer_without_producer);
	tcase_add_loop_test(tc, test_bad_input, 0, NELEM(bad_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_key_taken);
	tcase_add_test(tc, test_pidfile_refusal);
	tcase_add_test(tc, test_daemon_key_taken);
	tcase_add_test(tc, test_consumer_wrong_mode);
	tcase_add_test(tc, test_late_consumer_dup_stream);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	tu_init();
	sr = srunner_create(e2e_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
