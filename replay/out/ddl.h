/* Recreating a captured table's schema (replay --create-tables, in --apply
 * and in --format sql scripts) from what the journal recorded of it.
 *
 * Capture records, with every schema version, the catalog detail that
 * pgoutput does not send (Relation.catalog_detail in proto/journal.proto):
 * the enum, domain and composite types the columns use, column defaults,
 * identity columns and the sequences of serial columns, unique keys and
 * the primary key's name. From it the statements come in dependency order:
 * the types (each after the types it uses), the sequences defaults call,
 * the table with its columns, NOT NULL, defaults, identity, primary key and
 * unique constraints, unique indexes, and which column owns which
 * sequence. Journals written before the detail was recorded give the
 * columns, NOT NULL and the primary key; what cannot be recreated (types
 * the journal does not define, types of extensions, NOT VALID checks) is
 * said through the logger as a warning.
 *
 * Names are always quoted (sql_quote.h). Defaults and CHECK conditions are
 * the source schema's own expressions, as pg_get_expr() printed them; they
 * are written only when they read as one expression (balanced parentheses
 * and quotes, no ';', no comment, no backslash outside quotes), so they
 * cannot end the statement or reach psql; otherwise they are left out with
 * a warning. Type names that are not recorded types must read as a
 * format_type() result. */
#ifndef TM_DDL_H
#define TM_DDL_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/engine/schema.h"
#include "replay/out/out.h"

/* The types written (or found in the target) so far, by qualified name. */
typedef struct tm_ddl_done {
    char **names;
    size_t n, cap;
} tm_ddl_done;

void tm_ddl_done_free(tm_ddl_done *d);

/* Whether the target has type t already (then it is not created). */
typedef bool (*tm_ddl_exists_fn)(void *ctx, const Tidemark__TypeDef *t);

/* The CREATE statements of the types v's columns use that done does not
 * list yet (and that exists, when not NULL, does not find), with CREATE
 * SCHEMA IF NOT EXISTS for their schemas; done then lists them. -1 with err
 * only when out of memory. */
int tm_ddl_types(tm_out *o, const tm_version *v, tm_ddl_done *done, tm_ddl_exists_fn exists,
                 void *ctx, tm_error *err);

/* CREATE SCHEMA IF NOT EXISTS (a schema other than public), CREATE
 * SEQUENCE IF NOT EXISTS for the sequences of serial columns and defaults,
 * CREATE TABLE, CREATE UNIQUE INDEX and ALTER SEQUENCE ... OWNED BY for
 * version v. -1 with err when a name holds a NUL byte or a column's type
 * name does not read as one. */
int tm_sql_create_table(tm_out *o, const tm_version *v, tm_error *err);

/* For a script, after the table's rows: a DO block that restarts every
 * sequence the target's table owns (serial and identity columns) past its
 * column's highest value, as the target is when the script runs (an empty
 * table leaves them as they are). ALTER SEQUENCE is transactional, so the
 * script stays all or nothing. */
int tm_ddl_set_sequences_script(tm_out *o, const tm_version *v, tm_error *err);

/* Whether s reads as one SQL expression (see above). */
bool tm_ddl_expr_ok(const char *s);

/* Fails with the error for a name with a NUL byte in v (it cannot be
 * written as SQL); returns -1. */
int tm_ddl_bad_name(const tm_version *v, tm_error *err);

#endif
