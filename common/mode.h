/*
 * mode.h - each delivery mode in one table: everything the producer, the
 * consumers and the monitor do differently in a queue, a broadcast and
 * an unsafe run.  run_mode() chooses a run's table once, from the
 * header's mode and flags; from then on no program tests the mode again,
 * it calls the table or reads one of its flags:
 *
 *	consumer	md->take / md->take_one (take.h, common/modes.c),
 *			MF_* flags, mode_records()
 *	producer	md->views, md->free_hint, md->waiting, MF_* flags
 *	monitor		md->text, MF_* flags, mode_sem_used()
 *
 * Adding a mode is one new table in common/modetab.c (and its consumer
 * operations in common/modes.c) plus its tests; docs/DESIGN.md, "The
 * mode table", says what each entry means.
 */
#ifndef MODE_H
#define MODE_H

#include <stdint.h>

#include "shmlib.h"

struct sembuf;
struct shm_mode_ops;

/*
 * What a mode's ring and semaphore set look like; the programs decide
 * by these, never by the mode's name.
 */
#define MF_NEEDS_N	0x01u	/* -n is required: it fixes the pairs */
#define MF_PAIRS	0x02u	/* consumer i has FULL_I/EMPTY_I, pos, freed */
#define MF_SHARED_TAIL	0x04u	/* one hdr.tail; records hold claims */
#define MF_COUNTED	0x08u	/* SEM_EMPTY/SEM_FULL count the ring, and
				   freed <= tail <= head under the mutex */
#define MF_RECOVER	0x10u	/* a claim cut short by a death is repaired
				   by the producer (recover_queue) */
#define MF_UNGUARDED	0x20u	/* no semaphore guards the ring: the items
				   are written racing, can be lost */
#define MF_EVERY_ITEM	0x40u	/* each consumer takes the whole stream: a
				   late one would miss items, and each is
				   checked against the whole count */

/* The monitor's words for a mode; translated where shown. */
struct mode_texts {
	const char	*bar_marks;	/* a large ring's legend of marks */
	const char	*cell_marks;	/* a small ring's */
	const char	*held;		/* what '+' means */
	const char	*words;		/* the glossary line */
};

struct mode_table {
	enum shm_mode	 mode;		/* the header's mode it runs on */
	uint32_t	 flags;		/* MF_* */
	/* The consumer's operations: -B > 1, and -B 1 (or --delay). */
	const struct shm_mode_ops *take;
	const struct shm_mode_ops *take_one;
	/*
	 * The producer's semaphore operations: fills ops (room for
	 * max(expected, 1)) with one operation op, flags flg, on each view
	 * of the ring that counts (its EMPTY semaphore, or with full its
	 * FULL one) and returns how many; 0: nobody to wait on or post to.
	 * The producer waits, claims, posts items and the end-of-stream
	 * token with these alone.
	 */
	uint32_t	(*views)(const struct shm_ring *, uint32_t,
			    struct sembuf *, int, short, short);
	/*
	 * Free slots beyond the one held at ring position pos, from the
	 * freed counters: a hint, the semaphores stay the only guard.
	 */
	uint64_t	(*free_hint)(const struct shm_ring *, uint32_t,
			    uint32_t, uint64_t);
	const char	*waiting;	/* N_(): what a full ring waits for */
	const struct mode_texts *text;
};

/* modetab.c */
const struct mode_table *run_mode(enum shm_mode, uint32_t);
int	 mode_sem_used(const struct mode_table *, int);
uint32_t mode_records(const struct mode_table *, uint32_t);

#endif /* MODE_H */
