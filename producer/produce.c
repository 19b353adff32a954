/*
 * produce.c - the stream: publication, the consumers' joining, the items
 * in batches through the ring (or, --unsafe, without the semaphores),
 * the end-of-stream token, and the drain until every consumer is done.
 * Every wait has a deadline (-t) and a progress check (stalled()).
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "prod.h"
#include "take.h"

static uint64_t	 limit_ns(const struct prod *);
static uint64_t	 stream_total(const struct prod *);
static uint64_t	 stream_seq(const struct prod *, uint64_t);
static int	 stream_plain(const struct prod *, uint64_t, uint64_t);
static void	 publish(struct prod *);
static int	 tick(struct prod *);
static int	 wait_ops(struct prod *, struct sembuf *, size_t);
static int	 join_wait(struct prod *);
static uint32_t	 build_ops(const struct prod *, struct sembuf *, int, short,
		    short);
static uint64_t	 free_hint(const struct prod *, uint64_t);
static void	 write_faulty(const struct prod *, uint64_t, uint64_t);
static void	 produce_safe(struct prod *);
static void	 produce_unsafe(struct prod *);
static void	 post_eos(struct prod *);
static void	 drain(struct prod *);

/*
 * The stream, from publication to the last consumer's detach.  Whatever
 * ends it sets p->why; the caller's finish() reports and tears down.
 */
void
produce(struct prod *p)
{
	publish(p);
	if (join_wait(p) != 0)
		return;
	set_state(p, ST_PRODUCING);
	p->orig.start_ns = p->ring.hdr->start_ns = now_ns();
	if (p->mode->flags & MF_UNGUARDED)
		produce_unsafe(p);
	else
		produce_safe(p);
	if (p->why == NULL || prod_stop)
		post_eos(p);
	if (p->why == NULL || prod_stop)
		drain(p);
	else
		settle(p);
}

/*
 * Publishes the run: a -d caller may go, and hdr.ready is written last,
 * since consumers trust nothing before they see it.
 */
static void
publish(struct prod *p)
{
	if (p->daemonise)
		(void)daemon_ready(p);
	p->ring.hdr->producer_pid = (int32_t)getpid();
	set_state(p, ST_INIT);
	SHM_STORE(&p->ring.hdr->ready, SHM_READY);
	memcpy(&p->orig, p->ring.hdr, sizeof(p->orig));
	if (p->verbose && !p->json_stdout)
		fprintf(stderr, _("%s: pid %ld, key 0x%08lx, shm id %d, sem id "
		    "%d, %s mode, MAXBUF %u, %llu items\n"), getprogname(),
		    (long)getpid(), (unsigned long)(uint32_t)p->key,
		    p->ring.shmid, p->ring.semid, mode_name(p->par.mode),
		    p->par.capacity, (unsigned long long)p->par.count);
}

/* -t, in the clock's nanoseconds. */
static uint64_t
limit_ns(const struct prod *p)
{
	return (uint64_t)p->opt.timeout_s * 1000000000ULL;
}

/*
 * SHMLAB_FAULT is a test-only hook: "drop:S", "dup:S", "swap:S" or
 * "corrupt:S" makes the producer deliberately misbehave at sequence number
 * S, so that the tests can prove the ledger's exact counts.  The report
 * names the fault, so nobody mistakes such a run for a real one.
 */
void
parse_fault(struct prod *p)
{
	const char *s, *errstr, *colon;
	char kind[16];
	size_t n;

	s = getenv("SHMLAB_FAULT");
	if (s == NULL || *s == '\0')
		return;
	colon = strchr(s, ':');
	if (colon == NULL || (n = (size_t)(colon - s)) >= sizeof(kind))
		errx(2, _("SHMLAB_FAULT %s: want KIND:SEQ"), s);
	memcpy(kind, s, n);
	kind[n] = '\0';
	if (strcmp(kind, "drop") == 0)
		p->fault.kind = F_DROP;
	else if (strcmp(kind, "dup") == 0)
		p->fault.kind = F_DUP;
	else if (strcmp(kind, "swap") == 0)
		p->fault.kind = F_SWAP;
	else if (strcmp(kind, "corrupt") == 0)
		p->fault.kind = F_CORRUPT;
	else
		errx(2, _("SHMLAB_FAULT %s: kind is drop, dup, swap or corrupt"),
		    s);
	p->fault.seq = (uint64_t)strtonum(colon + 1, 0, SHM_COUNT_MAX,
	    &errstr);
	if (errstr != NULL)
		errx(2, _("SHMLAB_FAULT sequence %s: %s"), colon + 1,
		    strtonum_word(errstr));
	if (p->fault.seq + (p->fault.kind == F_SWAP ? 1 : 0) >= p->par.count)
		errx(2, _("SHMLAB_FAULT %s: sequence beyond count %llu"), s,
		    (unsigned long long)p->par.count);
	p->fault.spec = s;
}

/* Ring positions the producer writes: count, or one more or less. */
static uint64_t
stream_total(const struct prod *p)
{
	if (p->fault.kind == F_DROP)
		return p->par.count - 1;
	if (p->fault.kind == F_DUP)
		return p->par.count + 1;
	return p->par.count;
}

/* The sequence number written at ring position pos. */
static uint64_t
stream_seq(const struct prod *p, uint64_t pos)
{
	switch (p->fault.kind) {
	case F_DROP:
		return pos < p->fault.seq ? pos : pos + 1;
	case F_DUP:
		return pos <= p->fault.seq ? pos : pos - 1;
	case F_SWAP:
		if (pos == p->fault.seq)
			return pos + 1;
		return pos == p->fault.seq + 1 ? p->fault.seq : pos;
	default:
		return pos;
	}
}

/*
 * Whether positions pos .. pos + k - 1 hold the plain stream (sequence
 * number = position, value unchanged): every position before the fault's
 * is, whatever the fault (stream_seq() and write_faulty() change nothing
 * there).  So a run with a fault near its end, like the 10^10-item stress
 * case, writes all but its last batches at the plain stream's speed.
 */
static int
stream_plain(const struct prod *p, uint64_t pos, uint64_t k)
{
	return p->fault.kind == F_NONE || pos + k <= p->fault.seq;
}

/* Writes positions pos .. pos + k - 1 of a stream with a fault injected. */
static void
write_faulty(const struct prod *p, uint64_t pos, uint64_t k)
{
	uint64_t j, seq;
	uint32_t sl = ring_slot(pos, p->par.capacity);
	int32_t v;

	for (j = 0; j < k; j++) {
		seq = stream_seq(p, pos + j);
		v = item_value(p->par.seed, seq);
		if (p->fault.kind == F_CORRUPT && seq == p->fault.seq)
			v ^= 0x40000000;
		p->ring.slots[sl] = v;
		p->ring.tags[sl] = seq;
		if (++sl == p->par.capacity)
			sl = 0;
	}
}

/*
 * Called whenever a wait times out: prints counters on SIGUSR1, notices
 * dead consumers, damage to the segment and a stop request.  Returns -1
 * when the run must end, 1 when a consumer died or failed (a broadcast
 * wait must leave it out), else 0.
 */
static int
tick(struct prod *p)
{
	unsigned long nattch;
	uint32_t live;
	int died;

	if (prod_dump)
		dump_counters(p);
	title(p);
	if (prod_stop) {
		if (p->why == NULL)
			p->why = N_("stopped by a signal");
		return -1;
	}
	if (seg_removed(p->ring.shmid) == 1) {
		fail(p, N_("shm id %d was removed from outside (ipcrm, or "
		    "systemd's RemoveIPC at logout)"), p->ring.shmid);
		return -1;
	}
	if (seg_damaged(p))
		return -1;
	live = look_around(p, &died);
	if (p->why != NULL)
		return -1;
	/*
	 * Nobody left, unless a process still attached may yet register
	 * (a consumer program whose first child its parent registered as
	 * died): then the progress rule bounds the wait.
	 */
	if (registered_now(p) > 0 && live == 0 && p->state == ST_PRODUCING &&
	    (seg_nattch(p->ring.shmid, &nattch) == -1 || nattch <= 1)) {
		p->why = N_("every consumer died or failed: nobody is "
		    "left to take the items");
		return -1;
	}
	return died != 0;
}

/*
 * Waits for a set of semaphore operations, looking around every TICK_MS.
 * Returns 0 when done, 1 when a consumer died (rebuild the set), -1 when
 * the run must end; gives up when no consumer has come within -t.
 */
static int
wait_ops(struct prod *p, struct sembuf *ops, size_t n)
{
	uint64_t start = now_ns();
	int r;

	for (;;) {
		if (sem_op(p->ring.semid, ops, n, TICK_MS) == 0)
			return 0;
		if (errno != EAGAIN) {
			fatal_ipc(p, "semop");
			return -1;
		}
		if ((r = tick(p)) != 0)
			return r;
		if (registered_now(p) > 0 && stalled(p, p->mode->waiting))
			return -1;
		if (registered_now(p) == 0 && now_ns() - start > limit_ns(p)) {
			fail(p, N_("no consumer came within %d s (-t)"),
			    p->opt.timeout_s);
			return -1;
		}
	}
}

/* Waits until the expected consumers have registered (-n). */
static int
join_wait(struct prod *p)
{
	struct sembuf op = { SEM_JOIN, 0, 0 };
	uint64_t start = now_ns();

	if (p->par.expected == 0)
		return 0;
	op.sem_op = -(short)p->par.expected;
	set_state(p, ST_WAITING);
	for (;;) {
		if (sem_op(p->ring.semid, &op, 1, TICK_MS) == 0)
			return 0;
		if (errno != EAGAIN) {
			fatal_ipc(p, "semop(join)");
			return -1;
		}
		if (tick(p) == -1)
			return -1;
		/*
		 * The table counts too: a consumer killed after it stored
		 * registered and before it posted SEM_JOIN has a record (which
		 * tick() marks died) but no join, and would hold us until -t.
		 */
		if (registered_now(p) >= p->par.expected)
			return 0;
		if (now_ns() - start > limit_ns(p)) {
			fail(p, N_("only %u of %u consumers joined within %d s "
			    "(-t)"), registered_now(p), p->par.expected,
			    p->opt.timeout_s);
			return -1;
		}
	}
}

/*
 * Fills ops with one operation per view of the ring that counts, as the
 * mode's table says (mode.h): the queue's single semaphore, one per live
 * broadcast consumer, none in unsafe mode.  Returns how many.
 */
static uint32_t
build_ops(const struct prod *p, struct sembuf *ops, int full, short op,
    short flg)
{
	return p->mode->views(&p->ring, p->par.expected, ops, full, op, flg);
}

/*
 * Free slots beyond the one already held, from the freed counters (the
 * mode's table).  Published by the consumers just before their release
 * semop, so that the process the release wakes sees them at once
 * (published after, a woken producer that preempts the consumer would
 * claim one slot at a time for a whole time slice).  So they may
 * overstate by one release in flight: the IPC_NOWAIT claim that follows
 * then fails with EAGAIN and we take the one slot we hold.  The
 * semaphores stay the only guard.
 */
static uint64_t
free_hint(const struct prod *p, uint64_t pos)
{
	return p->mode->free_hint(&p->ring, p->par.capacity, p->par.expected,
	    pos);
}

/*
 * Takes, without waiting, the free slots the hint promises for the batch
 * at pos: up to -B and the stream's end, in one IPC_NOWAIT semop over
 * every view.  Returns how many (0: take the slow way, one slot first),
 * or -1 when the semop failed for a reason other than EAGAIN.  The hint
 * may overstate by a release in flight; the semaphores decide.
 */
static int64_t
take_free(struct prod *p, struct sembuf *ops, uint64_t pos, uint64_t total,
    uint32_t batch)
{
	uint64_t want, hint;
	uint32_t n;

	if (batch <= 1 || (hint = free_hint(p, pos)) == 0)
		return 0;
	want = hint + 1;
	if (want > batch)
		want = batch;
	if (want > total - pos)
		want = total - pos;
	if (want <= 1 || (n = build_ops(p, ops, 0, -(short)want,
	    IPC_NOWAIT)) == 0)
		return 0;
	if (sem_op(p->ring.semid, ops, n, 0) == 0)
		return (int64_t)want;
	if (errno != EAGAIN) {
		fatal_ipc(p, "semop(empty)");
		return -1;
	}
	return 0;
}

/*
 * The semaphore-guarded producer, both modes.  Per batch: when the free
 * counters say the slots are there, take them all without waiting
 * (take_free()); otherwise wait for one free slot (in broadcast, in every
 * consumer's view: one semop over all of them) and take what else is free
 * up to -B without waiting.  Then write the items and post them with one
 * semop: two semops per batch while the consumers keep up.
 */
static void
produce_safe(struct prod *p)
{
	struct shm_header *h = p->ring.hdr;
	struct sembuf *ops;
	uint64_t pos, total, k, extra, hint;
	int64_t got;
	uint32_t n, cap = p->par.capacity, batch = p->par.batch;
	int r;

	ops = test_fail("alloc") ? NULL : calloc(p->par.expected > 0 ?
	    p->par.expected : 1, sizeof(*ops));
	if (ops == NULL) {
		p->why = N_("out of memory");
		return;
	}
	if (p->opt.delay_ms > 0)
		batch = 1;	/* slow motion shows every item */
	total = stream_total(p);
	for (pos = 0; pos < total;) {
		if ((got = take_free(p, ops, pos, total, batch)) == -1)
			break;
		k = (uint64_t)got;
		if (k == 0) {
			n = build_ops(p, ops, 0, -1, 0);
			if (n == 0) {
				p->why = N_("every consumer died or failed: "
				    "nobody is left to take the items");
				break;
			}
			if ((r = wait_ops(p, ops, n)) == 1)
				continue;	/* a consumer died: rebuild */
			if (r == -1)
				break;
			k = 1;
			extra = total - pos - 1;
			if (extra > batch - 1)
				extra = batch - 1;
			if (extra > 0 && (hint = free_hint(p, pos)) < extra)
				extra = hint;
			if (extra > 0) {
				n = build_ops(p, ops, 0, -(short)extra,
				    IPC_NOWAIT);
				if (sem_op(p->ring.semid, ops, n, 0) == 0)
					k += extra;
				else if (errno != EAGAIN) {
					fatal_ipc(p, "semop(empty)");
					break;
				}
			}
		}
		/* Decided per batch: the plain stream, or one with a fault. */
		if (stream_plain(p, pos, k))
			ring_fill(&p->ring, cap, pos, k, p->par.seed);
		else
			write_faulty(p, pos, k);
		/* head first: a consumer woken by the post sees it at once. */
		p->head = pos + k;
		SHM_STORE(&h->head, p->head);
		n = build_ops(p, ops, 1, (short)k, 0);
		if (sem_op(p->ring.semid, ops, n, 0) == -1) {
			fatal_ipc(p, "semop(full)");
			break;
		}
		pos += k;
		if ((prod_dump || prod_stop || title(p)) && tick(p) == -1)
			break;
		if (p->opt.delay_ms > 0)
			sleep_ms(p->opt.delay_ms);
	}
	free(ops);
}

/*
 * The race demonstration: the same ring with the semaphores taken away,
 * written the way an unsynchronised course solution is.  The producer
 * trusts a fill count that both sides update with a plain count++ and
 * count-- (updates get lost, so it overwrites items nobody read), it
 * announces a slot before filling it (consumers read half-written slots),
 * and consumers share a tail without a lock (items taken twice).  Nothing
 * waits forever: a ring that looks full is overwritten after 20 ms.
 */
static void
produce_unsafe(struct prod *p)
{
	struct shm_header *h = p->ring.hdr;
	uint64_t pos, total, seq, rng = (uint64_t)getpid(), t0;
	uint32_t cap = p->par.capacity, s;
	int64_t fill;

	total = stream_total(p);
	for (pos = 0; pos < total && !prod_stop; pos++) {
		t0 = now_ns();
		while (__atomic_load_n(&h->fill, __ATOMIC_RELAXED) >=
		    (int64_t)cap && now_ns() - t0 < 20000000ULL && !prod_stop)
			sleep_ms(0);
		s = ring_slot(pos, cap);
		seq = stream_seq(p, pos);
		p->head = pos + 1;
		__atomic_store_n(&h->head, p->head, __ATOMIC_RELAXED);
		__atomic_store_n(&p->ring.tags[s], seq, __ATOMIC_RELAXED);
		jitter(p->par.jitter_us, &rng);
		__atomic_store_n(&p->ring.slots[s],
		    item_value(p->par.seed, seq), __ATOMIC_RELAXED);
		/* count++, as a load and a store: the race is the point. */
		fill = __atomic_load_n(&h->fill, __ATOMIC_RELAXED);
		jitter(p->par.jitter_us / 4, &rng);
		__atomic_store_n(&h->fill, fill + 1, __ATOMIC_RELAXED);
		if (prod_dump)
			dump_counters(p);
		if (title(p) && seg_removed(p->ring.shmid) == 1) {
			p->why = N_("the segment was removed from outside");
			break;
		}
		if (p->opt.delay_ms > 0)
			sleep_ms(p->opt.delay_ms);
	}
	if (prod_stop && p->why == NULL)
		p->why = N_("stopped by a signal");
}

/*
 * End of stream: total and eos first, then one token per consumer view
 * (none in unsafe mode, which has no views: its consumers watch eos).
 * A queue consumer that takes the token puts it back, so every consumer,
 * however many and however late, finds it.
 */
static void
post_eos(struct prod *p)
{
	struct shm_header *h = p->ring.hdr;
	struct sembuf *ops;
	uint32_t n;

	SHM_STORE(&h->total, p->head);
	SHM_STORE(&h->eos, 1u);
	set_state(p, ST_DRAINING);
	ops = calloc(p->par.expected > 0 ? p->par.expected : 1, sizeof(*ops));
	if (ops == NULL) {
		p->why = N_("out of memory");
		return;
	}
	n = build_ops(p, ops, 1, 1, 0);
	if (n > 0 && sem_op(p->ring.semid, ops, n, 0) == -1)
		fatal_ipc(p, "semop(end-of-stream token)");
	free(ops);
}

/*
 * Waits until every consumer that registered has finished or died, at
 * least one (or -n) having come, and every process attached has detached
 * (nattch back to 1: us).  Children of a consumer parent attach before
 * they register, so a run whose first consumer already took everything
 * still waits for its siblings to take the token; a process that stays
 * attached without consuming (a stuck parent) gets GRACE_MS.
 */
static void
drain(struct prod *p)
{
	uint64_t start = now_ns(), quiet = 0;
	unsigned long nattch;
	uint32_t live;
	int died;

	for (;; sleep_ms(5)) {
		if (prod_dump)
			dump_counters(p);
		title(p);
		live = look_around(p, &died);
		if (p->why == NULL)
			(void)seg_damaged(p);
		if (p->why != NULL && !prod_stop)
			break;
		if (prod_stop && now_ns() - start > STOP_DRAIN_MS * 1000000ULL)
			break;
		if (live_drained(registered_now(p), p->par.expected, live)) {
			if (seg_nattch(p->ring.shmid, &nattch) == -1 ||
			    nattch <= 1)
				break;
			if (quiet == 0)
				quiet = now_ns();
			else if (now_ns() - quiet > GRACE_MS * 1000000ULL)
				break;
			continue;
		}
		quiet = 0;
		if (live > 0 && stalled(p, N_("the consumers to take the end "
		    "of stream")))
			break;
		if (live == 0 && now_ns() - start > limit_ns(p)) {
			fail(p, N_("no consumer took the items within %d s "
			    "(-t)"), p->opt.timeout_s);
			break;
		}
	}
}
