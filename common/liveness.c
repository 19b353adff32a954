/*
 * liveness.c - is a peer still there?  The producer marks dead consumers
 * by it, and the monitor shows who is gone.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "shmlib.h"

/*
 * A pid we may not signal (EPERM) is still alive; a zombie is not, though
 * kill(2) still finds it until its parent (or init) reaps it.
 */
int
pid_alive(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *fp;
	size_t n;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) == -1 && errno != EPERM)
		return 0;
	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 1;	/* no /proc: trust kill(2) */
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	(void)fclose(fp);
	buf[n] = '\0';
	/* The state follows the command name, which may hold ") ". */
	if ((p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'Z')
		return 0;
	return 1;
}
