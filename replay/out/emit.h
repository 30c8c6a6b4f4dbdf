/* Writing replayed row sets: CSV (as COPY ... WITH (FORMAT csv, HEADER)),
 * JSON lines, and SQL scripts for psql (CREATE TABLE from the recorded
 * schema, then COPY ... FROM stdin blocks, in one transaction). The SQL
 * pieces are shared with --apply. */
#ifndef TM_EMIT_H
#define TM_EMIT_H

#include <stdbool.h>

#include "replay/out/out.h"
#include "replay/engine/rowset.h"

typedef enum tm_format { TM_FMT_CSV, TM_FMT_JSONL, TM_FMT_SQL } tm_format;

/* File name extension of a format ("csv", "jsonl", "sql"). */
const char *tm_format_ext(tm_format f);

/* One table's rows. For SQL: its CREATE TABLE (when create_tables) and its
 * COPY block; the script around it comes from tm_emit_sql_begin/end. */
int tm_emit_table(tm_out *o, tm_format f, tm_rowset *rs, bool create_tables, tm_error *err);

void tm_emit_sql_begin(tm_out *o);
void tm_emit_sql_end(tm_out *o);

/* CREATE TABLE (and CREATE SCHEMA IF NOT EXISTS for a schema other than
 * public) for version v, with the primary key from its key columns. Type
 * names are the recorded format_type() texts; one that does not read as a
 * type name (something other than names, quoted names, numbers and
 * ()[],. ) is refused, so no journal content becomes SQL. -1 with err. */
int tm_sql_create_table(tm_out *o, const tm_version *v, tm_error *err);

/* ("c1", "c2", ...) of version v. */
int tm_sql_column_list(tm_out *o, const tm_version *v, tm_error *err);

#endif
