/*
 * writer.c - week 1: the slides' example, done right.
 *
 *	writer KEYFILE PROJ_ID
 *
 * Creates a segment of MAXBUF ints, fills it with 0 .. MAXBUF-1, waits
 * for Enter, then detaches and removes it.  Run reader in another
 * terminal meanwhile.  No semaphores yet.
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
	/* TODO: key = ftok(...); check it against (key_t) -1. */
	key = (key_t)-1;
	/* TODO: id = shmget(key, MAXBUF * sizeof(int), IPC_CREAT | IPC_EXCL
	 * | 0600); on -1 say why (perror) and exit 1.  Why IPC_EXCL? */
	id = -1;
	(void)key;
	/* TODO: buffer = shmat(id, NULL, 0).  It returns (void *) -1 on
	 * failure, not NULL as the slides test. */
	buffer = NULL;
	if (buffer == NULL) {
		fprintf(stderr, "writer: not written yet (see the TODOs)\n");
		return 1;
	}
	for (i = 0; i < MAXBUF; i++)
		buffer[i] = i;
	printf("segment %d written; press Enter to remove it\n", id);
	(void)getchar();
	/* TODO: shmdt(buffer); shmctl(id, IPC_RMID, NULL), each checked. */
	return 0;
}
