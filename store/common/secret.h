/* Passwords in libpq connection strings, kept out of sight: found in a
 * conninfo (key=value form or URI, malformed ones too), overwritten in
 * place (a command line, so that ps no longer shows them), and masked in
 * any text, which the logger does for every line it writes.
 *
 * What counts as a password: the value of a password keyword (password=,
 * with or without spaces around '=', quoted or not, also as a URI query
 * parameter), and the password of a URI's user information
 * (postgresql://user:PASSWORD@host). And every password registered with
 * tm_secret_register, wherever it appears (libpq echoes pieces of a
 * malformed URI without saying what they are). */
#ifndef TM_SECRET_H
#define TM_SECRET_H

#include <stddef.h>

#define TM_SECRET_MASK "***"

/* Where the passwords of s are: up to max [start, end) byte ranges, in
 * order; returns how many were found (may exceed max). */
typedef struct tm_span {
    size_t start, end;
} tm_span;
size_t tm_secret_spans(const char *s, tm_span *out, size_t max);

/* Overwrites every password in s with '*' (same length); returns how many
 * there were. */
int tm_secret_scrub(char *s);

/* Remembers the passwords of conninfo (as written and percent-decoded) so
 * that tm_secret_mask hides them wherever they appear. Passwords shorter
 * than three characters are not remembered (masking them everywhere would
 * garble every message); their password= and URI forms are still masked. */
void tm_secret_register(const char *conninfo);
/* Forgets every registered password (for tests). */
void tm_secret_forget_all(void);

/* Copies in into out (at most len bytes, NUL-terminated) with every
 * registered password and every password found by tm_secret_spans shown
 * as "***". */
void tm_secret_mask(const char *in, char *out, size_t len);

#endif
