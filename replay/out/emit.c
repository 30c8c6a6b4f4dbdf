#include "replay/out/emit.h"

#include <string.h>

#include "replay/out/out_csv.h"
#include "replay/out/out_jsonl.h"
#include "replay/out/sql_quote.h"

const char *tm_format_ext(tm_format f)
{
    return f == TM_FMT_CSV ? "csv" : f == TM_FMT_JSONL ? "jsonl" : "sql";
}

static int bad_name(const tm_version *v, tm_error *err)
{
    tm_error_set(err,
                 "the journal records a name with a NUL byte in %s.%s; it cannot be written "
                 "as SQL",
                 v->nspname, v->relname);
    return -1;
}

int tm_sql_column_list(tm_out *o, const tm_version *v, tm_error *err)
{
    tm_out_putc(o, '(');
    for (uint32_t i = 0; i < v->ncols; i++) {
        if (i)
            tm_out_write(o, ", ", 2);
        if (tm_sql_ident(o, v->cols[i].name, strlen(v->cols[i].name)) != 0)
            return bad_name(v, err);
    }
    tm_out_putc(o, ')');
    return 0;
}

/* Whether s reads as a format_type() result: plain words, "quoted names",
 * numbers, spaces and ( ) [ ] , . only (so no ; and no comment). */
static bool type_name_ok(const char *s)
{
    if (!*s)
        return false;
    while (*s) {
        char c = *s;
        if (c == '"') {
            for (s++;; s++) {
                if (!*s)
                    return false;
                if (*s == '"') {
                    if (s[1] != '"')
                        break;
                    s++;
                }
            }
            s++;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '$' || c == ' ' || c == '(' || c == ')' || c == '[' ||
                  c == ']' || c == ',' || c == '.' || (unsigned char)c >= 0x80;
        if (!ok)
            return false;
        s++;
    }
    return true;
}

int tm_sql_create_table(tm_out *o, const tm_version *v, tm_error *err)
{
    if (strcmp(v->nspname, "public") != 0) {
        tm_out_puts(o, "CREATE SCHEMA IF NOT EXISTS ");
        if (tm_sql_ident(o, v->nspname, strlen(v->nspname)) != 0)
            return bad_name(v, err);
        tm_out_puts(o, ";\n");
    }
    tm_out_puts(o, "CREATE TABLE ");
    if (tm_sql_qualified(o, v->nspname, v->relname) != 0)
        return bad_name(v, err);
    tm_out_puts(o, " (");
    for (uint32_t i = 0; i < v->ncols; i++) {
        const tm_col *c = &v->cols[i];
        if (!type_name_ok(c->type_name)) {
            tm_error_set(err,
                         "the journal records the type of %s.%s column \"%s\" as \"%.100s\", "
                         "which is not a type name; create the table yourself",
                         v->nspname, v->relname, c->name, c->type_name);
            return -1;
        }
        tm_out_puts(o, i ? ",\n    " : "\n    ");
        if (tm_sql_ident(o, c->name, strlen(c->name)) != 0)
            return bad_name(v, err);
        tm_out_putc(o, ' ');
        tm_out_puts(o, c->type_name);
        if (c->not_null || c->pk_position)
            tm_out_puts(o, " NOT NULL");
    }
    uint32_t keys[v->ncols + 1];
    bool unique;
    uint32_t nk = tm_version_key(v, keys, &unique);
    if (unique && nk > 0) {
        tm_out_puts(o, ",\n    PRIMARY KEY (");
        for (uint32_t k = 0; k < nk; k++) {
            if (k)
                tm_out_write(o, ", ", 2);
            tm_sql_ident(o, v->cols[keys[k]].name, strlen(v->cols[keys[k]].name));
        }
        tm_out_putc(o, ')');
    }
    tm_out_puts(o, "\n);\n");
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

static int emit_sql(tm_out *o, tm_rowset *rs, bool create_tables, tm_error *err)
{
    const tm_version *v = rs->v;
    if (create_tables && tm_sql_create_table(o, v, err) != 0)
        return -1;
    tm_out_puts(o, "COPY ");
    if (tm_sql_qualified(o, v->nspname, v->relname) != 0)
        return bad_name(v, err);
    tm_out_putc(o, ' ');
    if (tm_sql_column_list(o, v, err) != 0)
        return -1;
    tm_out_puts(o, " FROM stdin;\n");
    for (size_t i = 0; i < rs->n; i++)
        if (tm_copy_text_row(o, tm_rowset_row(rs, i), v->ncols, err) != 0)
            return -1;
    tm_out_puts(o, "\\.\n");
    return 0;
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
