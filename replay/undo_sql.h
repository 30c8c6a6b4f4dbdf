/* tidemark undo: the statements that reverse a plan's entries.
 *
 * Each entry becomes at most one guarded statement that changes exactly
 * one row, and only if that row still looks as the undone changes left it:
 *   inserted row  -> DELETE ... WHERE key = ... AND every column IS NOT
 *                    DISTINCT FROM its value after the change
 *   updated row   -> UPDATE ... SET (columns back) WHERE (the same test)
 *   deleted row   -> INSERT ... ON CONFLICT DO NOTHING (the key is free)
 * so an affected-row count other than 1 is a conflict. Tables without a
 * unique key pick one of the identical rows by ctid in a subquery.
 *
 * Order: DELETEs newest first, then UPDATEs newest first, then INSERTs in
 * the order the rows were deleted (parents before the children a cascade
 * removed after them). Every name and value goes through sql_quote.h. */
#ifndef TM_UNDO_SQL_H
#define TM_UNDO_SQL_H

#include <stdbool.h>

#include "out.h"
#include "undo_plan.h"

typedef enum tm_undo_kind {
    TM_UNDO_NONE,   /* nothing to do (inserted and deleted again, or unchanged) */
    TM_UNDO_DELETE, /* undo of an insert */
    TM_UNDO_UPDATE, /* undo of updates */
    TM_UNDO_INSERT  /* undo of a delete or TRUNCATE */
} tm_undo_kind;

tm_undo_kind tm_undo_kind_of(const tm_undo_entry *e);

/* The entries to execute, in order (those of kind NONE left out), as a
 * malloc'd array in *out. Returns the count, or -1 when out of memory. */
long tm_undo_order(const tm_undo_plan *p, const tm_undo_entry ***out);

/* The statement for e, without a terminating ';'. -1 with err when a value
 * cannot be written (a NUL byte). */
int tm_undo_stmt(tm_out *o, const tm_undo_entry *e, tm_error *err);

/* "public.prefs (user_id, key) = (3, 'theme')" for messages. */
void tm_undo_describe(tm_out *o, const tm_undo_entry *e);

/* Why e conflicted, from the journal: "changed later by xid 812 (UPDATE at
 * 2026-...)" or "no later change in the journal". */
void tm_undo_later(tm_out *o, const tm_undo_entry *e);

/* The table's name as in the target (newest recorded name), quoted. */
void tm_undo_table_name(tm_out *o, const tm_table *t);

/* A whole psql script: settings, BEGIN, one DO block per entry that raises
 * an error (abort) or a warning (skip) when the row count is not 1 (skip
 * also turns integrity errors into warnings), COMMIT. */
int tm_undo_write_script(tm_out *o, const tm_undo_plan *p, const tm_undo_entry **es, size_t n,
                         bool skip, tm_error *err);

#endif
