/*
 * check_faults.c - shmlab when things go wrong: processes that die or
 * stop, signals, IPC objects removed from outside or left behind, hostile
 * segments and options, kernel limits, permissions and concurrent runs.
 *
 * Every scenario runs the real programs (producer/producer,
 * consumer/consumer, run_demo.sh) in their own process groups with
 * deadlines, on keys of the test's private directory (tu_setup,
 * tu_key_new; run_demo.sh's own key files are adopted with
 * tu_key_adopt).  Teardown -- or the guardian when a test fails or times
 * out -- kills the process groups the test started and removes the objects
 * under its keys.  The test process is a child subreaper: consumers whose
 * parent was killed and run_demo.sh's daemonised producers come back to
 * it, and reap_all() reaps them at once, because a zombie still answers
 * kill(pid, 0) and would look alive to the programs' liveness checks.
 *
 * Fabricated segments are built from a header that seg_create() lays out
 * under IPC_PRIVATE, so they follow the layout of this very tree.
 *
 * The test hooks used: SHMLAB_HOLD_MS makes each queue consumer sleep
 * inside its critical section, holding the mutex and a claim
 * (SHMLAB_HOLD_AT=copy: after reading it); SHMLAB_HOLD_CHILD=I makes
 * only the consumer with record I do so.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmlib.h"
#include "testutil.h"

#define RUN_MS		30000	/* a whole run, at most (scaled) */
#define QUICK_MS	10000	/* something that should happen at once */
#define MAX_PROCS	32
#define DEMO_RUNS	8	/* concurrent run_demo.sh runs */

/* What /proc/PID/stat says about a process. */
struct pstat {
	char	state;
	pid_t	pgrp;
	unsigned long long cpu;		/* utime + stime, in ticks */
};

/* One run_demo.sh run, as found in its TMPDIR. */
struct demo {
	char	tmpdir[PATH_MAX];	/* what we gave it as TMPDIR */
	char	dir[PATH_MAX + 260];	/* its shmlab-demo.XXXXXX */
	pid_t	daemon;			/* its producer */
	key_t	key;
};

static struct tu_key key;
static char producer_bin[PATH_MAX], consumer_bin[PATH_MAX];
static char demo_bin[PATH_MAX];
static struct tu_proc *procs[MAX_PROCS];
static int	nprocs;

static void	 faults_setup(void);
static void	 faults_teardown(void);
static void	 use_key(void);
static void	 producer_base(struct args *, const char *);
static void	 consumer_base(struct args *, int);
static void	 start_run(struct tu_proc *, struct tu_proc *, struct shm_ring *,
		    const char *, const char *, int, const char *, uint64_t);
static void	 spawn_env(struct tu_proc *, const char *, char *const [],
		    const char *, const char *);
static void	 spawn(struct tu_proc *, const char *, char *const []);
static void	 adopt(struct tu_proc *, pid_t);
static void	 reap_all(void);
static int	 wait_proc(struct tu_proc *, int);
static int	 running(const struct tu_proc *);
static void	 expect_err(const struct tu_proc *, const char *,
		    const char *);
static void	 finish(struct tu_proc *, const char *, int, int);
static uint64_t	 took_ms(const struct tu_proc *, uint64_t);
static void	 path_in(char *, const char *);
static int	 consumer_in_state(const char *, pid_t, const char *);
static void	 attach_ready(key_t, struct shm_ring *);
static void	 wait_registered(struct shm_ring *, uint32_t);
static void	 wait_head(struct shm_ring *, uint64_t);
static int	 active_pids(const struct shm_ring *, pid_t *, int);
static pid_t	 claim_holder(const struct shm_ring *, int);
static pid_t	 claim_holder_at(const struct shm_ring *, uint32_t, int);
static uint64_t	 frozen_claim(const struct shm_ring *, pid_t);
static int	 proc_stat(pid_t, struct pstat *);
static void	 kill_in_claim(int, int);
static void	 wait_proc_state(pid_t, char);
static int	 wait_text(const char *, const char *, const char *, int);
static int	 key_hex(char *, size_t, key_t);
static int	 wait_key_empty(key_t, int);
static void	 demo_spawn(struct tu_proc *, const char *, struct demo *,
		    ...) __attribute__((sentinel));
static void	 demo_find(struct demo *, struct tu_proc *);
static int	 dir_entries(const char *);
static void	 rm_tree(const char *, int);
static Suite	*faults_suite(void);

/* ------------------------------------------------------------ fixture */

static void
faults_setup(void)
{
	const char *p;

	tu_setup();
	tu_subreaper();
	nprocs = 0;
	p = tu_bin("producer/producer");
	ck_assert_msg(p != NULL, "producer/producer not built: run the tests "
	    "from the repository root, or set SHMLAB_ROOT");
	(void)snprintf(producer_bin, sizeof(producer_bin), "%s", p);
	p = tu_bin("consumer/consumer");
	ck_assert_msg(p != NULL, "consumer/consumer not built");
	(void)snprintf(consumer_bin, sizeof(consumer_bin), "%s", p);
	p = tu_bin("run_demo.sh");
	ck_assert_msg(p != NULL, "run_demo.sh not found");
	(void)snprintf(demo_bin, sizeof(demo_bin), "%s", p);
	/*
	 * run_demo.sh runs exactly the binaries under test (the sanitizer
	 * build's too) and never starts make in the middle of a test.
	 */
	ck_assert_int_eq(setenv("SHMLAB_PRODUCER", producer_bin, 1), 0);
	ck_assert_int_eq(setenv("SHMLAB_CONSUMER", consumer_bin, 1), 0);
	(void)unsetenv("SHMLAB_HOLD_MS");
	(void)unsetenv("SHMLAB_HOLD_AT");
	(void)unsetenv("SHMLAB_HOLD_CHILD");
	/*
	 * The programs must start with default dispositions whatever our
	 * own runner ignored: exec keeps SIG_IGN, and a shell started with
	 * SIGINT ignored cannot trap it.
	 */
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGHUP, SIG_DFL);
	(void)signal(SIGQUIT, SIG_DFL);
	(void)signal(SIGUSR1, SIG_DFL);
}

static void
faults_teardown(void)
{
	nprocs = 0;
	tu_teardown();
}

/* Most tests need one key; the eight-run test needs all of its slots. */
static void
use_key(void)
{
	ck_assert_msg(tu_key_new(&key) == 0, "tu_key_new: %s",
	    strerror(errno));
}

/* -------------------------------------------------------- command lines */

/* producer -k KEY -p PROJ -q -t 30 [-o REPORT] */
static void
producer_base(struct args *a, const char *report)
{
	a->n = 0;
	args_add(a, producer_bin, "-k", key.path, "-p", key.proj_arg, "-q",
	    "-t", "30", NULL);
	if (report != NULL)
		args_add(a, "-o", report, NULL);
}

/* consumer -k KEY -p PROJ -n N -q -t 20 */
static void
consumer_base(struct args *a, int n)
{
	a->n = 0;
	args_add(a, consumer_bin, "-k", key.path, "-p", key.proj_arg, "-q",
	    "-t", "20", "-n", NULL);
	arg(a, "%d", n);
}

/* ------------------------------------------------------------ processes */

/* tu_spawn() with one more environment variable (var may be NULL). */
static void
spawn_env(struct tu_proc *p, const char *name, char *const argv[],
    const char *var, const char *val)
{
	char setting[256], *env[2] = { setting, NULL };

	ck_assert_int_lt(nprocs, MAX_PROCS);
	if (var != NULL)
		ck_assert_int_lt(snprintf(setting, sizeof(setting), "%s=%s",
		    var, val), (int)sizeof(setting));
	tu_start(p, name, argv, var != NULL ? env : NULL, -1, -1, -1);
	procs[nprocs++] = p;
}

static void
spawn(struct tu_proc *p, const char *name, char *const argv[])
{
	spawn_env(p, name, argv, NULL, NULL);
}

/* A child made with tu_fork(), waited for like the spawned ones. */
static void
adopt(struct tu_proc *p, pid_t pid)
{
	ck_assert_int_lt(nprocs, MAX_PROCS);
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->start_ns = tu_now_ms() * 1000000;
	(void)snprintf(p->err, sizeof(p->err), "/dev/null");
	(void)snprintf(p->out, sizeof(p->out), "/dev/null");
	procs[nprocs++] = p;
}

/*
 * Reaps every child that has exited: ours (their status is kept in their
 * tu_proc) and orphans that came back to this subreaper.
 */
static void
reap_all(void)
{
	siginfo_t si;
	pid_t pid;
	int st, i;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1 ||
		    si.si_pid == 0)
			return;
		pid = si.si_pid;
		if (waitpid(pid, &st, 0) != pid)
			return;
		for (i = 0; i < nprocs; i++)
			if (procs[i]->pid == pid && !procs[i]->done) {
				procs[i]->status = st;
				procs[i]->done = 1;
				procs[i]->end_ns = tu_now_ms() * 1000000;
			}
	}
}

/*
 * Waits up to ms (scaled) for p, reaping orphans meanwhile.  On timeout
 * tu_wait() kills p's process group.  Returns 0, or -1 on timeout.
 */
static int
wait_proc(struct tu_proc *p, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);

	for (;;) {
		reap_all();
		if (p->done)
			return p->timed_out ? -1 : 0;
		if (tu_now_ms() >= end)
			return tu_wait(p, 0);
		tu_sleep_ms(2);
	}
}

static int
running(const struct tu_proc *p)
{
	reap_all();
	return !p->done;
}

/* The process said something containing want on stderr. */
static void
expect_err(const struct tu_proc *p, const char *name, const char *want)
{
	char *err = tu_err_text(p);

	ck_assert_msg(strstr(err, want) != NULL, "%s: stderr does not "
	    "mention \"%s\": %.1500s", name, want, err);
	free(err);
}

static void
finish(struct tu_proc *p, const char *name, int want, int ms)
{
	(void)wait_proc(p, ms);
	tu_expect_exit(p, name, want);
}

/*
 * producer --clean on the test's key, in *clean; it must end with want
 * (what names it in the message).
 */
static void
run_clean(struct tu_proc *clean, const char *what, int want)
{
	struct args ka;

	ka.n = 0;
	args_add(&ka, producer_bin, "--clean", "-k", key.path, "-p",
	    key.proj_arg, NULL);
	spawn(clean, "clean", ka.v);
	finish(clean, what, want, QUICK_MS);
	args_free(&ka);
}

/* Milliseconds from since_ms to p's end. */
static uint64_t
took_ms(const struct tu_proc *p, uint64_t since_ms)
{
	uint64_t end = p->end_ns / 1000000;

	return end > since_ms ? end - since_ms : 0;
}

/* ---------------------------------------------------------- the report */

static void
path_in(char *buf, const char *name)
{
	ck_assert_int_eq(tu_path(buf, PATH_MAX, name), 0);
}

/* The per_consumer entry with this pid has this state. */
static int
consumer_in_state(const char *js, pid_t pid, const char *state)
{
	json_t *root = tu_json_parse(js), *c;
	const char *st;
	size_t i;
	int found = 0;

	json_array_foreach(json_object_get(root, "per_consumer"), i, c) {
		st = json_string_value(json_object_get(c, "state"));
		if (json_integer_value(json_object_get(c, "pid")) == pid &&
		    st != NULL && strcmp(st, state) == 0)
			found = 1;
	}
	json_decref(root);
	return found;
}

/* ------------------------------------------------- looking at the run */

/* Attaches read-only to the ready segment under k (waits for it). */
static void
attach_ready(key_t k, struct shm_ring *r)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);

	memset(r, 0, sizeof(*r));
	while (seg_attach(k, SHM_RDONLY, r) == -1) {
		ck_assert_msg(tu_now_ms() < end, "no ready shmlab segment "
		    "under key 0x%08x: %s", (unsigned)k, strerror(errno));
		reap_all();
		tu_sleep_ms(5);
	}
}

/* Waits until n consumers have registered and recorded their pids. */
static void
wait_registered(struct shm_ring *r, uint32_t n)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	pid_t pids[SHM_MAX_CONSUMERS];

	while (active_pids(r, pids, SHM_MAX_CONSUMERS) < (int)n) {
		ck_assert_msg(tu_now_ms() < end, "only %u of %u consumers "
		    "registered", SHM_LOAD(&r->hdr->registered), n);
		reap_all();
		tu_sleep_ms(2);
	}
}

/* Waits until the producer has posted at least n items. */
static void
wait_head(struct shm_ring *r, uint64_t n)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);

	while (SHM_LOAD(&r->hdr->head) < n) {
		ck_assert_msg(tu_now_ms() < end, "the producer posted only "
		    "%llu items", (unsigned long long)SHM_LOAD(&r->hdr->head));
		reap_all();
		tu_sleep_ms(2);
	}
}

/*
 * A live run: the producer (-o report unless NULL, then the words of
 * pwords) and a consumer program of n children (then cwords), both in
 * the background; returns once the n have registered and the producer
 * has posted head items, with the segment attached read-only in *r.
 */
static void
start_run(struct tu_proc *prod, struct tu_proc *cons, struct shm_ring *r,
    const char *report, const char *pwords, int n, const char *cwords,
    uint64_t head)
{
	struct args pa, ca;

	producer_base(&pa, report);
	args_words(&pa, pwords);
	consumer_base(&ca, n);
	args_words(&ca, cwords);
	spawn(prod, "producer", pa.v);
	spawn(cons, "consumer", ca.v);
	args_free(&pa);
	args_free(&ca);
	attach_ready(key.key, r);
	wait_registered(r, (uint32_t)n);
	wait_head(r, head);
}

/* The pids of the consumers that are registered and active. */
static int
active_pids(const struct shm_ring *r, pid_t *pids, int max)
{
	uint32_t i, n = SHM_LOAD(&r->hdr->registered);
	int k = 0;

	for (i = 0; i < n && i < r->hdr->max_consumers && k < max; i++)
		if (SHM_LOAD(&r->table[i].state) == CS_ACTIVE &&
		    SHM_LOAD(&r->table[i].pid) > 0)
			pids[k++] = SHM_LOAD(&r->table[i].pid);
	return k;
}

/* The pid of an active consumer holding a claim (within ms, scaled). */
static pid_t
claim_holder(const struct shm_ring *r, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);
	const struct shm_consumer *c;
	uint32_t i, n;

	for (;;) {
		n = SHM_LOAD(&r->hdr->registered);
		for (i = 0; i < n && i < r->hdr->max_consumers; i++) {
			c = &r->table[i];
			if (SHM_LOAD(&c->state) == CS_ACTIVE &&
			    SHM_LOAD(&c->claim_len) > 0 && c->pid > 0)
				return c->pid;
		}
		ck_assert_msg(tu_now_ms() < end, "no consumer was seen holding "
		    "a claim (is SHMLAB_HOLD_MS honoured?)");
		tu_sleep_ms(1);
	}
}

/* The pid of record i once it holds a claim (within ms, scaled). */
static pid_t
claim_holder_at(const struct shm_ring *r, uint32_t i, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);
	const struct shm_consumer *c = &r->table[i];

	while (SHM_LOAD(&r->hdr->registered) <= i ||
	    SHM_LOAD(&c->state) != CS_ACTIVE || SHM_LOAD(&c->claim_len) == 0 ||
	    c->pid <= 0) {
		ck_assert_msg(tu_now_ms() < end, "consumer %u was never seen "
		    "holding a claim (is SHMLAB_HOLD_CHILD honoured?)", i);
		tu_sleep_ms(1);
	}
	return c->pid;
}

/*
 * The claim a killed consumer left: waits until its record is no longer
 * active (its parent or the producer marks it), then reads claim_len.
 */
static uint64_t
frozen_claim(const struct shm_ring *r, pid_t pid)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	uint32_t i, n = SHM_LOAD(&r->hdr->registered);

	for (i = 0; i < n && i < r->hdr->max_consumers; i++) {
		if (r->table[i].pid != pid)
			continue;
		while (SHM_LOAD(&r->table[i].state) == CS_ACTIVE) {
			ck_assert_msg(tu_now_ms() < end, "killed consumer %ld "
			    "is still marked active", (long)pid);
			reap_all();
			tu_sleep_ms(2);
		}
		return SHM_LOAD(&r->table[i].claim_len);
	}
	ck_abort_msg("no record for consumer pid %ld", (long)pid);
	return 0;
}

/* Fields 3 (state), 5 (pgrp), 14 and 15 (utime, stime) of /proc/PID/stat. */
static int
proc_stat(pid_t pid, struct pstat *ps)
{
	char path[64], *buf, *p, *save, *tok;
	unsigned long long utime = 0, stime = 0;
	int i;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((buf = tu_read_file(path, NULL)) == NULL)
		return -1;
	if ((p = strrchr(buf, ')')) == NULL) {
		free(buf);
		return -1;
	}
	memset(ps, 0, sizeof(*ps));
	for (i = 3, tok = strtok_r(p + 1, " \n", &save); tok != NULL && i <= 15;
	    i++, tok = strtok_r(NULL, " \n", &save)) {
		if (i == 3)
			ps->state = tok[0];
		else if (i == 5)
			ps->pgrp = (pid_t)strtol(tok, NULL, 10);
		else if (i == 14)
			utime = strtoull(tok, NULL, 10);
		else if (i == 15)
			stime = strtoull(tok, NULL, 10);
	}
	free(buf);
	ps->cpu = utime + stime;
	return i > 15 ? 0 : -1;
}

static void
wait_proc_state(pid_t pid, char state)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	struct pstat ps;

	for (;;) {
		ck_assert_msg(proc_stat(pid, &ps) == 0, "pid %ld is gone",
		    (long)pid);
		if (ps.state == state)
			return;
		ck_assert_msg(tu_now_ms() < end, "pid %ld is in state %c, not "
		    "%c", (long)pid, ps.state, state);
		tu_sleep_ms(1);
	}
}

/* Polls a file until it contains a and b (b may be NULL). */
static int
wait_text(const char *path, const char *a, const char *b, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);
	char *s;
	int found;

	for (;;) {
		s = tu_read_file(path, NULL);
		found = s != NULL && strstr(s, a) != NULL &&
		    (b == NULL || strstr(s, b) != NULL);
		free(s);
		if (found)
			return 1;
		if (tu_now_ms() >= end)
			return 0;
		reap_all();
		tu_sleep_ms(5);
	}
}

/* The key as the programs print it. */
static int
key_hex(char *buf, size_t len, key_t k)
{
	return snprintf(buf, len, "0x%08lx", (unsigned long)(uint32_t)k);
}

/* Waits until nothing is left under k; returns 1 when so. */
static int
wait_key_empty(key_t k, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(ms);

	while (tu_ipc_count_key(k) != 0) {
		if (tu_now_ms() >= end)
			return 0;
		reap_all();
		tu_sleep_ms(5);
	}
	return 1;
}

/* ----------------------------------------------------------- run_demo */

/*
 * Starts run_demo.sh with its own TMPDIR (DIR/sub), so that the test can
 * find its private key file and pidfile there.
 */
static void
demo_spawn(struct tu_proc *p, const char *sub, struct demo *d, ...)
{
	struct args a;
	va_list ap;
	const char *s;

	memset(d, 0, sizeof(*d));
	d->daemon = -1;
	path_in(d->tmpdir, sub);
	ck_assert_msg(mkdir(d->tmpdir, 0700) == 0 || errno == EEXIST,
	    "mkdir %s: %s", d->tmpdir, strerror(errno));
	a.n = 0;
	arg(&a, "%s", demo_bin);
	va_start(ap, d);
	while ((s = va_arg(ap, const char *)) != NULL)
		arg(&a, "%s", s);
	va_end(ap);
	spawn_env(p, sub, a.v, "TMPDIR", d->tmpdir);
	args_free(&a);
}

/*
 * Finds the run's directory, its daemon's pid and its key, and hands
 * both to the guardian.  A fast run may be over before it is found: then
 * d->daemon stays -1.
 */
static void
demo_find(struct demo *d, struct tu_proc *p)
{
	uint64_t end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	char path[PATH_MAX + 300], *text;
	struct dirent *de;
	DIR *dir;
	long pid;

	while (d->daemon <= 0) {
		reap_all();
		if (p->done)
			return;
		ck_assert_msg(tu_now_ms() < end, "run_demo.sh in %s started no "
		    "producer", d->tmpdir);
		tu_sleep_ms(5);
		if (d->dir[0] == '\0') {
			if ((dir = opendir(d->tmpdir)) == NULL)
				continue;
			while ((de = readdir(dir)) != NULL)
				if (strncmp(de->d_name, "shmlab-demo.", 12) ==
				    0)
					(void)snprintf(d->dir, sizeof(d->dir),
					    "%s/%s", d->tmpdir, de->d_name);
			(void)closedir(dir);
			if (d->dir[0] == '\0')
				continue;
		}
		(void)snprintf(path, sizeof(path), "%s/producer.pid", d->dir);
		if ((text = tu_read_file(path, NULL)) == NULL)
			continue;
		pid = strtol(text, NULL, 10);
		free(text);
		if (pid > 0)
			d->daemon = (pid_t)pid;
	}
	tu_track_pgid(d->daemon);	/* daemon(3) called setsid() */
	(void)snprintf(path, sizeof(path), "%s/key", d->dir);
	d->key = ftok(path, SHM_PROJ_ID);
	ck_assert_msg(d->key != (key_t)-1, "ftok %s: %s", path,
	    strerror(errno));
	ck_assert_msg(tu_key_adopt(d->key) == 0, "tu_key_adopt: %s",
	    strerror(errno));
}

/* Entries in a directory other than . and .., or -1. */
static int
dir_entries(const char *path)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	return n;
}

/* Removes what a killed run_demo.sh left in our directory (depth-bounded). */
static void
rm_tree(const char *path, int depth)
{
	char sub[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (depth > 3 || strncmp(path, "/tmp/shmlab-test.", 17) != 0 ||
	    (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 &&
		    errno == EISDIR) {
			(void)snprintf(sub, sizeof(sub), "%s/%s", path,
			    de->d_name);
			rm_tree(sub, depth + 1);
		}
	}
	(void)closedir(d);
	(void)rmdir(path);
}

/* =============================================================== deaths */

/*
 * A queue consumer SIGKILLed while it holds the mutex and a claim: SEM_UNDO
 * frees the mutex, the others finish the run, and the report says who
 * died and that exactly its claim is missing.
 */
static void
kill_in_claim(int after_copy, int small)
{
	const unsigned long long count = small && !after_copy ? 300 : 60;
	struct tu_proc prod, cons;
	struct shm_ring r;
	struct args pa, ca;
	char report[PATH_MAX], *js;
	unsigned long long consumed, lost, unreported;
	uint64_t claim;
	pid_t victim, pids[3];
	int i, n;

	use_key();
	path_in(report, "report.json");
	producer_base(&pa, report);
	args_add(&pa, "-c", count == 300 ? "300" : "60", "-b", "10", "-n", "3",
	    NULL);
	consumer_base(&ca, 3);
	/*
	 * A claim smaller than the ring (issue 10, item 2): the others'
	 * releases must not let the producer overwrite the victim's slots
	 * before its claim is accounted for.  After the copy, an overwrite
	 * shows only if the items written over the claim are not yet taken
	 * when the producer accounts for it (it counts the slots whose
	 * items the ledger has): there the consumers take one item every
	 * 60 ms (--delay), and the item in the victim's first slot comes
	 * nine claims later, some 270 ms, past the producer's next look.
	 */
	if (small && after_copy)
		args_add(&ca, "--delay", "60", NULL);
	else if (small)
		args_add(&ca, "-B", "5", NULL);
	spawn(&prod, "producer", pa.v);
	if (after_copy)
		ck_assert_int_eq(setenv("SHMLAB_HOLD_AT", "copy", 1), 0);
	/*
	 * With small claims only the victim (record 0) holds: the others
	 * take and release at full speed after its death, so the producer
	 * would refill the victim's slots before its recovery reads them
	 * unless the next consumer waits for that recovery (hdr.claimer).
	 */
	if (small)
		ck_assert_int_eq(setenv("SHMLAB_HOLD_CHILD", "0", 1), 0);
	spawn_env(&cons, "consumer", ca.v, "SHMLAB_HOLD_MS",
	    after_copy ? "400" : "200");
	(void)unsetenv("SHMLAB_HOLD_AT");
	(void)unsetenv("SHMLAB_HOLD_CHILD");
	attach_ready(key.key, &r);
	wait_registered(&r, 3);
	n = active_pids(&r, pids, 3);
	victim = small ? claim_holder_at(&r, 0, QUICK_MS) :
	    claim_holder(&r, QUICK_MS);
	/* Let it finish reading its claim (slow under valgrind): 100 ms of
	 * its 400 ms hold. */
	if (after_copy)
		tu_sleep_ms(100);
	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	claim = frozen_claim(&r, victim);
	ck_assert_int_eq(seg_detach(&r), 0);
	ck_assert_msg(claim > 0, "consumer %ld was killed outside its claim",
	    (long)victim);

	finish(&cons, "consumer", 1, RUN_MS);
	finish(&prod, "producer", 1, RUN_MS);
	js = tu_read_report(report);
	consumed = tu_jnum(js, "consumed");
	lost = tu_jnum(js, "lost");
	unreported = tu_jnum(js, "unreported");
	ck_assert_msg(tu_jnum(js, "died") == 1, "died: %.1500s", js);
	ck_assert_msg(consumer_in_state(js, victim, "died"), "consumer %ld "
	    "is not marked died: %.1500s", (long)victim, js);
	for (i = 0; i < n; i++)
		ck_assert_msg(pids[i] == victim ||
		    consumer_in_state(js, pids[i], "done"), "consumer %ld did "
		    "not finish the run: %.1500s", (long)pids[i], js);
	ck_assert_msg(tu_jnum(js, "in_flight") == claim, "in_flight %llu, but "
	    "it died holding %llu items: %.1500s", tu_jnum(js, "in_flight"),
	    (unsigned long long)claim, js);
	if (after_copy) {
		/*
		 * With SHMLAB_HOLD_AT=copy the victim had read its whole claim
		 * into the ledger but not reported it: nothing is lost, and
		 * the report counts the claim as read-but-unreported.
		 */
		ck_assert_msg(unreported == claim, "unreported %llu, but it "
		    "had read its claim of %llu: %.1500s", unreported,
		    (unsigned long long)claim, js);
		ck_assert_msg(lost == 0, "lost %llu, but every item was read: "
		    "%.1500s", lost, js);
	} else {
		/*
		 * SHMLAB_HOLD_MS sleeps after the claim and before the copy:
		 * the victim had read none of its claim, so it is lost.
		 */
		ck_assert_msg(unreported == 0, "unreported %llu, but it read "
		    "none of its claim: %.1500s", unreported, js);
		ck_assert_msg(lost == claim, "lost %llu != claim %llu: %.1500s",
		    lost, (unsigned long long)claim, js);
	}
	ck_assert_msg(consumed + lost == count, "consumed %llu + lost %llu != "
	    "%llu: %.1500s", consumed, lost, count, js);
	ck_assert_uint_eq(tu_jnum(js, "produced"), count);
	ck_assert_uint_eq(tu_jnum(js, "duplicated"), 0);
	ck_assert_int_eq(tu_jbool(js, "verified"), 0);
	ck_assert_uint_eq(tu_jnum(js, "exit_status"), 1);
	ck_assert_int_eq(tu_json_null(js, "error"), 1);
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
	args_free(&ca);
}

START_TEST(test_kill_holding_mutex)
{
	kill_in_claim(0, 0);
}
END_TEST

/* The same with claims of 5 in a ring of 10 (issue 10, item 2). */
START_TEST(test_kill_small_claim)
{
	kill_in_claim(0, 1);
}
END_TEST

START_TEST(test_kill_small_claim_after_copy)
{
	kill_in_claim(1, 1);
}
END_TEST

/*
 * The same death one step later: after the claim was read, before the
 * consumer reported it.  The producer's recovery finds the items in the
 * ledger and reports them as taken but unreported.
 */
START_TEST(test_kill_after_copy)
{
	kill_in_claim(1, 0);
}
END_TEST

/*
 * A consumer killed outside its critical section (stopped first, so that
 * the test can see it holds no claim): it is reported dead, nothing is
 * lost.
 */
START_TEST(test_kill_outside_mutex)
{
	const unsigned long long count = 600;
	struct tu_proc prod, cons;
	struct shm_ring r;
	char report[PATH_MAX], *js;
	pid_t pids[4], victim = -1;
	uint64_t end;
	uint32_t i;
	int n, k;

	use_key();
	path_in(report, "report.json");
	start_run(&prod, &cons, &r, report,
	    "-c 600 -b 10 -n 3 --delay 2", 3, "", 50);
	end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	for (k = 0; victim == -1; k++) {
		ck_assert_msg(tu_now_ms() < end, "every stopped consumer held "
		    "a claim");
		n = active_pids(&r, pids, 4);
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(kill(pids[k % n], SIGSTOP), 0);
		wait_proc_state(pids[k % n], 'T');
		for (i = 0; i < r.hdr->registered; i++)
			if (r.table[i].pid == pids[k % n] &&
			    SHM_LOAD(&r.table[i].claim_len) == 0)
				victim = pids[k % n];
		if (victim == -1) {
			ck_assert_int_eq(kill(pids[k % n], SIGCONT), 0);
			tu_sleep_ms(3);
		}
	}
	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	ck_assert_uint_eq(frozen_claim(&r, victim), 0);
	ck_assert_int_eq(seg_detach(&r), 0);

	finish(&cons, "consumer", 1, RUN_MS);
	finish(&prod, "producer", 1, RUN_MS);
	js = tu_read_report(report);
	ck_assert_msg(tu_jnum(js, "died") == 1, "died: %.1500s", js);
	ck_assert_msg(consumer_in_state(js, victim, "died"), "consumer %ld "
	    "is not marked died: %.1500s", (long)victim, js);
	ck_assert_msg(tu_jnum(js, "lost") == 0, "lost: %.1500s", js);
	ck_assert_msg(tu_jnum(js, "unreported") == 0, "unreported: %.1500s",
	    js);
	ck_assert_msg(tu_jnum(js, "consumed") == count, "consumed: %.1500s",
	    js);
	ck_assert_uint_eq(tu_jnum(js, "duplicated"), 0);
	ck_assert_int_eq(tu_jbool(js, "verified"), 0);
	ck_assert_uint_eq(tu_jnum(js, "exit_status"), 1);
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
}
END_TEST

/*
 * The producer SIGKILLed mid-run: the consumers notice within ~2 s, say
 * so, exit 3; the objects stay until producer --clean removes them.
 */
START_TEST(test_producer_killed)
{
	struct tu_proc prod, cons, clean;
	struct shm_ring r;
	char report[PATH_MAX];
	uint64_t t0, dt;

	use_key();
	path_in(report, "report.json");
	start_run(&prod, &cons, &r, report,
	    "-c 100000 -b 10 -n 2 --delay 2", 2, "", 20);
	ck_assert_int_eq(seg_detach(&r), 0);

	ck_assert_int_eq(kill(prod.pid, SIGKILL), 0);
	t0 = tu_now_ms();
	finish(&prod, "producer", 128 + SIGKILL, QUICK_MS);
	finish(&cons, "consumer", 3, QUICK_MS);
	dt = took_ms(&cons, t0);
	ck_assert_msg(dt <= (uint64_t)tu_ms(2000), "the consumers took %llu "
	    "ms to notice the producer's death", (unsigned long long)dt);
	expect_err(&cons, "consumer", "producer");
	expect_err(&cons, "consumer", "died");
	ck_assert_msg(access(report, F_OK) == -1, "a killed producer wrote "
	    "a report");

	ck_assert_msg(tu_ipc_count_key(key.key) == 2, "a killed producer "
	    "should leave its segment and semaphore set (%d found)",
	    tu_ipc_count_key(key.key));
	run_clean(&clean, "producer --clean", 0);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
}
END_TEST

/*
 * Every consumer SIGKILLed (parent and children) while the ring is full:
 * the producer does not wait forever; it reports, removes, exits 3.
 */
START_TEST(test_all_consumers_killed)
{
	struct tu_proc prod, cons;
	struct shm_ring r;
	char report[PATH_MAX], *js;
	uint64_t t0, dt;

	use_key();
	path_in(report, "report.json");
	start_run(&prod, &cons, &r, report,
	    "-c 100000 -b 10 -n 3", 3, "--delay 50", 15);
	ck_assert_int_eq(seg_detach(&r), 0);

	ck_assert_int_eq(kill(-cons.pid, SIGKILL), 0);
	t0 = tu_now_ms();
	finish(&cons, "consumer", 128 + SIGKILL, QUICK_MS);
	finish(&prod, "producer", 3, QUICK_MS);
	dt = took_ms(&prod, t0);
	ck_assert_msg(dt < (uint64_t)tu_ms(3000), "the producer took %llu ms "
	    "to give up", (unsigned long long)dt);
	js = tu_read_report(report);
	ck_assert_msg(tu_json_null(js, "error") == 0, "no error in the "
	    "report: %.1500s", js);
	ck_assert_uint_eq(tu_jnum(js, "exit_status"), 3);
	ck_assert_uint_eq(tu_jnum(js, "died"), 3);
	ck_assert_int_eq(tu_jbool(js, "verified"), 0);
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
}
END_TEST

/*
 * A consumer stopped (SIGSTOP) inside its critical section, the ring
 * full: nobody spins meanwhile; after SIGCONT the run verifies.
 */
START_TEST(test_consumer_stopped)
{
	struct tu_proc prod, cons;
	struct shm_ring r;
	struct args pa, ca;
	struct pstat ps;
	char report[PATH_MAX], *js;
	pid_t victim = -1, pids[4];
	unsigned long long p0, p1, o0, o1, hz;
	uint64_t end;
	uint32_t i;
	int n, k;

	use_key();
	path_in(report, "report.json");
	producer_base(&pa, report);
	args_add(&pa, "-c", "80", "-b", "10", "-n", "3", NULL);
	consumer_base(&ca, 3);
	spawn(&prod, "producer", pa.v);
	spawn_env(&cons, "consumer", ca.v, "SHMLAB_HOLD_MS", "200");
	attach_ready(key.key, &r);
	wait_registered(&r, 3);
	end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	while (victim == -1) {
		ck_assert_msg(tu_now_ms() < end, "could not stop a consumer "
		    "inside its claim");
		victim = claim_holder(&r, QUICK_MS);
		ck_assert_int_eq(kill(victim, SIGSTOP), 0);
		wait_proc_state(victim, 'T');
		for (i = 0; i < r.hdr->registered; i++)
			if (r.table[i].pid == victim &&
			    SHM_LOAD(&r.table[i].claim_len) == 0) {
				(void)kill(victim, SIGCONT);
				victim = -1;
				break;
			}
	}
	/* The others block on the mutex, the producer on a full ring. */
	end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	while (SHM_LOAD(&r.hdr->head) - SHM_LOAD(&r.hdr->freed) <
	    r.hdr->capacity) {
		ck_assert_msg(tu_now_ms() < end, "the ring did not fill up");
		tu_sleep_ms(5);
	}
	n = active_pids(&r, pids, 4);
	hz = (unsigned long long)sysconf(_SC_CLK_TCK);
	ck_assert_int_eq(proc_stat(prod.pid, &ps), 0);
	p0 = ps.cpu;
	ck_assert_int_eq(proc_stat(cons.pid, &ps), 0);
	o0 = ps.cpu;
	for (k = 0; k < n; k++)
		if (pids[k] != victim && proc_stat(pids[k], &ps) == 0)
			o0 += ps.cpu;
	tu_sleep_ms(1000);
	ck_assert_int_eq(proc_stat(prod.pid, &ps), 0);
	p1 = ps.cpu;
	ck_assert_int_eq(proc_stat(cons.pid, &ps), 0);
	o1 = ps.cpu;
	for (k = 0; k < n; k++)
		if (pids[k] != victim && proc_stat(pids[k], &ps) == 0)
			o1 += ps.cpu;
	ck_assert_int_eq(kill(victim, SIGCONT), 0);
	ck_assert_int_eq(seg_detach(&r), 0);
	ck_assert_msg((p1 - p0) * 5 < hz, "the producer used %llu of %llu "
	    "ticks in 1 s while a consumer was stopped", p1 - p0, hz);
	ck_assert_msg((o1 - o0) * 5 < hz, "the other consumers used %llu of "
	    "%llu ticks in 1 s while one was stopped", o1 - o0, hz);

	finish(&cons, "consumer", 0, RUN_MS);
	finish(&prod, "producer", 0, RUN_MS);
	js = tu_read_report(report);
	ck_assert_msg(tu_jbool(js, "verified") == 1, "not verified: %.1500s",
	    js);
	ck_assert_uint_eq(tu_jnum(js, "consumed"), 80);
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/* ============================================================== signals */

static const int stop_signals[] = { SIGTERM, SIGINT };

/*
 * SIGTERM or SIGINT to the producer mid-run: end of stream, a bounded
 * drain, a report saying interrupted, exit 3, both objects removed.
 */
START_TEST(test_producer_stopped_by_signal)
{
	const unsigned long long count = 3000;
	struct tu_proc prod, cons;
	struct shm_ring r;
	char report[PATH_MAX], *js;
	unsigned long long produced, consumed;
	uint64_t t0, dt;

	use_key();
	path_in(report, "report.json");
	start_run(&prod, &cons, &r, report,
	    "-c 3000 -b 10 -n 2 --delay 2", 2, "", 50);
	ck_assert_int_eq(seg_detach(&r), 0);

	ck_assert_int_eq(kill(prod.pid, stop_signals[_i]), 0);
	t0 = tu_now_ms();
	finish(&prod, "producer", 3, QUICK_MS);
	dt = took_ms(&prod, t0);
	ck_assert_msg(dt <= (uint64_t)tu_ms(3000), "the producer took %llu ms "
	    "to stop", (unsigned long long)dt);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	js = tu_read_report(report);
	ck_assert_msg(tu_jbool(js, "interrupted") == 1, "not interrupted: "
	    "%.1500s", js);
	ck_assert_int_eq(tu_jbool(js, "verified"), 0);
	ck_assert_uint_eq(tu_jnum(js, "exit_status"), 3);
	produced = tu_jnum(js, "produced");
	consumed = tu_jnum(js, "consumed");
	ck_assert_msg(produced < count, "produced everything: %.1500s", js);
	ck_assert_msg(consumed == produced, "the drain left %llu of %llu "
	    "items: %.1500s", produced - consumed, produced, js);
	ck_assert_msg(consumed + tu_jnum(js, "lost") == count, "consumed + "
	    "lost != count: %.1500s", js);
	free(js);
	(void)wait_proc(&cons, 5000);
	ck_assert_msg(cons.done && !cons.timed_out && WIFEXITED(cons.status),
	    "the consumers did not end by themselves");
}
END_TEST

/*
 * A fast broadcast stream whose producer stops early: its consumers, who
 * had caught up, wait for half a ring at once (-B 64 of 1024 slots), and
 * the stream ends below the count they expected.  The wait is bounded:
 * they must fall back to waiting for one item, take their end-of-stream
 * token, and end by themselves (exit 0) within a second, each with
 * exactly the items produced.
 */
START_TEST(test_broadcast_stopped_while_gathering)
{
	struct tu_proc prod, cons;
	struct shm_ring r;
	char report[PATH_MAX], *js;
	unsigned long long produced, mine;
	uint64_t t0;
	size_t i;

	use_key();
	path_in(report, "report.json");
	start_run(&prod, &cons, &r, report,
	    "-m broadcast -c 10000000000 -b 1024 -n 2", 2, "-B 64", 20000);
	ck_assert_int_eq(seg_detach(&r), 0);
	t0 = tu_now_ms();
	ck_assert_int_eq(kill(prod.pid, SIGTERM), 0);
	finish(&prod, "producer", 3, QUICK_MS);
	finish(&cons, "consumer", 0, 5000);
	/* Unbounded, they would hold the drain until the producer gave up. */
	ck_assert_msg(took_ms(&cons, t0) <= (uint64_t)tu_ms(1000), "the "
	    "consumers took %llu ms to see the end",
	    (unsigned long long)took_ms(&cons, t0));
	js = tu_read_report(report);
	produced = tu_jnum(js, "produced");
	ck_assert_msg(produced >= 20000 && produced < 10000000000ULL,
	    "produced %llu: %.1500s", produced, js);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(tu_json_elem_u64(js, "per_consumer", i,
		    "consumed", &mine), 0);
		ck_assert_msg(mine == produced, "consumer %zu took %llu of "
		    "%llu items: %.1500s", i, mine, produced, js);
	}
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
}
END_TEST

enum { USR1_PRODUCER, USR1_CHILD, USR1_PARENT, USR1_ROWS };

/*
 * SIGUSR1 prints the current counters on stderr: the producer's, one
 * consumer child's, or (through the consumer parent) every child's.  The
 * run goes on and verifies.
 */
START_TEST(test_sigusr1_counters)
{
	struct tu_proc prod, cons;
	struct shm_ring r;
	char report[PATH_MAX], want[32], *js;
	pid_t pids[2];
	int i, n;

	use_key();
	path_in(report, "report.json");
	start_run(&prod, &cons, &r, report,
	    "-c 1000 -b 10 -n 2 --delay 3", 2, "", 20);
	n = active_pids(&r, pids, 2);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(seg_detach(&r), 0);

	switch (_i) {
	case USR1_PRODUCER:
		ck_assert_int_eq(kill(prod.pid, SIGUSR1), 0);
		(void)snprintf(want, sizeof(want), "pid %ld", (long)prod.pid);
		ck_assert_msg(wait_text(prod.err, want, "produced", 3000),
		    "no counters from the producer after SIGUSR1");
		break;
	case USR1_CHILD:
		ck_assert_int_eq(kill(pids[0], SIGUSR1), 0);
		(void)snprintf(want, sizeof(want), "pid %ld", (long)pids[0]);
		ck_assert_msg(wait_text(cons.err, want, "items", 3000),
		    "no counters from consumer %ld after SIGUSR1",
		    (long)pids[0]);
		break;
	case USR1_PARENT:
		ck_assert_int_eq(kill(cons.pid, SIGUSR1), 0);
		for (i = 0; i < n; i++) {
			(void)snprintf(want, sizeof(want), "pid %ld",
			    (long)pids[i]);
			ck_assert_msg(wait_text(cons.err, want, "items", 3000),
			    "no counters from consumer %ld after SIGUSR1 to "
			    "its parent", (long)pids[i]);
		}
		break;
	}
	finish(&cons, "consumer", 0, RUN_MS);
	finish(&prod, "producer", 0, RUN_MS);
	js = tu_read_report(report);
	ck_assert_msg(tu_jbool(js, "verified") == 1, "not verified: %.1500s",
	    js);
	free(js);
}
END_TEST

/*
 * Ctrl-C to run_demo.sh (SIGINT to its process group): every process of
 * that run ends and its objects go within 5 s, exit 130; a second run on
 * its own key goes on and verifies.
 */
START_TEST(test_run_demo_interrupted)
{
	struct tu_proc a, b;
	struct demo da, db;
	struct shm_ring r;
	struct pstat ps;
	pid_t apids[4], gone[8];
	char *out;
	uint64_t t0, left;
	int i, n, ng = 0, st;

	demo_spawn(&a, "a", &da, "--slow", "-n", "3", "-c", "100", NULL);
	demo_spawn(&b, "b", &db, "-n", "2", "-c", "300", "--delay", "10",
	    NULL);
	demo_find(&da, &a);
	demo_find(&db, &b);
	ck_assert_msg(da.daemon > 0 && db.daemon > 0, "a run ended early");
	attach_ready(da.key, &r);
	wait_registered(&r, 3);
	n = active_pids(&r, apids, 4);
	ck_assert_int_eq(seg_detach(&r), 0);
	gone[ng++] = da.daemon;
	for (i = 0; i < n; i++) {
		gone[ng++] = apids[i];
		if (i == 0 && proc_stat(apids[i], &ps) == 0 && ps.pgrp > 1) {
			tu_track_pgid(ps.pgrp);	/* the consumer parent */
			gone[ng++] = ps.pgrp;
		}
	}
	attach_ready(db.key, &r);
	wait_registered(&r, 2);
	ck_assert_int_eq(seg_detach(&r), 0);
	ck_assert_msg(running(&a) && running(&b), "a run ended early");

	ck_assert_int_eq(kill(-a.pid, SIGINT), 0);
	t0 = tu_now_ms();
	finish(&a, "run_demo.sh (interrupted)", 130, 5000);
	for (i = 0; i < ng; i++) {
		left = (uint64_t)tu_ms(5000) - (tu_now_ms() - t0);
		if (left > (uint64_t)tu_ms(5000))
			left = 0;
		ck_assert_msg(tu_wait_pid_gone(gone[i], (int)left, &st) == 0,
		    "pid %ld of the interrupted run is still there after 5 s",
		    (long)gone[i]);
	}
	ck_assert_msg(tu_ipc_count_key(da.key) == 0, "the interrupted run "
	    "left objects under key 0x%08x", (unsigned)da.key);
	ck_assert_msg(tu_now_ms() - t0 <= (uint64_t)tu_ms(5000), "cleaning "
	    "up took %llu ms", (unsigned long long)(tu_now_ms() - t0));
	ck_assert_msg(dir_entries(da.tmpdir) == 0, "the interrupted run "
	    "left its directory behind");

	ck_assert_msg(running(&b), "the other run ended with the first");
	finish(&b, "run_demo.sh (the other run)", 0, RUN_MS);
	out = tu_out_text(&b);
	ck_assert_msg(strstr(out, "VERIFIED") != NULL, "the other run did "
	    "not verify: %.1500s", out);
	free(out);
	ck_assert_int_eq(tu_ipc_count_key(db.key), 0);
	rm_tree(da.tmpdir, 0);
	rm_tree(db.tmpdir, 0);
}
END_TEST

/* ============================================================== objects */

/*
 * The semaphore set removed from outside mid-run (ipcrm -s, RemoveIPC):
 * everybody says so and exits 3; the producer removes the segment.
 */
START_TEST(test_sem_removed)
{
	struct tu_proc prod, cons;
	struct shm_ring r;
	struct shmid_ds ds;
	char report[PATH_MAX], *js;
	int shmid, semid;

	use_key();
	path_in(report, "report.json");
	start_run(&prod, &cons, &r, report,
	    "-c 3000 -b 10 -n 2 --delay 2", 2, "", 20);
	shmid = r.shmid;
	semid = semget(key.key, 0, 0);
	ck_assert_int_eq(semid, r.semid);
	ck_assert_int_eq(seg_detach(&r), 0);

	ck_assert_int_eq(semctl(semid, 0, IPC_RMID), 0);
	finish(&prod, "producer", 3, 5000);
	finish(&cons, "consumer", 3, 5000);
	expect_err(&prod, "producer", "removed");
	expect_err(&cons, "consumer", "removed");
	js = tu_read_report(report);
	ck_assert_msg(tu_json_null(js, "error") == 0, "no error in the "
	    "report: %.1500s", js);
	ck_assert_uint_eq(tu_jnum(js, "exit_status"), 3);
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	ck_assert_msg(shmctl(shmid, IPC_STAT, &ds) == -1, "shm id %d is still "
	    "there (nattch %lu)", shmid, (unsigned long)ds.shm_nattch);
}
END_TEST

enum { SHMRM_FLOWING, SHMRM_SLOW_CONSUMERS, SHMRM_STALLED, SHMRM_ROWS };

/*
 * The segment removed from outside mid-run (ipcrm -m): it only becomes
 * SHM_DEST while attached, but nobody could join any more: the producer
 * notices and exits 3.  Rows: FLOWING, a paced producer and fast
 * consumers; SLOW_CONSUMERS, the ring is full and the producer waits a
 * few ms for each slot; STALLED, it waits about a second for each.
 */
START_TEST(test_shm_removed)
{
	struct tu_proc prod, cons;
	struct shm_ring r;
	struct shmid_ds ds;
	uint64_t t0, dt;
	int shmid;

	use_key();
	/* Flowing: the producer paces the run; else the consumers do. */
	start_run(&prod, &cons, &r, NULL, _i == SHMRM_FLOWING ?
	    "-c 3000 -b 10 -n 2 --delay 2" : "-c 3000 -b 10 -n 2", 2,
	    _i == SHMRM_FLOWING ? "" : _i == SHMRM_STALLED ? "--delay 1000" :
	    "--delay 20", 12);		/* the ring has turned over */
	shmid = r.shmid;
	ck_assert_int_eq(seg_detach(&r), 0);

	ck_assert_int_eq(shmctl(shmid, IPC_RMID, NULL), 0);
	t0 = tu_now_ms();
	(void)wait_proc(&prod, 5000);
	ck_assert_msg(!prod.timed_out, "shm id %d was removed from outside, "
	    "but the producer was still running 5 s later (killed now)",
	    shmid);
	ck_assert_msg(tu_exit_code(&prod) != 0, "shm id %d was removed from "
	    "outside mid-run, but the producer finished the run and exited 0",
	    shmid);
	tu_expect_exit(&prod, "producer", 3);
	dt = took_ms(&prod, t0);
	ck_assert_msg(dt <= (uint64_t)tu_ms(3000), "the producer took %llu ms "
	    "to notice", (unsigned long long)dt);
	expect_err(&prod, "producer", "removed");
	(void)wait_proc(&cons, 5000);
	ck_assert_msg(cons.done && !cons.timed_out && WIFEXITED(cons.status),
	    "the consumers did not end by themselves");
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	ck_assert_msg(shmctl(shmid, IPC_STAT, &ds) == -1, "shm id %d is still "
	    "there", shmid);
}
END_TEST

/*
 * A crashed run (producer and consumers SIGKILLed) leaves both objects:
 * the next producer on the key refuses with exit 3, naming the key and
 * id, saying the creator is gone and how to clean up; producer --clean
 * removes them.
 */
START_TEST(test_stale_objects)
{
	struct tu_proc prod, cons, again, clean;
	struct shm_ring r;
	struct args pa;
	char report[PATH_MAX], again_report[PATH_MAX], hex[16], sid[32];
	char mid[32], *err, *out;
	unsigned long nattch = 1;
	uint64_t end;
	int shmid, semid;

	use_key();
	path_in(report, "report.json");
	path_in(again_report, "again.json");
	start_run(&prod, &cons, &r, report,
	    "-c 100000 -b 10 -n 1 --delay 5", 1, "", 0);
	shmid = r.shmid;
	semid = r.semid;
	ck_assert_int_eq(seg_detach(&r), 0);
	ck_assert_int_eq(kill(prod.pid, SIGKILL), 0);
	ck_assert_int_eq(kill(-cons.pid, SIGKILL), 0);
	finish(&prod, "producer", 128 + SIGKILL, QUICK_MS);
	finish(&cons, "consumer", 128 + SIGKILL, QUICK_MS);
	end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	while (seg_nattch(shmid, &nattch) == 0 && nattch > 0 &&
	    tu_now_ms() < end) {
		reap_all();
		tu_sleep_ms(5);
	}
	ck_assert_msg(nattch == 0, "killed processes are still attached");

	producer_base(&pa, again_report);
	args_add(&pa, "-c", "10", NULL);
	spawn(&again, "again", pa.v);
	finish(&again, "producer on a stale key", 3, QUICK_MS);
	err = tu_err_text(&again);
	(void)key_hex(hex, sizeof(hex), key.key);
	(void)snprintf(mid, sizeof(mid), " id %d", shmid);
	(void)snprintf(sid, sizeof(sid), " id %d", semid);
	ck_assert_msg(strstr(err, hex) != NULL, "the refusal does not name "
	    "key %s: %s", hex, err);
	ck_assert_msg(strstr(err, mid) != NULL || strstr(err, sid) != NULL,
	    "the refusal names neither shm id %d nor sem id %d: %s", shmid,
	    semid, err);
	ck_assert_msg(strstr(err, "gone") != NULL || strstr(err, "dead") !=
	    NULL || strstr(err, "not running") != NULL, "the refusal does "
	    "not say that the creator is gone: %s", err);
	ck_assert_msg(strstr(err, "clean") != NULL, "the refusal does not say "
	    "how to clean up: %s", err);
	free(err);
	ck_assert_msg(access(again_report, F_OK) == -1, "the refused producer "
	    "wrote a report");
	ck_assert_int_eq(shmget(key.key, 0, 0), shmid);
	ck_assert_int_eq(semget(key.key, 0, 0), semid);

	run_clean(&clean, "producer --clean", 0);
	out = tu_out_text(&clean);
	ck_assert_msg(strstr(out, "removed") != NULL, "--clean does not say "
	    "what it removed: %s", out);
	free(out);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
}
END_TEST

/* --clean while the producer is alive: exit 3, nothing touched. */
START_TEST(test_clean_refuses_live_run)
{
	struct tu_proc prod, clean;
	struct shm_ring r;
	struct args pa;
	char report[PATH_MAX], *err;
	int shmid, semid;

	use_key();
	path_in(report, "report.json");
	producer_base(&pa, report);
	args_add(&pa, "-c", "100", "-n", "1", NULL);
	spawn(&prod, "producer", pa.v);
	attach_ready(key.key, &r);
	shmid = r.shmid;
	semid = r.semid;
	ck_assert_int_eq(seg_detach(&r), 0);

	run_clean(&clean, "producer --clean on a live run", 3);
	err = tu_err_text(&clean);
	ck_assert_msg(err[0] != '\0', "refused without a message");
	free(err);
	ck_assert_int_eq(shmget(key.key, 0, 0), shmid);
	ck_assert_int_eq(semget(key.key, 0, 0), semid);
	ck_assert_msg(running(&prod), "the live producer ended");

	ck_assert_int_eq(kill(prod.pid, SIGTERM), 0);
	finish(&prod, "producer", 3, 5000);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
}
END_TEST

enum {
	FOREIGN_ZERO,		/* a plain segment, zero-filled */
	FOREIGN_BYTES,		/* a plain segment, full of bytes */
	FOREIGN_TINY,		/* smaller than a shmlab header */
	FOREIGN_SEM1,		/* a semaphore set of one */
	FOREIGN_SEM7,		/* a set of seven: not shmlab's shape (a
				   queue set has five, a broadcast one 4 + 2n) */
	FOREIGN_ROWS
};

/*
 * Objects under the key that are not shmlab's: --clean refuses (exit 3)
 * and leaves them; the test removes them itself.
 */
START_TEST(test_clean_refuses_foreign)
{
	static const size_t sizes[] = { 4096, 65536, 16 };
	struct tu_proc clean;
	char *err;
	void *base;
	int shmid = -1, semid = -1;

	use_key();
	if (_i <= FOREIGN_TINY) {
		shmid = shmget(key.key, sizes[_i], IPC_CREAT | IPC_EXCL | 0600);
		ck_assert_msg(shmid != -1, "shmget: %s", strerror(errno));
		if (_i == FOREIGN_BYTES) {
			base = shmat(shmid, NULL, 0);
			ck_assert(base != (void *)-1);
			memset(base, 0x5a, sizes[_i]);
			ck_assert_int_eq(shmdt(base), 0);
		}
	} else {
		semid = semget(key.key, _i == FOREIGN_SEM1 ? 1 : 7,
		    IPC_CREAT | IPC_EXCL | 0600);
		ck_assert_msg(semid != -1, "semget: %s", strerror(errno));
	}
	run_clean(&clean, "producer --clean on a foreign object", 3);
	err = tu_err_text(&clean);
	ck_assert_msg(err[0] != '\0', "refused without a message");
	free(err);
	if (shmid != -1)
		ck_assert_msg(shmget(key.key, 0, 0) == shmid, "--clean removed "
		    "a segment that is not shmlab's");
	if (semid != -1)
		ck_assert_msg(semget(key.key, 0, 0) == semid, "--clean removed "
		    "a semaphore set that is not shmlab's");
	ck_assert_int_eq(tu_ipc_remove_key(key.key), 1);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
}
END_TEST

/* run_demo.sh clean removes a crashed run of ours and says so. */
START_TEST(test_run_demo_clean)
{
	struct tu_proc prod, clean;
	struct shm_ring r;
	struct args pa, ka;
	char report[PATH_MAX], hex[16], *err;

	use_key();
	path_in(report, "report.json");
	producer_base(&pa, report);
	args_add(&pa, "-c", "100", "-n", "1", NULL);
	spawn(&prod, "producer", pa.v);
	attach_ready(key.key, &r);
	ck_assert_int_eq(seg_detach(&r), 0);
	ck_assert_int_eq(kill(prod.pid, SIGKILL), 0);
	finish(&prod, "producer", 128 + SIGKILL, QUICK_MS);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 2);

	ka.n = 0;
	args_add(&ka, demo_bin, "clean", NULL);
	spawn(&clean, "demo-clean", ka.v);
	finish(&clean, "run_demo.sh clean", 0, RUN_MS);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	(void)key_hex(hex, sizeof(hex), key.key);
	err = tu_err_text(&clean);
	ck_assert_msg(strstr(err, hex) != NULL && strstr(err, "removed") !=
	    NULL, "run_demo.sh clean does not say that it removed key %s: "
	    "%.1500s", hex, err);
	free(err);
	args_free(&pa);
	args_free(&ka);
}
END_TEST

/* ============================================================== hostile */

enum hostile_kind {
	H_MAGIC, H_VERSION, H_HDRSIZE, H_CAP0, H_CAPHUGE, H_MODE, H_MAXCONS,
	H_EXPECTED, H_COUNT, H_HEAD, H_TOTAL, H_OFFSETS, H_SIZE, H_TINY,
	H_SEMID, H_REGISTERED, H_TAGS
};

static const struct hostile {
	enum hostile_kind kind;
	const char	*what;
	const char	*want;		/* in the consumer's message */
} hostile_rows[] = {
	{ H_MAGIC, "wrong magic", "magic" },
	{ H_VERSION, "wrong version", "version" },
	{ H_HDRSIZE, "wrong header size", "header" },
	{ H_CAP0, "capacity 0", "capacity" },
	{ H_CAPHUGE, "capacity 2^32-1", "capacity" },
	{ H_MODE, "unknown mode", "mode" },
	{ H_MAXCONS, "consumer table of 2^20", "consumer" },
	{ H_EXPECTED, "broadcast expecting 100000", "expected" },
	{ H_COUNT, "count 2^62", "count" },
	{ H_HEAD, "head > count", "count" },
	{ H_TOTAL, "total > count", "count" },
	{ H_OFFSETS, "tags offset moved", "offset" },
	{ H_SIZE, "size larger than the segment", "bytes" },
	{ H_TINY, "segment of 64 bytes", "smaller" },
	{ H_SEMID, "semid of a removed set", "sem" },
	{ H_REGISTERED, "registered > max_consumers", "" },
	{ H_TAGS, "tags with seq >= count", "" },
};

/*
 * A segment under the test key that a consumer must refuse: exit 3 with
 * a message, no crash, no hang (and nothing out of bounds under ASan).
 * The header starts from a real one (seg_create under IPC_PRIVATE); the
 * producer pid is ours, so that only the fault can stop the consumer.
 */
START_TEST(test_hostile_segment)
{
	const struct hostile *hr = &hostile_rows[_i];
	struct shm_params p;
	struct shm_header h;
	struct shm_ring tr;
	struct tu_proc cons;
	struct args ca;
	union semun su;
	uint64_t real;
	uint64_t *tags;
	char *base, *err;
	uint32_t i;
	int shmid, semid;

	use_key();
	memset(&p, 0, sizeof(p));
	p.capacity = 10;
	p.mode = MODE_QUEUE;
	p.flags = SHM_F_VERIFY;
	p.batch = 64;
	p.count = 100;
	p.perm = 0600;
	ck_assert_msg(seg_create(IPC_PRIVATE, &p, &tr) == 0, "seg_create: %s",
	    strerror(errno));
	h = *tr.hdr;
	ck_assert_int_eq(shmdt(tr.hdr), 0);
	ck_assert_int_eq(shmctl(tr.shmid, IPC_RMID, NULL), 0);

	semid = sem_create(key.key, &p);
	ck_assert_msg(semid != -1, "sem_create: %s", strerror(errno));
	h.semid = semid;
	h.ready = SHM_READY;
	h.state = ST_PRODUCING;
	h.producer_pid = (int32_t)getpid();
	real = h.size;
	switch (hr->kind) {
	case H_MAGIC:
		h.magic = 0xdeadbeefu;
		break;
	case H_VERSION:
		h.version = SHM_VERSION + 7;
		break;
	case H_HDRSIZE:
		h.hdr_size = 16;
		break;
	case H_CAP0:
		h.capacity = 0;
		break;
	case H_CAPHUGE:
		h.capacity = UINT32_MAX;
		break;
	case H_MODE:
		h.mode = 7;
		break;
	case H_MAXCONS:
		h.max_consumers = 1u << 20;
		break;
	case H_EXPECTED:
		h.mode = MODE_BROADCAST;
		h.expected = 100000;
		break;
	case H_COUNT:
		h.count = 1ULL << 62;
		break;
	case H_HEAD:
		h.head = h.count + 5;
		break;
	case H_TOTAL:
		h.total = h.count + 5;
		h.eos = 1;
		break;
	case H_OFFSETS:
		h.tags_off += 8;
		break;
	case H_SIZE:
		real = h.size / 2;
		break;
	case H_TINY:
		real = 64;
		break;
	case H_SEMID:
		ck_assert_int_eq(semctl(semid, 0, IPC_RMID), 0);
		break;
	case H_REGISTERED:
		h.registered = 100000;
		break;
	case H_TAGS:
		/* A full ring and the end of stream; every tag is bogus. */
		h.head = h.total = h.capacity;
		h.count = h.capacity;
		h.eos = 1;
		h.state = ST_DRAINING;
		break;
	}
	if (h.count != p.count && hr->kind == H_TAGS) {
		/* The layout must still match the count: start again. */
		p.count = h.count;
		ck_assert_int_eq(seg_create(IPC_PRIVATE, &p, &tr), 0);
		h.ledger_off = tr.hdr->ledger_off;
		h.size = tr.hdr->size;
		real = h.size;
		ck_assert_int_eq(shmdt(tr.hdr), 0);
		ck_assert_int_eq(shmctl(tr.shmid, IPC_RMID, NULL), 0);
	}
	shmid = shmget(key.key, real, IPC_CREAT | IPC_EXCL | 0600);
	ck_assert_msg(shmid != -1, "shmget: %s", strerror(errno));
	base = shmat(shmid, NULL, 0);
	ck_assert(base != (void *)-1);
	memcpy(base, &h, real < sizeof(h) ? real : sizeof(h));
	if (hr->kind == H_TAGS) {
		tags = (uint64_t *)(void *)(base + h.tags_off);
		for (i = 0; i < h.capacity; i++)
			tags[i] = h.count + 1000000 + i;
		su.val = (int)h.capacity + 1;		/* items + token */
		ck_assert_int_eq(semctl(semid, SEM_FULL, SETVAL, su), 0);
		su.val = 0;
		ck_assert_int_eq(semctl(semid, SEM_EMPTY, SETVAL, su), 0);
	}
	ck_assert_int_eq(shmdt(base), 0);

	consumer_base(&ca, 1);
	args_add(&ca, "-t", "2", NULL);
	spawn(&cons, "consumer", ca.v);
	(void)wait_proc(&cons, QUICK_MS);
	err = tu_err_text(&cons);
	ck_assert_msg(cons.done && !cons.timed_out, "%s: the consumer hung",
	    hr->what);
	ck_assert_msg(tu_exit_code(&cons) == 3, "%s: consumer exit %d, want "
	    "3; stderr: %.1500s", hr->what, tu_exit_code(&cons), err);
	ck_assert_msg(err[0] != '\0', "%s: refused without a message",
	    hr->what);
	ck_assert_msg(strstr(err, hr->want) != NULL, "%s: the message does "
	    "not mention \"%s\": %.1500s", hr->what, hr->want, err);
	free(err);
	(void)tu_ipc_remove_key(key.key);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&ca);
}
END_TEST

/* Bad numbers: exit 2, one line on stderr, nothing created. */
static const struct bad {
	const char	*prog;		/* producer, consumer or demo */
	const char	*args[5];
} bad_rows[] = {
	{ "producer", { "-c", "-1" } },
	{ "producer", { "-c", "abc" } },
	{ "producer", { "-c", "" } },
	{ "producer", { "-c", "1099511627777" } },
	{ "producer", { "-c", "99999999999999999999" } },
	{ "producer", { "-b", "0" } },
	{ "producer", { "-b", "32767" } },
	{ "producer", { "-b", "1x" } },
	{ "producer", { "-B", "0" } },
	{ "producer", { "-B", "65537" } },
	{ "producer", { "-B", "-3" } },
	{ "producer", { "-n", "513" } },
	{ "producer", { "-n", "-1" } },
	{ "producer", { "-n", "x" } },
	{ "producer", { "-m", "broadcast", "-n", "0" } },
	{ "producer", { "-p", "0" } },
	{ "producer", { "-p", "256" } },
	{ "producer", { "-p", "abc" } },
	{ "producer", { "-t", "0" } },
	{ "producer", { "-t", "86401" } },
	{ "producer", { "-t", "1.5" } },
	{ "producer", { "--delay", "-1" } },
	{ "producer", { "--delay", "60001" } },
	{ "producer", { "--delay", "fast" } },
	{ "producer", { "--jitter", "-1" } },
	{ "producer", { "--jitter", "100001" } },
	{ "producer", { "--jitter", "x" } },
	{ "producer", { "--perm", "0400" } },
	{ "producer", { "--perm", "999" } },
	{ "producer", { "--perm", "abc" } },
	{ "producer", { "--perm", "01600" } },
	{ "producer", { "--perm", "-0600" } },
	{ "producer", { "-s", "-1" } },
	{ "producer", { "-s", "x" } },
	{ "producer", { "-s", "9223372036854775808" } },
	{ "producer", { "--clean", "-K", "nonsense" } },
	{ "producer", { "--clean", "-K", "0" } },
	{ "producer", { "--clean", "-K", "0x1ffffffff" } },
	{ "producer", { "--clean", "-K", "0x1234zz" } },
	{ "consumer", { "-n", "0" } },
	{ "consumer", { "-n", "513" } },
	{ "consumer", { "-n", "abc" } },
	{ "consumer", { "-B", "0" } },
	{ "consumer", { "-B", "65537" } },
	{ "consumer", { "-p", "0" } },
	{ "consumer", { "-p", "256" } },
	{ "consumer", { "-t", "0" } },
	{ "consumer", { "-t", "x" } },
	{ "consumer", { "--delay", "-1" } },
	{ "consumer", { "--delay", "60001" } },
	{ "consumer", { "-m", "both" } },
	{ "demo", { "-n", "0" } },
	{ "demo", { "-n", "513" } },
	{ "demo", { "-n", "x" } },
	{ "demo", { "-n" } },
	{ "demo", { "-c", "-1" } },
	{ "demo", { "-c", "1099511627777" } },
	{ "demo", { "-c", "1e6" } },
	{ "demo", { "-b", "0" } },
	{ "demo", { "-b", "32767" } },
	{ "demo", { "-B", "0" } },
	{ "demo", { "-B", "65537" } },
	{ "demo", { "-t", "0" } },
	{ "demo", { "-s", "-1" } },
	{ "demo", { "--delay", "60001" } },
	{ "demo", { "--delay", "x" } },
	{ "demo", { "--jitter", "100001" } },
	{ "demo", { "-m", "both" } },
};

START_TEST(test_bad_option)
{
	const struct bad *b = &bad_rows[_i];
	struct tu_snap before, after;
	struct tu_proc p;
	struct args a;
	struct demo d;
	char report[PATH_MAX], line[128], what[512], *err, *nl;
	size_t i;

	use_key();
	path_in(report, "report.json");
	line[0] = '\0';
	for (i = 0; i < 5 && b->args[i] != NULL; i++) {
		(void)strncat(line, " ", sizeof(line) - strlen(line) - 1);
		(void)strncat(line, b->args[i],
		    sizeof(line) - strlen(line) - 1);
	}
	ck_assert_int_eq(tu_snap_take(&before), 0);
	a.n = 0;
	if (strcmp(b->prog, "demo") == 0) {
		demo_spawn(&p, "demo", &d, b->args[0], b->args[1], b->args[2],
		    NULL);
	} else {
		if (strcmp(b->prog, "producer") == 0)
			producer_base(&a, report);
		else
			consumer_base(&a, 1);
		args_add(&a, "-t", "1", NULL);
		for (i = 0; i < 5 && b->args[i] != NULL; i++)
			arg(&a, "%s", b->args[i]);
		spawn(&p, b->prog, a.v);
	}
	(void)wait_proc(&p, QUICK_MS);
	ck_assert_int_eq(tu_snap_take(&after), 0);
	err = tu_err_text(&p);
	ck_assert_msg(tu_exit_code(&p) == 2, "%s%s: exit %d, want 2; stderr: "
	    "%s", b->prog, line, tu_exit_code(&p), err);
	nl = strchr(err, '\n');
	ck_assert_msg(err[0] != '\0' && nl != NULL && nl[1] == '\0',
	    "%s%s: want one line on stderr, got: %s", b->prog, line, err);
	free(err);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	ck_assert_msg(tu_snap_new(&before, &after, 1, what, sizeof(what)) == 0,
	    "%s%s created: %s", b->prog, line, what);
	ck_assert_msg(access(report, F_OK) == -1, "a report was written");
	if (strcmp(b->prog, "demo") == 0)
		ck_assert_msg(dir_entries(d.tmpdir) == 0, "run_demo.sh%s made "
		    "a directory", line);
	tu_snap_free(&before);
	tu_snap_free(&after);
	args_free(&a);
}
END_TEST

/*
 * Kernel limits, checked before anything is created: exit 2 (or 3 when the
 * system is out of ids) and a message naming the limit.  The limits are
 * lowered in a private IPC namespace (root only), so the host's stay as
 * they are; the first row uses the host's own SEMOPM when it is lower
 * than the largest -n.
 */
static const struct limit {
	const char	*file;		/* kernel/FILE, or NULL */
	int		 field;		/* of kernel/sem: 0..3 */
	long		 value;
	const char	*args[4];
	int		 want_exit;
	const char	*want;
} limit_rows[] = {
	{ NULL, 0, 0, { "-m", "broadcast" }, 2, "SEMOPM" },
	{ "sem", 0, 100, { "-m", "broadcast", "-n", "60" }, 2, "SEMMSL" },
	{ "sem", 2, 16, { "-m", "broadcast", "-n", "17" }, 2, "SEMOPM" },
	{ "shmmax", 0, 65536, { "-c", "1000000" }, 2, "SHMMAX" },
	{ "shmall", 0, 4, { "-c", "100000" }, 2, "SHMALL" },
	{ "shmmni", 0, 0, { "-c", "10" }, 3, "SHMMNI" },
	{ "sem", 3, 0, { "-c", "10" }, 3, "SEMMNI" },
};

/* Writes one limit in the current IPC namespace. */
static int
set_limit(const struct limit *l)
{
	char path[64], buf[128];
	long v[4];
	FILE *fp;
	int r;

	(void)snprintf(path, sizeof(path), "/proc/sys/kernel/%s", l->file);
	if (strcmp(l->file, "sem") == 0) {
		if ((fp = fopen(path, "r")) == NULL)
			return -1;
		r = fscanf(fp, "%ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3]);
		(void)fclose(fp);
		if (r != 4)
			return -1;
		v[l->field] = l->value;
		(void)snprintf(buf, sizeof(buf), "%ld %ld %ld %ld\n", v[0],
		    v[1], v[2], v[3]);
	} else
		(void)snprintf(buf, sizeof(buf), "%ld\n", l->value);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	r = fputs(buf, fp);
	return fclose(fp) == EOF || r == EOF ? -1 : 0;
}

/* Lines in a /proc/sysvipc table after its heading. */
static int
sysvipc_lines(const char *path)
{
	char *s = tu_read_file(path, NULL), *p;
	int n = 0;

	if (s == NULL)
		return -1;
	for (p = s; *p != '\0'; p++)
		n += *p == '\n';
	free(s);
	return n > 0 ? n - 1 : 0;
}

START_TEST(test_kernel_limit)
{
	const struct limit *l = &limit_rows[_i];
	struct tu_snap before, after;
	struct tu_proc p;
	struct args a;
	char report[PATH_MAX], what[512], *err;
	int semmsl, semmns, semopm, semmni, fd, st, objs;
	pid_t pid, inner;
	size_t i;

	use_key();
	path_in(report, "report.json");
	producer_base(&a, report);
	for (i = 0; i < 4 && l->args[i] != NULL; i++)
		arg(&a, "%s", l->args[i]);
	if (l->file == NULL) {
		ck_assert_int_eq(sem_limits(&semmsl, &semmns, &semopm, &semmni),
		    0);
		if (semopm >= SHM_MAX_CONSUMERS) {
			fprintf(stderr, "check_faults: host SEMOPM %d allows "
			    "every -n: row skipped\n", semopm);
			args_free(&a);
			return;
		}
		arg(&a, "-n");
		arg(&a, "%d", semopm + 1);
		ck_assert_int_eq(tu_snap_take(&before), 0);
		spawn(&p, "producer", a.v);
		finish(&p, "producer beyond the host's SEMOPM", l->want_exit,
		    QUICK_MS);
		ck_assert_int_eq(tu_snap_take(&after), 0);
		ck_assert_msg(tu_snap_new(&before, &after, 1, what,
		    sizeof(what)) == 0, "created: %s", what);
		tu_snap_free(&before);
		tu_snap_free(&after);
	} else {
		if (geteuid() != 0) {
			fprintf(stderr, "check_faults: %s row skipped: "
			    "lowering a limit in a private IPC namespace needs "
			    "root\n", l->want);
			args_free(&a);
			return;
		}
		/*
		 * The child enters a new IPC namespace, lowers the limit,
		 * runs the producer, and counts the objects left in the
		 * namespace before it dies with it.  Exit: the producer's,
		 * 100 + objects left, or 77 when no namespace could be had.
		 */
		pid = tu_fork();
		ck_assert_int_ne(pid, -1);
		if (pid == 0) {
			if (unshare(CLONE_NEWIPC) == -1)
				_exit(77);
			if (set_limit(l) == -1)
				_exit(78);
			fflush(NULL);
			inner = fork();
			if (inner == -1)
				_exit(79);
			if (inner == 0) {
				tu_path(what, sizeof(what), "producer.err");
				fd = open(what, O_WRONLY | O_CREAT | O_TRUNC,
				    0600);
				if (fd == -1 || dup2(fd, STDERR_FILENO) == -1)
					_exit(126);
				(void)signal(SIGUSR1, SIG_DFL);
				execv(a.v[0], a.v);
				_exit(127);
			}
			while (waitpid(inner, &st, 0) == -1 && errno == EINTR)
				;
			objs = sysvipc_lines("/proc/sysvipc/shm") +
			    sysvipc_lines("/proc/sysvipc/sem");
			if (objs > 0)
				_exit(100 + objs);
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 99);
		}
		adopt(&p, pid);
		ck_assert_int_eq(tu_path(p.err, sizeof(p.err), "producer.err"),
		    0);
		(void)wait_proc(&p, QUICK_MS);
		if (tu_exit_code(&p) == 77) {
			fprintf(stderr, "check_faults: %s row skipped: no "
			    "private IPC namespace (unshare: not permitted)\n",
			    l->want);
			args_free(&a);
			return;
		}
		ck_assert_msg(tu_exit_code(&p) != 78, "could not lower %s in "
		    "the namespace", l->file);
		ck_assert_msg(tu_exit_code(&p) < 100, "the producer left %d "
		    "objects behind with %s lowered", tu_exit_code(&p) - 100,
		    l->want);
		tu_expect_exit(&p, l->want, l->want_exit);
	}
	err = tu_err_text(&p);
	ck_assert_msg(strstr(err, l->want) != NULL, "the message does not "
	    "name %s: %s", l->want, err);
	free(err);
	ck_assert_msg(access(report, F_OK) == -1, "a report was written");
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&a);
}
END_TEST

/* ============================================================ isolation */

static const struct {
	const char	*perm;		/* --perm, or NULL */
	mode_t		 want;
} mode_rows[] = {
	{ NULL, 0600 },
	{ "0660", 0660 },
	{ "0640", 0640 },
};

/* Objects are created 0600; --perm widens both through IPC_SET. */
START_TEST(test_object_modes)
{
	struct tu_proc prod;
	struct shm_ring r;
	struct shmid_ds ds;
	struct semid_ds sds;
	union semun su;
	struct args pa;
	int shmid, semid;

	use_key();
	producer_base(&pa, NULL);
	args_add(&pa, "-c", "10", "-n", "1", NULL);
	if (mode_rows[_i].perm != NULL)
		args_add(&pa, "--perm", mode_rows[_i].perm, NULL);
	spawn(&prod, "producer", pa.v);
	attach_ready(key.key, &r);
	shmid = r.shmid;
	ck_assert_int_eq(seg_detach(&r), 0);
	semid = semget(key.key, 0, 0);
	ck_assert_int_ne(semid, -1);
	ck_assert_int_eq(shmctl(shmid, IPC_STAT, &ds), 0);
	su.buf = &sds;
	ck_assert_int_eq(semctl(semid, 0, IPC_STAT, su), 0);
	ck_assert_msg((ds.shm_perm.mode & 0777) == mode_rows[_i].want, "shm "
	    "mode %04o, want %04o", ds.shm_perm.mode & 0777,
	    mode_rows[_i].want);
	ck_assert_msg((sds.sem_perm.mode & 0777) == mode_rows[_i].want, "sem "
	    "mode %04o, want %04o", sds.sem_perm.mode & 0777,
	    mode_rows[_i].want);
	ck_assert_int_eq(kill(prod.pid, SIGTERM), 0);
	finish(&prod, "producer", 3, 5000);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
}
END_TEST

/* What a process running as nobody got from each call. */
enum {
	NB_UID, NB_SHMAT_RO, NB_SHMAT_RW, NB_SHM_STAT, NB_SHM_RMID,
	NB_SEMOP_READ, NB_SEMOP_ALTER, NB_SEM_STAT, NB_SEM_RMID, NB_N
};

/*
 * Another user (a child that drops to nobody) can neither attach to nor
 * operate on a default run's objects, nor remove them; the run goes on
 * and verifies.
 */
START_TEST(test_nobody_denied)
{
	static const char *names[NB_N] = {
		"uid", "shmat(SHM_RDONLY)", "shmat", "shmctl(IPC_STAT)",
		"shmctl(IPC_RMID)", "semop(wait for zero)", "semop(+1)",
		"semctl(IPC_STAT)", "semctl(IPC_RMID)"
	};
	static const int want[NB_N] = {
		0, EACCES, EACCES, EACCES, EPERM, EACCES, EACCES, EACCES, EPERM
	};
	struct tu_proc prod, cons, child;
	struct shm_ring r;
	struct args pa, ca;
	struct passwd *pw;
	struct shmid_ds ds;
	struct semid_ds sds;
	struct sembuf op;
	union semun su;
	char report[PATH_MAX], *js;
	int res[NB_N], fds[2], shmid, semid, i;
	ssize_t n;
	void *at;
	pid_t pid;

	if (geteuid() != 0) {
		fprintf(stderr, "check_faults: test_nobody_denied skipped: "
		    "dropping to user nobody needs root\n");
		return;
	}
	pw = getpwnam("nobody");
	if (pw == NULL) {
		fprintf(stderr, "check_faults: test_nobody_denied skipped: "
		    "no user nobody\n");
		return;
	}
	use_key();
	path_in(report, "report.json");
	producer_base(&pa, report);
	args_add(&pa, "-c", "1000", "-n", "1", NULL);
	spawn(&prod, "producer", pa.v);
	attach_ready(key.key, &r);
	shmid = r.shmid;
	semid = r.semid;
	ck_assert_int_eq(seg_detach(&r), 0);

	ck_assert_int_eq(pipe(fds), 0);
	pid = tu_fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		(void)close(fds[0]);
		for (i = 0; i < NB_N; i++)
			res[i] = -1;
		if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
		    setuid(pw->pw_uid) == -1 || getuid() == 0)
			_exit(1);
		res[NB_UID] = 0;
		errno = 0;
		at = shmat(shmid, NULL, SHM_RDONLY);
		res[NB_SHMAT_RO] = at == (void *)-1 ? errno : 0;
		at = shmat(shmid, NULL, 0);
		res[NB_SHMAT_RW] = at == (void *)-1 ? errno : 0;
		res[NB_SHM_STAT] = shmctl(shmid, IPC_STAT, &ds) == -1 ? errno :
		    0;
		res[NB_SHM_RMID] = shmctl(shmid, IPC_RMID, NULL) == -1 ? errno :
		    0;
		op.sem_num = SEM_MUTEX;
		op.sem_op = 0;
		op.sem_flg = IPC_NOWAIT;
		res[NB_SEMOP_READ] = semop(semid, &op, 1) == -1 ? errno : 0;
		op.sem_num = SEM_JOIN;
		op.sem_op = 1;
		op.sem_flg = 0;
		res[NB_SEMOP_ALTER] = semop(semid, &op, 1) == -1 ? errno : 0;
		su.buf = &sds;
		res[NB_SEM_STAT] = semctl(semid, 0, IPC_STAT, su) == -1 ?
		    errno : 0;
		res[NB_SEM_RMID] = semctl(semid, 0, IPC_RMID) == -1 ? errno :
		    0;
		n = write(fds[1], res, sizeof(res));
		_exit(n == (ssize_t)sizeof(res) ? 0 : 2);
	}
	(void)close(fds[1]);
	adopt(&child, pid);
	n = read(fds[0], res, sizeof(res));
	(void)close(fds[0]);
	finish(&child, "the child running as nobody", 0, QUICK_MS);
	ck_assert_int_eq(n, (ssize_t)sizeof(res));
	for (i = 0; i < NB_N; i++)
		ck_assert_msg(res[i] == want[i], "as nobody, %s gave %s, want "
		    "%s", names[i], res[i] ? strerror(res[i]) : "success",
		    want[i] ? strerror(want[i]) : "success");

	ck_assert_int_eq(shmget(key.key, 0, 0), shmid);
	ck_assert_int_eq(semget(key.key, 0, 0), semid);
	consumer_base(&ca, 1);
	spawn(&cons, "consumer", ca.v);
	finish(&cons, "consumer", 0, RUN_MS);
	finish(&prod, "producer", 0, RUN_MS);
	js = tu_read_report(report);
	ck_assert_msg(tu_jbool(js, "verified") == 1, "not verified: %.1500s",
	    js);
	free(js);
	ck_assert_int_eq(tu_ipc_count_key(key.key), 0);
	args_free(&pa);
	args_free(&ca);
}
END_TEST

/* Eight run_demo.sh runs at once, each on its own key: all verify. */
START_TEST(test_concurrent_demos)
{
	struct tu_proc p[DEMO_RUNS];
	struct demo d[DEMO_RUNS];
	char sub[16], name[32], *out;
	int i, j;

	for (i = 0; i < DEMO_RUNS; i++) {
		(void)snprintf(sub, sizeof(sub), "r%d", i);
		/* Paced runs span the fast ones, so all of them overlap. */
		if (i % 2 == 0)
			demo_spawn(&p[i], sub, &d[i], "-n", "3", "-c", "1500",
			    "-b", "10", "--delay", "1", NULL);
		else
			demo_spawn(&p[i], sub, &d[i], "-n", "3", "-c", "300000",
			    "-b", "10", NULL);
	}
	for (i = 0; i < DEMO_RUNS; i++)
		demo_find(&d[i], &p[i]);
	for (i = 0; i < DEMO_RUNS; i++)
		for (j = 0; j < i; j++)
			ck_assert_msg(d[i].daemon <= 0 || d[j].daemon <= 0 ||
			    d[i].key != d[j].key, "runs %d and %d got the same "
			    "key 0x%08x", j, i, (unsigned)d[i].key);
	for (i = 0; i < DEMO_RUNS; i++) {
		(void)snprintf(name, sizeof(name), "run_demo.sh #%d", i);
		finish(&p[i], name, 0, RUN_MS);
		out = tu_out_text(&p[i]);
		ck_assert_msg(strstr(out, "VERIFIED") != NULL, "%s did not "
		    "verify: %.1500s", name, out);
		free(out);
	}
	for (i = 0; i < DEMO_RUNS; i++) {
		ck_assert_msg(d[i].daemon <= 0 || wait_key_empty(d[i].key,
		    2000), "run %d left objects under key 0x%08x", i,
		    (unsigned)d[i].key);
		rm_tree(d[i].tmpdir, 0);
	}
}
END_TEST

/* ---------------------------------------------------------------- suite */

#define NELEM(a)	((int)(sizeof(a) / sizeof((a)[0])))

/*
 * Issue 9: every exit after the objects exist removes both.  The
 * test-only hook SHMLAB_FAIL makes one step of the run fail (--perm's
 * IPC_SET, the producer's allocation), with -d or without: the run ends
 * with status 3 (a daemon's caller: 3 before the run is ready, 0 after),
 * its reason on stderr and in the report, nothing under its key in ipcs,
 * and no pidfile.  "sigaction" fails just before the objects are made:
 * nothing is created, and a daemon's pidfile goes too.
 */
static const struct exit_row {
	const char	*step;
	const char	*says;
	int		 daemon;
	int		 perm;
	int		 caller;	/* the exit status of the command */
} exit_rows[] = {
	{ "perm", "IPC_SET (--perm)", 0, 1, 3 },
	{ "perm", "IPC_SET (--perm)", 1, 1, 3 },
	{ "alloc", "out of memory", 0, 0, 3 },
	{ "alloc", "out of memory", 1, 0, 0 },
	{ "sigaction", "sigaction", 1, 0, 3 },
	{ "sigaction", "sigaction", 0, 1, 3 },
};

START_TEST(test_exit_after_create)
{
	const struct exit_row *r = &exit_rows[_i];
	char pidpath[PATH_MAX], report[PATH_MAX], *e, *js;
	struct args a = { 0 };
	struct tu_proc prod;
	uint64_t end;

	use_key();
	path_in(pidpath, "producer.pid");
	path_in(report, "report.json");
	producer_base(&a, report);
	args_add(&a, "-c", "100", NULL);
	if (r->daemon)
		args_add(&a, "-d", "-P", pidpath, NULL);
	if (r->perm)
		args_add(&a, "--perm", "0640", NULL);
	spawn_env(&prod, "producer", a.v, "SHMLAB_FAIL", r->step);
	args_free(&a);
	finish(&prod, "producer", r->caller, QUICK_MS);
	/* A daemon that was ready ends on its own: its pidfile goes last. */
	end = tu_now_ms() + (uint64_t)tu_ms(QUICK_MS);
	while (access(pidpath, F_OK) == 0 && tu_now_ms() < end) {
		reap_all();
		tu_sleep_ms(5);
	}
	e = tu_err_text(&prod);
	ck_assert_msg(strstr(e, r->says) != NULL, "SHMLAB_FAIL=%s: stderr "
	    "does not say \"%s\": %s", r->step, r->says, e);
	free(e);
	ck_assert_msg(tu_ipc_count_key(key.key) == 0, "SHMLAB_FAIL=%s%s: "
	    "objects left under key 0x%08x", r->step, r->daemon ? " -d" : "",
	    (unsigned)key.key);
	ck_assert_msg(access(pidpath, F_OK) == -1 && errno == ENOENT,
	    "SHMLAB_FAIL=%s: the pidfile %s is left", r->step, pidpath);
	if (strcmp(r->step, "sigaction") == 0) {
		ck_assert_msg(access(report, F_OK) == -1, "a report from a "
		    "run that never started");
		return;
	}
	js = tu_read_report(report);
	ck_assert_uint_eq(tu_jnum(js, "exit_status"), 3);
	free(js);
}
END_TEST

static Suite *
faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc;

	tc = tcase_create("deaths");
	tcase_add_checked_fixture(tc, faults_setup, faults_teardown);
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_kill_holding_mutex);
	tcase_add_test(tc, test_kill_after_copy);
	tcase_add_test(tc, test_kill_small_claim);
	tcase_add_test(tc, test_kill_small_claim_after_copy);
	tcase_add_test(tc, test_kill_outside_mutex);
	tcase_add_test(tc, test_producer_killed);
	tcase_add_test(tc, test_all_consumers_killed);
	tcase_add_test(tc, test_consumer_stopped);
	suite_add_tcase(s, tc);

	tc = tcase_create("signals");
	tcase_add_checked_fixture(tc, faults_setup, faults_teardown);
	tcase_set_timeout(tc, 40);
	tcase_add_loop_test(tc, test_producer_stopped_by_signal, 0,
	    NELEM(stop_signals));
	tcase_add_test(tc, test_broadcast_stopped_while_gathering);
	tcase_add_loop_test(tc, test_sigusr1_counters, 0, USR1_ROWS);
	tcase_add_test(tc, test_run_demo_interrupted);
	suite_add_tcase(s, tc);

	tc = tcase_create("objects");
	tcase_add_checked_fixture(tc, faults_setup, faults_teardown);
	tcase_set_timeout(tc, 40);
	tcase_add_test(tc, test_sem_removed);
	tcase_add_loop_test(tc, test_shm_removed, 0, SHMRM_ROWS);
	tcase_add_test(tc, test_stale_objects);
	tcase_add_test(tc, test_clean_refuses_live_run);
	tcase_add_loop_test(tc, test_clean_refuses_foreign, 0, FOREIGN_ROWS);
	tcase_add_test(tc, test_run_demo_clean);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, faults_setup, faults_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, test_hostile_segment, 0, NELEM(hostile_rows));
	tcase_add_loop_test(tc, test_bad_option, 0, NELEM(bad_rows));
	tcase_add_loop_test(tc, test_kernel_limit, 0, NELEM(limit_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("isolation");
	tcase_add_checked_fixture(tc, faults_setup, faults_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_object_modes, 0, NELEM(mode_rows));
	tcase_add_test(tc, test_nobody_denied);
	tcase_add_test(tc, test_concurrent_demos);
	suite_add_tcase(s, tc);

	tc = tcase_create("exits");
	tcase_add_checked_fixture(tc, faults_setup, faults_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, test_exit_after_create, 0, NELEM(exit_rows));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	tu_init();
	sr = srunner_create(faults_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
