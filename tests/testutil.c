/*
 * testutil.c - helpers shared by the Check suites (see testutil.h for who
 * creates and removes what, and why a guardian process exists).
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmlib.h"
#include "testutil.h"

#define TU_DIR_PREFIX	"/tmp/shmlab-test."
#define TU_GUARD_WAIT_MS 10000	/* for the previous test's guardian */

/*
 * Shared by the runner, every test process and every guardian: created
 * by tu_init() before Check forks anything.  One test runs at a time, so
 * one record is enough; busy tells the next test to wait until the
 * previous guardian has finished its cleanup.
 */
struct tu_registry {
	int	busy;			/* a guardian is alive */
	int	npgid;
	pid_t	pgid[TU_MAX_PGIDS];
	int	nkey;
	key_t	key[TU_MAX_KEYS];
	char	dir[PATH_MAX];
};

static struct tu_registry *reg;
static pid_t	runner_pid;
static int	guard_fd = -1;		/* write end; the test process only */
static pid_t	guard_pid = -1;
static int	keys_made;

static void	 wait_guardian_idle(void);
static void	 exec_maybe_valgrind(char *const []);
static void	 at_exit_runner(void);
static void	 guardian_main(int) __attribute__((noreturn));
static void	 clean_registry(int);
static void	 kill_groups(void);
static void	 remove_dir(const char *);
static void	 log_key(key_t);
static int	 key_free(key_t);
static int	 is_ours(const struct tu_ipc_obj *);
static int	 snap_read(struct tu_snap *, const char *, char);
static json_t	*json_member(const char *, const char *, json_t **);

/* ---------------------------------------------------------------- time */

uint64_t
tu_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
tu_sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A deadline in ms, stretched like Check's own by CK_TIMEOUT_MULTIPLIER. */
int
tu_ms(int ms)
{
	const char *s = getenv("CK_TIMEOUT_MULTIPLIER");
	double m = 1;
	char *end;

	if (s != NULL && *s != '\0') {
		m = strtod(s, &end);
		if (*end != '\0' || m < 1 || m > 1000)
			m = 1;
	}
	return (int)(ms * m);
}

/* ------------------------------------------------------ runner, fixture */

void
tu_init(void)
{
	void *p;

	p = mmap(NULL, sizeof(*reg), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("testutil: mmap");
		exit(1);
	}
	reg = p;
	runner_pid = getpid();
	if (atexit(at_exit_runner) != 0) {
		fprintf(stderr, "testutil: atexit failed\n");
		exit(1);
	}
}

/* The runner waits for the last guardian, so run_tests.sh sees its work. */
static void
at_exit_runner(void)
{
	if (getpid() == runner_pid)
		wait_guardian_idle();
}

static void
wait_guardian_idle(void)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(TU_GUARD_WAIT_MS);

	while (__atomic_load_n(&reg->busy, __ATOMIC_ACQUIRE) &&
	    tu_now_ms() < end)
		tu_sleep_ms(2);
}

/* Lets this process reap orphans: a daemonised producer comes back here. */
void
tu_subreaper(void)
{
	ck_assert_msg(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0,
	    "prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
}

void
tu_setup(void)
{
	int fds[2];
	pid_t pid;

	ck_assert_msg(reg != NULL, "tu_init() was not called from main()");
	wait_guardian_idle();
	ck_assert_msg(!__atomic_load_n(&reg->busy, __ATOMIC_ACQUIRE),
	    "the previous test's guardian is still cleaning up");
	reg->npgid = 0;
	reg->nkey = 0;
	(void)snprintf(reg->dir, sizeof(reg->dir), "%sXXXXXX", TU_DIR_PREFIX);
	ck_assert_msg(mkdtemp(reg->dir) != NULL, "mkdtemp: %s",
	    strerror(errno));
	keys_made = 0;
	ck_assert_msg(pipe2(fds, O_CLOEXEC) == 0, "pipe2: %s",
	    strerror(errno));
	__atomic_store_n(&reg->busy, 1, __ATOMIC_RELEASE);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1) {
		__atomic_store_n(&reg->busy, 0, __ATOMIC_RELEASE);
		ck_abort_msg("fork (guardian): %s", strerror(errno));
	}
	if (pid == 0) {
		(void)close(fds[1]);
		guardian_main(fds[0]);
	}
	/* Both sides set the group, so Check's killpg() never reaches it. */
	(void)setpgid(pid, pid);
	(void)close(fds[0]);
	guard_fd = fds[1];
	guard_pid = pid;
}

/*
 * The guardian: waits until no process holds the pipe's write end (the
 * test ended, however), then cleans whatever the registry still lists.
 */
static void
guardian_main(int fd)
{
	char c;
	ssize_t n;

	(void)setpgid(0, 0);
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGTERM, SIG_DFL);
	do
		n = read(fd, &c, 1);
	while (n > 0 || (n == -1 && errno == EINTR));
	clean_registry(1);
	__atomic_store_n(&reg->busy, 0, __ATOMIC_RELEASE);
	_exit(0);
}

static void
kill_groups(void)
{
	int i;

	for (i = 0; i < reg->npgid && i < TU_MAX_PGIDS; i++)
		if (reg->pgid[i] > 1)
			(void)kill(-reg->pgid[i], SIGKILL);
}

/*
 * Kills the test's process groups, removes its IPC objects by key, and
 * its directory.  The guardian cannot reap (the processes are not its
 * children), so it gives SIGKILL a moment before removing objects twice.
 */
static void
clean_registry(int guardian)
{
	int i, removed = 0;

	kill_groups();
	if (guardian && reg->npgid > 0)
		tu_sleep_ms(50);
	for (i = 0; i < reg->nkey && i < TU_MAX_KEYS; i++)
		removed += tu_ipc_remove_key(reg->key[i]);
	if (removed > 0 || (guardian && reg->npgid > 0)) {
		tu_sleep_ms(100);
		for (i = 0; i < reg->nkey && i < TU_MAX_KEYS; i++)
			(void)tu_ipc_remove_key(reg->key[i]);
	}
	if (reg->dir[0] != '\0')
		remove_dir(reg->dir);
	reg->npgid = 0;
	reg->nkey = 0;
	reg->dir[0] = '\0';
}

/* Our directories hold plain files only; refuses anything else. */
static void
remove_dir(const char *path)
{
	struct dirent *de;
	DIR *d;

	if (strncmp(path, TU_DIR_PREFIX, strlen(TU_DIR_PREFIX)) != 0)
		return;
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 && errno == EISDIR)
			(void)unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
	}
	(void)closedir(d);
	(void)rmdir(path);
}

void
tu_teardown(void)
{
	uint64_t end;
	pid_t pid;
	int i, st;

	if (reg == NULL)
		return;
	kill_groups();
	/* Reap what we started, and any orphan that came back to us. */
	end = tu_now_ms() + (uint64_t)tu_ms(2000);
	for (i = 0; i < reg->npgid && i < TU_MAX_PGIDS; i++)
		while (waitpid(reg->pgid[i], &st, WNOHANG) == 0 &&
		    tu_now_ms() < end)
			tu_sleep_ms(1);
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0 && pid != guard_pid)
		;
	clean_registry(0);
	if (guard_fd >= 0) {
		(void)close(guard_fd);
		guard_fd = -1;
	}
	if (guard_pid > 0) {
		end = tu_now_ms() + (uint64_t)tu_ms(TU_GUARD_WAIT_MS);
		while (waitpid(guard_pid, &st, WNOHANG) == 0 &&
		    tu_now_ms() < end)
			tu_sleep_ms(1);
		guard_pid = -1;
	}
}

/* ------------------------------------------------------- dir and keys */

const char *
tu_dir(void)
{
	return reg != NULL ? reg->dir : NULL;
}

int
tu_path(char *buf, size_t len, const char *name)
{
	int n;

	n = snprintf(buf, len, "%s/%s", tu_dir(), name);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* 1 when no segment and no semaphore set exist under key. */
static int
key_free(key_t key)
{
	if (shmget(key, 0, 0) != -1 || errno != ENOENT)
		return 0;
	if (semget(key, 0, 0) != -1 || errno != ENOENT)
		return 0;
	return 1;
}

static void
log_key(key_t key)
{
	const char *path = getenv("SHMLAB_TEST_KEYLOG");
	char line[32];
	int fd, n;

	if (path == NULL || *path == '\0')
		return;
	/* Signed decimal: the way /proc/sysvipc prints keys. */
	n = snprintf(line, sizeof(line), "%d\n", (int)key);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		return;
	if (write(fd, line, (size_t)n) != n)
		perror("testutil: key log");
	(void)close(fd);
}

/*
 * Creates a key file in the test's directory and picks a proj_id in
 * [lo, hi] whose key is not used by any object yet nor by another key of
 * this test; the key is registered (teardown removes what is left under
 * it).  Returns 0, or -1 with errno set.
 */
int
tu_key_range(struct tu_key *k, int lo, int hi)
{
	int fd, i, j, proj, used, span = hi - lo + 1;
	key_t key;

	if (reg->nkey >= TU_MAX_KEYS) {
		errno = ENOSPC;
		return -1;
	}
	memset(k, 0, sizeof(*k));
	if (span < 1 || lo < 1 || hi > 255) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(k->path, sizeof(k->path), "%s/key%d", reg->dir,
	    keys_made++) >= (int)sizeof(k->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(k->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || close(fd) == -1)
		return -1;
	for (i = 0; i < span; i++) {
		proj = lo + (int)(((unsigned)getpid() + (unsigned)i) %
		    (unsigned)span);
		key = ftok(k->path, proj);
		if (key == (key_t)-1)
			return -1;
		for (used = 0, j = 0; j < reg->nkey; j++)
			used |= reg->key[j] == key;
		if (used || !key_free(key))
			continue;
		k->proj = proj;
		k->key = key;
		(void)snprintf(k->proj_arg, sizeof(k->proj_arg), "%u",
		    (unsigned)(unsigned char)proj);	/* 1..255 */
		reg->key[reg->nkey] = key;
		__atomic_store_n(&reg->nkey, reg->nkey + 1, __ATOMIC_RELEASE);
		log_key(key);
		return 0;
	}
	errno = EADDRINUSE;
	return -1;
}

/* tu_key_range() over every proj_id, 1..255. */
int
tu_key_new(struct tu_key *k)
{
	return tu_key_range(k, 1, 255);
}

int
tu_ipc_count_key(key_t key)
{
	int n = 0;

	if (shmget(key, 0, 0) != -1)
		n++;
	if (semget(key, 0, 0) != -1)
		n++;
	return n;
}

/* Removes the objects under key, by the ids found there; returns how many. */
int
tu_ipc_remove_key(key_t key)
{
	int id, n = 0;

	if ((id = shmget(key, 0, 0)) != -1 && shmctl(id, IPC_RMID, NULL) == 0)
		n++;
	if ((id = semget(key, 0, 0)) != -1 && semctl(id, 0, IPC_RMID) == 0)
		n++;
	return n;
}

/* ----------------------------------------------------------- snapshots */

static int
snap_read(struct tu_snap *s, const char *path, char kind)
{
	char line[512], *f[16], *save, *tok;
	struct tu_ipc_obj *o;
	FILE *fp;
	int nf;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), fp) == NULL) {	/* the header */
		(void)fclose(fp);
		return 0;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		nf = 0;
		for (tok = strtok_r(line, " \t\n", &save); tok != NULL &&
		    nf < 16; tok = strtok_r(NULL, " \t\n", &save))
			f[nf++] = tok;
		if (nf < 10)
			continue;
		o = realloc(s->obj, (s->n + 1) * sizeof(*o));
		if (o == NULL) {
			(void)fclose(fp);
			return -1;
		}
		s->obj = o;
		o = &s->obj[s->n++];
		o->kind = kind;
		o->key = (key_t)strtol(f[0], NULL, 10);
		o->id = (int)strtol(f[1], NULL, 10);
		/* shm: key shmid perms size cpid lpid nattch uid ... */
		/* sem: key semid perms nsems uid ... */
		o->cpid = kind == 'm' ? (pid_t)strtol(f[4], NULL, 10) : 0;
		o->uid = (uid_t)strtoul(kind == 'm' ? f[7] : f[4], NULL, 10);
	}
	(void)fclose(fp);
	return 0;
}

int
tu_snap_take(struct tu_snap *s)
{
	s->n = 0;
	s->obj = NULL;
	if (snap_read(s, "/proc/sysvipc/shm", 'm') == -1 ||
	    snap_read(s, "/proc/sysvipc/sem", 's') == -1) {
		tu_snap_free(s);
		return -1;
	}
	return 0;
}

void
tu_snap_free(struct tu_snap *s)
{
	free(s->obj);
	s->obj = NULL;
	s->n = 0;
}

/* Created by this test: under one of its keys, or by a process it started. */
static int
is_ours(const struct tu_ipc_obj *o)
{
	int i;

	for (i = 0; i < reg->nkey; i++)
		if (reg->key[i] == o->key)
			return 1;
	for (i = 0; o->cpid > 0 && i < reg->npgid; i++)
		if (reg->pgid[i] == o->cpid)
			return 1;
	return 0;
}

/*
 * Counts the objects in after that were not in before (by kind and id),
 * all of them or only this test's, and describes them in desc.  Another
 * user of this machine may create objects meanwhile; only_ours keeps
 * their work from failing our tests.
 */
size_t
tu_snap_new(const struct tu_snap *before, const struct tu_snap *after,
    int only_ours, char *desc, size_t len)
{
	const struct tu_ipc_obj *o;
	size_t i, j, n = 0, used = 0;
	int seen, w;

	if (len > 0)
		desc[0] = '\0';
	for (i = 0; i < after->n; i++) {
		o = &after->obj[i];
		for (seen = 0, j = 0; j < before->n && !seen; j++)
			seen = before->obj[j].kind == o->kind &&
			    before->obj[j].id == o->id;
		if (seen || (only_ours && !is_ours(o)))
			continue;
		n++;
		if (used < len) {
			w = snprintf(desc + used, len - used, "%s%s id %d key "
			    "0x%08x cpid %ld", n > 1 ? "; " : "",
			    o->kind == 'm' ? "shm" : "sem", o->id,
			    (unsigned)o->key, (long)o->cpid);
			if (w > 0)
				used += (size_t)w;
		}
	}
	return n;
}

/* ----------------------------------------------------------- processes */

void
tu_track_pgid(pid_t pgid)
{
	if (reg->npgid < TU_MAX_PGIDS) {
		reg->pgid[reg->npgid] = pgid;
		__atomic_store_n(&reg->npgid, reg->npgid + 1,
		    __ATOMIC_RELEASE);
	}
}

/*
 * fork() into a new process group that teardown or the guardian kills.
 * The child closes the guardian pipe, so that a stuck helper cannot keep
 * the guardian from noticing that the test has ended.
 */
pid_t
tu_fork(void)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		(void)setpgid(0, 0);
		if (guard_fd >= 0)
			(void)close(guard_fd);
		return 0;
	}
	(void)setpgid(pid, pid);
	tu_track_pgid(pid);
	return pid;
}

/*
 * With SHMLAB_VALGRIND=1 the programs run under valgrind (CI does this
 * once): a memory error or a definite leak makes them exit 99, which no
 * test accepts.  Scripts and other commands run as they are.
 */
static void
exec_maybe_valgrind(char *const argv[])
{
	static const char *progs[] = { "/producer", "/consumer", "/monitor" };
	const char *v = getenv("SHMLAB_VALGRIND");
	char *vargv[64];
	size_t i, n, len = strlen(argv[0]);
	int ours = 0;

	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		if (len >= strlen(progs[i]) &&
		    strcmp(argv[0] + len - strlen(progs[i]), progs[i]) == 0)
			ours = 1;
	if (v == NULL || strcmp(v, "1") != 0 || !ours) {
		execv(argv[0], argv);
		return;
	}
	n = 0;
	vargv[n++] = "valgrind";
	vargv[n++] = "--quiet";
	vargv[n++] = "--error-exitcode=99";
	vargv[n++] = "--leak-check=full";
	vargv[n++] = "--errors-for-leak-kinds=definite";
	for (i = 0; argv[i] != NULL && n < 63; i++)
		vargv[n++] = argv[i];
	vargv[n] = NULL;
	execvp("valgrind", vargv);
}

/*
 * Starts argv[0] in its own process group (tu_fork).  stdin is in_fd, or
 * /dev/null when -1; stdout and stderr are out_fd and err_fd, or
 * DIR/name.out and DIR/name.err when -1.  SHMLAB_FAULT and TMUX are
 * never inherited (a fault is passed in env, "NAME=VALUE" strings put
 * into the child's environment); the other hooks, SHMLAB_HOLD_*, are, so
 * that a test may setenv() them around the start.  Returns 0, or -1 with
 * errno set.
 */
int
tu_spawn_io(struct tu_proc *p, const char *name, char *const argv[],
    char *const env[], int in_fd, int out_fd, int err_fd)
{
	sigset_t none;
	pid_t pid;
	int i;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	if (tu_path(p->out, sizeof(p->out), name) == -1 ||
	    tu_path(p->err, sizeof(p->err), name) == -1)
		return -1;
	(void)strncat(p->out, ".out", sizeof(p->out) - strlen(p->out) - 1);
	(void)strncat(p->err, ".err", sizeof(p->err) - strlen(p->err) - 1);
	p->start_ns = (uint64_t)tu_now_ms() * 1000000;
	pid = tu_fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		if (in_fd < 0)
			in_fd = open("/dev/null", O_RDONLY);
		if (out_fd < 0)
			out_fd = open(p->out, O_WRONLY | O_CREAT | O_TRUNC,
			    0600);
		if (err_fd < 0)
			err_fd = open(p->err, O_WRONLY | O_CREAT | O_TRUNC,
			    0600);
		if (in_fd < 0 || out_fd < 0 || err_fd < 0 ||
		    dup2(in_fd, STDIN_FILENO) == -1 ||
		    dup2(out_fd, STDOUT_FILENO) == -1 ||
		    dup2(err_fd, STDERR_FILENO) == -1)
			_exit(126);
		(void)unsetenv("SHMLAB_FAULT");
		(void)unsetenv("TMUX");
		for (i = 0; env != NULL && env[i] != NULL; i++)
			(void)putenv(env[i]);
		(void)sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGPIPE, SIG_DFL);
		exec_maybe_valgrind(argv);
		dprintf(STDERR_FILENO, "testutil: exec %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	p->pid = pid;
	return 0;
}

/* tu_spawn_io() that fails the test when the program cannot start. */
void
tu_start(struct tu_proc *p, const char *name, char *const argv[],
    char *const env[], int in_fd, int out_fd, int err_fd)
{
	ck_assert_msg(tu_spawn_io(p, name, argv, env, in_fd, out_fd, err_fd) ==
	    0, "starting %s (%s): %s", name, argv[0], strerror(errno));
}

/* tu_spawn_io() with /dev/null in and DIR/name.{out,err}, no extra env. */
int
tu_spawn(struct tu_proc *p, const char *name, char *const argv[])
{
	return tu_spawn_io(p, name, argv, NULL, -1, -1, -1);
}

/*
 * Waits up to ms (scaled) for p to exit.  On timeout kills its whole
 * process group, reaps it and returns -1 with p->timed_out set.
 */
int
tu_wait(struct tu_proc *p, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);
	pid_t r;

	if (p->done)
		return p->timed_out ? -1 : 0;
	for (;;) {
		r = waitpid(p->pid, &p->status, WNOHANG);
		if (r == p->pid)
			break;
		if (r == -1 && errno != EINTR) {
			p->done = 1;
			p->status = -1;
			return -1;
		}
		if (tu_now_ms() >= end) {
			(void)kill(-p->pid, SIGKILL);
			(void)kill(p->pid, SIGKILL);
			while (waitpid(p->pid, &p->status, 0) == -1 &&
			    errno == EINTR)
				;
			p->timed_out = 1;
			break;
		}
		tu_sleep_ms(2);
	}
	p->done = 1;
	p->end_ns = (uint64_t)tu_now_ms() * 1000000;
	return p->timed_out ? -1 : 0;
}

int
tu_run(struct tu_proc *p, const char *name, char *const argv[], int ms)
{
	if (tu_spawn(p, name, argv) == -1)
		return -1;
	return tu_wait(p, ms);
}

/* The exit status, 128 + signal when killed, -1 when unknown. */
int
tu_exit_code(const struct tu_proc *p)
{
	if (!p->done || p->status == -1)
		return -1;
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return -1;
}

const char *
tu_status_str(const struct tu_proc *p, char *buf, size_t len)
{
	if (!p->done)
		(void)snprintf(buf, len, "still running");
	else if (p->timed_out)
		(void)snprintf(buf, len, "timed out (killed)");
	else if (p->status == -1)
		(void)snprintf(buf, len, "status unknown");
	else if (WIFEXITED(p->status))
		(void)snprintf(buf, len, "exit %d", WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		(void)snprintf(buf, len, "killed by signal %d",
		    WTERMSIG(p->status));
	else
		(void)snprintf(buf, len, "status 0x%x", p->status);
	return buf;
}

/* p has not been reaped and has not exited yet. */
int
tu_running(const struct tu_proc *p)
{
	int st;

	return !p->done && waitpid(p->pid, &st, WNOHANG) == 0;
}

/*
 * Nothing of process group pgid is left, zombies included: those that
 * came back to this subreaper are reaped here.  Fails the test after 3 s
 * (scaled).
 */
void
tu_expect_group_gone(pid_t pgid, const char *name)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(3000);

	for (;;) {
		while (waitpid(-pgid, NULL, WNOHANG) > 0)
			;
		if (kill(-pgid, 0) == -1 && errno == ESRCH)
			return;
		ck_assert_msg(tu_now_ms() < end, "%s left processes behind in "
		    "its process group %ld", name, (long)pgid);
		tu_sleep_ms(5);
	}
}

/*
 * Waits up to ms (scaled) for a ready shmlab segment under k, attached
 * read-only into r.  Returns 0, or -1 on timeout.
 */
int
tu_wait_ready(key_t k, int ms, struct shm_ring *r)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);

	memset(r, 0, sizeof(*r));
	while (seg_attach(k, SHM_RDONLY, r) == -1) {
		if (tu_now_ms() >= end)
			return -1;
		tu_sleep_ms(5);
	}
	return 0;
}

/*
 * Waits up to ms (scaled) for pid to be gone: reaped when it is our child
 * (status through *status), else until it no longer exists or is a zombie
 * (*status -1).  Returns 0 when gone, -1 on timeout.
 */
int
tu_wait_pid_gone(pid_t pid, int ms, int *status)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);
	char path[64], *buf, *paren;
	pid_t r;
	int st;

	*status = -1;
	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			*status = st;
			return 0;
		}
		if (r == -1 && errno == ECHILD) {
			if (kill(pid, 0) == -1 && errno == ESRCH)
				return 0;
			(void)snprintf(path, sizeof(path), "/proc/%ld/stat",
			    (long)pid);
			buf = tu_read_file(path, NULL);
			paren = buf != NULL ? strrchr(buf, ')') : NULL;
			if (buf == NULL || (paren != NULL &&
			    (paren[2] == 'Z' || paren[2] == 'X'))) {
				free(buf);
				return 0;
			}
			free(buf);
		}
		if (tu_now_ms() >= end)
			return -1;
		tu_sleep_ms(5);
	}
}

/* --------------------------------------------------------------- files */

/* The whole file, NUL-terminated, in malloc'd memory; NULL on error. */
char *
tu_read_file(const char *path, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf, *nb;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if ((buf = malloc(cap)) == NULL) {
		(void)close(fd);
		return NULL;
	}
	for (;;) {
		if (cap - len < 2) {
			if ((nb = realloc(buf, cap * 2)) == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0) {
				(void)close(fd);
				buf[len] = '\0';
				if (lenp != NULL)
					*lenp = len;
				return buf;
			}
			break;
		}
		len += (size_t)n;
	}
	(void)close(fd);
	free(buf);
	return NULL;
}

/*
 * The absolute path of a built program, rel to the repository root: that
 * is $SHMLAB_ROOT, else the current directory (make check runs there),
 * else the parent of the directory holding this test binary.
 */
const char *
tu_bin(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char root[PATH_MAX], exe[PATH_MAX], *slash, *buf;
	const char *env;
	ssize_t n;
	int i;

	buf = bufs[next++ % 4];
	for (i = 0; i < 3; i++) {
		root[0] = '\0';
		if (i == 0 && (env = getenv("SHMLAB_ROOT")) != NULL &&
		    *env != '\0')
			(void)snprintf(root, sizeof(root), "%s", env);
		else if (i == 1 && getcwd(root, sizeof(root)) == NULL)
			root[0] = '\0';
		else if (i == 2) {
			n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
			if (n <= 0)
				continue;
			exe[n] = '\0';
			/* .../tests/check_x -> ... */
			if ((slash = strrchr(exe, '/')) != NULL)
				*slash = '\0';
			if ((slash = strrchr(exe, '/')) != NULL)
				*slash = '\0';
			(void)snprintf(root, sizeof(root), "%s", exe);
		}
		if (root[0] == '\0')
			continue;
		if (snprintf(buf, PATH_MAX, "%s/%s", root, rel) >= PATH_MAX)
			continue;
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* --------------------------------------------------------- run_demo.sh */

/*
 * run_demo.sh's environment: its temporary directory inside the test's,
 * and the programs the test built, so that it never rebuilds them under
 * the test.  The suite appends what else it wants.
 */
void
tu_demo_env(struct args *env, const char *producer, const char *consumer)
{
	env->n = 0;
	env->v[0] = NULL;
	arg(env, "TMPDIR=%s", tu_dir());
	arg(env, "SHMLAB_PRODUCER=%s", producer);
	arg(env, "SHMLAB_CONSUMER=%s", consumer);
}

/* Ours unless an object under k predates the run (an ftok collision). */
static int
demo_key_ours(key_t k, uint64_t start_s)
{
	struct shmid_ds ds;
	struct semid_ds sds;
	union semun sarg = { .buf = &sds };
	int id;

	if (((id = shmget(k, 0, 0)) != -1 && shmctl(id, IPC_STAT, &ds) == 0 &&
	    (uint64_t)ds.shm_ctime < start_s) ||
	    ((id = semget(k, 0, 0)) != -1 &&
	    semctl(id, 0, IPC_STAT, sarg) == 0 &&
	    (uint64_t)sds.sem_ctime < start_s)) {
		fprintf(stderr, "testutil: key 0x%08x of run_demo.sh is also "
		    "used by an older object: not adopted\n", (unsigned)k);
		return 0;
	}
	return 1;
}

/*
 * Looks into run_demo.sh's temporary directory: pins its key file with a
 * hard link (so that its inode, and so its key, cannot be reused until
 * the test ends) and adopts the key; tracks the daemon's process group
 * once the pidfile names it.  start_s: when the demo started.
 */
void
tu_demo_scan(struct tu_demo *d, uint64_t start_s)
{
	static int holds;
	char path[PATH_MAX], hold[PATH_MAX], name[32], *text;
	struct dirent *de;
	long pid;
	key_t k;
	DIR *dir;

	if ((dir = opendir(tu_dir())) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, "shmlab-demo.", 12) != 0)
			continue;
		(void)snprintf(name, sizeof(name), "demo-key.%d", holds);
		if (d->key_seen == 0 &&
		    snprintf(path, sizeof(path), "%s/%s/key", tu_dir(),
		    de->d_name) < (int)sizeof(path) &&
		    tu_path(hold, sizeof(hold), name) == 0 &&
		    link(path, hold) == 0 &&
		    (k = ftok(hold, SHM_PROJ_ID)) != (key_t)-1) {
			holds++;
			d->key = k;
			d->key_seen = demo_key_ours(k, start_s) &&
			    tu_key_adopt(k) == 0 ? 1 : -1;
		}
		if (d->daemon == 0 &&
		    snprintf(path, sizeof(path), "%s/%s/producer.pid",
		    tu_dir(), de->d_name) < (int)sizeof(path) &&
		    (text = tu_read_file(path, NULL)) != NULL) {
			pid = strtol(text, NULL, 10);
			free(text);
			if (pid > 1) {
				d->daemon = (pid_t)pid;
				tu_track_pgid((pid_t)pid);	/* setsid() */
			}
		}
	}
	(void)closedir(dir);
}

/* The deadline passed: every process group of the demo is killed. */
void
tu_demo_kill(struct tu_demo *d)
{
	(void)kill(-d->sh.pid, SIGKILL);
	if (d->daemon > 0)
		(void)kill(-d->daemon, SIGKILL);
	if (d->cons > 0)
		(void)kill(-d->cons, SIGKILL);
	if (!d->sh.done) {
		(void)waitpid(d->sh.pid, &d->sh.status, 0);
		d->sh.done = d->sh.timed_out = 1;
	}
}

/*
 * run_demo.sh has ended: in time, and its daemon (which came back to this
 * subreaper) is gone too.
 */
void
tu_demo_end(const struct tu_demo *d)
{
	int st;

	ck_assert_msg(!d->sh.timed_out, "run_demo.sh did not finish in time");
	if (d->daemon > 0)
		ck_assert_msg(tu_wait_pid_gone(d->daemon, 10000, &st) == 0,
		    "run_demo.sh's producer (pid %ld) outlived it",
		    (long)d->daemon);
}

/*
 * After a demo: none of its process groups is left, and nothing under
 * its key when the key was adopted.
 */
void
tu_demo_done(const struct tu_demo *d)
{
	tu_expect_group_gone(d->sh.pid, "run_demo.sh");
	if (d->cons > 0)
		tu_expect_group_gone(d->cons, "run_demo.sh's consumers");
	if (d->key_seen == 1)
		ck_assert_msg(tu_ipc_count_key(d->key) == 0, "run_demo.sh "
		    "left objects under its key 0x%08x", (unsigned)d->key);
}

/* ---------------------------------------------------------------- JSON */

/*
 * The reports are read with jansson, whole and strictly: a document that
 * does not parse, or repeats a key, has no members at all, so a test
 * cannot pass on a half-written report.  jansson holds integers as
 * json_int_t (long long): a u64 above 2^63-1 makes the document fail to
 * parse, and the test fails saying the member is missing, never reading
 * a wrong value.
 */
json_t *
tu_json_parse(const char *js)
{
	json_error_t e;

	return js != NULL ? json_loads(js, JSON_REJECT_DUPLICATES, &e) : NULL;
}

/* A top-level member of js (NULL when absent); *root is to json_decref. */
static json_t *
json_member(const char *js, const char *key, json_t **root)
{
	*root = tu_json_parse(js);
	return json_object_get(*root, key);
}

/* 0 and the value when key is a non-negative integer, else -1. */
int
tu_json_u64(const char *js, const char *key, unsigned long long *out)
{
	json_t *root, *v = json_member(js, key, &root);
	int r = -1;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (unsigned long long)json_integer_value(v);
		r = 0;
	}
	json_decref(root);
	return r;
}

int
tu_json_bool(const char *js, const char *key, int *out)
{
	json_t *root, *v = json_member(js, key, &root);
	int r = -1;

	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		r = 0;
	}
	json_decref(root);
	return r;
}

/* 1 when key is null, 0 when it is something else, -1 when absent. */
int
tu_json_null(const char *js, const char *key)
{
	json_t *root, *v = json_member(js, key, &root);
	int r = v == NULL ? -1 : json_is_null(v);

	json_decref(root);
	return r;
}

/*
 * A top-level string member, unescaped into buf.  Returns 0 for a
 * string, 1 for null, -1 when absent, not a string, or longer than buf.
 */
int
tu_json_str(const char *js, const char *key, char *buf, size_t len)
{
	json_t *root, *v = json_member(js, key, &root);
	int r = -1;

	if (json_is_null(v))
		r = 1;
	else if (json_is_string(v) && json_string_length(v) < len &&
	    strlen(json_string_value(v)) == json_string_length(v)) {
		memcpy(buf, json_string_value(v), json_string_length(v) + 1);
		r = 0;
	}
	json_decref(root);
	return r;
}

/* A top-level integer the report must have (fails the test otherwise). */
unsigned long long
tu_jnum(const char *js, const char *name)
{
	unsigned long long v;

	ck_assert_msg(tu_json_u64(js, name, &v) == 0, "no integer %s in the "
	    "report: %.2000s", name, js);
	return v;
}

/* A top-level boolean the report must have (fails the test otherwise). */
int
tu_jbool(const char *js, const char *name)
{
	int b;

	ck_assert_msg(tu_json_bool(js, name, &b) == 0, "no boolean %s in the "
	    "report: %.2000s", name, js);
	return b;
}

/*
 * The report of an unseeded run of count items with one injected dup at
 * seq (SHMLAB_FAULT=dup:SEQ), every position taken: count + 1 produced
 * and consumed, one duplicate, nothing lost or corrupted, the checksum
 * one value of seq over the stream's, not verified, exit_status 1.
 */
void
tu_expect_dup_report(const char *js, unsigned long long count,
    unsigned long long seq)
{
	ck_assert_int_eq(tu_jbool(js, "verified"), 0);
	ck_assert_uint_eq(tu_jnum(js, "exit_status"), 1);
	ck_assert_uint_eq(tu_jnum(js, "produced"), count + 1);
	ck_assert_uint_eq(tu_jnum(js, "consumed"), count + 1);
	ck_assert_uint_eq(tu_jnum(js, "duplicated"), 1);
	ck_assert_uint_eq(tu_jnum(js, "lost"), 0);
	ck_assert_uint_eq(tu_jnum(js, "corrupted"), 0);
	ck_assert_uint_eq(tu_jnum(js, "checksum_total"),
	    expected_checksum(0, count) + (uint32_t)item_value(0, seq));
}

/* The report a program wrote at path (fails the test when there is none). */
char *
tu_read_report(const char *path)
{
	char *js = tu_read_file(path, NULL);

	ck_assert_msg(js != NULL, "no report at %s: %s", path,
	    strerror(errno));
	return js;
}

/*
 * array[i].name, for a top-level array of objects (the report's
 * per_consumer, the monitor's consumers): 0 and *v for a non-negative
 * integer, 1 for null, -1 when absent or of another type.
 */
int
tu_json_elem_u64(const char *js, const char *array, size_t i,
    const char *name, unsigned long long *v)
{
	json_t *root, *a = json_member(js, array, &root), *m;
	int r = -1;

	m = json_object_get(json_array_get(a, i), name);
	if (json_is_null(m))
		r = 1;
	else if (json_is_integer(m) && json_integer_value(m) >= 0) {
		*v = (unsigned long long)json_integer_value(m);
		r = 0;
	}
	json_decref(root);
	return r;
}

/* ------------------------------------------------ the grading contract */

/*
 * The report's contract (issue 3, docs/JSON.md): the keys with their JSON
 * types, what the report says about itself, and a test's expectations.
 * tu_report_check() collects every reason a report breaks it.
 */
enum jkind { JK_INT, JK_NUMBER, JK_STRING, JK_BOOL, JK_ARRAY };

static const struct jkey {
	const char	*name;
	enum jkind	 kind;
	int		 nullable;
} top_keys[] = {
	{ "schema", JK_INT, 0 }, { "mode", JK_STRING, 0 },
	{ "consumers", JK_INT, 0 }, { "maxbuf", JK_INT, 0 },
	{ "count", JK_INT, 0 }, { "seed", JK_INT, 0 },
	{ "produced", JK_INT, 0 }, { "consumed", JK_INT, 0 },
	{ "lost", JK_INT, 0 }, { "duplicated", JK_INT, 0 },
	{ "out_of_order", JK_INT, 0 }, { "corrupted", JK_INT, 0 },
	{ "verified", JK_BOOL, 0 }, { "elapsed_s", JK_NUMBER, 0 },
	{ "items_per_s", JK_NUMBER, 0 }, { "exit_status", JK_INT, 0 },
	{ "per_consumer", JK_ARRAY, 0 },
}, consumer_keys[] = {
	{ "index", JK_INT, 0 }, { "pid", JK_INT, 0 },
	{ "consumed", JK_INT, 0 }, { "first_seq", JK_INT, 1 },
	{ "last_seq", JK_INT, 1 }, { "checksum", JK_INT, 0 },
	{ "exit_status", JK_INT, 1 },
}, optional_keys[] = {
	{ "ledger", JK_BOOL, 0 }, { "unsafe", JK_BOOL, 0 },
	{ "interrupted", JK_BOOL, 0 }, { "checksum_expected", JK_INT, 0 },
	{ "checksum_total", JK_INT, 0 }, { "fault", JK_STRING, 1 },
	{ "error", JK_STRING, 1 },
};

#define NKEYS(a)	(sizeof(a) / sizeof((a)[0]))

/* Appends one reason, a line, to why (what does not fit is cut). */
static void __attribute__((format(printf, 2, 3)))
why_add(char *why, const char *fmt, ...)
{
	size_t used = strlen(why);
	va_list ap;

	if (used + 1 >= TU_WHY_MAX)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why + used, TU_WHY_MAX - used, fmt, ap);
	va_end(ap);
	used = strlen(why);
	if (used + 1 < TU_WHY_MAX) {
		why[used] = '\n';
		why[used + 1] = '\0';
	}
}

/* v has the kind; numbers are not negative (every count is a count). */
static int
kind_ok(const json_t *v, const struct jkey *k)
{
	if (k->nullable && json_is_null(v))
		return 1;
	switch (k->kind) {
	case JK_INT:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case JK_NUMBER:
		return json_is_number(v) && json_number_value(v) >= 0;
	case JK_STRING:
		return json_is_string(v);
	case JK_BOOL:
		return json_is_boolean(v);
	case JK_ARRAY:
		return json_is_array(v);
	}
	return 0;
}

/* Every key of keys[] in o (or, optional, absent) with its kind. */
static int
keys_ok(const json_t *o, const struct jkey *keys, size_t n, int optional,
    const char *where, char *why)
{
	const json_t *v;
	size_t i;
	int ok = 1;

	for (i = 0; i < n; i++) {
		v = json_object_get(o, keys[i].name);
		if (v == NULL && optional)
			continue;
		if (v == NULL)
			why_add(why, "%smissing key %s", where, keys[i].name);
		else if (!kind_ok(v, &keys[i]))
			why_add(why, "%s%s has the wrong type or is negative",
			    where, keys[i].name);
		else
			continue;
		ok = 0;
	}
	return ok;
}

static int
types_ok(const json_t *o, char *why)
{
	const json_t *c, *mode = json_object_get(o, "mode");
	char where[48];
	size_t i;
	int ok;

	ok = keys_ok(o, top_keys, NKEYS(top_keys), 0, "", why);
	ok &= keys_ok(o, optional_keys, NKEYS(optional_keys), 1, "", why);
	if (!ok)
		return 0;
	if (strcmp(json_string_value(mode), "queue") != 0 &&
	    strcmp(json_string_value(mode), "broadcast") != 0) {
		why_add(why, "mode is \"%s\", want queue or broadcast",
		    json_string_value(mode));
		ok = 0;
	}
	json_array_foreach(json_object_get(o, "per_consumer"), i, c) {
		(void)snprintf(where, sizeof(where), "per_consumer[%zu]: ", i);
		if (!json_is_object(c)) {
			why_add(why, "%snot an object", where);
			ok = 0;
		} else
			ok &= keys_ok(c, consumer_keys, NKEYS(consumer_keys),
			    0, where, why);
	}
	return ok;
}

#define JU(o, k)	((unsigned long long)json_integer_value(	\
			    json_object_get((o), (k))))

/* What the report says about itself; types_ok() has passed. */
static void
consistent(const json_t *o, char *why)
{
	const json_t *pcs = json_object_get(o, "per_consumer"), *c;
	unsigned long long sum = 0, sums = 0, n = json_array_size(pcs);
	int verified = json_is_true(json_object_get(o, "verified"));
	size_t i;

	if (JU(o, "consumers") != n)
		why_add(why, "consumers is %llu but per_consumer has %llu "
		    "entries", JU(o, "consumers"), n);
	json_array_foreach(pcs, i, c) {
		/* A dead consumer's unreported items count as consumed. */
		sum += JU(c, "consumed") + JU(c, "unreported");
		sums += JU(c, "checksum");
		if (JU(c, "index") != i)
			why_add(why, "per_consumer[%zu].index is %llu", i,
			    JU(c, "index"));
		if (json_is_null(json_object_get(c, "first_seq")) !=
		    (JU(c, "consumed") == 0) ||
		    json_is_null(json_object_get(c, "last_seq")) !=
		    (JU(c, "consumed") == 0))
			why_add(why, "per_consumer[%zu]: first_seq/last_seq "
			    "must be null exactly when consumed is 0", i);
	}
	if (sum != JU(o, "consumed"))
		why_add(why, "per_consumer consumed (+ unreported) adds up to "
		    "%llu, consumed is %llu", sum, JU(o, "consumed"));
	if (json_object_get(o, "checksum_total") != NULL &&
	    sums != JU(o, "checksum_total"))
		why_add(why, "per_consumer checksums add up to %llu, "
		    "checksum_total is %llu", sums, JU(o, "checksum_total"));
	if ((JU(o, "exit_status") == 0) != verified)
		why_add(why, "exit_status is %llu but verified is %s",
		    JU(o, "exit_status"), verified ? "true" : "false");
	if (JU(o, "exit_status") > 3)
		why_add(why, "exit_status %llu is outside the contract (0..3)",
		    JU(o, "exit_status"));
}

/* A verified run: no damage, every item delivered as the mode says. */
static void
verified_ok(const json_t *o, char *why)
{
	static const char *const damage[] = {
		"lost", "duplicated", "out_of_order", "corrupted",
	};
	const json_t *pcs = json_object_get(o, "per_consumer"), *c, *sum;
	int bcast = strcmp(json_string_value(json_object_get(o, "mode")),
	    "broadcast") == 0;
	unsigned long long count = JU(o, "count");
	unsigned long long per = bcast ? json_array_size(pcs) : 1;
	size_t i;

	for (i = 0; i < NKEYS(damage); i++)
		if (JU(o, damage[i]) != 0)
			why_add(why, "verified, yet %s is %llu", damage[i],
			    JU(o, damage[i]));
	if (JU(o, "produced") != count)
		why_add(why, "verified, yet produced %llu of %llu",
		    JU(o, "produced"), count);
	if (JU(o, "consumed") != count * per)
		why_add(why, "verified run, yet consumed %llu, want %llu",
		    JU(o, "consumed"), count * per);
	if (json_array_size(pcs) == 0)
		why_add(why, "verified without a consumer");
	sum = json_object_get(o, "checksum_expected");
	json_array_foreach(pcs, i, c) {
		if (bcast && JU(c, "consumed") != count)
			why_add(why, "verified broadcast run, yet consumer %zu "
			    "took %llu of %llu", i, JU(c, "consumed"), count);
		if (JU(c, "consumed") > 0 && !(JU(c, "first_seq") <=
		    JU(c, "last_seq") && JU(c, "last_seq") < count))
			why_add(why, "verified, yet consumer %zu has first_seq "
			    "%llu, last_seq %llu", i, JU(c, "first_seq"),
			    JU(c, "last_seq"));
		if (bcast && sum != NULL && JU(c, "checksum") !=
		    (unsigned long long)json_integer_value(sum))
			why_add(why, "verified broadcast run, yet consumer %zu "
			    "has checksum %llu", i, JU(c, "checksum"));
	}
	if (!json_is_null(json_object_get(o, "error")) &&
	    json_object_get(o, "error") != NULL)
		why_add(why, "verified, yet error is set");
	if (json_is_true(json_object_get(o, "interrupted")))
		why_add(why, "verified, yet interrupted is set");
}

/* Numbers by value (3 is 3.0), anything else by type and value. */
static int
same(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	return json_equal(a, b);
}

/*
 * One expectation, KEY=VALUE: VALUE is read as JSON when it parses
 * (true, 2, null, "x"), else taken as a string (queue, drop:500).
 */
static void
expect_ok(const json_t *o, const char *kv, char *why)
{
	const char *eq = strchr(kv, '=');
	char key[64];
	json_t *want, *got;
	json_error_t e;

	if (eq == NULL || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
		why_add(why, "bad expectation \"%s\": want KEY=VALUE", kv);
		return;
	}
	(void)snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	if ((want = json_loads(eq + 1, JSON_DECODE_ANY, &e)) == NULL)
		want = json_string(eq + 1);
	got = json_object_get(o, key);
	if (got == NULL)
		why_add(why, "expected %s, but there is no %s", kv, key);
	else if (!same(got, want))
		why_add(why, "expected %s, the report says otherwise", kv);
	json_decref(want);
}

/*
 * Checks one report, the whole text, against the grading contract and
 * the expectations (KEY=VALUE strings up to a NULL; expect may be NULL).
 * Returns 0 when it holds; else 1, with every reason, one a line, in why
 * (TU_WHY_MAX bytes).
 */
int
tu_report_check(const char *text, const char *const expect[], char *why)
{
	json_error_t e;
	json_t *o;
	size_t i;

	why[0] = '\0';
	if ((o = json_loads(text, JSON_REJECT_DUPLICATES, &e)) == NULL) {
		why_add(why, "not one valid JSON value: %s (line %d, column "
		    "%d)", e.text, e.line, e.column);
		return 1;
	}
	if (!json_is_object(o))
		why_add(why, "the report is not a JSON object");
	else if (types_ok(o, why)) {
		consistent(o, why);
		if (json_is_true(json_object_get(o, "verified")))
			verified_ok(o, why);
	}
	for (i = 0; json_is_object(o) && expect != NULL &&
	    expect[i] != NULL; i++)
		expect_ok(o, expect[i], why);
	json_decref(o);
	return why[0] != '\0';
}

/* ------------------------------------------------- what a process said */

/* p's stdout and stderr, never NULL: "" when there is no such file. */
char *
tu_out_text(const struct tu_proc *p)
{
	char *s = tu_read_file(p->out, NULL);

	return s != NULL ? s : strdup("");
}

char *
tu_err_text(const struct tu_proc *p)
{
	char *s = tu_read_file(p->err, NULL);

	return s != NULL ? s : strdup("");
}

/*
 * p ended by itself with exit status want; otherwise the test fails with
 * how it ended and what it wrote on stderr and stdout.
 */
void
tu_expect_exit(const struct tu_proc *p, const char *name, int want)
{
	char how[64], *err, *out;

	if (p->done && !p->timed_out && tu_exit_code(p) == want)
		return;
	err = tu_err_text(p);
	out = tu_out_text(p);
	ck_abort_msg("%s: %s, want exit %d; stderr: %.1500s; stdout: %.1500s",
	    name, tu_status_str(p, how, sizeof(how)), want, err, out);
}

/* ------------------------------------------------------ appended helpers */

/*
 * Registers a key that a program under test derived itself (run_demo.sh
 * makes its own key file), so that teardown and the guardian remove the
 * objects under it and run_tests.sh checks it for leaks.  Returns 0, or
 * -1 with errno ENOSPC when the test already has TU_MAX_KEYS keys.
 */
int
tu_key_adopt(key_t key)
{
	int i;

	for (i = 0; i < reg->nkey; i++)
		if (reg->key[i] == key)
			return 0;
	if (reg->nkey >= TU_MAX_KEYS) {
		errno = ENOSPC;
		return -1;
	}
	reg->key[reg->nkey] = key;
	__atomic_store_n(&reg->nkey, reg->nkey + 1, __ATOMIC_RELEASE);
	log_key(key);
	return 0;
}

/* The older name of tu_key_adopt(), which some suites still call. */
int
tu_track_key(key_t key)
{
	return tu_key_adopt(key);
}

void
arg(struct args *a, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	ck_assert_int_lt(a->n, TU_MAX_ARGS);
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(r, 0);
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

/* Appends each string argument up to the NULL that ends the list. */
void
args_add(struct args *a, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL)
		arg(a, "%s", s);
	va_end(ap);
}

/* Appends each space-separated word of words ("-n 2 -c 60"). */
void
args_words(struct args *a, const char *words)
{
	char *copy = strdup(words), *tok, *save;

	ck_assert_ptr_nonnull(copy);
	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save))
		arg(a, "%s", tok);
	free(copy);
}

/* argv[0] and the key every program takes: BIN -k PATH -p PROJ. */
void
args_prog(struct args *a, const char *bin, const struct tu_key *k)
{
	a->n = 0;
	args_add(a, bin, "-k", k->path, "-p", k->proj_arg, NULL);
}

void
args_free(struct args *a)
{
	while (a->n > 0)
		free(a->v[--a->n]);
	a->v[0] = NULL;
}
