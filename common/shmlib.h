/*
 * shmlib.h - the small library in common/ that every program links.
 *
 * shmlab.h is the protocol (the shared layout and its constants); this
 * header is what a process does with it: the attached ring as it sees
 * it, the producer's parameters, the report, and the functions in
 * common/.  Library functions return -1 with errno set (or a message
 * in a caller's buffer); only the programs decide to exit.
 */
#ifndef SHMLIB_H
#define SHMLIB_H

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "semun.h"	/* semctl()'s fourth argument */
#include "shmlab.h"

/* An attached segment, as a process sees it. */
struct shm_ring {
	struct shm_header *hdr;
	int32_t		*slots;
	uint64_t	*tags;
	struct shm_consumer *table;
	uint32_t	*done;		/* queue: done[slot], NULL otherwise */
	struct shm_ledger *ledger;	/* NULL: no ledger */
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
	uint32_t	timeout_s;	/* -t, declared in the header */
	uint32_t	delay_ms;	/* --delay, declared in the header */
};

/* key.c: key files and key derivation. */
int	 key_default_path(char *, size_t);
int	 key_walk_path(char *, size_t);
int	 key_file_make(const char *, uid_t *);
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

/* stall.c: a consumer's bound on a run where nothing moves. */
struct shm_stall {
	int		bound_s;	/* stall_bound() */
	uint64_t	mark;		/* the motion last seen ... */
	uint64_t	since_ns;	/* ... and since when */
	uint64_t	last_ns;	/* the previous check */
};
int	 stall_bound(const struct shm_header *, int);
void	 stall_init(struct shm_stall *, const struct shm_header *, int);
int	 stall_check(struct shm_stall *, const struct shm_ring *, uint32_t);

/* clean.c: removing a crashed run's objects. */
int	 seg_clean(key_t, char *, size_t);

/* sem.c: the semaphore set. */
int	 sem_create(key_t, const struct shm_params *);
int	 sem_seats(void);
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

/* ledger.c: the queue ledger's ranges. */
int64_t	 rset_add(uint64_t (*)[2], uint32_t *, uint32_t, uint64_t, uint64_t);
void	 ledger_add(struct shm_ledger *, const uint64_t (*)[2], uint32_t,
	    uint64_t);
uint32_t ledger_read(const struct shm_ledger *, uint64_t, uint64_t *,
	    uint64_t *);
const char *ledger_reason(uint32_t);
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
	const char	*ledger_note;	/* why not exact, or NULL */
	int		exit_status;
	const char	*fault;		/* injected fault, or NULL */
	const char	*error;		/* why the run failed, or NULL */
	const char	*error_text;	/* the same in the user's language */
};

/* json.c: a string in a JSON document (null for NULL). */
void	 json_str(FILE *, const char *);

/* report.c: the run's result, in JSON and as a short table. */
void	 report_tally(struct shm_report *);
int	 report_json(FILE *, const struct shm_report *);
int	 report_text(FILE *, const struct shm_report *);

/*
 * protocol.c: the rules every side applies, each in one function.  How
 * long a semop waits before its caller looks around, and how often a busy
 * loop looks around anyway (process titles refresh at that pace too).
 */
#define SHM_TICK_MS	200
#define SHM_LOOK_MS	100
int	 proto_record_counts(uint32_t);
int	 proto_sem_used(enum shm_mode, uint32_t, int);
int	 proto_look_due(uint64_t *, uint64_t);

/* opts.c: parsing what the user types. */
int	 opt_mode(const char *, enum shm_mode *);
int	 opt_perm(const char *, mode_t *);
long long opt_number(const char *, long long, long long, const char **);
int	 opt_control(int, char *[]);
int	 prog_start(int, char *[], char *[]);

/* names.c: the words for the protocol's enums. */
const char *mode_name(enum shm_mode);
const char *state_name(uint32_t);
const char *cstate_name(uint32_t);

/* clock.c: the monotonic clock, sleeping, race-window widening. */
uint64_t now_ns(void);
void	 sleep_ms(int);
void	 jitter(uint32_t, uint64_t *);

/* liveness.c: is a peer still there. */
int	 pid_alive(pid_t);

/* signals.c: catching the signals that end a run. */
int	 sig_catch(void (*)(int), int);

#endif /* SHMLIB_H */
