/*
 * watch.c - the producer's distrust: the segment is hostile input and
 * every peer may stop.  Damage to what the producer wrote, the progress
 * check of every wait, the consumers' liveness (common/live.c) and the
 * queue's repair after a death, and the process title.  Each sets the
 * run's reason to end (p->why); the caller ends the run through finish().
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <err.h>
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "prod.h"

static int	 record_damaged(struct prod *, uint32_t);
static uint64_t	 motion(const struct prod *);
static uint64_t	 queue_rebuild_done(struct prod *, uint64_t);
static int	 recover_queue(struct prod *);
static uint32_t	 live_count(struct prod *, int *);
static void	 on_death(void *, uint32_t, const struct shm_consumer *);

/*
 * Ends the run with a reason, built twice: in English for the JSON
 * report (a contract with scripts) and in the user's language for
 * people.  fmt is marked with N_() by the caller.
 */
void
fail(struct prod *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(p->why_buf, sizeof(p->why_buf), fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	(void)vsnprintf(p->why_text, sizeof(p->why_text), _(fmt), ap);
	va_end(ap);
	p->why = p->why_buf;
}

void
fatal_ipc(struct prod *p, const char *what)
{
	locale_t c;
	int e = errno;

	if (e == EIDRM || e == EINVAL) {
		fail(p, N_("%s: the semaphore set was removed from outside "
		    "(ipcrm, or systemd's RemoveIPC at logout)"), what);
		return;
	}
	/* The JSON's copy in English: strerror(3) follows LC_MESSAGES. */
	c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	(void)snprintf(p->why_buf, sizeof(p->why_buf), "%s: %s", what,
	    c != (locale_t)0 ? strerror_l(e, c) : strerror(e));
	(void)snprintf(p->why_text, sizeof(p->why_text), "%s: %s", what,
	    strerror(e));
	if (c != (locale_t)0)
		freelocale(c);
	p->why = p->why_buf;
}

void
set_state(struct prod *p, uint32_t st)
{
	p->state = st;
	SHM_STORE(&p->ring.hdr->state, st);
}

/* Records handed out, as far as they can exist: never past the table. */
uint32_t
registered_now(const struct prod *p)
{
	return live_records(SHM_LOAD(&p->ring.hdr->registered), p->par.mode,
	    p->par.expected);
}

/* Ends the run: the segment says something the protocol never writes. */
void
damage(struct prod *p, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fail(p, N_("shm id %d was damaged from outside: %s; the run is "
	    "ended, nothing in it can be trusted"), p->ring.shmid, what);
}

/* The header fields written once, before hdr.ready. */
#define FIXED(f)	{ #f, offsetof(struct shm_header, f), \
			  sizeof(((struct shm_header *)0)->f) }
static const struct {
	const char	*name;
	size_t		 off, len;
} fixed_fields[] = {
	FIXED(magic), FIXED(version), FIXED(hdr_size), FIXED(ready),
	FIXED(capacity), FIXED(mode), FIXED(flags), FIXED(max_consumers),
	FIXED(expected), FIXED(batch), FIXED(producer_pid), FIXED(semid),
	FIXED(jitter_us), FIXED(count), FIXED(seed), FIXED(slots_off),
	FIXED(tags_off), FIXED(table_off), FIXED(ledger_off), FIXED(size),
	FIXED(timeout_s), FIXED(delay_ms)
};

/* Puts back, into a copy th of the header, the fields the producer wrote. */
void
restore_fixed(const struct prod *p, struct shm_header *th)
{
	size_t i;

	for (i = 0; i < sizeof(fixed_fields) / sizeof(fixed_fields[0]); i++)
		memcpy((char *)th + fixed_fields[i].off,
		    (const char *)&p->orig + fixed_fields[i].off,
		    fixed_fields[i].len);
}

/*
 * Compares the segment with what the producer wrote and with the orders
 * the protocol keeps (freed <= tail <= head; a record's state and pid).
 * Returns 1, with p->why naming the first damaged field, or 0.
 */
int
seg_damaged(struct prod *p)
{
	const char *h = (const char *)p->ring.hdr;
	const char *o = (const char *)&p->orig;
	uint64_t v = 0, w = 0, freed, tail;
	uint32_t n, i;
	size_t f;

	if (p->why != NULL && strncmp(p->why, "shm id", 6) == 0)
		return 1;
	for (f = 0; f < sizeof(fixed_fields) / sizeof(fixed_fields[0]); f++) {
		if (memcmp(h + fixed_fields[f].off, o + fixed_fields[f].off,
		    fixed_fields[f].len) == 0)
			continue;
		memcpy(&v, h + fixed_fields[f].off, fixed_fields[f].len);
		memcpy(&w, o + fixed_fields[f].off, fixed_fields[f].len);
		damage(p, "hdr.%s is %llu, the producer wrote %llu",
		    fixed_fields[f].name, (unsigned long long)v,
		    (unsigned long long)w);
		return 1;
	}
	n = SHM_LOAD(&p->ring.hdr->registered);
	if (n != registered_now(p)) {
		damage(p, "hdr.registered is %u, at most %u", n,
		    registered_now(p));
		return 1;
	}
	if (SHM_LOAD(&p->ring.hdr->head) != p->head ||
	    SHM_LOAD(&p->ring.hdr->state) != p->state) {
		damage(p, "hdr.head %llu or hdr.state %u is not what the "
		    "producer wrote (%llu, %u)",
		    (unsigned long long)p->ring.hdr->head,
		    p->ring.hdr->state, (unsigned long long)p->head, p->state);
		return 1;
	}
	if (p->mode->flags & MF_COUNTED) {
		/* freed first: both only grow, and freed never passes tail. */
		freed = SHM_LOAD(&p->ring.hdr->freed);
		tail = SHM_LOAD(&p->ring.hdr->tail);
		if (freed > tail || tail > p->head) {
			damage(p, "hdr.freed %llu, tail %llu, head %llu are "
			    "out of order", (unsigned long long)freed,
			    (unsigned long long)tail,
			    (unsigned long long)p->head);
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		if (record_damaged(p, i))
			return 1;
	return 0;
}

/* A registered record: a known state, a pid, a claim inside the ring. */
static int
record_damaged(struct prod *p, uint32_t i)
{
	const struct shm_consumer *c = &p->ring.table[i];
	uint32_t st = SHM_LOAD(&c->state);

	if (st < CS_ACTIVE || st > CS_DIED || c->pid <= 0 || c->index != i) {
		damage(p, "consumer record %u has state %u, pid %d, index %u",
		    i, st, (int)c->pid, c->index);
		return 1;
	}
	if ((p->mode->flags & MF_SHARED_TAIL) &&
	    SHM_LOAD(&c->claim_len) > p->par.capacity) {
		damage(p, "consumer record %u claims %llu items of a ring of %u",
		    i, (unsigned long long)c->claim_len, p->par.capacity);
		return 1;
	}
	return 0;
}

/*
 * Everything that moves when anybody makes progress: the positions,
 * registrations and each record's counters.  Only equality matters.
 */
static uint64_t
motion(const struct prod *p)
{
	const struct shm_consumer *c;
	uint64_t m;
	uint32_t i, n = registered_now(p);

	m = p->head + SHM_LOAD(&p->ring.hdr->tail) +
	    SHM_LOAD(&p->ring.hdr->freed) + n;
	for (i = 0; i < n; i++) {
		c = &p->ring.table[i];
		m += SHM_LOAD(&c->consumed) + SHM_LOAD(&c->pos) +
		    SHM_LOAD(&c->freed) + SHM_LOAD(&c->state) + c->batches;
	}
	return m;
}

/*
 * The progress check of every wait: a peer can be alive and still never
 * move (a semaphore zeroed with semctl, a consumer wedged inside its
 * claim).  Ends the run when nothing has moved for -t seconds, naming
 * what was waited for.  A gap between two calls longer than a few ticks
 * means the producer itself was stopped: the clock starts again.
 */
int
stalled(struct prod *p, const char *waiting)
{
	static const char *const stall_fmt = N_("nothing moved for %d s (-t) "
	    "while waiting for %s (live consumers: %s; semaphores mutex %d, "
	    "empty %d, full %d): a peer is wedged or a semaphore was changed "
	    "from outside");
	uint64_t m = motion(p), t = now_ns();
	char who[96] = "";
	uint32_t i, n;
	size_t len;
	int v[3];

	if (m != p->last_motion || p->motion_ns == 0 ||
	    t - p->last_look_ns > 10ULL * TICK_MS * 1000000ULL) {
		p->last_motion = m;
		p->motion_ns = t;
	}
	p->last_look_ns = t;
	if (t - p->motion_ns <= (uint64_t)p->opt.timeout_s * 1000000000ULL)
		return 0;
	n = registered_now(p);
	for (i = 0; i < n; i++) {
		if (SHM_LOAD(&p->ring.table[i].state) != CS_ACTIVE)
			continue;
		len = strlen(who);
		(void)snprintf(who + len, sizeof(who) - len, "%s%d",
		    len ? ", " : "", (int)p->ring.table[i].pid);
	}
	v[0] = semctl(p->ring.semid, SEM_MUTEX, GETVAL);
	v[1] = semctl(p->ring.semid, SEM_EMPTY, GETVAL);
	v[2] = semctl(p->ring.semid, SEM_FULL, GETVAL);
	/* Twice, as fail() does: waiting is translated too. */
	(void)snprintf(p->why_buf, sizeof(p->why_buf), stall_fmt,
	    p->opt.timeout_s, waiting, who[0] ? who : "none", v[0], v[1], v[2]);
	(void)snprintf(p->why_text, sizeof(p->why_text), _(stall_fmt),
	    p->opt.timeout_s, _(waiting), who[0] ? who : _("none"), v[0], v[1],
	    v[2]);
	p->why = p->why_buf;
	return 1;
}

void
dump_counters(struct prod *p)
{
	struct shm_header *h = p->ring.hdr;

	prod_dump = 0;
	fprintf(stderr, _("%s: pid %ld: %s, produced %llu of %llu, "
	    "claimed %llu, freed %llu, consumers %u\n"), getprogname(),
	    (long)getpid(), _(state_name(SHM_LOAD(&h->state))),
	    (unsigned long long)SHM_LOAD(&h->head),
	    (unsigned long long)p->par.count,
	    (unsigned long long)SHM_LOAD(&h->tail),
	    (unsigned long long)SHM_LOAD(&h->freed), SHM_LOAD(&h->registered));
}

/*
 * ps shows the role and progress, at most ten times a second.  Returns 1
 * when it did: a busy loop also looks around (tick) at that pace, so an
 * ipcrm or a dead consumer is noticed even when no wait ever times out.
 */
int
title(struct prod *p)
{
	struct shm_header *h = p->ring.hdr;
	uint64_t t = now_ns(), head, used;

	if (!proto_look_due(&p->last_title_ns, t))
		return 0;
	head = SHM_LOAD(&h->head);
	if (p->mode->flags & MF_SHARED_TAIL) {
		/* A hostile or racing freed must not show more than full. */
		used = head - SHM_LOAD(&h->freed);
		setproctitle("-producer: %llu/%llu, ring %llu/%u",
		    (unsigned long long)head, (unsigned long long)p->par.count,
		    (unsigned long long)(used > p->par.capacity ?
		    p->par.capacity : used), p->par.capacity);
	}
	else
		setproctitle("-producer: %llu/%llu, %u consumers",
		    (unsigned long long)head, (unsigned long long)p->par.count,
		    registered_now(p));
	return 1;
}

/*
 * Called with the mutex held, so no consumer is inside a claim or a
 * completion: rebuilds done[] from the records alone.  Of the positions
 * claimed and not freed, [freed, tail), only the live consumers' claims
 * in hand are still being read; every other stretch was completed, or
 * belongs to a consumer that died or failed (its items were accounted
 * for above): it may be freed.  Returns the new freed.
 */
static uint64_t
queue_rebuild_done(struct prod *p, uint64_t tail)
{
	uint64_t live[SHM_MAX_CONSUMERS][2];
	struct shm_consumer *c;
	uint64_t freed = SHM_LOAD(&p->ring.hdr->freed), cur, lo, hi;
	uint32_t i, j, n = 0, cap = p->par.capacity;

	if (freed > tail)
		freed = tail;
	for (i = 0; i < registered_now(p); i++) {
		c = &p->ring.table[i];
		lo = SHM_LOAD(&c->claim_start);
		hi = lo + SHM_LOAD(&c->claim_len);
		if (SHM_LOAD(&c->state) != CS_ACTIVE || hi == lo ||
		    lo < freed || hi > tail)
			continue;
		for (j = n++; j > 0 && live[j - 1][0] > lo; j--)
			memcpy(live[j], live[j - 1], sizeof(live[j]));
		live[j][0] = lo;
		live[j][1] = hi;
	}
	memset(p->ring.done, 0, (size_t)cap * sizeof(*p->ring.done));
	if (n == 0)
		return tail;
	for (i = 0, cur = live[0][1]; i < n; i++) {
		if (live[i][0] > cur)
			p->ring.done[ring_slot(cur, cap)] =
			    (uint32_t)(live[i][0] - cur);
		if (live[i][1] > cur)
			cur = live[i][1];
	}
	if (tail > cur)
		p->ring.done[ring_slot(cur, cap)] = (uint32_t)(tail - cur);
	return live[0][0];
}

/*
 * After a queue consumer died inside its critical section, SEM_UNDO has
 * released the mutex, but the counting semaphores may be off by the claim
 * it never completed.  With the mutex held no live consumer is between
 * claim and release, so the true values follow from the counters alone.
 */
static int
recover_queue(struct prod *p)
{
	struct sembuf lock = { SEM_MUTEX, -1, SEM_UNDO };
	struct sembuf unlock = { SEM_MUTEX, 1, SEM_UNDO };
	struct shm_header *h = p->ring.hdr;
	uint64_t inring, tail, freed;
	uint32_t i;
	union semun full, empty;

	if (sem_op(p->ring.semid, &lock, 1, TICK_MS * 5) == -1) {
		if (errno != EAGAIN)
			fatal_ipc(p, "semop(mutex) during recovery");
		return -1;	/* a stopped consumer holds it: later */
	}
	/*
	 * Nobody is in a claim now: the dead ones' claims are final.  A
	 * claimer left set names the one that died in its critical section;
	 * the consumers release nothing until we clear it, so its slots
	 * still hold what it claimed.  Mark it dead here if its pid is gone
	 * (look_around() may not have looked since).
	 */
	live_claimer_mark_dead(&p->ring, registered_now(p));
	for (i = 0; i < registered_now(p); i++)
		live_account_claim(&p->ring, &p->ring.table[i],
		    p->par.capacity);
	SHM_STORE(&h->claimer, 0u);
	tail = SHM_LOAD(&h->tail);
	if (tail > p->head) {
		/* Never a semaphore value from a damaged counter. */
		(void)sem_op(p->ring.semid, &unlock, 1, 0);
		if (!seg_damaged(p))
			damage(p, "hdr.tail is %llu, beyond head %llu",
			    (unsigned long long)tail,
			    (unsigned long long)p->head);
		return -1;
	}
	freed = queue_rebuild_done(p, tail);
	inring = p->head - tail;
	full.val = (int)inring + (SHM_LOAD(&h->eos) ? 1 : 0);
	empty.val = (int)(p->par.capacity - (p->head - freed));
	if (semctl(p->ring.semid, SEM_FULL, SETVAL, full) == -1 ||
	    semctl(p->ring.semid, SEM_EMPTY, SETVAL, empty) == -1)
		fatal_ipc(p, "semctl(SETVAL) during recovery");
	SHM_STORE(&h->freed, freed);
	if (sem_op(p->ring.semid, &unlock, 1, 0) == -1)
		fatal_ipc(p, "semop(mutex) during recovery");
	return 0;
}

/* live_scan() tells of each new death: say it, once. */
static void
on_death(void *arg, uint32_t i, const struct shm_consumer *c)
{
	(void)arg;
	warnx(_("consumer %u (pid %d) died after %llu items%s"), i,
	    (int)c->pid, (unsigned long long)c->consumed,
	    c->claim_len ? _(", holding a claim") : "");
}

/* The live consumers, the gone ones marked dead (live.c). */
static uint32_t
live_count(struct prod *p, int *left)
{
	return live_scan(&p->live, p->ring.table, registered_now(p), left,
	    p->verbose ? on_death : NULL, NULL);
}

/*
 * The liveness step of every wait (tick() and drain()): counts the live
 * consumers, marking the dead, and repairs the queue's semaphores when
 * a consumer died or its critical section was cut short.  *left says
 * what changed (LIVE_DIED, LIVE_LEFT).
 */
uint32_t
look_around(struct prod *p, int *left)
{
	uint32_t live = live_count(p, left);

	/* A queue consumer that failed may leave a claim nobody frees. */
	if ((*left & (LIVE_DIED | LIVE_LEFT)) ||
	    live_claimer_stale(&p->ring, registered_now(p)))
		p->need_recovery = 1;
	if (p->need_recovery && (p->mode->flags & MF_RECOVER) &&
	    recover_queue(p) == 0)
		p->need_recovery = 0;
	return live;
}

/*
 * After an abort, gives the consumers a moment to notice (they look
 * around every 100 ms) and finish their records, so that the report reads
 * a table that has stopped moving.
 */
void
settle(struct prod *p)
{
	uint64_t start = now_ns();
	int left;

	while (live_count(p, &left) > 0 &&
	    now_ns() - start < SETTLE_MS * 1000000ULL)
		sleep_ms(10);
}
