/*
 * protocol.c - the rules every side applies to a run, each in one place.
 *
 * The producer, the consumers and the monitor all read the same table and
 * the same counters; when two of them restate a rule, they drift.  Each
 * rule here is one small function (or constant in shmlib.h) with the
 * reason for it, and the programs call it instead of writing it again.
 * The liveness rules (which records exist, the drain condition, who is
 * dead) are live.c's.  Nothing here blocks, allocates or exits.
 */
#include "mode.h"
#include "shmlib.h"

/*
 * Does a record still count in the run's flow control?  An active or a
 * finished consumer does: the producer waits on its pair of semaphores,
 * and its freed counter bounds what the ring holds.  A dead or failed one
 * is left out, because it will never free its slots.
 */
int
proto_record_counts(uint32_t cstate)
{
	return cstate == CS_ACTIVE || cstate == CS_DONE;
}

/*
 * Does a run operate on semaphore i?  Its mode's table says
 * (mode_sem_used(), modetab.c): broadcast leaves the queue's pair alone,
 * and the race demonstration guards nothing with it.
 */
int
proto_sem_used(enum shm_mode mode, uint32_t flags, int i)
{
	return mode_sem_used(run_mode(mode, flags), i);
}

/*
 * Is it time to look around again (SHM_LOOK_MS since *last_ns)?  A busy
 * loop whose semops never time out still notices a removed segment or a
 * dead peer at this pace, and the process title is refreshed with it.
 * Updates *last_ns when it says yes.
 */
int
proto_look_due(uint64_t *last_ns, uint64_t now)
{
	if (now - *last_ns < SHM_LOOK_MS * 1000000ULL)
		return 0;
	*last_ns = now;
	return 1;
}
