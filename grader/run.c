/*
 * run.c - the grader's hands: fresh keys, starting programs under limits
 * in their own process groups, watching them, telling from /proc why one
 * is stuck, and removing everything a case left.
 *
 * Every process the grader starts leads its own group, so a student's
 * program that forks is killed whole; the grader signals only those
 * groups, by the pids fork() gave it.  It removes only objects under the
 * case's key, which it derived from a key file it made a moment before.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grader.h"
#include "i18n.h"
#include "semun.h"
#include "slides.h"

#define G_TICK_MS	5	/* how often a case is looked at */

uint64_t
g_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
g_sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL);
}

const char *
g_signame(int sig)
{
	static char buf[32];
	const char *s = sigabbrev_np(sig);

	if (s == NULL) {
		(void)snprintf(buf, sizeof(buf), "signal %d", sig);
		return buf;
	}
	(void)snprintf(buf, sizeof(buf), "SIG%s", s);
	return buf;
}

/*
 * A failure's message is built twice: in English (loc 0) for the JSON
 * outputs, whose text is a contract, and translated (loc 1) for the table.
 */
const char *
g_tr(int loc, const char *msgid)
{
	return loc ? gettext(msgid) : msgid;
}

/* CMD is split on spaces, with no shell: what a student types. */
int
g_cmd_split(struct g_cmd *c, const char *s, int student)
{
	char *copy, *w, *save = NULL;

	memset(c, 0, sizeof(*c));
	c->student = student;
	if ((copy = strdup(s)) == NULL)
		return -1;
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		if (c->argc == G_MAX_ARGS) {
			free(copy);
			errno = E2BIG;
			return -1;
		}
		if ((c->argv[c->argc++] = strdup(w)) == NULL)
			return -1;
		if (strchr(w, '{') != NULL)
			c->placeholders = 1;
	}
	free(copy);
	if (c->argc == 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

void
g_cmd_free(struct g_cmd *c)
{
	while (c->argc > 0)
		free(c->argv[--c->argc]);
}

/*
 * A fresh key file, and a proj_id whose key holds nothing yet: whatever
 * appears under it from now on is this case's.
 */
struct g_case *
g_case_begin(struct grader *g, int count, int maxbuf, enum g_hold hold)
{
	struct g_case *c = g->cur;
	int fd;

	if (c->active)
		g_case_end(c);
	memset(c, 0, sizeof(*c));
	c->active = 1;
	c->g = g;
	c->count = count;
	c->maxbuf = maxbuf;
	c->hold = hold;
	c->semid_seen = -1;
	(void)snprintf(c->keyfile, sizeof(c->keyfile), "%s/key-%d", g->dir,
	    ++g->ncase);
	fd = open(c->keyfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || close(fd) == -1)
		return NULL;
	for (c->proj = 1; c->proj <= 255; c->proj++) {
		if ((c->key = ftok(c->keyfile, c->proj)) == (key_t)-1)
			return NULL;
		if (shmget(c->key, 0, 0) == -1 && errno == ENOENT &&
		    semget(c->key, 0, 0) == -1 && errno == ENOENT)
			return c;
	}
	c->proj = 0;
	errno = EEXIST;
	return NULL;
}

/* One word of a command with the case's values filled in. */
static char *
g_fill(const struct g_case *c, const char *w, int delay_ms)
{
	static const char *names[] = { "{keyfile}", "{proj}", "{count}",
	    "{maxbuf}", "{timeout}", "{delay}" };
	char vals[6][PATH_MAX], out[2 * PATH_MAX];
	const char *p = w;
	size_t o = 0, i, n;

	(void)snprintf(vals[0], PATH_MAX, "%s", c->keyfile);
	(void)snprintf(vals[1], PATH_MAX, "%d", c->proj);
	(void)snprintf(vals[2], PATH_MAX, "%d", c->count);
	(void)snprintf(vals[3], PATH_MAX, "%d", c->maxbuf);
	(void)snprintf(vals[4], PATH_MAX, "%d", c->g->timeout_s + 5);
	(void)snprintf(vals[5], PATH_MAX, "%d", delay_ms);
	while (*p != '\0' && o + 1 < sizeof(out)) {
		for (i = 0; i < 6; i++) {
			n = strlen(names[i]);
			if (strncmp(p, names[i], n) == 0)
				break;
		}
		if (i < 6) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s",
			    vals[i]);
			if (o >= sizeof(out))
				o = sizeof(out) - 1;
			p += n;
		} else
			out[o++] = *p++;
	}
	out[o] = '\0';
	return strdup(out);
}

/*
 * A test hook: SHMLAB_GRADE_EXEC_DELAY_MS=N makes each child wait N ms
 * between fork and exec, as a loaded machine may; until it execs, the
 * child still maps the segment the grader holds (fork copies the
 * attachment), and nothing the grader says may depend on that.
 */
static int
g_exec_delay_ms(void)
{
	const char *s = getenv("SHMLAB_GRADE_EXEC_DELAY_MS");

	return s == NULL ? 0 : (int)strtonum(s, 0, 10000, NULL);
}

/*
 * In the child: limits, a group of its own, files for stdout/stderr.
 * execfd (close-on-exec) stays open until the exec: its end tells the
 * parent that the inherited attachment is gone (g_start).
 */
static void __attribute__((noreturn))
g_exec(const struct g_case *c, const struct g_cmd *cmd, char **argv,
    const struct g_proc *p, int execfd, pid_t grader)
{
	struct rlimit rl;
	int fd, delay;

	(void)setpgid(0, 0);
	/*
	 * If the grader dies (SIGKILL from a test harness, a crash), what it
	 * started dies with it: a student's program blocked in a semop
	 * without a timeout would otherwise wait forever, an orphan no one
	 * kills.  The grader may already be gone before prctl.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != grader)
		_exit(126);
	(void)signal(SIGPIPE, SIG_DFL);
	if (cmd->student) {
		rl.rlim_cur = (rlim_t)c->g->timeout_s + 2;
		rl.rlim_max = rl.rlim_cur + 1;
		(void)setrlimit(RLIMIT_CPU, &rl);
		if (c->g->memory_mb > 0) {
			rl.rlim_cur = rl.rlim_max =
			    (rlim_t)c->g->memory_mb * 1024 * 1024;
			(void)setrlimit(RLIMIT_AS, &rl);
		}
		rl.rlim_cur = rl.rlim_max = 0;
		(void)setrlimit(RLIMIT_CORE, &rl);
	}
	if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(fd, STDIN_FILENO) == -1)
		_exit(126);
	if ((fd = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    dup2(fd, STDOUT_FILENO) == -1)
		_exit(126);
	if ((fd = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		_exit(126);
	if (execfd != STDERR_FILENO + 1) {
		if (dup2(execfd, STDERR_FILENO + 1) == -1)
			_exit(126);
		execfd = STDERR_FILENO + 1;
	}
	if (fcntl(execfd, F_SETFD, FD_CLOEXEC) == -1)
		_exit(126);
	(void)closefrom(execfd + 1);
	if ((delay = g_exec_delay_ms()) > 0)
		g_sleep_ms(delay);
	execvp(argv[0], argv);
	fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/*
 * Until the child has exec'd (or died), its pipe end is open.  A child
 * between fork and exec maps the segment the grader holds, and would
 * count as attached to the run (g_all_attached): the grader would let
 * go while that consumer has not attached yet, and the producer could
 * remove the run before it did.  Bounded by the case's -t; a harness
 * signal (*stop) ends the wait too.
 */
static void
g_exec_wait(const struct g_case *c, int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	uint64_t deadline = g_now_ms() + (uint64_t)c->g->timeout_s * 1000;
	char b;
	int r;

	for (;;) {
		r = poll(&pfd, 1, G_TICK_MS * 20);
		if (r == 1 && read(fd, &b, 1) != -1)
			return;		/* EOF: exec'd or gone */
		if (r == -1 && errno != EINTR)
			return;
		if (*c->g->stop || g_now_ms() >= deadline)
			return;
	}
}

/* Starts one side's program; NULL only when the harness itself failed. */
struct g_proc *
g_start(struct g_case *c, enum g_side side, int index, int delay_ms)
{
	const struct g_cmd *cmd = &c->g->cmd[side];
	char *argv[G_MAX_ARGS + 5], num[4][32];
	struct g_proc *p;
	pid_t grader;
	int n = 0, i, execp[2];

	if (c->nproc == G_MAX_PROCS) {
		errno = ENOSPC;
		return NULL;
	}
	p = &c->proc[c->nproc];
	memset(p, 0, sizeof(*p));
	p->side = side;
	p->index = index;
	(void)snprintf(p->out, sizeof(p->out), "%s/out-%d-%d", c->g->dir,
	    c->g->ncase, c->nproc);
	(void)snprintf(p->err, sizeof(p->err), "%s/err-%d-%d", c->g->dir,
	    c->g->ncase, c->nproc);
	for (i = 0; i < cmd->argc; i++)
		if ((argv[n++] = g_fill(c, cmd->argv[i], delay_ms)) == NULL)
			return NULL;
	if (!cmd->placeholders) {
		/* producer KEYFILE PROJ_ID COUNT MAXBUF; consumer KEYFILE PROJ_ID */
		(void)snprintf(num[0], sizeof(num[0]), "%d", c->proj);
		(void)snprintf(num[1], sizeof(num[1]), "%d", c->count);
		(void)snprintf(num[2], sizeof(num[2]), "%d", c->maxbuf);
		argv[n++] = strdup(c->keyfile);
		argv[n++] = strdup(num[0]);
		if (side == G_PRODUCER) {
			argv[n++] = strdup(num[1]);
			argv[n++] = strdup(num[2]);
		}
	}
	argv[n] = NULL;
	for (i = 0; i < n; i++)
		if (argv[i] == NULL)
			return NULL;
	(void)fflush(NULL);
	if (pipe2(execp, O_CLOEXEC) == -1) {
		for (i = 0; i < n; i++)
			free(argv[i]);
		return NULL;
	}
	p->start_ns = g_now_ms();
	grader = getpid();
	p->pid = fork();
	if (p->pid == 0) {
		(void)close(execp[0]);
		g_exec(c, cmd, argv, p, execp[1], grader);
	}
	for (i = 0; i < n; i++)
		free(argv[i]);
	(void)close(execp[1]);
	if (p->pid == -1) {
		(void)close(execp[0]);
		return NULL;
	}
	/* Both sides set it: whichever runs first, the group exists. */
	(void)setpgid(p->pid, p->pid);
	c->nproc++;
	g_exec_wait(c, execp[0]);
	(void)close(execp[0]);
	return p;
}

static void
g_reap(struct g_case *c)
{
	struct g_proc *p;
	int i;

	for (i = 0; i < c->nproc; i++) {
		p = &c->proc[i];
		if (!p->done && wait4(p->pid, &p->status, WNOHANG, &p->ru) ==
		    p->pid) {
			p->done = 1;
			p->end_ns = g_now_ms();
		}
	}
}

static int
g_consumers_left(const struct g_case *c, int *alive)
{
	int i, n = 0, live = 0;

	for (i = 0; i < c->nproc; i++) {
		if (c->proc[i].side != G_CONSUMER)
			continue;
		n++;
		if (!c->proc[i].done)
			live++;
	}
	if (alive != NULL)
		*alive = live;
	return n;
}

/*
 * Has a process of group pgid mapped the segment of key?  The kernel names
 * a System V mapping /SYSV<key> in /proc/PID/maps.  Counting shm_nattch
 * is not enough: a consumer that forks children attaches more than once,
 * so a later consumer that has not attached yet would go unnoticed.
 */
static int
g_group_attached(pid_t pgid, key_t key)
{
	char path[300], line[512], name[32], *rp;
	DIR *d;
	FILE *fp;
	struct dirent *de;
	long pg;
	int found = 0;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	(void)snprintf(name, sizeof(name), "/SYSV%08x", (unsigned)key);
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		pg = -1;
		/* pid (comm) state ppid pgrp: comm may hold spaces. */
		if (fgets(line, sizeof(line), fp) != NULL &&
		    (rp = strrchr(line, ')')) != NULL &&
		    sscanf(rp + 1, " %*c %*d %ld", &pg) != 1)
			pg = -1;
		(void)fclose(fp);
		if (pg != (long)pgid)
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/maps", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		while (!found && fgets(line, sizeof(line), fp) != NULL)
			found = strstr(line, name) != NULL;
		(void)fclose(fp);
	}
	(void)closedir(d);
	return found;
}

/* HOLD_ATTACHED: has every consumer attached (or already ended)? */
static int
g_all_attached(struct g_case *c)
{
	struct g_proc *p;
	int i, all = 1;

	for (i = 0; i < c->nproc; i++) {
		p = &c->proc[i];
		if (p->side != G_CONSUMER || p->done || p->attached)
			continue;
		if (g_group_attached(p->pid, c->key))
			p->attached = 1;
		else
			all = 0;
	}
	return all;
}

/* HOLD_TO_END: is the marker still there for the next consumer? */
static void
g_check_marker(struct g_case *c, const struct shmid_ds *ds)
{
	const volatile int *seg = c->held;
	uint32_t maxbuf;
	int out, full;

	if (slides_maxbuf(ds->shm_segsz, &maxbuf) == -1)
		return;
	out = seg[maxbuf + 1];
	full = c->semid_seen == -1 ? -1 : semctl(c->semid_seen, SL_FULL,
	    GETVAL);
	c->marker_left = out >= 0 && (uint32_t)out < maxbuf &&
	    seg[out] == SL_END && full >= 1;
}

/* Stays attached while a short run could otherwise end under a consumer. */
static void
g_hold(struct g_case *c)
{
	struct shmid_ds ds;
	int id, alive, n;

	if (c->hold == HOLD_NONE || c->released)
		return;
	id = shmget(c->key, 0, 0);
	if (c->held == NULL) {
		if (id == -1 || (c->held = shmat(id, NULL, SHM_RDONLY)) ==
		    (void *)-1) {
			c->held = NULL;
			return;
		}
		c->held_id = id;
	}
	n = g_consumers_left(c, &alive);
	if (id == -1 || shmctl(id, IPC_STAT, &ds) == -1)
		ds.shm_nattch = 0;
	if (c->hold == HOLD_ATTACHED) {
		if (n < c->expect || !g_all_attached(c))
			return;
	} else {
		if (n < c->expect || alive > 0)
			return;
		g_check_marker(c, &ds);
	}
	(void)shmdt(c->held);
	c->held = NULL;
	c->released = 1;
}

/* Highest semaphore values seen: a producer that skips P(empty) shows. */
static void
g_sample(struct g_case *c)
{
	int id = semget(c->key, 0, 0), v;

	if (id == -1)
		return;
	c->semid_seen = id;
	if ((v = semctl(id, SL_FULL, GETVAL)) > c->full_max)
		c->full_max = v;
	if ((v = semctl(id, SL_EMPTY, GETVAL)) > c->empty_max)
		c->empty_max = v;
}

/*
 * Polls for the segment without sleeping, until we hold it, the producer
 * is gone, or deadline: for runs that could end within microseconds.
 */
void
g_grab(struct g_case *c, uint64_t deadline)
{
	while (c->held == NULL && !c->released && g_now_ms() < deadline) {
		g_hold(c);
		if (c->held == NULL && c->nproc > 0 &&
		    kill(c->proc[c->nproc - 1].pid, 0) == -1)
			break;
	}
}

/*
 * After the producer starts and before any consumer does: waits, napping,
 * until we hold the segment, the producer has ended, or deadline.  Held
 * from the start, the run cannot end (nattch drops to one) before every
 * consumer has started, however the machine schedules us: a consumer
 * that starts after the producer removed everything would wait for a
 * segment that never comes, and be blamed for it.
 */
void
g_hold_first(struct g_case *c, uint64_t deadline)
{
	if (c->hold == HOLD_NONE || c->nproc == 0)
		return;
	for (;;) {
		g_tick(c);
		if (c->held != NULL || c->released ||
		    c->proc[c->nproc - 1].done || g_now_ms() >= deadline)
			return;
		g_sleep_ms(1);
	}
}

void
g_tick(struct g_case *c)
{
	g_reap(c);
	g_sample(c);
	g_hold(c);
}

/*
 * Waits until every process of the case (of side, or both with -1) has
 * exited, or until deadline (g_now_ms()); -1 at the deadline, with each
 * straggler's diagnosis in its diag.
 */
int
g_wait(struct g_case *c, int side, uint64_t deadline)
{
	int i, left;

	for (;;) {
		g_tick(c);
		for (i = left = 0; i < c->nproc; i++)
			if (!c->proc[i].done && (side == -1 ||
			    (int)c->proc[i].side == side))
				left++;
		if (left == 0)
			return 0;
		if (g_now_ms() >= deadline || *c->g->stop)
			break;
		g_sleep_ms(G_TICK_MS);
	}
	c->timed_out = 1;
	for (i = 0; i < c->nproc; i++)
		if (!c->proc[i].done && (side == -1 ||
		    (int)c->proc[i].side == side))
			g_diagnose(c, &c->proc[i]);
	return -1;
}

int
g_group_signal(const struct g_case *c, enum g_side side, int sig)
{
	int i, r = 0;

	for (i = 0; i < c->nproc; i++)
		if (c->proc[i].side == side && !c->proc[i].done &&
		    kill(-c->proc[i].pid, sig) == -1 && errno != ESRCH)
			r = -1;
	return r;
}

/* The fields of /proc/PID/stat after the command name. */
static int
g_stat(pid_t pid, char *state, pid_t *pgrp, double *cpu)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	int ppid, pg;
	FILE *fp;
	size_t n;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	(void)fclose(fp);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    state, &ppid, &pg, &ut, &st) != 5)
		return -1;
	*pgrp = pg;
	*cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

/* Calls fn for every live process of the group led by pgid. */
static int
g_members(pid_t pgid, pid_t *out, int max)
{
	struct dirent *de;
	DIR *d;
	pid_t pid, pg;
	double cpu;
	char st;
	int n = 0;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (pid <= 0)
			continue;
		if (g_stat(pid, &st, &pg, &cpu) == 0 && pg == pgid && st != 'Z')
			out[n++] = pid;
	}
	(void)closedir(d);
	return n;
}

/*
 * Seconds pid's threads have been runnable -- on a CPU, or ready and
 * waiting for one -- since they started: the first two fields (ns) of
 * /proc/PID/task/TID/schedstat.  -1 when the kernel keeps no such
 * figures (no CONFIG_SCHED_INFO) or pid is gone.
 */
static double
g_runnable(pid_t pid)
{
	char path[96];
	unsigned long long run, delay;
	struct dirent *de;
	double sum = 0;
	DIR *d;
	FILE *fp;
	int got = 0;

	(void)snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%ld/task/%.20s/schedstat",
		    (long)pid, de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fscanf(fp, "%llu %llu", &run, &delay) == 2) {
			sum += (double)(run + delay) / 1e9;
			got = 1;
		}
		(void)fclose(fp);
	}
	(void)closedir(d);
	return got ? sum : -1;
}

/*
 * CPU seconds used so far by the live processes of one side; into
 * *runnable, the seconds they have been runnable (g_runnable), or -1 if
 * that is not known for one of them.
 */
double
g_group_cpu(const struct g_case *c, enum g_side side, double *runnable)
{
	pid_t m[64], pg;
	double sum = 0, cpu, run;
	char st;
	int i, j, n;

	*runnable = 0;
	for (i = 0; i < c->nproc; i++) {
		if (c->proc[i].side != side || c->proc[i].done)
			continue;
		n = g_members(c->proc[i].pid, m, 64);
		for (j = 0; j < n; j++) {
			if (g_stat(m[j], &st, &pg, &cpu) == 0)
				sum += cpu;
			if ((run = g_runnable(m[j])) < 0)
				*runnable = -1;
			else if (*runnable >= 0)
				*runnable += run;
		}
	}
	return sum;
}

/* Processes waiting on one semaphore of the case's set (GETNCNT). */
int
g_waiting_on(const struct g_case *c, int sem)
{
	int id = semget(c->key, 0, 0);

	return id == -1 ? -1 : semctl(id, sem, GETNCNT);
}

static const char *
g_semname(int n)
{
	static const char *names[SL_NSEMS] = { "mutex", "empty", "full" };

	return n >= 0 && n < SL_NSEMS ? names[n] : "?";
}

/*
 * From /proc/PID/syscall: which call the process sleeps in.  For semop
 * the semaphore comes from its struct sembuf, read from /proc/PID/mem
 * (the grader is its parent), then its value from semctl(GETVAL).
 */
static int
g_why(pid_t pid, char buf[2][256])
{
	const size_t len = sizeof(buf[0]);
	char path[64], line[512];
	unsigned long long a[6];
	struct sembuf sb;
	long nr;
	FILE *fp;
	int fd, v, got, l;

	(void)snprintf(path, sizeof(path), "/proc/%ld/syscall", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	got = fgets(line, sizeof(line), fp) != NULL;
	(void)fclose(fp);
	if (!got)
		return -1;
	if (strncmp(line, "running", 7) == 0)
		return -1;
	if (sscanf(line, "%ld %llx %llx %llx %llx %llx %llx", &nr, &a[0],
	    &a[1], &a[2], &a[3], &a[4], &a[5]) < 4)
		return -1;
	if (nr == SYS_semop || nr == SYS_semtimedop) {
		(void)snprintf(path, sizeof(path), "/proc/%ld/mem", (long)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		got = fd != -1 && pread(fd, &sb, sizeof(sb), (off_t)a[1]) ==
		    (ssize_t)sizeof(sb);
		if (fd != -1)
			(void)close(fd);
		v = got ? semctl((int)a[0], sb.sem_num, GETVAL) : 0;
		for (l = 0; l < 2; l++)
			if (!got)
				(void)snprintf(buf[l], len, g_tr(l, N_("blocked "
				    "in semop on sem id %d")), (int)a[0]);
			else
				(void)snprintf(buf[l], len, g_tr(l, N_("blocked "
				    "in semop on semaphore %u (%s) of sem id %d, "
				    "whose value is %d")), sb.sem_num,
				    g_semname(sb.sem_num), (int)a[0], v);
		return 0;
	}
	for (l = 0; l < 2; l++)
		if (nr == SYS_nanosleep || nr == SYS_clock_nanosleep)
			(void)snprintf(buf[l], len, "%s",
			    g_tr(l, N_("sleeping (nanosleep)")));
		else if (nr == SYS_read)
			(void)snprintf(buf[l], len, g_tr(l, N_("blocked reading "
			    "fd %d (waiting for input? stdin is /dev/null)")),
			    (int)a[0]);
		else if (nr == SYS_wait4)
			(void)snprintf(buf[l], len, "%s",
			    g_tr(l, N_("waiting for a child (wait)")));
		else if (nr == SYS_pause)
			(void)snprintf(buf[l], len, "%s",
			    g_tr(l, N_("in pause()")));
		else
			(void)snprintf(buf[l], len, g_tr(l, N_("blocked in "
			    "system call %ld")), nr);
	return 0;
}

/* Why p was still running at the bound, in words, into p->diag. */
void
g_diagnose(struct g_case *c, struct g_proc *p)
{
	pid_t m[64], pg;
	double cpu, sum = 0;
	char st, why[2][256] = { "", "" }, first[2][256] = { "", "" };
	char *d[2] = { p->diag, p->diag_l };
	int i, n, l, busy = 0;

	n = g_members(p->pid, m, 64);
	for (i = 0; i < n; i++) {
		if (g_stat(m[i], &st, &pg, &cpu) == 0)
			sum += cpu;
		if (st == 'R')
			busy = 1;
		else if (g_why(m[i], why) == 0 && (first[0][0] == '\0' ||
		    strncmp(why[0], "blocked in semop", 16) == 0))
			(void)memcpy(first, why, sizeof(first));
	}
	for (l = 0; l < 2; l++)
		if (busy)
			(void)snprintf(d[l], sizeof(p->diag), g_tr(l, N_("still "
			    "running, %.1f CPU seconds used (a busy loop?)")),
			    sum);
		else if (first[0][0] == '\0')
			(void)snprintf(d[l], sizeof(p->diag), g_tr(l, N_("%s, "
			    "%.1f CPU seconds used")), n == 0 ?
			    g_tr(l, N_("gone, its group empty")) : st == 'T' ?
			    g_tr(l, N_("stopped")) : g_tr(l, N_("asleep")), sum);
		else
			(void)snprintf(d[l], sizeof(p->diag), "%s", first[l]);
	(void)c;
}

/*
 * Kills what is still running (SIGKILL to the groups we started), lets
 * go of the segment, and removes whatever is under the key: the case's
 * own foreign objects and what a student's program left behind.
 */
void
g_case_end(struct g_case *c)
{
	int i, id, n = 0;

	if (!c->active)
		return;
	c->active = 0;
	for (i = 0; i < c->nproc; i++) {
		(void)kill(-c->proc[i].pid, SIGKILL);
		if (!c->proc[i].done &&
		    wait4(c->proc[i].pid, &c->proc[i].status, 0,
		    &c->proc[i].ru) == c->proc[i].pid) {
			c->proc[i].done = 1;
			c->proc[i].end_ns = g_now_ms();
		}
	}
	if (c->held != NULL)
		(void)shmdt(c->held);
	c->held = NULL;
	c->left[0] = '\0';
	if (c->proj == 0)
		return;		/* no key of ours yet */
	if ((id = shmget(c->key, 0, 0)) != -1 &&
	    shmctl(id, IPC_RMID, NULL) == 0)
		n += snprintf(c->left + n, sizeof(c->left) - (size_t)n,
		    "shm id %d", id);
	if ((id = semget(c->key, 0, 0)) != -1 && semctl(id, 0, IPC_RMID) == 0)
		(void)snprintf(c->left + n, sizeof(c->left) - (size_t)n,
		    "%ssem id %d", n > 0 ? " and " : "", id);
	(void)unlink(c->keyfile);
}
