/*
 * walkthrough.h - the slides' example, step by step (producer --walkthrough).
 */
#ifndef WALKTHROUGH_H
#define WALKTHROUGH_H

#include <sys/types.h>

/*
 * Runs the example of slides-memoria-compartida on the key ftok(keypath,
 * proj), explaining each call on stdout; perm, when not 0, is applied with
 * shmctl(IPC_SET) after creation.  Waits for a line (or end of file) on
 * stdin, as the slides' getchar() does.  Removes the segment it created on
 * every path.  Returns the exit status: 0 done, 3 an IPC failure or an
 * interruption by SIGINT, SIGTERM or SIGHUP.
 */
int	walkthrough(const char *, int, mode_t);

#endif
