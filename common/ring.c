/*
 * ring.c - ring index arithmetic, item values and the ledger tally.
 *
 * Positions are 64-bit and never wrap in practice (2^64 items); the slot
 * of position p is p % capacity, so any position read from shared memory
 * maps inside the ring whatever its value.
 */
#include <stdint.h>

#include "shmlab.h"


uint32_t
ring_slot(uint64_t pos, uint32_t capacity)
{
	return (uint32_t)(pos % capacity);
}

/* What the checksums of a correct run add up to: the sum of the values. */
uint64_t
expected_checksum(uint64_t seed, uint64_t count)
{
	uint64_t i, sum = 0, q, r;

	if (seed == 0) {
		/*
		 * Values are the sequence numbers mod 2^32: q full rounds of
		 * 0 .. 2^32-1, then 0 .. r-1, in closed form (mod 2^64), so a
		 * billion-item run's report does not walk the stream again.
		 */
		q = count >> 32;
		r = count & 0xffffffffULL;
		return q * ((1ULL << 31) * 0xffffffffULL) +
		    (r == 0 ? 0 : r * (r - 1) / 2);
	}
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
