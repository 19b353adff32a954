/*
 * modes.c - each delivery mode's consumer operations, in one table per
 * mode: how a consumer claims items, copies and checks them, releases
 * them to the producer, and ends the stream.  They are the consumer's
 * part of the mode's whole table (common/modetab.c, mode.h).
 *
 *	queue		the mutex guards the claim and its completion, never
 *			the copy; slots are freed in ring order (done[]).
 *	queue, -B 1	the textbook protocol: claim, copy and release in one
 *			critical section (also with --delay).
 *	broadcast	consumer i's own pair FULL_I/EMPTY_I, no mutex.
 *	unsafe		the race demonstration: no semaphore around the ring.
 *
 * docs/DESIGN.md gives each step.  Every blocking semop is bounded by
 * TAKE_TICK_MS; on a timeout tk->look_around() (the program's) decides.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "i18n.h"
#include "take.h"

#define TAKE_TICK_MS	SHM_TICK_MS	/* semop bound, then look around */
#define BCAST_GATHER_MS	2		/* bound of a wait for half a ring */

/* Waits for ops, looking around every tick.  0, or -1 to stop. */
static int
wait_ops(struct shm_taker *tk, struct sembuf *ops, size_t n,
    const char *doing)
{
	for (;;) {
		if (sem_op(tk->ring->semid, ops, n, TAKE_TICK_MS) == 0)
			return 0;
		if (tk->look_around(tk, doing) == -1)
			return -1;
	}
}

/*
 * Under the mutex the queue's counters keep an order: freed <= tail <=
 * head, and head at most one past the count (an injected dup).  Anything
 * else was written by somebody outside the protocol: claiming from it
 * would read slots nobody wrote and never end.
 */
static int
queue_damaged(struct shm_taker *tk, uint64_t tail, uint64_t head)
{
	uint64_t freed = SHM_LOAD(&tk->ring->hdr->freed);

	if (freed <= tail && tail <= head &&
	    head <= SHM_STREAM_MAX(tk->run->count))
		return 0;
	(void)snprintf(tk->why, sizeof(tk->why), _("consumer %u: shm id %d is "
	    "damaged: freed %llu, tail %llu, head %llu, count %llu are out of "
	    "order; stopping"), tk->index, tk->ring->shmid,
	    (unsigned long long)freed, (unsigned long long)tail,
	    (unsigned long long)head, (unsigned long long)tk->run->count);
	return 1;
}

/*
 * Called with the mutex held.  A claimer left set means the last holder
 * died in its critical section (SEM_UNDO gave the mutex back): done[] and
 * the semaphores may be half written until the producer's recovery has
 * rebuilt them.  Then drops the mutex (giving back `give` FULL units),
 * waits a moment and returns 1; 0 when all is well; -1 to stop.
 */
static int
queue_backoff(struct shm_taker *tk, short give)
{
	struct sembuf back[2] = {
		{ SEM_MUTEX, 1, SEM_UNDO }, { SEM_FULL, 0, 0 }
	};

	if (SHM_LOAD(&tk->ring->hdr->claimer) == 0)
		return 0;
	back[1].sem_op = give;
	if (sem_op(tk->ring->semid, back, give ? 2 : 1, 0) == -1) {
		(void)tk->look_around(tk, "waiting for a recovery");
		return -1;
	}
	sleep_ms(5);
	errno = 0;
	if (tk->look_around(tk, "waiting for a dead consumer's claim to be "
	    "accounted for") == -1)
		return -1;
	return 1;
}

/*
 * How many more items to take without waiting from semaphore num, beyond
 * the one at pos: up to -B, within the ring.
 */
static uint64_t
claim_more(struct shm_taker *tk, unsigned short num, uint64_t pos,
    uint64_t head)
{
	struct sembuf more = { 0, 0, IPC_NOWAIT };
	uint64_t extra;

	if (tk->batch <= 1 || head <= pos + 1)
		return 0;
	extra = head - pos - 1;
	if (extra > tk->batch - 1)
		extra = tk->batch - 1;
	/* head comes from shared memory: keep the op small. */
	if (extra >= tk->run->capacity)
		extra = tk->run->capacity - 1;
	more.sem_num = num;
	more.sem_op = -(short)extra;
	return sem_op(tk->ring->semid, &more, 1, 0) == 0 ? extra : 0;
}

/*
 * How many FULL units to take with the mutex when a claim ends
 * (queue_release_and_claim()): what head says is there, up to -B and the
 * ring.  tail is read outside the mutex, so the figure may be high; the
 * IPC_NOWAIT semop decides.
 */
static uint64_t
claim_want(struct shm_taker *tk)
{
	struct shm_header *h = tk->ring->hdr;
	uint64_t head = SHM_LOAD(&h->head), tail = SHM_LOAD(&h->tail), k;

	if (head <= tail + 1)
		return 1;
	k = head - tail;
	if (k > tk->batch)
		k = tk->batch;
	if (k > tk->run->capacity)
		k = tk->run->capacity;
	return k;
}

/*
 * With the mutex and `held` FULL units: with one, takes what else is
 * there; with more, claims them (each unit is a posted item, but at the
 * end one may be the token: *back says how many to give back).  Puts the
 * claim on record (claimer, claim_start, claim_len) before tail moves, so
 * that if we die the producer can tell what we had taken.  Returns 1 with
 * the claim in *c; 0 at the end of the stream, -1 when the segment is
 * damaged: then the caller gives all the units back.
 */
static int
queue_claim_body(struct shm_taker *tk, struct shm_claim *c, uint64_t held,
    uint64_t *back)
{
	struct shm_header *h = tk->ring->hdr;
	uint64_t tail = h->tail, head = SHM_LOAD(&h->head);

	*back = held;
	if (queue_damaged(tk, tail, head))
		return -1;
	if (SHM_LOAD(&h->eos) && tail >= SHM_LOAD(&h->total))
		return 0;	/* the end-of-stream token: to pass on */
	c->start = tail;
	if (held <= 1)
		c->k = 1 + claim_more(tk, SEM_FULL, tail, head);
	else if (head <= tail)
		c->k = 1;	/* as with one unit: the semaphore is trusted */
	else	/* head is total at the end: the token is no item */
		c->k = head - tail < held ? head - tail : held;
	*back = held > c->k ? held - c->k : 0;
	SHM_STORE(&h->claimer, tk->index + 1);
	tk->me->claim_start = tail;
	tk->me->claim_base = tk->t.consumed;
	SHM_STORE(&tk->me->claim_len, c->k);
	h->tail = tail + c->k;
	taker_hold(tk, HOLD_CLAIM);	/* test hook: see consumer.c */
	return 1;
}

/*
 * Takes an item and the mutex, then what else is there.  Returns with
 * the mutex held, 1; or 0 at the end of the stream, -1 to stop (not held).
 */
static int
queue_claim_locked(struct shm_taker *tk, struct shm_claim *c)
{
	struct sembuf take1[2] = {
		{ SEM_FULL, -1, 0 }, { SEM_MUTEX, -1, SEM_UNDO }
	};
	struct sembuf back[2] = {
		{ SEM_FULL, 1, 0 }, { SEM_MUTEX, 1, SEM_UNDO }
	};
	uint64_t back1;
	int r;

	do {
		if (wait_ops(tk, take1, 2, "waiting for an item") == -1)
			return -1;
	} while ((r = queue_backoff(tk, 1)) == 1);
	if (r == -1)
		return -1;
	if ((r = queue_claim_body(tk, c, 1, &back1)) == 1)
		return 1;
	if (sem_op(tk->ring->semid, back, 2, 0) == -1) {
		(void)tk->look_around(tk, "passing the end-of-stream token");
		return -1;
	}
	return r;
}

/*
 * Seats (queue, -B > 1).  N consumers that all claim at once on fewer
 * cores spend their time waking each other: each release hands the mutex
 * to a sleeping consumer, which holds it while it is woken and scheduled,
 * and the others queue behind it (a lock convoy: docs/PERFORMANCE.md).
 * So only SEM_SEAT's value of them (the cores less the producer's, at
 * least one: sem_seats()) claim at a time, and the others sleep on
 * SEM_SEAT.  A seated consumer keeps its seat while it finds items and
 * gives it up at the end of the stream, or, when another is waiting,
 * after its turn: SEAT_TURN_MS, or SEAT_TURN_RINGS rings of items,
 * whichever comes first, so that every consumer takes part.  A consumer
 * holds a claim only while seated, and gives its seat up only once its
 * claims are released; SEM_UNDO gives a dead consumer's seat back.
 */
#define SEAT_TURN_MS	2
#define SEAT_TURN_RINGS	8

static int
seat_take(struct shm_taker *tk)
{
	struct sembuf sit = { SEM_SEAT, -1, SEM_UNDO };

	if (tk->seated)
		return 0;
	if (wait_ops(tk, &sit, 1, "waiting for its turn to claim") == -1)
		return -1;
	tk->seated = 1;
	tk->seat_ns = now_ns();
	tk->seat_items = 0;
	return 0;
}

static int
seat_leave(struct shm_taker *tk)
{
	struct sembuf up = { SEM_SEAT, 1, SEM_UNDO };

	if (!tk->seated)
		return 0;
	tk->seated = 0;
	if (sem_op(tk->ring->semid, &up, 1, 0) == -1) {
		(void)tk->look_around(tk, "giving its turn to another "
		    "consumer");
		return -1;
	}
	return 0;
}

/*
 * Has the seated consumer had its turn, with another one waiting for a
 * seat?  When nobody waits (or GETNCNT fails: the next semop says why) a
 * new turn begins.
 */
static int
seat_turn_over(struct shm_taker *tk, uint64_t k)
{
	uint64_t now;

	tk->seat_items += k;
	now = now_ns();
	if (now - tk->seat_ns < SEAT_TURN_MS * 1000000ULL &&
	    tk->seat_items < SEAT_TURN_RINGS * (uint64_t)tk->run->capacity)
		return 0;
	if (semctl(tk->ring->semid, SEM_SEAT, GETNCNT) > 0)
		return 1;
	tk->seat_ns = now;
	tk->seat_items = 0;
	return 0;
}

/*
 * The parallel claim: the mutex is dropped before the copy.  A claim
 * already made with the last release (queue_release()) comes first.
 * Takes a seat first; at the end of the stream (or to stop) gives it up.
 */
static int
queue_claim(struct shm_taker *tk, struct shm_claim *c)
{
	struct sembuf unlock = { SEM_MUTEX, 1, SEM_UNDO };
	int r;

	if (tk->have_next) {
		*c = tk->next;
		tk->have_next = 0;
		return 1;
	}
	if (tk->ended)
		return seat_leave(tk) == -1 ? -1 : 0;
	if (seat_take(tk) == -1)
		return -1;
	if ((r = queue_claim_locked(tk, c)) != 1) {
		if (seat_leave(tk) == -1)
			return -1;
		return r;
	}
	SHM_STORE(&tk->ring->hdr->claimer, 0u);
	if (sem_op(tk->ring->semid, &unlock, 1, 0) == -1) {
		(void)tk->look_around(tk, "releasing the mutex after a claim");
		return -1;
	}
	return 1;
}

/*
 * Per claim, not per item: the fast span, else item by item with the
 * mode's own per-item tally.
 */
static void
copy_claim(struct shm_taker *tk, const struct shm_claim *c, int bcast,
    void (*item)(struct shm_taker *, uint64_t, int32_t))
{
	const struct shm_ring *r = tk->ring;
	uint32_t cap = tk->run->capacity, s;
	uint64_t p;

	if (tally_span(tk, c->start, c->k, bcast))
		return;
	for (p = c->start, s = ring_slot(p, cap); p < c->start + c->k; p++) {
		item(tk, r->tags[s], r->slots[s]);
		if (++s == cap)
			s = 0;
	}
}

static void
queue_copy(struct shm_taker *tk, const struct shm_claim *c)
{
	copy_claim(tk, c, 0, tally_queue_item);
}

/*
 * Called with the mutex held: marks the claim done and frees every done
 * claim from hdr.freed on, in ring order.  Returns how many slots to give
 * back on SEM_EMPTY, or -1 when done[] is damaged.
 */
static int64_t
queue_free_done(struct shm_taker *tk, const struct shm_claim *c)
{
	struct shm_header *h = tk->ring->hdr;
	uint32_t *done = tk->ring->done, cap = tk->run->capacity;
	uint64_t freed = SHM_LOAD(&h->freed), tail = h->tail, p, len;

	done[ring_slot(c->start, cap)] = (uint32_t)c->k;
	for (p = freed; p < tail; p += len) {
		len = done[ring_slot(p, cap)];
		if (len == 0)
			break;
		if (len > tail - p) {
			(void)snprintf(tk->why, sizeof(tk->why), _("consumer %u: "
			    "shm id %d is damaged: a finished claim of %llu "
			    "slots at %llu passes tail %llu; stopping"),
			    tk->index, tk->ring->shmid, (unsigned long long)len,
			    (unsigned long long)p, (unsigned long long)tail);
			return -1;
		}
		done[ring_slot(p, cap)] = 0;
	}
	/* freed first: the producer woken by the release sees it. */
	SHM_STORE(&h->freed, p);
	return (int64_t)(p - freed);
}

/*
 * With the mutex held: records the checked claim and frees what can be
 * freed.  Returns the slots to give back on SEM_EMPTY, or -1.
 */
static int64_t
queue_complete_body(struct shm_taker *tk, const struct shm_claim *c)
{
	int64_t n;

	SHM_STORE(&tk->ring->hdr->claimer, tk->index + 1);
	tally_record(tk);
	taker_hold(tk, HOLD_COPY);	/* test hook: read, not reported */
	tk->me->batches++;
	tally_publish(tk);
	if ((n = queue_free_done(tk, c)) >= 0)
		SHM_STORE(&tk->me->claim_len, (uint64_t)0);
	return n;
}

/*
 * Drops the mutex, frees n slots, and gives back `full` FULL units (the
 * token, or an item not claimed after all), in one semop.
 */
static int
queue_unlock(struct shm_taker *tk, int64_t n, short full)
{
	struct sembuf ops[3] = {
		{ SEM_MUTEX, 1, SEM_UNDO }, { SEM_EMPTY, 0, 0 }, { SEM_FULL, 0, 0 }
	};
	size_t k = 1;

	if (n > 0)
		ops[k++].sem_op = (short)n;
	if (full > 0) {
		ops[k] = ops[2];
		ops[k++].sem_op = full;
	}
	SHM_STORE(&tk->ring->hdr->claimer, 0u);
	if (sem_op(tk->ring->semid, ops, k, 0) == -1) {
		(void)tk->look_around(tk, "releasing slots");
		return -1;
	}
	return 0;
}

/* Records the checked claim, frees what can be freed, drops the mutex. */
static int
queue_complete_locked(struct shm_taker *tk, const struct shm_claim *c)
{
	int64_t n;

	if ((n = queue_complete_body(tk, c)) < 0) {
		(void)queue_unlock(tk, 0, 0);
		return -1;
	}
	return queue_unlock(tk, n, 0);
}

/*
 * When items are there already, the release and the next claim share
 * one critical section: one mutex round trip per claim instead of two,
 * which is what N consumers on few cores queue for.  The items are taken
 * with the mutex, as many as the hints say (claim_want()), else one, and
 * with IPC_NOWAIT: a consumer never waits for items while it holds a
 * finished claim nobody has freed.  Taking them in that semop saves the
 * claim_more() semop: two semops per claim.
 */
static int
queue_release_and_claim(struct shm_taker *tk, const struct shm_claim *c)
{
	struct sembuf try1[2] = {
		{ SEM_FULL, -1, IPC_NOWAIT }, { SEM_MUTEX, -1, SEM_UNDO }
	};
	uint64_t held = claim_want(tk), back;
	int64_t n;
	int r;

	try1[0].sem_op = -(short)held;
	if (sem_op(tk->ring->semid, try1, 2, TAKE_TICK_MS) == -1) {
		if (held == 1)
			return 1;	/* no item, or the mutex is busy */
		held = 1;		/* fewer than the hints said */
		try1[0].sem_op = -1;
		if (sem_op(tk->ring->semid, try1, 2, TAKE_TICK_MS) == -1)
			return 1;	/* the plain way */
	}
	if (SHM_LOAD(&tk->ring->hdr->claimer) != 0) {
		/* A recovery is due: give all back, take the plain way. */
		return queue_unlock(tk, 0, (short)held) == -1 ? -1 : 1;
	}
	if ((n = queue_complete_body(tk, c)) < 0) {
		(void)queue_unlock(tk, 0, (short)held);
		return -1;
	}
	r = queue_claim_body(tk, &tk->next, held, &back);
	if (queue_unlock(tk, n, (short)back) == -1)
		return -1;
	if (r == -1)
		return -1;
	tk->have_next = r == 1;
	tk->ended = r == 0;
	return 0;
}

/*
 * Records and frees the claim, with the next claim when an item is there;
 * at the end of a turn (seats, above) only records and frees it, then
 * gives the seat up.
 */
static int
queue_release(struct shm_taker *tk, const struct shm_claim *c)
{
	struct sembuf lock = { SEM_MUTEX, -1, SEM_UNDO };
	int r, turn_over;

	turn_over = seat_turn_over(tk, c->k);
	if (!turn_over && (r = queue_release_and_claim(tk, c)) != 1)
		return r;
	do {
		if (wait_ops(tk, &lock, 1, "recording a claim") == -1)
			return -1;
	} while ((r = queue_backoff(tk, 0)) == 1);
	if (r == -1 || queue_complete_locked(tk, c) == -1)
		return -1;
	return turn_over ? seat_leave(tk) : 0;
}

static void
no_end(struct shm_taker *tk)
{
	(void)tk;
}

/*
 * Broadcast.  Consumer i has its own pair: FULL_I(i) counts the items it
 * has not read yet, EMPTY_I(i) the slots it has finished with.  Nobody
 * else moves its position, so no mutex is needed; the producer's single
 * semop over every EMPTY_I is what keeps a slot until all have read it.
 */
/*
 * How many items a broadcast consumer that has caught up waits for when
 * the stream is fast: half the ring, within the stream's count; 0 when
 * that is not more than -B.  Waking once per half ring, not once per
 * batch, is what lets more consumers than cores share them: on this kind
 * of machine a wake-up costs more than checking a batch.  The producer
 * waits for one free slot, so the two waits (half a ring of items, one
 * free slot) can never hold each other.
 */
static uint64_t
bcast_gather(const struct shm_taker *tk)
{
	uint64_t w = tk->run->capacity / 2, left;

	if (!tk->gather || tk->batch <= 1 || w <= tk->batch)
		return 0;
	left = tk->pos < tk->run->count ? tk->run->count - tk->pos : 0;
	return w < left ? w : 0;
}

/*
 * Waits until w items are there and takes -B of them, in one semop:
 * FULL_I - w then FULL_I + (w - B), which the kernel applies together or
 * not at all, so it claims no more than -B.  Bounded by BCAST_GATHER_MS:
 * a slower producer, or an early end (its total below the count), turns
 * gathering off until a claim is whole again.  1 with the claim, 0 when
 * it timed out, -1 to stop.
 */
static int
bcast_claim_gathered(struct shm_taker *tk, struct shm_claim *c, uint64_t w)
{
	struct sembuf ops[2] = { { 0, 0, 0 }, { 0, 0, 0 } };

	ops[0].sem_num = ops[1].sem_num =
	    (unsigned short)SEM_FULL_I(tk->index);
	ops[0].sem_op = -(short)w;
	ops[1].sem_op = (short)(w - tk->batch);
	if (sem_op(tk->ring->semid, ops, 2, BCAST_GATHER_MS) == 0) {
		c->start = tk->pos;
		c->k = tk->batch;
		return 1;
	}
	if (errno != EAGAIN) {
		(void)tk->look_around(tk, "waiting for items");
		return -1;
	}
	tk->gather = 0;
	return 0;
}

static int
bcast_claim(struct shm_taker *tk, struct shm_claim *c)
{
	struct sembuf take1 = { 0, -1, 0 };
	struct shm_header *h = tk->ring->hdr;
	uint64_t w;
	int r;

	if (tk->have_next) {	/* taken with the last release */
		*c = tk->next;
		tk->have_next = 0;
		return 1;
	}
	if ((w = bcast_gather(tk)) > 0 &&
	    (r = bcast_claim_gathered(tk, c, w)) != 0)
		return r;
	take1.sem_num = (unsigned short)SEM_FULL_I(tk->index);
	if (wait_ops(tk, &take1, 1, "waiting for an item") == -1)
		return -1;
	if (SHM_LOAD(&h->eos) && tk->pos >= SHM_LOAD(&h->total))
		return 0;	/* our own token */
	c->start = tk->pos;
	c->k = 1 + claim_more(tk, take1.sem_num, tk->pos,
	    SHM_LOAD(&h->head));
	return 1;
}

static void
bcast_copy(struct shm_taker *tk, const struct shm_claim *c)
{
	copy_claim(tk, c, 1, tally_bcast_item);
}

/*
 * How many items a broadcast consumer at pos can take without waiting,
 * as head says: up to -B and the ring; 0 when it has caught up.  head is
 * only a hint (it comes from shared memory): the semaphore decides.
 */
static uint64_t
bcast_want(struct shm_taker *tk, uint64_t pos)
{
	uint64_t head = SHM_LOAD(&tk->ring->hdr->head), k;

	if (tk->batch <= 1 || head <= pos)
		return 0;
	k = head - pos;
	if (k > tk->batch)
		k = tk->batch;
	if (k >= tk->run->capacity)
		k = tk->run->capacity - 1;
	return k;
}

/*
 * Frees the claim's slots on EMPTY_I.  When head says more items are
 * there, the same semop takes them on FULL_I with IPC_NOWAIT (all or
 * nothing: on EAGAIN the slots are freed alone), so a consumer behind
 * the producer makes one semop per claim instead of three.  It never
 * waits with its slots unfreed: the producer may be waiting for them.
 */
static int
bcast_release(struct shm_taker *tk, const struct shm_claim *c)
{
	struct sembuf ops[2] = { { 0, 0, 0 }, { 0, 0, IPC_NOWAIT } };
	uint64_t pos = c->start + c->k, want;

	ops[0].sem_num = (unsigned short)SEM_EMPTY_I(tk->index);
	ops[0].sem_op = (short)c->k;
	ops[1].sem_num = (unsigned short)SEM_FULL_I(tk->index);
	tk->pos = pos;
	tk->me->pos = pos;
	tk->me->batches++;
	tally_publish(tk);
	SHM_STORE(&tk->me->freed, pos);
	/* A whole claim at full speed: the stream is fast, gather. */
	tk->gather = c->k >= tk->batch;
	if ((want = bcast_want(tk, pos)) > 0) {
		ops[1].sem_op = -(short)want;
		if (sem_op(tk->ring->semid, ops, 2, 0) == 0) {
			tk->next.start = pos;
			tk->next.k = want;
			tk->have_next = 1;
			return 0;
		}
		if (errno != EAGAIN) {
			(void)tk->look_around(tk, "releasing slots");
			return -1;
		}
	}
	if (sem_op(tk->ring->semid, ops, 1, 0) == -1) {
		(void)tk->look_around(tk, "releasing slots");
		return -1;
	}
	return 0;
}

/*
 * The race demonstration's consumer: reads the shared tail, reads the
 * slot, writes tail + 1 back and decrements the fill count, with no lock
 * anywhere.  Two consumers can read the same tail (a duplicate), a slow
 * one can move tail backwards, a lost count-- or count++ lets the producer
 * overwrite unread items, and the producer may be half-way through the
 * slot.  It ends when the stream has ended and the tail has reached its
 * total, or when nothing has moved for -t seconds.
 */
static int
unsafe_claim(struct shm_taker *tk, struct shm_claim *c)
{
	struct shm_header *h = tk->ring->hdr;
	uint64_t tail, idle = now_ns();

	for (;;) {
		tail = __atomic_load_n(&h->tail, __ATOMIC_RELAXED);
		if (tail < __atomic_load_n(&h->head, __ATOMIC_RELAXED))
			break;
		if (SHM_LOAD(&h->eos) && tail >= SHM_LOAD(&h->total))
			return 0;
		if (*tk->stop || now_ns() - idle >
		    (uint64_t)tk->timeout_s * 1000000000ULL) {
			(void)snprintf(tk->why, sizeof(tk->why),
			    _("consumer %u: nothing moved for %d s"), tk->index,
			    tk->timeout_s);
			return -1;
		}
		if (!SHM_LOAD(&h->eos) && !pid_alive(tk->run->producer_pid)) {
			(void)snprintf(tk->why, sizeof(tk->why),
			    _("consumer %u: the producer died"), tk->index);
			return -1;
		}
		sleep_ms(0);
	}
	c->start = tail;
	c->k = 1;
	return 1;
}

static void
unsafe_copy(struct shm_taker *tk, const struct shm_claim *c)
{
	struct shm_header *h = tk->ring->hdr;
	uint32_t s = ring_slot(c->start, tk->run->capacity);
	uint64_t seq;
	int64_t fill;
	int32_t v;

	jitter(tk->run->jitter_us, &tk->rng);
	seq = __atomic_load_n(&tk->ring->tags[s], __ATOMIC_RELAXED);
	v = __atomic_load_n(&tk->ring->slots[s], __ATOMIC_RELAXED);
	__atomic_store_n(&h->tail, c->start + 1, __ATOMIC_RELAXED);
	/* count--, as a load and a store, racing the producer's. */
	fill = __atomic_load_n(&h->fill, __ATOMIC_RELAXED);
	jitter(tk->run->jitter_us / 4, &tk->rng);
	__atomic_store_n(&h->fill, fill - 1, __ATOMIC_RELAXED);
	tally_unsafe_item(tk, seq, v);
}

static int
unsafe_release(struct shm_taker *tk, const struct shm_claim *c)
{
	(void)c;
	tally_publish(tk);
	return 0;
}

/*
 * An unsafe consumer records its stream's ranges once, at the end, under
 * the mutex that the demonstration otherwise leaves alone.
 */
static void
unsafe_end(struct shm_taker *tk)
{
	struct sembuf lock = { SEM_MUTEX, -1, SEM_UNDO };
	struct sembuf unlock = { SEM_MUTEX, 1, SEM_UNDO };

	if (tk->t.runs == NULL)
		return;
	if (wait_ops(tk, &lock, 1, "recording its items in the ledger") == -1)
		return;
	tally_record(tk);
	if (sem_op(tk->ring->semid, &unlock, 1, 0) == -1)
		(void)snprintf(tk->why, sizeof(tk->why),
		    _("consumer %u: semop(release mutex)"), tk->index);
}

/* -B 1: claim, copy and release in one critical section. */
static int
classic_claim(struct shm_taker *tk, struct shm_claim *c)
{
	return queue_claim_locked(tk, c);
}

static int
classic_release(struct shm_taker *tk, const struct shm_claim *c)
{
	return queue_complete_locked(tk, c);
}

/* The consumer's side of each mode's table (modetab.c). */
const struct shm_mode_ops queue_ops = {
	"queue", queue_claim, queue_copy, queue_release, no_end
};
const struct shm_mode_ops classic_ops = {
	"queue (classic)", classic_claim, queue_copy, classic_release, no_end
};
const struct shm_mode_ops bcast_ops = {
	"broadcast", bcast_claim, bcast_copy, bcast_release, no_end
};
const struct shm_mode_ops unsafe_ops = {
	"unsafe", unsafe_claim, unsafe_copy, unsafe_release, unsafe_end
};
