/*
 * optloop.c - the getopt_long loop, once (optloop.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <unistd.h>

#include "optloop.h"
#include "runopts.h"
#include "slides.h"

/*
 * Reads every option, then checks that no operand is left.  Returns 0, or
 * -1 (errno EINVAL) with the message in msg for a bad value, or with msg
 * empty when the command line needs the usage line (an unknown option,
 * -h, a missing argument -- getopt has said which -- or an operand).
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
			break;
		r = l->slides ? slides_opt(l->ro, ch, optarg, msg, len) :
		    run_opt(l->ro, ch, optarg, msg, len);
		if (r == 0)
			r = l->own(l->ctx, ch, optarg, msg, len);
		if (r != 1) {
			if (r == 0)
				msg[0] = '\0';
			break;
		}
	}
	if (ch == -1 && optind == argc)
		return 0;
	errno = EINVAL;
	return -1;
}
