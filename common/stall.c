/*
 * stall.c - the consumers' own bound on a run that does not move.
 *
 * The producer ends a run in which nothing moves for its -t (stalled()
 * in producer/producer.c).  A producer that is alive but never runs (one
 * stopped with SIGSTOP, or a segment fabricated under your own key that
 * names a live pid) cannot do that, and its consumers would wait for it
 * for ever.  Each consumer therefore keeps a clock of its own: when
 * nothing in the run has moved for longer than the bound, it gives up.
 *
 * The bound is the longer of the consumer's -t and the producer's
 * declared -t, plus the producer's declared delay between items, plus
 * STALL_SLACK_S: a producer that runs always speaks first (it names the
 * peer that is wedged), and the consumers' bound is only the backstop.
 * The declared values come from the segment, so they are used only
 * inside the producer's own option bounds.
 */
#include <stdint.h>

#include "shmlib.h"

#define STALL_SLACK_S	2	/* past the producer's own -t + 0.2 s */
#define STALL_GAP_NS	2000000000ULL	/* a longer gap: we were stopped */
#define TIMEOUT_MAX_S	86400	/* the producer's -t, at most */
#define DELAY_MAX_MS	60000	/* the producer's --delay, at most */

/*
 * Seconds after which a consumer with its own timeout_s gives up on a run
 * described by run (the header as validated at attach time).
 */
int
stall_bound(const struct shm_header *run, int timeout_s)
{
	int bound = timeout_s;

	if (run->timeout_s >= 1 && run->timeout_s <= TIMEOUT_MAX_S &&
	    (int)run->timeout_s > bound)
		bound = (int)run->timeout_s;
	if (run->delay_ms <= DELAY_MAX_MS)
		bound += (int)((run->delay_ms + 999) / 1000);
	return bound + STALL_SLACK_S;
}

void
stall_init(struct shm_stall *st, const struct shm_header *run, int timeout_s)
{
	st->bound_s = stall_bound(run, timeout_s);
	st->mark = 0;
	st->since_ns = 0;
	st->last_ns = 0;
}

/*
 * Everything that moves when anybody in the run makes progress: the
 * positions, the producer's phase, registrations and each record's
 * counters.  Not a record's state: a consumer that gives up is not
 * progress, and would restart every other consumer's clock in turn.
 * Values from the segment are only added up, never used as an index;
 * registered is bounded by the table the consumer validated.
 */
static uint64_t
motion(const struct shm_ring *r, uint32_t max_records)
{
	const struct shm_header *h = r->hdr;
	const struct shm_consumer *c;
	uint32_t i, n = SHM_LOAD(&h->registered);
	uint64_t m;

	if (n > max_records)
		n = max_records;
	m = SHM_LOAD(&h->head) + SHM_LOAD(&h->tail) + SHM_LOAD(&h->freed) +
	    SHM_LOAD(&h->total) + SHM_LOAD(&h->eos) + SHM_LOAD(&h->state) + n;
	for (i = 0; i < n; i++) {
		c = &r->table[i];
		m += SHM_LOAD(&c->consumed) + SHM_LOAD(&c->pos) +
		    SHM_LOAD(&c->freed) + c->batches;
	}
	return m;
}

/*
 * Called after each wait that timed out.  Returns 1 when nothing has
 * moved for longer than the bound, else 0.  A gap of more than
 * STALL_GAP_NS since the previous call means this consumer was itself
 * stopped: the clock starts again, as the producer's does.
 */
int
stall_check(struct shm_stall *st, const struct shm_ring *r,
    uint32_t max_records)
{
	uint64_t m = motion(r, max_records), t = now_ns();

	if (st->since_ns == 0 || m != st->mark ||
	    t - st->last_ns > STALL_GAP_NS) {
		st->mark = m;
		st->since_ns = t;
	}
	st->last_ns = t;
	return t - st->since_ns > (uint64_t)st->bound_s * 1000000000ULL;
}
