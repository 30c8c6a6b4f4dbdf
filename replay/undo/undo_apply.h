/* tidemark undo --apply: running the guarded statements (undo_sql.h) in one
 * transaction of the target database.
 *
 * Each statement runs under a savepoint and must change exactly one row.
 * Zero rows (the row changed since, or its key is taken) or an integrity
 * error (SQLSTATE class 23, e.g. 23505 unique violation) is a conflict and
 * is rolled back to the savepoint; a foreign-key error (23503) is retried
 * after the other statements (a parent row may come later in the order)
 * until no retry succeeds. Any other error ends everything: nothing is
 * written. At the end: COMMIT when there was no conflict or skip is set,
 * else (and always with dry_run) ROLLBACK. */
#ifndef TM_UNDO_APPLY_H
#define TM_UNDO_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "replay/undo/undo_plan.h"

typedef struct tm_undo_apply_opts {
    const char *conninfo;
    bool dry_run, skip;
} tm_undo_apply_opts;

/* What happened to each statement. */
enum { TM_UNDO_PENDING = 0, TM_UNDO_DONE, TM_UNDO_CONFLICT, TM_UNDO_FAILED };

/* Runs es[0..n) and sets status[i] for each; conflicts are logged (as
 * errors), one line each. *committed tells whether the changes were kept.
 * Returns the number of conflicts, or -1 with err (a connection or SQL
 * error: nothing was written). */
long tm_undo_apply(const tm_undo_apply_opts *o, const tm_undo_entry **es, size_t n, int *status,
                   bool *committed, tm_error *err);

#endif
