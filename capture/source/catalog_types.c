/* The user-defined types a table's columns use, read from the source's
 * catalog for replay --create-tables (catalog.h: tm_catalog_types).
 *
 * Starting from each column's type, the walk follows an array to its
 * element, a domain to its base type and a composite type to its
 * attributes' types, and records every type outside pg_catalog and
 * information_schema after the types it uses (so they can be created in
 * that order). Enums, domains and composites are recorded with their
 * definition; other kinds (base types of extensions, ranges) by name and
 * kind, for replay to say that it cannot create them. */
#include "capture/source/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nested types deeper than this are left out (PostgreSQL's own types do
 * not nest this far; it only bounds a walk that could otherwise loop). */
#define MAX_DEPTH 16

typedef struct walk {
    PGconn *conn;
    tm_catrel *r;
    Tidemark__TypeDef **types; /* recorded, dependencies first (not owned by r yet) */
    size_t n, cap;
    uint32_t *seen; /* oids visited (recorded, builtin, or being walked) */
    size_t nseen, seen_cap;
    tm_error *err;
} walk;

static const char *type_sql =
    "SELECT t.typtype, n.nspname, t.typname, t.typarray,"
    "       (SELECT e.oid FROM pg_type e WHERE e.typarray = t.oid LIMIT 1),"
    "       t.typbasetype, CASE WHEN t.typtype = 'd'"
    "                      THEN format_type(t.typbasetype, t.typtypmod) END,"
    "       t.typnotnull, pg_get_expr(t.typdefaultbin, 0),"
    "       (SELECT x.extname FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid"
    "         WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid"
    "           AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' LIMIT 1),"
    "       t.typrelid, (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid)"
    "  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1";

static PGresult *query(walk *w, const char *sql, uint32_t oid, const char *what)
{
    char o[16];
    snprintf(o, sizeof o, "%u", oid);
    const char *p[] = {o};
    PGresult *res = PQexecParams(w->conn, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        tm_error_setc(w->err, TM_ERR_DB, "reading %s of type %u (a column type of %s.%s): %s", what,
                      oid, w->r->rel.namespace_, w->r->rel.name, PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Marks oid visited; false when it was already. */
static bool first_visit(walk *w, uint32_t oid)
{
    for (size_t i = 0; i < w->nseen; i++)
        if (w->seen[i] == oid)
            return false;
    if (w->nseen == w->seen_cap) {
        size_t cap = w->seen_cap ? 2 * w->seen_cap : 16;
        uint32_t *v = realloc(w->seen, cap * sizeof *v);
        if (!v)
            return true; /* walked again at worst; recorded once (see add_type) */
        w->seen = v;
        w->seen_cap = cap;
    }
    w->seen[w->nseen++] = oid;
    return true;
}

static int add_type(walk *w, Tidemark__TypeDef *t)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->types[i]->oid == t->oid)
            return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 8;
        Tidemark__TypeDef **v = realloc(w->types, cap * sizeof *v);
        if (!v) {
            tm_error_setc(w->err, TM_ERR_NOMEM, "out of memory reading the catalog");
            return -1;
        }
        w->types = v;
        w->cap = cap;
    }
    w->types[w->n++] = t;
    return 0;
}

static int visit(walk *w, uint32_t oid, int depth);

static int enum_labels(walk *w, Tidemark__TypeDef *t)
{
    PGresult *res =
        query(w, "SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder",
              t->oid, "the labels");
    if (!res)
        return -1;
    int n = PQntuples(res), rc = 0;
    if (!(t->labels = tm_catrel_calloc(w->r, (size_t)n, sizeof *t->labels, w->err)))
        rc = -1;
    for (int i = 0; i < n && rc == 0; i++)
        if (!(t->labels[t->n_labels++] = tm_catrel_strdup(w->r, PQgetvalue(res, i, 0), w->err)))
            rc = -1;
    PQclear(res);
    return rc;
}

static int domain_checks(walk *w, Tidemark__TypeDef *t)
{
    PGresult *res = query(w,
                          "SELECT conname, pg_get_expr(conbin, 0), NOT convalidated "
                          "FROM pg_constraint WHERE contypid = $1 AND contype = 'c' "
                          "ORDER BY conname",
                          t->oid, "the CHECK constraints");
    if (!res)
        return -1;
    int n = PQntuples(res), rc = 0;
    if (!(t->checks = tm_catrel_calloc(w->r, (size_t)n, sizeof *t->checks, w->err)))
        rc = -1;
    for (int i = 0; i < n && rc == 0; i++) {
        Tidemark__TypeCheck *c = tm_catrel_calloc(w->r, 1, sizeof *c, w->err);
        if (!c) {
            rc = -1;
            break;
        }
        tidemark__type_check__init(c);
        t->checks[t->n_checks++] = c;
        c->has_not_valid = 1;
        c->not_valid = PQgetvalue(res, i, 2)[0] == 't';
        if (!(c->name = tm_catrel_strdup(w->r, PQgetvalue(res, i, 0), w->err)) ||
            !(c->expr = tm_catrel_strdup(w->r, PQgetvalue(res, i, 1), w->err)))
            rc = -1;
    }
    PQclear(res);
    return rc;
}

/* A composite's attributes, after the types they use. */
static int composite_fields(walk *w, Tidemark__TypeDef *t, uint32_t relid, int depth)
{
    PGresult *res = query(w,
                          "SELECT attname, atttypid, format_type(atttypid, atttypmod) "
                          "FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 "
                          "AND NOT attisdropped ORDER BY attnum",
                          relid, "the attributes");
    if (!res)
        return -1;
    int n = PQntuples(res), rc = 0;
    if (!(t->fields = tm_catrel_calloc(w->r, (size_t)n, sizeof *t->fields, w->err)))
        rc = -1;
    for (int i = 0; i < n && rc == 0; i++) {
        Tidemark__TypeField *f = tm_catrel_calloc(w->r, 1, sizeof *f, w->err);
        if (!f) {
            rc = -1;
            break;
        }
        tidemark__type_field__init(f);
        t->fields[t->n_fields++] = f;
        f->has_type_oid = 1;
        f->type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
        if (!(f->name = tm_catrel_strdup(w->r, PQgetvalue(res, i, 0), w->err)) ||
            !(f->type_name = tm_catrel_strdup(w->r, PQgetvalue(res, i, 2), w->err)))
            rc = -1;
    }
    PQclear(res);
    for (size_t i = 0; rc == 0 && i < t->n_fields; i++)
        rc = visit(w, t->fields[i]->type_oid, depth + 1);
    return rc;
}

/* The type of row 0 of a type_sql result, its definition read. */
static int describe(walk *w, const PGresult *res, uint32_t oid, int depth)
{
    Tidemark__TypeDef *t = tm_catrel_calloc(w->r, 1, sizeof *t, w->err);
    if (!t)
        return -1;
    tidemark__type_def__init(t);
    t->has_oid = t->has_kind = t->has_array_oid = 1;
    t->oid = oid;
    t->kind = (uint32_t)(unsigned char)PQgetvalue(res, 0, 0)[0];
    t->array_oid = (uint32_t)strtoul(PQgetvalue(res, 0, 3), NULL, 10);
    if (!(t->namespace_ = tm_catrel_strdup(w->r, PQgetvalue(res, 0, 1), w->err)) ||
        !(t->name = tm_catrel_strdup(w->r, PQgetvalue(res, 0, 2), w->err)) ||
        (!PQgetisnull(res, 0, 9) &&
         !(t->extension = tm_catrel_strdup(w->r, PQgetvalue(res, 0, 9), w->err))))
        return -1;
    int rc = 0;
    if (t->kind == 'e') {
        rc = enum_labels(w, t);
    } else if (t->kind == 'd') {
        t->has_base_type_oid = t->has_not_null = 1;
        t->base_type_oid = (uint32_t)strtoul(PQgetvalue(res, 0, 5), NULL, 10);
        t->not_null = PQgetvalue(res, 0, 7)[0] == 't';
        if (!(t->base_type = tm_catrel_strdup(w->r, PQgetvalue(res, 0, 6), w->err)) ||
            (!PQgetisnull(res, 0, 8) &&
             !(t->default_expr = tm_catrel_strdup(w->r, PQgetvalue(res, 0, 8), w->err))))
            return -1;
        rc = visit(w, t->base_type_oid, depth + 1);
        if (rc == 0)
            rc = domain_checks(w, t);
    } else if (t->kind == 'c') {
        t->has_table_row = 1;
        t->table_row = strcmp(PQgetvalue(res, 0, 11), "c") != 0;
        if (!t->table_row)
            rc = composite_fields(w, t, (uint32_t)strtoul(PQgetvalue(res, 0, 10), NULL, 10), depth);
    }
    return rc == 0 ? add_type(w, t) : -1;
}

static bool builtin_schema(const char *nsp)
{
    return !strcmp(nsp, "pg_catalog") || !strcmp(nsp, "information_schema");
}

static int visit(walk *w, uint32_t oid, int depth)
{
    if (oid == 0 || depth > MAX_DEPTH || !first_visit(w, oid))
        return 0;
    PGresult *res = query(w, type_sql, oid, "the definition");
    if (!res)
        return -1;
    int rc = 0;
    if (PQntuples(res) != 1 || builtin_schema(PQgetvalue(res, 0, 1)))
        rc = 0;
    else if (!PQgetisnull(res, 0, 4)) /* an array: its element */
        rc = visit(w, (uint32_t)strtoul(PQgetvalue(res, 0, 4), NULL, 10), depth + 1);
    else
        rc = describe(w, res, oid, depth);
    PQclear(res);
    return rc;
}

int tm_catalog_types(PGconn *conn, tm_catrel *r, tm_error *err)
{
    walk w = {.conn = conn, .r = r, .err = err};
    int rc = 0;
    for (size_t i = 0; i < r->rel.n_columns && rc == 0; i++)
        rc = visit(&w, r->rel.columns[i]->type_oid, 0);
    for (size_t i = 0; i < r->rel.n_unpublished_columns && rc == 0; i++)
        rc = visit(&w, r->rel.unpublished_columns[i]->type_oid, 0);
    r->rel.n_types = 0;
    r->rel.types = NULL;
    if (rc == 0 && w.n) {
        r->rel.types = tm_catrel_calloc(r, w.n, sizeof *r->rel.types, err);
        if (r->rel.types) {
            memcpy(r->rel.types, w.types, w.n * sizeof *w.types);
            r->rel.n_types = w.n;
        } else {
            rc = -1;
        }
    }
    free(w.types);
    free(w.seen);
    return rc;
}
