/*
 * check_ring.c - ring index arithmetic, item values, checksums, the
 * ledger tally (common/ring.c) and the consumers' fast span check
 * (common/take.c), both its copies.  Pure functions: no IPC, no files.
 */
#include <sys/types.h>

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shmlib.h"
#include "take.h"
#include "testutil.h"

static Suite	*ring_suite(void);

/* ---------------------------------------------------------------- core */

START_TEST(test_slot_is_pos_mod_capacity)
{
	static const uint32_t caps[] = { 1, 2, 3, 10, 1024, SHM_MAXBUF_MAX };
	uint64_t pos;
	size_t i;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		for (pos = 0; pos < 3 * (uint64_t)caps[i] + 5; pos++)
			ck_assert_uint_eq(ring_slot(pos, caps[i]),
			    pos % caps[i]);
}
END_TEST

/* Consecutive positions walk the slots in order and wrap to 0. */
START_TEST(test_slot_wraps_around)
{
	uint32_t cap = 10, s, prev = 0;
	uint64_t pos;

	for (pos = 0; pos < 100; pos++) {
		s = ring_slot(pos, cap);
		if (pos > 0)
			ck_assert_uint_eq(s, prev + 1 == cap ? 0 : prev + 1);
		prev = s;
	}
	ck_assert_uint_eq(ring_slot(9, 10), 9);
	ck_assert_uint_eq(ring_slot(10, 10), 0);
	ck_assert_uint_eq(ring_slot(11, 10), 1);
}
END_TEST

START_TEST(test_item_value_unseeded_is_seq)
{
	uint64_t seq;

	for (seq = 0; seq < 100000; seq++)
		ck_assert_int_eq(item_value(0, seq), (int32_t)seq);
	/* The slides' int slots: the value is seq truncated to 32 bits. */
	ck_assert_int_eq(item_value(0, 0x7fffffffULL), INT32_MAX);
	ck_assert_int_eq(item_value(0, 0x80000000ULL), INT32_MIN);
	ck_assert_int_eq(item_value(0, 0xffffffffULL), -1);
	ck_assert_int_eq(item_value(0, 0x100000005ULL), 5);
}
END_TEST

START_TEST(test_item_value_seeded)
{
	uint64_t seq, same = 0, other = 0;
	int32_t v;

	for (seq = 0; seq < 10000; seq++) {
		v = item_value(12345, seq);
		ck_assert_int_eq(v, item_value(12345, seq));	/* pure */
		if (v == (int32_t)seq)
			same++;
		if (v != item_value(12346, seq))
			other++;
	}
	ck_assert_msg(same < 10, "%llu of 10000 seeded values equal seq",
	    (unsigned long long)same);
	ck_assert_msg(other > 9990, "seeds 12345 and 12346 agree on %llu of "
	    "10000 values", (unsigned long long)(10000 - other));
	ck_assert_int_ne(item_value(1, 0), item_value(1, 1));
}
END_TEST

START_TEST(test_expected_checksum)
{
	uint64_t n, sum;

	ck_assert_uint_eq(expected_checksum(0, 0), 0);
	ck_assert_uint_eq(expected_checksum(777, 0), 0);
	ck_assert_uint_eq(expected_checksum(0, 1), 0);
	ck_assert_uint_eq(expected_checksum(0, 2), 1);
	ck_assert_uint_eq(expected_checksum(0, 100000),
	    100000ULL * 99999ULL / 2);
	/* Unseeded, in closed form: values wrap at 2^32 (3 rounds + 7). */
	for (sum = 0, n = 0; n < 1000; n++) {
		ck_assert_uint_eq(expected_checksum(0, n), sum);
		sum += (uint32_t)item_value(0, n);
	}
	/* 0 + 1 + ... + (2^32 - 1) = 2^31 (2^32 - 1) = 0x7fffffff80000000 */
	ck_assert_uint_eq(expected_checksum(0, (3ULL << 32) + 7),
	    3 * 0x7fffffff80000000ULL + 21);
	/* Seeded: the running sum of the unsigned values, mod 2^64. */
	for (sum = 0, n = 0; n < 1000; n++) {
		ck_assert_uint_eq(expected_checksum(99, n), sum);
		sum += (uint32_t)item_value(99, n);
	}
	ck_assert_uint_ne(expected_checksum(99, 1000), expected_checksum(0,
	    1000));
}
END_TEST

/*
 * Unseeded, the sum is a closed form: it must equal the running sum of
 * (uint32_t)seq, also past 2^32 items where the values wrap.  The large
 * constants were computed independently (Python, exact integers, mod 2^64).
 */
START_TEST(test_expected_checksum_closed_form)
{
	uint64_t n, sum;

	for (sum = 0, n = 0; n < 5000; n++) {
		ck_assert_uint_eq(expected_checksum(0, n), sum);
		sum += (uint32_t)item_value(0, n);
	}
	ck_assert_uint_eq(expected_checksum(0, (UINT64_C(1) << 32) + 3),
	    UINT64_C(9223372034707292163));
	ck_assert_uint_eq(expected_checksum(0, 3 * (UINT64_C(1) << 32) +
	    100000), UINT64_C(9223372035412274864));
	ck_assert_uint_eq(expected_checksum(0, UINT64_C(10000000000)) -
	    expected_checksum(0, UINT64_C(9999999999)),
	    (uint32_t)item_value(0, UINT64_C(9999999999)));
}
END_TEST

START_TEST(test_ledger_exact_once)
{
	uint16_t ledger[100];
	uint64_t lost = 99, dup = 99;
	size_t i;

	for (i = 0; i < 100; i++)
		ledger[i] = 1;
	ledger_tally(ledger, 100, 1, &lost, &dup);
	ck_assert_uint_eq(lost, 0);
	ck_assert_uint_eq(dup, 0);
	for (i = 0; i < 100; i++)
		ledger[i] = 3;
	ledger_tally(ledger, 100, 3, &lost, &dup);
	ck_assert_uint_eq(lost, 0);
	ck_assert_uint_eq(dup, 0);
}
END_TEST

/* -------------------------------------------------------------- limits */

START_TEST(test_slot_huge_positions)
{
	static const uint32_t caps[] = { 1, 2, 3, 7, 10, 1024, SHM_MAXBUF_MAX };
	uint64_t pos;
	size_t i;
	int d;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		for (d = 0; d < 64; d++) {
			pos = UINT64_MAX - (uint64_t)d;
			ck_assert_uint_eq(ring_slot(pos, caps[i]),
			    pos % caps[i]);
			ck_assert_uint_lt(ring_slot(pos, caps[i]), caps[i]);
			pos = (uint64_t)1 << 63 | (uint64_t)d;
			ck_assert_uint_eq(ring_slot(pos, caps[i]),
			    pos % caps[i]);
		}
	ck_assert_uint_eq(ring_slot(UINT64_MAX, 10), 5);
	ck_assert_uint_eq(ring_slot(UINT64_MAX, 1024), 1023);
	ck_assert_uint_eq(ring_slot(0, 1024), 0);	/* 2^64 wraps to 0 */
}
END_TEST

START_TEST(test_slot_capacity_one)
{
	uint64_t pos;

	for (pos = 0; pos < 1000; pos++)
		ck_assert_uint_eq(ring_slot(pos, 1), 0);
	ck_assert_uint_eq(ring_slot(UINT64_MAX, 1), 0);
	ck_assert_uint_eq(ring_slot(UINT64_MAX - 1, 1), 0);
}
END_TEST

START_TEST(test_ledger_empty)
{
	uint64_t lost = 99, dup = 99;

	ledger_tally(NULL, 0, 1, &lost, &dup);
	ck_assert_uint_eq(lost, 0);
	ck_assert_uint_eq(dup, 0);
}
END_TEST

/* -------------------------------------------------------------- faults */

/* Queue mode: each seq exactly once. */
START_TEST(test_ledger_counts_expect_one)
{
	/*            seq: 0  1  2  3  4  5  6  7 */
	uint16_t ledger[] = { 1, 0, 2, 1, 0, 5, 1, 1 };
	uint64_t lost, dup;

	ledger_tally(ledger, 8, 1, &lost, &dup);
	ck_assert_uint_eq(lost, 2);		/* seq 1 and 4 */
	ck_assert_uint_eq(dup, 1 + 4);		/* seq 2 once, seq 5 4 times */
	/* Only the first count entries are looked at. */
	ledger_tally(ledger, 1, 1, &lost, &dup);
	ck_assert_uint_eq(lost, 0);
	ck_assert_uint_eq(dup, 0);
}
END_TEST

/* Broadcast with three consumers: each seq exactly three times. */
START_TEST(test_ledger_counts_expect_three)
{
	uint16_t ledger[] = { 3, 0, 2, 4, 3, 6, 1, 3 };
	uint64_t lost, dup;

	ledger_tally(ledger, 8, 3, &lost, &dup);
	ck_assert_uint_eq(lost, 3 + 1 + 2);	/* seq 1, 2, 6 */
	ck_assert_uint_eq(dup, 1 + 3);		/* seq 3, 5 */
}
END_TEST

/* A loss and a duplicate elsewhere do not cancel out. */
START_TEST(test_ledger_loss_and_dup_do_not_cancel)
{
	uint16_t ledger[1000];
	uint64_t lost, dup;
	size_t i;

	for (i = 0; i < 1000; i++)
		ledger[i] = 1;
	ledger[10] = 0;
	ledger[990] = 2;
	ledger_tally(ledger, 1000, 1, &lost, &dup);
	ck_assert_uint_eq(lost, 1);
	ck_assert_uint_eq(dup, 1);
	ledger[500] = UINT16_MAX;
	ledger_tally(ledger, 1000, 1, &lost, &dup);
	ck_assert_uint_eq(dup, 1 + (UINT16_MAX - 1));
}
END_TEST

/* ------------------------------------------------------ range ledger */

/*
 * Feeds a multiset of sequence numbers to the range ledger, in claims of
 * runs as a consumer cuts them, in the order given.
 */
static void
feed(struct shm_ledger *l, const uint64_t *seqs, size_t n, size_t claim)
{
	static uint64_t runs[64][2];
	uint32_t nr;
	size_t i, j;

	for (i = 0; i < n; i += claim) {
		nr = 0;
		for (j = i; j < n && j < i + claim; j++) {
			if (nr > 0 && runs[nr - 1][1] == seqs[j])
				runs[nr - 1][1]++;
			else {
				ck_assert_uint_lt(nr, 64);
				runs[nr][0] = seqs[j];
				runs[nr][1] = seqs[j] + 1;
				nr++;
			}
		}
		ledger_add(l, (const uint64_t (*)[2])runs, nr, j - i);
	}
}

/* Ranges touching, overlapping and swallowing others merge into one. */
START_TEST(test_rset_add_merges)
{
	uint64_t r[8][2];
	uint32_t n = 0;

	ck_assert_int_eq(rset_add(r, &n, 8, 10, 20), 10);
	ck_assert_int_eq(rset_add(r, &n, 8, 30, 40), 10);
	ck_assert_int_eq(rset_add(r, &n, 8, 0, 5), 5);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(rset_add(r, &n, 8, 20, 30), 10);	/* touches both */
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(r[1][0], 10);
	ck_assert_uint_eq(r[1][1], 40);
	ck_assert_int_eq(rset_add(r, &n, 8, 12, 18), 0);	/* inside */
	ck_assert_int_eq(rset_add(r, &n, 8, 3, 50), 50 - 3 - 2 - 30);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(r[0][0], 0);
	ck_assert_uint_eq(r[0][1], 50);
	ck_assert_int_eq(rset_add(r, &n, 8, 7, 7), 0);		/* empty */
	n = 0;
	ck_assert_int_eq(rset_add(r, &n, 1, 0, 1), 1);
	ck_assert_int_eq(rset_add(r, &n, 1, 1, 2), 1);		/* extends */
	ck_assert_int_eq(rset_add(r, &n, 1, 5, 6), -1);	/* no room */
	ck_assert_uint_eq(n, 1);
}
END_TEST

/*
 * The range ledger gives exactly what the old array of counters gave,
 * for streams with drops, repeats and reordering, in claims of any size
 * and completed in any order.
 */
START_TEST(test_ledger_ranges_match_counters)
{
	static struct shm_ledger l;
	static uint64_t seqs[3000];
	static uint16_t counters[1000];
	uint64_t rng = 0x2545f4914f6cdd1dULL + (uint64_t)_i, lost, dup, wl, wd;
	size_t n = 0, i, claim = 1 + (size_t)_i % 40;
	uint64_t s;

	memset(&l, 0, sizeof(l));
	memset(counters, 0, sizeof(counters));
	for (s = 0; s < 1000 && n < 3000; s++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		switch ((rng >> 33) % 50) {
		case 0:				/* dropped */
			break;
		case 1:				/* repeated */
			seqs[n++] = s;
			seqs[n++] = s;
			break;
		case 2:				/* one taken far ahead */
			seqs[n++] = (rng >> 13) % 1000;
			seqs[n++] = s;
			break;
		default:
			seqs[n++] = s;
		}
	}
	/* Claims complete out of order: swap neighbouring claims. */
	for (i = 0; i + 2 * claim <= n; i += 2 * claim * 3) {
		uint64_t tmp[40];

		memcpy(tmp, seqs + i, claim * sizeof(*tmp));
		memmove(seqs + i, seqs + i + claim, claim * sizeof(*tmp));
		memcpy(seqs + i + claim, tmp, claim * sizeof(*tmp));
	}
	for (i = 0; i < n; i++)
		counters[seqs[i]]++;
	feed(&l, seqs, n, claim);
	ledger_tally(counters, 1000, 1, &wl, &wd);
	ck_assert_uint_eq(ledger_read(&l, 1000, &lost, &dup), 0);
	ck_assert_uint_eq(lost, wl);
	ck_assert_uint_eq(dup, wd);
	ck_assert_uint_gt(wl + wd, 0);
}
END_TEST

/* A stream too broken for the table says so; damage is never believed. */
START_TEST(test_ledger_inexact)
{
	static struct shm_ledger l;
	static uint64_t seqs[2 * SHM_LEDGER_RANGES + 10];
	uint64_t lost = 7, dup = 7;
	size_t i;

	memset(&l, 0, sizeof(l));
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		seqs[i] = 2 * i;		/* every other number */
	feed(&l, seqs, sizeof(seqs) / sizeof(seqs[0]), 16);
	ck_assert_uint_eq(l.nranges, SHM_LEDGER_RANGES);
	ck_assert_uint_gt(l.untracked, 0);
	ck_assert_uint_eq(ledger_read(&l, 1000000, &lost, &dup) & LEDGER_FULL,
	    LEDGER_FULL);
	ck_assert_ptr_nonnull(ledger_reason(LEDGER_FULL));

	memset(&l, 0, sizeof(l));
	seqs[0] = 5;
	feed(&l, seqs, 1, 1);
	ck_assert_uint_eq(ledger_read(&l, 10, &lost, &dup), 0);
	ck_assert_uint_eq(lost, 9);
	ck_assert_uint_eq(dup, 0);
	l.distinct = 2;				/* does not add up */
	ck_assert_uint_eq(ledger_read(&l, 10, &lost, &dup), LEDGER_DAMAGED);
	l.distinct = 1;
	l.ranges[0][1] = 11;			/* beyond the count */
	ck_assert_uint_eq(ledger_read(&l, 10, &lost, &dup), LEDGER_DAMAGED);
	l.ranges[0][1] = 6;
	l.nranges = SHM_LEDGER_RANGES + 1;	/* beyond the table */
	ck_assert_uint_eq(ledger_read(&l, 10, &lost, &dup), LEDGER_DAMAGED);
	ledger_add(&l, (const uint64_t (*)[2])l.ranges, 1, 1);
	ck_assert_uint_eq(l.inexact & LEDGER_DAMAGED, LEDGER_DAMAGED);
	ck_assert_ptr_nonnull(ledger_reason(LEDGER_DAMAGED));
	ck_assert_ptr_null(ledger_reason(0));
}
END_TEST

/* ------------------------------------------------------ the fast span */

/*
 * A broadcast consumer's handle on a private ring of cap slots, with no
 * ledger and no segment: what tally_span() reads.  vec 0 forces the
 * plain checker, 1 lets taker_init() pick the AVX2 copy where the CPU
 * has it, so that both are run against the same spans.
 */
struct span_fx {
	struct shm_header hdr;
	struct shm_consumer me;
	struct shm_ring ring;
	struct shm_taker tk;
};

static void
span_fx_init(struct span_fx *f, uint32_t cap, uint64_t count, int vec)
{
	memset(f, 0, sizeof(*f));
	f->hdr.capacity = cap;
	f->hdr.count = count;
	f->ring.hdr = &f->hdr;
	ck_assert_ptr_nonnull(f->ring.slots = calloc(cap, sizeof(int32_t)));
	ck_assert_ptr_nonnull(f->ring.tags = calloc(cap, sizeof(uint64_t)));
	f->tk.ring = &f->ring;
	f->tk.run = &f->hdr;
	f->tk.me = &f->me;
	f->tk.no_vector = !vec;
	ck_assert_int_eq(taker_init(&f->tk), 0);
}

static void
span_fx_free(struct span_fx *f)
{
	taker_free(&f->tk);
	free(f->ring.slots);
	free(f->ring.tags);
}

/*
 * The fast path adds a stretch's values without reading them twice: its
 * sum must be the items' own, also when the values ((uint32_t)seq) wrap
 * at 2^32 inside the stretch, and with the stretch wrapping the ring.
 */
START_TEST(test_span_sum_wraps_at_2_32)
{
	static const uint64_t firsts[] = { 0, 12345, (1ULL << 32) - 300,
	    (1ULL << 32) - 1, 1ULL << 32, (5ULL << 32) - 7 };
	struct span_fx f;
	uint64_t first, want, i;
	uint32_t k = 700, cap = 1000;
	size_t j;

	for (j = 0; j < sizeof(firsts) / sizeof(firsts[0]); j++) {
		first = firsts[j];
		span_fx_init(&f, cap, 6ULL << 32, _i);
		ring_fill(&f.ring, cap, first, k, 0);
		f.tk.t.next = first;
		for (want = 0, i = 0; i < k; i++)
			want += (uint32_t)(first + i);
		ck_assert_msg(tally_span(&f.tk, first, k, 1) == 1,
		    "first %llu: the clean span was refused",
		    (unsigned long long)first);
		ck_assert_uint_eq(f.tk.t.consumed, k);
		ck_assert_msg(f.tk.t.checksum == want, "first %llu: sum %llu, "
		    "want %llu", (unsigned long long)first,
		    (unsigned long long)f.tk.t.checksum,
		    (unsigned long long)want);
		span_fx_free(&f);
	}
}
END_TEST

/*
 * One wrong bit anywhere in a stretch (a tag's low or high word, a
 * value) must send it to the per-item path, for every length a vector
 * loop splits differently (its body, its tail, both) and every place.
 */
START_TEST(test_span_refuses_any_damage)
{
	static const uint32_t lens[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17,
	    31, 32, 33, 63, 64, 65, 4095, 4096 };
	struct span_fx f;
	uint64_t first = (3ULL << 32) + 100;
	uint32_t n, cap = 4096, at, kind;
	size_t j;

	span_fx_init(&f, cap, 4ULL << 32, _i);
	for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
		n = lens[j];
		for (at = 0; at < n; at += at < 40 ? 1 : 997) {
			for (kind = 0; kind < 3; kind++) {
				ring_fill(&f.ring, cap, first, n, 0);
				if (kind == 0)
					f.ring.tags[ring_slot(first + at, cap)] ^= 1;
				else if (kind == 1)
					f.ring.tags[ring_slot(first + at, cap)] ^=
					    1ULL << 40;
				else
					f.ring.slots[ring_slot(first + at, cap)] ^=
					    1 << 20;
				f.tk.t.next = first;
				ck_assert_msg(tally_span(&f.tk, first, n, 1) == 0,
				    "length %u, damage %u at %u passed", n,
				    kind, at);
			}
		}
		ring_fill(&f.ring, cap, first, n, 0);
		f.tk.t.next = first;
		ck_assert_msg(tally_span(&f.tk, first, n, 1) == 1,
		    "length %u: the clean span was refused", n);
		first += n;
	}
	span_fx_free(&f);
}
END_TEST

static Suite *
ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_slot_is_pos_mod_capacity);
	tcase_add_test(tc, test_slot_wraps_around);
	tcase_add_test(tc, test_item_value_unseeded_is_seq);
	tcase_add_test(tc, test_item_value_seeded);
	tcase_add_test(tc, test_expected_checksum);
	tcase_add_test(tc, test_expected_checksum_closed_form);
	tcase_add_test(tc, test_ledger_exact_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_slot_huge_positions);
	tcase_add_test(tc, test_slot_capacity_one);
	tcase_add_test(tc, test_ledger_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_ledger_counts_expect_one);
	tcase_add_test(tc, test_ledger_counts_expect_three);
	tcase_add_test(tc, test_ledger_loss_and_dup_do_not_cancel);
	tcase_add_test(tc, test_rset_add_merges);
	tcase_add_loop_test(tc, test_ledger_ranges_match_counters, 0, 40);
	tcase_add_test(tc, test_ledger_inexact);
	suite_add_tcase(s, tc);

	/* _i: 0 the plain checker, 1 the one taker_init() picks (AVX2). */
	tc = tcase_create("span");
	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_span_sum_wraps_at_2_32, 0, 2);
	tcase_add_loop_test(tc, test_span_refuses_any_damage, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	tu_init();
	sr = srunner_create(ring_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
