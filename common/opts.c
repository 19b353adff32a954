/*
 * opts.c - parsing what the user types: modes, permissions, numbers, and
 * arguments that would break a one-line error.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "shmlib.h"

int
opt_mode(const char *s, enum shm_mode *m)
{
	if (strcmp(s, "queue") == 0)
		*m = MODE_QUEUE;
	else if (strcmp(s, "broadcast") == 0)
		*m = MODE_BROADCAST;
	else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Parses an octal permission such as 0660.  The owner must keep read and
 * write, or the run could not use its own objects.
 */
int
opt_perm(const char *s, mode_t *perm)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || end == s || *end != '\0' || v > 0777 ||
	    (v & 0600) != 0600 || strchr(s, '-') != NULL) {
		errno = EINVAL;
		return -1;
	}
	*perm = (mode_t)v;
	return 0;
}

/*
 * strtonum(3), but only for plain decimal digits: strtonum itself takes
 * " 5" and "+5" (strtoll skips blanks and a sign), which no user means.
 */
long long
opt_number(const char *s, long long min, long long max, const char **errstr)
{
	const char *p = s;
	long long v;

	if (*p == '-' && min < 0)
		p++;
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
		*errstr = _("invalid");
		errno = EINVAL;
		return 0;
	}
	v = strtonum(s, min, max, errstr);
	/* strtonum's words, in the user's language: the message is one. */
	if (*errstr != NULL)
		*errstr = strtonum_word(*errstr);
	return v;
}

/*
 * The first argument holding a control character (a newline would split
 * the one-line error in two), or 0.
 */
int
opt_control(int argc, char *argv[])
{
	const unsigned char *p;
	int i;

	for (i = 1; i < argc; i++)
		for (p = (const unsigned char *)argv[i]; *p != '\0'; p++)
			if (*p < 0x20 || *p == 0x7f)
				return i;
	return 0;
}

/*
 * What the producer and the consumer do first: make room for the process
 * title, pick the user's language, make stderr line-buffered (children
 * and daemons share it: one write per line keeps lines whole), and find
 * an argument with a control character.  Returns opt_control()'s answer.
 */
int
prog_start(int argc, char *argv[], char *envp[])
{
	setproctitle_init(argc, argv, envp);
	(void)i18n_init();
	(void)setvbuf(stderr, NULL, _IOLBF, BUFSIZ);
	return opt_control(argc, argv);
}
