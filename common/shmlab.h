/*
 * shmlab.h - the protocol shared by producer, consumer and monitor.
 *
 * Everything the processes share is defined here: the layout of the shared
 * memory segment, the semaphore indices and what each one counts, and the
 * small library in common/ that every program links.
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

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SHM_MAGIC	0x4c4d4853u	/* "SHML" read as little-endian bytes */
#define SHM_VERSION	1u		/* bump on any layout change */
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
 * Semaphore set.  In queue mode only the first four are used; a broadcast
 * run adds a pair per expected consumer.
 */
#define SEM_MUTEX	0	/* 1: consumers' critical section; SEM_UNDO */
#define SEM_EMPTY	1	/* queue: free slots */
#define SEM_FULL	2	/* queue: items not yet claimed, + EOS token */
#define SEM_JOIN	3	/* consumers registered so far */
#define SEM_BASE	4	/* broadcast pairs start here */
#define SEM_EMPTY_I(i)	(SEM_BASE + 2 * (i))	 /* slots consumer i freed */
#define SEM_FULL_I(i)	(SEM_BASE + 2 * (i) + 1) /* items for consumer i */
#define SEM_NSEMS(mode, n) ((mode) == MODE_BROADCAST ? SEM_BASE + 2 * (n) : \
			    SEM_BASE)

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
 *	uint16_t ledger[count]		at hdr.ledger_off (queue, SHM_F_VERIFY)
 *
 * The ledger counts how often each sequence number was taken.  A queue run
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
	uint64_t	reserved[10];
};

/* Atomic access to fields that another process writes concurrently. */
#define SHM_LOAD(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define SHM_STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define SHM_ADD(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)

/* An attached segment, as a process sees it. */
struct shm_ring {
	struct shm_header *hdr;
	int32_t		*slots;
	uint64_t	*tags;
	struct shm_consumer *table;
	uint16_t	*ledger;	/* NULL: no ledger array */
	int		 shmid;
	int		 semid;
	key_t		 key;
};

/* Everything the producer chooses for a run. */
struct shm_params {
	uint32_t	capacity;
	enum shm_mode	mode;
	uint32_t	flags;
	uint32_t	expected;	/* broadcast consumers (0 in queue) */
	uint32_t	batch;
	uint32_t	jitter_us;
	uint64_t	count;
	uint64_t	seed;
	mode_t		perm;		/* 0600 unless --perm */
};

/* key.c: key files and key derivation. */
int	 key_default_path(char *, size_t);
int	 key_walk_path(char *, size_t);
int	 key_ensure_file(const char *);
key_t	 key_derive(const char *, int);

/* seg.c: segment layout, creation, attachment and validation. */
int	 seg_layout(const struct shm_params *, uint64_t *);
int	 seg_create(key_t, const struct shm_params *, struct shm_ring *);
int	 seg_attach(key_t, int, struct shm_ring *);
int	 seg_attach_msg(key_t, int, struct shm_ring *, char *, size_t);
int	 seg_validate(const struct shm_header *, uint64_t, char *, size_t);
int	 seg_map(struct shm_ring *, void *);
int	 seg_detach(struct shm_ring *);
int	 seg_nattch(int, unsigned long *);
int	 seg_removed(int);
int	 seg_check_owner(int, int, key_t, uid_t, char *, size_t);
const char *uid_name(uid_t, char *, size_t);

/* clean.c: removing a crashed run's objects. */
int	 seg_clean(key_t, char *, size_t);

/* sem.c: the semaphore set. */
int	 sem_create(key_t, const struct shm_params *);
int	 sem_open_ready(key_t, int);
int	 sem_wait_ready(int, int);
int	 sem_op(int, struct sembuf *, size_t, int);
int	 sem_limits(int *, int *, int *, int *);

/* ring.c: index arithmetic and item values. */
uint32_t ring_slot(uint64_t, uint32_t);
static inline int32_t
item_value(uint64_t seed, uint64_t seq)
{
	uint64_t z;

	if (seed == 0)
		return (int32_t)(uint32_t)seq;
	z = seed * 0x9e3779b97f4a7c15ULL + seq;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (int32_t)(uint32_t)((z ^ (z >> 31)) >> 32);
}
uint64_t expected_checksum(uint64_t, uint64_t);
void	 ledger_tally(const uint16_t *, uint64_t, uint32_t, uint64_t *,
	    uint64_t *);

/* The outcome of a run, as the producer reports it (report.c). */
struct shm_report {
	const struct shm_ring *ring;	/* table and parameters */
	uint64_t	produced;	/* ring positions written */
	uint64_t	consumed;	/* sum over consumers */
	uint64_t	lost;
	uint64_t	duplicated;
	uint64_t	out_of_order;
	uint64_t	corrupted;
	uint64_t	checksum_expected; /* of one full stream */
	uint64_t	checksum_total;	/* sum over consumers */
	uint32_t	consumers;	/* records handed out */
	uint32_t	died;		/* consumers found dead */
	uint64_t	unreported;	/* dead consumers: read, not reported */
	uint64_t	in_flight;	/* dead consumers: claimed at death */
	double		elapsed_s;
	int		verified;
	int		interrupted;	/* stopped early by a signal */
	int		ledger;		/* exact tally kept (SHM_F_VERIFY) */
	int		exit_status;
	const char	*fault;		/* injected fault, or NULL */
	const char	*error;		/* why the run failed, or NULL */
};

/* report.c: the run's result, in JSON and as a short table. */
void	 report_tally(struct shm_report *);
int	 report_json(FILE *, const struct shm_report *);
int	 report_text(FILE *, const struct shm_report *);

/* opts.c: option helpers shared by the programs. */
int	 opt_mode(const char *, enum shm_mode *);
const char *mode_name(enum shm_mode);
const char *state_name(uint32_t);
const char *cstate_name(uint32_t);
int	 opt_perm(const char *, mode_t *);
long long opt_number(const char *, long long, long long, const char **);
int	 opt_control(int, char *[]);
uint64_t now_ns(void);
int	 pid_alive(pid_t);
void	 sleep_ms(int);
int	 sig_catch(void (*)(int), int);
void	 jitter(uint32_t, uint64_t *);

#endif /* SHMLAB_H */
