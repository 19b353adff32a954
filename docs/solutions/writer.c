/*
 * writer.c - week 1 (reference solution): the slides' example, done
 * right.  writer KEYFILE PROJ_ID; Enter removes the segment.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <stdio.h>
#include <stdlib.h>

#define MAXBUF	10

int
main(int argc, char *argv[])
{
	key_t key;
	int id, i;
	int *buffer;

	if (argc != 3) {
		fprintf(stderr, "usage: %s KEYFILE PROJ_ID\n", argv[0]);
		return 2;
	}
	if ((key = ftok(argv[1], atoi(argv[2]))) == (key_t)-1) {
		perror("ftok");
		return 1;
	}
	/* IPC_EXCL: never write into somebody else's segment. */
	id = shmget(key, MAXBUF * sizeof(int), IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1) {
		perror("shmget");
		return 1;
	}
	buffer = shmat(id, NULL, 0);
	if (buffer == (void *)-1) {	/* never NULL */
		perror("shmat");
		shmctl(id, IPC_RMID, NULL);
		return 1;
	}
	for (i = 0; i < MAXBUF; i++)
		buffer[i] = i;
	printf("segment %d written; press Enter to remove it\n", id);
	(void)getchar();
	if (shmdt(buffer) == -1)
		perror("shmdt");
	/* Marks it for removal; it goes when the last reader detaches. */
	if (shmctl(id, IPC_RMID, NULL) == -1) {
		perror("shmctl(IPC_RMID)");
		return 1;
	}
	return 0;
}
