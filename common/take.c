/*
 * take.c - what a consumer counts for the items it takes: order, value,
 * checksum, and the ledger (the queue's shared ranges, or a broadcast
 * consumer's own exact tally).
 *
 * The hot path is one claim at a time: tally_span() checks a whole
 * stretch of slots in a loop without branches (the compiler may vectorise
 * it) and, when the stretch is exactly the stream's next numbers with
 * their values, accounts for it at once.  Anything else (a fault, damage,
 * the unsafe race) takes the per-item path, which counts every anomaly.
 * Which checker runs is decided once per run (seeded or not), and which
 * per-item tally once per claim, by the mode's table (modes.c): no per-item
 * test of mode or flags.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "take.h"

/*
 * The sum of the unseeded values of n items from first: (uint32_t)s
 * each, so the low words wrap at 2^32; n is at most a ring.
 */
static uint64_t
plain_sum(uint64_t first, uint32_t n)
{
	uint64_t f = (uint32_t)first, m = n;

	if (f + m > (1ULL << 32)) {
		m = (1ULL << 32) - f;	/* up to the wrap, then from 0 */
		return m * f + m * (m - 1) / 2 + (n - m) * (n - m - 1) / 2;
	}
	return m * f + m * (m - 1) / 2;
}

/*
 * Unseeded, item s has the value (uint32_t)s.  1 when tags[i] = first + i
 * and slots[i] = its value for every i < n; adds the values to *sum.
 * The loop only compares: the sum of a stretch that is exactly the
 * stream's is known without reading it again (plain_sum()).  Inlined into
 * a default and an AVX2 copy; taker_init() picks one once per run.
 */
static inline __attribute__((always_inline)) int
span_check_plain_body(const uint64_t *tags, const int32_t *slots,
    uint32_t n, uint64_t first, uint64_t *sum)
{
	uint64_t bad = 0;
	uint32_t i, bad32 = 0, f = (uint32_t)first;

	/* Two loops of one width each: what a vectoriser handles best. */
	for (i = 0; i < n; i++)
		bad |= tags[i] ^ (first + i);
	for (i = 0; i < n; i++)
		bad32 |= (uint32_t)slots[i] ^ (f + i);
	if ((bad | bad32) != 0)
		return 0;
	*sum += plain_sum(first, n);
	return 1;
}

static int
span_check_plain(const uint64_t *tags, const int32_t *slots, uint32_t n,
    uint64_t first, uint64_t seed, uint64_t *sum)
{
	(void)seed;
	return span_check_plain_body(tags, slots, n, first, sum);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_COPY	1
static __attribute__((target("avx2"))) int
span_check_plain_avx2(const uint64_t *tags, const int32_t *slots,
    uint32_t n, uint64_t first, uint64_t seed, uint64_t *sum)
{
	(void)seed;
	return span_check_plain_body(tags, slots, n, first, sum);
}
#endif

/* The same for a seeded stream, whose values are a hash of s. */
static int
span_check_seeded(const uint64_t *tags, const int32_t *slots, uint32_t n,
    uint64_t first, uint64_t seed, uint64_t *sum)
{
	uint64_t bad = 0, acc = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		bad |= tags[i] ^ (first + i);
		bad |= (uint32_t)slots[i] ^
		    (uint32_t)item_value(seed, first + i);
		acc += (uint32_t)slots[i];
	}
	*sum += acc;
	return bad == 0;
}

int
taker_init(struct shm_taker *tk)
{
	struct shm_tally *t = &tk->t;

	memset(t, 0, sizeof(*t));
	t->first_seq = UINT64_MAX;
	tk->check = tk->run->seed == 0 ? span_check_plain : span_check_seeded;
#ifdef HAVE_AVX2_COPY
	if (tk->run->seed == 0 && !tk->no_vector &&
	    __builtin_cpu_supports("avx2"))
		tk->check = span_check_plain_avx2;
#endif
	tk->why[0] = '\0';
	if (tk->ring->ledger == NULL)
		return 0;
	t->runcap = (tk->run->flags & SHM_F_UNSAFE) ? LEDGER_PRIVATE_MAX :
	    tk->run->capacity;
	if ((t->runs = calloc(t->runcap, sizeof(*t->runs))) == NULL)
		return -1;
	return 0;
}

void
taker_free(struct shm_taker *tk)
{
	free(tk->t.gaps);
	free(tk->t.runs);
	tk->t.gaps = NULL;
	tk->t.runs = NULL;
}

/*
 * The test hook: sleeps hold_ms at the point SHMLAB_HOLD_AT names, in the
 * consumer whose record SHMLAB_HOLD_CHILD names (every one without it),
 * so that a test can kill it there while the others go on.
 */
void
taker_hold(const struct shm_taker *tk, int at)
{
	if (tk->hold_ms > 0 && tk->hold_at == at &&
	    (tk->hold_child < 0 || (uint32_t)tk->hold_child == tk->index))
		sleep_ms(tk->hold_ms);
}

/* Adds a gap [lo, hi] at the end of the list. */
static int
gap_append(struct shm_tally *t, uint64_t lo, uint64_t hi)
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
tally_seen(struct shm_tally *t, uint64_t seq)
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

/*
 * What every mode counts for one item: consumed, checksum, value, order.
 * Returns 1 when seq is a sequence number of the run (the mode's ledger
 * then counts it), 0 when it is not one at all.  guarded: a ring behind
 * semaphores never holds such a number, so it means a corrupt segment.
 */
static int
item_check(struct shm_taker *tk, uint64_t seq, int32_t v, int guarded)
{
	struct shm_tally *t = &tk->t;

	t->consumed++;
	t->checksum += (uint32_t)v;
	if (seq >= tk->run->count) {
		t->corrupted++;
		if (guarded && !t->bad) {
			t->bad = 1;
			t->bad_seq = seq;
		}
		return 0;
	}
	if (v != item_value(tk->run->seed, seq))
		t->corrupted++;
	if (t->have_last && seq <= t->last_seq)
		t->out_of_order++;
	if (t->first_seq == UINT64_MAX)
		t->first_seq = seq;
	t->last_seq = seq;
	t->have_last = 1;
	return 1;
}

/* Appends [lo, hi) to the claim's runs. */
static void
run_add(struct shm_tally *t, uint64_t lo, uint64_t hi)
{
	if (t->runs == NULL)
		return;
	if (t->nruns > 0 && t->runs[t->nruns - 1][1] == lo)
		t->runs[t->nruns - 1][1] = hi;
	else if (t->nruns < t->runcap) {
		t->runs[t->nruns][0] = lo;
		t->runs[t->nruns][1] = hi;
		t->nruns++;
	} else
		return;		/* never: a claim has at most runcap items */
	t->run_taken += hi - lo;
}

void
tally_queue_item(struct shm_taker *tk, uint64_t seq, int32_t v)
{
	if (item_check(tk, seq, v, 1))
		run_add(&tk->t, seq, seq + 1);
}

void
tally_bcast_item(struct shm_taker *tk, uint64_t seq, int32_t v)
{
	if (item_check(tk, seq, v, 1))
		tally_seen(&tk->t, seq);
}

/* Unsafe: no lock per item, so a private table of ranges till the end. */
void
tally_unsafe_item(struct shm_taker *tk, uint64_t seq, int32_t v)
{
	struct shm_tally *t = &tk->t;

	if (!item_check(tk, seq, v, 0) || t->runs == NULL)
		return;
	if (rset_add(t->runs, &t->nruns, t->runcap, seq, seq + 1) < 0)
		t->untracked++;
	else
		t->run_taken++;
}

/*
 * The hot path: positions [start, start + k) of the ring, k <= capacity.
 * When they hold exactly the numbers first .. first + k - 1 with their
 * values (and, with bcast, first is the next number this consumer
 * expects), accounts for all k at once and returns 1.  Else counts
 * nothing and returns 0: the caller takes the per-item path.
 */
int
tally_span(struct shm_taker *tk, uint64_t start, uint64_t k, int bcast)
{
	struct shm_tally *t = &tk->t;
	const struct shm_ring *r = tk->ring;
	uint32_t cap = tk->run->capacity, s = ring_slot(start, cap), n1;
	uint64_t first = r->tags[s], sum = 0;

	n1 = k < (uint64_t)(cap - s) ? (uint32_t)k : cap - s;
	if (first >= tk->run->count || k > tk->run->count - first ||
	    (bcast && first != t->next))
		return 0;
	if (!tk->check(r->tags + s, r->slots + s, n1, first, tk->run->seed,
	    &sum))
		return 0;
	if (n1 < k && !tk->check(r->tags, r->slots, (uint32_t)(k - n1),
	    first + n1, tk->run->seed, &sum))
		return 0;
	t->consumed += k;
	t->checksum += sum;
	if (t->have_last && first <= t->last_seq)
		t->out_of_order++;
	if (t->first_seq == UINT64_MAX)
		t->first_seq = first;
	t->last_seq = first + k - 1;
	t->have_last = 1;
	if (bcast) {
		t->next += k;
		t->distinct += k;
	} else
		run_add(t, first, first + k);
	return 1;
}

static void
fill_span(uint64_t *restrict tags, int32_t *restrict slots, uint32_t n,
    uint64_t pos, uint64_t seed)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		tags[i] = pos + i;
	if (seed == 0)
		for (i = 0; i < n; i++)
			slots[i] = (int32_t)((uint32_t)pos + i);
	else
		for (i = 0; i < n; i++)
			slots[i] = item_value(seed, pos + i);
}

/*
 * The producer's side of the hot path: writes the stream's items pos ..
 * pos + k - 1 (k <= capacity) into their slots, the values decided once
 * per batch (seeded or not), in loops without branches.
 */
void
ring_fill(struct shm_ring *r, uint32_t cap, uint64_t pos, uint64_t k,
    uint64_t seed)
{
	uint32_t s = ring_slot(pos, cap), n;

	while (k > 0) {
		n = k < (uint64_t)(cap - s) ? (uint32_t)k : cap - s;
		fill_span(r->tags + s, r->slots + s, n, pos, seed);
		pos += n;
		k -= n;
		s = 0;
	}
}

/* Copies the tally into the record, where the producer and monitor see it. */
void
tally_publish(struct shm_taker *tk)
{
	const struct shm_tally *t = &tk->t;
	struct shm_consumer *me = tk->me;

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
 * Records the runs taken since the last call in the shared ledger, and
 * how far this consumer's records go (a dead consumer's unreported
 * items).  The caller holds SEM_MUTEX.
 */
void
tally_record(struct shm_taker *tk)
{
	struct shm_tally *t = &tk->t;
	struct shm_ledger *l = tk->ring->ledger;

	if (l == NULL || t->runs == NULL)
		return;
	ledger_add(l, (const uint64_t (*)[2])t->runs, t->nruns, t->run_taken);
	if (t->untracked > 0) {
		l->inexact |= LEDGER_PRIVATE;
		l->untracked += t->untracked;
	}
	SHM_STORE(&l->recorded[tk->index], t->consumed);
	t->nruns = 0;
	t->run_taken = t->untracked = 0;
}
