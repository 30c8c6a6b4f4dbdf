/* Undo tests without PostgreSQL: synthetic journals (support_journal.h)
 * written from a line of text per transaction, the plan built from one,
 * summed up as text or looked up by table and key, and the text undo's SQL
 * writers produce for it, as malloc'd strings. Every step asserts its own
 * success. */
#ifndef TM_SUPPORT_UNDO_H
#define TM_SUPPORT_UNDO_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/undo/undo_plan.h"
#include "replay/undo/undo_sql.h"
#include "tests/harness/support_journal.h"

/* Transaction xid commits TMT_UNDO_T0 + xid seconds. */
#define TMT_UNDO_T0 INT64_C(1767225600000000) /* 2026-01-01 00:00 UTC */
int64_t tmt_undo_time(uint32_t xid);

/* Opens j on a fresh temp dir, returned (malloc'd; tmt_rmtree it). */
char *tmt_undo_journal(tmt_jw *j);
/* Begins transaction xid of n records, committed at tmt_undo_time(xid). */
void tmt_undo_begin(tmt_jw *j, uint32_t xid, uint64_t n);

/* A table of tmt_undo_write: its schema (version 1) and the name scripts
 * call it by. */
typedef struct tmt_table {
    const char *nsp; /* NULL: public */
    const char *name;
    const char *as; /* the name scripts use; NULL: name */
    uint32_t oid;
    char replica_identity;
    const tmt_col *cols;
    uint32_t ncols;
} tmt_table;

/* A new journal holding the Relation of each table, then a transaction
 * per line of script, committed at tmt_undo_time(xid):
 *   XID[s][u]: CHANGE; CHANGE; ...  (s: a snapshot transaction; u: its
 *                                   new rows keep unchanged TOAST values
 *                                   beside whole old rows, as 'u' rather
 *                                   than capture's 's')
 * where a CHANGE is
 *   +TABLE ROW                      INSERT
 *   -TABLE ROW                      DELETE with the whole old row
 *   TABLE ROW > ROW                 UPDATE with the whole old row (" > "
 *                                   with its spaces: values may hold '>')
 *   !TABLE                          TRUNCATE
 *   #PREFIX                         a logical message
 * TABLE may say its schema version (items@2) and, for DELETE and UPDATE,
 * the old row's kind: items/K (its key only) or items/0 (none: no ROW).
 * A ROW is values separated by commas (trimmed, never empty; none holds
 * a comma, a semicolon or a newline): _ is NULL, ^ an unchanged TOAST
 * value. Returns the journal's dir (malloc'd; tmt_rmtree it). */
char *tmt_undo_write(const tmt_table *tables, size_t ntables, const char *script);

/* A selection of transactions by xid: TMT_XIDS(502, 503). */
#define TMT_XIDS(...)                                                                              \
    (&(tm_undo_select){.xids = (const uint32_t[]){__VA_ARGS__},                                    \
                       .nxids = sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t)})

/* Builds p (zeroed here) from the journal in dir. */
void tmt_undo_plan(tm_undo_plan *p, const char *dir, const tm_undo_select *sel);
/* Builds p, which must fail; returns the error message (malloc'd). */
char *tmt_undo_plan_error(const char *dir, const tm_undo_select *sel);

/* The first entry of table `table` whose image (its row before the set
 * when the set deleted it, else after) has key as its first column's
 * text; the test fails when there is none. */
const tm_undo_entry *tmt_undo_entry(const tm_undo_plan *p, const char *table, const char *key);

/* p's entries in their order, a line each, then the changes it cannot
 * undo:
 *   UPDATE items (1,a,_) > (1,b,_)   kind (NONE, DELETE, UPDATE, INSERT),
 *                                    table, images before and after
 *   INSERT items (2,b,2) > -         (- absent, _ NULL), then any of
 *       "interleaved", "later 503U 505T" (xid and op of each later touch)
 *   cannot nofull d 502 x2           table, replica identity, first xid,
 *                                    how many changes */
char *tmt_undo_plan_text(const tm_undo_plan *p);

/* What tm_undo_stmt (by column), tm_undo_describe, tm_undo_later write for e. */
char *tmt_undo_stmt(const tm_undo_entry *e);
char *tmt_undo_describe(const tm_undo_entry *e);
char *tmt_undo_later(const tm_undo_entry *e);
/* The script of p's entries in tm_undo_order's order. */
char *tmt_undo_script(const tm_undo_plan *p, bool skip);

#endif
