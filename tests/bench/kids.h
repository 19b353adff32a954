/*
 * kids.h - what the baselines share: their consumer children (forked,
 * watched, killed and reaped by pid, never by name), the expected sum of
 * the items, and the clock.
 */
#ifndef KIDS_H
#define KIDS_H

#include <sys/types.h>

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CONSUMERS_MAX	256		/* more than any box has cores */

extern pid_t	owner;			/* the parent: it kills and reaps */
extern pid_t	kids[CONSUMERS_MAX];	/* not yet reaped; 0 if free */
extern size_t	nkids;			/* slots used in kids[] */
extern size_t	nlive;			/* of those, not reaped */
extern volatile sig_atomic_t kid_exited; /* SIGCHLD came */

uint64_t expected_sum(uint64_t);
double	 elapsed(const struct timespec *, const struct timespec *);
void	 on_sigchld(int);
void	 kids_kill(void);
void	 kids_check(void);
int	 kids_reap(void);

#endif /* KIDS_H */
