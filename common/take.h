/*
 * take.h - a consumer's side of the protocol: what it counts for each
 * item (the tally), and how each delivery mode claims, copies, releases
 * and ends the stream (the operations table, common/modes.c).
 *
 * The consumer program calls the table and never tests the mode again:
 *
 *	const struct shm_mode_ops *ops = mode_ops(&run, batch);
 *	while ((r = ops->claim(tk, &c)) == 1) {
 *		ops->copy(tk, &c);		(no lock held in queue mode)
 *		if (ops->release(tk, &c) == -1) ...
 *	}
 *	ops->end(tk);
 *
 * Adding a mode is one new table (mode.h) plus its tests.  Like the rest
 * of common/ nothing here exits or prints: a failure comes back as -1 with
 * the reason in tk->why ("" when the program's look_around() already said
 * it).
 */
#ifndef TAKE_H
#define TAKE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "shmlib.h"

/*
 * What a consumer accumulates between two updates of its record.  A
 * broadcast consumer must see every sequence number once, so it keeps an
 * exact tally of its own: next is one past the highest number seen, and
 * gaps lists, in order, the ranges below next not seen yet.  A correct
 * stream never opens a gap; a dropped or swapped item opens one.
 */
#define GAPS_MAX	65536	/* beyond this the tally is marked inexact */

struct shm_tally {
	uint64_t	consumed;
	uint64_t	first_seq;
	uint64_t	last_seq;
	uint64_t	checksum;
	uint64_t	out_of_order;
	uint64_t	corrupted;
	uint64_t	distinct;
	uint64_t	duplicated;
	uint64_t	next;
	uint64_t	(*gaps)[2];	/* [lo, hi] inclusive, ascending */
	size_t		ngaps;
	size_t		capgaps;
	int		have_last;
	int		inexact;
	int		bad;		/* a sequence number beyond count */
	uint64_t	bad_seq;
	/*
	 * Queue ledger: the runs of consecutive sequence numbers of the
	 * claim in hand (one for a correct claim), recorded in the shared
	 * ledger when the claim is done; an unsafe consumer keeps its whole
	 * stream's ranges instead and records them once at the end.
	 */
	uint64_t	(*runs)[2];
	uint32_t	nruns;
	uint32_t	runcap;
	uint64_t	run_taken;	/* in-range items in runs */
	uint64_t	untracked;	/* unsafe: items its table had no room for */
};

/* Where the test hook holds (SHMLAB_HOLD_AT, see consumer.c). */
#define HOLD_CLAIM	0
#define HOLD_COPY	1
#define HOLD_JOIN	2

/* A claim: ring positions [start, start + k). */
struct shm_claim {
	uint64_t	start;
	uint64_t	k;
};

struct shm_taker;

/* Checks a stretch of slots against the stream; see take.c. */
typedef int (*span_check_fn)(const uint64_t *, const int32_t *, uint32_t,
    uint64_t, uint64_t, uint64_t *);

/* One consumer process's handle on the run. */
struct shm_taker {
	struct shm_ring	*ring;
	const struct shm_header *run;	/* the header validated at attach */
	struct shm_consumer *me;	/* its record */
	uint32_t	index;		/* its record's position */
	uint32_t	batch;		/* -B */
	int		timeout_s;	/* -t: unsafe mode's idle bound */
	int		hold_ms;	/* test hook SHMLAB_HOLD_MS, ... */
	int		hold_at;	/* ... SHMLAB_HOLD_AT (HOLD_*) ... */
	int		hold_child;	/* ... SHMLAB_HOLD_CHILD, -1 every one */
	int		no_vector;	/* SHMLAB_NO_AVX2: the plain checker */
	uint64_t	rng;		/* unsafe: the race window's jitter */
	uint64_t	pos;		/* broadcast: next ring position */
	int		gather;		/* ... the stream is fast: wait for many */
	const volatile sig_atomic_t *stop; /* set by the program's handler */
	span_check_fn	check;		/* decided once: seeded, vector width */
	struct shm_tally t;
	struct shm_claim next;		/* queue: claimed with the last release */
	int		have_next;
	int		ended;		/* queue: the token seen at a release */
	int		seated;		/* queue: holds a seat (SEM_SEAT) */
	uint64_t	seat_ns;	/* ... since then (now_ns()) ... */
	uint64_t	seat_items;	/* ... and took this many items */
	/* The program's look around after a wait timed out: -1 to stop. */
	int		(*look_around)(struct shm_taker *, const char *);
	char		why[256];	/* a failure's reason, or "" */
};

/* Each delivery mode's consumer operations. */
struct shm_mode_ops {
	const char	*name;
	/* 1 a claim in *c, 0 the end of the stream, -1 stop (tk->why). */
	int		(*claim)(struct shm_taker *, struct shm_claim *);
	/* Reads and checks the claim's items into the tally. */
	void		(*copy)(struct shm_taker *, const struct shm_claim *);
	/* Records and frees the claim; publishes the tally.  0 or -1. */
	int		(*release)(struct shm_taker *, const struct shm_claim *);
	/* After the last claim: whatever the mode records at the end. */
	void		(*end)(struct shm_taker *);
};

/* modes.c: each mode's, in its table (mode.h) */
extern const struct shm_mode_ops queue_ops, classic_ops, bcast_ops, unsafe_ops;

/* modetab.c: the operations of a run, as its header and -B choose them. */
const struct shm_mode_ops *mode_ops(const struct shm_header *, uint32_t);

/* take.c */
void	 taker_hold(const struct shm_taker *, int);
int	 taker_init(struct shm_taker *);
void	 taker_free(struct shm_taker *);
void	 tally_publish(struct shm_taker *);
void	 tally_queue_item(struct shm_taker *, uint64_t, int32_t);
void	 tally_bcast_item(struct shm_taker *, uint64_t, int32_t);
void	 tally_unsafe_item(struct shm_taker *, uint64_t, int32_t);
int	 tally_span(struct shm_taker *, uint64_t, uint64_t, int);
void	 tally_record(struct shm_taker *);
void	 ring_fill(struct shm_ring *, uint32_t, uint64_t, uint64_t, uint64_t);

#endif /* TAKE_H */
