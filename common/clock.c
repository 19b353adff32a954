/*
 * clock.c - time: the monotonic clock every timestamp in the segment uses,
 * sleeping, and the busy wait that widens a race window on purpose.
 */
#include <stdint.h>
#include <time.h>

#include "shmlib.h"

uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Sleeps ms milliseconds; a signal cuts it short, on purpose. */
void
sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL);
}

/*
 * Busy-waits a pseudo-random time up to us microseconds: widens a race
 * window on purpose (--unsafe --jitter).  Busy, not asleep: a sleep would
 * hand the CPU to the other side and close the window it should open.
 */
void
jitter(uint32_t us, uint64_t *rng)
{
	uint64_t end;

	if (us == 0)
		return;
	*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
	end = now_ns() + (*rng >> 33) % ((uint64_t)us * 1000 + 1);
	while (now_ns() < end)
		;
}
