/*
 * ring.c - ring index arithmetic, item values and the ledger tally.
 *
 * Positions are 64-bit and never wrap in practice (2^64 items); the slot
 * of position p is p % capacity, so any position read from shared memory
 * maps inside the ring whatever its value.
 */
#include <stdint.h>

#include "shmlib.h"


uint32_t
ring_slot(uint64_t pos, uint32_t capacity)
{
	return (uint32_t)(pos % capacity);
}

/*
 * The sum of the unsigned values 0 .. n-1, mod 2^64, for n <= 2^32: n is
 * at most 2^32, so n(n-1) fits in 64 bits; halve the even factor first.
 */
static uint64_t
seq_sum(uint64_t n)
{
	return n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
}

/*
 * What the checksums of a correct run add up to: the sum of the values,
 * mod 2^64.  Unseeded, item s has the value (uint32_t)s, so the sum has a
 * closed form (whole cycles of 2^32 values, then the rest): O(1), which a
 * 1e10-item run needs.  A seeded stream is a hash and has none: that sum
 * is still one pass over the count.
 */
uint64_t
expected_checksum(uint64_t seed, uint64_t count)
{
	const uint64_t cycle = UINT64_C(1) << 32;
	uint64_t i, sum = 0;

	if (seed == 0)
		return (count / cycle) * seq_sum(cycle) + seq_sum(count % cycle);
	for (i = 0; i < count; i++)
		sum += (uint32_t)item_value(seed, i);
	return sum;
}

/*
 * Tallies the ledger: every sequence number should have been taken exactly
 * expect times (1 in queue mode, once per consumer in broadcast mode).
 */
void
ledger_tally(const uint16_t *ledger, uint64_t count, uint32_t expect,
    uint64_t *lost, uint64_t *dup)
{
	uint64_t i, l = 0, d = 0;

	for (i = 0; i < count; i++) {
		if (ledger[i] < expect)
			l += expect - ledger[i];
		else
			d += ledger[i] - expect;
	}
	*lost = l;
	*dup = d;
}
