/*
 * consumer.c - the slides protocol's consumer (reference solution).
 *
 *	consumer KEYFILE PROJ_ID
 *
 * Finds the producer's segment and semaphores under ftok(KEYFILE,
 * PROJ_ID) (retrying for 10 s: it may start first), prints every value
 * it takes on stdout, one a line, and stops at the end marker -1, which
 * it leaves in the buffer for the other consumers.
 *
 * tests/students/ builds the classic mistakes from this file with
 * -DBUG_NO_MUTEX, -DBUG_BUSY_WAIT and -DBUG_EATS_MARKER; a teacher's
 * build (make solutions) has none of them.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MUTEX	0	/* semaphore numbers in the set */
#define EMPTY	1
#define FULL	2
#define END	(-1)	/* the end marker */

/* One semaphore operation; a signal (EINTR) only interrupts it. */
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

static int
P(int semid, int num)
{
	return sem_change(semid, num, -1);
}

static int
V(int semid, int num)
{
	return sem_change(semid, num, 1);
}

static void
nap_10ms(void)
{
	struct timespec ts = { 0, 10000000L };

	nanosleep(&ts, NULL);
}

int
main(int argc, char *argv[])
{
	struct shmid_ds ds;
	key_t key;
	int shmid, semid, tries, maxbuf, v;
	int *buffer, *in, *out;

	if (argc != 3) {
		fprintf(stderr, "usage: %s KEYFILE PROJ_ID\n", argv[0]);
		return 2;
	}
	key = ftok(argv[1], atoi(argv[2]));
	if (key == (key_t)-1) {
		perror("ftok");
		return 1;
	}
	/* The producer may not have created the segment yet. */
	for (tries = 0; (shmid = shmget(key, 0, 0)) == -1; tries++) {
		if (errno != ENOENT || tries == 1000) {
			perror("shmget: no producer");
			return 1;
		}
		nap_10ms();
	}
	/* The set exists before the segment: it can be trusted now. */
	semid = semget(key, 0, 0);
	if (semid == -1 || shmctl(shmid, IPC_STAT, &ds) == -1) {
		perror("semget/shmctl");
		return 1;
	}
	maxbuf = (int)(ds.shm_segsz / sizeof(int)) - 2;
	buffer = shmat(shmid, NULL, 0);
	if (buffer == (void *)-1) {	/* not NULL: shmat(2) */
		perror("shmat");
		return 1;
	}
	in = &buffer[maxbuf];
	out = &buffer[maxbuf + 1];
	(void)in;
	for (;;) {
#ifdef BUG_BUSY_WAIT
		/* Polls instead of sleeping in P(full): burns a CPU. */
		struct sembuf sb = { FULL, -1, IPC_NOWAIT };

		while (semop(semid, &sb, 1) == -1)
			if (errno != EAGAIN && errno != EINTR)
				goto fail;
#else
		if (P(semid, FULL) == -1)
			goto fail;
#endif
#ifndef BUG_NO_MUTEX
		if (P(semid, MUTEX) == -1)
			goto fail;
#endif
		v = buffer[*out];
		if (v == END) {
			/* Leave the marker, and its count, for the others. */
#ifdef BUG_EATS_MARKER
			if (V(semid, MUTEX) == -1)
				goto fail;
#else
			if (V(semid, MUTEX) == -1 || V(semid, FULL) == -1)
				goto fail;
#endif
			break;
		}
		*out = (*out + 1) % maxbuf;
#ifndef BUG_NO_MUTEX
		if (V(semid, MUTEX) == -1)
			goto fail;
#endif
		if (V(semid, EMPTY) == -1)
			goto fail;
		printf("%d\n", v);
	}
	if (shmdt(buffer) == -1) {
		perror("shmdt");
		return 1;
	}
	return 0;
fail:
	perror("semop");
	return 1;
}
