#include "replay/out/target.h"

#include <stdlib.h>
#include <string.h>

/* libpq's message without its trailing newline, after what. */
static void db_error(tm_error *err, const char *what, PGresult *r)
{
    tm_error_setc(err, TM_ERR_DB, "%s: %s", what, PQresultErrorMessage(r));
    size_t n = strlen(err->msg);
    while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
        err->msg[--n] = '\0';
}

int tm_target_is_source(PGconn *c, const tm_meta *meta, bool *same, tm_error *err)
{
    PGresult *r =
        PQexec(c, "SELECT system_identifier::text, current_database() FROM pg_control_system()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        db_error(err,
                 "cannot tell whether the target is the capture source (reading "
                 "pg_control_system() needs superuser or pg_monitor)",
                 r);
        PQclear(r);
        return -1;
    }
    *same = strtoull(PQgetvalue(r, 0, 0), NULL, 10) == meta->system_identifier &&
            !strcmp(PQgetvalue(r, 0, 1), meta->database);
    PQclear(r);
    return 0;
}

void tm_target_free(tm_target_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
        free(t->cols[i].missing);
    }
    free(t->cols);
    memset(t, 0, sizeof *t);
}

static char *dup_or_null(PGresult *r, int row, int col, bool *oom)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    char *s = strdup(PQgetvalue(r, row, col));
    *oom |= !s;
    return s;
}

int tm_target_read(PGconn *c, const char *schema, const char *name, tm_target_table *t,
                   tm_error *err)
{
    memset(t, 0, sizeof *t);
    const char *p[] = {schema, name};
    /* attmissingval is read as text only when the column has one. */
    PGresult *r = PQexecParams(
        c,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', "
        "a.attidentity = 'a', a.attnotnull, a.atthasdef OR a.attidentity <> '', "
        "CASE WHEN a.atthasmissing THEN a.attmissingval::text END, c.oid "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') ORDER BY a.attnum",
        2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char what[600];
        snprintf(what, sizeof what, "reading the target's columns of %s.%s", schema, name);
        db_error(err, what, r);
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    t->exists = n > 0;
    t->cols = calloc((size_t)n + 1, sizeof *t->cols);
    bool oom = !t->cols;
    for (int i = 0; i < n && !oom; i++) {
        if (PQgetisnull(r, i, 0))
            continue; /* a table without columns */
        tm_target_col *col = &t->cols[t->n++];
        col->name = dup_or_null(r, i, 0, &oom);
        col->type = dup_or_null(r, i, 1, &oom);
        col->generated = PQgetvalue(r, i, 2)[0] == 't';
        col->always = PQgetvalue(r, i, 3)[0] == 't';
        col->notnull = PQgetvalue(r, i, 4)[0] == 't';
        col->has_default = PQgetvalue(r, i, 5)[0] == 't';
        col->missing = dup_or_null(r, i, 6, &oom);
    }
    PQclear(r);
    if (oom) {
        tm_target_free(t);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    return 0;
}

const tm_target_col *tm_target_col_find(const tm_target_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->cols[i].name, name))
            return &t->cols[i];
    return NULL;
}

int tm_target_copy_in(PGconn *c, const char *copy_stmt, const char *data, size_t len, tm_error *err)
{
    PGresult *r = PQexec(c, copy_stmt);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        db_error(err, "COPY into a temporary table failed", r);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    bool ok = true;
    for (size_t off = 0; ok && off < len; off += 1u << 20) {
        size_t n = len - off < (1u << 20) ? len - off : 1u << 20;
        ok = PQputCopyData(c, data + off, (int)n) == 1;
    }
    if (PQputCopyEnd(c, ok ? NULL : "tidemark: sending rows failed") != 1)
        ok = false;
    int rc = 0;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            db_error(err, "COPY into a temporary table failed", r);
            rc = -1;
        }
        PQclear(r);
    }
    if (!ok && rc == 0) {
        tm_error_setc(err, TM_ERR_DB, "sending rows to the target failed: %s", PQerrorMessage(c));
        rc = -1;
    }
    return rc;
}
