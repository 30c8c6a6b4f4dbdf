/* Reading a table's schema from the source's catalog (catalog.h): the
 * relation, its columns with their defaults, identity and sequences, its
 * unique keys, and the memory that a tm_catrel owns. */
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

/* Live columns in attnum order. pgoutput sends the plain ones, and the
 * stored generated ones from 18 on (the publication is made to publish them:
 * setup.c); the rest are unpublished (field 23: whether it is sent). */
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
    "       CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END,"
    /* 9, 10: identity and default */
    "       a.attidentity, pg_get_expr(ad.adbin, ad.adrelid),"
    /* 11-20: the sequence it owns (serial, identity), else the one its
     * default calls */
    "       sn.nspname, sc.relname, format_type(sq.seqtypid, NULL), sq.seqstart,"
    "       sq.seqincrement, sq.seqmin, sq.seqmax, sq.seqcache, sq.seqcycle, s.owned,"
    /* 21-23: attnum, generated ('s', 'v' or ''), whether pgoutput sends it */
    "       a.attnum, a.attgenerated,"
    "       a.attgenerated = '' OR (a.attgenerated = 's'"
    "         AND current_setting('server_version_num')::int >= 180000)"
    "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
    "  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum"
    "  LEFT JOIN LATERAL ("
    "    SELECT q.seq, q.owned FROM ("
    "      SELECT d.objid AS seq, true AS owned FROM pg_depend d"
    "       WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
    "         AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum"
    "         AND d.deptype IN ('a', 'i')"
    "      UNION ALL"
    "      SELECT d.refobjid, false FROM pg_depend d"
    "       WHERE d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid"
    "         AND d.refclassid = 'pg_class'::regclass) q"
    "    JOIN pg_class x ON x.oid = q.seq AND x.relkind = 'S'"
    "    ORDER BY q.owned DESC LIMIT 1) s ON true"
    "  LEFT JOIN pg_sequence sq ON sq.seqrelid = s.seq"
    "  LEFT JOIN pg_class sc ON sc.oid = s.seq"
    "  LEFT JOIN pg_namespace sn ON sn.oid = sc.relnamespace"
    " WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum";

/* Unique constraints and unique indexes on plain columns (no expression,
 * no predicate), one row per key column. The nulls-not-distinct flag
 * exists from PostgreSQL 15 on: read through to_jsonb so that the query
 * runs on older servers too. */
static const char *uniques_sql =
    "SELECT i.indexrelid, ic.relname, con.oid IS NOT NULL,"
    "       COALESCE((to_jsonb(i) ->> 'indnullsnotdistinct')::bool, false), a.attname"
    "  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
    "  LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid"
    "        AND con.conrelid = i.indrelid AND con.contype = 'u'"
    "  CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)"
    "  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
    " WHERE i.indrelid = $1 AND i.indisunique AND NOT i.indisprimary AND i.indisvalid"
    "   AND i.indexprs IS NULL AND i.indpred IS NULL AND k.n <= i.indnkeyatts"
    " ORDER BY ic.relname, i.indexrelid, k.n";

/* Foreign keys of the table, one row per column pair. */
static const char *fkeys_sql =
    "SELECT c.oid, c.conname, a.attname, rn.nspname, rc.relname, ra.attname"
    "  FROM pg_constraint c"
    "  CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(att, fatt, n)"
    "  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att"
    "  JOIN pg_class rc ON rc.oid = c.confrelid"
    "  JOIN pg_namespace rn ON rn.oid = rc.relnamespace"
    "  JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.fatt"
    " WHERE c.conrelid = $1 AND c.contype = 'f'"
    " ORDER BY c.conname, c.oid, k.n";

/* ---- memory the catrel owns ------------------------------------------- */

void *tm_catrel_own(tm_catrel *r, void *p, tm_error *err)
{
    if (p && r->nowned == r->owned_cap) {
        size_t cap = r->owned_cap ? 2 * r->owned_cap : 32;
        void **v = realloc(r->owned, cap * sizeof *v);
        if (!v) {
            free(p);
            p = NULL;
        } else {
            r->owned = v;
            r->owned_cap = cap;
        }
    }
    if (!p) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory reading the catalog");
        return NULL;
    }
    r->owned[r->nowned++] = p;
    return p;
}

char *tm_catrel_strdup(tm_catrel *r, const char *s, tm_error *err)
{
    return tm_catrel_own(r, strdup(s ? s : ""), err);
}

void *tm_catrel_calloc(tm_catrel *r, size_t n, size_t size, tm_error *err)
{
    return tm_catrel_own(r, calloc(n ? n : 1, size), err);
}

int tm_catrel_take_owned(tm_catrel *to, tm_catrel *from, tm_error *err)
{
    for (size_t i = 0; i < from->nowned; i++) {
        void *p = from->owned[i];
        from->owned[i] = NULL;
        if (!tm_catrel_own(to, p, err)) {
            /* p is freed; the rest stays with `from` */
            return -1;
        }
    }
    from->nowned = 0;
    return 0;
}

/* ---- the relation --------------------------------------------------------- */

static int read_class(PGconn *conn, const char *oidtxt, uint32_t oid, tm_catrel *out, tm_error *err)
{
    const char *params[] = {oidtxt};
    PGresult *res = PQexecParams(conn,
                                 "SELECT n.nspname, c.relname, c.relreplident, c.relfilenode,"
                                 "       (SELECT conname FROM pg_constraint"
                                 "         WHERE conrelid = c.oid AND contype = 'p') "
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
    int rc = 0;
    if (!PQgetisnull(res, 0, 4) &&
        !(out->rel.primary_key_name = tm_catrel_strdup(out, PQgetvalue(res, 0, 4), err)))
        rc = -1;
    PQclear(res);
    return rc;
}

static int64_t num(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* The column's sequence from columns_sql's fields 11-20, when it has one. */
static int fill_sequence(tm_catrel *r, Tidemark__Column *c, const PGresult *res, int i,
                         tm_error *err)
{
    if (PQgetisnull(res, i, 11))
        return 0;
    Tidemark__Sequence *q = tm_catrel_calloc(r, 1, sizeof *q, err);
    if (!q)
        return -1;
    tidemark__sequence__init(q);
    if (!(q->namespace_ = tm_catrel_strdup(r, PQgetvalue(res, i, 11), err)) ||
        !(q->name = tm_catrel_strdup(r, PQgetvalue(res, i, 12), err)) ||
        !(q->data_type = tm_catrel_strdup(r, PQgetvalue(res, i, 13), err)))
        return -1;
    q->has_start = q->has_increment = q->has_min_value = q->has_max_value = 1;
    q->has_cache = q->has_cycle = q->has_owned = 1;
    q->start = num(res, i, 14);
    q->increment = num(res, i, 15);
    q->min_value = num(res, i, 16);
    q->max_value = num(res, i, 17);
    q->cache = num(res, i, 18);
    q->cycle = PQgetvalue(res, i, 19)[0] == 't';
    q->owned = PQgetvalue(res, i, 20)[0] == 't';
    c->sequence = q;
    return 0;
}

static int fill_column(tm_catrel *r, Tidemark__Column *c, const PGresult *res, int i, tm_error *err)
{
    tidemark__column__init(c);
    c->name = dupstr(PQgetvalue(res, i, 0));
    c->has_attnum = 1;
    c->attnum = (uint32_t)atoi(PQgetvalue(res, i, 21));
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
            if (c->missing_value.data)
                memcpy(c->missing_value.data, PQgetvalue(res, i, 8), len + 1);
            c->missing_value.len = len;
        }
    }
    if (!c->name || !c->type_name || (c->has_missing_value && !c->missing_value.data)) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory reading the catalog");
        return -1;
    }
    const char *identity = PQgetvalue(res, i, 9);
    if (identity[0]) {
        c->has_identity = 1;
        c->identity = (uint32_t)(unsigned char)identity[0];
    }
    const char *generated = PQgetvalue(res, i, 22);
    char *expr = NULL;
    if (!PQgetisnull(res, i, 10) && !(expr = tm_catrel_strdup(r, PQgetvalue(res, i, 10), err)))
        return -1;
    /* A generated column's pg_attrdef entry is its generation expression. */
    if (generated[0]) {
        c->has_generated = 1;
        c->generated = (uint32_t)(unsigned char)generated[0];
        c->generation_expr = expr;
        return 0;
    }
    c->default_expr = expr;
    return fill_sequence(r, c, res, i, err);
}

/* A generated column pgoutput does not send (row i of columns_sql), all its
 * memory owned by r. */
static Tidemark__Column *unpublished_column(tm_catrel *r, const PGresult *res, int i, tm_error *err)
{
    Tidemark__Column *c = tm_catrel_calloc(r, 1, sizeof *c, err);
    if (!c)
        return NULL;
    tidemark__column__init(c);
    if (!(c->name = tm_catrel_strdup(r, PQgetvalue(res, i, 0), err)) ||
        !(c->type_name = tm_catrel_strdup(r, PQgetvalue(res, i, 2), err)) ||
        (!PQgetisnull(res, i, 10) &&
         !(c->generation_expr = tm_catrel_strdup(r, PQgetvalue(res, i, 10), err))))
        return NULL;
    c->has_attnum = c->has_type_oid = c->has_typmod = c->has_not_null = c->has_generated = 1;
    c->attnum = (uint32_t)atoi(PQgetvalue(res, i, 21));
    c->type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
    c->typmod = atoi(PQgetvalue(res, i, 3));
    c->not_null = PQgetvalue(res, i, 4)[0] == 't';
    c->generated = (uint32_t)(unsigned char)PQgetvalue(res, i, 22)[0];
    return c;
}

static int read_columns(PGconn *conn, const char *oidtxt, tm_catrel *out, tm_error *err)
{
    const char *params[] = {oidtxt};
    PGresult *res = PQexecParams(conn, columns_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "reading the columns of %s.%s: %s", out->rel.namespace_,
                      out->rel.name, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    int n = PQntuples(res);
    out->cols = calloc((size_t)n + 1, sizeof *out->cols);
    out->colptrs = calloc((size_t)n + 1, sizeof *out->colptrs);
    out->rel.unpublished_columns =
        tm_catrel_calloc(out, (size_t)n, sizeof(Tidemark__Column *), err);
    if (!out->cols || !out->colptrs || !out->rel.unpublished_columns) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory reading the catalog");
        PQclear(res);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (PQgetvalue(res, i, 23)[0] != 't') {
            Tidemark__Column *u = unpublished_column(out, res, i, err);
            if (!u)
                rc = -1;
            else
                out->rel.unpublished_columns[out->rel.n_unpublished_columns++] = u;
            continue;
        }
        size_t k = out->rel.n_columns;
        out->colptrs[k] = &out->cols[k];
        out->rel.n_columns = k + 1;
        out->rel.columns = out->colptrs;
        rc = fill_column(out, &out->cols[k], res, i, err);
    }
    PQclear(res);
    return rc;
}

/* One unique key from rows [from, to) of uniques_sql (one per column). */
static Tidemark__UniqueKey *unique_key(tm_catrel *r, const PGresult *res, int from, int to,
                                       tm_error *err)
{
    Tidemark__UniqueKey *u = tm_catrel_calloc(r, 1, sizeof *u, err);
    if (!u)
        return NULL;
    tidemark__unique_key__init(u);
    if (!(u->name = tm_catrel_strdup(r, PQgetvalue(res, from, 1), err)) ||
        !(u->columns = tm_catrel_calloc(r, (size_t)(to - from), sizeof *u->columns, err)))
        return NULL;
    u->has_constraint = u->has_nulls_not_distinct = 1;
    u->constraint = PQgetvalue(res, from, 2)[0] == 't';
    u->nulls_not_distinct = PQgetvalue(res, from, 3)[0] == 't';
    for (int k = from; k < to; k++)
        if (!(u->columns[u->n_columns++] = tm_catrel_strdup(r, PQgetvalue(res, k, 4), err)))
            return NULL;
    return u;
}

/* One foreign key from rows [from, to) of fkeys_sql. */
static Tidemark__ForeignKey *foreign_key(tm_catrel *r, const PGresult *res, int from, int to,
                                         tm_error *err)
{
    Tidemark__ForeignKey *f = tm_catrel_calloc(r, 1, sizeof *f, err);
    if (!f)
        return NULL;
    tidemark__foreign_key__init(f);
    size_t n = (size_t)(to - from);
    if (!(f->name = tm_catrel_strdup(r, PQgetvalue(res, from, 1), err)) ||
        !(f->ref_namespace = tm_catrel_strdup(r, PQgetvalue(res, from, 3), err)) ||
        !(f->ref_name = tm_catrel_strdup(r, PQgetvalue(res, from, 4), err)) ||
        !(f->columns = tm_catrel_calloc(r, n, sizeof *f->columns, err)) ||
        !(f->ref_columns = tm_catrel_calloc(r, n, sizeof *f->ref_columns, err)))
        return NULL;
    for (int k = from; k < to; k++)
        if (!(f->columns[f->n_columns++] = tm_catrel_strdup(r, PQgetvalue(res, k, 2), err)) ||
            !(f->ref_columns[f->n_ref_columns++] = tm_catrel_strdup(r, PQgetvalue(res, k, 5), err)))
            return NULL;
    return f;
}

/* One key from rows [from, to) of its query (rows of one key share column 0). */
typedef void *(*key_fn)(tm_catrel *r, const PGresult *res, int from, int to, tm_error *err);

/* Runs sql (unique or foreign keys, one row per column) for the table and
 * stores one message per key in *keys, their number in *n. */
static int read_keys(PGconn *conn, const char *sql, const char *what, const char *oidtxt,
                     key_fn make, tm_catrel *out, void ***keys, size_t *n, tm_error *err)
{
    const char *params[] = {oidtxt};
    PGresult *res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "reading the %s of %s.%s: %s", what, out->rel.namespace_,
                      out->rel.name, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    int rows = PQntuples(res), rc = 0;
    *keys = tm_catrel_calloc(out, (size_t)rows, sizeof **keys, err);
    if (!*keys)
        rc = -1;
    for (int from = 0, to; rc == 0 && from < rows; from = to) {
        for (to = from + 1; to < rows && !strcmp(PQgetvalue(res, to, 0), PQgetvalue(res, from, 0));)
            to++;
        void *k = make(out, res, from, to, err);
        if (!k)
            rc = -1;
        else
            (*keys)[(*n)++] = k;
    }
    PQclear(res);
    return rc;
}

static void *unique_key_fn(tm_catrel *r, const PGresult *res, int from, int to, tm_error *err)
{
    return unique_key(r, res, from, to, err);
}

static void *foreign_key_fn(tm_catrel *r, const PGresult *res, int from, int to, tm_error *err)
{
    return foreign_key(r, res, from, to, err);
}

static int read_uniques(PGconn *conn, const char *oidtxt, tm_catrel *out, tm_error *err)
{
    void **keys = NULL;
    int rc = read_keys(conn, uniques_sql, "unique keys", oidtxt, unique_key_fn, out, &keys,
                       &out->rel.n_unique_keys, err);
    out->rel.unique_keys = (Tidemark__UniqueKey **)keys;
    return rc;
}

static int read_fkeys(PGconn *conn, const char *oidtxt, tm_catrel *out, tm_error *err)
{
    void **keys = NULL;
    int rc = read_keys(conn, fkeys_sql, "foreign keys", oidtxt, foreign_key_fn, out, &keys,
                       &out->rel.n_foreign_keys, err);
    out->rel.foreign_keys = (Tidemark__ForeignKey **)keys;
    return rc;
}

int tm_catalog_relation(PGconn *conn, uint32_t oid, tm_catrel *out, tm_error *err)
{
    char oidtxt[16];
    snprintf(oidtxt, sizeof oidtxt, "%u", oid);
    memset(out, 0, sizeof *out);
    tidemark__relation__init(&out->rel);
    if (read_class(conn, oidtxt, oid, out, err) != 0 || read_columns(conn, oidtxt, out, err) != 0 ||
        read_uniques(conn, oidtxt, out, err) != 0 || read_fkeys(conn, oidtxt, out, err) != 0 ||
        tm_catalog_types(conn, out, err) != 0) {
        tm_catrel_free(out);
        return -1;
    }
    out->rel.has_catalog_detail = 1;
    out->rel.catalog_detail = 1;
    return 0;
}

void tm_catrel_free(tm_catrel *r)
{
    for (size_t i = 0; r->cols && i < r->rel.n_columns; i++) {
        free(r->cols[i].name);
        free(r->cols[i].type_name);
        free(r->cols[i].missing_value.data);
    }
    for (size_t i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    free(r->owned);
    free(r->cols);
    free(r->colptrs);
    free(r->rel.namespace_);
    free(r->rel.name);
    memset(r, 0, sizeof *r);
}
