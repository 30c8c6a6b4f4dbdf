#include "replay/engine/schema.h"

#include <stdlib.h>
#include <string.h>

tm_version *tm_version_new(const Tidemark__Relation *rel, tm_error *err)
{
    /* Packing and unpacking again is the simplest deep copy, and schemas
     * are few. */
    size_t len = tidemark__relation__get_packed_size(rel);
    uint8_t *buf = malloc(len ? len : 1);
    tm_version *v = calloc(1, sizeof *v);
    if (!buf || !v)
        goto oom;
    tidemark__relation__pack(rel, buf);
    v->rel = tidemark__relation__unpack(NULL, len, buf);
    free(buf);
    buf = NULL;
    if (!v->rel)
        goto oom;
    const Tidemark__Relation *r = v->rel;
    v->version = r->version;
    v->has_lsn = r->has_lsn;
    v->lsn = r->lsn;
    v->nspname = r->namespace_ ? r->namespace_ : "public";
    v->relname = r->name ? r->name : "";
    v->ncols = (uint32_t)r->n_columns;
    v->cols = calloc(v->ncols + 1, sizeof *v->cols);
    v->desc = calloc(v->ncols + 1, sizeof *v->desc);
    if (!v->cols || !v->desc)
        goto oom;
    for (uint32_t i = 0; i < v->ncols; i++) {
        const Tidemark__Column *c = r->columns[i];
        tm_col *o = &v->cols[i];
        o->name = c->name ? c->name : "";
        o->type_oid = c->type_oid;
        o->type_name = c->type_name && c->type_name[0] ? c->type_name : "text";
        o->cls = tm_type_class(c->type_oid, c->type_name);
        o->pk_position = c->pk_position;
        o->replica_key = c->replica_key;
        o->not_null = c->not_null;
        if (c->has_missing && c->has_missing_value)
            o->missing = (tm_value){c->missing_value.len ? (const char *)c->missing_value.data : "",
                                    (uint32_t)c->missing_value.len, TM_KIND_TEXT};
        else
            o->missing = (tm_value){NULL, 0, TM_KIND_NULL};
        v->desc[i] = (tm_coldesc){o->name, o->type_oid, o->type_name};
    }
    return v;
oom:
    free(buf);
    tm_version_free(v);
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping the schema of a table");
    return NULL;
}

void tm_version_free(tm_version *v)
{
    if (!v)
        return;
    if (v->rel)
        tidemark__relation__free_unpacked(v->rel, NULL);
    free(v->cols);
    free(v->desc);
    free(v);
}

int tm_version_find(const tm_version *v, const char *name)
{
    for (uint32_t i = 0; i < v->ncols; i++)
        if (!strcmp(v->cols[i].name, name))
            return (int)i;
    return -1;
}

uint32_t tm_version_key(const tm_version *v, uint32_t *keys, bool *unique)
{
    uint32_t n = 0;
    /* Primary key columns in key order (pk_position is 1-based). */
    for (uint32_t pos = 1; pos <= v->ncols; pos++) {
        bool found = false;
        for (uint32_t i = 0; i < v->ncols && !found; i++)
            if (v->cols[i].pk_position == pos) {
                keys[n++] = i;
                found = true;
            }
        if (!found)
            break;
    }
    *unique = true;
    if (n > 0)
        return n;
    /* The replica identity index, unless that is the whole row (FULL). */
    for (uint32_t i = 0; i < v->ncols; i++)
        if (v->cols[i].replica_key)
            keys[n++] = i;
    if (n > 0 && n < v->ncols && v->rel->replica_identity != 'f')
        return n;
    *unique = false;
    for (uint32_t i = 0; i < v->ncols; i++)
        keys[i] = i;
    return v->ncols;
}

/* The column of v whose attnum is attnum, else -1. */
static int32_t find_attnum(const tm_version *v, uint32_t attnum)
{
    for (uint32_t i = 0; i < v->ncols; i++)
        if (v->rel->columns[i]->attnum == attnum)
            return (int32_t)i;
    return -1;
}

/* Whether every column of v has its attnum recorded. */
static bool has_attnums(const tm_version *v)
{
    for (uint32_t i = 0; i < v->ncols; i++)
        if (!v->rel->columns[i]->has_attnum)
            return false;
    return v->ncols > 0;
}

void tm_version_map(const tm_version *from, const tm_version *to, int32_t *map)
{
    /* By attnum when both versions know it: a renamed column is the same
     * column (by name, its values read as NULL after the rename). */
    if (has_attnums(from) && has_attnums(to)) {
        for (uint32_t i = 0; i < to->ncols; i++)
            map[i] = find_attnum(from, to->rel->columns[i]->attnum);
        return;
    }
    for (uint32_t i = 0; i < to->ncols; i++) {
        /* Usually the same position. */
        if (i < from->ncols && !strcmp(from->cols[i].name, to->cols[i].name))
            map[i] = (int32_t)i;
        else
            map[i] = tm_version_find(from, to->cols[i].name);
    }
}

bool tm_version_same_key(const tm_version *a, const tm_version *b)
{
    uint32_t *ka = malloc((a->ncols + 1) * sizeof *ka), *kb = malloc((b->ncols + 1) * sizeof *kb);
    bool ua, ub, same = false;
    if (ka && kb) {
        uint32_t na = tm_version_key(a, ka, &ua), nb = tm_version_key(b, kb, &ub);
        same = na == nb && ua == ub;
        for (uint32_t i = 0; same && i < na; i++)
            same = !strcmp(a->cols[ka[i]].name, b->cols[kb[i]].name);
    }
    free(ka);
    free(kb);
    return same;
}
