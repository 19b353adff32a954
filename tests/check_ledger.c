/*
 * check_ledger.c - issue 3 end to end: both delivery modes across N and
 * MAXBUF, the exact ledger proven against injected faults, the unsafe race
 * demonstration, and the grading JSON checked with a real parser.
 *
 * Who creates and removes what:
 *   - tu_setup() makes the test's private directory and the guardian;
 *     tu_key_new() a key file whose key is free;
 *   - the producer creates the run's objects under that key and removes
 *     them; every test then checks that nothing is left under the key;
 *   - run_demo.sh makes a key file of its own (under TMPDIR, which the
 *     tests point at their private directory); the test sees it appear,
 *     hard-links it so that its inode -- and so its key -- cannot be
 *     reused by anybody else until the test ends, and adopts the key
 *     (tu_key_adopt), so that teardown or the guardian removes what a
 *     failed run left under it.  The demo's daemonised producer comes back
 *     to the test process (a child subreaper) and its process group is
 *     tracked as soon as its pidfile names it;
 *   - tu_teardown() (or the guardian, when a test fails or times out)
 *     kills every process group the test started and removes the objects
 *     under the test's keys, and the directory.
 *
 * The fault tests use the producer's test-only hook SHMLAB_FAULT (drop,
 * dup, swap or corrupt one item at sequence number S) and assert the exact
 * counts that follow from the producer's stream (stream_seq(): which
 * sequence number is written at each ring position) and the consumer's
 * take() accounting: lost and duplicated per expected delivery, out of
 * order when a consumer sees a sequence number not above its previous
 * one, corrupted when the value is not the one produced for it.
 *
 * The JSON tests read run_demo.sh's report whole with jansson and check
 * it against the grading contract (tu_report_check() in testutil.c).
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmlib.h"
#include "testutil.h"

#define RUN_MS		30000	/* one ordinary run, at most (scaled) */
#define QUICK_MS	10000	/* a program that should end at once */
#define BIG_MS		90000	/* the ten-million-item run */
#define UNSAFE_RUNS	5
#define BIG_COUNT	10000000ULL
#define CORRUPT_MASK	0x40000000	/* what the corrupt fault flips */

#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* One producer/consumer run on the test's key. */
struct run {
	enum shm_mode	mode;
	uint32_t	n;		/* consumers: producer -n, consumer -n */
	uint32_t	maxbuf;		/* -b */
	uint32_t	batch;		/* -B on both sides */
	uint64_t	count;		/* -c */
	uint64_t	seed;		/* --seed, 0: none */
};

enum fault_kind { F_DROP, F_DUP, F_SWAP, F_CORRUPT };

static const char *const fault_names[] = { "drop", "dup", "swap", "corrupt" };

/* One injected fault and the run it is injected into. */
struct fault_row {
	struct run	run;
	enum fault_kind	kind;
	uint64_t	seq;		/* S in KIND:S */
};

/* What the ledger must say, worked out from the fault alone. */
struct ledger {
	uint64_t	produced, consumed, lost, duplicated, out_of_order;
	uint64_t	corrupted, checksum_total;
	uint64_t	per_ooo, per_corrupted, per_consumed;	/* broadcast */
};


static struct tu_key key;
static const char *producer_bin, *consumer_bin, *demo_bin;

static void	 ledger_setup(void);
static void	 ledger_teardown(void);
static void	 run_args(struct args *, const char *, const struct run *);
static void	 producer_args(struct args *, const struct run *,
		    const char *);
static void	 consumer_args(struct args *, const struct run *);
static int	 pc_get(const char *, uint32_t, const char *,
		    unsigned long long *);
static uint64_t	 pc_num(const char *, uint32_t, const char *);
static void	 expect_clean(const char *, const struct run *);
static char	*run_pair(const struct run *, const char *, const char *,
		    int, int *, int *);
static void	 fault_expect(const struct fault_row *, struct ledger *);
static void	 run_fault(const struct fault_row *, int);
static void	 matrix_row(int, struct run *);
static int	 read_sem_limits(int *, int *);
static uint32_t	 too_many_consumers(void);
static void	 demo_env(struct args *, const char *);
static void	 demo_groups(struct tu_demo *);
static int	 is_producer(long);
static void	 demo_run(struct tu_demo *, char *const [], const char *, int);
static Suite	*ledger_suite(void);

/* ------------------------------------------------------------- fixture */

static void
ledger_setup(void)
{
	tu_setup();
	tu_subreaper();
	(void)unsetenv("SHMLAB_HOLD_MS");	/* no run of ours holds */
	ck_assert_msg(tu_key_new(&key) == 0, "tu_key_new: %s",
	    strerror(errno));
	producer_bin = tu_bin("producer/producer");
	consumer_bin = tu_bin("consumer/consumer");
	demo_bin = tu_bin("run_demo.sh");
	ck_assert_msg(producer_bin != NULL && consumer_bin != NULL &&
	    demo_bin != NULL, "producer/producer, consumer/consumer or "
	    "run_demo.sh missing: run the tests from the repository root "
	    "after make, or set SHMLAB_ROOT");
}

static void
ledger_teardown(void)
{
	tu_teardown();
}

/* ----------------------------------------------------------- processes */

/* BIN -k KEY -p PROJ -n N -B BATCH -m MODE, what both programs take. */
static void
run_args(struct args *a, const char *bin, const struct run *r)
{
	args_prog(a, bin, &key);
	arg(a, "-n%u", r->n);
	arg(a, "-B%u", r->batch);
	args_add(a, "-m", mode_name(r->mode), NULL);
}

/* producer ... -c COUNT -b MAXBUF -q -o REPORT -t 30 [--seed S] */
static void
producer_args(struct args *a, const struct run *r, const char *report)
{
	run_args(a, producer_bin, r);
	arg(a, "-c%llu", (unsigned long long)r->count);
	arg(a, "-b%u", r->maxbuf);
	args_add(a, "-q", "-o", report, "-t", "30", NULL);
	if (r->seed > 0)
		arg(a, "--seed=%llu", (unsigned long long)r->seed);
}

/* consumer ... -q -t 30 */
static void
consumer_args(struct args *a, const struct run *r)
{
	run_args(a, consumer_bin, r);
	args_add(a, "-q", "-t", "30", NULL);
}

/* per_consumer[i].name: 0 and *v for a number, 1 for null, -1 absent. */
static int
pc_get(const char *js, uint32_t i, const char *name, unsigned long long *v)
{
	return tu_json_elem_u64(js, "per_consumer", i, name, v);
}

static uint64_t
pc_num(const char *js, uint32_t i, const char *name)
{
	unsigned long long v = 0;

	ck_assert_msg(pc_get(js, i, name, &v) == 0, "per_consumer[%u] has no "
	    "number %s: %.2000s", i, name, js);
	return v;
}

/*
 * A clean run's report: verified, the exact expected totals, the
 * checksums recomputed here, and per consumer what the mode promises.
 */
static void
expect_clean(const char *js, const struct run *r)
{
	static const char *zero[] = {
		"lost", "duplicated", "out_of_order", "corrupted", "died",
		"unreported", "exit_status",
	};
	uint64_t per = r->mode == MODE_BROADCAST ? r->n : 1, sum, want, got;
	unsigned long long v;
	char buf[64];
	uint32_t i;
	size_t z;

	ck_assert_msg(tu_jbool(js, "verified") == 1, "not verified: %.2000s",
	    js);
	for (z = 0; z < sizeof(zero) / sizeof(zero[0]); z++)
		ck_assert_msg(tu_jnum(js, zero[z]) == 0, "%s is %llu: %.2000s",
		    zero[z], (unsigned long long)tu_jnum(js, zero[z]), js);
	ck_assert_int_eq(tu_json_str(js, "mode", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, mode_name(r->mode));
	ck_assert_int_eq(tu_json_str(js, "fault", buf, sizeof(buf)), 1);
	ck_assert_int_eq(tu_json_null(js, "error"), 1);
	ck_assert_int_eq(tu_jbool(js, "interrupted"), 0);
	ck_assert_int_eq(tu_jbool(js, "unsafe"), 0);
	ck_assert_int_eq(tu_jbool(js, "ledger"), 1);
	ck_assert_uint_eq(tu_jnum(js, "consumers"), r->n);
	ck_assert_uint_eq(tu_jnum(js, "maxbuf"), r->maxbuf);
	ck_assert_uint_eq(tu_jnum(js, "batch"), r->batch);
	ck_assert_uint_eq(tu_jnum(js, "count"), r->count);
	ck_assert_uint_eq(tu_jnum(js, "seed"), r->seed);
	ck_assert_uint_eq(tu_jnum(js, "produced"), r->count);
	got = tu_jnum(js, "consumed");
	ck_assert_msg(got == r->count * per, "consumed %llu, want %llu",
	    (unsigned long long)got, (unsigned long long)(r->count * per));
	want = expected_checksum(r->seed, r->count);
	ck_assert_uint_eq(tu_jnum(js, "checksum_expected"), want);
	ck_assert_uint_eq(tu_jnum(js, "checksum_total"), want * per);
	for (sum = 0, i = 0; i < r->n; i++) {
		got = pc_num(js, i, "consumed");
		sum += got;
		ck_assert_uint_eq(pc_num(js, i, "index"), i);
		ck_assert_uint_eq(pc_num(js, i, "exit_status"), 0);
		ck_assert_uint_eq(pc_num(js, i, "out_of_order"), 0);
		ck_assert_uint_eq(pc_num(js, i, "corrupted"), 0);
		if (got == 0) {
			ck_assert_int_eq(pc_get(js, i, "first_seq", &v), 1);
			ck_assert_int_eq(pc_get(js, i, "last_seq", &v), 1);
		}
		if (r->mode != MODE_BROADCAST)
			continue;
		ck_assert_msg(got == r->count, "broadcast consumer %u took "
		    "%llu of %llu items", i, (unsigned long long)got,
		    (unsigned long long)r->count);
		ck_assert_uint_eq(pc_num(js, i, "checksum"), want);
		if (r->count > 0) {
			ck_assert_uint_eq(pc_num(js, i, "first_seq"), 0);
			ck_assert_uint_eq(pc_num(js, i, "last_seq"),
			    r->count - 1);
		}
	}
	ck_assert_msg(sum == r->count * per, "per_consumer consumed adds up "
	    "to %llu, want %llu", (unsigned long long)sum,
	    (unsigned long long)(r->count * per));
}

/*
 * Runs producer (with SHMLAB_FAULT=fault when not NULL) and consumer on
 * the test's key; checks that both ended in time, that their process
 * groups are gone and nothing is left under the key.  Returns the report.
 */
static char *
run_pair(const struct run *r, const char *fault, const char *name, int ms,
    int *pexit, int *cexit)
{
	struct tu_proc prod, cons;
	struct args pa, ca, env;
	char report[PATH_MAX], phow[64], chow[64], *js;

	ck_assert_int_eq(tu_path(report, sizeof(report), name), 0);
	producer_args(&pa, r, report);
	consumer_args(&ca, r);
	env.n = 0;
	env.v[0] = NULL;
	if (fault != NULL)
		arg(&env, "SHMLAB_FAULT=%s", fault);
	tu_start(&prod, "producer", pa.v, env.v, -1, -1, -1);
	ck_assert_int_eq(tu_spawn(&cons, "consumer", ca.v), 0);
	(void)tu_wait(&cons, ms);
	(void)tu_wait(&prod, ms);
	ck_assert_msg(!cons.timed_out && !prod.timed_out, "a run hung: "
	    "producer %s, consumer %s", tu_status_str(&prod, phow,
	    sizeof(phow)), tu_status_str(&cons, chow, sizeof(chow)));
	tu_expect_group_gone(prod.pid, "the producer");
	tu_expect_group_gone(cons.pid, "the consumer");
	ck_assert_msg(tu_ipc_count_key(key.key) == 0, "objects left under "
	    "key 0x%08x", (unsigned)key.key);
	*pexit = tu_exit_code(&prod);
	*cexit = tu_exit_code(&cons);
	if (*pexit != 0 && *pexit != 1)
		tu_expect_exit(&prod, "producer", 1);	/* shows its stderr */
	js = tu_read_report(report);
	args_free(&pa);
	args_free(&ca);
	args_free(&env);
	return js;
}

/* ---------------------------------------------------------------- modes */

/*
 * The matrix: mode x N in {1, 2, 4} x MAXBUF in {1, 2, 10} x -B in
 * {1, 64}, 1000 items each, as row i: mode = i % 2, N = (i / 2) % 3,
 * MAXBUF = (i / 6) % 3, batch = i / 18.
 */
static void
matrix_row(int i, struct run *r)
{
	static const uint32_t ns[] = { 1, 2, 4 };
	static const uint32_t bufs[] = { 1, 2, 10 };

	memset(r, 0, sizeof(*r));
	r->mode = i % 2 ? MODE_BROADCAST : MODE_QUEUE;
	r->n = ns[(i / 2) % 3];
	r->maxbuf = bufs[(i / 6) % 3];
	r->batch = i / 18 ? 64 : 1;
	r->count = 1000;
}

#define MATRIX_ROWS	36

START_TEST(test_matrix)
{
	struct run r;
	char *js;
	int pexit, cexit;

	matrix_row(_i, &r);
	js = run_pair(&r, NULL, "report.json", RUN_MS, &pexit, &cexit);
	ck_assert_msg(pexit == 0 && cexit == 0, "%s N=%u MAXBUF=%u -B %u: "
	    "producer exit %d, consumer exit %d; report %.2000s",
	    mode_name(r.mode), r.n, r.maxbuf, r.batch, pexit, cexit, js);
	expect_clean(js, &r);
	free(js);
}
END_TEST

/* More consumers than items: the spare ones take nothing and exit 0. */
static const struct run few_rows[] = {
	{ MODE_QUEUE, 4, 10, 64, 2, 0 },
	{ MODE_QUEUE, 4, 1, 1, 2, 0 },
	{ MODE_QUEUE, 2, 1, 1, 1, 0 },
	{ MODE_QUEUE, 4, 2, 64, 3, 99 },
	{ MODE_BROADCAST, 4, 1, 1, 2, 0 },
	{ MODE_BROADCAST, 4, 10, 64, 2, 0 },
	{ MODE_BROADCAST, 2, 2, 64, 1, 5 },
};

START_TEST(test_more_consumers_than_items)
{
	const struct run *r = &few_rows[_i];
	char *js;
	int pexit, cexit;

	js = run_pair(r, NULL, "report.json", RUN_MS, &pexit, &cexit);
	ck_assert_msg(pexit == 0 && cexit == 0, "producer exit %d, consumer "
	    "exit %d; report %.2000s", pexit, cexit, js);
	expect_clean(js, r);
	free(js);
}
END_TEST

/*
 * Seats (docs/DESIGN.md, "Seats"): with fewer seats than consumers (one
 * on a machine of 2 cores) the consumers take turns, so every one of them
 * takes items, and the run still verifies exactly.
 */
START_TEST(test_queue_seat_turns)
{
	const struct run r = { MODE_QUEUE, 4, 10, 5, 20000, 0 };
	unsigned long long got;
	char *js;
	int pexit, cexit;
	uint32_t i;

	js = run_pair(&r, NULL, "report.json", RUN_MS, &pexit, &cexit);
	ck_assert_msg(pexit == 0 && cexit == 0, "producer exit %d, consumer "
	    "exit %d; report %.2000s", pexit, cexit, js);
	expect_clean(js, &r);
	for (i = 0; i < r.n; i++) {
		got = pc_num(js, i, "consumed");
		ck_assert_msg(got > 0, "consumer %u took no item of %llu with "
		    "%d seat(s): the seated ones never gave theirs up; %.2000s",
		    i, (unsigned long long)r.count, sem_seats(), js);
	}
	free(js);
}
END_TEST

/*
 * --seed S: the run verifies against values drawn from (S, i), and its
 * checksum differs from the same run's without a seed.
 */
static const struct run seed_rows[] = {
	{ MODE_QUEUE, 2, 10, 64, 1000, 987654321 },
	{ MODE_BROADCAST, 3, 2, 1, 1000, 4242 },
};

START_TEST(test_seed)
{
	struct run r = seed_rows[_i], plain;
	uint64_t seeded_sum, plain_sum;
	char *js;
	int pexit, cexit;

	js = run_pair(&r, NULL, "seeded.json", RUN_MS, &pexit, &cexit);
	ck_assert_msg(pexit == 0 && cexit == 0, "seeded run: producer exit "
	    "%d, consumer exit %d; report %.2000s", pexit, cexit, js);
	expect_clean(js, &r);
	seeded_sum = tu_jnum(js, "checksum_expected");
	free(js);

	plain = r;
	plain.seed = 0;
	js = run_pair(&plain, NULL, "plain.json", RUN_MS, &pexit, &cexit);
	ck_assert_msg(pexit == 0 && cexit == 0, "unseeded run: producer exit "
	    "%d, consumer exit %d", pexit, cexit);
	expect_clean(js, &plain);
	plain_sum = tu_jnum(js, "checksum_expected");
	free(js);
	ck_assert_msg(seeded_sum != plain_sum, "--seed %llu gives the "
	    "unseeded checksum %llu", (unsigned long long)r.seed,
	    (unsigned long long)plain_sum);
	ck_assert_uint_eq(plain_sum, r.count * (r.count - 1) / 2);
}
END_TEST

/*
 * A fifth consumer against a broadcast run of -n 4 that is already
 * producing is refused: exit 3, a message that says why, at once -- and
 * the run it tried to join still verifies.
 */
START_TEST(test_broadcast_late_consumer)
{
	static const struct run r = { MODE_BROADCAST, 4, 10, 1, 100, 0 };
	static const struct run late_r = { MODE_BROADCAST, 1, 10, 1, 100, 0 };
	struct shm_ring ring;
	struct tu_proc prod, cons, late;
	struct args pa, ca, la;
	char report[PATH_MAX], *err, *js;
	uint64_t end;

	ck_assert_int_eq(tu_path(report, sizeof(report), "report.json"), 0);
	producer_args(&pa, &r, report);
	arg(&pa, "--delay");		/* ~10 ms an item: about a second */
	arg(&pa, "10");
	consumer_args(&ca, &r);
	consumer_args(&la, &late_r);
	ck_assert_int_eq(tu_spawn(&prod, "producer", pa.v), 0);
	ck_assert_int_eq(tu_spawn(&cons, "consumer", ca.v), 0);
	ck_assert_msg(tu_wait_ready(key.key, QUICK_MS, &ring) == 0, "no ready "
	    "segment from the producer");
	end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	while (SHM_LOAD(&ring.hdr->head) == 0 && tu_now_ms() < end)
		tu_sleep_ms(2);
	ck_assert_msg(SHM_LOAD(&ring.hdr->head) > 0, "production did not "
	    "begin (state %u, %u registered)", SHM_LOAD(&ring.hdr->state),
	    SHM_LOAD(&ring.hdr->registered));
	ck_assert_uint_eq(SHM_LOAD(&ring.hdr->registered), 4);

	ck_assert_int_eq(tu_run(&late, "late", la.v, QUICK_MS), 0);
	ck_assert_msg(!late.timed_out, "the late consumer hung");
	tu_expect_exit(&late, "late broadcast consumer", 3);
	err = tu_err_text(&late);
	ck_assert_msg(strstr(err, "broadcast") != NULL &&
	    (strstr(err, "started") != NULL || strstr(err, "late") != NULL),
	    "the refusal does not say why: %s", err);
	free(err);
	ck_assert_msg(SHM_LOAD(&ring.hdr->head) < r.count &&
	    SHM_LOAD(&ring.hdr->state) == ST_PRODUCING, "the run had ended "
	    "before the late consumer was refused: the test proves nothing");
	ck_assert_uint_eq(SHM_LOAD(&ring.hdr->registered), 4);
	ck_assert_int_eq(seg_detach(&ring), 0);
	tu_expect_group_gone(late.pid, "the late consumer");

	(void)tu_wait(&cons, RUN_MS);
	(void)tu_wait(&prod, RUN_MS);
	tu_expect_exit(&cons, "consumers", 0);
	tu_expect_exit(&prod, "producer", 0);
	js = tu_read_report(report);
	expect_clean(js, &r);
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
	args_free(&ca);
	args_free(&la);
}
END_TEST

/* SEMMSL and SEMOPM from /proc/sys/kernel/sem. */
static int
read_sem_limits(int *semmsl, int *semopm)
{
	FILE *fp;
	int semmns, semmni, n;

	if ((fp = fopen("/proc/sys/kernel/sem", "re")) == NULL)
		return -1;
	n = fscanf(fp, "%d %d %d %d", semmsl, &semmns, semopm, &semmni);
	(void)fclose(fp);
	return n == 4 ? 0 : -1;
}

/*
 * How many broadcast consumers the kernel cannot take: SEMOPM + 1 (one
 * semop over every consumer's semaphore), else the first count that
 * needs more than SEMMSL semaphores; 0 when both exceed our own table.
 */
static uint32_t
too_many_consumers(void)
{
	int semmsl, semopm;

	ck_assert_msg(read_sem_limits(&semmsl, &semopm) == 0, "cannot read "
	    "/proc/sys/kernel/sem");
	if (semopm + 1 <= SHM_MAX_CONSUMERS)
		return (uint32_t)semopm + 1;
	if ((semmsl - SEM_BASE) / 2 + 1 <= SHM_MAX_CONSUMERS)
		return (uint32_t)(semmsl - SEM_BASE) / 2 + 1;
	fprintf(stderr, "check_ledger: SEMOPM %d and SEMMSL %d both allow "
	    "more than %d broadcast consumers: kernel-limit test skipped\n",
	    semopm, semmsl, SHM_MAX_CONSUMERS);
	return 0;
}

/* Refused with status 2 and a message naming the limit; nothing made. */
START_TEST(test_kernel_limit)
{
	struct run r = { MODE_BROADCAST, 0, 10, 64, 10, 0 };
	struct tu_snap before, after;
	struct tu_proc p;
	struct args pa;
	char report[PATH_MAX], what[512], *err;

	if ((r.n = too_many_consumers()) == 0)
		return;
	ck_assert_int_eq(tu_path(report, sizeof(report), "report.json"), 0);
	producer_args(&pa, &r, report);
	ck_assert_int_eq(tu_snap_take(&before), 0);
	ck_assert_int_eq(tu_run(&p, "producer", pa.v, QUICK_MS), 0);
	ck_assert_int_eq(tu_snap_take(&after), 0);
	err = tu_err_text(&p);
	ck_assert_msg(tu_exit_code(&p) == 2, "broadcast -n %u: exit %d, "
	    "want 2; stderr: %s", r.n, tu_exit_code(&p), err);
	ck_assert_msg(strstr(err, "SEMOPM") != NULL ||
	    strstr(err, "SEMMSL") != NULL, "the refusal does not name the "
	    "kernel limit: %s", err);
	free(err);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	ck_assert_msg(tu_snap_new(&before, &after, 1, what, sizeof(what)) == 0,
	    "the refused producer created: %s", what);
	ck_assert_msg(access(report, F_OK) == -1, "a report was written");
	tu_snap_free(&before);
	tu_snap_free(&after);
	args_free(&pa);
}
END_TEST

/* The same through run_demo.sh: its exit status contract says 2. */
START_TEST(test_kernel_limit_demo)
{
	struct tu_demo d;
	struct args da;
	uint32_t n;
	char *err;

	if ((n = too_many_consumers()) == 0)
		return;
	da.n = 0;
	arg(&da, "%s", demo_bin);
	arg(&da, "-m");
	arg(&da, "broadcast");
	arg(&da, "-n");
	arg(&da, "%u", n);
	arg(&da, "-c");
	arg(&da, "10");
	demo_run(&d, da.v, NULL, RUN_MS);
	err = tu_err_text(&d.sh);
	ck_assert_msg(tu_exit_code(&d.sh) == 2, "run_demo.sh -m broadcast -n "
	    "%u: exit %d, want 2 (bad usage: the kernel's limit); stderr: %s",
	    n, tu_exit_code(&d.sh), err);
	ck_assert_msg(strstr(err, "SEMOPM") != NULL ||
	    strstr(err, "SEMMSL") != NULL, "no reason given: %s", err);
	free(err);
	tu_demo_done(&d);
	args_free(&da);
}
END_TEST

/* --------------------------------------------------------------- faults */

static const struct fault_row fault_rows[] = {
	/* The four faults at S = 500 of 1000, queue N = 1, broadcast N = 2. */
	{ { MODE_QUEUE, 1, 10, 64, 1000, 0 }, F_DROP, 500 },
	{ { MODE_QUEUE, 1, 10, 64, 1000, 0 }, F_DUP, 500 },
	{ { MODE_QUEUE, 1, 10, 64, 1000, 0 }, F_SWAP, 500 },
	{ { MODE_QUEUE, 1, 10, 64, 1000, 0 }, F_CORRUPT, 500 },
	{ { MODE_BROADCAST, 2, 10, 64, 1000, 0 }, F_DROP, 500 },
	{ { MODE_BROADCAST, 2, 10, 64, 1000, 0 }, F_DUP, 500 },
	{ { MODE_BROADCAST, 2, 10, 64, 1000, 0 }, F_SWAP, 500 },
	{ { MODE_BROADCAST, 2, 10, 64, 1000, 0 }, F_CORRUPT, 500 },
	/* The ends of the stream, one slot, one item at a time. */
	{ { MODE_QUEUE, 1, 1, 1, 1000, 0 }, F_DROP, 0 },
	{ { MODE_QUEUE, 1, 1, 1, 1000, 0 }, F_DUP, 999 },
	{ { MODE_QUEUE, 1, 1, 1, 1000, 0 }, F_SWAP, 998 },
	{ { MODE_QUEUE, 1, 1, 1, 1000, 0 }, F_CORRUPT, 999 },
	{ { MODE_BROADCAST, 2, 2, 1, 1000, 0 }, F_DROP, 999 },
	{ { MODE_BROADCAST, 2, 2, 1, 1000, 0 }, F_DUP, 0 },
	{ { MODE_BROADCAST, 2, 2, 1, 1000, 0 }, F_SWAP, 0 },
	{ { MODE_BROADCAST, 2, 2, 1, 1000, 0 }, F_CORRUPT, 0 },
	/* Seeded values, and more broadcast consumers. */
	{ { MODE_QUEUE, 1, 10, 64, 1000, 4242 }, F_CORRUPT, 500 },
	{ { MODE_QUEUE, 1, 10, 64, 1000, 4242 }, F_DROP, 500 },
	{ { MODE_BROADCAST, 4, 10, 64, 1000, 4242 }, F_DUP, 500 },
	{ { MODE_BROADCAST, 4, 10, 64, 1000, 4242 }, F_CORRUPT, 500 },
	/*
	 * Either side of the producer's first batch boundary (4096 with a
	 * fresh ring of 32766): the batches before the fault are written as
	 * the plain stream, the one holding it item by item.
	 */
	{ { MODE_QUEUE, 1, SHM_MAXBUF_MAX, 4096, 10000, 0 }, F_DROP, 4095 },
	{ { MODE_QUEUE, 1, SHM_MAXBUF_MAX, 4096, 10000, 0 }, F_DUP, 4096 },
	{ { MODE_QUEUE, 1, SHM_MAXBUF_MAX, 4096, 10000, 0 }, F_SWAP, 4095 },
	{ { MODE_BROADCAST, 2, SHM_MAXBUF_MAX, 4096, 10000, 4242 },
	    F_CORRUPT, 4096 },
};

/*
 * The exact ledger of a fault, per expected delivery (1 in queue mode
 * with a single consumer, N in broadcast, where every consumer sees the
 * whole stream):
 *   drop:S	the stream skips S: lost 1, checksum short of v(S);
 *   dup:S	S is written twice, one after the other: duplicated 1, and
 *		the consumer that sees the copy sees S after S: out of order 1;
 *   swap:S	S+1 comes before S: out of order 1 (S after S+1), nothing
 *		lost, the checksum whole;
 *   corrupt:S	v(S) with bit 30 flipped: corrupted 1.
 */
static void
fault_expect(const struct fault_row *f, struct ledger *l)
{
	const struct run *r = &f->run;
	uint64_t per = r->mode == MODE_BROADCAST ? r->n : 1, v, bad, delta = 0;

	memset(l, 0, sizeof(*l));
	v = (uint32_t)item_value(r->seed, f->seq);
	l->produced = r->count;
	switch (f->kind) {
	case F_DROP:
		l->produced = r->count - 1;
		l->lost = per;
		delta = -v;
		break;
	case F_DUP:
		l->produced = r->count + 1;
		l->duplicated = per;
		l->out_of_order = per;
		delta = v;
		break;
	case F_SWAP:
		l->out_of_order = per;
		break;
	case F_CORRUPT:
		l->corrupted = per;
		bad = (uint32_t)(item_value(r->seed, f->seq) ^ CORRUPT_MASK);
		delta = bad - v;
		break;
	}
	l->consumed = l->produced * per;
	l->checksum_total = (expected_checksum(r->seed, r->count) + delta) *
	    per;
	l->per_consumed = l->produced;
	l->per_ooo = l->out_of_order / per;
	l->per_corrupted = l->corrupted / per;
}

/* Runs a fault row and checks every count of the ledger exactly. */
static void
run_fault(const struct fault_row *f, int ms)
{
	const struct run *r = &f->run;
	struct ledger want;
	char spec[64], buf[64], *js;
	uint64_t taken, ooo, bad;
	int pexit, cexit;
	uint32_t i;

	(void)snprintf(spec, sizeof(spec), "%s:%llu", fault_names[f->kind],
	    (unsigned long long)f->seq);
	fault_expect(f, &want);
	js = run_pair(r, spec, "report.json", ms, &pexit, &cexit);
	ck_assert_msg(pexit == 1, "%s %s N=%u: producer exit %d, want 1",
	    spec, mode_name(r->mode), r->n, pexit);
	ck_assert_msg(cexit == 0, "%s: consumer exit %d, want 0", spec, cexit);
	ck_assert_msg(tu_jbool(js, "verified") == 0, "%s verified: %.2000s",
	    spec, js);
	ck_assert_uint_eq(tu_jnum(js, "exit_status"), 1);
	ck_assert_int_eq(tu_json_str(js, "fault", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, spec);
	ck_assert_int_eq(tu_json_null(js, "error"), 1);
	ck_assert_int_eq(tu_jbool(js, "interrupted"), 0);
	ck_assert_uint_eq(tu_jnum(js, "consumers"), r->n);
	ck_assert_uint_eq(tu_jnum(js, "died"), 0);
	ck_assert_uint_eq(tu_jnum(js, "count"), r->count);
	ck_assert_uint_eq(tu_jnum(js, "checksum_expected"),
	    expected_checksum(r->seed, r->count));
#define LEDGER_EQ(name, field)						\
	ck_assert_msg(tu_jnum(js, name) == want.field, "%s %s N=%u: %s is "	\
	    "%llu, want %llu; report %.2000s", spec, mode_name(r->mode),	\
	    r->n, name, (unsigned long long)tu_jnum(js, name),		\
	    (unsigned long long)want.field, js)
	LEDGER_EQ("produced", produced);
	LEDGER_EQ("consumed", consumed);
	LEDGER_EQ("lost", lost);
	LEDGER_EQ("duplicated", duplicated);
	LEDGER_EQ("out_of_order", out_of_order);
	LEDGER_EQ("corrupted", corrupted);
	LEDGER_EQ("checksum_total", checksum_total);
#undef LEDGER_EQ
	/*
	 * With one consumer, or in broadcast, each consumer sees the whole
	 * stream and its own share of the damage; several queue consumers
	 * share the stream, and their counts add up to the totals.
	 */
	for (i = 0, taken = ooo = bad = 0; i < r->n; i++) {
		ck_assert_uint_eq(pc_num(js, i, "exit_status"), 0);
		taken += pc_num(js, i, "consumed");
		ooo += pc_num(js, i, "out_of_order");
		bad += pc_num(js, i, "corrupted");
		if (r->mode == MODE_QUEUE && r->n > 1)
			continue;
		ck_assert_uint_eq(pc_num(js, i, "consumed"), want.per_consumed);
		ck_assert_uint_eq(pc_num(js, i, "out_of_order"), want.per_ooo);
		ck_assert_uint_eq(pc_num(js, i, "corrupted"),
		    want.per_corrupted);
	}
	ck_assert_uint_eq(taken, want.consumed);
	ck_assert_uint_eq(ooo, want.out_of_order);
	ck_assert_uint_eq(bad, want.corrupted);
	free(js);
}

START_TEST(test_fault)
{
	run_fault(&fault_rows[_i], RUN_MS);
}
END_TEST

/*
 * Queue mode, three consumers, one item duplicated: exactly one extra
 * delivery.  Whether it is also out of order depends on who takes the
 * copy: the consumer that took S sees S again only if it also claims
 * position S+1 (each consumer's positions, and so its sequence numbers,
 * otherwise only grow).  So out_of_order is 0 or 1, and per consumer
 * adds up to it.
 */
static const struct run dup3_rows[] = {
	{ MODE_QUEUE, 3, 10, 64, 1000, 0 },
	{ MODE_QUEUE, 3, 1, 1, 1000, 0 },
};

START_TEST(test_queue_dup_three)
{
	const struct run *r = &dup3_rows[_i];
	uint64_t ooo, sum = 0, taken = 0;
	char *js;
	int pexit, cexit;
	uint32_t i;

	js = run_pair(r, "dup:500", "report.json", RUN_MS, &pexit, &cexit);
	ck_assert_int_eq(pexit, 1);
	ck_assert_int_eq(cexit, 0);
	tu_expect_dup_report(js, 1000, 500);
	ooo = tu_jnum(js, "out_of_order");
	ck_assert_msg(ooo <= 1, "out_of_order %llu with one duplicate",
	    (unsigned long long)ooo);
	for (i = 0; i < 3; i++) {
		sum += pc_num(js, i, "out_of_order");
		taken += pc_num(js, i, "consumed");
	}
	ck_assert_uint_eq(sum, ooo);
	ck_assert_uint_eq(taken, 1001);
	free(js);
}
END_TEST

/* Exact at ten million items: one dropped item is one lost item. */
START_TEST(test_ten_million)
{
	static const struct fault_row f = {
		{ MODE_QUEUE, 2, SHM_MAXBUF_MAX, 4096, BIG_COUNT, 0 },
		F_DROP, BIG_COUNT / 2
	};

	run_fault(&f, BIG_MS);
}
END_TEST

/* --------------------------------------------------------------- unsafe */

/*
 * The race demonstration ends, cleans up and reports, UNSAFE_RUNS times.
 * Whether a run shows damage is up to the scheduler: counted and logged,
 * never asserted.
 */
START_TEST(test_unsafe_runs)
{
	static const char *ledger_keys[] = {
		"produced", "consumed", "lost", "duplicated", "out_of_order",
		"corrupted", "checksum_total", "checksum_expected",
		"exit_status", "count", "consumers",
	};
	static const struct run r = { MODE_QUEUE, 3, 10, 64, 1000, 0 };
	struct tu_proc prod, cons;
	struct args pa, ca;
	char report[PATH_MAX], name[32], phow[64], chow[64], *js;
	int run, damaged = 0, code, verified;
	size_t k;

	for (run = 0; run < UNSAFE_RUNS; run++) {
		(void)snprintf(name, sizeof(name), "unsafe%d.json", run);
		ck_assert_int_eq(tu_path(report, sizeof(report), name), 0);
		producer_args(&pa, &r, report);
		arg(&pa, "--unsafe");
		arg(&pa, "--jitter");
		arg(&pa, "20");
		consumer_args(&ca, &r);
		ck_assert_int_eq(tu_spawn(&prod, "producer", pa.v), 0);
		ck_assert_int_eq(tu_spawn(&cons, "consumer", ca.v), 0);
		(void)tu_wait(&cons, RUN_MS);
		(void)tu_wait(&prod, RUN_MS);
		ck_assert_msg(!prod.timed_out && !cons.timed_out, "unsafe run "
		    "%d did not end: producer %s, consumer %s", run,
		    tu_status_str(&prod, phow, sizeof(phow)),
		    tu_status_str(&cons, chow, sizeof(chow)));
		tu_expect_group_gone(prod.pid, "the unsafe producer");
		tu_expect_group_gone(cons.pid, "the unsafe consumers");
		ck_assert_msg(tu_ipc_count_key(key.key) == 0, "unsafe run %d "
		    "left objects under key 0x%08x", run, (unsigned)key.key);
		tu_expect_exit(&cons, "unsafe consumers", 0);
		code = tu_exit_code(&prod);
		if (code != 0 && code != 1)
			tu_expect_exit(&prod, "unsafe producer", 1);
		js = tu_read_report(report);
		for (k = 0; k < sizeof(ledger_keys) / sizeof(ledger_keys[0]);
		    k++)
			(void)tu_jnum(js, ledger_keys[k]);
		verified = tu_jbool(js, "verified");
		ck_assert_uint_eq(tu_jnum(js, "exit_status"), (uint64_t)code);
		ck_assert_msg(verified == (code == 0), "exit %d but verified "
		    "%d: %.2000s", code, verified, js);
		ck_assert_int_eq(tu_jbool(js, "unsafe"), 1);
		ck_assert_int_eq(tu_jbool(js, "interrupted"), 0);
		ck_assert_int_eq(tu_jbool(js, "ledger"), 1);
		ck_assert_int_eq(tu_json_null(js, "error"), 1);
		ck_assert_uint_eq(tu_jnum(js, "produced"), r.count);
		ck_assert_uint_eq(tu_jnum(js, "consumers"), r.n);
		damaged += !verified;
		free(js);
		args_free(&pa);
		args_free(&ca);
	}
	fprintf(stderr, "check_ledger: unsafe: damage visible in %d of %d "
	    "runs (queue, N=3, 1000 items, MAXBUF 10, --jitter 20)\n",
	    damaged, UNSAFE_RUNS);
}
END_TEST

/* --unsafe is a queue-mode demonstration: broadcast is bad usage. */
START_TEST(test_unsafe_broadcast_refused)
{
	struct run r = { MODE_BROADCAST, 2, 10, 64, 100, 0 };
	struct tu_snap before, after;
	struct tu_proc p;
	struct tu_demo d;
	struct args pa, da;
	char report[PATH_MAX], what[512], *err;

	ck_assert_int_eq(tu_path(report, sizeof(report), "report.json"), 0);
	producer_args(&pa, &r, report);
	arg(&pa, "--unsafe");
	ck_assert_int_eq(tu_snap_take(&before), 0);
	ck_assert_int_eq(tu_run(&p, "producer", pa.v, QUICK_MS), 0);
	ck_assert_int_eq(tu_snap_take(&after), 0);
	err = tu_err_text(&p);
	ck_assert_msg(tu_exit_code(&p) == 2, "producer --unsafe -m broadcast: "
	    "exit %d, want 2; stderr: %s", tu_exit_code(&p), err);
	ck_assert_msg(strstr(err, "unsafe") != NULL, "stderr: %s", err);
	free(err);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	ck_assert_msg(tu_snap_new(&before, &after, 1, what, sizeof(what)) == 0,
	    "the refused producer created: %s", what);
	ck_assert_msg(access(report, F_OK) == -1, "a report was written");
	tu_snap_free(&before);
	tu_snap_free(&after);

	da.n = 0;
	arg(&da, "%s", demo_bin);
	arg(&da, "--unsafe");
	arg(&da, "-m");
	arg(&da, "broadcast");
	arg(&da, "-n");
	arg(&da, "2");
	demo_run(&d, da.v, NULL, QUICK_MS);
	err = tu_err_text(&d.sh);
	ck_assert_msg(tu_exit_code(&d.sh) == 2, "run_demo.sh --unsafe -m "
	    "broadcast: exit %d, want 2; stderr: %s", tu_exit_code(&d.sh),
	    err);
	ck_assert_msg(strstr(err, "unsafe") != NULL, "stderr: %s", err);
	free(err);
	tu_demo_done(&d);
	args_free(&pa);
	args_free(&da);
}
END_TEST

/* ----------------------------------------------------------------- json */

/* run_demo.sh's environment (tu_demo_env) and the fault, if any. */
static void
demo_env(struct args *env, const char *fault)
{
	tu_demo_env(env, producer_bin, consumer_bin);
	if (fault != NULL)
		arg(env, "SHMLAB_FAULT=%s", fault);
}

/* Is pid running our producer binary?  (Not the guardian, say.) */
static int
is_producer(long pid)
{
	char path[64], exe[PATH_MAX], want[PATH_MAX];
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) <= 0 ||
	    realpath(producer_bin, want) == NULL)
		return 0;
	exe[n] = '\0';
	return strcmp(exe, want) == 0;
}

/*
 * run_demo.sh starts its consumers and its producer daemon in process
 * groups of their own (setsid), which killing its group does not reach:
 * tracks every group led by a child of run_demo.sh, or by an orphan that
 * came back to us (the daemon, before its pidfile names it).
 */
static void
demo_groups(struct tu_demo *d)
{
	char path[64], *text, *p;
	struct dirent *de;
	long pid, ppid, pgid;
	DIR *dir;

	if (d->cons > 0 && d->daemon > 0)
		return;
	if ((dir = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, NULL, 10);
		(void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((text = tu_read_file(path, NULL)) == NULL)
			continue;
		/* pid (comm) state ppid pgrp ...; comm may hold ") ". */
		p = strrchr(text, ')');
		if (p != NULL && sscanf(p + 1, " %*c %ld %ld", &ppid,
		    &pgid) == 2 && pgid == pid && pid != d->sh.pid) {
			if (ppid == d->sh.pid && d->cons == 0) {
				d->cons = (pid_t)pid;
				tu_track_pgid((pid_t)pid);
			} else if (ppid == getpid() && d->daemon == 0 &&
			    is_producer(pid)) {
				d->daemon = (pid_t)pid;
				tu_track_pgid((pid_t)pid);
			}
		}
		free(text);
	}
	(void)closedir(dir);
}

/*
 * Runs run_demo.sh (argv) with SHMLAB_FAULT=fault when not NULL, its
 * stdout and stderr into files.  Watches the demo's directory meanwhile
 * (demo_scan) and kills everything at the deadline.
 */
static void
demo_run(struct tu_demo *d, char *const argv[], const char *fault, int ms)
{
	struct args env;
	uint64_t end, start_s;

	memset(d, 0, sizeof(*d));
	demo_env(&env, fault);
	start_s = (uint64_t)time(NULL);
	tu_start(&d->sh, "demo", argv, env.v, -1, -1, -1);
	end = tu_now_ms() + (uint64_t)tu_ms(ms);
	while (!d->sh.done) {
		tu_demo_scan(d, start_s);
		demo_groups(d);
		if (waitpid(d->sh.pid, &d->sh.status, WNOHANG) == d->sh.pid)
			d->sh.done = 1;
		else if (tu_now_ms() >= end)
			tu_demo_kill(d);
		else
			tu_sleep_ms(1);
	}
	tu_demo_scan(d, start_s);
	args_free(&env);
	tu_demo_end(d);
}

/* run_demo.sh --json ..., its report checked with expectations */
static const struct json_row {
	const char	*what;
	const char	*args[14];	/* run_demo.sh, after --json */
	const char	*fault;		/* SHMLAB_FAULT, or NULL */
	const char	*expect[12];	/* KEY=VALUE the report must hold */
	int		 status;	/* run_demo's exit; -1: 0 or 1 */
} json_rows[] = {
	{ "queue", { "-n", "3", "-c", "1000" }, NULL,
	  { "mode=queue", "consumers=3", "count=1000", "maxbuf=10", "seed=0",
	    "produced=1000", "consumed=1000", "verified=true",
	    "exit_status=0", "fault=null" }, 0 },
	{ "broadcast", { "-m", "broadcast", "-n", "2", "-c", "1000", "-b",
	    "2" }, NULL,
	  { "mode=broadcast", "consumers=2", "maxbuf=2", "count=1000",
	    "consumed=2000", "verified=true", "exit_status=0" }, 0 },
	{ "queue, more consumers than items", { "-n", "4", "-c", "2", "-b",
	    "1", "-B", "1" }, NULL,
	  { "consumers=4", "maxbuf=1", "consumed=2", "verified=true" }, 0 },
	{ "queue --seed", { "-n", "2", "-c", "1000", "--seed", "4242" }, NULL,
	  { "mode=queue", "seed=4242", "verified=true", "exit_status=0" }, 0 },
	{ "broadcast --seed", { "-m", "broadcast", "-n", "3", "-c", "500",
	    "-b", "1", "--seed", "77" }, NULL,
	  { "mode=broadcast", "seed=77", "consumed=1500", "verified=true" },
	  0 },
	{ "queue, dropped item", { "-n", "1", "-c", "1000" }, "drop:500",
	  { "fault=drop:500", "verified=false", "lost=1", "produced=999",
	    "consumed=999", "duplicated=0", "exit_status=1" }, 1 },
	{ "broadcast, swapped items", { "-m", "broadcast", "-n", "2", "-c",
	    "1000" }, "swap:500",
	  { "fault=swap:500", "verified=false", "out_of_order=2", "lost=0",
	    "duplicated=0", "corrupted=0", "exit_status=1" }, 1 },
	{ "unsafe", { "--unsafe", "-n", "3", "-c", "1000", "--jitter", "20" },
	  NULL, { "mode=queue", "consumers=3", "produced=1000",
	    "unsafe=true" }, -1 },
};

START_TEST(test_json_demo)
{
	const struct json_row *row = &json_rows[_i];
	unsigned long long status, sum, seed, count;
	char why[TU_WHY_MAX], *js;
	struct args da;
	struct tu_demo d;
	int i, code;

	da.n = 0;
	args_add(&da, demo_bin, "--json", NULL);
	for (i = 0; i < NELEM(row->args) && row->args[i] != NULL; i++)
		arg(&da, "%s", row->args[i]);
	demo_run(&d, da.v, row->fault, RUN_MS);

	js = tu_read_file(d.sh.out, NULL);
	ck_assert_msg(js != NULL, "%s: run_demo.sh wrote no stdout",
	    row->what);
	ck_assert_msg(tu_report_check(js, row->expect, why) == 0, "%s: the "
	    "report breaks the contract:\n%s(report: %.1500s; run_demo.sh "
	    "stderr: %.1000s)", row->what, why, js, tu_err_text(&d.sh));
	status = tu_jnum(js, "exit_status");
	sum = tu_jnum(js, "checksum_expected");
	seed = tu_jnum(js, "seed");
	count = tu_jnum(js, "count");
	free(js);
	code = tu_exit_code(&d.sh);
	ck_assert_msg((unsigned long long)code == status, "%s: run_demo.sh "
	    "exit %d, but the JSON says exit_status %llu", row->what, code,
	    status);
	if (row->status >= 0)
		ck_assert_int_eq(code, row->status);
	else
		ck_assert_msg(code == 0 || code == 1, "%s: exit %d", row->what,
		    code);
	ck_assert_uint_eq(sum, expected_checksum(seed, count));
	if (seed != 0)
		ck_assert_msg(sum != expected_checksum(0, count), "%s: the "
		    "seeded checksum equals the unseeded one", row->what);
	ck_assert_msg(d.key_seen != 0, "%s: never saw run_demo.sh's key "
	    "file, so its objects could not be checked", row->what);
	tu_demo_done(&d);
	args_free(&da);
}
END_TEST

/*
 * The checker itself: a valid report passes, and each way of breaking
 * it fails.  Without this, a checker that accepts anything would make
 * the JSON tests above pass vacuously.
 */
static const char base_report[] =
    "{\"schema\":1,\"mode\":\"queue\",\"consumers\":2,\"maxbuf\":10,"
    "\"count\":3,\"seed\":0,\"produced\":3,\"consumed\":3,\"lost\":0,"
    "\"duplicated\":0,\"out_of_order\":0,\"corrupted\":0,"
    "\"verified\":true,\"elapsed_s\":0.5,\"items_per_s\":6.0,"
    "\"exit_status\":0,\"checksum_expected\":3,\"checksum_total\":3,"
    "\"fault\":null,\"error\":null,\"per_consumer\":["
    "{\"index\":0,\"pid\":100,\"consumed\":2,\"first_seq\":0,"
    "\"last_seq\":2,\"checksum\":2,\"exit_status\":0},"
    "{\"index\":1,\"pid\":101,\"consumed\":1,\"first_seq\":1,"
    "\"last_seq\":1,\"checksum\":1,\"exit_status\":0}]}\n";

static const struct mutation {
	const char	*what;
	const char	*find;		/* NULL: the input is replace itself */
	const char	*replace;
	const char	*expect;	/* one --expect, or NULL */
	int		 status;	/* tu_report_check(): 0 holds, 1 not */
} mutations[] = {
	{ "the valid report", "", "", NULL, 0 },
	{ "a matching expectation", "", "", "consumers=2", 0 },
	{ "a string expectation", "", "", "mode=queue", 0 },
	{ "a wrong expectation", "", "", "mode=broadcast", 1 },
	{ "1 for true", "", "", "verified=1", 1 },
	{ "an expected key that is absent", "", "", "bogus=1", 1 },
	{ "no schema", "\"schema\":1,", "", NULL, 1 },
	{ "no items_per_s", "\"items_per_s\":6.0,", "", NULL, 1 },
	{ "no per_consumer", ",\"per_consumer\":[", ",\"consumers_\":[",
	  NULL, 1 },
	{ "verified as a string", "\"verified\":true",
	  "\"verified\":\"true\"", NULL, 1 },
	{ "consumers as a boolean", "\"consumers\":2", "\"consumers\":true",
	  NULL, 1 },
	{ "elapsed_s as a string", "\"elapsed_s\":0.5",
	  "\"elapsed_s\":\"0.5\"", NULL, 1 },
	{ "count as a float", "\"count\":3,", "\"count\":3.0,", NULL, 1 },
	{ "a negative maxbuf", "\"maxbuf\":10", "\"maxbuf\":-1", NULL, 1 },
	{ "an unknown mode", "\"mode\":\"queue\"", "\"mode\":\"fanout\"",
	  NULL, 1 },
	{ "per consumer without pid", "\"pid\":101,", "", NULL, 1 },
	{ "per consumer checksum as a string", "\"checksum\":1,",
	  "\"checksum\":\"1\",", NULL, 1 },
	{ "sums that do not add up", "\"consumed\":3,", "\"consumed\":4,",
	  NULL, 1 },
	{ "verified with a lost item", "\"lost\":0", "\"lost\":1", NULL, 1 },
	{ "verified with exit_status 1", "\"exit_status\":0,\"checksum_",
	  "\"exit_status\":1,\"checksum_", NULL, 1 },
	{ "damage with exit_status 0", "\"verified\":true",
	  "\"verified\":false", NULL, 1 },
	{ "a consumer count that is not the list's",
	  "\"consumers\":2", "\"consumers\":3", NULL, 1 },
	{ "a broadcast run short of items", "\"mode\":\"queue\"",
	  "\"mode\":\"broadcast\"", NULL, 1 },
	{ "an index out of place", "\"index\":1", "\"index\":5", NULL, 1 },
	{ "first_seq null with an item", "\"first_seq\":1",
	  "\"first_seq\":null", NULL, 1 },
	{ "NaN", "\"elapsed_s\":0.5", "\"elapsed_s\":NaN", NULL, 1 },
	{ "a duplicate key", "\"seed\":0,", "\"seed\":0,\"seed\":1,", NULL,
	  1 },
	{ "a truncated object", "}]}\n", "}]", NULL, 1 },
	{ "two objects", "}]}\n", "}]} {}\n", NULL, 1 },
	{ "nothing", NULL, "", NULL, 1 },
	{ "an array", NULL, "[]\n", NULL, 1 },
	{ "grep bait", NULL, "\"verified\":true \"exit_status\":0\n", NULL,
	  1 },
};

START_TEST(test_json_checker)
{
	const struct mutation *m = &mutations[_i];
	const char *expect[2] = { m->expect, NULL };
	char why[TU_WHY_MAX], *text, *at;
	size_t flen;
	int r;

	if (m->find == NULL)
		text = strdup(m->replace);
	else {
		at = strstr(base_report, m->find);
		ck_assert_msg(at != NULL, "%s: \"%s\" is not in the base report",
		    m->what, m->find);
		flen = strlen(m->find);
		ck_assert_int_ge(asprintf(&text, "%.*s%s%s",
		    (int)(at - base_report), base_report, m->replace,
		    at + flen), 0);
	}
	ck_assert_ptr_nonnull(text);
	r = tu_report_check(text, expect, why);
	ck_assert_msg(r == m->status, "%s: the checker says %d, want %d; "
	    "input %s; reasons: %s", m->what, r, m->status, text, why);
	if (m->status != 0)
		ck_assert_msg(why[0] != '\0', "%s: refused without saying why",
		    m->what);
	else
		ck_assert_msg(why[0] == '\0', "%s: accepted with reasons: %s",
		    m->what, why);
	free(text);
}
END_TEST

/* ---------------------------------------------------------------- suite */

static Suite *
ledger_suite(void)
{
	Suite *s = suite_create("ledger");
	TCase *tc;

	tc = tcase_create("modes");
	tcase_add_checked_fixture(tc, ledger_setup, ledger_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_matrix, 0, MATRIX_ROWS);
	tcase_add_loop_test(tc, test_more_consumers_than_items, 0,
	    NELEM(few_rows));
	tcase_add_loop_test(tc, test_seed, 0, NELEM(seed_rows));
	tcase_add_test(tc, test_queue_seat_turns);
	tcase_add_test(tc, test_broadcast_late_consumer);
	tcase_add_test(tc, test_kernel_limit);
	tcase_add_test(tc, test_kernel_limit_demo);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, ledger_setup, ledger_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_fault, 0, NELEM(fault_rows));
	tcase_add_loop_test(tc, test_queue_dup_three, 0, NELEM(dup3_rows));
	tcase_add_test(tc, test_ten_million);
	suite_add_tcase(s, tc);

	tc = tcase_create("unsafe");
	tcase_add_checked_fixture(tc, ledger_setup, ledger_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_unsafe_runs);
	tcase_add_test(tc, test_unsafe_broadcast_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_checked_fixture(tc, ledger_setup, ledger_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_json_demo, 0, NELEM(json_rows));
	tcase_add_loop_test(tc, test_json_checker, 0, NELEM(mutations));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	tu_init();
	sr = srunner_create(ledger_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
