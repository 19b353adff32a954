/*
 * watch.h - what both monitors (shmlab's own runs and -L slides) take
 * from the command line, parsed once (monitor.c).
 */
#ifndef WATCH_H
#define WATCH_H

#include <getopt.h>
#include <stddef.h>

#include "runopts.h"

#define WATCH_INTERVAL_MS 500	/* default refresh, for 100 ms/item demos */

struct watch {
	struct run_opts	 ro;		/* -k and -p, read as everywhere */
	int		 interval_ms;	/* -i */
	long long	 iterations;	/* -n: refreshes, 0 unbounded */
	int		 once;		/* --once: one text snapshot */
	int		 as_json;	/* --json: one JSON snapshot */
	int		 keep;		/* --hold the last frame */
	int		 live;		/* redraw in place on a terminal */
};

/*
 * Reads the command line into w (defaults first): 0, or -1 after a
 * one-line error (exit 2 is the caller's) or when the usage line is due
 * (msg empty).  slides: the -L program, which also takes -L.
 */
int	 watch_parse(struct watch *, int, char *[], const char *,
	    const struct option *, int, char *, size_t);

#endif /* WATCH_H */
