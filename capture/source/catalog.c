#include "capture/source/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dupstr(const char *s)
{
    return strdup(s ? s : "");
}

int tm_catalog_table_oid(PGconn *conn, const tm_qualname *name, uint32_t *oid, tm_error *err)
{
    const char *params[] = {name->schema, name->name};
    PGresult *res =
        PQexecParams(conn,
                     "SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n "
                     "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
                     2, NULL, params, NULL, NULL, 0);
    char qn[2 * TM_NAME_MAX + 8];
    tm_qualname_format(name->schema, name->name, qn, sizeof qn);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "looking up table %s: %s", qn, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        tm_error_setc(err, TM_ERR_NOT_FOUND, "table %s does not exist in the source database", qn);
        PQclear(res);
        return -1;
    }
    const char *kind = PQgetvalue(res, 0, 1);
    if (strcmp(kind, "r") != 0 && strcmp(kind, "p") != 0) {
        tm_error_set(err, "%s is not a table (relkind '%s'); only tables can be captured", qn,
                     kind);
        PQclear(res);
        return -1;
    }
    *oid = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* Columns as pgoutput sends them: live, not generated, in attnum order. */
static const char *columns_sql =
    "SELECT a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod), a.atttypmod,"
    "       a.attnotnull,"
    /* 1-based position in the primary key (int2vector subscripts start at
     * 0, so array_position would be off by one). */
    "       COALESCE((SELECT k.n FROM pg_index i,"
    "                        unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)"
    "                 WHERE i.indrelid = a.attrelid AND i.indisprimary"
    "                   AND k.attnum = a.attnum), 0),"
    "       CASE c.relreplident"
    "         WHEN 'f' THEN true"
    "         WHEN 'n' THEN false"
    "         ELSE EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid"
    "                      AND a.attnum = ANY (i.indkey)"
    "                      AND (CASE c.relreplident WHEN 'i' THEN i.indisreplident"
    "                            ELSE i.indisprimary END))"
    "       END,"
    "       a.atthasmissing,"
    "       CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END"
    "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
    " WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''"
    " ORDER BY a.attnum";

int tm_catalog_relation(PGconn *conn, uint32_t oid, tm_catrel *out, tm_error *err)
{
    char oidtxt[16];
    snprintf(oidtxt, sizeof oidtxt, "%u", oid);
    const char *params[] = {oidtxt};
    memset(out, 0, sizeof *out);
    tidemark__relation__init(&out->rel);

    PGresult *res = PQexecParams(conn,
                                 "SELECT n.nspname, c.relname, c.relreplident, c.relfilenode "
                                 "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                 "WHERE c.oid = $1",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        tm_error_setc(err, TM_ERR_DB, "reading the catalog entry of relation %u: %s", oid,
                      PQresultStatus(res) == PGRES_TUPLES_OK ? "it no longer exists"
                                                             : PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    out->rel.has_oid = 1;
    out->rel.oid = oid;
    out->rel.namespace_ = dupstr(PQgetvalue(res, 0, 0));
    out->rel.name = dupstr(PQgetvalue(res, 0, 1));
    out->rel.has_replica_identity = 1;
    out->rel.replica_identity = (uint32_t)(unsigned char)PQgetvalue(res, 0, 2)[0];
    out->rel.has_filenode = 1;
    out->rel.filenode = (uint32_t)strtoul(PQgetvalue(res, 0, 3), NULL, 10);
    PQclear(res);

    res = PQexecParams(conn, columns_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "reading the columns of %s.%s: %s", out->rel.namespace_,
                      out->rel.name, PQresultErrorMessage(res));
        PQclear(res);
        tm_catrel_free(out);
        return -1;
    }
    int n = PQntuples(res);
    out->cols = calloc((size_t)n + 1, sizeof *out->cols);
    out->colptrs = calloc((size_t)n + 1, sizeof *out->colptrs);
    for (int i = 0; i < n; i++) {
        Tidemark__Column *c = &out->cols[i];
        tidemark__column__init(c);
        c->name = dupstr(PQgetvalue(res, i, 0));
        c->has_type_oid = 1;
        c->type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
        c->type_name = dupstr(PQgetvalue(res, i, 2));
        c->has_typmod = 1;
        c->typmod = atoi(PQgetvalue(res, i, 3));
        c->has_not_null = 1;
        c->not_null = PQgetvalue(res, i, 4)[0] == 't';
        c->has_pk_position = 1;
        c->pk_position = (uint32_t)atoi(PQgetvalue(res, i, 5));
        c->has_replica_key = 1;
        c->replica_key = PQgetvalue(res, i, 6)[0] == 't';
        if (PQgetvalue(res, i, 7)[0] == 't') {
            c->has_has_missing = 1;
            c->has_missing = 1;
            if (!PQgetisnull(res, i, 8)) {
                size_t len = (size_t)PQgetlength(res, i, 8);
                c->has_missing_value = 1;
                c->missing_value.data = malloc(len + 1);
                memcpy(c->missing_value.data, PQgetvalue(res, i, 8), len + 1);
                c->missing_value.len = len;
            }
        }
        out->colptrs[i] = c;
    }
    out->rel.n_columns = (size_t)n;
    out->rel.columns = out->colptrs;
    PQclear(res);
    return 0;
}

void tm_catrel_free(tm_catrel *r)
{
    for (size_t i = 0; i < r->rel.n_columns; i++) {
        free(r->cols[i].name);
        free(r->cols[i].type_name);
        free(r->cols[i].missing_value.data);
    }
    free(r->cols);
    free(r->colptrs);
    free(r->rel.namespace_);
    free(r->rel.name);
    memset(r, 0, sizeof *r);
}
