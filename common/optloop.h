/*
 * optloop.h - the getopt_long loop every program runs, written once.
 *
 * The options all programs share go to run_opt() (-k -p -t -B --delay,
 * common/runopts.c) and, for the slides' programs, slides_opt() (-L);
 * the rest to the program's own callback.  Like the rest of common/ it
 * never exits: the program decides.
 *
 *	struct opt_loop l = { "hk:n:p:", longopts, &ro, 0, own, &ctx };
 *
 *	if (opt_loop(&l, argc, argv, msg, sizeof(msg)) == -1) {
 *		if (msg[0] != '\0')
 *			errx(2, "%s", msg);
 *		usage();
 *	}
 */
#ifndef OPTLOOP_H
#define OPTLOOP_H

#include <getopt.h>
#include <stddef.h>

struct run_opts;

struct opt_loop {
	const char		*optstring;
	const struct option	*longopts;
	struct run_opts		*ro;		/* the shared options' values */
	int			 slides;	/* take -L too (slides_opt) */
	/*
	 * The program's own option ch: 1 taken, 0 not one of its options
	 * (usage), -1 a bad value with the one-line message in msg.
	 */
	int			(*own)(void *, int, const char *, char *,
				    size_t);
	void			*ctx;		/* own's first argument */
};

int	 opt_loop(const struct opt_loop *, int, char *[], char *, size_t);

#endif /* OPTLOOP_H */
