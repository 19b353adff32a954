/*
 * producer - creates a shmlab run and produces its items.
 *
 * Creates the semaphore set, then the shared memory segment, both with
 * IPC_CREAT | IPC_EXCL and mode 0600 (widened only by --perm, through
 * IPC_SET), writes the items 0 .. count-1 through the ring, posts the
 * end-of-stream token, waits until every consumer has finished and
 * detached, reports the ledger, and removes both objects.  It removes them
 * on every path after creating them, failures included.
 *
 *	producer -c 1000 -b 10 &	# then: consumer -n 3
 *	producer -d -P /tmp/p.pid -n 3 -o report.json
 *
 * Exit status: 0 verified, 1 damage in the ledger, 2 bad usage, 3 an IPC or
 * peer failure (see docs/DESIGN.md).
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libutil.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "runopts.h"
#include "shmlib.h"
#include "slides_main.h"
#include "walkthrough.h"

#define TICK_MS		SHM_TICK_MS	/* semop bound, then look around */
#define GRACE_MS	1000	/* for attached processes to detach */
#define STOP_DRAIN_MS	2000	/* drain bound after SIGINT/SIGTERM */
#define SETTLE_MS	1000	/* for consumers to notice an abort */

enum fault_kind { F_NONE, F_DROP, F_DUP, F_SWAP, F_CORRUPT };

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t dump_flag;

static struct shm_ring ring;
static struct shm_params par;
static int	 semid = -1;
static int	 own_objects;		/* we created them: we remove them */
static int	 need_recovery;		/* a queue consumer died: resync */
static int	 verbose = 1;
static int	 delay_ms;
static int	 timeout_s = 30;
static const char *json_path, *text_path;
static int	 json_stdout;
static const char *abort_msg;
static char	 abort_buf[256];
/* abort_buf in the user's language, for the table and stderr (abort_set). */
static char	 abort_text[256];
static char	 title_role[16] = "producer";
static uint64_t	 last_title_ns;
static enum fault_kind fault = F_NONE;
static uint64_t	 fault_seq;
static const char *fault_spec;
static struct pidfh *pfh;
static int	 ready_fd = -1;		/* -d: tells the caller we are ready */
/*
 * The segment is hostile input: anyone who can write it can change any
 * field.  What the producer wrote once it keeps here and never reads
 * back; head and state it alone writes, so it keeps its own copies.
 */
static struct shm_header orig;
static uint64_t	 my_head;
static uint32_t	 my_state;
static uint64_t	 last_motion, motion_ns;	/* progress: see stalled() */

static void	 usage(void) __attribute__((noreturn));
static void	 on_signal(int);
static void	 parse_fault(void);
static uint64_t	 stream_total(void);
static uint64_t	 stream_seq(uint64_t);
static void	 check_limits(void);
static void	 create_objects(key_t, const char *);
static void	 explain_eexist(key_t, const char *);
static key_t	 run_key(struct run_opts *, int);
static void	 check_outputs(const char *, const char *, const char *);
static void	 daemon_start(const char *);
static int	 widen(mode_t);
static void	 daemon_ready(const char *);
static int	 tick(void);
static int	 wait_ops(struct sembuf *, size_t);
static int	 join_wait(void);
static int	 recover_queue(void);
static int	 claimer_stale(void);
static void	 claimer_mark_dead(void);
static void	 account_claim(struct shm_consumer *);
static int	 live_consumers(int *);
static uint32_t build_ops(struct sembuf *, int, short, short);
static uint64_t free_hint(uint64_t);
static void	 produce_safe(void);
static int	 read_ulong(const char *, unsigned long long *);
static long long count_lines(const char *);
static long long sum_column(const char *, int);
static void	 produce_unsafe(void);
static void	 post_eos(void);
static void	 drain(void);
static void	 settle(void);
static void	 finish(void) __attribute__((noreturn));
static void	 dump_counters(void);
static int	 title(void);
static void	 write_report(const struct shm_report *);
static void	 abort_set(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static void	 fatal_ipc(const char *);
static void	 set_state(uint32_t);
static uint32_t registered_now(void);
static int	 seg_damaged(void);
static void	 damage(const char *, ...) __attribute__((format(printf, 1, 2)));
static int	 record_damaged(uint32_t);
static uint64_t	 motion(void);
static int	 stalled(const char *);

static void
usage(void)
{
	fprintf(stderr, _("usage: %s [-d] [-c count] [-b maxbuf] [-B batch] "
	    "[-m queue|broadcast] [-n consumers]\n"
	    "\t[-k keyfile] [-p proj_id] [-P pidfile] [-s seed] [-t seconds]\n"
	    "\t[-o report.json] [-r report.txt] [--json] [--delay ms] "
	    "[--perm mode]\n"
	    "\t[--unsafe] [--jitter us] [--no-verify] [-q]\n"
	    "       %s --clean [-k keyfile [-p proj_id] | -K key]\n"
	    "       %s --walkthrough [--step] [-k keyfile] [-p proj_id] "
	    "[--perm mode]\n"),
	    getprogname(), getprogname(), getprogname());
	exit(2);
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_flag = 1;
	else
		stop_flag = 1;
}

/*
 * SHMLAB_FAULT is a test-only hook: "drop:S", "dup:S", "swap:S" or
 * "corrupt:S" makes the producer deliberately misbehave at sequence number
 * S, so that the tests can prove the ledger's exact counts.  The report
 * names the fault, so nobody mistakes such a run for a real one.
 */
static void
parse_fault(void)
{
	const char *s, *errstr, *colon;
	char kind[16];
	size_t n;

	s = getenv("SHMLAB_FAULT");
	if (s == NULL || *s == '\0')
		return;
	colon = strchr(s, ':');
	if (colon == NULL || (n = (size_t)(colon - s)) >= sizeof(kind))
		errx(2, _("SHMLAB_FAULT %s: want KIND:SEQ"), s);
	memcpy(kind, s, n);
	kind[n] = '\0';
	if (strcmp(kind, "drop") == 0)
		fault = F_DROP;
	else if (strcmp(kind, "dup") == 0)
		fault = F_DUP;
	else if (strcmp(kind, "swap") == 0)
		fault = F_SWAP;
	else if (strcmp(kind, "corrupt") == 0)
		fault = F_CORRUPT;
	else
		errx(2, _("SHMLAB_FAULT %s: kind is drop, dup, swap or corrupt"),
		    s);
	fault_seq = (uint64_t)strtonum(colon + 1, 0, SHM_COUNT_MAX, &errstr);
	if (errstr != NULL)
		errx(2, _("SHMLAB_FAULT sequence %s: %s"), colon + 1,
		    strtonum_word(errstr));
	if (fault_seq + (fault == F_SWAP ? 1 : 0) >= par.count)
		errx(2, _("SHMLAB_FAULT %s: sequence beyond count %llu"), s,
		    (unsigned long long)par.count);
	fault_spec = s;
}

/* Ring positions the producer writes: count, or one more or less. */
static uint64_t
stream_total(void)
{
	if (fault == F_DROP)
		return par.count - 1;
	if (fault == F_DUP)
		return par.count + 1;
	return par.count;
}

/* The sequence number written at ring position pos. */
static uint64_t
stream_seq(uint64_t pos)
{
	switch (fault) {
	case F_DROP:
		return pos < fault_seq ? pos : pos + 1;
	case F_DUP:
		return pos <= fault_seq ? pos : pos - 1;
	case F_SWAP:
		if (pos == fault_seq)
			return pos + 1;
		return pos == fault_seq + 1 ? fault_seq : pos;
	default:
		return pos;
	}
}

static int
read_ulong(const char *path, unsigned long long *v)
{
	FILE *fp;
	int n;

	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	n = fscanf(fp, "%llu", v);
	(void)fclose(fp);
	return n == 1 ? 0 : -1;
}

/* Lines in a /proc/sysvipc table, less its heading: objects in use. */
static long long
count_lines(const char *path)
{
	FILE *fp;
	long long n = 0;
	int c;

	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while ((c = getc(fp)) != EOF)
		if (c == '\n')
			n++;
	(void)fclose(fp);
	return n > 0 ? n - 1 : 0;
}

/*
 * The sum of one numeric column (0-based) of a /proc/sysvipc table:
 * the semaphores (nsems) or the bytes (size) already in use.
 */
static long long
sum_column(const char *path, int col)
{
	char line[512], *p, *end;
	long long sum = 0, v;
	FILE *fp;
	int i;

	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), fp) != NULL)	/* the heading */
		while (fgets(line, sizeof(line), fp) != NULL) {
			for (p = line, i = 0; i < col; i++) {
				p += strspn(p, " \t");
				p += strcspn(p, " \t");
			}
			v = strtoll(p, &end, 10);
			if (end != p && v > 0)
				sum += v;
		}
	(void)fclose(fp);
	return sum;
}

/*
 * Checks the kernel's limits before creating anything, so that the user
 * reads what to change instead of EINVAL, ENOSPC or E2BIG later.
 */
static void
check_limits(void)
{
	unsigned long long shmmax, shmall, shmmni;
	int semmsl, semmns, semopm, semmni, nsems;
	uint64_t size;
	long page;

	if (seg_layout(&par, &size) == -1)
		err(2, _("segment layout"));
	if (par.flags & SHM_F_UNSAFE)
		nsems = SEM_NSEMS(MODE_QUEUE, 0);
	else
		nsems = SEM_NSEMS(par.mode, par.expected);
	if (sem_limits(&semmsl, &semmns, &semopm, &semmni) == -1)
		err(3, _("reading /proc/sys/kernel/sem"));
	if (nsems > semmsl)
		errx(2, _("%u broadcast consumers need %d semaphores in one set, "
		    "but SEMMSL is %d: use at most %d consumers, or raise "
		    "SEMMSL in /proc/sys/kernel/sem"), par.expected, nsems,
		    semmsl, (semmsl - SEM_BASE) / 2);
	if (semopm < 2)
		errx(2, _("SEMOPM is %d, but a consumer takes an item and the "
		    "mutex in one semop of 2 operations: raise SEMOPM in "
		    "/proc/sys/kernel/sem"), semopm);
	if (sum_column("/proc/sysvipc/sem", 3) + nsems > (long long)semmns)
		errx(3, _("the system's semaphores in use and the %d this run "
		    "needs exceed SEMMNS (%d): remove stale sets ('run_demo.sh "
		    "clean', ipcs -s), or raise SEMMNS in /proc/sys/kernel/sem"),
		    nsems, semmns);
	if (par.mode == MODE_BROADCAST && (int)par.expected > semopm)
		errx(2, _("%u broadcast consumers need %u operations in one "
		    "semop, but SEMOPM is %d: use at most %d consumers, or "
		    "raise SEMOPM in /proc/sys/kernel/sem"), par.expected,
		    par.expected, semopm, semopm);
	if (read_ulong("/proc/sys/kernel/shmmax", &shmmax) == 0 &&
	    size > shmmax)
		errx(2, _("the segment needs %llu bytes but SHMMAX is %llu: "
		    "lower -c or -b, use --no-verify, or raise "
		    "/proc/sys/kernel/shmmax"), (unsigned long long)size, shmmax);
	if (read_ulong("/proc/sys/kernel/shmmni", &shmmni) == 0 &&
	    count_lines("/proc/sysvipc/shm") >= (long long)shmmni)
		errx(3, _("the system already has SHMMNI (%llu) shared memory "
		    "segments: remove stale ones ('run_demo.sh clean', ipcs), "
		    "or raise /proc/sys/kernel/shmmni"), shmmni);
	if (count_lines("/proc/sysvipc/sem") >= semmni)
		errx(3, _("the system already has SEMMNI (%d) semaphore sets: "
		    "remove stale ones ('run_demo.sh clean', ipcs), or raise "
		    "SEMMNI in /proc/sys/kernel/sem"), semmni);
	page = sysconf(_SC_PAGESIZE);
	if (page > 0 && read_ulong("/proc/sys/kernel/shmall", &shmall) == 0 &&
	    (size + (uint64_t)page - 1) / (uint64_t)page > shmall)
		errx(2, _("the segment needs %llu pages but SHMALL is %llu: "
		    "lower -c or use --no-verify"), (unsigned long long)
		    ((size + (uint64_t)page - 1) / (uint64_t)page), shmall);
	if (page > 0 && read_ulong("/proc/sys/kernel/shmall", &shmall) == 0 &&
	    (unsigned long long)((sum_column("/proc/sysvipc/shm", 3) + page -
	    1) / page) + (size + (uint64_t)page - 1) / (uint64_t)page > shmall)
		errx(3, _("the segments in use and this run's %llu bytes exceed "
		    "SHMALL (%llu pages): remove stale segments ('run_demo.sh "
		    "clean', ipcs -m), or raise /proc/sys/kernel/shmall"),
		    (unsigned long long)size, shmall);
}

/* The slides' IPC_SET: widen both objects deliberately (--perm). */
static int
widen(mode_t perm)
{
	union semun arg;
	struct shmid_ds ds;
	struct semid_ds sds;

	arg.buf = &sds;
	if (shmctl(ring.shmid, IPC_STAT, &ds) == -1)
		return -1;
	ds.shm_perm.mode = (unsigned short)perm;
	if (shmctl(ring.shmid, IPC_SET, &ds) == -1 ||
	    semctl(semid, 0, IPC_STAT, arg) == -1)
		return -1;
	sds.sem_perm.mode = (unsigned short)perm;
	return semctl(semid, 0, IPC_SET, arg);
}

/*
 * -d: the daemon itself creates the objects, so that their creator pid
 * (ipcs -p, shm_cpid) is the process that runs the run, and a live run
 * is never taken for a crashed one.  The caller waits on a pipe until
 * the daemon is ready (objects made, pidfile written) and exits 0, or
 * exits with the daemon's own status when it failed before that: the
 * caller's exit status still tells whether the run started.
 */
static void
daemon_start(const char *pidpath)
{
	int fds[2], st;
	ssize_t n;
	pid_t pid;
	char c;

	fflush(NULL);
	if (pipe(fds) == -1)
		err(3, _("pipe"));
	if ((pid = fork()) == -1)
		err(3, _("fork"));
	if (pid > 0) {
		(void)close(fds[1]);
		while ((n = read(fds[0], &c, 1)) == -1 && errno == EINTR)
			;
		if (n == 1)
			_exit(0);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 3);
	}
	(void)close(fds[0]);
	ready_fd = fds[1];
	if (setsid() == -1)
		warn(_("setsid"));
	/* At once: whoever cleans up after us finds us by the pidfile. */
	if (pidfile_write(pfh) == -1)
		warn(_("pidfile_write %s"), pidpath);
}

/* The daemon is ready: stdin and stdout to /dev/null, the caller may go. */
static void
daemon_ready(const char *pidpath)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd == -1 || dup2(fd, STDIN_FILENO) == -1 ||
	    dup2(fd, STDOUT_FILENO) == -1)
		warn(_("redirecting stdin/stdout to /dev/null"));
	if (fd > STDERR_FILENO)
		(void)close(fd);
	if (write(ready_fd, "r", 1) != 1 || close(ready_fd) == -1)
		warn(_("telling the caller of %s that the run is ready"), pidpath);
	ready_fd = -1;
}

/*
 * The files the run will write (pidfile, -o, -r) must be possible before
 * anything is created: a report that cannot be written is found out at
 * the start, not after the whole run.
 */
static void
check_outputs(const char *pid, const char *json, const char *text)
{
	const char *paths[3] = { pid, json, text }, *slash;
	char dir[PATH_MAX];
	struct stat st;
	int i;

	for (i = 0; i < 3; i++) {
		if (paths[i] == NULL)
			continue;
		if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
			errx(2, _("%s is a directory: want a file name for the "
			    "%s"), paths[i], i == 0 ? "pidfile" : "report");
		slash = strrchr(paths[i], '/');
		if (slash == NULL)
			(void)snprintf(dir, sizeof(dir), ".");
		else if (slash == paths[i])
			(void)snprintf(dir, sizeof(dir), "/");
		else
			(void)snprintf(dir, sizeof(dir), "%.*s",
			    (int)(slash - paths[i]), paths[i]);
		if (access(dir, W_OK | X_OK) == -1)
			errx(2, _("%s: cannot write in directory %s (%s): "
			    "nothing was done"), paths[i], dir, strerror(errno));
	}
}

/*
 * The key of a run or of --clean, from -k or the user's default file.
 * A run makes the key file the one way key files are made (missing: 0600;
 * a link or not a regular file: refused), and refuses a file of another
 * user's: consumers join only objects of the key file's owner
 * (seg_check_owner), so a run on it would be refused by every one of
 * them, and would block that user's own runs.  --clean never creates: it
 * returns (key_t)-1 with errno ENOENT when the default file is missing.
 */
static key_t
run_key(struct run_opts *o, int clean)
{
	int dflt = o->keypath == NULL;
	const char *path;
	char who[64];
	uid_t owner = (uid_t)-1;
	key_t key;

	if ((path = run_keypath(o)) == NULL)
		err(2, _("default key file path"));
	if (clean && dflt && access(path, F_OK) == -1 && errno == ENOENT)
		return (key_t)-1;
	if (!clean || dflt) {
		if (key_file_make(path, &owner) == 0 && owner != getuid()) {
			if (!dflt)
				errx(2, _("key file %s belongs to %s: a run on "
				    "it would pass for theirs; use a key file of "
				    "your own (-k)"), path,
				    uid_name(owner, who, sizeof(who)));
			errno = EPERM;	/* as key_ensure_file() says it */
			owner = (uid_t)-1;
		}
		if (owner == (uid_t)-1)
			err(3, dflt ? _("key file %s: cannot create it, or it is "
			    "not a regular file of yours; pass -k PATH") :
			    _("creating key file %s"), path);
	}
	if ((key = key_derive(path, o->proj)) == (key_t)-1)
		err(3, _("ftok(%s, %d): the key file must exist and be "
		    "readable"), path, o->proj);
	return key;
}

/*
 * EEXIST under IPC_EXCL: somebody else's run, or a crashed one of ours.
 * Say which, so the user knows whether to wait or to clean up.
 */
static void
explain_eexist(key_t key, const char *what)
{
	union semun arg;
	struct semid_ds sds;
	struct shmid_ds ds;
	char who[64];
	int id, sid;

	/* Another user's objects on our key: only they, or root, can help. */
	arg.buf = &sds;
	if ((sid = semget(key, 0, 0)) != -1 &&
	    semctl(sid, 0, IPC_STAT, arg) == 0 && (sds.sem_perm.uid !=
	    getuid() || sds.sem_perm.cuid != getuid()))
		errx(3, _("key 0x%08lx is held by %s's objects (sem id %d): "
		    "somebody else's run on your key; you cannot remove them. "
		    "Use another -k keyfile or -p proj_id, or ask that user or "
		    "root to remove them (ipcrm -s %d)"),
		    (unsigned long)(uint32_t)key,
		    uid_name(sds.sem_perm.cuid, who, sizeof(who)), sid, sid);
	id = shmget(key, 0, 0);
	if (id != -1 && shmctl(id, IPC_STAT, &ds) == 0 &&
	    (ds.shm_perm.uid != getuid() || ds.shm_perm.cuid != getuid()))
		errx(3, _("key 0x%08lx is held by %s's objects (shm id %d): "
		    "somebody else's run on your key; you cannot remove them. "
		    "Use another -k keyfile or -p proj_id, or ask that user or "
		    "root to remove them (ipcrm -m %d)"),
		    (unsigned long)(uint32_t)key,
		    uid_name(ds.shm_perm.cuid, who, sizeof(who)), id, id);
	if (id != -1 && shmctl(id, IPC_STAT, &ds) == 0) {
		warnx(_("a %s already exists under key 0x%08lx (shm id %d, "
		    "creator pid %d %s, %lu attached, owner uid %lu)"), _(what),
		    (unsigned long)(uint32_t)key, id, (int)ds.shm_cpid,
		    pid_alive(ds.shm_cpid) ? _("still running") : _("gone"),
		    (unsigned long)ds.shm_nattch,
		    (unsigned long)ds.shm_perm.uid);
		if (pid_alive(ds.shm_cpid))
			errx(3, _("another producer is running on this key: wait "
			    "for it, or use another -k keyfile / -p proj_id"));
	} else
		warnx(_("a %s already exists under key 0x%08lx"), _(what),
		    (unsigned long)(uint32_t)key);
	errx(3, _("if it is a crashed run of yours, remove it with "
	    "'run_demo.sh clean' or 'producer --clean' with the same -k/-p"));
}

/* Creates the semaphore set, then the segment; on failure, neither. */
static void
create_objects(key_t key, const char *keypath)
{
	struct shm_params sp = par;
	int saved;

	/* The race demonstration keeps only the mutex for registration. */
	if (par.flags & SHM_F_UNSAFE) {
		sp.mode = MODE_QUEUE;
		sp.expected = 0;
	}
	semid = sem_create(key, &sp);
	if (semid == -1) {
		if (errno == EEXIST)
			explain_eexist(key, N_("semaphore set"));
		err(3, _("semget(key 0x%08lx from %s): cannot create the "
		    "semaphore set"), (unsigned long)(uint32_t)key, keypath);
	}
	if (seg_create(key, &par, &ring) == -1) {
		saved = errno;
		(void)semctl(semid, 0, IPC_RMID);
		errno = saved;
		if (errno == EEXIST)
			explain_eexist(key, N_("shared memory segment"));
		err(3, _("shmget/shmat(key 0x%08lx from %s): cannot create the "
		    "segment"), (unsigned long)(uint32_t)key, keypath);
	}
	own_objects = 1;
	ring.semid = semid;
	ring.hdr->semid = semid;
}

static void
dump_counters(void)
{
	struct shm_header *h = ring.hdr;

	dump_flag = 0;
	fprintf(stderr, _("%s: pid %ld: %s, produced %llu of %llu, "
	    "claimed %llu, freed %llu, consumers %u\n"), getprogname(),
	    (long)getpid(), _(state_name(SHM_LOAD(&h->state))),
	    (unsigned long long)SHM_LOAD(&h->head),
	    (unsigned long long)par.count, (unsigned long long)SHM_LOAD(&h->tail),
	    (unsigned long long)SHM_LOAD(&h->freed), SHM_LOAD(&h->registered));
}

/*
 * ps shows the role and progress, at most ten times a second.  Returns 1
 * when it did: a busy loop also looks around (tick) at that pace, so an
 * ipcrm or a dead consumer is noticed even when no wait ever times out.
 */
static int
title(void)
{
	struct shm_header *h = ring.hdr;
	uint64_t t = now_ns(), head, used;

	if (t - last_title_ns < 100000000ULL)
		return 0;
	last_title_ns = t;
	head = SHM_LOAD(&h->head);
	if (par.mode == MODE_QUEUE) {
		/* A hostile or racing freed must not show more than full. */
		used = head - SHM_LOAD(&h->freed);
		setproctitle("-%s: %llu/%llu, ring %llu/%u", title_role,
		    (unsigned long long)head, (unsigned long long)par.count,
		    (unsigned long long)(used > par.capacity ? par.capacity :
		    used), par.capacity);
	}
	else
		setproctitle("-%s: %llu/%llu, %u consumers", title_role,
		    (unsigned long long)head, (unsigned long long)par.count,
		    registered_now());
	return 1;
}

/*
 * Why the run ends, built twice: in English for the JSON report (a
 * contract with scripts) and in the user's language for people.  fmt is
 * marked with N_() by the caller.
 */
static void
abort_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(abort_buf, sizeof(abort_buf), fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	(void)vsnprintf(abort_text, sizeof(abort_text), _(fmt), ap);
	va_end(ap);
	abort_msg = abort_buf;
}

static void
fatal_ipc(const char *what)
{
	if (errno == EIDRM || errno == EINVAL)
		abort_set(N_("%s: the semaphore set was removed from outside "
		    "(ipcrm, or systemd's RemoveIPC at logout)"), what);
	else {
		/* The JSON's copy in English: strerror(3) follows LC_MESSAGES. */
		int e = errno;
		locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);

		(void)snprintf(abort_buf, sizeof(abort_buf), "%s: %s", what,
		    c != (locale_t)0 ? strerror_l(e, c) : strerror(e));
		(void)snprintf(abort_text, sizeof(abort_text), "%s: %s", what,
		    strerror(e));
		if (c != (locale_t)0)
			freelocale(c);
		abort_msg = abort_buf;
	}
}

static void
set_state(uint32_t st)
{
	my_state = st;
	SHM_STORE(&ring.hdr->state, st);
}

/* Records handed out, as far as they can exist: never past the table. */
static uint32_t
registered_now(void)
{
	uint32_t n = SHM_LOAD(&ring.hdr->registered);
	uint32_t limit = par.mode == MODE_BROADCAST ? par.expected :
	    SHM_MAX_CONSUMERS;

	return n < limit ? n : limit;
}

/* Ends the run: the segment says something the protocol never writes. */
static void
damage(const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	abort_set(N_("shm id %d was damaged from outside: %s; the run is "
	    "ended, nothing in it can be trusted"), ring.shmid, what);
}

/* The header fields written once, before hdr.ready. */
#define FIXED(f)	{ #f, offsetof(struct shm_header, f), \
			  sizeof(((struct shm_header *)0)->f) }
static const struct {
	const char	*name;
	size_t		 off, len;
} fixed_fields[] = {
	FIXED(magic), FIXED(version), FIXED(hdr_size), FIXED(ready),
	FIXED(capacity), FIXED(mode), FIXED(flags), FIXED(max_consumers),
	FIXED(expected), FIXED(batch), FIXED(producer_pid), FIXED(semid),
	FIXED(jitter_us), FIXED(count), FIXED(seed), FIXED(slots_off),
	FIXED(tags_off), FIXED(table_off), FIXED(ledger_off), FIXED(size),
	FIXED(timeout_s), FIXED(delay_ms)
};

/*
 * Compares the segment with what the producer wrote and with the orders
 * the protocol keeps (freed <= tail <= head; a record's state and pid).
 * Returns 1, with abort_msg naming the first damaged field, or 0.
 */
static int
seg_damaged(void)
{
	const char *h = (const char *)ring.hdr, *o = (const char *)&orig;
	uint64_t v = 0, w = 0, freed, tail;
	uint32_t n, i;
	size_t f;

	if (abort_msg != NULL && strncmp(abort_msg, "shm id", 6) == 0)
		return 1;
	for (f = 0; f < sizeof(fixed_fields) / sizeof(fixed_fields[0]); f++) {
		if (memcmp(h + fixed_fields[f].off, o + fixed_fields[f].off,
		    fixed_fields[f].len) == 0)
			continue;
		memcpy(&v, h + fixed_fields[f].off, fixed_fields[f].len);
		memcpy(&w, o + fixed_fields[f].off, fixed_fields[f].len);
		damage("hdr.%s is %llu, the producer wrote %llu",
		    fixed_fields[f].name, (unsigned long long)v,
		    (unsigned long long)w);
		return 1;
	}
	n = SHM_LOAD(&ring.hdr->registered);
	if (n != registered_now()) {
		damage("hdr.registered is %u, at most %u", n, registered_now());
		return 1;
	}
	if (SHM_LOAD(&ring.hdr->head) != my_head ||
	    SHM_LOAD(&ring.hdr->state) != my_state) {
		damage("hdr.head %llu or hdr.state %u is not what the producer "
		    "wrote (%llu, %u)", (unsigned long long)ring.hdr->head,
		    ring.hdr->state, (unsigned long long)my_head, my_state);
		return 1;
	}
	if (par.mode == MODE_QUEUE && !(par.flags & SHM_F_UNSAFE)) {
		/* freed first: both only grow, and freed never passes tail. */
		freed = SHM_LOAD(&ring.hdr->freed);
		tail = SHM_LOAD(&ring.hdr->tail);
		if (freed > tail || tail > my_head) {
			damage("hdr.freed %llu, tail %llu, head %llu are out of "
			    "order", (unsigned long long)freed,
			    (unsigned long long)tail,
			    (unsigned long long)my_head);
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		if (record_damaged(i))
			return 1;
	return 0;
}

/* A registered record: a known state, a pid, a claim inside the ring. */
static int
record_damaged(uint32_t i)
{
	const struct shm_consumer *c = &ring.table[i];
	uint32_t st = SHM_LOAD(&c->state);

	if (st < CS_ACTIVE || st > CS_DIED || c->pid <= 0 || c->index != i) {
		damage("consumer record %u has state %u, pid %d, index %u", i,
		    st, (int)c->pid, c->index);
		return 1;
	}
	if (par.mode == MODE_QUEUE && SHM_LOAD(&c->claim_len) > par.capacity) {
		damage("consumer record %u claims %llu items of a ring of %u",
		    i, (unsigned long long)c->claim_len, par.capacity);
		return 1;
	}
	return 0;
}

/*
 * Everything that moves when anybody makes progress: the positions,
 * registrations and each record's counters.  Only equality matters.
 */
static uint64_t
motion(void)
{
	const struct shm_consumer *c;
	uint64_t m;
	uint32_t i, n = registered_now();

	m = my_head + SHM_LOAD(&ring.hdr->tail) + SHM_LOAD(&ring.hdr->freed) +
	    n;
	for (i = 0; i < n; i++) {
		c = &ring.table[i];
		m += SHM_LOAD(&c->consumed) + SHM_LOAD(&c->pos) +
		    SHM_LOAD(&c->freed) + SHM_LOAD(&c->state) + c->batches;
	}
	return m;
}

/*
 * The progress check of every wait: a peer can be alive and still never
 * move (a semaphore zeroed with semctl, a consumer wedged inside its
 * claim).  Ends the run when nothing has moved for -t seconds, naming
 * what was waited for.  A gap between two calls longer than a few ticks
 * means the producer itself was stopped: the clock starts again.
 */
static int
stalled(const char *waiting)
{
	static const char *const stall_fmt = N_("nothing moved for %d s (-t) "
	    "while waiting for %s (live consumers: %s; semaphores mutex %d, "
	    "empty %d, full %d): a peer is wedged or a semaphore was changed "
	    "from outside");
	static uint64_t last_call;
	uint64_t m = motion(), t = now_ns();
	char who[96] = "";
	int v[3];
	uint32_t i, n;
	size_t len;

	if (m != last_motion || motion_ns == 0 ||
	    t - last_call > 10ULL * TICK_MS * 1000000ULL) {
		last_motion = m;
		motion_ns = t;
	}
	last_call = t;
	if (t - motion_ns <= (uint64_t)timeout_s * 1000000000ULL)
		return 0;
	n = registered_now();
	for (i = 0; i < n; i++) {
		if (SHM_LOAD(&ring.table[i].state) != CS_ACTIVE)
			continue;
		len = strlen(who);
		(void)snprintf(who + len, sizeof(who) - len, "%s%d",
		    len ? ", " : "", (int)ring.table[i].pid);
	}
	v[0] = semctl(semid, SEM_MUTEX, GETVAL);
	v[1] = semctl(semid, SEM_EMPTY, GETVAL);
	v[2] = semctl(semid, SEM_FULL, GETVAL);
	/* Twice, as abort_set() does: waiting is translated too. */
	(void)snprintf(abort_buf, sizeof(abort_buf), stall_fmt, timeout_s,
	    waiting, who[0] ? who : "none", v[0], v[1], v[2]);
	(void)snprintf(abort_text, sizeof(abort_text), _(stall_fmt),
	    timeout_s, _(waiting), who[0] ? who : _("none"), v[0], v[1], v[2]);
	abort_msg = abort_buf;
	return 1;
}

/*
 * Counts live consumers, marking the dead ones.  *died gets LEFT_DIED
 * when more consumers are dead than last time (a queue needs repair) and
 * LEFT_ANY when more have died or failed (a broadcast wait must leave
 * them out: a failed consumer never frees its slots either).
 */
#define LEFT_DIED	1
#define LEFT_ANY	2

static int
live_consumers(int *died)
{
	static uint32_t dead_seen, gone_seen;
	struct shm_consumer *c;
	uint32_t i, n, dead = 0, gone = 0, st;
	int live = 0;

	*died = 0;
	n = registered_now();
	for (i = 0; i < n; i++) {
		c = &ring.table[i];
		st = SHM_LOAD(&c->state);
		/*
		 * The child may write CS_DONE and exit between our load and
		 * the pid check: only a record still active becomes dead.
		 */
		if (st == CS_ACTIVE && !pid_alive(c->pid) &&
		    __atomic_compare_exchange_n(&c->state, &st,
		    (uint32_t)CS_DIED, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			c->end_ns = now_ns();
			st = CS_DIED;
		}
		if (st == CS_ACTIVE)
			live++;
		else if (st == CS_FAILED)
			gone++;
		else if (st == CS_DIED) {
			gone++;
			dead++;
			if (dead > dead_seen && verbose)
				warnx(_("consumer %u (pid %d) died after %llu "
				    "items%s"), i, (int)c->pid,
				    (unsigned long long)c->consumed,
				    c->claim_len ? _(", holding a claim") : "");
		}
	}
	/* Its parent may have marked it first: count, don't compare states. */
	if (dead > dead_seen) {
		dead_seen = dead;
		*died |= LEFT_DIED;
	}
	if (gone > gone_seen) {
		gone_seen = gone;
		*died |= LEFT_ANY;
	}
	return live;
}

/*
 * After a queue consumer died inside its critical section, SEM_UNDO has
 * released the mutex, but the counting semaphores may be off by the claim
 * it never completed.  With the mutex held no live consumer is between
 * claim and release, so the true values follow from the counters alone.
 */
/*
 * What a dead queue consumer had taken but not reported: its last claim,
 * if it had recorded that claim in the ledger (ledger.recorded says how
 * far its records went) but not yet in its consumed counter.  Without the
 * ledger the claim counts as read once tail had moved past it.  The items
 * of a claim it never recorded are lost.
 */
static void
account_claim(struct shm_consumer *c)
{
	struct shm_header *h = ring.hdr;
	uint64_t rec;

	/* Once per dead consumer. */
	if (c->state != CS_DIED || (c->flags & CF_ACCOUNTED))
		return;
	c->flags |= CF_ACCOUNTED;
	if (c->claim_len == 0 || c->consumed > c->claim_base ||
	    c->claim_len > par.capacity ||
	    SHM_LOAD(&h->tail) < c->claim_start + c->claim_len)
		return;
	if (ring.ledger == NULL) {
		c->unreported = c->claim_len;
		return;
	}
	rec = SHM_LOAD(&ring.ledger->recorded[c->index % SHM_MAX_CONSUMERS]);
	if (rec > c->claim_base)
		c->unreported = rec - c->claim_base < c->claim_len ?
		    rec - c->claim_base : c->claim_len;
}

/*
 * The consumer named by hdr.claimer, if that consumer is gone (or the
 * field is out of range): its critical section was cut short.
 */
static int
claimer_stale(void)
{
	uint32_t cl = SHM_LOAD(&ring.hdr->claimer);

	if (cl == 0)
		return 0;
	if (cl > registered_now())
		return 1;
	return !pid_alive(ring.table[cl - 1].pid);
}

/* Called with the mutex held: a stale claimer's record becomes dead. */
static void
claimer_mark_dead(void)
{
	struct shm_consumer *c;
	uint32_t cl = SHM_LOAD(&ring.hdr->claimer), st = CS_ACTIVE;

	if (cl == 0 || cl > registered_now())
		return;
	c = &ring.table[cl - 1];
	if (!pid_alive(c->pid) && __atomic_compare_exchange_n(&c->state, &st,
	    (uint32_t)CS_DIED, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		c->end_ns = now_ns();
}

/*
 * Called with the mutex held, so no consumer is inside a claim or a
 * completion: rebuilds done[] from the records alone.  Of the positions
 * claimed and not freed, [freed, tail), only the live consumers' claims
 * in hand are still being read; every other stretch was completed, or
 * belongs to a consumer that died or failed (its items were accounted
 * for above): it may be freed.  Returns the new freed.
 */
static uint64_t
queue_rebuild_done(uint64_t tail)
{
	static uint64_t live[SHM_MAX_CONSUMERS][2];
	struct shm_consumer *c;
	uint64_t freed = SHM_LOAD(&ring.hdr->freed), cur, lo, hi;
	uint32_t i, j, n = 0, cap = par.capacity;

	if (freed > tail)
		freed = tail;
	for (i = 0; i < registered_now(); i++) {
		c = &ring.table[i];
		lo = SHM_LOAD(&c->claim_start);
		hi = lo + SHM_LOAD(&c->claim_len);
		if (SHM_LOAD(&c->state) != CS_ACTIVE || hi == lo || lo < freed ||
		    hi > tail)
			continue;
		for (j = n++; j > 0 && live[j - 1][0] > lo; j--)
			memcpy(live[j], live[j - 1], sizeof(live[j]));
		live[j][0] = lo;
		live[j][1] = hi;
	}
	memset(ring.done, 0, (size_t)cap * sizeof(*ring.done));
	if (n == 0)
		return tail;
	for (i = 0, cur = live[0][1]; i < n; i++) {
		if (live[i][0] > cur)
			ring.done[ring_slot(cur, cap)] =
			    (uint32_t)(live[i][0] - cur);
		if (live[i][1] > cur)
			cur = live[i][1];
	}
	if (tail > cur)
		ring.done[ring_slot(cur, cap)] = (uint32_t)(tail - cur);
	return live[0][0];
}

static int
recover_queue(void)
{
	struct sembuf lock = { SEM_MUTEX, -1, SEM_UNDO };
	struct sembuf unlock = { SEM_MUTEX, 1, SEM_UNDO };
	struct shm_header *h = ring.hdr;
	uint64_t inring, tail, freed;
	uint32_t i;
	union semun full, empty;

	if (sem_op(semid, &lock, 1, TICK_MS * 5) == -1) {
		if (errno != EAGAIN)
			fatal_ipc("semop(mutex) during recovery");
		return -1;	/* a stopped consumer holds it: later */
	}
	/*
	 * Nobody is in a claim now: the dead ones' claims are final.  A
	 * claimer left set names the one that died in its critical section;
	 * the consumers release nothing until we clear it, so its slots
	 * still hold what it claimed.  Mark it dead here if its pid is gone
	 * (live_consumers() may not have looked since).
	 */
	claimer_mark_dead();
	for (i = 0; i < registered_now(); i++)
		account_claim(&ring.table[i]);
	SHM_STORE(&h->claimer, 0u);
	tail = SHM_LOAD(&h->tail);
	if (tail > my_head) {
		/* Never a semaphore value from a damaged counter. */
		(void)sem_op(semid, &unlock, 1, 0);
		if (!seg_damaged())
			damage("hdr.tail is %llu, beyond head %llu",
			    (unsigned long long)tail,
			    (unsigned long long)my_head);
		return -1;
	}
	freed = queue_rebuild_done(tail);
	inring = my_head - tail;
	full.val = (int)inring + (SHM_LOAD(&h->eos) ? 1 : 0);
	empty.val = (int)(par.capacity - (my_head - freed));
	if (semctl(semid, SEM_FULL, SETVAL, full) == -1 ||
	    semctl(semid, SEM_EMPTY, SETVAL, empty) == -1)
		fatal_ipc("semctl(SETVAL) during recovery");
	SHM_STORE(&h->freed, freed);
	if (sem_op(semid, &unlock, 1, 0) == -1)
		fatal_ipc("semop(mutex) during recovery");
	return 0;
}

/*
 * Called whenever a wait times out: prints counters on SIGUSR1, notices
 * dead consumers, damage to the segment and a stop request.  Returns -1
 * when the run must end, 1 when a consumer died or failed (a broadcast
 * wait must leave it out), else 0.
 */
static int
tick(void)
{
	unsigned long nattch;
	int died, live;

	if (dump_flag)
		dump_counters();
	title();
	if (stop_flag) {
		if (abort_msg == NULL)
			abort_msg = N_("stopped by a signal");
		return -1;
	}
	if (seg_removed(ring.shmid) == 1) {
		abort_set(N_("shm id %d was removed from outside (ipcrm, or "
		    "systemd's RemoveIPC at logout)"), ring.shmid);
		return -1;
	}
	if (seg_damaged())
		return -1;
	live = live_consumers(&died);
	/* A queue consumer that failed may leave a claim nobody frees. */
	if ((died & (LEFT_DIED | LEFT_ANY)) || claimer_stale())
		need_recovery = 1;
	if (need_recovery && par.mode == MODE_QUEUE &&
	    !(par.flags & SHM_F_UNSAFE) && recover_queue() == 0)
		need_recovery = 0;
	if (abort_msg != NULL)
		return -1;
	/*
	 * Nobody left, unless a process still attached may yet register
	 * (a consumer program whose first child its parent registered as
	 * died): then the progress rule bounds the wait.
	 */
	if (registered_now() > 0 && live == 0 && my_state == ST_PRODUCING &&
	    (seg_nattch(ring.shmid, &nattch) == -1 || nattch <= 1)) {
		abort_msg = N_("every consumer died or failed: nobody is "
		    "left to take the items");
		return -1;
	}
	return died != 0;
}

/*
 * Waits for a set of semaphore operations, looking around every TICK_MS.
 * Returns 0 when done, 1 when a consumer died (rebuild the set), -1 when
 * the run must end; gives up when no consumer has come within timeout_s.
 */
static int
wait_ops(struct sembuf *ops, size_t n)
{
	uint64_t start = now_ns();
	int r;

	for (;;) {
		if (sem_op(semid, ops, n, TICK_MS) == 0)
			return 0;
		if (errno != EAGAIN) {
			fatal_ipc("semop");
			return -1;
		}
		if ((r = tick()) != 0)
			return r;
		if (registered_now() > 0 && stalled(par.mode == MODE_QUEUE ?
		    N_("free slots in the ring") :
		    N_("every consumer to free a slot")))
			return -1;
		if (registered_now() == 0 &&
		    now_ns() - start > (uint64_t)timeout_s * 1000000000ULL) {
			abort_set(N_("no consumer came within %d s (-t)"),
			    timeout_s);
			return -1;
		}
	}
}

/* Waits until the expected consumers have registered (-n). */
static int
join_wait(void)
{
	struct sembuf op = { SEM_JOIN, 0, 0 };
	uint64_t start = now_ns();

	if (par.expected == 0)
		return 0;
	op.sem_op = -(short)par.expected;
	set_state(ST_WAITING);
	for (;;) {
		if (sem_op(semid, &op, 1, TICK_MS) == 0)
			return 0;
		if (errno != EAGAIN) {
			fatal_ipc("semop(join)");
			return -1;
		}
		if (tick() == -1)
			return -1;
		/*
		 * The table counts too: a consumer killed after it stored
		 * registered and before it posted SEM_JOIN has a record (which
		 * tick() marks died) but no join, and would hold us until -t.
		 */
		if (registered_now() >= par.expected)
			return 0;
		if (now_ns() - start > (uint64_t)timeout_s * 1000000000ULL) {
			abort_set(N_("only %u of %u consumers joined within "
			    "%d s (-t)"), registered_now(), par.expected,
			    timeout_s);
			return -1;
		}
	}
}

/*
 * Fills ops with one operation per consumer view: the queue's single
 * semaphore, or in broadcast one per live consumer.  Returns how many.
 */
static uint32_t
build_ops(struct sembuf *ops, int full, short op, short flg)
{
	uint32_t i, n = 0, st;

	if (par.mode == MODE_QUEUE) {
		ops[0].sem_num = full ? SEM_FULL : SEM_EMPTY;
		ops[0].sem_op = op;
		ops[0].sem_flg = flg;
		return 1;
	}
	for (i = 0; i < par.expected; i++) {
		st = SHM_LOAD(&ring.table[i].state);
		if (st != CS_ACTIVE && st != CS_DONE)
			continue;	/* dead or failed: left out */
		ops[n].sem_num = (unsigned short)(full ? SEM_FULL_I(i) :
		    SEM_EMPTY_I(i));
		ops[n].sem_op = op;
		ops[n].sem_flg = flg;
		n++;
	}
	return n;
}

/*
 * Free slots beyond the one already held, from the freed counters.  They
 * are published just before the release semop, so that the process the
 * release wakes sees them at once (published after, a woken producer that
 * preempts the consumer would claim one slot at a time for a whole time
 * slice).  So they may overstate by one release in flight: the IPC_NOWAIT
 * claim that follows then fails with EAGAIN and we take the one slot we
 * hold.  The semaphores stay the only guard.
 */
static uint64_t
free_hint(uint64_t pos)
{
	struct shm_header *h = ring.hdr;
	uint64_t freed, used, best = UINT64_MAX, cap = par.capacity;
	uint32_t i, st;

	if (par.mode == MODE_QUEUE) {
		used = pos - SHM_LOAD(&h->freed) + 1;
		return used >= cap ? 0 : cap - used;
	}
	for (i = 0; i < par.expected; i++) {
		st = SHM_LOAD(&ring.table[i].state);
		if (st != CS_ACTIVE && st != CS_DONE)
			continue;
		freed = SHM_LOAD(&ring.table[i].freed);
		used = pos - freed + 1;
		if (used >= cap)
			return 0;
		if (cap - used < best)
			best = cap - used;
	}
	return best == UINT64_MAX ? 0 : best;
}

/*
 * The semaphore-guarded producer, both modes.  Per batch: wait for one
 * free slot (in broadcast, in every consumer's view: one semop over all
 * of them), take what else is free up to -B without waiting, write the
 * items, post them with one semop.
 */
static void
produce_safe(void)
{
	struct shm_header *h = ring.hdr;
	struct sembuf *ops;
	uint64_t pos, total, k, extra, j, seq, hint;
	uint32_t sl;
	uint32_t n, cap = par.capacity, batch = par.batch;
	int32_t v;
	int r;

	ops = calloc(par.expected > 0 ? par.expected : 1, sizeof(*ops));
	if (ops == NULL) {
		abort_msg = N_("out of memory");
		return;
	}
	if (delay_ms > 0)
		batch = 1;	/* slow motion shows every item */
	total = stream_total();
	for (pos = 0; pos < total;) {
		n = build_ops(ops, 0, -1, 0);
		if (n == 0) {
			abort_msg = N_("every consumer died or failed: nobody "
			    "is left to take the items");
			break;
		}
		if ((r = wait_ops(ops, n)) == 1)
			continue;	/* a consumer died: rebuild */
		if (r == -1)
			break;
		k = 1;
		extra = total - pos - 1;
		if (extra > batch - 1)
			extra = batch - 1;
		if (extra > 0 && (hint = free_hint(pos)) < extra)
			extra = hint;
		if (extra > 0) {
			n = build_ops(ops, 0, -(short)extra, IPC_NOWAIT);
			if (sem_op(semid, ops, n, 0) == 0)
				k += extra;
			else if (errno != EAGAIN) {
				fatal_ipc("semop(empty)");
				break;
			}
		}
		for (j = 0, sl = ring_slot(pos, cap); j < k; j++) {
			seq = stream_seq(pos + j);
			v = item_value(par.seed, seq);
			if (fault == F_CORRUPT && seq == fault_seq)
				v ^= 0x40000000;
			ring.slots[sl] = v;
			ring.tags[sl] = seq;
			if (++sl == cap)
				sl = 0;
		}
		/* head first: a consumer woken by the post sees it at once. */
		my_head = pos + k;
		SHM_STORE(&h->head, my_head);
		n = build_ops(ops, 1, (short)k, 0);
		if (sem_op(semid, ops, n, 0) == -1) {
			fatal_ipc("semop(full)");
			break;
		}
		pos += k;
		if ((dump_flag || stop_flag || title()) && tick() == -1)
			break;
		if (delay_ms > 0)
			sleep_ms(delay_ms);
	}
	free(ops);
}

/*
 * The race demonstration: the same ring with the semaphores taken away,
 * written the way an unsynchronised course solution is.  The producer
 * trusts a fill count that both sides update with a plain count++ and
 * count-- (updates get lost, so it overwrites items nobody read), it
 * announces a slot before filling it (consumers read half-written slots),
 * and consumers share a tail without a lock (items taken twice).  Nothing
 * waits forever: a ring that looks full is overwritten after 20 ms.
 */
static void
produce_unsafe(void)
{
	struct shm_header *h = ring.hdr;
	uint64_t pos, total, seq, rng = (uint64_t)getpid(), t0;
	uint32_t cap = par.capacity, s;
	int64_t fill;

	total = stream_total();
	for (pos = 0; pos < total && !stop_flag; pos++) {
		t0 = now_ns();
		while (__atomic_load_n(&h->fill, __ATOMIC_RELAXED) >=
		    (int64_t)cap && now_ns() - t0 < 20000000ULL && !stop_flag)
			sleep_ms(0);
		s = ring_slot(pos, cap);
		seq = stream_seq(pos);
		my_head = pos + 1;
		__atomic_store_n(&h->head, my_head, __ATOMIC_RELAXED);
		__atomic_store_n(&ring.tags[s], seq, __ATOMIC_RELAXED);
		jitter(par.jitter_us, &rng);
		__atomic_store_n(&ring.slots[s], item_value(par.seed, seq),
		    __ATOMIC_RELAXED);
		/* count++, as a load and a store: the race is the point. */
		fill = __atomic_load_n(&h->fill, __ATOMIC_RELAXED);
		jitter(par.jitter_us / 4, &rng);
		__atomic_store_n(&h->fill, fill + 1, __ATOMIC_RELAXED);
		if (dump_flag)
			dump_counters();
		if (title() && seg_removed(ring.shmid) == 1) {
			abort_msg = N_("the segment was removed from outside");
			break;
		}
		if (delay_ms > 0)
			sleep_ms(delay_ms);
	}
	if (stop_flag && abort_msg == NULL)
		abort_msg = N_("stopped by a signal");
}

/*
 * End of stream: total and eos first, then one token per consumer view.
 * A queue consumer that takes the token puts it back, so every consumer,
 * however many and however late, finds it.
 */
static void
post_eos(void)
{
	struct shm_header *h = ring.hdr;
	struct sembuf *ops;
	uint32_t n;

	SHM_STORE(&h->total, my_head);
	SHM_STORE(&h->eos, 1u);
	set_state(ST_DRAINING);
	if (par.flags & SHM_F_UNSAFE)
		return;
	ops = calloc(par.expected > 0 ? par.expected : 1, sizeof(*ops));
	if (ops == NULL) {
		abort_msg = N_("out of memory");
		return;
	}
	n = build_ops(ops, 1, 1, 0);
	if (n > 0 && sem_op(semid, ops, n, 0) == -1)
		fatal_ipc("semop(end-of-stream token)");
	free(ops);
}

/*
 * Waits until every consumer that registered has finished or died, at
 * least one (or -n) having come, and every process attached has detached
 * (nattch back to 1: us).  Children of a consumer parent attach before
 * they register, so a run whose first consumer already took everything
 * still waits for its siblings to take the token; a process that stays
 * attached without consuming (a stuck parent) gets GRACE_MS.
 */
static void
drain(void)
{
	uint64_t start = now_ns(), limit, quiet = 0;
	unsigned long nattch;
	uint32_t need;
	int died, live;

	need = par.expected > 0 ? par.expected : 1;
	limit = (uint64_t)timeout_s * 1000000000ULL;
	for (;; sleep_ms(5)) {
		if (dump_flag)
			dump_counters();
		title();
		live = live_consumers(&died);
		if ((died & (LEFT_DIED | LEFT_ANY)) || claimer_stale())
			need_recovery = 1;
		if (need_recovery && par.mode == MODE_QUEUE &&
		    !(par.flags & SHM_F_UNSAFE) && recover_queue() == 0)
			need_recovery = 0;
		if (abort_msg == NULL)
			(void)seg_damaged();
		if (abort_msg != NULL && !stop_flag)
			break;
		if (stop_flag && now_ns() - start > STOP_DRAIN_MS * 1000000ULL)
			break;
		if (live == 0 && registered_now() >= need) {
			if (seg_nattch(ring.shmid, &nattch) == -1 || nattch <= 1)
				break;
			if (quiet == 0)
				quiet = now_ns();
			else if (now_ns() - quiet > GRACE_MS * 1000000ULL)
				break;
			continue;
		}
		quiet = 0;
		if (live > 0 && stalled(N_("the consumers to take the end "
		    "of stream")))
			break;
		if (live == 0 && now_ns() - start > limit) {
			abort_set(N_("no consumer took the items within %d s "
			    "(-t)"), timeout_s);
			break;
		}
	}
}

/*
 * After an abort, gives the consumers a moment to notice (they look
 * around every 100 ms) and finish their records, so that the report reads
 * a table that has stopped moving.
 */
static void
settle(void)
{
	uint64_t start = now_ns();
	int died;

	while (live_consumers(&died) > 0 &&
	    now_ns() - start < SETTLE_MS * 1000000ULL)
		sleep_ms(10);
}

static void
write_report(const struct shm_report *rp)
{
	char tmp[PATH_MAX];
	FILE *fp;

	if (json_path != NULL) {
		/* Written aside and renamed: readers never see half of it. */
		if (snprintf(tmp, sizeof(tmp), "%s.tmp", json_path) >=
		    (int)sizeof(tmp))
			errx(3, _("report path %s is too long"), json_path);
		if ((fp = fopen(tmp, "w")) == NULL)
			warn(_("fopen %s: the JSON report is lost"), tmp);
		else if (report_json(fp, rp) == -1 || fclose(fp) == EOF) {
			warn(_("writing %s: the JSON report is lost"), tmp);
			(void)unlink(tmp);
		} else if (rename(tmp, json_path) == -1) {
			warn(_("rename %s to %s: the JSON report is lost"), tmp,
			    json_path);
			(void)unlink(tmp);
		}
	}
	if (text_path != NULL) {
		if ((fp = fopen(text_path, "w")) == NULL)
			warn(_("fopen %s: the text report is lost"), text_path);
		else if (report_text(fp, rp) == -1 || fclose(fp) == EOF)
			warn(_("writing %s"), text_path);
	}
	if (json_stdout)
		(void)report_json(stdout, rp);
	else if (verbose && text_path == NULL && json_path == NULL)
		(void)report_text(stdout, rp);
}

/*
 * Reports, then tears down.  Order: mark the segment for removal first
 * (IPC_RMID only marks an attached segment; no process can attach by key
 * any more), then remove the semaphore set (a straggler blocked in semop
 * wakes with EIDRM), then detach, which lets the kernel free the segment
 * once the last process has detached.
 */
static void
finish(void)
{
	static struct shm_consumer table[SHM_MAX_CONSUMERS];
	static struct shm_ledger ledger;
	struct shm_header *h = ring.hdr, th;
	struct shm_ring tr = ring;
	struct shm_report rp;
	uint64_t end = 0;
	uint32_t i;

	/*
	 * The report reads a private copy that cannot move under it: the
	 * fields the producer wrote come from its own memory, the table is
	 * copied once, and registered is bounded.
	 */
	if (orig.magic == 0)
		memcpy(&orig, h, sizeof(orig));	/* ended before it was ready */
	if (abort_msg == NULL || strncmp(abort_msg, "shm id", 6) != 0)
		(void)seg_damaged();
	memcpy(&th, h, sizeof(th));
	for (i = 0; i < sizeof(fixed_fields) / sizeof(fixed_fields[0]); i++)
		memcpy((char *)&th + fixed_fields[i].off,
		    (const char *)&orig + fixed_fields[i].off,
		    fixed_fields[i].len);
	th.registered = registered_now();
	memcpy(table, ring.table, sizeof(*table) * th.registered);
	tr.hdr = &th;
	tr.table = table;
	if (ring.ledger != NULL) {
		memcpy(&ledger, ring.ledger, sizeof(ledger));
		tr.ledger = &ledger;
	}
	memset(&rp, 0, sizeof(rp));
	rp.ring = &tr;
	rp.produced = my_head;
	rp.checksum_expected = expected_checksum(par.seed, par.count);
	rp.fault = fault_spec;
	rp.interrupted = stop_flag != 0;
	rp.error = abort_msg;
	rp.error_text = abort_msg == abort_buf ? abort_text : NULL;
	for (i = 0; i < th.registered; i++)
		if (table[i].end_ns > end)
			end = table[i].end_ns;
	th.start_ns = orig.start_ns;
	if (end == 0 || end < th.start_ns)
		end = now_ns();
	rp.elapsed_s = th.start_ns ? (double)(end - th.start_ns) / 1e9 : 0;
	report_tally(&rp);
	set_state(abort_msg ? ST_ABORTED : ST_DONE);
	if (shmctl(ring.shmid, IPC_RMID, NULL) == -1 && errno != EIDRM &&
	    errno != EINVAL)
		warn(_("shmctl(IPC_RMID) on shm id %d: remove it with ipcrm -m %d"),
		    ring.shmid, ring.shmid);
	if (semctl(semid, 0, IPC_RMID) == -1 && errno != EIDRM &&
	    errno != EINVAL)
		warn(_("semctl(IPC_RMID) on sem id %d: remove it with ipcrm -s %d"),
		    semid, semid);
	if (abort_msg != NULL)
		warnx("%s", abort_msg == abort_buf ? abort_text :
		    _(abort_msg));	/* N_() where fixed */
	write_report(&rp);
	if (shmdt(h) == -1)
		warn(_("shmdt"));
	if (pfh != NULL)
		(void)pidfile_remove(pfh);
	exit(rp.exit_status);
}

int
main(int argc, char *argv[], char *envp[])
{
	static const struct option longopts[] = {
		{ "json",	no_argument,	   NULL, 'J' },
		{ "delay",	required_argument, NULL, RUN_OPT_DELAY },
		{ "perm",	required_argument, NULL, 'M' },
		{ "unsafe",	no_argument,	   NULL, 'U' },
		{ "jitter",	required_argument, NULL, 'j' },
		{ "no-verify",	no_argument,	   NULL, 'V' },
		{ "seed",	required_argument, NULL, 's' },
		{ "clean",	no_argument,	   NULL, 'C' },
		{ "walkthrough", no_argument,	   NULL, 'W' },
		{ "step",	no_argument,	   NULL, 'S' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	struct run_opts ro;
	char keybuf[PATH_MAX], msg[160];
	const char *keypath = NULL, *pidpath = NULL, *errstr;
	unsigned long rawkey = 0;
	char *end;
	int rawkey_set = 0;
	int ch, r, daemonise = 0, perm_set = 0, clean = 0;
	int walk = 0, step = 0;
	mode_t perm = 0600;
	pid_t other;
	key_t key = (key_t)-1;

	/* The slides' protocol is a program of its own (slides.c). */
	if (slides_wanted(argc, argv))
		return slides_producer(argc, argv);
	setproctitle_init(argc, argv, envp);
	(void)i18n_init();
	/* One write per message line, whoever else writes to this stderr. */
	(void)setvbuf(stderr, NULL, _IOLBF, BUFSIZ);
	if ((ch = opt_control(argc, argv)) != 0)
		errx(2, _("argument %d holds a control character (a newline?): "
		    "nothing was done"), ch);
	par.capacity = MAXBUF;
	par.count = 1000;
	par.batch = SHM_BATCH_DEFAULT;
	par.mode = MODE_QUEUE;
	par.flags = SHM_F_VERIFY;
	par.perm = 0600;
	run_opts_init(&ro, 30);
	while ((ch = getopt_long(argc, argv, "B:b:c:dhK:k:m:n:o:P:p:qr:s:t:",
	    longopts, NULL)) != -1) {
		if ((r = run_opt(&ro, ch, optarg, msg, sizeof(msg))) == -1)
			errx(2, "%s", msg);
		if (r == 1)
			continue;
		switch (ch) {
		case 'b':
			par.capacity = (uint32_t)opt_number(optarg, 1,
			    SHM_MAXBUF_MAX, &errstr);
			if (errstr != NULL)
				errx(2, _("maxbuf %s: %s (1..%u)"), optarg, errstr,
				    SHM_MAXBUF_MAX);
			break;
		case 'c':
			par.count = (uint64_t)opt_number(optarg, 0,
			    SHM_COUNT_MAX, &errstr);
			if (errstr != NULL)
				errx(2, _("count %s: %s (0..%lld)"), optarg,
				    errstr, SHM_COUNT_MAX);
			break;
		case 'd':
			daemonise = 1;
			break;
		case 'K':
			/* A raw key, as ipcs prints it: for --clean only. */
			errno = 0;
			rawkey = strtoul(optarg, &end, 16);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    rawkey == 0 || rawkey > 0xffffffffUL)
				errx(2, _("key %s: want a hexadecimal key such as "
				    "0x1400207a"), optarg);
			rawkey_set = 1;
			break;
		case 'm':
			if (opt_mode(optarg, &par.mode) == -1)
				errx(2, _("mode %s: want queue or broadcast"),
				    optarg);
			break;
		case 'n':
			par.expected = (uint32_t)opt_number(optarg, 0,
			    SHM_MAX_CONSUMERS, &errstr);
			if (errstr != NULL)
				errx(2, _("consumers %s: %s (0..%d)"), optarg,
				    errstr, SHM_MAX_CONSUMERS);
			break;
		case 'o':
			json_path = optarg;
			break;
		case 'P':
			pidpath = optarg;
			break;
		case 'q':
			verbose = 0;
			break;
		case 'r':
			text_path = optarg;
			break;
		case 's':
			par.seed = (uint64_t)opt_number(optarg, 0, LLONG_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(2, _("seed %s: %s"), optarg, errstr);
			break;
		case 'M':
			if (opt_perm(optarg, &perm) == -1)
				errx(2, _("perm %s: want an octal mode between "
				    "0600 and 0777 that keeps 0600"), optarg);
			perm_set = 1;
			break;
		case 'U':
			par.flags |= SHM_F_UNSAFE;
			break;
		case 'j':
			par.jitter_us = (uint32_t)opt_number(optarg, 0, 100000,
			    &errstr);
			if (errstr != NULL)
				errx(2, _("jitter %s: %s (0..100000 us)"), optarg,
				    errstr);
			break;
		case 'V':
			par.flags &= ~SHM_F_VERIFY;
			break;
		case 'J':
			json_stdout = 1;
			break;
		case 'C':
			clean = 1;
			break;
		case 'W':
			walk = 1;
			break;
		case 'S':
			step = 1;
			break;
		case 'h':
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();
	par.batch = ro.batch;
	timeout_s = ro.timeout_s;
	delay_ms = ro.delay_ms;
	if (par.mode == MODE_BROADCAST && par.expected == 0)
		errx(2, _("broadcast mode needs -n: the number of consumers "
		    "that will register before production starts"));
	if (par.mode == MODE_BROADCAST && (par.flags & SHM_F_UNSAFE))
		errx(2, _("--unsafe works in queue mode only"));
	if (daemonise && json_stdout)
		errx(2, _("--json writes to stdout, which a daemon (-d) closes: "
		    "use -o FILE"));
	parse_fault();
	/* Declared in the header: the consumers' own stall bound uses them. */
	par.timeout_s = (uint32_t)timeout_s;
	par.delay_ms = (uint32_t)delay_ms;

	if (step && !walk)
		errx(2, _("--step goes with --walkthrough"));
	if (walk) {
		/*
		 * The slides' own example, on the slides' terms.  Without -k,
		 * a key file of this user's own: a class on one machine
		 * never shares a key (the slides' /bin/cat would).
		 */
		if ((keypath = ro.keypath) == NULL) {
			if (key_walk_path(keybuf, sizeof(keybuf)) == -1)
				err(2, _("default walkthrough key file path"));
			if (key_ensure_file(keybuf) == -1)
				err(3, _("key file %s: cannot create it, or it is "
				    "not a regular file of yours; pass -k PATH"),
				    keybuf);
			keypath = keybuf;
		}
		return walkthrough(keypath, ro.proj, perm_set ? perm : 0, step);
	}
	if (rawkey_set && !clean)
		errx(2, _("-K goes with --clean; a run takes -k keyfile"));
	if (!clean) {
		/*
		 * Refuse what cannot run before creating anything, the key
		 * file included.  --clean and --walkthrough skip the limits:
		 * they must work when the system is at them.
		 */
		if (daemonise && pidpath == NULL)
			errx(2, _("-d needs -P pidfile"));
		check_outputs(pidpath, json_path, text_path);
		check_limits();
	}
	if (rawkey_set) {
		key = (key_t)(uint32_t)rawkey;
		keypath = "-K";
	} else {
		/* --clean never creates: no key file, no run of ours. */
		if ((key = run_key(&ro, clean)) == (key_t)-1) {
			if (verbose)
				printf(_("%s: no key file %s: nothing of "
				    "yours to clean\n"), getprogname(), ro.keypath);
			return 0;
		}
		keypath = ro.keypath;
	}
	if (clean) {
		char why[256];
		int n;

		/* Only a crashed run's objects of ours: see common/clean.c. */
		if ((n = seg_clean(key, why, sizeof(why))) == -1) {
			if (why[0] != '\0')
				errx(3, _("key 0x%08lx: %s"),
				    (unsigned long)(uint32_t)key, why);
			err(3, _("cleaning key 0x%08lx"),
			    (unsigned long)(uint32_t)key);
		}
		if (why[0] != '\0')
			warnx(_("key 0x%08lx: %s"), (unsigned long)(uint32_t)key,
			    why);
		if (verbose)
			printf(ngettext("%s: removed %d stale object under key "
			    "0x%08lx (%s)\n", "%s: removed %d stale objects under "
			    "key 0x%08lx (%s)\n", (unsigned long)n), getprogname(),
			    n, (unsigned long)(uint32_t)key, keypath);
		return 0;
	}
	if (daemonise) {
		pfh = pidfile_open(pidpath, 0600, &other);
		if (pfh == NULL) {
			if (errno == EEXIST)
				errx(3, _("a producer is already running as pid "
				    "%ld (pidfile %s)"), (long)other, pidpath);
			err(3, _("pidfile_open %s"), pidpath);
		}
		daemon_start(pidpath);
	}
	/* Before the objects exist: a signal from now on ends in finish(). */
	if (sig_catch(on_signal, 1) == -1)
		err(3, _("sigaction"));
	create_objects(key, keypath);
	if (perm_set && widen(perm) == -1) {
		fatal_ipc("IPC_SET (--perm)");
		finish();
	}
	if (daemonise)
		daemon_ready(pidpath);
	ring.hdr->producer_pid = (int32_t)getpid();
	set_state(ST_INIT);
	/* Written last: consumers trust nothing before they see it. */
	SHM_STORE(&ring.hdr->ready, SHM_READY);
	memcpy(&orig, ring.hdr, sizeof(orig));
	if (verbose && !json_stdout)
		fprintf(stderr, _("%s: pid %ld, key 0x%08lx, shm id %d, sem id "
		    "%d, %s mode, MAXBUF %u, %llu items\n"), getprogname(),
		    (long)getpid(), (unsigned long)(uint32_t)key, ring.shmid, semid,
		    mode_name(par.mode), par.capacity,
		    (unsigned long long)par.count);

	if (join_wait() == 0) {
		set_state(ST_PRODUCING);
		orig.start_ns = ring.hdr->start_ns = now_ns();
		if (par.flags & SHM_F_UNSAFE)
			produce_unsafe();
		else
			produce_safe();
		if (abort_msg == NULL || stop_flag)
			post_eos();
		if (abort_msg == NULL || stop_flag)
			drain();
		else
			settle();
	}
	finish();
}
