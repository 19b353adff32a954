/*
 * json.c - what every JSON writer in the tree needs: strings.  The report
 * (report.c), the monitor and the grader write their documents with
 * fprintf; this is the one place that knows how a string is escaped.
 */
#include <stddef.h>
#include <stdio.h>

#include "shmlib.h"

/*
 * Writes s as a JSON string, or null for NULL.  Key file paths and error
 * messages are bytes, not text: valid UTF-8 passes through, anything else
 * becomes U+FFFD, so that the document stays valid JSON.
 */
void
json_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i;

	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	fputc('"', fp);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			fprintf(fp, "\\%c", *p++);
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(fp, "\\u%04x", *p++);
			continue;
		}
		if (*p < 0x80) {
			fputc(*p++, fp);
			continue;
		}
		n = (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 :
		    (*p & 0xf0) == 0xe0 ? 3 :
		    (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;
		for (i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				break;
		/* Overlong, surrogate and out-of-range forms are invalid. */
		if (n == 0 || i < n ||
		    (n == 3 && *p == 0xe0 && p[1] < 0xa0) ||
		    (n == 3 && *p == 0xed && p[1] >= 0xa0) ||
		    (n == 4 && *p == 0xf0 && p[1] < 0x90) ||
		    (n == 4 && *p == 0xf4 && p[1] >= 0x90)) {
			fputs("\\ufffd", fp);
			p++;
			continue;
		}
		(void)fwrite(p, 1, n, fp);
		p += n;
	}
	fputc('"', fp);
}
