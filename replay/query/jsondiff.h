/* Where two JSON values differ, member by member: objects on both sides
 * are compared key by key (recursively), anything else as a whole value.
 * Used by log (the changed paths it shows) and undo (the paths it sets
 * back). Nothing is allocated per value: spans of the input are passed
 * to the callback; member keys are decoded into one scratch buffer. */
#ifndef TM_JSONDIFF_H
#define TM_JSONDIFF_H

#include <stdbool.h>
#include <stddef.h>

#define TM_JSON_DIFF_MAXDEPTH 32

/* A member key as written in the JSON text (still escaped, no quotes). */
typedef struct tm_json_key {
    const char *p;
    size_t len;
} tm_json_key;

typedef struct tm_json_differ {
    tm_json_key path[TM_JSON_DIFF_MAXDEPTH];
    char *scratch; /* decoded member keys */
    size_t cap;
} tm_json_differ;

void tm_json_differ_free(tm_json_differ *d);

/* One difference at d->path[0..depth): the old and new raw JSON values;
 * op NULL when the member was added, np NULL when it was removed. At depth
 * 0 (values that are not both objects) the whole values. Returns 0 to go
 * on, non-zero to stop the walk (which then returns it). */
typedef int (*tm_json_diff_fn)(void *ctx, const tm_json_differ *d, size_t depth, const char *op,
                               const char *oe, const char *np, const char *ne);

/* Walks the differences of [o, oe) and [n, ne), each exactly one JSON value
 * (trimmed). Returns 0, the callback's value, or -1 when out of memory. */
int tm_json_diff(tm_json_differ *d, const char *o, const char *oe, const char *n, const char *ne,
                 tm_json_diff_fn fn, void *ctx);

/* The span of exactly one JSON value in [p, e) (whitespace around it
 * allowed), or false. */
bool tm_json_one_value(const char *p, const char *e, const char **vs, const char **ve);

#endif
