/*
 * i18n.h - messages on screen in the user's language (gettext).
 *
 * Every program calls i18n_init() first in main().  _() marks and
 * translates a message; N_() only marks one that a table holds and that is
 * translated where it is printed.  JSON keys and values are never
 * translated: they are a contract with scripts (docs/JSON.md).
 */
#ifndef SHMLAB_I18N_H
#define SHMLAB_I18N_H

#include <libintl.h>

#define SHM_TEXTDOMAIN	"shmlab"	/* po/es.po -> shmlab.mo */

/*
 * A function, not gettext() itself: glibc's libintl.h turns gettext into
 * dcgettext(NULL, ...) when optimising, and GCC's -Wformat-overflow under
 * the sanitizers then warns of a "null format string" at every
 * fprintf(fp, _(...)).  format_arg keeps the format checks.
 */
#define _(s)	i18n_text(s)
#define N_(s)	(s)

int	 i18n_init(void);
const char *i18n_text(const char *) __attribute__((format_arg(1)));

#endif /* SHMLAB_I18N_H */
