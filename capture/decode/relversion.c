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

int tm_relversion_build(PGconn *sql, const tm_rel *r, tm_catrel *out, tm_error *err)
{
    tm_catrel cur;
    if (tm_catalog_relation(sql, r->oid, &cur, err) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->rel = cur.rel;
    out->rel.namespace_ = strdup(r->nspname);
    out->rel.name = strdup(r->relname);
    out->rel.replica_identity = (uint32_t)(unsigned char)r->replident;
    out->cols = calloc(r->ncols + 1, sizeof *out->cols);
    out->colptrs = calloc(r->ncols + 1, sizeof *out->colptrs);
    for (uint32_t i = 0; i < r->ncols; i++) {
        Tidemark__Column *c = &out->cols[i];
        const Tidemark__Column *cc = find_column(&cur.rel, r->cols[i].name);
        bool same_type =
            cc && cc->type_oid == r->cols[i].type_oid && cc->typmod == r->cols[i].typmod;
        tidemark__column__init(c);
        c->name = strdup(r->cols[i].name);
        c->has_type_oid = c->has_typmod = c->has_replica_key = 1;
        c->type_oid = r->cols[i].type_oid;
        c->typmod = r->cols[i].typmod;
        c->replica_key = (r->cols[i].flags & TM_PGO_COL_KEY) != 0;
        c->type_name = same_type ? strdup(cc->type_name) : format_type(sql, c->type_oid, c->typmod);
        if (cc) {
            c->has_pk_position = c->has_not_null = 1;
            c->pk_position = cc->pk_position;
            c->not_null = cc->not_null;
            c->has_has_missing = cc->has_has_missing;
            c->has_missing = cc->has_missing;
            if (cc->has_missing_value) {
                c->has_missing_value = 1;
                c->missing_value.len = cc->missing_value.len;
                c->missing_value.data = malloc(cc->missing_value.len + 1);
                memcpy(c->missing_value.data, cc->missing_value.data, cc->missing_value.len + 1);
            }
        }
        out->colptrs[i] = c;
    }
    out->rel.n_columns = r->ncols;
    out->rel.columns = out->colptrs;
    /* out has its own copies of everything; cur goes entirely. */
    tm_catrel_free(&cur);
    return 0;
}

static bool str_eq(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

bool tm_relation_equal(const Tidemark__Relation *a, const Tidemark__Relation *b)
{
    if (a->oid != b->oid || !str_eq(a->namespace_, b->namespace_) || !str_eq(a->name, b->name) ||
        a->replica_identity != b->replica_identity || a->filenode != b->filenode ||
        a->n_columns != b->n_columns)
        return false;
    for (size_t i = 0; i < a->n_columns; i++) {
        const Tidemark__Column *x = a->columns[i], *y = b->columns[i];
        if (!str_eq(x->name, y->name) || x->type_oid != y->type_oid || x->typmod != y->typmod ||
            !str_eq(x->type_name, y->type_name) || x->replica_key != y->replica_key ||
            x->pk_position != y->pk_position || x->not_null != y->not_null ||
            x->has_missing != y->has_missing || x->has_missing_value != y->has_missing_value ||
            x->missing_value.len != y->missing_value.len ||
            (x->missing_value.len &&
             memcmp(x->missing_value.data, y->missing_value.data, x->missing_value.len)))
            return false;
    }
    return true;
}
