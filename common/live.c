/*
 * live.c - the consumers' liveness and the dead consumers' accounting.
 */
#include <sys/types.h>

#include "live.h"
#include "mode.h"
#include "shmlib.h"

/*
 * The records that can exist: registered, never past the table (in
 * broadcast, never past the consumers the run was made for: the mode's
 * table says, mode_records()).  The only clamp of hdr.registered: a
 * hostile value must not index past it.  The mode alone decides (flags
 * 0): the unsafe variant keeps the queue's records.
 */
uint32_t
live_records(uint32_t registered, enum shm_mode mode, uint32_t expected)
{
	uint32_t limit = mode_records(run_mode(mode, 0), expected);

	return registered < limit ? registered : limit;
}

/*
 * The drain condition: the run has had its consumers (-n of them, or at
 * least one) and none of them is active any more.
 */
int
live_drained(uint32_t registered, uint32_t expected, uint32_t active)
{
	return active == 0 && registered >= (expected > 0 ? expected : 1);
}

/* An active record whose process is gone: dead, whoever marks it. */
int
live_gone(const struct shm_consumer *c)
{
	return SHM_LOAD(&c->state) == CS_ACTIVE && !pid_alive(c->pid);
}

/*
 * Marks a gone consumer's record CS_DIED.  Returns 1 when this call did;
 * only an active record changes: a done or failed one keeps its state.
 */
int
live_mark_dead(struct shm_consumer *c)
{
	uint32_t st = CS_ACTIVE;

	if (SHM_LOAD(&c->state) != CS_ACTIVE || pid_alive(c->pid) ||
	    !__atomic_compare_exchange_n(&c->state, &st, (uint32_t)CS_DIED,
	    0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;
	c->end_ns = now_ns();
	return 1;
}

/*
 * Counts the live records among the first n, marking the gone ones dead.
 * *left gets LIVE_DIED when more are dead than last time and LIVE_LEFT
 * when more are dead or failed (a failed consumer never frees its slots
 * either); died, when not NULL, hears of each record counted as newly
 * dead.  Its parent may have marked a child first: this counts, it does
 * not compare states.
 */
uint32_t
live_scan(struct live *lv, struct shm_consumer *table, uint32_t n, int *left,
    live_death_fn *died, void *arg)
{
	uint32_t i, st, live = 0, dead = 0, gone = 0;

	*left = 0;
	for (i = 0; i < n; i++) {
		(void)live_mark_dead(&table[i]);
		st = SHM_LOAD(&table[i].state);
		if (st == CS_ACTIVE)
			live++;
		else if (st == CS_FAILED)
			gone++;
		else if (st == CS_DIED) {
			gone++;
			if (++dead > lv->dead_seen && died != NULL)
				died(arg, i, &table[i]);
		}
	}
	if (dead > lv->dead_seen) {
		lv->dead_seen = dead;
		*left |= LIVE_DIED;
	}
	if (gone > lv->gone_seen) {
		lv->gone_seen = gone;
		*left |= LIVE_LEFT;
	}
	return live;
}

/*
 * The consumer named by hdr.claimer, if it is gone (or the field is out
 * of range): its critical section was cut short.
 */
int
live_claimer_stale(const struct shm_ring *r, uint32_t n)
{
	uint32_t cl = SHM_LOAD(&r->hdr->claimer);

	if (cl == 0)
		return 0;
	if (cl > n)
		return 1;
	return !pid_alive(r->table[cl - 1].pid);
}

/* With the mutex held: a stale claimer's record becomes dead. */
void
live_claimer_mark_dead(struct shm_ring *r, uint32_t n)
{
	uint32_t cl = SHM_LOAD(&r->hdr->claimer);

	if (cl != 0 && cl <= n)
		(void)live_mark_dead(&r->table[cl - 1]);
}

/*
 * What a dead queue consumer had taken but not reported: its last claim,
 * if it had recorded that claim in the ledger (ledger.recorded says how
 * far its records went) but not yet in its consumed counter.  Without the
 * ledger the claim counts as read once tail had moved past it.  The items
 * of a claim it never recorded are lost.  Once per dead consumer
 * (CF_ACCOUNTED).
 */
void
live_account_claim(const struct shm_ring *r, struct shm_consumer *c,
    uint32_t capacity)
{
	uint64_t rec;

	if (c->state != CS_DIED || (c->flags & CF_ACCOUNTED))
		return;
	c->flags |= CF_ACCOUNTED;
	if (c->claim_len == 0 || c->consumed > c->claim_base ||
	    c->claim_len > capacity ||
	    SHM_LOAD(&r->hdr->tail) < c->claim_start + c->claim_len)
		return;
	if (r->ledger == NULL) {
		c->unreported = c->claim_len;
		return;
	}
	rec = SHM_LOAD(&r->ledger->recorded[c->index % SHM_MAX_CONSUMERS]);
	if (rec > c->claim_base)
		c->unreported = rec - c->claim_base < c->claim_len ?
		    rec - c->claim_base : c->claim_len;
}
