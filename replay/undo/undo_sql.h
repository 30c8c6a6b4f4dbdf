/* tidemark undo: the statements that reverse a plan's entries.
 *
 * Each entry becomes at most one guarded statement that changes exactly
 * one row, and only if that row still looks as the undone changes left it:
 *   inserted row  -> DELETE ... WHERE key = ... AND every column IS NOT
 *                    DISTINCT FROM its value after the change
 *   updated row   -> UPDATE ... SET (columns back) WHERE (the same test,
 *                    by column: over the key and the columns set back)
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

#include "replay/out/out.h"
#include "replay/undo/undo_plan.h"

/* Run first in the session that undoes (inside its transaction): a
 * function the DELETE statements call for the row they remove. Deleting a
 * row that the undone changes inserted must not take with it rows that
 * later, legitimate changes made to refer to it (ON DELETE CASCADE, SET
 * NULL, SET DEFAULT would change them without a word): it raises a
 * foreign_key_violation naming them, which undo treats as a conflict like
 * any other foreign key failure (retried after the other statements, since
 * a child the undo itself removes may still be there). */
#define TM_UNDO_SESSION_SQL                                                                        \
    "CREATE FUNCTION pg_temp.tidemark_unreferenced(tbl regclass, row_ctid tid)\n"                  \
    "RETURNS boolean LANGUAGE plpgsql COST 10000 AS $tidemark_fn$\n"                               \
    "DECLARE fk record; cond text; hit boolean;\n"                                                 \
    "BEGIN\n"                                                                                      \
    "  FOR fk IN SELECT c.conrelid::regclass AS child, c.conname, c.conkey, c.confkey,\n"          \
    "                   c.confdeltype FROM pg_catalog.pg_constraint c\n"                           \
    "            WHERE c.contype = 'f' AND c.confrelid = tbl AND c.confdeltype IN ('c', 'n', "     \
    "'d')\n"                                                                                       \
    "  LOOP\n"                                                                                     \
    "    SELECT string_agg(format('r.%I = p.%I', ca.attname, pa.attname), ' AND ') INTO cond\n"    \
    "      FROM unnest(fk.conkey, fk.confkey) AS k(ck, pk)\n"                                      \
    "      JOIN pg_catalog.pg_attribute ca ON ca.attrelid = fk.child AND ca.attnum = k.ck\n"       \
    "      JOIN pg_catalog.pg_attribute pa ON pa.attrelid = tbl AND pa.attnum = k.pk;\n"           \
    "    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s r, %s p WHERE p.ctid = $1 AND %s)',\n"    \
    "                   fk.child, tbl, cond) INTO hit USING row_ctid;\n"                           \
    "    IF hit THEN\n"                                                                            \
    "      RAISE foreign_key_violation USING MESSAGE = format(\n"                                  \
    "        'rows of %s that the undone changes did not make still refer to it (foreign key "     \
    "%s); deleting it would %s',\n"                                                                \
    "        fk.child, fk.conname, CASE fk.confdeltype WHEN 'c' THEN 'delete them' WHEN 'n' "      \
    "THEN 'set their reference to NULL' ELSE 'set their reference to its default' END);\n"         \
    "    END IF;\n"                                                                                \
    "  END LOOP;\n"                                                                                \
    "  RETURN true;\n"                                                                             \
    "END $tidemark_fn$"

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

/* The statement for e, without a terminating ';'. An UPDATE's test covers
 * the key and the columns it sets back, or (by_row) every column. -1 with
 * err when a value cannot be written (a NUL byte). */
int tm_undo_stmt(tm_out *o, const tm_undo_entry *e, bool by_row, tm_error *err);

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
                         bool skip, bool by_row, tm_error *err);

#endif
