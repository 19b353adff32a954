/*
 * optloop.c - the getopt_long loop, once (optloop.h).
 */
#include <getopt.h>
#include <stddef.h>
#include <unistd.h>

#include "optloop.h"
#include "runopts.h"
#include "slides.h"

/*
 * Reads every option, then checks that no operand is left.  Returns 0, or
 * -1 with the message in msg for a bad value, or -1 with msg empty when
 * the command line needs the usage line (an unknown option, -h, a missing
 * argument -- getopt has said which -- or an operand).
 */
int
opt_loop(const struct opt_loop *l, int argc, char *argv[], char *msg,
    size_t len)
{
	int ch, r;

	msg[0] = '\0';
	while ((ch = getopt_long(argc, argv, l->optstring, l->longopts,
	    NULL)) != -1) {
		if (ch == '?' || ch == ':' || ch == 'h')
			return -1;
		r = l->slides ? slides_opt(l->ro, ch, optarg, msg, len) :
		    run_opt(l->ro, ch, optarg, msg, len);
		if (r == 0)
			r = l->own(l->ctx, ch, optarg, msg, len);
		if (r != 1) {
			if (r == 0)
				msg[0] = '\0';
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}
