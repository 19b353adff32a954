/*
 * ledger.c - the queue run's exact ledger, in memory that does not grow
 * with the count.
 *
 * The ledger must tell, for every sequence number, whether it was taken
 * never, once, or more often.  Only two numbers are needed for that:
 * distinct, how many sequence numbers were taken at least once, and
 * taken, how many in-range items were recorded at all.  Then
 *	lost       = count - distinct
 *	duplicated = taken - distinct
 * which is exactly the old per-number sum of max(0, 1 - n) and max(0, n -
 * 1).  distinct is kept by a set of disjoint ranges of the numbers seen:
 * a correct stream is one range [0, x) plus one range per claim completed
 * ahead of an older one still in flight (at most one per consumer), and a
 * fault adds one or two.  Only a stream that is not a stream (the unsafe
 * demonstration with many consumers) can fill the table; then the ledger
 * says it is inexact, and why.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "shmlib.h"

/*
 * Adds [lo, hi) to the sorted set r[0..*n) of disjoint, non-touching
 * half-open ranges.  Returns how many numbers were new, or -1 (errno
 * ENOSPC) when the range would need a slot and all cap are in use.
 */
int64_t
rset_add(uint64_t (*r)[2], uint32_t *n, uint32_t cap, uint64_t lo,
    uint64_t hi)
{
	uint32_t i, j, a, b, m, cnt = *n;
	uint64_t covered = 0, nlo, nhi;

	if (lo >= hi)
		return 0;
	/* i: the first range that ends at or after lo (touching counts). */
	for (a = 0, b = cnt; a < b;) {
		m = a + (b - a) / 2;
		if (r[m][1] < lo)
			a = m + 1;
		else
			b = m;
	}
	i = a;
	/* The common case: extending the last range, or the one found. */
	for (j = i; j < cnt && r[j][0] <= hi; j++)
		covered += r[j][1] - r[j][0];
	if (i == j) {
		if (cnt >= cap) {
			errno = ENOSPC;
			return -1;
		}
		memmove(r + i + 1, r + i, (cnt - i) * sizeof(*r));
		r[i][0] = lo;
		r[i][1] = hi;
		*n = cnt + 1;
		return (int64_t)(hi - lo);
	}
	nlo = r[i][0] < lo ? r[i][0] : lo;
	nhi = r[j - 1][1] > hi ? r[j - 1][1] : hi;
	r[i][0] = nlo;
	r[i][1] = nhi;
	if (j - i > 1) {
		memmove(r + i + 1, r + j, (cnt - j) * sizeof(*r));
		*n = cnt - (j - i - 1);
	}
	return (int64_t)((nhi - nlo) - covered);
}

/*
 * Records the runs of one claim (or of an unsafe consumer's whole stream)
 * in the shared ledger.  The caller holds SEM_MUTEX.  A run that finds
 * the table full is counted as untracked and makes the ledger inexact.
 */
void
ledger_add(struct shm_ledger *l, const uint64_t (*runs)[2], uint32_t nruns,
    uint64_t taken)
{
	uint32_t i, n = l->nranges;
	int64_t added;

	if (n > SHM_LEDGER_RANGES) {		/* damaged: never index with it */
		l->inexact |= LEDGER_DAMAGED;
		return;
	}
	for (i = 0; i < nruns; i++) {
		added = rset_add(l->ranges, &n, SHM_LEDGER_RANGES, runs[i][0],
		    runs[i][1]);
		if (added < 0) {
			l->inexact |= LEDGER_FULL;
			l->untracked += runs[i][1] - runs[i][0];
		} else
			l->distinct += (uint64_t)added;
	}
	l->nranges = n;
	l->taken += taken;
}

/*
 * The producer's reading of the ledger, from a copy it made: checks that
 * the ranges are what ledger_add() writes (sorted, disjoint, inside the
 * count, adding up to distinct) before it believes a number.  O(ranges),
 * never O(count).  Returns 0 exact, else the LEDGER_* reasons.
 */
uint32_t
ledger_read(const struct shm_ledger *l, uint64_t count, uint64_t *lost,
    uint64_t *dup)
{
	uint64_t sum = 0, prev = 0;
	uint32_t i, why = l->inexact & (LEDGER_FULL | LEDGER_PRIVATE);

	if (l->nranges > SHM_LEDGER_RANGES)
		return why | LEDGER_DAMAGED;
	for (i = 0; i < l->nranges; i++) {
		if (l->ranges[i][0] >= l->ranges[i][1] ||
		    l->ranges[i][1] > count || (i > 0 && l->ranges[i][0] <= prev))
			return why | LEDGER_DAMAGED;
		prev = l->ranges[i][1];
		sum += l->ranges[i][1] - l->ranges[i][0];
	}
	if (sum != l->distinct || l->taken < l->distinct ||
	    (l->inexact & LEDGER_DAMAGED))
		return why | LEDGER_DAMAGED;
	*lost = count - l->distinct;
	*dup = l->taken - l->distinct;
	return why;
}

/* Why a ledger is inexact, in words for the report. */
const char *
ledger_reason(uint32_t why)
{
	if (why & LEDGER_DAMAGED)
		return "the ledger's ranges in the segment are inconsistent "
		    "(written outside the protocol, or a consumer died while "
		    "recording a claim)";
	if (why & LEDGER_FULL)
		return "more than " SHM_LEDGER_RANGES_STR " disjoint ranges of "
		    "sequence numbers: the stream was too broken to track";
	if (why & LEDGER_PRIVATE)
		return "an unsafe consumer saw more than " LEDGER_PRIVATE_STR
		    " disjoint ranges of sequence numbers";
	return NULL;
}
