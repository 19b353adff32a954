/*
 * walkthrough.h - the slides' example, step by step (producer --walkthrough).
 */
#ifndef WALKTHROUGH_H
#define WALKTHROUGH_H

#include <sys/types.h>

/*
 * Runs the example of slides-memoria-compartida on the key ftok(keypath,
 * proj), explaining each call on stdout within 80 columns; perm, when not
 * 0, is applied with shmctl(IPC_SET) after creation.  Waits for a line (or
 * end of file) on stdin where the slides' getchar() does, and, when step
 * is not 0, after every call too.  Removes the segment it created on
 * every path.  Returns the exit status: 0 done, 3 an IPC failure or an
 * interruption by SIGINT, SIGTERM or SIGHUP.
 */
int	walkthrough(const char *, int, mode_t, int);

#endif
