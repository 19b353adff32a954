/*
 * slides.h - the slides' protocol: one segment and three semaphores.
 *
 * This is the small protocol students write in an afternoon
 * (docs/slides-protocol.md is the handout).  Everything about it that
 * shmlab's programs and the grader rely on is defined here, once.
 *
 * Who creates and removes what:
 *   - the producer creates the semaphore set (SETALL: 1, MAXBUF, 0), then
 *     the segment, both under key = ftok(keyfile, proj_id) with
 *     IPC_CREAT | IPC_EXCL | 0600, so that a consumer that finds the
 *     segment can trust the semaphores;
 *   - it writes 0 .. COUNT-1, then the end marker -1, waits until it is
 *     the only process attached (shm_nattch 1), detaches, and removes the
 *     segment and the set;
 *   - consumers never create or remove anything; each leaves the marker in
 *     place for the others and exits.
 *
 * Start order: either.  A consumer retries shmget by key a bounded time.
 *
 *	producer -L slides -k key -c 100 -b 10 & consumer -L slides -k key -n 3
 */
#ifndef SLIDES_H
#define SLIDES_H

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "runopts.h"

#define SL_MUTEX	0	/* 1: one process at a time near in/out */
#define SL_EMPTY	1	/* MAXBUF: free slots */
#define SL_FULL		2	/* 0: items (and the marker) to take */
#define SL_NSEMS	3
#define SL_END		(-1)	/* the end marker, written after COUNT items */
/* empty starts at MAXBUF, and a semaphore holds at most SEMVMX (32767). */
#define SL_MAXBUF_MAX	32766u
#define SL_COUNT_MAX	2147483647LL	/* values are ints */

/* int buffer[MAXBUF]; int in; int out;  -- nothing else. */
#define SL_SEGSZ(maxbuf)	(((size_t)(maxbuf) + 2) * sizeof(int))

/* One attached slides run, as a process sees it. */
struct slides {
	key_t		 key;
	int		 shmid;
	int		 semid;
	uint32_t	 maxbuf;
	int		*buffer;	/* the slides' buffer, MAXBUF ints */
	int		*in;		/* next slot the producer fills */
	int		*out;		/* next slot a consumer empties */
	/* How waits end: each semop waits at most timeout_ms in all. */
	int		 timeout_ms;
	volatile sig_atomic_t *stop;	/* set by a signal handler, or NULL */
};

/* The one rule for the segment's size: MAXBUF from shm_segsz, or -1. */
int	 slides_maxbuf(size_t, uint32_t *);
int	 slides_protocol_arg(const char *);
int	 slides_opt(struct run_opts *, int, const char *, char *, size_t);
extern const struct option slides_longopts[];	/* --delay, --help */

/* Set by slides_on_signal, the slides' programs' handler. */
extern volatile sig_atomic_t slides_stop;
void	 slides_on_signal(int);

/* What the slides' producer and consumer read from their command line. */
struct slides_opts {
	struct run_opts	 ro;		/* -k -p -t --delay */
	uint32_t	 maxbuf;	/* producer -b */
	uint32_t	 nchildren;	/* consumer -n */
	long long	 count;		/* -c; the consumer's -1: not given */
	int		 verbose;	/* 0 with -q */
};

void	 slides_opts_init(struct slides_opts *, int, long long);
int	 slides_parse(struct slides_opts *, int, char *[], const char *,
	    char *, size_t);

int	 slides_create(key_t, uint32_t, struct slides *);
int	 slides_open(key_t, int, struct slides *);
int	 slides_remove(struct slides *);
int	 slides_detach(struct slides *);

/* The choreography, one item at a time (-1 with errno on failure). */
int	 slides_put(struct slides *, int);
int	 slides_take(struct slides *, int *);

#endif /* SLIDES_H */
