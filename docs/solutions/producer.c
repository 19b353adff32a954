/*
 * producer.c - the slides protocol's producer (reference solution).
 *
 *	producer KEYFILE PROJ_ID COUNT MAXBUF
 *
 * Creates the semaphore set (mutex 1, empty MAXBUF, full 0) and then the
 * segment, both with IPC_CREAT | IPC_EXCL | 0600, writes 0 .. COUNT-1 and
 * the end marker -1, waits until it is the only process attached, and
 * removes both.
 *
 * tests/students/ builds the classic mistakes from this file with
 * -DBUG_NO_CLEANUP, -DBUG_NO_EXCL (with the slides' buffer == NULL test)
 * and -DBUG_NO_EMPTY; a teacher's build (make solutions) has none.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MUTEX	0
#define EMPTY	1
#define FULL	2
#define END	(-1)

#ifdef BUG_NO_EXCL
#define CREATE	(IPC_CREAT | 0600)
#else
#define CREATE	(IPC_CREAT | IPC_EXCL | 0600)
#endif

union semun {
	int		 val;
	struct semid_ds	*buf;
	unsigned short	*array;
};

static int
sem_change(int semid, int num, int op)
{
	struct sembuf sb;

	sb.sem_num = (unsigned short)num;
	sb.sem_op = (short)op;
	sb.sem_flg = 0;
	while (semop(semid, &sb, 1) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* One item: P(empty) P(mutex) buffer[in] = v; in++; V(mutex) V(full). */
static int
put(int semid, int *buffer, int *in, int maxbuf, int v)
{
#ifndef BUG_NO_EMPTY
	if (sem_change(semid, EMPTY, -1) == -1)
		return -1;
#endif
	if (sem_change(semid, MUTEX, -1) == -1)
		return -1;
	buffer[*in] = v;
	*in = (*in + 1) % maxbuf;
	if (sem_change(semid, MUTEX, 1) == -1)
		return -1;
	return sem_change(semid, FULL, 1);
}

int
main(int argc, char *argv[])
{
	struct timespec nap = { 0, 10000000L };
	unsigned short init[3];
	union semun arg;
	struct shmid_ds ds;
	key_t key;
	int shmid, semid, count, maxbuf, v;
	int *buffer, *in, *out;

	if (argc != 5 || (count = atoi(argv[3])) < 0 ||
	    (maxbuf = atoi(argv[4])) < 1 || maxbuf > 32766) {
		fprintf(stderr, "usage: %s KEYFILE PROJ_ID COUNT MAXBUF\n",
		    argv[0]);
		return 2;
	}
	if ((key = ftok(argv[1], atoi(argv[2]))) == (key_t)-1) {
		perror("ftok");
		return 1;
	}
	/* The set first: whoever finds the segment finds it initialised. */
	if ((semid = semget(key, 3, CREATE)) == -1) {
		perror("semget: key taken?");
		return 1;
	}
	init[MUTEX] = 1;
	init[EMPTY] = (unsigned short)maxbuf;
	init[FULL] = 0;
	arg.array = init;
	if (semctl(semid, 0, SETALL, arg) == -1) {
		perror("semctl(SETALL)");
		goto fail_sem;
	}
	shmid = shmget(key, (size_t)(maxbuf + 2) * sizeof(int), CREATE);
#ifndef BUG_NO_EXCL
	if (shmid == -1) {
		perror("shmget: key taken?");
		goto fail_sem;
	}
#endif
	buffer = shmat(shmid, NULL, 0);
#ifdef BUG_NO_EXCL
	if (buffer == NULL) {		/* the slides' test: never true */
#else
	if (buffer == (void *)-1) {
#endif
		perror("shmat");
		goto fail_shm;
	}
	in = &buffer[maxbuf];
	out = &buffer[maxbuf + 1];
	*in = 0;
	*out = 0;
	for (v = 0; v <= count; v++)
		if (put(semid, buffer, in, maxbuf, v < count ? v : END) == -1) {
			perror("semop");
			goto fail_all;
		}
	/* The consumers detach after the marker; then we are alone. */
	do {
		if (shmctl(shmid, IPC_STAT, &ds) == -1) {
			perror("shmctl(IPC_STAT)");
			goto fail_all;
		}
		nanosleep(&nap, NULL);
	} while (ds.shm_nattch > 1);
	shmdt(buffer);
#ifndef BUG_NO_CLEANUP
	shmctl(shmid, IPC_RMID, NULL);
	semctl(semid, 0, IPC_RMID);
#endif
	return 0;
fail_all:
	shmdt(buffer);
fail_shm:
	shmctl(shmid, IPC_RMID, NULL);
fail_sem:
	semctl(semid, 0, IPC_RMID);
	return 1;
}
