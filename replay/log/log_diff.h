/* tidemark log: what an update changed, column by column, and inside json
 * and jsonb values member by member (the changed paths).
 *
 * The walk calls back once per difference; nothing is allocated per value
 * (values are spans of the row images). */
#ifndef TM_LOG_DIFF_H
#define TM_LOG_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/log/log_filter.h"
#include "replay/query/jsondiff.h"
#include "store/journal/tuple.h"

typedef enum log_side_kind {
    LOG_SIDE_VALUE,     /* p[0..len): the column's text, or raw JSON inside a path */
    LOG_SIDE_NULL,      /* SQL NULL */
    LOG_SIDE_ABSENT,    /* old side of a JSON member that was added */
    LOG_SIDE_REMOVED,   /* new side of a JSON member that was removed */
    LOG_SIDE_UNKNOWN,   /* the old value was not recorded (REPLICA IDENTITY not FULL) */
    LOG_SIDE_UNCHANGED, /* an unchanged TOAST value: not recorded, known to be the same */
} log_side_kind;

typedef struct log_side {
    log_side_kind kind;
    const char *p;
    size_t len;
} log_side;

/* A JSON member key, as it is written in the JSON text (still escaped,
 * without the quotes). */
typedef tm_json_key log_key;

typedef struct log_diff_item {
    size_t col;
    const log_key *path; /* members from the column's value down */
    size_t depth;        /* 0: the whole column */
    log_side old, new_;  /* with depth > 0, VALUE sides are raw JSON */
} log_diff_item;

/* Returns 0 to go on, non-zero to stop the walk (which then returns it). */
typedef int (*log_diff_fn)(void *ctx, const log_diff_item *it);

typedef struct log_differ {
    tm_json_differ j;
} log_differ;

void log_differ_free(log_differ *d);

/* The differences of an update of lr's table. old_kind is the Change's
 * ('O' whole old row, 'K' key columns only, 0 none: then nold is 0).
 * Columns whose old value is known and equal are skipped; an unchanged
 * TOAST value ('u') is skipped when the old value is known, else reported
 * as UNCHANGED; without an old value, the new value is reported against
 * UNKNOWN (key columns excepted: they are the row's identity, shown apart).
 * json/jsonb objects on both sides are compared member by member. Returns
 * 0, the callback's non-zero value, or -1 when out of memory. */
int log_diff_update(log_differ *d, const log_rel *lr, const tm_value *oldv, uint32_t nold,
                    char old_kind, const tm_value *newv, uint32_t nnew, log_diff_fn fn, void *ctx);

/* Whether column c is part of the row's key as log shows it. */
bool log_is_key(const tm_relver *rv, size_t c);

#endif
