/*
 * check_opts.c - option helpers (common/opts.c), names, clock and liveness
 * (names.c, clock.c, liveness.c), the protocol's rules and the mode tables
 * (protocol.c, modetab.c).
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live.h"
#include "mode.h"
#include "optloop.h"
#include "runopts.h"
#include "shmlib.h"
#include "take.h"
#include "testutil.h"

static Suite	*opts_suite(void);

/* ---------------------------------------------------------------- core */

START_TEST(test_opt_mode_names)
{
	enum shm_mode m = MODE_BROADCAST;

	ck_assert_int_eq(opt_mode("queue", &m), 0);
	ck_assert_int_eq(m, MODE_QUEUE);
	ck_assert_int_eq(opt_mode("broadcast", &m), 0);
	ck_assert_int_eq(m, MODE_BROADCAST);
	ck_assert_str_eq(mode_name(MODE_QUEUE), "queue");
	ck_assert_str_eq(mode_name(MODE_BROADCAST), "broadcast");
	/* Round trip. */
	ck_assert_int_eq(opt_mode(mode_name(MODE_QUEUE), &m), 0);
	ck_assert_int_eq(m, MODE_QUEUE);
}
END_TEST

START_TEST(test_opt_perm_accepts)
{
	static const struct { const char *s; mode_t want; } ok[] = {
		{ "0660", 0660 }, { "0600", 0600 }, { "0777", 0777 },
		{ "0640", 0640 }, { "600", 0600 }, { "0700", 0700 },
	};
	mode_t perm;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		perm = 0;
		ck_assert_msg(opt_perm(ok[i].s, &perm) == 0, "perm %s refused",
		    ok[i].s);
		ck_assert_msg(perm == ok[i].want, "perm %s gave %o", ok[i].s,
		    (unsigned)perm);
	}
}
END_TEST

START_TEST(test_pid_alive_self)
{
	ck_assert_int_eq(pid_alive(getpid()), 1);
	ck_assert_int_eq(pid_alive(getppid()), 1);
}
END_TEST

START_TEST(test_now_ns_monotonic)
{
	uint64_t a, b;

	a = now_ns();
	tu_sleep_ms(20);
	b = now_ns();
	ck_assert_uint_ge(b, a + 19000000ULL);
	ck_assert_uint_lt(b, a + (uint64_t)tu_ms(5000) * 1000000ULL);
}
END_TEST

/* -------------------------------------------------------------- limits */

START_TEST(test_pid_alive_nonpositive)
{
	ck_assert_int_eq(pid_alive(0), 0);
	ck_assert_int_eq(pid_alive(-1), 0);
	ck_assert_int_eq(pid_alive(-getpid()), 0);
}
END_TEST

/* pid 1 always exists; a pid we may not signal (EPERM) is alive too. */
START_TEST(test_pid_alive_init)
{
	ck_assert_int_eq(pid_alive(1), 1);
}
END_TEST

/* -------------------------------------------------------------- faults */

START_TEST(test_opt_mode_refuses)
{
	static const char *bad[] = {
		"", "Queue", "QUEUE", "queue ", " queue", "broad", "foo",
		"broadcastx", "q",
	};
	enum shm_mode m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = (enum shm_mode)42;
		errno = 0;
		ck_assert_msg(opt_mode(bad[i], &m) == -1, "mode \"%s\" "
		    "accepted", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg((int)m == 42, "mode \"%s\" refused but the "
		    "output was changed", bad[i]);
	}
}
END_TEST

/* The owner must keep read and write; only octal; nothing signed. */
START_TEST(test_opt_perm_refuses)
{
	static const char *bad[] = {
		"0400", "0200", "0000", "0", "0060", "0999", "abc", "-1",
		"-0660", "", "01777", "07777", "0660x", "0x1b0", "8",
	};
	mode_t perm;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		perm = 012345;
		errno = 0;
		ck_assert_msg(opt_perm(bad[i], &perm) == -1, "perm \"%s\" "
		    "accepted as %o", bad[i], (unsigned)perm);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(perm == 012345, "perm \"%s\" refused but the "
		    "output was changed", bad[i]);
	}
}
END_TEST

/* A child that has exited and been reaped is gone. */
START_TEST(test_pid_alive_reaped_child)
{
	pid_t pid;
	int st;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(pid_alive(pid), 0);
}
END_TEST

/* Killed with SIGKILL and reaped: gone as well. */
START_TEST(test_pid_alive_killed_child)
{
	pid_t pid;
	int st;

	pid = tu_fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		for (;;)
			pause();
	}
	ck_assert_int_eq(pid_alive(pid), 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(pid_alive(pid), 0);
}
END_TEST

/* ------------------------------------------------------------ runopts */

/* The shared options: each value lands in its field, others are not ours. */
START_TEST(test_run_opt_takes_ours)
{
	struct run_opts o;
	char msg[160] = "";

	run_opts_init(&o, 30);
	ck_assert_ptr_null(o.keypath);
	ck_assert_int_eq(o.proj, SHM_PROJ_ID);
	ck_assert_int_eq(o.timeout_s, 30);
	ck_assert_uint_eq(o.batch, SHM_BATCH_DEFAULT);
	ck_assert_int_eq(o.delay_ms, 0);
	ck_assert_int_eq(run_opt(&o, 'k', "/x/y.key", msg, sizeof(msg)), 1);
	ck_assert_str_eq(o.keypath, "/x/y.key");
	ck_assert_int_eq(run_opt(&o, 'p', "255", msg, sizeof(msg)), 1);
	ck_assert_int_eq(o.proj, 255);
	ck_assert_int_eq(run_opt(&o, 't', "86400", msg, sizeof(msg)), 1);
	ck_assert_int_eq(o.timeout_s, 86400);
	ck_assert_int_eq(run_opt(&o, 'B', "32766", msg, sizeof(msg)), 1);
	ck_assert_uint_eq(o.batch, 32766);
	ck_assert_int_eq(run_opt(&o, RUN_OPT_DELAY, "0", msg, sizeof(msg)), 1);
	ck_assert_int_eq(o.delay_ms, 0);
	ck_assert_int_eq(run_opt(&o, 'c', "5", msg, sizeof(msg)), 0);
	ck_assert_int_eq(run_opt(&o, 'n', "5", msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "");
}
END_TEST

/* The texts the programs print for a refused value, byte for byte. */
static const struct {
	int		 ch;
	const char	*arg, *msg;
} run_opt_bad[] = {
	{ 'p', "0", "proj_id 0: too small (1..255; ftok keeps only 8 bits)" },
	{ 'p', "+5", "proj_id +5: invalid (1..255; ftok keeps only 8 bits)" },
	{ 't', "86401", "timeout 86401: too large (1..86400 s)" },
	{ 't', " 5", "timeout  5: invalid (1..86400 s)" },
	{ 'B', "0", "batch 0: too small (1..32766)" },
	{ 'B', "32767", "batch 32767: too large (1..32766)" },
	{ RUN_OPT_DELAY, "60001", "delay 60001: too large (0..60000 ms)" },
	{ RUN_OPT_DELAY, "-1", "delay -1: invalid (0..60000 ms)" },
};

START_TEST(test_run_opt_refuses)
{
	struct run_opts o;
	char msg[160];

	run_opts_init(&o, 10);
	errno = 0;
	ck_assert_int_eq(run_opt(&o, run_opt_bad[_i].ch, run_opt_bad[_i].arg,
	    msg, sizeof(msg)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(msg, run_opt_bad[_i].msg);
}
END_TEST

/* No -k: the user's default file, the path key_default_path() gives. */
START_TEST(test_run_keypath_default)
{
	struct run_opts o;
	char want[PATH_MAX];

	run_opts_init(&o, 30);
	ck_assert_int_eq(key_default_path(want, sizeof(want)), 0);
	ck_assert_str_eq(run_keypath(&o), want);
	o.keypath = "/elsewhere.key";
	ck_assert_str_eq(run_keypath(&o), "/elsewhere.key");
}
END_TEST

static void
add_runopts_tests(Suite *s)
{
	TCase *tc = tcase_create("runopts");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_run_opt_takes_ours);
	tcase_add_loop_test(tc, test_run_opt_refuses, 0,
	    sizeof(run_opt_bad) / sizeof(run_opt_bad[0]));
	tcase_add_test(tc, test_run_keypath_default);
	suite_add_tcase(s, tc);
}

/*
 * common/live.c and common/protocol.c: each rule on the values where it
 * turns.
 */
START_TEST(test_live_records_clamp)
{
	ck_assert_uint_eq(live_records(3, MODE_QUEUE, 0), 3);
	ck_assert_uint_eq(live_records(3, MODE_BROADCAST, 2), 2);
	ck_assert_uint_eq(live_records(3, MODE_BROADCAST, 5), 3);
	/* A hostile count never takes a loop past the table. */
	ck_assert_uint_eq(live_records(UINT32_MAX, MODE_QUEUE, 0),
	    SHM_MAX_CONSUMERS);
}
END_TEST

START_TEST(test_proto_record_counts)
{
	ck_assert(proto_record_counts(CS_ACTIVE));
	ck_assert(proto_record_counts(CS_DONE));
	ck_assert(!proto_record_counts(CS_FREE));
	ck_assert(!proto_record_counts(CS_FAILED));
	ck_assert(!proto_record_counts(CS_DIED));
	ck_assert(!proto_record_counts(99));
}
END_TEST

START_TEST(test_live_drained)
{
	/* Without -n one consumer must have come; with -n 3, three. */
	ck_assert(!live_drained(0, 0, 0));
	ck_assert(live_drained(1, 0, 0));
	ck_assert(!live_drained(1, 0, 1));
	ck_assert(!live_drained(2, 3, 0));
	ck_assert(live_drained(3, 3, 0));
	ck_assert(!live_drained(3, 3, 1));
}
END_TEST

START_TEST(test_proto_semaphores)
{
	int i;

	for (i = 0; i < SEM_BASE; i++) {
		ck_assert(proto_sem_used(MODE_QUEUE, SHM_F_VERIFY, i));
		ck_assert_int_eq(proto_sem_used(MODE_BROADCAST, 0, i),
		    i != SEM_EMPTY && i != SEM_FULL);
		ck_assert_int_eq(proto_sem_used(MODE_QUEUE, SHM_F_UNSAFE, i),
		    i != SEM_EMPTY && i != SEM_FULL);
	}
	ck_assert(proto_sem_used(MODE_BROADCAST, 0, SEM_FULL_I(2)));
}
END_TEST

START_TEST(test_proto_look_due)
{
	uint64_t last = 0, t = 5000000000ULL;

	ck_assert(proto_look_due(&last, t));
	ck_assert(last == t);
	ck_assert(!proto_look_due(&last, t + SHM_LOOK_MS * 1000000ULL - 1));
	ck_assert(last == t);
	ck_assert(proto_look_due(&last, t + SHM_LOOK_MS * 1000000ULL));
}
END_TEST

/* opt_loop's callback in the tests: -x takes a number, -y refuses it. */
static int
own_xy(void *ctx, int ch, const char *arg, char *msg, size_t len)
{
	if (ch == 'x') {
		*(int *)ctx = atoi(arg);
		return 1;
	}
	if (ch == 'y') {
		(void)snprintf(msg, len, "y %s: refused", arg);
		return -1;
	}
	return 0;
}

/* getopt's state is global: each parse starts it again. */
static int
loop(struct run_opts *ro, int *x, char *msg, size_t len, int slides,
    int argc, ...)
{
	static const struct option longopts[] = {
		{ "delay", required_argument, NULL, RUN_OPT_DELAY },
		{ NULL, 0, NULL, 0 }
	};
	struct opt_loop l = { "k:p:x:y:L:", longopts, ro, 0, own_xy, x };
	char *argv[16];
	va_list ap;
	int i;

	va_start(ap, argc);
	for (i = 0; i < argc && i < 15; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[i] = NULL;
	l.slides = slides;
	optind = 0;
	opterr = 0;
	run_opts_init(ro, 30);
	return opt_loop(&l, argc, argv, msg, len);
}

START_TEST(test_opt_loop)
{
	struct run_opts ro;
	char msg[128];
	int x = 0;

	ck_assert_int_eq(loop(&ro, &x, msg, sizeof(msg), 0, 6, "prog", "-p",
	    "7", "-x", "42", "--delay=5"), 0);
	ck_assert_int_eq(ro.proj, 7);
	ck_assert_int_eq(ro.delay_ms, 5);
	ck_assert_int_eq(x, 42);
	/* A refused shared value and a refused own value: their lines. */
	ck_assert_int_eq(loop(&ro, &x, msg, sizeof(msg), 0, 3, "prog", "-p",
	    "0"), -1);
	ck_assert_msg(strncmp(msg, "proj_id 0", 9) == 0, "msg %s", msg);
	ck_assert_int_eq(loop(&ro, &x, msg, sizeof(msg), 0, 3, "prog", "-y",
	    "1"), -1);
	ck_assert_str_eq(msg, "y 1: refused");
	/* Usage: an unknown option, an operand; msg empty. */
	ck_assert_int_eq(loop(&ro, &x, msg, sizeof(msg), 0, 2, "prog", "-q"),
	    -1);
	ck_assert_str_eq(msg, "");
	ck_assert_int_eq(loop(&ro, &x, msg, sizeof(msg), 0, 2, "prog",
	    "extra"), -1);
	ck_assert_str_eq(msg, "");
	/* -L is taken only by a slides program, and only as slides. */
	ck_assert_int_eq(loop(&ro, &x, msg, sizeof(msg), 1, 3, "prog", "-L",
	    "slides"), 0);
	ck_assert_int_eq(loop(&ro, &x, msg, sizeof(msg), 1, 3, "prog", "-L",
	    "other"), -1);
	ck_assert_msg(strncmp(msg, "protocol other", 14) == 0, "msg %s", msg);
	ck_assert_int_eq(loop(&ro, &x, msg, sizeof(msg), 0, 3, "prog", "-L",
	    "slides"), -1);
}
END_TEST

/* common/json.c: what a string becomes, bytes that are not text too. */
START_TEST(test_json_str)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain", "\"plain\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "tab\tdel\x7f", "\"tab\\u0009del\\u007f\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
		{ "bad\xff", "\"bad\\ufffd\"" },
		{ "over\xc0\xaf", "\"over\\ufffd\\ufffd\"" },
	};
	char *buf = NULL;
	size_t len = 0, i;
	FILE *fp;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
		json_str(fp, cases[i].in);
		ck_assert_int_eq(fclose(fp), 0);
		ck_assert_str_eq(buf, cases[i].out);
		free(buf);
		buf = NULL;
	}
	ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
	json_str(fp, NULL);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_str_eq(buf, "null");
	free(buf);
}
END_TEST

/*
 * Each mode's table (common/modetab.c): the header's mode and flags choose
 * it, its flags agree with each other, and -B chooses the consumer's
 * operations within it.
 */
START_TEST(test_mode_tables)
{
	const struct mode_table *q = run_mode(MODE_QUEUE, SHM_F_VERIFY);
	const struct mode_table *b = run_mode(MODE_BROADCAST, 0);
	const struct mode_table *u = run_mode(MODE_QUEUE, SHM_F_UNSAFE);
	const struct mode_table *all[3] = { q, b, u };
	struct shm_header h;
	int i;

	ck_assert(q != b && b != u && q != u);
	ck_assert_int_eq(q->mode, MODE_QUEUE);
	ck_assert_int_eq(b->mode, MODE_BROADCAST);
	ck_assert_int_eq(u->mode, MODE_QUEUE);
	/* The producer refuses --unsafe -m broadcast: the modes differ. */
	ck_assert_ptr_eq(run_mode(MODE_BROADCAST, SHM_F_UNSAFE), u);
	ck_assert(b->flags & MF_NEEDS_N);
	ck_assert(b->flags & MF_EVERY_ITEM);
	ck_assert(!(q->flags & MF_EVERY_ITEM) && !(u->flags & MF_EVERY_ITEM));
	ck_assert(q->flags & MF_RECOVER);
	ck_assert(u->flags & MF_UNGUARDED);
	/* Broadcast has a record per pair; a queue the whole table. */
	ck_assert_uint_eq(mode_records(b, 3), 3);
	ck_assert_uint_eq(mode_records(q, 3), SHM_MAX_CONSUMERS);
	ck_assert_uint_eq(mode_records(u, 0), SHM_MAX_CONSUMERS);
	for (i = 0; i < 3; i++) {
		/* Pairs, or one shared tail: never both, never neither. */
		ck_assert(!(all[i]->flags & MF_PAIRS) !=
		    !(all[i]->flags & MF_SHARED_TAIL));
		ck_assert(!(all[i]->flags & MF_NEEDS_N) ||
		    (all[i]->flags & MF_PAIRS));
		/* Only a counted ring can be repaired; nothing guards both. */
		ck_assert(!(all[i]->flags & MF_RECOVER) ||
		    (all[i]->flags & MF_COUNTED));
		ck_assert(!(all[i]->flags & MF_UNGUARDED) ||
		    !(all[i]->flags & (MF_COUNTED | MF_PAIRS)));
		ck_assert_ptr_nonnull(all[i]->take);
		ck_assert_ptr_nonnull(all[i]->take_one);
		ck_assert(all[i]->views != NULL);
		ck_assert(all[i]->free_hint != NULL);
		ck_assert_ptr_nonnull(all[i]->waiting);
		ck_assert_ptr_nonnull(all[i]->text);
	}
	memset(&h, 0, sizeof(h));
	h.mode = MODE_QUEUE;
	ck_assert_ptr_eq(mode_ops(&h, 4096), &queue_ops);
	ck_assert_ptr_eq(mode_ops(&h, 1), &classic_ops);
	h.mode = MODE_BROADCAST;
	ck_assert_ptr_eq(mode_ops(&h, 4096), &bcast_ops);
	ck_assert_ptr_eq(mode_ops(&h, 1), &bcast_ops);
	h.mode = MODE_QUEUE;
	h.flags = SHM_F_UNSAFE;
	ck_assert_ptr_eq(mode_ops(&h, 4096), &unsafe_ops);
	ck_assert_ptr_eq(mode_ops(&h, 1), &unsafe_ops);
}
END_TEST

/*
 * The producer's side of each table on a ring in ordinary memory: which
 * semaphores it waits on and posts to, and how many slots it may take
 * without waiting.
 */
START_TEST(test_mode_views)
{
	const struct mode_table *q = run_mode(MODE_QUEUE, 0);
	const struct mode_table *b = run_mode(MODE_BROADCAST, 0);
	const struct mode_table *u = run_mode(MODE_QUEUE, SHM_F_UNSAFE);
	struct shm_consumer table[3];
	struct shm_header h;
	struct shm_ring r;
	struct sembuf ops[3];

	memset(&h, 0, sizeof(h));
	memset(table, 0, sizeof(table));
	memset(&r, 0, sizeof(r));
	r.hdr = &h;
	r.table = table;
	ck_assert_uint_eq(q->views(&r, 3, ops, 1, 5, 0), 1);
	ck_assert_uint_eq(ops[0].sem_num, SEM_FULL);
	ck_assert_int_eq(ops[0].sem_op, 5);
	ck_assert_uint_eq(q->views(&r, 0, ops, 0, -1, IPC_NOWAIT), 1);
	ck_assert_uint_eq(ops[0].sem_num, SEM_EMPTY);
	ck_assert_int_eq(ops[0].sem_flg, IPC_NOWAIT);
	ck_assert_uint_eq(u->views(&r, 3, ops, 1, 1, 0), 0);
	/* Broadcast: the dead consumer 1 is left out. */
	table[0].state = CS_ACTIVE;
	table[1].state = CS_DIED;
	table[2].state = CS_DONE;
	ck_assert_uint_eq(b->views(&r, 3, ops, 0, -2, 0), 2);
	ck_assert_uint_eq(ops[0].sem_num, SEM_EMPTY_I(0));
	ck_assert_uint_eq(ops[1].sem_num, SEM_EMPTY_I(2));
	ck_assert_int_eq(ops[1].sem_op, -2);
	ck_assert_uint_eq(b->views(&r, 3, ops, 1, 1, 0), 2);
	ck_assert_uint_eq(ops[1].sem_num, SEM_FULL_I(2));
	/* Free hints: a ring of 10 holding position 20, freed up to 15. */
	h.freed = 15;
	ck_assert_uint_eq(q->free_hint(&r, 10, 0, 20), 4);
	h.freed = 11;
	ck_assert_uint_eq(q->free_hint(&r, 10, 0, 20), 0);
	table[0].freed = 18;
	table[1].freed = 0;	/* dead: does not hold the ring */
	table[2].freed = 16;
	ck_assert_uint_eq(b->free_hint(&r, 10, 3, 20), 5);
	table[2].state = CS_FAILED;
	ck_assert_uint_eq(b->free_hint(&r, 10, 3, 20), 7);
	table[0].state = CS_DIED;
	ck_assert_uint_eq(b->free_hint(&r, 10, 3, 20), 0);
	ck_assert_uint_eq(u->free_hint(&r, 10, 3, 20), 0);
	ck_assert_int_eq(mode_sem_used(q, SEM_FULL), 1);
	ck_assert_int_eq(mode_sem_used(b, SEM_FULL), 0);
	ck_assert_int_eq(mode_sem_used(u, SEM_EMPTY), 0);
	ck_assert_int_eq(mode_sem_used(u, SEM_MUTEX), 1);
}
END_TEST

static void
add_protocol_tests(Suite *s)
{
	TCase *tc = tcase_create("protocol");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_live_records_clamp);
	tcase_add_test(tc, test_proto_record_counts);
	tcase_add_test(tc, test_live_drained);
	tcase_add_test(tc, test_proto_semaphores);
	tcase_add_test(tc, test_mode_tables);
	tcase_add_test(tc, test_mode_views);
	tcase_add_test(tc, test_proto_look_due);
	tcase_add_test(tc, test_opt_loop);
	tcase_add_test(tc, test_json_str);
	suite_add_tcase(s, tc);
}

static Suite *
opts_suite(void)
{
	Suite *s = suite_create("opts");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_opt_mode_names);
	tcase_add_test(tc, test_opt_perm_accepts);
	tcase_add_test(tc, test_pid_alive_self);
	tcase_add_test(tc, test_now_ns_monotonic);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_pid_alive_nonpositive);
	tcase_add_test(tc, test_pid_alive_init);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_opt_mode_refuses);
	tcase_add_test(tc, test_opt_perm_refuses);
	tcase_add_test(tc, test_pid_alive_reaped_child);
	tcase_add_test(tc, test_pid_alive_killed_child);
	suite_add_tcase(s, tc);
	add_runopts_tests(s);
	add_protocol_tests(s);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	tu_init();
	sr = srunner_create(opts_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
