/*
 * sem.c - the run's System V semaphore set.
 *
 * semget() and the semctl(SETALL) that initialises the set are two calls,
 * so a process opening the set in between would see zeros.  The creator
 * therefore initialises, then performs one semop(): sem_otime becomes
 * non-zero only after that, and sem_wait_ready() waits for it (Stevens;
 * Kerrisk's svsem_good_init.c).  The producer also writes hdr.ready last.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "shmlib.h"

/*
 * The queue's seats (SEM_SEAT, common/modes.c): how many consumers claim
 * at once.  One per core the producer may run on, less the producer's
 * own, and at least one: more consumers than cores only wake each other
 * (docs/PERFORMANCE.md).  Cores from the affinity mask (taskset, cpusets),
 * else the online count.
 */
int
sem_seats(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 2)
		return 1;
	return n - 1 > SHM_MAX_CONSUMERS ? SHM_MAX_CONSUMERS : (int)(n - 1);
}

/*
 * Creates and initialises the set for a run; returns its id, or -1 with
 * errno set and nothing left behind.
 */
int
sem_create(key_t key, const struct shm_params *p)
{
	struct sembuf touch = { SEM_FULL, 0, 0 };
	unsigned short *vals;
	union semun arg;
	int id, n, i, saved;

	n = SEM_NSEMS(p->mode, p->expected);
	vals = calloc((size_t)n, sizeof(*vals));
	if (vals == NULL)
		return -1;
	vals[SEM_MUTEX] = 1;
	vals[SEM_EMPTY] = (unsigned short)p->capacity;
	vals[SEM_FULL] = 0;
	vals[SEM_JOIN] = 0;
	if (p->mode != MODE_BROADCAST)
		vals[SEM_SEAT] = (unsigned short)sem_seats();
	for (i = 0; p->mode == MODE_BROADCAST && i < (int)p->expected; i++)
		vals[SEM_EMPTY_I(i)] = (unsigned short)p->capacity;
	id = semget(key, n, IPC_CREAT | IPC_EXCL | (int)(p->perm & 0777));
	if (id == -1) {
		saved = errno;
		free(vals);
		errno = saved;
		return -1;
	}
	arg.array = vals;
	/* Waiting for zero on SEM_FULL (0) succeeds at once: sets sem_otime. */
	if (semctl(id, 0, SETALL, arg) == -1 || semop(id, &touch, 1) == -1) {
		saved = errno;
		(void)semctl(id, 0, IPC_RMID);
		free(vals);
		errno = saved;
		return -1;
	}
	free(vals);
	return id;
}

/*
 * Waits up to ms milliseconds for the creator to finish initialising the
 * set (sem_otime != 0).  Returns 0, or -1 with errno (ETIMEDOUT).
 */
int
sem_wait_ready(int semid, int ms)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	struct semid_ds ds;
	union semun arg;
	int waited;

	arg.buf = &ds;
	for (waited = 0;; waited += 10) {
		if (semctl(semid, 0, IPC_STAT, arg) == -1)
			return -1;
		if (ds.sem_otime != 0)
			return 0;
		if (waited >= ms) {
			errno = ETIMEDOUT;
			return -1;
		}
		(void)nanosleep(&nap, NULL);
	}
}

/* Opens the set under key and waits for its initialisation. */
int
sem_open_ready(key_t key, int ms)
{
	int id;

	id = semget(key, 0, 0);
	if (id == -1)
		return -1;
	if (sem_wait_ready(id, ms) == -1)
		return -1;
	return id;
}

/*
 * Performs ops atomically.  ms < 0 blocks, ms == 0 does not wait (the
 * caller sets IPC_NOWAIT in sem_flg), ms > 0 waits at most that long and
 * fails with EAGAIN.  An interrupted call is restarted with the remaining
 * time, so callers see EINTR never and EAGAIN only on a real timeout.
 */
int
sem_op(int semid, struct sembuf *ops, size_t n, int ms)
{
	struct timespec ts, end, now;
	int r;

	if (ms <= 0) {
		do
			r = semop(semid, ops, n);
		while (r == -1 && errno == EINTR);
		return r;
	}
	if (clock_gettime(CLOCK_MONOTONIC, &end) == -1)
		return -1;
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	for (;;) {
		r = semtimedop(semid, ops, n, &ts);
		if (r == 0 || errno != EINTR)
			return r;
		if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
			return -1;
		ts.tv_sec = end.tv_sec - now.tv_sec;
		ts.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (ts.tv_nsec < 0) {
			ts.tv_sec--;
			ts.tv_nsec += 1000000000L;
		}
		if (ts.tv_sec < 0) {
			errno = EAGAIN;
			return -1;
		}
	}
}

/*
 * Reads SEMMSL (semaphores per set), SEMMNS (in the system), SEMOPM
 * (operations per semop) and SEMMNI (sets) from /proc/sys/kernel/sem.
 */
int
sem_limits(int *semmsl, int *semmns, int *semopm, int *semmni)
{
	FILE *fp;
	int n;

	fp = fopen("/proc/sys/kernel/sem", "r");
	if (fp == NULL)
		return -1;
	n = fscanf(fp, "%d %d %d %d", semmsl, semmns, semopm, semmni);
	if (fclose(fp) == EOF)
		return -1;
	if (n != 4) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}
