/*
 * shmlab.h - the protocol shared by producer, consumer and monitor.
 *
 * Everything the processes share is defined here, and nothing else: the
 * layout of the shared memory segment, the semaphore indices and what each
 * one counts, and the limits.  The small library in common/ that every
 * program links is declared in shmlib.h.  The _Static_asserts at the end
 * hold the layout to docs/DESIGN.md's tables, offset by offset.
 *
 * Who creates and removes what (docs/DESIGN.md tells the whole story):
 *   - the producer creates the semaphore set, then the segment, both with
 *     IPC_CREAT | IPC_EXCL and mode 0600, initialises them, and writes
 *     hdr.ready = SHM_READY last;
 *   - consumers attach, validate, wait for hdr.ready, register in the
 *     consumer table, and take items until the end-of-stream token;
 *   - the producer removes both objects (IPC_RMID) once every consumer has
 *     finished and detached, or on any fatal error after creating them.
 *
 * Start order: either.  A consumer started first waits a bounded time for
 * the producer (see consumer -t).
 *
 * Sample: producer -c 1000 -b 10 & consumer -n 3
 *
 * All shared fields have fixed widths so that another program can read the
 * segment from docs/DESIGN.md alone.  Fields written by one process while
 * others read them are accessed through the SHM_LOAD/SHM_STORE macros below.
 */
#ifndef SHMLAB_H
#define SHMLAB_H

#include <stddef.h>
#include <stdint.h>

#define SHM_MAGIC	0x4c4d4853u	/* "SHML" read as little-endian bytes */
#define SHM_VERSION	2u		/* bump on any layout change */
#define SHM_READY	0x52454459u	/* "YDER": written last by the producer */

#ifndef MAXBUF
#define MAXBUF		10		/* default ring capacity, as on the slides */
#endif
/*
 * A semaphore counts the free slots, and SEMVMX is 32767 on Linux; the full
 * count holds every item plus the end-of-stream token, hence one less.
 */
#define SHM_MAXBUF_MAX	32766u
#define SHM_MAX_CONSUMERS 512		/* consumer table size */
#define SHM_COUNT_MAX	(1LL << 40)	/* items per run */
/*
 * Ring positions a stream of count items may fill: count, and one more
 * when the test-only dup fault writes an item twice (SHMLAB_FAULT=dup).
 * head and total never exceed it; a reader that saw them beyond it is
 * looking at a damaged segment.
 */
#define SHM_STREAM_MAX(count)	((count) + 1)
#define SHM_BATCH_MAX	SHM_MAXBUF_MAX	/* a batch never exceeds the ring */
/*
 * Up to 4096 slots per claim: measured best or tied at 1 and 4 consumers
 * (docs/PERFORMANCE.md); a claim takes what is there, so a small ring
 * still moves item by item when that is all there is.
 */
#define SHM_BATCH_DEFAULT 4096

/*
 * The slides' proj_id is 1300, but ftok() keeps only its low 8 bits, so
 * 1300 behaves as 20.  We default to 20 and accept only 1..255, so no two
 * ids the user types can silently give the same key.
 */
#define SHM_PROJ_ID	20
#define SHM_PROJ_MAX	255

/* Delivery modes. */
enum shm_mode {
	MODE_QUEUE = 0,		/* each item is taken by exactly one consumer */
	MODE_BROADCAST = 1	/* every consumer takes every item, in order */
};

/* hdr.flags */
/*
 * The exact tally is on (not --no-verify): in ledger[] in queue mode, in
 * each consumer's private tally in broadcast mode, which has no ledger[].
 */
#define SHM_F_VERIFY	0x1u
#define SHM_F_UNSAFE	0x2u	/* race demonstration: no semaphore guards */

/* hdr.state, the producer's phase. */
enum shm_state {
	ST_INIT = 0,		/* objects created, not yet ready */
	ST_WAITING = 1,		/* broadcast: waiting for consumers to join */
	ST_PRODUCING = 2,
	ST_DRAINING = 3,	/* end of stream posted, waiting for consumers */
	ST_DONE = 4,		/* report written, about to remove objects */
	ST_ABORTED = 5		/* the producer gave up (see its message) */
};

/* Consumer record states. */
enum shm_cstate {
	CS_FREE = 0,
	CS_ACTIVE = 1,
	CS_DONE = 2,		/* finished cleanly, counters final */
	CS_FAILED = 3,		/* finished with an error, counters final */
	CS_DIED = 4		/* found dead by someone else */
};

/*
 * Semaphore set.  The first four serve every mode; a queue set adds
 * SEM_SEAT, a broadcast set a pair per expected consumer instead.
 */
#define SEM_MUTEX	0	/* 1: consumers' critical section; SEM_UNDO */
#define SEM_EMPTY	1	/* queue: free slots */
#define SEM_FULL	2	/* queue: items not yet claimed, + EOS token */
#define SEM_JOIN	3	/* consumers registered so far */
#define SEM_BASE	4	/* broadcast pairs start here */
#define SEM_EMPTY_I(i)	(SEM_BASE + 2 * (i))	 /* slots consumer i freed */
#define SEM_FULL_I(i)	(SEM_BASE + 2 * (i) + 1) /* items for consumer i */
#define SEM_SEAT	SEM_BASE	/* queue: consumers that may claim at
					   once (modes.c, seats); SEM_UNDO */
#define SEM_NSEMS(mode, n) ((mode) == MODE_BROADCAST ? SEM_BASE + 2 * (n) : \
			    SEM_BASE + 1)

/*
 * One record per consumer process, 160 bytes.  Only its owner writes it
 * while it runs; the consumer's parent writes exit_status after reaping it,
 * and the producer marks it CS_DIED when it finds the pid gone.
 */
struct shm_consumer {
	int32_t		pid;
	uint32_t	state;		/* enum shm_cstate */
	int32_t		exit_status;	/* -1 until known */
	uint32_t	index;		/* position in the table */
	uint64_t	consumed;	/* items taken and accounted */
	uint64_t	first_seq;	/* UINT64_MAX until the first item */
	uint64_t	last_seq;
	uint64_t	checksum;	/* sum of the values taken, mod 2^64 */
	uint64_t	out_of_order;	/* seq not greater than the previous */
	uint64_t	corrupted;	/* value or seq not what was produced */
	uint64_t	pos;		/* broadcast: next ring position */
	uint64_t	freed;		/* broadcast: positions released */
	uint64_t	claim_start;	/* queue: claim in progress ... */
	uint64_t	claim_len;	/* ... (0 when none) */
	uint64_t	batches;	/* claims made */
	uint64_t	end_ns;		/* now_ns() when it finished */
	uint64_t	distinct;	/* broadcast: sequence numbers seen */
	uint64_t	duplicated;	/* broadcast: seen again */
	uint32_t	flags;		/* CF_* */
	uint32_t	pad;
	uint64_t	claim_base;	/* queue: consumed before the claim */
	uint64_t	unreported;	/* dead: claimed, in the ledger, not in
					   consumed (the producer fills it) */
	uint64_t	reserved[1];
};

/* shm_consumer.flags */
#define CF_INEXACT	0x1u	/* broadcast: too many gaps to track */
#define CF_ACCOUNTED	0x2u	/* dead: its claim was accounted for */

/*
 * The segment header, 256 bytes, at offset 0.  The ring follows:
 *	int32_t  slots[capacity]	at hdr.slots_off (the slides' buffer)
 *	uint64_t tags[capacity]		at hdr.tags_off  (sequence numbers)
 *	struct shm_consumer table[max_consumers] at hdr.table_off
 *	struct shm_ledger ledger	at hdr.ledger_off (queue, SHM_F_VERIFY)
 *
 * The ledger tells how often each sequence number was taken.  A queue run
 * needs it: items are spread over the consumers.  A broadcast consumer
 * must see every sequence number itself, so it keeps its own exact tally
 * (distinct, duplicated) in its record and the segment has no ledger.
 */
struct shm_header {
	uint32_t	magic;		/* SHM_MAGIC */
	uint32_t	version;	/* SHM_VERSION */
	uint32_t	hdr_size;	/* sizeof(struct shm_header) */
	uint32_t	ready;		/* SHM_READY once initialised */
	uint32_t	capacity;	/* MAXBUF: slots in the ring */
	uint32_t	mode;		/* enum shm_mode */
	uint32_t	flags;		/* SHM_F_* */
	uint32_t	state;		/* enum shm_state */
	uint32_t	max_consumers;	/* entries in the table */
	uint32_t	expected;	/* broadcast: consumers to wait for */
	uint32_t	registered;	/* records handed out (under SEM_MUTEX) */
	uint32_t	batch;		/* producer's -B, for information */
	int32_t		producer_pid;
	uint32_t	eos;		/* 1 once the last item is posted */
	int32_t		semid;		/* the semaphore set of this run */
	uint32_t	jitter_us;	/* unsafe: race window widening */
	uint64_t	count;		/* items the producer will produce */
	uint64_t	seed;		/* 0: value = seq; else pseudo-random */
	uint64_t	head;		/* items written and posted */
	uint64_t	tail;		/* queue: items claimed (under SEM_MUTEX) */
	uint64_t	freed;		/* queue: slots released by consumers */
	uint64_t	total;		/* final item count, valid once eos */
	uint64_t	slots_off;
	uint64_t	tags_off;
	uint64_t	table_off;
	uint64_t	ledger_off;	/* 0: no ledger array */
	uint64_t	size;		/* bytes in the segment */
	uint64_t	start_ns;	/* now_ns() at the first item */
	int64_t		fill;		/* unsafe: racy count++/count-- */
	uint32_t	claimer;	/* queue: 1 + index of the consumer in
					   its critical section, 0 none */
	uint32_t	pad;
	uint32_t	timeout_s;	/* producer's -t, for the consumers'
					   own stall bound (0: not said) */
	uint32_t	delay_ms;	/* producer's --delay between items */
	uint64_t	reserved[9];
};

/*
 * The queue ledger, a fixed size whatever the count (common/ledger.c):
 * the ranges of sequence numbers taken, and two counters, from which
 * lost = count - distinct and duplicated = taken - distinct, exactly.
 * Written only under SEM_MUTEX, when a consumer records a claim.
 */
#define SHM_LEDGER_RANGES	4096
#define SHM_LEDGER_RANGES_STR	"4096"
#define LEDGER_PRIVATE_MAX	65536	/* an unsafe consumer's own ranges */
#define LEDGER_PRIVATE_STR	"65536"

/* shm_ledger.inexact: why lost and duplicated are not exact counts. */
#define LEDGER_FULL	0x1u	/* ranges[] was full: items untracked */
#define LEDGER_PRIVATE	0x2u	/* an unsafe consumer's own table was full */
#define LEDGER_DAMAGED	0x4u	/* the ranges do not add up */

struct shm_ledger {
	uint64_t	taken;		/* in-range items recorded */
	uint64_t	distinct;	/* numbers covered by ranges[] */
	uint64_t	untracked;	/* items recorded while it was full */
	uint32_t	nranges;	/* entries of ranges[] in use */
	uint32_t	inexact;	/* LEDGER_* */
	uint64_t	recorded[SHM_MAX_CONSUMERS]; /* consumer i's consumed
					   count once its last claim was
					   recorded here (a dead consumer's
					   unreported items) */
	uint64_t	ranges[SHM_LEDGER_RANGES][2]; /* [lo, hi), sorted,
					   disjoint, never touching */
};

/* Atomic access to fields that another process writes concurrently. */
#define SHM_LOAD(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define SHM_STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define SHM_ADD(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)

/*
 * The layout, held to docs/DESIGN.md's tables at compile time: every
 * field at its documented offset with its documented type, and the
 * documented sizes.  A program written from the
 * document alone reads what these structs write; a change here that
 * breaks that is a build error, not a failed run.
 */
#define SHM_FIELD(s, f, off, t)						\
	_Static_assert(offsetof(struct s, f) == (off) &&		\
	    _Generic(((struct s *)0)->f, t: 1, default: 0),		\
	    #s "." #f " is not a " #t " at offset " #off " (DESIGN.md)")
#define SHM_ARRAY(s, f, off, t, n)					\
	_Static_assert(offsetof(struct s, f) == (off) &&		\
	    sizeof(((struct s *)0)->f) == sizeof(t) * (n) &&		\
	    _Generic(((struct s *)0)->f[0], t: 1, default: 0),		\
	    #s "." #f " is not " #t "[" #n "] at offset " #off " (DESIGN.md)")

_Static_assert(sizeof(struct shm_header) == 256,
    "struct shm_header is 256 bytes (DESIGN.md)");
_Static_assert(sizeof(struct shm_consumer) == 160,
    "struct shm_consumer is 160 bytes (DESIGN.md)");
_Static_assert(SHM_MAX_CONSUMERS == 512,
    "the consumer table has 512 entries (DESIGN.md)");
_Static_assert(SHM_MAXBUF_MAX == 32766u,
    "capacity is 1..32766 (DESIGN.md)");

SHM_FIELD(shm_header, magic, 0, uint32_t);
SHM_FIELD(shm_header, version, 4, uint32_t);
SHM_FIELD(shm_header, hdr_size, 8, uint32_t);
SHM_FIELD(shm_header, ready, 12, uint32_t);
SHM_FIELD(shm_header, capacity, 16, uint32_t);
SHM_FIELD(shm_header, mode, 20, uint32_t);
SHM_FIELD(shm_header, flags, 24, uint32_t);
SHM_FIELD(shm_header, state, 28, uint32_t);
SHM_FIELD(shm_header, max_consumers, 32, uint32_t);
SHM_FIELD(shm_header, expected, 36, uint32_t);
SHM_FIELD(shm_header, registered, 40, uint32_t);
SHM_FIELD(shm_header, batch, 44, uint32_t);
SHM_FIELD(shm_header, producer_pid, 48, int32_t);
SHM_FIELD(shm_header, eos, 52, uint32_t);
SHM_FIELD(shm_header, semid, 56, int32_t);
SHM_FIELD(shm_header, jitter_us, 60, uint32_t);
SHM_FIELD(shm_header, count, 64, uint64_t);
SHM_FIELD(shm_header, seed, 72, uint64_t);
SHM_FIELD(shm_header, head, 80, uint64_t);
SHM_FIELD(shm_header, tail, 88, uint64_t);
SHM_FIELD(shm_header, freed, 96, uint64_t);
SHM_FIELD(shm_header, total, 104, uint64_t);
SHM_FIELD(shm_header, slots_off, 112, uint64_t);
SHM_FIELD(shm_header, tags_off, 120, uint64_t);
SHM_FIELD(shm_header, table_off, 128, uint64_t);
SHM_FIELD(shm_header, ledger_off, 136, uint64_t);
SHM_FIELD(shm_header, size, 144, uint64_t);
SHM_FIELD(shm_header, start_ns, 152, uint64_t);
SHM_FIELD(shm_header, fill, 160, int64_t);
SHM_FIELD(shm_header, claimer, 168, uint32_t);
SHM_FIELD(shm_header, pad, 172, uint32_t);
SHM_FIELD(shm_header, timeout_s, 176, uint32_t);
SHM_FIELD(shm_header, delay_ms, 180, uint32_t);
SHM_ARRAY(shm_header, reserved, 184, uint64_t, 9);

SHM_FIELD(shm_consumer, pid, 0, int32_t);
SHM_FIELD(shm_consumer, state, 4, uint32_t);
SHM_FIELD(shm_consumer, exit_status, 8, int32_t);
SHM_FIELD(shm_consumer, index, 12, uint32_t);
SHM_FIELD(shm_consumer, consumed, 16, uint64_t);
SHM_FIELD(shm_consumer, first_seq, 24, uint64_t);
SHM_FIELD(shm_consumer, last_seq, 32, uint64_t);
SHM_FIELD(shm_consumer, checksum, 40, uint64_t);
SHM_FIELD(shm_consumer, out_of_order, 48, uint64_t);
SHM_FIELD(shm_consumer, corrupted, 56, uint64_t);
SHM_FIELD(shm_consumer, pos, 64, uint64_t);
SHM_FIELD(shm_consumer, freed, 72, uint64_t);
SHM_FIELD(shm_consumer, claim_start, 80, uint64_t);
SHM_FIELD(shm_consumer, claim_len, 88, uint64_t);
SHM_FIELD(shm_consumer, batches, 96, uint64_t);
SHM_FIELD(shm_consumer, end_ns, 104, uint64_t);
SHM_FIELD(shm_consumer, distinct, 112, uint64_t);
SHM_FIELD(shm_consumer, duplicated, 120, uint64_t);
SHM_FIELD(shm_consumer, flags, 128, uint32_t);
SHM_FIELD(shm_consumer, pad, 132, uint32_t);
SHM_FIELD(shm_consumer, claim_base, 136, uint64_t);
SHM_FIELD(shm_consumer, unreported, 144, uint64_t);
SHM_ARRAY(shm_consumer, reserved, 152, uint64_t, 1);

SHM_FIELD(shm_ledger, taken, 0, uint64_t);
SHM_FIELD(shm_ledger, distinct, 8, uint64_t);
SHM_FIELD(shm_ledger, untracked, 16, uint64_t);
SHM_FIELD(shm_ledger, nranges, 24, uint32_t);
SHM_FIELD(shm_ledger, inexact, 28, uint32_t);
SHM_ARRAY(shm_ledger, recorded, 32, uint64_t, 512);
_Static_assert(offsetof(struct shm_ledger, ranges) == 4128 &&
    sizeof(struct shm_ledger) == 69664,
    "struct shm_ledger is 69664 bytes, ranges at 4128 (DESIGN.md)");

#undef SHM_FIELD
#undef SHM_ARRAY

#endif /* SHMLAB_H */
