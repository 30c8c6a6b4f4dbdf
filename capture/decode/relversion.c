/* Relation versions (relversion.h): pgoutput's columns completed from the
 * current catalog, and whether two versions are the same schema. */
#include "capture/decode/relversion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const Tidemark__Column *find_column(const Tidemark__Relation *rel, const char *name)
{
    for (size_t i = 0; i < rel->n_columns; i++)
        if (!strcmp(rel->columns[i]->name, name))
            return rel->columns[i];
    return NULL;
}

static char *format_type(PGconn *sql, uint32_t oid, int32_t typmod)
{
    char o[16], t[16];
    snprintf(o, sizeof o, "%u", oid);
    snprintf(t, sizeof t, "%d", typmod);
    const char *p[] = {o, t};
    PGresult *r =
        PQexecParams(sql, "SELECT format_type($1::oid, $2::int4)", 2, NULL, p, NULL, NULL, 0);
    char *out =
        strdup(PQresultStatus(r) == PGRES_TUPLES_OK && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0)
                                                                             : "text");
    PQclear(r);
    return out;
}

/* The catalog's detail of column cc (default, identity, sequence: memory
 * that out owns once cur's is moved to it). */
static void copy_detail(Tidemark__Column *c, const Tidemark__Column *cc)
{
    c->default_expr = cc->default_expr;
    c->has_identity = cc->has_identity;
    c->identity = cc->identity;
    c->sequence = cc->sequence;
    c->has_generated = cc->has_generated;
    c->generated = cc->generated;
    c->generation_expr = cc->generation_expr;
}

static bool sent(const tm_rel *r, const char *name)
{
    for (uint32_t i = 0; i < r->ncols; i++)
        if (!strcmp(r->cols[i].name, name))
            return true;
    return false;
}

/* The catalog's unpublished columns, and its generated columns that this
 * pgoutput Relation leaves out all the same (a publication that does not
 * publish them): out's unpublished_columns, memory that out owns. */
static int unpublished(const tm_rel *r, const tm_catrel *cur, tm_catrel *out, tm_error *err)
{
    const Tidemark__Relation *c = &cur->rel;
    Tidemark__Column **u =
        tm_catrel_calloc(out, c->n_unpublished_columns + c->n_columns, sizeof *u, err);
    if (!u)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < c->n_unpublished_columns; i++)
        u[n++] = c->unpublished_columns[i];
    for (size_t i = 0; i < c->n_columns; i++) {
        const Tidemark__Column *g = c->columns[i];
        if (!g->generated || sent(r, g->name))
            continue;
        Tidemark__Column *x = tm_catrel_calloc(out, 1, sizeof *x, err);
        if (!x)
            return -1;
        *x = *g;
        x->sequence = NULL;
        if (!(x->name = tm_catrel_strdup(out, g->name, err)) ||
            !(x->type_name = tm_catrel_strdup(out, g->type_name, err)))
            return -1;
        x->has_missing_value = 0;
        x->missing_value.data = NULL;
        x->missing_value.len = 0;
        u[n++] = x;
    }
    out->rel.unpublished_columns = u;
    out->rel.n_unpublished_columns = n;
    return 0;
}

static int build_columns(PGconn *sql, const tm_rel *r, const tm_catrel *cur, tm_catrel *out,
                         bool *types_differ)
{
    out->cols = calloc(r->ncols + 1, sizeof *out->cols);
    out->colptrs = calloc(r->ncols + 1, sizeof *out->colptrs);
    if (!out->cols || !out->colptrs)
        return -1;
    out->rel.n_columns = 0;
    out->rel.columns = out->colptrs;
    for (uint32_t i = 0; i < r->ncols; i++) {
        Tidemark__Column *c = &out->cols[i];
        const Tidemark__Column *cc = find_column(&cur->rel, r->cols[i].name);
        bool same_type =
            cc && cc->type_oid == r->cols[i].type_oid && cc->typmod == r->cols[i].typmod;
        *types_differ |= !same_type;
        tidemark__column__init(c);
        out->colptrs[i] = c;
        out->rel.n_columns = i + 1;
        c->name = strdup(r->cols[i].name);
        c->has_type_oid = c->has_typmod = c->has_replica_key = 1;
        c->type_oid = r->cols[i].type_oid;
        c->typmod = r->cols[i].typmod;
        c->replica_key = (r->cols[i].flags & TM_PGO_COL_KEY) != 0;
        c->type_name = same_type ? strdup(cc->type_name) : format_type(sql, c->type_oid, c->typmod);
        if (!c->name || !c->type_name)
            return -1;
        if (!cc)
            continue;
        c->has_pk_position = c->has_not_null = 1;
        c->has_attnum = cc->has_attnum;
        c->attnum = cc->attnum;
        c->pk_position = cc->pk_position;
        c->not_null = cc->not_null;
        c->has_has_missing = cc->has_has_missing;
        c->has_missing = cc->has_missing;
        if (cc->has_missing_value) {
            c->has_missing_value = 1;
            c->missing_value.len = cc->missing_value.len;
            c->missing_value.data = malloc(cc->missing_value.len + 1);
            if (!c->missing_value.data)
                return -1;
            memcpy(c->missing_value.data, cc->missing_value.data, cc->missing_value.len + 1);
        }
        copy_detail(c, cc);
    }
    return 0;
}

/* Leaves out the unique and foreign keys on a column this version does not
 * have. */
static void keep_own_uniques(Tidemark__Relation *rel)
{
    size_t n = 0;
    for (size_t i = 0; i < rel->n_unique_keys; i++) {
        const Tidemark__UniqueKey *u = rel->unique_keys[i];
        bool all = true;
        for (size_t k = 0; k < u->n_columns && all; k++)
            all = find_column(rel, u->columns[k]) != NULL;
        if (all)
            rel->unique_keys[n++] = rel->unique_keys[i];
    }
    rel->n_unique_keys = n;
    n = 0;
    for (size_t i = 0; i < rel->n_foreign_keys; i++) {
        const Tidemark__ForeignKey *f = rel->foreign_keys[i];
        bool all = true;
        for (size_t k = 0; k < f->n_columns && all; k++)
            all = find_column(rel, f->columns[k]) != NULL;
        if (all)
            rel->foreign_keys[n++] = rel->foreign_keys[i];
    }
    rel->n_foreign_keys = n;
}

int tm_relversion_build(PGconn *sql, const tm_rel *r, tm_catrel *out, tm_error *err)
{
    tm_catrel cur;
    if (tm_catalog_relation(sql, r->oid, &cur, err) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    /* The relation's fields, then its own copies of names and columns; the
     * catalog detail (types, unique keys, defaults) moves over from cur. */
    out->rel = cur.rel;
    out->rel.namespace_ = strdup(r->nspname);
    out->rel.name = strdup(r->relname);
    out->rel.replica_identity = (uint32_t)(unsigned char)r->replident;
    out->rel.n_columns = 0;
    out->rel.columns = NULL;
    bool types_differ = false;
    int rc = 0;
    if (!out->rel.namespace_ || !out->rel.name ||
        build_columns(sql, r, &cur, out, &types_differ) != 0) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory building a relation version");
        rc = -1;
    } else if (tm_catrel_take_owned(out, &cur, err) != 0 || unpublished(r, &cur, out, err) != 0) {
        rc = -1;
    }
    if (rc == 0) {
        keep_own_uniques(&out->rel);
        /* Column types of another time: their definitions read again. */
        if (types_differ)
            rc = tm_catalog_types(sql, out, err);
    }
    tm_catrel_free(&cur);
    if (rc != 0)
        tm_catrel_free(out);
    return rc;
}

static bool str_eq(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* Whether two messages (either may be NULL) pack to the same bytes. The
 * catalog detail is always built by the same code (catalog.c), so equal
 * content means equal bytes. */
static bool msg_eq(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    if (!a || !b)
        return a == b;
    size_t la = protobuf_c_message_get_packed_size(a);
    if (la != protobuf_c_message_get_packed_size(b))
        return false;
    uint8_t *pa = malloc(la + 1), *pb = malloc(la + 1);
    bool same = pa && pb;
    if (same) {
        protobuf_c_message_pack(a, pa);
        protobuf_c_message_pack(b, pb);
        same = !memcmp(pa, pb, la);
    }
    free(pa);
    free(pb);
    return same;
}

static bool column_equal(const Tidemark__Column *x, const Tidemark__Column *y)
{
    return str_eq(x->name, y->name) && x->type_oid == y->type_oid && x->typmod == y->typmod &&
           str_eq(x->type_name, y->type_name) && x->replica_key == y->replica_key &&
           x->pk_position == y->pk_position && x->not_null == y->not_null &&
           x->has_missing == y->has_missing && x->has_missing_value == y->has_missing_value &&
           x->missing_value.len == y->missing_value.len &&
           (!x->missing_value.len ||
            !memcmp(x->missing_value.data, y->missing_value.data, x->missing_value.len)) &&
           str_eq(x->default_expr, y->default_expr) && x->identity == y->identity &&
           x->generated == y->generated && str_eq(x->generation_expr, y->generation_expr) &&
           msg_eq((const ProtobufCMessage *)x->sequence, (const ProtobufCMessage *)y->sequence);
}

/* The catalog detail: types, unique and foreign keys, the primary key's name. */
static bool detail_equal(const Tidemark__Relation *a, const Tidemark__Relation *b)
{
    if (a->catalog_detail != b->catalog_detail ||
        !str_eq(a->primary_key_name, b->primary_key_name) || a->n_types != b->n_types ||
        a->n_unique_keys != b->n_unique_keys || a->n_foreign_keys != b->n_foreign_keys ||
        a->n_unpublished_columns != b->n_unpublished_columns)
        return false;
    for (size_t i = 0; i < a->n_unpublished_columns; i++)
        if (!msg_eq(&a->unpublished_columns[i]->base, &b->unpublished_columns[i]->base))
            return false;
    for (size_t i = 0; i < a->n_foreign_keys; i++)
        if (!msg_eq(&a->foreign_keys[i]->base, &b->foreign_keys[i]->base))
            return false;
    for (size_t i = 0; i < a->n_types; i++)
        if (!msg_eq(&a->types[i]->base, &b->types[i]->base))
            return false;
    for (size_t i = 0; i < a->n_unique_keys; i++)
        if (!msg_eq(&a->unique_keys[i]->base, &b->unique_keys[i]->base))
            return false;
    return true;
}

bool tm_relation_equal(const Tidemark__Relation *a, const Tidemark__Relation *b)
{
    if (a->oid != b->oid || !str_eq(a->namespace_, b->namespace_) || !str_eq(a->name, b->name) ||
        a->replica_identity != b->replica_identity || a->filenode != b->filenode ||
        a->n_columns != b->n_columns || !detail_equal(a, b))
        return false;
    for (size_t i = 0; i < a->n_columns; i++)
        if (!column_equal(a->columns[i], b->columns[i]))
            return false;
    return true;
}
