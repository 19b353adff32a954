/*
 * runopts.c - -k, -p, -t, -B and --delay, as every program reads them.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "i18n.h"
#include "runopts.h"
#include "shmlib.h"

/* Defaults: the user's key file, proj_id 20, batch 4096, no delay. */
void
run_opts_init(struct run_opts *o, int timeout_s)
{
	memset(o, 0, sizeof(*o));
	o->proj = SHM_PROJ_ID;
	o->timeout_s = timeout_s;
	o->batch = SHM_BATCH_DEFAULT;
}

/*
 * Takes one option that getopt returned: 1 when it was one of ours and
 * its value is good, 0 when it is not ours, -1 (errno EINVAL) with the
 * message in msg when its value is refused.
 */
int
run_opt(struct run_opts *o, int ch, const char *arg, char *msg, size_t len)
{
	const char *errstr = NULL;

	switch (ch) {
	case 'k':
		o->keypath = arg;
		return 1;
	case 'p':
		o->proj = (int)opt_number(arg, 1, SHM_PROJ_MAX, &errstr);
		if (errstr != NULL)
			(void)snprintf(msg, len, _("proj_id %s: %s (1..%d; ftok "
			    "keeps only 8 bits)"), arg, errstr, SHM_PROJ_MAX);
		break;
	case 't':
		o->timeout_s = (int)opt_number(arg, 1, 86400, &errstr);
		if (errstr != NULL)
			(void)snprintf(msg, len, _("timeout %s: %s (1..86400 s)"),
			    arg, errstr);
		break;
	case 'B':
		o->batch = (uint32_t)opt_number(arg, 1, SHM_BATCH_MAX, &errstr);
		if (errstr != NULL)
			(void)snprintf(msg, len, _("batch %s: %s (1..%u)"), arg,
			    errstr, SHM_BATCH_MAX);
		break;
	case RUN_OPT_DELAY:
		o->delay_ms = (int)opt_number(arg, 0, 60000, &errstr);
		if (errstr != NULL)
			(void)snprintf(msg, len, _("delay %s: %s (0..60000 ms)"),
			    arg, errstr);
		break;
	default:
		return 0;
	}
	if (errstr != NULL) {
		errno = EINVAL;
		return -1;
	}
	return 1;
}

/*
 * The key file of the run: -k, or the user's default path.  NULL (errno
 * ENAMETOOLONG) only when the default does not fit.
 */
const char *
run_keypath(struct run_opts *o)
{
	if (o->keypath == NULL &&
	    key_default_path(o->keybuf, sizeof(o->keybuf)) == 0)
		o->keypath = o->keybuf;
	return o->keypath;
}
