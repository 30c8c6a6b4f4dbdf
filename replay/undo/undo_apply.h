/* tidemark undo --apply: the plan's entries written into the target in one
 * transaction, set-based, fitted to the target's schema as it is now.
 *
 * The target must be the journal's source (system identifier and database
 * name as journal.meta records them) unless allow_other_target.
 *
 * Entries are grouped by table, kind and shape (the schema versions of
 * their images, and for an UPDATE the columns and JSON paths it sets
 * back). Per group the images are COPYed into a temporary table, the
 * conflicts are found by one SELECT against the target, and one statement
 * writes the rest (DELETE ... USING, UPDATE ... FROM, INSERT ... SELECT),
 * its conflict predicates in SQL. A group whose statement fails is rolled
 * back to a savepoint and done row by row, so that every failure is known
 * per row; a foreign-key failure is tried again after the other groups.
 *
 * What is written fits the target's table: columns it no longer has are
 * left out, values are cast from their text to its column types, a column
 * added after the undone change gets attmissingval, else its default, else
 * NULL (a NOT NULL column with none of them makes the row a conflict),
 * generated columns are never written, GENERATED ALWAYS identity columns
 * never updated.
 *
 * Granularity column (the default): an undone UPDATE sets back only the
 * columns it changed, and in jsonb objects only the members (paths) it
 * changed; the row is a conflict only when one of those now differs from
 * what the undone change left, or the row is gone. Granularity row: any
 * difference from the row as the change left it is a conflict. Deleting an
 * inserted row is a conflict whenever it changed since; inserting a deleted
 * row back, when its key is taken.
 *
 * The real run and the dry run execute the same statements (constraints
 * made IMMEDIATE, so a deferred foreign key fails at its row, not at
 * COMMIT), emit the undo's own context message, and differ only in the
 * last word: the dry run always rolls back. */
#ifndef TM_UNDO_APPLY_H
#define TM_UNDO_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/undo/undo_plan.h"
#include "replay/out/out.h"
#include "store/journal/journal.h"

typedef enum tm_undo_mode {
    TM_UNDO_ABORT,    /* a conflict: nothing is written */
    TM_UNDO_SKIP,     /* conflicting rows are left as they are */
    TM_UNDO_OVERWRITE /* the undone values are written over later changes (a row that is
                         gone stays a conflict) */
} tm_undo_mode;

typedef struct tm_undo_apply_opts {
    const char *conninfo;
    const tm_meta *meta;
    bool dry_run, allow_other_target, by_row;
    tm_undo_mode mode;
    const char *context; /* a JSON object: the undo's own context message */
} tm_undo_apply_opts;

/* What happened to each entry. */
enum { TM_UNDO_PENDING = 0, TM_UNDO_DONE, TM_UNDO_CONFLICT, TM_UNDO_FAILED };

typedef struct tm_undo_row {
    int status;
    bool overwritten; /* DONE over a conflict (--on-conflict overwrite) */
    char *reason;     /* why a conflict or failure (malloc'd), or NULL */
} tm_undo_row;

typedef struct tm_undo_result {
    uint64_t restored, conflicts, failed;
    bool committed;
    char xid[24]; /* the undo's own transaction */
} tm_undo_result;

/* Runs es[0..n); rows[i] tells what became of es[i] (free with
 * tm_undo_rows_free). Returns 0 (res filled; committed only when there was
 * no failure, no conflict under abort, and not a dry run), or -1 with err
 * (a connection or SQL error, or a refused target: nothing was written). */
int tm_undo_apply(const tm_undo_apply_opts *o, const tm_undo_entry **es, size_t n,
                  tm_undo_row *rows, tm_undo_result *res, tm_error *err);

void tm_undo_rows_free(tm_undo_row *rows, size_t n);

/* The JSON array of the columns (and jsonb paths, "col.key.key") that
 * undoing e writes back at this granularity, into o. */
void tm_undo_changed_json(tm_out *o, const tm_undo_entry *e, bool by_row);

#endif
