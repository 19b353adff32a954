/*
 * grader.h - what the grader's files share: the commands it runs, one
 * test's case (key, processes, what was seen), and the results.
 *
 * Who creates and removes what: the grader makes a private directory
 * (mkdtemp) and one fresh key file per case in it, so it knows every key
 * a student's program may use; at the end of each case it kills the
 * process groups it started (by pid, SIGKILL) and removes whatever
 * exists under that case's key -- its own foreign objects and what the
 * student's program left -- and nothing else.
 */
#ifndef GRADER_H
#define GRADER_H

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/resource.h>

#include <limits.h>
#include <signal.h>
#include <stdint.h>

#define G_MAX_ARGS	64	/* words in one command */
#define G_MAX_PROCS	16	/* processes in one case */
#define G_MSG		512	/* one line of explanation */
#define G_FIRST		5	/* values quoted for lost/duplicated items */

enum g_side { G_PRODUCER = 0, G_CONSUMER = 1 };

/* A command as given, split on spaces, with {keyfile} etc. to fill. */
struct g_cmd {
	int	 argc;
	char	*argv[G_MAX_ARGS + 1];
	int	 student;		/* the program under test */
	int	 placeholders;		/* it names its own arguments */
};

struct g_case;

struct grader {
	struct g_cmd	 cmd[2];	/* G_PRODUCER, G_CONSUMER */
	int		 timeout_s;	/* each case's wall-clock bound */
	long		 memory_mb;	/* RLIMIT_AS for the student; 0: none */
	char		 dir[1024];	/* private directory (mkdtemp) */
	int		 ncase;		/* cases so far: key file names */
	volatile sig_atomic_t *stop;
	struct g_case	*cur;		/* the case running, for a harness failure */
};

/* One process the grader started: the leader of its own group. */
struct g_proc {
	pid_t		 pid;
	enum g_side	 side;
	int		 index;		/* consumer 1..n; 0 for the producer */
	int		 done;
	int		 attached;	/* it, or its group, mapped the segment */
	int		 status;
	struct rusage	 ru;
	char		 out[PATH_MAX];
	char		 err[PATH_MAX];
	uint64_t	 start_ns;
	uint64_t	 end_ns;
	char		 diag[256];	/* why it was still running, at the bound */
	char		 diag_l[256];	/* the same in the user's language */
};

/* How long the grader stays attached, so a short run is not missed. */
enum g_hold { HOLD_NONE, HOLD_ATTACHED, HOLD_TO_END };

/* One run of a producer and consumers under one fresh key. */
struct g_case {
	struct grader	*g;
	char		 keyfile[PATH_MAX];
	int		 proj;
	key_t		 key;
	int		 count;
	int		 maxbuf;
	enum g_hold	 hold;
	void		*held;		/* our attachment, or NULL */
	int		 held_id;	/* its shm id */
	int		 released;
	int		 marker_left;	/* HOLD_TO_END: -1 and full >= 1 seen */
	int		 full_max;	/* highest value seen on each semaphore */
	int		 empty_max;
	int		 semid_seen;
	struct g_proc	 proc[G_MAX_PROCS];
	int		 nproc;
	int		 timed_out;
	char		 left[128];	/* objects removed at the end */
	int		 active;
	int		 expect;	/* consumers the test will start */
};

/* The outcome of one test. */
struct g_result {
	const char	*name;
	enum g_side	 side;
	int		 passed;
	char		 message[G_MSG];	/* English: the JSON outputs */
	char		 local[G_MSG];	/* translated: the table */
};

/* run.c: cases, processes, /proc diagnosis, IPC under the case's key. */
struct g_case *g_case_begin(struct grader *, int, int, enum g_hold);
void	 g_case_end(struct g_case *);
struct g_proc *g_start(struct g_case *, enum g_side, int, int);
int	 g_wait(struct g_case *, int, uint64_t);
void	 g_tick(struct g_case *);
void	 g_grab(struct g_case *, uint64_t);
void	 g_hold_first(struct g_case *, uint64_t);
int	 g_group_signal(const struct g_case *, enum g_side, int);
double	 g_group_cpu(const struct g_case *, enum g_side, double *);
int	 g_waiting_on(const struct g_case *, int);
void	 g_diagnose(struct g_case *, struct g_proc *);
const char *g_signame(int);
const char *g_tr(int, const char *) __attribute__((format_arg(2)));
uint64_t g_now_ms(void);
void	 g_sleep_ms(int);
int	 g_cmd_split(struct g_cmd *, const char *, int);
void	 g_cmd_free(struct g_cmd *);

/* tests.c: the tests, in the order. */
int	 g_run_tests(struct grader *, enum g_side, struct g_result *, int);

#endif /* GRADER_H */
