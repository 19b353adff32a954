/*
 * modetab.c - each delivery mode's table (mode.h): the consumer's
 * operations (modes.c), the producer's semaphore operations and free
 * hints, the monitor's words, and the flags that say what the mode's
 * ring and semaphore set look like.
 *
 *	queue		one shared tail; SEM_EMPTY/SEM_FULL count the ring;
 *			a dead consumer's claim is repaired.
 *	broadcast	consumer i's own pair FULL_I/EMPTY_I; -n fixes them.
 *	unsafe		the queue's ring with no semaphore around it.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include "i18n.h"
#include "mode.h"
#include "take.h"

/* Queue: one view, the shared SEM_EMPTY/SEM_FULL. */
static uint32_t
queue_views(const struct shm_ring *r, uint32_t expected, struct sembuf *ops,
    int full, short op, short flg)
{
	(void)r;
	(void)expected;
	ops[0].sem_num = full ? SEM_FULL : SEM_EMPTY;
	ops[0].sem_op = op;
	ops[0].sem_flg = flg;
	return 1;
}

/* Broadcast: one view per consumer that still counts (the dead are out). */
static uint32_t
bcast_views(const struct shm_ring *r, uint32_t expected, struct sembuf *ops,
    int full, short op, short flg)
{
	uint32_t i, n = 0, st;

	for (i = 0; i < expected; i++) {
		st = SHM_LOAD(&r->table[i].state);
		if (!proto_record_counts(st))
			continue;	/* dead or failed: left out */
		ops[n].sem_num = (unsigned short)(full ? SEM_FULL_I(i) :
		    SEM_EMPTY_I(i));
		ops[n].sem_op = op;
		ops[n].sem_flg = flg;
		n++;
	}
	return n;
}

/* Unsafe: nothing guards the ring, so nothing is waited on or posted. */
static uint32_t
no_views(const struct shm_ring *r, uint32_t expected, struct sembuf *ops,
    int full, short op, short flg)
{
	(void)r;
	(void)expected;
	(void)ops;
	(void)full;
	(void)op;
	(void)flg;
	return 0;
}

/*
 * Free slots beyond the one at pos.  The freed counters are published
 * just before the consumers' release semop, so that the process the
 * release wakes sees them at once; they may overstate by one release in
 * flight, and then the producer's IPC_NOWAIT claim fails with EAGAIN.
 */
static uint64_t
queue_free_hint(const struct shm_ring *r, uint32_t cap, uint32_t expected,
    uint64_t pos)
{
	uint64_t used = pos - SHM_LOAD(&r->hdr->freed) + 1;

	(void)expected;
	return used >= cap ? 0 : cap - used;
}

/* Broadcast: the slowest consumer that counts bounds what is free. */
static uint64_t
bcast_free_hint(const struct shm_ring *r, uint32_t cap, uint32_t expected,
    uint64_t pos)
{
	uint64_t freed, used, best = UINT64_MAX;
	uint32_t i, st;

	for (i = 0; i < expected; i++) {
		st = SHM_LOAD(&r->table[i].state);
		if (!proto_record_counts(st))
			continue;
		freed = SHM_LOAD(&r->table[i].freed);
		used = pos - freed + 1;
		if (used >= cap)
			return 0;
		if (cap - used < best)
			best = cap - used;
	}
	return best == UINT64_MAX ? 0 : best;
}

/* Unsafe: the producer trusts its racy fill count, not a hint. */
static uint64_t
no_free_hint(const struct shm_ring *r, uint32_t cap, uint32_t expected,
    uint64_t pos)
{
	(void)r;
	(void)cap;
	(void)expected;
	(void)pos;
	return 0;
}

static const struct mode_texts queue_texts = {
	N_("T consumers' claim (tail)"), N_("T tail"), N_("being read"),
	N_("words: tail = next item to claim, freed = released so far, eos "
	    "= end of data, ncnt = waiting\n")
};

static const struct mode_texts broadcast_texts = {
	N_("0-9a-zA-Z consumer i's read"), N_("0-9a-z consumer i"),
	N_("unreleased"),
	N_("words: pos = next item to read, eos = end of data, ncnt = "
	    "waiting, full[i]/empty[i] = its own pair\n")
};

/* mode, flags, take, take_one, views, free_hint, waiting, text */
static const struct mode_table queue_mode = {
	MODE_QUEUE, MF_SHARED_TAIL | MF_COUNTED | MF_RECOVER,
	&queue_ops, &classic_ops, queue_views, queue_free_hint,
	N_("free slots in the ring"), &queue_texts
};
static const struct mode_table bcast_mode = {
	MODE_BROADCAST, MF_NEEDS_N | MF_PAIRS | MF_EVERY_ITEM,
	&bcast_ops, &bcast_ops, bcast_views, bcast_free_hint,
	N_("every consumer to free a slot"), &broadcast_texts
};
/* The race demonstration: a queue run with nothing guarding the ring. */
static const struct mode_table unsafe_mode = {
	MODE_QUEUE, MF_SHARED_TAIL | MF_UNGUARDED,
	&unsafe_ops, &unsafe_ops, no_views, no_free_hint,
	N_("free slots in the ring"), &queue_texts
};

/*
 * The one place that maps a header's mode and flags to a table.  Always
 * a table: a header that asks for --unsafe gets the unsafe one whatever
 * its mode (the producer refuses that pair: md->mode differs).
 */
const struct mode_table *
run_mode(enum shm_mode mode, uint32_t flags)
{
	if (flags & SHM_F_UNSAFE)
		return &unsafe_mode;
	return mode == MODE_BROADCAST ? &bcast_mode : &queue_mode;
}

/* The consumer's operations of a run, as its validated header and -B say. */
const struct shm_mode_ops *
mode_ops(const struct shm_header *run, uint32_t batch)
{
	const struct mode_table *md = run_mode((enum shm_mode)run->mode,
	    run->flags);

	return batch <= 1 ? md->take_one : md->take;
}

/*
 * Does a run of this mode operate on semaphore i?  Only a counted ring
 * uses the queue's SEM_EMPTY, SEM_FULL and SEM_SEAT; every set has the
 * first two (the layout, SEM_BASE), and the mutex and SEM_JOIN serve
 * every mode.
 */
int
mode_sem_used(const struct mode_table *md, int i)
{
	if (i == SEM_SEAT && !(md->flags & MF_PAIRS))
		return (md->flags & MF_COUNTED) != 0;	/* the queue's seats */
	if (i != SEM_EMPTY && i != SEM_FULL)
		return 1;
	return (md->flags & MF_COUNTED) != 0;
}

/*
 * How many consumer records a run can have: one per pair made (-n) in a
 * mode with pairs, else the whole table.
 */
uint32_t
mode_records(const struct mode_table *md, uint32_t expected)
{
	return (md->flags & MF_PAIRS) ? expected : SHM_MAX_CONSUMERS;
}
