/*
 * i18n.c - binds the shmlab message catalogue.
 *
 * LANG=es_ES.UTF-8 (or LC_ALL, LC_MESSAGES) gives Spanish; anything else,
 * or a locale the system lacks, gives the English of the sources.  Only
 * the messages follow the locale: LC_NUMERIC stays "C", so that a report
 * prints 1.5 and never 1,5, whatever the language (the JSON must parse).
 *
 * Where the catalogue is: $SHMLAB_LOCALEDIR if set; else locale/ beside
 * the source tree when the program runs from it (make builds
 * locale/es/LC_MESSAGES/shmlab.mo there); else LOCALEDIR, where make
 * install puts it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <libintl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"

#ifndef LOCALEDIR
#define LOCALEDIR	"/usr/local/share/locale"
#endif

/* The tree's locale/ when this program is producer/producer and so on. */
static int
tree_dir(char *buf, size_t len)
{
	char exe[PATH_MAX], *dir;
	struct stat st;
	ssize_t n;
	int r;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	dir = dirname(exe);
	r = snprintf(buf, len, "%s/../locale", dir);
	if (r < 0 || (size_t)r >= len)
		return -1;
	if (stat(buf, &st) == -1 || !S_ISDIR(st.st_mode))
		return -1;
	return 0;
}

int
i18n_init(void)
{
	char dir[PATH_MAX];
	const char *where = getenv("SHMLAB_LOCALEDIR");

	/* An unknown locale leaves "C": English, not an error. */
	(void)setlocale(LC_ALL, "");
	(void)setlocale(LC_NUMERIC, "C");
	if (where == NULL || *where == '\0')
		where = tree_dir(dir, sizeof(dir)) == 0 ? dir : LOCALEDIR;
	if (bindtextdomain(SHM_TEXTDOMAIN, where) == NULL ||
	    bind_textdomain_codeset(SHM_TEXTDOMAIN, "UTF-8") == NULL ||
	    textdomain(SHM_TEXTDOMAIN) == NULL)
		return -1;
	return 0;
}

/*
 * strtonum(3)'s errstr ("invalid", "too small", "too large") in the
 * user's language: opt_number's, and that of the callers of strtonum.
 */
const char *
strtonum_word(const char *errstr)
{
	static const char *const words[] = {
		N_("invalid"), N_("too small"), N_("too large")
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (errstr != NULL && strcmp(errstr, words[i]) == 0)
			return _(words[i]);
	return errstr;
}

/*
 * The display columns of the first n bytes of s, one per UTF-8
 * character (the width i18n_pad pads to).
 */
int
i18n_width(const char *s, size_t n)
{
	size_t i;
	int w = 0;

	for (i = 0; i < n && s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			w++;
	return w;
}

/*
 * The printf field width that pads s to w columns: printf counts bytes,
 * and an accented letter of a translation takes two in UTF-8.
 */
int
i18n_pad(int w, const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) == 0x80)
			w++;
	return w;
}

/*
 * How many bytes of s (at most len) fill at most cols columns of a
 * terminal, never cutting a UTF-8 sequence in two: a translated line is
 * cut where the screen ends, not a few letters before it.
 */
int
i18n_cut(const char *s, size_t len, int cols)
{
	size_t i;
	int used = 0;

	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;	/* a continuation byte: same column */
		if (used == cols)
			break;
		used++;
	}
	return (int)i;
}
