/*
 * testutil.h - what the Check suites share: a private directory and keys
 * per test, IPC snapshots, running the real programs with a deadline in
 * their own process groups, and a cleanup that happens even when a test
 * fails.
 *
 * Why a guardian process.  In Check's fork mode a failed assertion ends
 * the test process with _exit(), and a timeout kills its process group
 * with SIGKILL: the checked teardown runs in neither case.  tu_setup()
 * therefore forks a guardian in its own process group that waits for the
 * test process to go away (EOF on a pipe only the test holds) and then
 * kills the process groups the test started and removes the IPC objects
 * under the test's keys.  On a passing test tu_teardown() does all that
 * itself and the guardian finds nothing left to do.
 *
 * Who creates and removes what:
 *   - tu_setup() creates /tmp/shmlab-test.XXXXXX (mkdtemp); tu_key_new()
 *     creates key files in it and picks a proj_id whose key has no shm
 *     segment and no semaphore set yet;
 *   - the test, or the programs it runs, create IPC objects under those
 *     keys only;
 *   - tu_teardown() (or the guardian) kills the process groups started
 *     with tu_fork()/tu_spawn(), removes the objects found under the
 *     test's keys with shmget/semget(key, 0, 0) -- never anything else --
 *     and removes the directory.
 *
 * When SHMLAB_TEST_KEYLOG names a file, every key handed out is appended
 * to it, so that tests/run_tests.sh can tell this run's objects from
 * anybody else's.  Deadlines scale with CK_TIMEOUT_MULTIPLIER, as Check's
 * own timeouts do.
 *
 * Use: tu_init() in main() before srunner_run_all(); tu_setup and
 * tu_teardown as a checked fixture.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <sys/types.h>
#include <sys/ipc.h>

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define TU_MAX_KEYS	8	/* keys one test may hand out */
#define TU_MAX_PGIDS	64	/* process groups one test may start */

/* A key file in the test's directory and the key derived from it. */
struct tu_key {
	char	path[PATH_MAX];
	char	proj_arg[8];		/* proj_id as a -p argument */
	int	proj;
	key_t	key;
};

/* A program started by tu_spawn(), leader of its own process group. */
struct tu_proc {
	pid_t	pid;
	int	status;			/* waitpid() status once done */
	int	done;
	int	timed_out;		/* killed by tu_wait() */
	char	out[PATH_MAX];		/* its stdout and stderr, as files */
	char	err[PATH_MAX];
	uint64_t start_ns;
	uint64_t end_ns;
};

/* IPC objects as /proc/sysvipc lists them. */
struct tu_ipc_obj {
	char	kind;			/* 'm' shm, 's' sem */
	int	id;
	key_t	key;
	uid_t	uid;
	pid_t	cpid;			/* shm only; 0 for sem */
};

struct tu_snap {
	size_t	n;
	struct tu_ipc_obj *obj;
};

/* Runner and fixture. */
void	 tu_init(void);
void	 tu_setup(void);
void	 tu_teardown(void);
void	 tu_subreaper(void);
int	 tu_ms(int);
uint64_t tu_now_ms(void);
void	 tu_sleep_ms(int);

/* The test's private directory and keys. */
const char *tu_dir(void);
int	 tu_path(char *, size_t, const char *);
int	 tu_key_new(struct tu_key *);
int	 tu_key_range(struct tu_key *, int, int);
int	 tu_ipc_count_key(key_t);
int	 tu_ipc_remove_key(key_t);

/* Snapshots of /proc/sysvipc/{shm,sem}. */
int	 tu_snap_take(struct tu_snap *);
void	 tu_snap_free(struct tu_snap *);
size_t	 tu_snap_new(const struct tu_snap *, const struct tu_snap *, int,
	    char *, size_t);

/* Processes. */
pid_t	 tu_fork(void);
void	 tu_track_pgid(pid_t);
int	 tu_spawn(struct tu_proc *, const char *, char *const []);
int	 tu_spawn_io(struct tu_proc *, const char *, char *const [],
	    char *const [], int, int, int);
void	 tu_start(struct tu_proc *, const char *, char *const [],
	    char *const [], int, int, int);
int	 tu_wait(struct tu_proc *, int);
int	 tu_run(struct tu_proc *, const char *, char *const [], int);
int	 tu_exit_code(const struct tu_proc *);
const char *tu_status_str(const struct tu_proc *, char *, size_t);
int	 tu_wait_pid_gone(pid_t, int, int *);
int	 tu_running(const struct tu_proc *);
void	 tu_expect_group_gone(pid_t, const char *);

/* A ready shmlab segment under a key, attached read-only. */
struct shm_ring;
int	 tu_wait_ready(key_t, int, struct shm_ring *);

/*
 * A run_demo.sh invocation and what the test learnt about it: its key
 * (adopted when key_seen is 1; -1: not ours), the daemon's pid from its
 * pidfile, its consumers' process group, and what a pty master read.
 */
struct tu_demo {
	struct tu_proc	 sh;
	pid_t		 daemon;
	pid_t		 cons;
	key_t		 key;
	int		 key_seen;
	char		*out;
	size_t		 outlen;
};

struct args;
void	 tu_demo_env(struct args *, const char *, const char *);
void	 tu_demo_scan(struct tu_demo *, uint64_t);
void	 tu_demo_kill(struct tu_demo *);
void	 tu_demo_end(const struct tu_demo *);
void	 tu_demo_done(const struct tu_demo *);

/* Files, binaries and the JSON report. */
char	*tu_read_file(const char *, size_t *);
const char *tu_bin(const char *);
char	*tu_read_report(const char *);
json_t	*tu_json_parse(const char *);
int	 tu_json_u64(const char *, const char *, unsigned long long *);
int	 tu_json_bool(const char *, const char *, int *);
int	 tu_json_null(const char *, const char *);
int	 tu_json_str(const char *, const char *, char *, size_t);
int	 tu_json_elem_u64(const char *, const char *, size_t, const char *,
	    unsigned long long *);
unsigned long long tu_jnum(const char *, const char *);
int	 tu_jbool(const char *, const char *);
void	 tu_expect_dup_report(const char *, unsigned long long,
	    unsigned long long);

/* The grading contract of the report (issue 3), with expectations. */
#define TU_WHY_MAX	4096
int	 tu_report_check(const char *, const char *const [], char *);

/* What a process wrote, and how it ended (these fail the test). */
char	*tu_out_text(const struct tu_proc *);
char	*tu_err_text(const struct tu_proc *);
void	 tu_expect_exit(const struct tu_proc *, const char *, int);

/* Keys made by others (run_demo.sh makes its own key file). */
int	 tu_key_adopt(key_t);
int	 tu_track_key(key_t);		/* the same, by its older name */

/*
 * An argv built one argument at a time, for tu_spawn(): arg() formats and
 * appends one (failing the test when full), args_add() appends strings up
 * to a NULL, args_words() the words of one string, args_prog() starts
 * one with "BIN -k PATH -p PROJ", and args_free() frees them all.
 */
#define TU_MAX_ARGS	48
struct args {
	int	 n;
	char	*v[TU_MAX_ARGS + 1];
};

void	 arg(struct args *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 args_add(struct args *, ...) __attribute__((sentinel));
void	 args_prog(struct args *, const char *, const struct tu_key *);
void	 args_words(struct args *, const char *);
void	 args_free(struct args *);

#endif /* TESTUTIL_H */
