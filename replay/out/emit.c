/* Writing replayed row sets per format (emit.h): CSV, JSON lines, and SQL
 * scripts for psql. */
#include "replay/out/emit.h"

#include <stdlib.h>
#include <string.h>

#include "replay/out/ddl.h"
#include "replay/out/out_csv.h"
#include "replay/out/out_jsonl.h"
#include "replay/out/sql_quote.h"
#include "store/common/log.h"

const char *tm_format_ext(tm_format f)
{
    return f == TM_FMT_CSV ? "csv" : f == TM_FMT_JSONL ? "jsonl" : "sql";
}

/* Whether column i was a generated column at the source (stored, sent by
 * pgoutput on 18): the target computes it, COPY may not write it. */
static bool generated(const tm_version *v, uint32_t i)
{
    return v->rel->columns[i]->generated != 0;
}

int tm_sql_column_list(tm_out *o, const tm_version *v, tm_error *err)
{
    tm_out_putc(o, '(');
    for (uint32_t i = 0, n = 0; i < v->ncols; i++) {
        if (generated(v, i))
            continue;
        if (n++)
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
    /* The columns written, and a row of them (one buffer per table). */
    uint32_t cols[v->ncols + 1], nw = 0;
    for (uint32_t i = 0; i < v->ncols; i++)
        if (!generated(v, i))
            cols[nw++] = i;
    tm_value *buf = nw < v->ncols ? malloc((nw + 1) * sizeof *buf) : NULL;
    if (nw < v->ncols && !buf) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory writing %s.%s", v->nspname, v->relname);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < rs->n && rc == 0; i++) {
        const tm_value *row = tm_rowset_row(rs, i);
        if (buf) {
            for (uint32_t k = 0; k < nw; k++)
                buf[k] = row[cols[k]];
            row = buf;
        }
        rc = tm_copy_text_row(o, row, nw, err);
    }
    free(buf);
    if (rc != 0)
        return -1;
    tm_out_puts(o, "\\.\n");
    return tm_ddl_set_sequences_script(o, v, err);
}

/* CSV and JSON lines are to be what COPY (SELECT * ...) gives: say which
 * generated columns they cannot hold, those the journal has no value of. */
static void warn_unpublished(const tm_version *v, tm_format f)
{
    const Tidemark__Relation *r = v->rel;
    if (!r->n_unpublished_columns)
        return;
    char list[600] = "";
    size_t len = 0;
    for (size_t i = 0; i < r->n_unpublished_columns && len < sizeof list; i++) {
        const Tidemark__Column *c = r->unpublished_columns[i];
        len += (size_t)snprintf(list + len, sizeof list - len, "%s\"%s\" (%s)", i ? ", " : "",
                                c->name ? c->name : "", c->generated == 'v' ? "virtual" : "stored");
    }
    tm_log_warning("%s.%s: generated column(s) %s are not in the journal (pgoutput does not send "
                   "virtual generated columns, nor stored ones before PostgreSQL 18), so this %s "
                   "leaves them out and differs from COPY (SELECT * ...); replay --apply "
                   "--create-tables recreates them for the target to compute",
                   v->nspname, v->relname, list, f == TM_FMT_CSV ? "CSV" : "JSON lines output");
}

int tm_emit_table(tm_out *o, tm_format f, tm_rowset *rs, bool create_tables, tm_error *err)
{
    const tm_version *v = rs->v;
    if (f == TM_FMT_SQL)
        return emit_sql(o, rs, create_tables, err);
    warn_unpublished(v, f);
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
