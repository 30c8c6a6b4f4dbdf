/* Table names as users type them on the command line: NAME or SCHEMA.NAME,
 * each part plain (folded to lower case, as PostgreSQL does) or
 * double-quoted ("My Table", with "" for a quote). */
#ifndef TM_QUALNAME_H
#define TM_QUALNAME_H

#include <stdbool.h>
#include <stddef.h>

#include "store/common/tm_error.h"

#define TM_NAME_MAX 128

typedef struct tm_qualname {
    char schema[TM_NAME_MAX]; /* "public" when not given */
    char name[TM_NAME_MAX];
} tm_qualname;

int tm_qualname_parse(const char *s, tm_qualname *out, tm_error *err);
/* "schema.name" with each part quoted only when it needs to be. */
char *tm_qualname_format(const char *schema, const char *name, char *buf, size_t len);
/* Whether a --table list of n names (none: every table) holds schema.name. */
bool tm_qualname_selects(const tm_qualname *list, size_t n, const char *schema, const char *name);

#endif
