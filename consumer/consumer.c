/*
 * consumer - forks N consumer processes that take items from a shmlab run.
 *
 * The parent waits (a bounded time) for a producer's segment under the
 * key, attaches and validates it, forks the children, and reaps them; the
 * children inherit the attachment, register in the consumer table, and
 * take items until the end-of-stream token.  Each child keeps its own
 * counters in its table record, which the producer reads for the report;
 * the parent records how children it found killed ended, then detaches.
 * Consumers never create or remove IPC objects.
 *
 *	consumer -n 3			# after: producer -c 1000
 *
 * Exit status: 0 every child finished cleanly, 1 a child was killed,
 * 2 bad usage, 3 no producer, the producer died, objects removed, or a
 * child failed for one of those reasons.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "shmlib.h"
#include "slides_main.h"

#define TICK_MS		200	/* longest a semop waits before we look around */

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t dump_flag;

static struct shm_ring ring;
/*
 * The header as validated at attach time.  The segment is hostile input:
 * what the producer writes once is read from here, never again from the
 * segment, so that a value changed later cannot index anything.
 */
static struct shm_header run;
static struct shm_consumer *me;
static struct shm_stall stall;	/* our own bound on a run that stands still */
static uint32_t	 my_index;
static uint32_t	 batch = SHM_BATCH_DEFAULT;
static uint32_t	 nchildren;
static int	 delay_ms;
static int	 timeout_s = 10;
static int	 verbose = 1;
static int	 want_mode = -1;
static uint64_t	 last_title_ns;
static uint64_t	 rng;
static int	 hold_ms;
static int	 hold_at;		/* HOLD_CLAIM, HOLD_COPY or HOLD_JOIN */
static int	 hold_child = -1;	/* the record that holds; -1 every one */

/* Where the test hook holds (see main()). */
#define HOLD_CLAIM	0
#define HOLD_COPY	1
#define HOLD_JOIN	2

/*
 * What a child accumulates between two updates of its record.  A
 * broadcast consumer must see every sequence number once, so it keeps an
 * exact tally of its own: next is one past the highest number seen, and
 * gaps lists, in order, the ranges below next not seen yet.  A correct
 * stream never opens a gap; a dropped or swapped item opens one.
 */
#define GAPS_MAX	65536	/* beyond this the tally is marked inexact */

struct tally {
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
};

static void	 usage(void) __attribute__((noreturn));
static void	 on_signal(int);
static void	 attach_wait(key_t, const char *);
static void	 refuse_foreign(key_t, const char *, int);
static int	 child_main(void);
static int	 child_register(void);
static int	 consume_queue(struct tally *);
static int	 consume_broadcast(struct tally *);
static int	 consume_unsafe(struct tally *);
static void	 take(struct tally *, uint64_t, int32_t);
static void	 tally_seen(struct tally *, uint64_t);
static void	 publish(const struct tally *);
static int	 look_around(const char *);
static int	 queue_damaged(uint64_t, uint64_t);
static int	 title(const struct tally *);
static void	 register_dead(pid_t, int);
static void	 hold(int);

static void
usage(void)
{
	fprintf(stderr, _("usage: %s [-n consumers] [-k keyfile] [-p proj_id] "
	    "[-m queue|broadcast]\n"
	    "\t[-B batch] [-t seconds] [--delay ms] [-q]\n"), getprogname());
	exit(2);
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_flag = 1;
	else
		stop_flag = 1;
}

/*
 * Only the key file owner's objects are joined (seg_check_owner()): a
 * run that somebody else made under our key is refused with one line
 * that says whose it is and what to do.  semid < 0: only the segment is
 * known yet.  A run of another user, under that user's key file, was
 * shared on purpose (--perm): say whose run this is.
 */
static void
refuse_foreign(key_t key, const char *keypath, int semid)
{
	static int said;
	struct shmid_ds ds;
	struct stat st;
	char why[256], who[64];
	int id, saved = errno;

	if (stat(keypath, &st) == -1)
		err(3, _("stat %s"), keypath);
	if ((id = shmget(key, 0, 0)) == -1 || shmctl(id, IPC_STAT, &ds) == -1) {
		errno = saved;
		return;		/* gone meanwhile: the caller's loop retries */
	}
	if (semid >= 0 ? seg_check_owner(id, semid, key, st.st_uid, why,
	    sizeof(why)) == -1 && errno == EPERM : (ds.shm_perm.cuid !=
	    st.st_uid || ds.shm_perm.uid != st.st_uid)) {
		if (semid < 0)
			(void)snprintf(why, sizeof(why), _("shm id %d was created "
			    "by %s, not by the owner of the key file: somebody "
			    "else's run on this key, not joined"), id,
			    uid_name(ds.shm_perm.cuid, who, sizeof(who)));
		errx(3, _("key 0x%08lx (%s): %s; ask its owner or root to remove "
		    "it (ipcrm -m %d), or use another -k/-p"),
		    (unsigned long)(uint32_t)key, keypath, why, id);
	}
	if (semid >= 0 && st.st_uid != getuid() && verbose && !said++)
		warnx(_("joining %s's run on key 0x%08lx (%s), shared with mode "
		    "%03o"), uid_name(st.st_uid, who, sizeof(who)),
		    (unsigned long)(uint32_t)key, keypath,
		    (unsigned)(ds.shm_perm.mode & 0777));
	errno = saved;
}

/*
 * Waits up to timeout_s for a valid, ready segment under key.  A consumer
 * may start before the producer: it says so once and polls.
 */
static void
attach_wait(key_t key, const char *keypath)
{
	char why[256];
	uint64_t start = now_ns(), limit;
	int said = 0;

	limit = (uint64_t)timeout_s * 1000000000ULL;
	for (;;) {
		if (seg_attach_msg(key, 0, &ring, why, sizeof(why)) == 0)
			break;
		if (errno == EPROTO || errno == EAGAIN)
			refuse_foreign(key, keypath, -1);
		if (errno == EPROTO)
			errx(3, _("key 0x%08lx (%s): %s; remove it (ipcrm) if it "
			    "is yours and stale, or use another -k/-p"),
			    (unsigned long)(uint32_t)key, keypath, why);
		if (errno != ENOENT && errno != EAGAIN && errno != EIDRM &&
		    errno != EINVAL) {
			if (errno == EACCES)
				errx(3, _("key 0x%08lx (%s): permission denied: "
				    "the run belongs to another user (its "
				    "producer can widen it with --perm)"),
				    (unsigned long)(uint32_t)key, keypath);
			err(3, _("attaching the segment under key 0x%08lx (%s)"),
			    (unsigned long)(uint32_t)key, keypath);
		}
		if (stop_flag)
			errx(3, _("interrupted while waiting for a producer"));
		if (now_ns() - start > limit)
			errx(3, _("no producer on key 0x%08lx (%s) after %d s: "
			    "start one first, or raise -t"), (unsigned long)(uint32_t)key,
			    keypath, timeout_s);
		if (!said && verbose) {
			warnx(_("waiting up to %d s for a producer on key 0x%08lx "
			    "(%s)"), timeout_s, (unsigned long)(uint32_t)key, keypath);
			said = 1;
		}
		sleep_ms(20);
	}
	memcpy(&run, ring.hdr, sizeof(run));
	stall_init(&stall, &run, timeout_s);
	refuse_foreign(key, keypath, ring.semid);
	if (sem_wait_ready(ring.semid, timeout_s * 1000) == -1)
		err(3, _("semaphore set %d of key 0x%08lx is not usable"),
		    ring.semid, (unsigned long)(uint32_t)key);
	if (want_mode >= 0 && (uint32_t)want_mode != run.mode)
		errx(3, _("the producer on key 0x%08lx runs in %s mode, not %s"),
		    (unsigned long)(uint32_t)key, mode_name(run.mode),
		    mode_name((enum shm_mode)want_mode));
}

/*
 * Takes a record in the consumer table under the mutex, then announces
 * itself on SEM_JOIN (the producer waits there for -n consumers).  A
 * broadcast run has exactly as many records as it expects: a consumer
 * arriving after production started would have missed items, so it is
 * refused.  Returns 0 registered, 1 nothing to do (the run has ended
 * well), -1 refused.
 */
static int
child_register(void)
{
	struct sembuf lock = { SEM_MUTEX, -1, SEM_UNDO };
	struct sembuf done[2] = {
		{ SEM_MUTEX, 1, SEM_UNDO }, { SEM_JOIN, 1, 0 }
	};
	struct shm_header *h = ring.hdr;
	uint32_t idx, limit;

	for (;;) {
		if (sem_op(ring.semid, &lock, 1, TICK_MS) == 0)
			break;
		if (errno != EAGAIN || look_around("registering") == -1)
			return -1;
	}
	idx = h->registered;
	limit = run.mode == MODE_BROADCAST ? run.expected : SHM_MAX_CONSUMERS;
	if (idx >= limit || h->state >= ST_DONE ||
	    (run.mode == MODE_BROADCAST && h->state >= ST_PRODUCING)) {
		(void)sem_op(ring.semid, done, 1, 0);
		if (h->state == ST_DONE && run.mode == MODE_QUEUE) {
			if (verbose)
				warnx(_("the run has ended: nothing left to take"));
			return 1;
		}
		if (run.mode == MODE_BROADCAST && idx >= limit)
			warnx(_("this broadcast run already has its %u "
			    "consumers (producer -n)%s"), run.expected,
			    h->state >= ST_PRODUCING ? " and has started: a late "
			    "consumer would miss items" : "");
		else if (run.mode == MODE_BROADCAST)
			warnx(_("this broadcast run has started: a late "
			    "consumer would miss items"));
		else if (idx >= limit)
			warnx(_("the consumer table is full (%u)"), limit);
		else
			warnx(_("the run was aborted"));
		return -1;
	}
	me = &ring.table[idx];
	memset(me, 0, sizeof(*me));
	me->pid = (int32_t)getpid();
	me->index = idx;
	me->exit_status = -1;
	me->first_seq = UINT64_MAX;
	SHM_STORE(&me->state, (uint32_t)CS_ACTIVE);
	SHM_STORE(&h->registered, idx + 1);
	my_index = idx;
	hold(HOLD_JOIN);
	if (sem_op(ring.semid, done, 2, 0) == -1) {
		warn(_("semop(release mutex, join)"));
		return -1;
	}
	return 0;
}

/*
 * A wait timed out: print counters on SIGUSR1, and check that the run is
 * still alive.  Returns -1 (with a message) when this consumer must stop.
 */
static int
look_around(const char *doing)
{
	struct shm_header *h = ring.hdr;
	struct semid_ds ds;
	union semun arg;

	/* The callers' words are extracted as messages (-klook_around). */
	doing = _(doing);
	if (errno == EIDRM || errno == EINVAL) {
		if (SHM_LOAD(&h->state) >= ST_DONE)
			warnx(_("consumer %u: the producer ended the run while %s "
			    "(see its message)"), my_index, doing);
		else
			warnx(_("consumer %u: the semaphore set was removed while "
			    "%s (ipcrm, or systemd's RemoveIPC at logout)"),
			    my_index, doing);
		return -1;
	}
	if (errno != EAGAIN && errno != 0) {
		warn(_("consumer %u: semop while %s"), my_index, doing);
		return -1;
	}
	if (dump_flag) {
		dump_flag = 0;
		if (me != NULL)
			fprintf(stderr, _("consumer %u: pid %ld, %llu items, "
			    "last seq %llu\n"), my_index, (long)getpid(),
			    (unsigned long long)me->consumed,
			    (unsigned long long)me->last_seq);
	}
	if (stop_flag) {
		warnx(_("consumer %u: stopped by a signal while %s"), my_index,
		    doing);
		return -1;
	}
	arg.buf = &ds;
	if (semctl(ring.semid, 0, IPC_STAT, arg) == -1) {
		if (SHM_LOAD(&h->state) >= ST_DONE)
			warnx(_("consumer %u: the producer ended the run while %s "
			    "(see its message)"), my_index, doing);
		else
			warnx(_("consumer %u: the semaphore set is gone while %s "
			    "(removed from outside?)"), my_index, doing);
		return -1;
	}
	if (!SHM_LOAD(&h->eos) && !pid_alive(run.producer_pid)) {
		warnx(_("consumer %u: the producer (pid %d) died while %s"),
		    my_index, (int)run.producer_pid, doing);
		return -1;
	}
	if (!SHM_LOAD(&h->eos) && seg_removed(ring.shmid) == 1) {
		warnx(_("consumer %u: shm id %d was removed from outside while "
		    "%s (ipcrm, or systemd's RemoveIPC at logout)"), my_index,
		    ring.shmid, doing);
		return -1;
	}
	if (stall_check(&stall, &ring, run.max_consumers) == 1) {
		warnx(_("consumer %u: nothing in the run moved for %d s while "
		    "%s: the producer (pid %d) is alive but makes no progress "
		    "(stopped?); stopping"), my_index, stall.bound_s, doing,
		    (int)run.producer_pid);
		return -1;
	}
	return 0;
}

/*
 * The test hook: sleeps hold_ms at the point SHMLAB_HOLD_AT names, in the
 * consumer whose record SHMLAB_HOLD_CHILD names (every one without it),
 * so that a test can kill it there while the others go on.
 */
static void
hold(int at)
{
	if (hold_ms > 0 && hold_at == at &&
	    (hold_child < 0 || (uint32_t)hold_child == my_index))
		sleep_ms(hold_ms);
}

/*
 * Under the mutex the queue's counters keep an order: freed <= tail <=
 * head, and head at most one past the count (an injected dup).  Anything
 * else was written by somebody outside the protocol: claiming from it
 * would read slots nobody wrote and never end.
 */
static int
queue_damaged(uint64_t tail, uint64_t head)
{
	uint64_t freed = SHM_LOAD(&ring.hdr->freed);

	if (freed <= tail && tail <= head && head <= run.count + 1)
		return 0;
	warnx(_("consumer %u: shm id %d is damaged: freed %llu, tail %llu, "
	    "head %llu, count %llu are out of order; stopping"), my_index,
	    ring.shmid, (unsigned long long)freed, (unsigned long long)tail,
	    (unsigned long long)head, (unsigned long long)run.count);
	return 1;
}

/* Adds a gap [lo, hi] at the end of the list. */
static int
gap_append(struct tally *t, uint64_t lo, uint64_t hi)
{
	void *p;
	size_t cap;

	if (t->ngaps == t->capgaps) {
		if (t->capgaps >= GAPS_MAX)
			return -1;
		cap = t->capgaps ? t->capgaps * 2 : 16;
		if ((p = realloc(t->gaps, cap * sizeof(*t->gaps))) == NULL)
			return -1;
		t->gaps = p;
		t->capgaps = cap;
	}
	t->gaps[t->ngaps][0] = lo;
	t->gaps[t->ngaps][1] = hi;
	t->ngaps++;
	return 0;
}

/* Broadcast: counts seq as new or seen again, exactly. */
static void
tally_seen(struct tally *t, uint64_t seq)
{
	size_t lo, hi, mid;
	uint64_t (*g)[2];

	if (seq == t->next) {
		t->next++;
		t->distinct++;
		return;
	}
	if (seq > t->next) {
		if (gap_append(t, t->next, seq - 1) == -1)
			t->inexact = 1;
		t->next = seq + 1;
		t->distinct++;
		return;
	}
	/* Below next: new only if it falls in a gap. */
	for (lo = 0, hi = t->ngaps; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (t->gaps[mid][1] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	g = &t->gaps[lo];
	if (lo == t->ngaps || (*g)[0] > seq) {
		t->duplicated++;
		return;
	}
	t->distinct++;
	if ((*g)[0] == (*g)[1]) {
		memmove(g, g + 1, (t->ngaps - lo - 1) * sizeof(*g));
		t->ngaps--;
	} else if ((*g)[0] == seq)
		(*g)[0]++;
	else if ((*g)[1] == seq)
		(*g)[1]--;
	else if (gap_append(t, 0, 0) == -1)
		t->inexact = 1;
	else {
		/* Split [a, b] into [a, seq-1] and [seq+1, b]. */
		g = &t->gaps[lo];
		memmove(g + 1, g, (t->ngaps - 1 - lo) * sizeof(*g));
		g[0][1] = seq - 1;
		g[1][0] = seq + 1;
	}
}

/* Accounts for one item: the ledger, order, value, checksum. */
static void
take(struct tally *t, uint64_t seq, int32_t v)
{
	t->consumed++;
	t->checksum += (uint32_t)v;
	if (seq >= run.count) {
		t->corrupted++;		/* not a sequence number at all */
		if (!(run.flags & SHM_F_UNSAFE) && !t->bad) {
			t->bad = 1;	/* a guarded ring never holds one */
			t->bad_seq = seq;
		}
		return;
	}
	if (v != item_value(run.seed, seq))
		t->corrupted++;
	if (t->have_last && seq <= t->last_seq)
		t->out_of_order++;
	if (t->first_seq == UINT64_MAX)
		t->first_seq = seq;
	t->last_seq = seq;
	t->have_last = 1;
	if (run.mode == MODE_BROADCAST)
		tally_seen(t, seq);
	else if (ring.ledger == NULL)
		return;
	else if (run.flags & SHM_F_UNSAFE)
		__atomic_fetch_add(&ring.ledger[seq], 1, __ATOMIC_RELAXED);
	else
		ring.ledger[seq]++;	/* under the mutex: no race */
}

/* Copies the tally into the record, where the producer and monitor see it. */
static void
publish(const struct tally *t)
{
	me->first_seq = t->first_seq;
	me->last_seq = t->last_seq;
	me->checksum = t->checksum;
	me->out_of_order = t->out_of_order;
	me->corrupted = t->corrupted;
	me->distinct = t->distinct;
	me->duplicated = t->duplicated;
	if (t->inexact)
		me->flags |= CF_INEXACT;
	SHM_STORE(&me->consumed, t->consumed);
}

/*
 * ps shows the role and progress, at most ten times a second.  Returns 1
 * when it did, so that a busy consumer looks around at that pace too.
 */
static int
title(const struct tally *t)
{
	uint64_t now = now_ns();

	if (now - last_title_ns < 100000000ULL)
		return 0;
	last_title_ns = now;
	setproctitle("-consumer %u/%u: %llu items", my_index + 1,
	    run.mode == MODE_BROADCAST ? run.expected : nchildren,
	    (unsigned long long)t->consumed);
	return 1;
}

/*
 * Queue mode.  One semop waits for an item and takes the mutex together;
 * under the mutex a consumer takes what else is there, up to -B, without
 * waiting, copies the items out, and one semop frees the slots and drops
 * the mutex.  The copy happens under the mutex because slots must be freed
 * in ring order: a consumer freeing a later claim first would let the
 * producer overwrite an earlier one still being read.
 */
static int
consume_queue(struct tally *t)
{
	struct sembuf take1[2] = {
		{ SEM_FULL, -1, 0 }, { SEM_MUTEX, -1, SEM_UNDO }
	};
	struct sembuf more = { SEM_FULL, 0, IPC_NOWAIT };
	struct sembuf back[2] = {
		{ SEM_FULL, 1, 0 }, { SEM_MUTEX, 1, SEM_UNDO }
	};
	struct sembuf release[2] = {
		{ SEM_MUTEX, 1, SEM_UNDO }, { SEM_EMPTY, 0, 0 }
	};
	struct shm_header *h = ring.hdr;
	uint64_t tail, head, k, extra, p;
	uint32_t cap = run.capacity, s;

	for (;;) {
		if (sem_op(ring.semid, take1, 2, TICK_MS) == -1) {
			if (look_around("waiting for an item") == -1)
				return 3;
			continue;
		}
		if (SHM_LOAD(&h->claimer) != 0) {
			/*
			 * The last holder of the mutex died in its critical
			 * section (SEM_UNDO gave the mutex back).  Releasing
			 * slots now would let the producer overwrite its
			 * claim before recover_queue() has read it: wait for
			 * the producer to account for it and clear claimer.
			 */
			if (sem_op(ring.semid, back, 2, 0) == -1) {
				(void)look_around("waiting for a recovery");
				return 3;
			}
			sleep_ms(5);
			errno = 0;
			if (look_around("waiting for a dead consumer's claim "
			    "to be accounted for") == -1)
				return 3;
			continue;
		}
		tail = h->tail;
		head = SHM_LOAD(&h->head);
		if (queue_damaged(tail, head)) {
			(void)sem_op(ring.semid, back, 2, 0);
			return 3;
		}
		if (SHM_LOAD(&h->eos) && tail >= SHM_LOAD(&h->total)) {
			/* The end-of-stream token: pass it on and leave. */
			if (sem_op(ring.semid, back, 2, 0) == -1) {
				(void)look_around(
				    "passing the end-of-stream token");
				return 3;
			}
			return 0;
		}
		k = 1;
		if (batch > 1 && head > tail + 1) {
			extra = head - tail - 1;
			if (extra > batch - 1)
				extra = batch - 1;
			/* head comes from shared memory: keep the op small. */
			if (extra >= cap)
				extra = cap - 1;
			more.sem_op = -(short)extra;
			if (sem_op(ring.semid, &more, 1, 0) == 0)
				k += extra;
		}
		/*
		 * The claim is on record before tail moves, so that if we die
		 * the producer can tell what we had taken (recover_queue()).
		 */
		SHM_STORE(&h->claimer, my_index + 1);
		me->claim_start = tail;
		me->claim_base = t->consumed;
		SHM_STORE(&me->claim_len, k);
		h->tail = tail + k;
		hold(HOLD_CLAIM);
		for (p = tail, s = ring_slot(tail, cap); p < tail + k; p++) {
			take(t, ring.tags[s], ring.slots[s]);
			if (++s == cap)
				s = 0;
		}
		hold(HOLD_COPY);
		me->batches++;
		publish(t);
		SHM_STORE(&me->claim_len, (uint64_t)0);
		SHM_STORE(&h->claimer, 0u);
		/* freed first: the producer woken by the release sees it. */
		SHM_ADD(&h->freed, k);
		release[1].sem_op = (short)k;
		if (sem_op(ring.semid, release, 2, 0) == -1) {
			(void)look_around("releasing slots");
			return 3;
		}
		if (t->bad) {
			warnx(_("consumer %u: sequence number %llu is beyond the "
			    "run's %llu items: the segment is corrupt"), my_index,
			    (unsigned long long)t->bad_seq,
			    (unsigned long long)run.count);
			return 3;
		}
		if (dump_flag || stop_flag || title(t)) {
			errno = 0;
			if (look_around("taking items") == -1)
				return 3;
		}
		if (delay_ms > 0)
			sleep_ms(delay_ms);
	}
}

/*
 * Broadcast mode.  Consumer i has its own pair: FULL_I(i) counts the items
 * it has not read yet, EMPTY_I(i) the slots it has finished with.  Nobody
 * else moves its position, so no mutex is needed; the producer's single
 * semop over every EMPTY_I is what keeps a slot until all have read it.
 */
static int
consume_broadcast(struct tally *t)
{
	struct sembuf take1 = { 0, -1, 0 };
	struct sembuf more = { 0, 0, IPC_NOWAIT };
	struct sembuf release = { 0, 0, 0 };
	struct shm_header *h = ring.hdr;
	uint64_t pos = 0, head, k, extra, p;
	uint32_t cap = run.capacity, s;

	take1.sem_num = more.sem_num = (unsigned short)SEM_FULL_I(my_index);
	release.sem_num = (unsigned short)SEM_EMPTY_I(my_index);
	for (;;) {
		if (sem_op(ring.semid, &take1, 1, TICK_MS) == -1) {
			if (look_around("waiting for an item") == -1)
				return 3;
			continue;
		}
		if (SHM_LOAD(&h->eos) && pos >= SHM_LOAD(&h->total))
			return 0;	/* our own token */
		k = 1;
		head = SHM_LOAD(&h->head);
		if (batch > 1 && head > pos + 1) {
			extra = head - pos - 1;
			if (extra > batch - 1)
				extra = batch - 1;
			/* head comes from shared memory: keep the op small. */
			if (extra >= cap)
				extra = cap - 1;
			more.sem_op = -(short)extra;
			if (sem_op(ring.semid, &more, 1, 0) == 0)
				k += extra;
		}
		for (p = pos, s = ring_slot(pos, cap); p < pos + k; p++) {
			take(t, ring.tags[s], ring.slots[s]);
			if (++s == cap)
				s = 0;
		}
		pos += k;
		me->pos = pos;
		me->batches++;
		publish(t);
		SHM_STORE(&me->freed, pos);
		release.sem_op = (short)k;
		if (sem_op(ring.semid, &release, 1, 0) == -1) {
			(void)look_around("releasing slots");
			return 3;
		}
		if (t->bad) {
			warnx(_("consumer %u: sequence number %llu is beyond the "
			    "run's %llu items: the segment is corrupt"), my_index,
			    (unsigned long long)t->bad_seq,
			    (unsigned long long)run.count);
			return 3;
		}
		if (dump_flag || stop_flag || title(t)) {
			errno = 0;
			if (look_around("taking items") == -1)
				return 3;
		}
		if (delay_ms > 0)
			sleep_ms(delay_ms);
	}
}

/*
 * The race demonstration's consumer: reads the shared tail, reads the
 * slot, writes tail + 1 back and decrements the fill count, with no lock
 * anywhere.  Two consumers can read the same tail (a duplicate), a slow
 * one can move tail backwards, a lost count-- or count++ lets the producer
 * overwrite unread items, and the producer may be half-way through the
 * slot.  It ends when the
 * stream has ended and the tail has reached its total, or when nothing
 * has moved for -t seconds.
 */
static int
consume_unsafe(struct tally *t)
{
	struct shm_header *h = ring.hdr;
	uint64_t tail, idle = now_ns(), seq;
	uint32_t cap = run.capacity, s;
	int64_t fill;
	int32_t v;

	for (;;) {
		tail = __atomic_load_n(&h->tail, __ATOMIC_RELAXED);
		if (tail >= __atomic_load_n(&h->head, __ATOMIC_RELAXED)) {
			if (SHM_LOAD(&h->eos) && tail >= SHM_LOAD(&h->total))
				return 0;
			if (stop_flag || now_ns() - idle >
			    (uint64_t)timeout_s * 1000000000ULL) {
				warnx(_("consumer %u: nothing moved for %d s"),
				    my_index, timeout_s);
				return 3;
			}
			if (!SHM_LOAD(&h->eos) && !pid_alive(run.producer_pid)) {
				warnx(_("consumer %u: the producer died"),
				    my_index);
				return 3;
			}
			sleep_ms(0);
			continue;
		}
		idle = now_ns();
		s = ring_slot(tail, cap);
		jitter(run.jitter_us, &rng);
		seq = __atomic_load_n(&ring.tags[s], __ATOMIC_RELAXED);
		v = __atomic_load_n(&ring.slots[s], __ATOMIC_RELAXED);
		__atomic_store_n(&h->tail, tail + 1, __ATOMIC_RELAXED);
		/* count--, as a load and a store, racing the producer's. */
		fill = __atomic_load_n(&h->fill, __ATOMIC_RELAXED);
		jitter(run.jitter_us / 4, &rng);
		__atomic_store_n(&h->fill, fill - 1, __ATOMIC_RELAXED);
		take(t, seq, v);
		publish(t);
		title(t);
		if (delay_ms > 0)
			sleep_ms(delay_ms);
	}
}

static int
child_main(void)
{
	struct tally t;
	int status;

	rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
	switch (child_register()) {
	case -1:
		return 3;
	case 1:
		return 0;
	}
	memset(&t, 0, sizeof(t));
	t.first_seq = UINT64_MAX;
	(void)title(&t);
	if (run.flags & SHM_F_UNSAFE)
		status = consume_unsafe(&t);
	else if (run.mode == MODE_BROADCAST)
		status = consume_broadcast(&t);
	else
		status = consume_queue(&t);
	publish(&t);
	free(t.gaps);
	me->end_ns = now_ns();
	me->exit_status = status;
	SHM_STORE(&me->state, (uint32_t)(status == 0 ? CS_DONE : CS_FAILED));
	if (verbose)
		fprintf(stderr, ngettext("consumer %u: pid %ld took %llu item, "
		    "checksum %llu%s\n", "consumer %u: pid %ld took %llu items, "
		    "checksum %llu%s\n", (unsigned long)t.consumed), my_index,
		    (long)getpid(), (unsigned long long)t.consumed,
		    (unsigned long long)t.checksum,
		    status ? _(" (failed)") : "");
	return status;
}

/*
 * A child killed before it registered would leave the producer waiting
 * for it until -t (with -n it counts joins).  The parent registers it
 * instead, as died, so that the producer learns at once that it will
 * never come.  A broadcast record it takes is one the producer leaves
 * out of its waits, and the items it never saw count as lost.
 */
static void
register_dead(pid_t pid, int code)
{
	struct sembuf lock = { SEM_MUTEX, -1, SEM_UNDO };
	struct sembuf done[2] = {
		{ SEM_MUTEX, 1, SEM_UNDO }, { SEM_JOIN, 1, 0 }
	};
	struct shm_header *h = ring.hdr;
	struct shm_consumer *c;
	uint32_t idx, limit;

	if (sem_op(ring.semid, &lock, 1, 5 * TICK_MS) == -1)
		return;		/* the run is gone, or wedged: the producer sees */
	idx = SHM_LOAD(&h->registered);
	limit = run.mode == MODE_BROADCAST ? run.expected : SHM_MAX_CONSUMERS;
	if (idx >= limit || SHM_LOAD(&h->state) >= ST_DONE) {
		(void)sem_op(ring.semid, done, 1, 0);
		return;
	}
	c = &ring.table[idx];
	memset(c, 0, sizeof(*c));
	c->pid = (int32_t)pid;
	c->index = idx;
	c->exit_status = code;
	c->first_seq = UINT64_MAX;
	c->end_ns = now_ns();
	SHM_STORE(&c->state, (uint32_t)CS_DIED);
	SHM_STORE(&h->registered, idx + 1);
	if (sem_op(ring.semid, done, 2, 0) == -1)
		warn(_("semop(release mutex, join) for consumer pid %ld"),
		    (long)pid);
}

/* Finds a child's record, to fill in how a killed child ended. */
static struct shm_consumer *
record_of(pid_t pid)
{
	uint32_t i, n = SHM_LOAD(&ring.hdr->registered);

	for (i = 0; i < n && i < SHM_MAX_CONSUMERS; i++)
		if (ring.table[i].pid == pid)
			return &ring.table[i];
	return NULL;
}

int
main(int argc, char *argv[], char *envp[])
{
	static const struct option longopts[] = {
		{ "delay",	required_argument, NULL, 'D' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	struct shm_consumer *c;
	enum shm_mode m;
	char keybuf[PATH_MAX];
	const char *keypath = NULL, *errstr;
	pid_t *pids, pid;
	uint32_t i, reaped = 0, forked = 0;
	int ch, proj = SHM_PROJ_ID, status, worst = 0, code;
	key_t key;

	/* The slides' protocol is a program of its own (slides.c). */
	if (slides_wanted(argc, argv))
		return slides_consumer(argc, argv);
	setproctitle_init(argc, argv, envp);
	(void)i18n_init();
	/* Children share stderr: one write per line keeps lines whole. */
	(void)setvbuf(stderr, NULL, _IOLBF, BUFSIZ);
	if ((ch = opt_control(argc, argv)) != 0)
		errx(2, _("argument %d holds a control character (a newline?): "
		    "nothing was done"), ch);
	nchildren = 1;
	/*
	 * SHMLAB_HOLD_MS is a test-only hook: each queue consumer sleeps
	 * that long inside its critical section, so that a test can kill
	 * it while it holds the mutex and a claim: after claiming, or with
	 * SHMLAB_HOLD_AT=copy after reading the items but before reporting
	 * them, or with SHMLAB_HOLD_AT=join after storing registered but
	 * before posting SEM_JOIN.  SHMLAB_HOLD_CHILD=I: only the consumer
	 * with record I holds, the others go on at full speed.
	 */
	if ((errstr = getenv("SHMLAB_HOLD_MS")) != NULL) {
		hold_ms = (int)strtonum(errstr, 0, 10000, &errstr);
		if (errstr != NULL)
			errx(2, _("SHMLAB_HOLD_MS: %s (0..10000)"), errstr);
	}
	if ((errstr = getenv("SHMLAB_HOLD_AT")) != NULL) {
		if (strcmp(errstr, "copy") == 0)
			hold_at = HOLD_COPY;
		else if (strcmp(errstr, "join") == 0)
			hold_at = HOLD_JOIN;
		else if (strcmp(errstr, "claim") != 0)
			errx(2, _("SHMLAB_HOLD_AT %s: want claim, copy or join"),
			    errstr);
	}
	if ((errstr = getenv("SHMLAB_HOLD_CHILD")) != NULL) {
		hold_child = (int)strtonum(errstr, 0, SHM_MAX_CONSUMERS - 1,
		    &errstr);
		if (errstr != NULL)
			errx(2, _("SHMLAB_HOLD_CHILD: %s (0..%d)"), errstr,
			    SHM_MAX_CONSUMERS - 1);
	}
	while ((ch = getopt_long(argc, argv, "B:hk:m:n:p:qt:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'B':
			batch = (uint32_t)opt_number(optarg, 1, SHM_BATCH_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(2, _("batch %s: %s (1..%u)"), optarg, errstr,
				    SHM_BATCH_MAX);
			break;
		case 'k':
			keypath = optarg;
			break;
		case 'm':
			if (opt_mode(optarg, &m) == -1)
				errx(2, _("mode %s: want queue or broadcast"),
				    optarg);
			want_mode = (int)m;
			break;
		case 'n':
			nchildren = (uint32_t)opt_number(optarg, 1,
			    SHM_MAX_CONSUMERS, &errstr);
			if (errstr != NULL)
				errx(2, _("consumers %s: %s (1..%d)"), optarg,
				    errstr, SHM_MAX_CONSUMERS);
			break;
		case 'p':
			proj = (int)opt_number(optarg, 1, SHM_PROJ_MAX, &errstr);
			if (errstr != NULL)
				errx(2, _("proj_id %s: %s (1..%d; ftok keeps only "
				    "8 bits)"), optarg, errstr, SHM_PROJ_MAX);
			break;
		case 'q':
			verbose = 0;
			break;
		case 't':
			timeout_s = (int)opt_number(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(2, _("timeout %s: %s (1..86400 s)"), optarg,
				    errstr);
			break;
		case 'D':
			delay_ms = (int)opt_number(optarg, 0, 60000, &errstr);
			if (errstr != NULL)
				errx(2, _("delay %s: %s (0..60000 ms)"), optarg,
				    errstr);
			break;
		case 'h':
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();
	if (delay_ms > 0)
		batch = 1;	/* slow motion: one item per claim */

	if (keypath == NULL) {
		if (key_default_path(keybuf, sizeof(keybuf)) == -1)
			err(2, _("default key file path"));
		keypath = keybuf;
	}
	/* The parent passes SIGUSR1 on; each child prints its counters. */
	if (sig_catch(on_signal, 1) == -1)
		err(3, _("sigaction"));
	/* The key file may not exist yet either: wait for it too. */
	for (i = 0; (key = key_derive(keypath, proj)) == (key_t)-1; i++) {
		if (errno != ENOENT)
			err(3, _("ftok(%s, %d): cannot use the key file (a "
			    "directory on its path you may not search?)"),
			    keypath, proj);
		if (stop_flag || i * 20 >= (uint32_t)timeout_s * 1000)
			err(3, _("ftok(%s, %d): no key file: start the producer "
			    "first (it creates it), or pass its -k"), keypath,
			    proj);
		sleep_ms(20);
	}
	attach_wait(key, keypath);

	pids = calloc(nchildren, sizeof(*pids));
	if (pids == NULL)
		err(3, _("calloc"));
	fflush(NULL);
	for (i = 0; i < nchildren && !stop_flag; i++) {
		pid = fork();
		if (pid == -1) {
			warn(_("fork (consumer %u of %u): stopping the others"),
			    i + 1, nchildren);
			stop_flag = 1;
			break;
		}
		if (pid == 0) {
			free(pids);
			code = child_main();
			(void)shmdt(ring.hdr);
			_exit(code);
		}
		pids[forked++] = pid;
	}
	setproctitle("-consumer: parent of %u", forked);
	/* A fork failed: the ones started stop now, not at the producer's -t. */
	for (i = 0; stop_flag && i < forked; i++)
		(void)kill(pids[i], SIGTERM);
	/* Reap every child; pass SIGINT/SIGTERM/SIGUSR1 on to them. */
	while (reaped < forked) {
		pid = waitpid(-1, &status, 0);
		if (pid == -1) {
			if (errno != EINTR)
				err(3, _("waitpid"));
			for (i = 0; i < forked; i++)
				if (pids[i] > 0)
					(void)kill(pids[i], dump_flag ?
					    SIGUSR1 : stop_flag ? SIGTERM : 0);
			dump_flag = 0;
			continue;
		}
		for (i = 0; i < forked; i++)
			if (pids[i] == pid)
				pids[i] = -pids[i];
		reaped++;
		if (WIFEXITED(status))
			code = WEXITSTATUS(status);
		else {
			code = 128 + WTERMSIG(status);
			warnx(_("consumer pid %ld was killed by signal %d"),
			    (long)pid, WTERMSIG(status));
			c = record_of(pid);
			if (c == NULL)
				register_dead(pid, code);
			else {
				uint32_t st = CS_ACTIVE;

				c->exit_status = code;
				if (__atomic_compare_exchange_n(&c->state, &st,
				    (uint32_t)CS_DIED, 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE))
					c->end_ns = now_ns();
			}
		}
		if (code == 3 || (code != 0 && worst != 3))
			worst = code == 3 ? 3 : 1;
	}
	free(pids);
	if (shmdt(ring.hdr) == -1)
		err(3, _("shmdt"));
	return worst;
}
