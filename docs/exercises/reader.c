/*
 * reader.c - week 1: reads the writer's segment.
 *
 *	reader KEYFILE PROJ_ID
 *
 * Finds the segment under the same key, learns its size from
 * shmctl(IPC_STAT), prints the ints in it, and detaches.  It creates
 * nothing and removes nothing.
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
	size_t i, n;
	int *buffer = NULL;

	if (argc != 3) {
		fprintf(stderr, "usage: %s KEYFILE PROJ_ID\n", argv[0]);
		return 2;
	}
	/* TODO: the same ftok() as the writer; shmget(key, 0, 0) finds an
	 * existing segment (ENOENT: start the writer first). */
	/* TODO: shmctl(id, IPC_STAT, &ds): ds.shm_segsz is its size. */
	ds.shm_segsz = 0;
	/* TODO: buffer = shmat(id, NULL, SHM_RDONLY), checked against
	 * (void *) -1. */
	n = ds.shm_segsz / sizeof(int);
	if (buffer == NULL) {
		fprintf(stderr, "reader: not written yet (see the TODOs)\n");
		return 1;
	}
	for (i = 0; i < n; i++)
		printf("%d\n", buffer[i]);
	/* TODO: shmdt(buffer). */
	return 0;
}
