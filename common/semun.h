/*
 * semun.h - semctl()'s fourth argument, defined once for the tree.
 *
 * POSIX leaves union semun to the caller (glibc does not declare it), so
 * each program would otherwise write its own; every semctl() that takes
 * an argument passes one of these, never a bare int, so the call is
 * right on ABIs where a union and an int are passed differently.
 */
#ifndef SEMUN_H
#define SEMUN_H

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>

union semun {
	int		 val;		/* SETVAL */
	struct semid_ds	*buf;		/* IPC_STAT, IPC_SET */
	unsigned short	*array;		/* GETALL, SETALL */
	struct seminfo	*__buf;		/* IPC_INFO (Linux) */
};

#endif /* SEMUN_H */
