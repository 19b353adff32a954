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
#include <stddef.h>

#define SHM_TEXTDOMAIN	"shmlab"	/* po/es.po -> shmlab.mo */

#define _(s)	gettext(s)
#define N_(s)	(s)

int	 i18n_init(void);
const char *strtonum_word(const char *);
int	 i18n_width(const char *, size_t);
int	 i18n_pad(int, const char *);
int	 i18n_cut(const char *, size_t, int);

#endif /* SHMLAB_I18N_H */
