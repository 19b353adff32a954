/*
 * reader.c - week 1 (reference solution): prints the writer's segment.
 * reader KEYFILE PROJ_ID; creates and removes nothing.
 */
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char *argv[])
{
	struct shmid_ds ds;
	key_t key;
	size_t i, n;
	int id, *buffer;

	if (argc != 3) {
		fprintf(stderr, "usage: %s KEYFILE PROJ_ID\n", argv[0]);
		return 2;
	}
	if ((key = ftok(argv[1], atoi(argv[2]))) == (key_t)-1) {
		perror("ftok");
		return 1;
	}
	if ((id = shmget(key, 0, 0)) == -1) {
		perror("shmget (is the writer running?)");
		return 1;
	}
	if (shmctl(id, IPC_STAT, &ds) == -1) {
		perror("shmctl(IPC_STAT)");
		return 1;
	}
	buffer = shmat(id, NULL, SHM_RDONLY);
	if (buffer == (void *)-1) {
		perror("shmat");
		return 1;
	}
	n = ds.shm_segsz / sizeof(int);
	for (i = 0; i < n; i++)
		printf("%d\n", buffer[i]);
	if (shmdt(buffer) == -1) {
		perror("shmdt");
		return 1;
	}
	return 0;
}
