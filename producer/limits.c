/*
 * limits.c - what must hold before anything is created: the kernel's
 * IPC limits and the files the run will write.  Each refusal says what
 * to change; nothing exists yet, so these exit at once.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "prod.h"

static int	 read_ulong(const char *, unsigned long long *);
static long long count_lines(const char *);
static long long sum_column(const char *, int);

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
void
check_limits(const struct mode_table *md, const struct shm_params *par)
{
	unsigned long long shmmax, shmall, shmmni;
	int semmsl, semmns, semopm, semmni, nsems;
	uint64_t size;
	long page;

	if (seg_layout(par, &size) == -1)
		err(2, _("segment layout"));
	/* The layout's count: pairs only in broadcast, whatever -n says. */
	nsems = SEM_NSEMS(par->mode, par->expected);
	if (sem_limits(&semmsl, &semmns, &semopm, &semmni) == -1)
		err(3, _("reading /proc/sys/kernel/sem"));
	if (nsems > semmsl)
		errx(2, _("%u broadcast consumers need %d semaphores in one set, "
		    "but SEMMSL is %d: use at most %d consumers, or raise "
		    "SEMMSL in /proc/sys/kernel/sem"), par->expected, nsems,
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
	/* The producer's one semop over every pair (md->views). */
	if ((md->flags & MF_PAIRS) && (int)par->expected > semopm)
		errx(2, _("%u broadcast consumers need %u operations in one "
		    "semop, but SEMOPM is %d: use at most %d consumers, or "
		    "raise SEMOPM in /proc/sys/kernel/sem"), par->expected,
		    par->expected, semopm, semopm);
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

/*
 * The files the run will write (pidfile, -o, -r) must be possible before
 * anything is created: a report that cannot be written is found out at
 * the start, not after the whole run.
 */
void
check_outputs(const struct prod *p)
{
	const char *paths[3] = { p->pidpath, p->json_path, p->text_path };
	const char *slash;
	char dir[PATH_MAX];
	struct stat st;
	int i;

	for (i = 0; i < 3; i++) {
		if (paths[i] == NULL)
			continue;
		/* The JSON report is written aside, as PATH.tmp, first. */
		if (i == 1 && strlen(paths[i]) + sizeof(".tmp") > PATH_MAX)
			errx(2, _("report path %s is too long"), paths[i]);
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
