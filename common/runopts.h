/*
 * runopts.h - the options every shmlab program takes, parsed once.
 *
 * -k keyfile, -p proj_id, -t seconds, -B batch and --delay ms mean the
 * same to the producer, the consumer and the monitor: one parser keeps
 * their bounds and their error texts (which the tests read) in one place.
 * Like the rest of common/ it never exits: a bad value comes back as -1
 * with the one-line message in the caller's buffer, and the program
 * decides (errx(2, "%s", msg)).
 *
 *	struct run_opts o;
 *
 *	run_opts_init(&o, 30);
 *	while ((ch = getopt_long(argc, argv, "B:k:p:t:" ...)) != -1)
 *		switch (run_opt(&o, ch, optarg, msg, sizeof(msg))) {
 *		case -1: errx(2, "%s", msg);
 *		case 1: continue;	(one of ours)
 *		}
 */
#ifndef RUNOPTS_H
#define RUNOPTS_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* The getopt_long value of --delay in every program's longopts. */
#define RUN_OPT_DELAY	'D'

struct run_opts {
	const char	*keypath;	/* -k; NULL: the user's default */
	int		 proj;		/* -p, 1..SHM_PROJ_MAX */
	int		 timeout_s;	/* -t, 1..86400 */
	uint32_t	 batch;		/* -B, 1..SHM_BATCH_MAX */
	int		 delay_ms;	/* --delay, 0..60000 */
	char		 keybuf[PATH_MAX]; /* the default path, once asked */
};

void	 run_opts_init(struct run_opts *, int);
int	 run_opt(struct run_opts *, int, const char *, char *, size_t);
const char *run_keypath(struct run_opts *);

#endif /* RUNOPTS_H */
