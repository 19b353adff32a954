/*
 * prod.h - the producer's run handle, shared by the producer's files.
 *
 * Everything a run holds is in struct prod, which main() owns and passes
 * to every function that needs it: the parameters, the attached ring
 * and its semaphore set, what the producer itself wrote, and the reason
 * the run failed.  The only file-scope state is the two flags the signal
 * handler sets (producer.c).
 *
 *	producer.c	main(), the options, the run's story, the signals
 *	limits.c	what must hold before anything is created
 *	objects.c	the key, the objects' creation, --perm, --clean
 *	daemon.c	-d: the fork, the pidfile, "ready" to the caller
 *	produce.c	the stream: waits, batches, end of stream, drain
 *	watch.c		distrust: damage, progress, repair, the title
 *	finish.c	the report and the teardown, on every path
 *	walkthrough.c	--walkthrough; slides.c: the slides' protocol
 */
#ifndef PROD_H
#define PROD_H

#include <sys/types.h>

#include <signal.h>
#include <stdint.h>

#include "live.h"
#include "mode.h"
#include "runopts.h"
#include "shmlib.h"

#define TICK_MS		SHM_TICK_MS	/* semop bound, then look around */
#define GRACE_MS	1000	/* for attached processes to detach */
#define STOP_DRAIN_MS	2000	/* drain bound after SIGINT/SIGTERM */
#define SETTLE_MS	1000	/* for consumers to notice an abort */

/* What the producer was asked to do. */
enum prod_action { ACT_RUN, ACT_CLEAN, ACT_WALK };

/* SHMLAB_FAULT: the stream's deliberate misbehaviour (tests only). */
enum fault_kind { F_NONE, F_DROP, F_DUP, F_SWAP, F_CORRUPT };

struct fault {
	enum fault_kind	 kind;
	uint64_t	 seq;
	const char	*spec;		/* as given, for the report */
};

struct pidfh;

struct prod {
	/* What the user asked for. */
	enum prod_action action;
	struct shm_params par;
	const struct mode_table *mode;	/* par's mode and flags: its table */
	struct run_opts	 opt;		/* -k -p -t -B --delay */
	const char	*json_path;	/* -o */
	const char	*text_path;	/* -r */
	const char	*pidpath;	/* -P */
	int		 json_stdout;	/* --json */
	int		 verbose;	/* not -q */
	int		 daemonise;	/* -d */
	int		 perm_set;	/* --perm */
	mode_t		 perm;
	int		 step;		/* --walkthrough --step */
	int		 rawkey_set;	/* --clean -K */
	key_t		 key;
	const char	*keypath;
	struct fault	 fault;

	/* The run. */
	struct shm_ring	 ring;		/* ring.semid is the semaphore set */
	int		 created;	/* both objects exist: finish() ends */
	/*
	 * The segment is hostile input: anyone who can write it can change
	 * any field.  What the producer wrote once it keeps here and never
	 * reads back; head and state it alone writes, so it keeps copies.
	 */
	struct shm_header orig;
	uint64_t	 head;
	uint32_t	 state;
	struct live	 live;		/* deaths already acted on */
	int		 need_recovery;	/* a queue consumer died: resync */
	uint64_t	 last_motion;	/* progress: see stalled() */
	uint64_t	 motion_ns;
	uint64_t	 last_look_ns;
	uint64_t	 last_title_ns;
	struct pidfh	*pfh;		/* -d: the pidfile */
	int		 ready_fd;	/* -d: tells the caller we are ready */

	/*
	 * Why the run failed, NULL while it has not: a fixed N_() text, or
	 * why_buf, built in English for the JSON (a contract) beside
	 * why_text in the user's language for the table and stderr.
	 */
	const char	*why;
	char		 why_buf[256];
	char		 why_text[256];
};

/* Set by the signal handler (producer.c): SIGINT/TERM/HUP, SIGUSR1. */
extern volatile sig_atomic_t prod_stop;
extern volatile sig_atomic_t prod_dump;

/* limits.c */
void	 check_outputs(const struct prod *);
void	 check_limits(const struct mode_table *, const struct shm_params *);

/* objects.c */
void	 resolve_key(struct prod *);
void	 create_objects(struct prod *);
int	 widen(struct prod *);
int	 clean_run(struct prod *);
int	 test_fail(const char *);

/* daemon.c */
void	 daemon_start(struct prod *);
int	 daemon_ready(struct prod *);

/* produce.c */
void	 parse_fault(struct prod *);
void	 produce(struct prod *);

/* watch.c */
void	 fail(struct prod *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 fatal_ipc(struct prod *, const char *);
void	 set_state(struct prod *, uint32_t);
uint32_t registered_now(const struct prod *);
int	 seg_damaged(struct prod *);
void	 restore_fixed(const struct prod *, struct shm_header *);
void	 damage(struct prod *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 stalled(struct prod *, const char *);
int	 title(struct prod *);
void	 dump_counters(struct prod *);
uint32_t look_around(struct prod *, int *);
void	 settle(struct prod *);

/* finish.c */
int	 finish(struct prod *);

#endif /* PROD_H */
