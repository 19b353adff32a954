/*
 * objects.c - the run's key and its two IPC objects: the key file, the
 * creation (semaphore set first, then the segment), --perm's IPC_SET,
 * the moment the run is published (hdr.ready), and --clean.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "prod.h"

static key_t	 run_key(struct run_opts *, int);
static void	 refuse_theirs(key_t, const struct ipc_perm *, int,
		    const char *);
static void	 explain_eexist(key_t, const char *)
		    __attribute__((noreturn));

/*
 * SHMLAB_FAIL is a test-only hook, like SHMLAB_FAULT: naming a step of
 * the run ("sigaction", "perm", "alloc") makes that step fail (EPERM),
 * so that the tests can force every exit after the objects exist and see
 * that each one removes both.
 */
int
test_fail(const char *step)
{
	const char *s = getenv("SHMLAB_FAIL");

	if (s == NULL || strcmp(s, step) != 0)
		return 0;
	errno = EPERM;
	return 1;
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

/* The key of a run: run_key() never returns without one. */
void
resolve_key(struct prod *p)
{
	p->key = run_key(&p->opt, 0);
	p->keypath = p->opt.keypath;
}

/*
 * Another user's object on our key: only they, or root, can help.  fmt
 * takes the key, the creator's name and the id twice.
 */
static void
refuse_theirs(key_t key, const struct ipc_perm *perm, int id,
    const char *fmt)
{
	char who[64];

	if (perm->uid == getuid() && perm->cuid == getuid())
		return;
	errx(3, fmt, (unsigned long)(uint32_t)key,
	    uid_name(perm->cuid, who, sizeof(who)), id, id);
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
	int id, sid;

	arg.buf = &sds;
	if ((sid = semget(key, 0, 0)) != -1 &&
	    semctl(sid, 0, IPC_STAT, arg) == 0)
		refuse_theirs(key, &sds.sem_perm, sid, _("key 0x%08lx is held "
		    "by %s's objects (sem id %d): somebody else's run on your "
		    "key; you cannot remove them. Use another -k keyfile or -p "
		    "proj_id, or ask that user or root to remove them (ipcrm -s "
		    "%d)"));
	id = shmget(key, 0, 0);
	if (id != -1 && shmctl(id, IPC_STAT, &ds) == 0)
		refuse_theirs(key, &ds.shm_perm, id, _("key 0x%08lx is held by "
		    "%s's objects (shm id %d): somebody else's run on your key; "
		    "you cannot remove them. Use another -k keyfile or -p "
		    "proj_id, or ask that user or root to remove them (ipcrm -m "
		    "%d)"));
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

/*
 * A daemon that cannot create its objects exits before finish(): its
 * pidfile, written at the fork, goes first (errno is kept for err(3)).
 */
static void
drop_pidfile(struct prod *p)
{
	int saved = errno;

	if (p->pfh != NULL)
		(void)pidfile_remove(p->pfh);
	p->pfh = NULL;
	errno = saved;
}

/*
 * Creates the semaphore set, then the segment; on failure, neither.
 * From its return on, both exist, and every exit goes through finish().
 */
void
create_objects(struct prod *p)
{
	unsigned long key = (unsigned long)(uint32_t)p->key;
	int saved, semid;

	if ((semid = sem_create(p->key, &p->par)) == -1) {
		drop_pidfile(p);
		if (errno == EEXIST)
			explain_eexist(p->key, N_("semaphore set"));
		err(3, _("semget(key 0x%08lx from %s): cannot create the "
		    "semaphore set"), key, p->keypath);
	}
	if (seg_create(p->key, &p->par, &p->ring) == -1) {
		saved = errno;
		(void)semctl(semid, 0, IPC_RMID);
		drop_pidfile(p);
		errno = saved;
		if (errno == EEXIST)
			explain_eexist(p->key, N_("shared memory segment"));
		err(3, _("shmget/shmat(key 0x%08lx from %s): cannot create the "
		    "segment"), key, p->keypath);
	}
	p->created = 1;
	p->ring.semid = semid;
	p->ring.hdr->semid = semid;
}

/* The slides' IPC_SET: widen both objects deliberately (--perm). */
int
widen(struct prod *p)
{
	union semun arg;
	struct shmid_ds ds;
	struct semid_ds sds;

	arg.buf = &sds;
	if (shmctl(p->ring.shmid, IPC_STAT, &ds) == -1)
		return -1;
	ds.shm_perm.mode = (unsigned short)p->perm;
	if (shmctl(p->ring.shmid, IPC_SET, &ds) == -1 ||
	    semctl(p->ring.semid, 0, IPC_STAT, arg) == -1)
		return -1;
	sds.sem_perm.mode = (unsigned short)p->perm;
	return semctl(p->ring.semid, 0, IPC_SET, arg);
}

/*
 * --clean: only a crashed run's objects of ours (see common/clean.c),
 * under -K, -k or the default key file, which it never creates.
 */
int
clean_run(struct prod *p)
{
	char why[256];
	unsigned long key;
	int n;

	if (p->rawkey_set)
		p->keypath = "-K";
	else if ((p->key = run_key(&p->opt, 1)) == (key_t)-1) {
		if (p->verbose)
			printf(_("%s: no key file %s: nothing of yours to "
			    "clean\n"), getprogname(), p->opt.keypath);
		return 0;
	} else
		p->keypath = p->opt.keypath;
	key = (unsigned long)(uint32_t)p->key;
	if ((n = seg_clean(p->key, why, sizeof(why))) == -1) {
		if (why[0] != '\0')
			errx(3, _("key 0x%08lx: %s"), key, why);
		err(3, _("cleaning key 0x%08lx"), key);
	}
	if (why[0] != '\0')
		warnx(_("key 0x%08lx: %s"), key, why);
	if (p->verbose)
		printf(ngettext("%s: removed %d stale object under key 0x%08lx "
		    "(%s)\n", "%s: removed %d stale objects under key 0x%08lx "
		    "(%s)\n", (unsigned long)n), getprogname(), n, key,
		    p->keypath);
	return 0;
}
