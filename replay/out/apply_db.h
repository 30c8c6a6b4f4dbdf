/* replay --apply: writing replayed row sets into a database, in one
 * transaction.
 *
 * Per table the row set is COPYed into a temporary table, compared with the
 * target by key, and then:
 *   replace (default): target rows of the subset (all rows, or those
 *     matching --where, evaluated by tidemark itself on the target's rows)
 *     that the row set lacks are deleted, rows that differ are updated,
 *     missing rows are inserted: afterwards the subset equals the row set.
 *   merge: missing rows are inserted and differing rows updated; nothing
 *     is deleted.
 * Tables whose key is the whole row (no primary or replica identity key)
 * are replaced by deleting the subset and inserting the row set; merge
 * inserts the rows that have no identical row in the target.
 * The target's columns decide what is written (columns it lacks are left
 * out, generated ones never written, GENERATED ALWAYS identity columns
 * never updated); tables it lacks are created first with --create-tables
 * (ddl.h); afterwards the sequences its tables own restart past the rows.
 * --dry-run is a rehearsal: the same statements, deferred constraints
 * checked at once, then a rollback. Writing into the
 * capture source (same system identifier and database as the journal) is
 * refused unless allow_source. Every name is quoted by sql_quote.h. */
#ifndef TM_APPLY_DB_H
#define TM_APPLY_DB_H

#include <stdbool.h>
#include <stdio.h>

#include "store/journal/journal.h"
#include "replay/engine/rowset.h"
#include "replay/query/where.h"

typedef struct tm_apply_opts {
    const char *conninfo;
    bool create_tables, merge, dry_run, allow_source;
} tm_apply_opts;

typedef struct tm_apply_table {
    tm_rowset *rs;               /* already filtered by where */
    const tm_where_bound *where; /* the subset of the target to replace; NULL: all */
} tm_apply_table;

typedef struct tm_applier tm_applier;

/* Connects to the target and checks it (refusing the capture source
 * unless allowed), before the long work of replaying. -1 with err. */
int tm_apply_open(const tm_apply_opts *o, const tm_meta *meta, tm_applier **out, tm_error *err);

/* Applies the tables in one transaction; prints one line per table to
 * report. 0, or -1 with err (nothing is written then). */
int tm_apply_run(tm_applier *a, tm_apply_table *tables, size_t n, FILE *report, tm_error *err);

void tm_apply_close(tm_applier *a);

#endif
