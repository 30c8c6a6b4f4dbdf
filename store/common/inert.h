/* Inert echo: text that came from the user or the journal (an option's
 * value, a path, a table name, a server's message) made safe to print on a
 * terminal. Control characters are written as escapes (\n, \r, \t, \x1b),
 * and so are bytes that are not UTF-8 and the C1 controls (U+0080 to
 * U+009F, which some terminals obey as escapes too); other text is kept as
 * it is. */
#ifndef TM_INERT_H
#define TM_INERT_H

#include <stddef.h>

/* Room that the inert form of n bytes can take, with the terminating NUL. */
#define TM_INERT_SIZE(n) (4 * (n) + 1)

/* Writes the inert form of s into buf (len bytes, at least 1) and returns
 * buf. What does not fit is left off, never half an escape. */
char *tm_inert(const char *s, char *buf, size_t len);

#endif
