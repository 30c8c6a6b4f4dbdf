/* Writing replayed row sets per format (emit.h): CSV, JSON lines, and SQL
 * scripts for psql. */
#include "replay/out/emit.h"

#include <string.h>

#include "replay/out/ddl.h"
#include "replay/out/out_csv.h"
#include "replay/out/out_jsonl.h"
#include "replay/out/sql_quote.h"

const char *tm_format_ext(tm_format f)
{
    return f == TM_FMT_CSV ? "csv" : f == TM_FMT_JSONL ? "jsonl" : "sql";
}

int tm_sql_column_list(tm_out *o, const tm_version *v, tm_error *err)
{
    tm_out_putc(o, '(');
    for (uint32_t i = 0; i < v->ncols; i++) {
        if (i)
            tm_out_write(o, ", ", 2);
        if (tm_sql_ident(o, v->cols[i].name, strlen(v->cols[i].name)) != 0)
            return tm_ddl_bad_name(v, err);
    }
    tm_out_putc(o, ')');
    return 0;
}

void tm_emit_sql_begin(tm_out *o)
{
    tm_out_puts(o, "-- Written by tidemark replay: load with psql -v ON_ERROR_STOP=1 -f FILE\n"
                   "SET standard_conforming_strings = on;\n"
                   "SET client_encoding = 'UTF8';\n"
                   "BEGIN;\n");
}

void tm_emit_sql_end(tm_out *o)
{
    tm_out_puts(o, "COMMIT;\n");
}

int tm_emit_sql_types(tm_out *o, const tm_version *const *vs, size_t n, tm_error *err)
{
    tm_ddl_done done = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = tm_ddl_types(o, vs[i], &done, NULL, NULL, err);
    tm_ddl_done_free(&done);
    return rc;
}

static int emit_sql(tm_out *o, tm_rowset *rs, bool create_tables, tm_error *err)
{
    const tm_version *v = rs->v;
    if (create_tables && tm_sql_create_table(o, v, err) != 0)
        return -1;
    tm_out_puts(o, "COPY ");
    if (tm_sql_qualified(o, v->nspname, v->relname) != 0)
        return tm_ddl_bad_name(v, err);
    tm_out_putc(o, ' ');
    if (tm_sql_column_list(o, v, err) != 0)
        return -1;
    tm_out_puts(o, " FROM stdin;\n");
    for (size_t i = 0; i < rs->n; i++)
        if (tm_copy_text_row(o, tm_rowset_row(rs, i), v->ncols, err) != 0)
            return -1;
    tm_out_puts(o, "\\.\n");
    return tm_ddl_set_sequences_script(o, v, err);
}

int tm_emit_table(tm_out *o, tm_format f, tm_rowset *rs, bool create_tables, tm_error *err)
{
    const tm_version *v = rs->v;
    if (f == TM_FMT_SQL)
        return emit_sql(o, rs, create_tables, err);
    if (f == TM_FMT_CSV) {
        tm_csv_header(o, v->desc, v->ncols);
        for (size_t i = 0; i < rs->n; i++)
            if (tm_csv_row(o, tm_rowset_row(rs, i), v->ncols, err) != 0)
                return -1;
        return 0;
    }
    tm_jsonl j;
    if (tm_jsonl_init(&j, v->desc, v->ncols, err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < rs->n && rc == 0; i++)
        rc = tm_jsonl_row(&j, o, tm_rowset_row(rs, i), err);
    tm_jsonl_free(&j);
    return rc;
}
