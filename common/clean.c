/*
 * clean.c - removing a crashed run's objects, and only those.
 *
 * An object under our key is removed only when it is shmlab's own and
 * nobody uses it: the segment must belong to us, carry the magic, have no
 * process attached and a dead producer; the semaphore set must be the one
 * that segment names, or, when the segment is gone (the producer died
 * between creating the two), belong to us, have the shape of a shmlab set
 * and have no live process that last operated on it.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "i18n.h"
#include "shmlib.h"

/* Is the set idle: no waiters, nobody alive who last operated on it? */
static int
sem_idle(int semid, unsigned long nsems)
{
	unsigned long i;
	int pid, n;

	for (i = 0; i < nsems; i++) {
		if ((n = semctl(semid, (int)i, GETNCNT)) == -1 || n > 0)
			return 0;
		if ((n = semctl(semid, (int)i, GETZCNT)) == -1 || n > 0)
			return 0;
		pid = semctl(semid, (int)i, GETPID);
		if (pid == -1 || (pid != 0 && pid != getpid() &&
		    pid_alive(pid)))
			return 0;
	}
	return 1;
}

/*
 * The segment under key, if any: removed when it is a stale shmlab
 * segment of ours.  Returns 1 removed, 0 none there, or -1 with a reason
 * in buf.  *named gets the semaphore set it names, or stays -1.
 */
static int
clean_segment(key_t key, int *named, char *buf, size_t len)
{
	struct shmid_ds ds;
	struct shm_header *h;
	int shmid;
	int32_t ppid;

	if ((shmid = shmget(key, 0, 0)) == -1)
		return 0;
	if (shmctl(shmid, IPC_STAT, &ds) == -1)
		return -1;
	if (ds.shm_perm.uid != getuid() || ds.shm_perm.cuid != getuid()) {
		char who[64];

		(void)snprintf(buf, len, _("shm id %d belongs to %s, not "
		    "to you: left alone; only that user or root can "
		    "remove it (ipcrm -m %d)"), shmid,
		    uid_name(ds.shm_perm.cuid, who, sizeof(who)), shmid);
		errno = EPERM;
		return -1;
	}
	if (ds.shm_nattch != 0) {
		(void)snprintf(buf, len, _("shm id %d has %lu processes "
		    "attached: the run is alive, left alone"), shmid,
		    (unsigned long)ds.shm_nattch);
		errno = EBUSY;
		return -1;
	}
	if (ds.shm_segsz < sizeof(*h)) {
		(void)snprintf(buf, len, _("shm id %d is too small to be "
		    "shmlab's: left alone"), shmid);
		errno = EPROTO;
		return -1;
	}
	h = shmat(shmid, NULL, SHM_RDONLY);
	if (h == (void *)-1)
		return -1;
	ppid = h->producer_pid;
	*named = h->semid;
	if (h->magic != SHM_MAGIC) {
		(void)shmdt(h);
		(void)snprintf(buf, len, _("shm id %d has no shmlab magic: "
		    "not ours, left alone"), shmid);
		errno = EPROTO;
		return -1;
	}
	if (shmdt(h) == -1)
		return -1;
	if (pid_alive(ppid) && ppid != getpid()) {
		(void)snprintf(buf, len, _("shm id %d: its producer (pid "
		    "%d) is still running, left alone"), shmid,
		    (int)ppid);
		errno = EBUSY;
		return -1;
	}
	return shmctl(shmid, IPC_RMID, NULL) == -1 ? -1 : 1;
}

/*
 * Removes the stale objects of a run under key.  Returns how many objects
 * were removed (0, 1 or 2), or -1 with a reason in buf when something is
 * there that must not be removed.
 */
int
seg_clean(key_t key, char *buf, size_t len)
{
	struct semid_ds sds;
	union semun arg;
	int semid, named = -1, removed;

	buf[0] = '\0';
	if ((removed = clean_segment(key, &named, buf, len)) == -1)
		return -1;
	semid = semget(key, 0, 0);
	if (semid == -1)
		return errno == ENOENT ? removed : -1;
	arg.buf = &sds;
	if (semctl(semid, 0, IPC_STAT, arg) == -1)
		return -1;
	if (named >= 0 ? semid != named :
	    sds.sem_perm.uid != getuid() || sds.sem_nsems < SEM_BASE ||
	    ((sds.sem_nsems - SEM_BASE) % 2 != 0 &&
	    sds.sem_nsems != SEM_NSEMS(MODE_QUEUE, 0)) ||
	    !sem_idle(semid, sds.sem_nsems)) {
		(void)snprintf(buf, len, _("sem id %d under this key is not a "
		    "stale shmlab set of yours: left alone"), semid);
		errno = EBUSY;
		return removed > 0 ? removed : -1;
	}
	if (semctl(semid, 0, IPC_RMID) == -1)
		return -1;
	return removed + 1;
}
