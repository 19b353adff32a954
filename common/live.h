/*
 * live.h - who is still there: the consumers' liveness and the dead
 * consumers' accounting, one set of rules for the producer (which acts
 * on them: marks the dead, repairs the queue) and the monitor (which
 * only looks).
 *
 * A record is live while it is CS_ACTIVE and its pid is alive
 * (pid_alive: a zombie is dead).  Only an active record whose pid is
 * gone becomes CS_DIED, by compare-and-swap, so a consumer that writes
 * CS_DONE and exits between our load and the pid check keeps its done.
 */
#ifndef LIVE_H
#define LIVE_H

#include <stdint.h>

#include "shmlib.h"

/* What a watcher has already seen, so it acts on each death once. */
struct live {
	uint32_t	 dead_seen;	/* records found dead so far */
	uint32_t	 gone_seen;	/* ... dead or failed */
};

/* live_scan's *left: what changed since the last scan. */
#define LIVE_DIED	1	/* more are dead: a queue needs repair */
#define LIVE_LEFT	2	/* more dead or failed: leave them out */

/* Called once per record live_scan newly counts as dead. */
typedef void	 live_death_fn(void *, uint32_t, const struct shm_consumer *);

uint32_t live_records(uint32_t, enum shm_mode, uint32_t);
int	 live_drained(uint32_t, uint32_t, uint32_t);
int	 live_gone(const struct shm_consumer *);
int	 live_mark_dead(struct shm_consumer *);
uint32_t live_scan(struct live *, struct shm_consumer *, uint32_t, int *,
	    live_death_fn *, void *);
int	 live_claimer_stale(const struct shm_ring *, uint32_t);
void	 live_claimer_mark_dead(struct shm_ring *, uint32_t);
void	 live_account_claim(const struct shm_ring *, struct shm_consumer *,
	    uint32_t);

#endif /* LIVE_H */
