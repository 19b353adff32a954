/*
 * finish.c - the end of every run: the report and the teardown.
 *
 * Every exit after create_objects() comes here, failures included, so
 * that both objects are removed whatever ended the run: the report is
 * read from a private copy first, then the segment and the semaphore set
 * are removed, then the report is written and the segment detached.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "prod.h"

/* The report's private copy of the segment. */
struct copy {
	struct shm_header	 hdr;
	struct shm_consumer	 table[SHM_MAX_CONSUMERS];
	struct shm_ledger	 ledger;
	struct shm_ring		 ring;
};

static void	 snapshot(struct prod *, struct copy *, struct shm_report *);
static const char *why_text(const struct prod *);
static void	 remove_objects(const struct prod *);
static void	 write_report(const struct prod *, const struct shm_report *);

/*
 * Reports, tears down, and returns the run's exit status.  A run that
 * failed before its objects existed has nothing to report or remove.
 */
int
finish(struct prod *p)
{
	struct copy cp;
	struct shm_report rp;

	if (!p->created) {
		warnx("%s", why_text(p));
		if (p->pfh != NULL)
			(void)pidfile_remove(p->pfh);
		return 3;
	}
	snapshot(p, &cp, &rp);
	report_tally(&rp);
	set_state(p, p->why ? ST_ABORTED : ST_DONE);
	remove_objects(p);
	if (p->why != NULL)
		warnx("%s", why_text(p));
	write_report(p, &rp);
	if (shmdt(p->ring.hdr) == -1)
		warn(_("shmdt"));
	if (p->pfh != NULL)
		(void)pidfile_remove(p->pfh);
	return rp.exit_status;
}

/* The reason, as people read it: N_() where fixed, else fail()'s own. */
static const char *
why_text(const struct prod *p)
{
	return p->why == p->why_buf ? p->why_text : _(p->why);
}

/*
 * The report reads a private copy that cannot move under it: the fields
 * the producer wrote come from its own memory, the table is copied once,
 * and registered is bounded.
 */
static void
snapshot(struct prod *p, struct copy *cp, struct shm_report *rp)
{
	struct shm_header *th = &cp->hdr;
	struct shm_consumer *table = cp->table;
	struct shm_ring *tr = &cp->ring;
	uint64_t end = 0;
	uint32_t i;

	if (p->orig.magic == 0)	/* ended before it was ready */
		memcpy(&p->orig, p->ring.hdr, sizeof(p->orig));
	if (p->why == NULL || strncmp(p->why, "shm id", 6) != 0)
		(void)seg_damaged(p);
	memcpy(th, p->ring.hdr, sizeof(*th));
	restore_fixed(p, th);
	th->registered = registered_now(p);
	memcpy(table, p->ring.table, sizeof(*table) * th->registered);
	*tr = p->ring;
	tr->hdr = th;
	tr->table = table;
	if (p->ring.ledger != NULL) {
		memcpy(&cp->ledger, p->ring.ledger, sizeof(cp->ledger));
		tr->ledger = &cp->ledger;
	}
	memset(rp, 0, sizeof(*rp));
	rp->ring = tr;
	rp->produced = p->head;
	rp->checksum_expected = expected_checksum(p->par.seed, p->par.count);
	rp->fault = p->fault.spec;
	rp->interrupted = prod_stop != 0;
	rp->error = p->why;
	rp->error_text = p->why == p->why_buf ? p->why_text : NULL;
	for (i = 0; i < th->registered; i++)
		if (table[i].end_ns > end)
			end = table[i].end_ns;
	th->start_ns = p->orig.start_ns;
	if (end == 0 || end < th->start_ns)
		end = now_ns();
	rp->elapsed_s = th->start_ns ? (double)(end - th->start_ns) / 1e9 : 0;
}

/*
 * Order: mark the segment for removal first (IPC_RMID only marks an
 * attached segment; no process can attach by key any more), then remove
 * the semaphore set (a straggler blocked in semop wakes with EIDRM); the
 * detach that follows lets the kernel free the segment once the last
 * process has detached.
 */
static void
remove_objects(const struct prod *p)
{
	if (shmctl(p->ring.shmid, IPC_RMID, NULL) == -1 && errno != EIDRM &&
	    errno != EINVAL)
		warn(_("shmctl(IPC_RMID) on shm id %d: remove it with ipcrm -m %d"),
		    p->ring.shmid, p->ring.shmid);
	if (semctl(p->ring.semid, 0, IPC_RMID) == -1 && errno != EIDRM &&
	    errno != EINVAL)
		warn(_("semctl(IPC_RMID) on sem id %d: remove it with ipcrm -s %d"),
		    p->ring.semid, p->ring.semid);
}

/*
 * The JSON report into path.  A regular file (or a new name) is written
 * aside, as PATH.tmp, and renamed, so readers never see half of it.  Any
 * other existing file (/dev/null, /dev/stdout, a FIFO a grader reads) is
 * written in place: renaming over it would replace it, and as root a
 * rename over /dev/null replaces the device for the whole machine.
 */
static void
write_json(const char *path, const struct shm_report *rp)
{
	char tmp[PATH_MAX];
	struct stat st;
	FILE *fp;
	int fd;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if ((fp = fopen(path, "w")) == NULL)
			warn(_("fopen %s: the JSON report is lost"), path);
		else if (report_json(fp, rp) == -1 || fclose(fp) == EOF)
			warn(_("writing %s: the JSON report is lost"), path);
		return;
	}
	/* check_outputs() made sure the name fits. */
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* A stale PATH.tmp, or a link planted there, is removed, not followed. */
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0666)) ==
	    -1 || (fp = fdopen(fd, "w")) == NULL) {
		warn(_("fopen %s: the JSON report is lost"), tmp);
		if (fd != -1)
			(void)close(fd);
	} else if (report_json(fp, rp) == -1 || fclose(fp) == EOF) {
		warn(_("writing %s: the JSON report is lost"), tmp);
		(void)unlink(tmp);
	} else if (rename(tmp, path) == -1) {
		warn(_("rename %s to %s: the JSON report is lost"), tmp, path);
		(void)unlink(tmp);
	}
}

static void
write_report(const struct prod *p, const struct shm_report *rp)
{
	FILE *fp;

	if (p->json_path != NULL)
		write_json(p->json_path, rp);
	if (p->text_path != NULL) {
		if ((fp = fopen(p->text_path, "w")) == NULL)
			warn(_("fopen %s: the text report is lost"),
			    p->text_path);
		else if (report_text(fp, rp) == -1 || fclose(fp) == EOF)
			warn(_("writing %s"), p->text_path);
	}
	if (p->json_stdout)
		(void)report_json(stdout, rp);
	else if (p->verbose && p->text_path == NULL && p->json_path == NULL)
		(void)report_text(stdout, rp);
}
