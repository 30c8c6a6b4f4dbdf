/* Writing replayed row sets: CSV (as COPY ... WITH (FORMAT csv, HEADER)),
 * JSON lines, and SQL scripts for psql (the types, sequences and tables
 * from the recorded schema, then COPY ... FROM stdin blocks and the owned
 * sequences set past the rows, in one transaction). The SQL pieces
 * (ddl.h) are shared with --apply. */
#ifndef TM_EMIT_H
#define TM_EMIT_H

#include <stdbool.h>

#include "replay/out/out.h"
#include "replay/engine/rowset.h"

typedef enum tm_format { TM_FMT_CSV, TM_FMT_JSONL, TM_FMT_SQL } tm_format;

/* File name extension of a format ("csv", "jsonl", "sql"). */
const char *tm_format_ext(tm_format f);

/* One table's rows. For SQL: its CREATE TABLE (when create_tables, see
 * ddl.h), its COPY block, and the psql lines that set the sequences the
 * table owns past its rows; the script around it comes from
 * tm_emit_sql_begin/end, and the types its columns use from
 * tm_emit_sql_types. */
int tm_emit_table(tm_out *o, tm_format f, tm_rowset *rs, bool create_tables, tm_error *err);

void tm_emit_sql_begin(tm_out *o);
/* For --create-tables: the types the tables' columns use, each once, in
 * dependency order (ddl.h), before the first table. */
int tm_emit_sql_types(tm_out *o, const tm_version *const *vs, size_t n, tm_error *err);
void tm_emit_sql_end(tm_out *o);

/* ("c1", "c2", ...) of version v. */
int tm_sql_column_list(tm_out *o, const tm_version *v, tm_error *err);

#endif
