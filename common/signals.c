/*
 * signals.c - how the programs catch the signals that end a run.
 */
#include <signal.h>
#include <string.h>

#include "shmlib.h"

/*
 * Catches SIGINT, SIGTERM, SIGHUP (and SIGUSR1 when usr1) with handler,
 * without SA_RESTART: a signal must cut a sleep or a wait short, so that
 * the flag the handler sets is seen at once.
 */
int
sig_catch(void (*handler)(int), int usr1)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	if (sigemptyset(&sa.sa_mask) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		return -1;
	if (usr1 && sigaction(SIGUSR1, &sa, NULL) == -1)
		return -1;
	return 0;
}
