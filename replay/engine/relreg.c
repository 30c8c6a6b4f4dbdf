#include "replay/engine/relreg.h"

#include <stdlib.h>
#include <string.h>

#include "store/common/qualname.h"

struct tm_relreg {
    tm_relver **v; /* in order of addition */
    size_t n, cap;
    tm_relver **sorted;    /* by (oid, version), for lookups */
    const tm_relver *last; /* the last lookup's answer: changes come in runs */
};

static int cmp_key(uint32_t oid, uint32_t version, const tm_relver *e)
{
    if (oid != e->oid)
        return oid < e->oid ? -1 : 1;
    if (version != e->version)
        return version < e->version ? -1 : 1;
    return 0;
}

/* Index of the first sorted entry not below (oid, version). */
static size_t lower_bound(const tm_relreg *s, uint32_t oid, uint32_t version)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(oid, version, s->sorted[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

tm_relreg *tm_relreg_new(tm_error *err)
{
    tm_relreg *s = calloc(1, sizeof *s);
    if (!s)
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
    return s;
}

static void free_entry(tm_relver *e)
{
    if (!e)
        return;
    tm_version_free(e->v);
    free(e->display);
    free(e->key);
    free(e->search);
    free(e);
}

void tm_relreg_free(tm_relreg *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free_entry(s->v[i]);
    free(s->v);
    free(s->sorted);
    free(s);
}

/* Adds the column named name to e->search unless it is there already. */
static void add_search(tm_relver *e, const char *name)
{
    long c = tm_relver_column(e, name);
    if (c < 0)
        return;
    for (size_t i = 0; i < e->nsearch; i++)
        if (e->search[i] == (size_t)c)
            return;
    e->search[e->nsearch++] = (size_t)c;
}

static int fill_search(tm_relver *e)
{
    const Tidemark__Relation *r = e->rel;
    if (!(e->search = malloc((e->ncols + 1) * sizeof *e->search)))
        return -1;
    if (e->nkey)
        e->search[e->nsearch++] = e->key[0];
    for (size_t i = 0; i < r->n_unique_keys; i++)
        if (r->unique_keys[i]->n_columns)
            add_search(e, r->unique_keys[i]->columns[0]);
    for (size_t i = 0; i < r->n_foreign_keys; i++)
        if (r->foreign_keys[i]->n_columns)
            add_search(e, r->foreign_keys[i]->columns[0]);
    return 0;
}

static int fill_entry(tm_relver *e, const Tidemark__Relation *rel, tm_error *err)
{
    if (!(e->v = tm_version_new(rel, err)))
        return -1;
    const tm_version *v = e->v;
    e->oid = rel->oid;
    e->version = v->version;
    e->rel = v->rel;
    e->schema = v->nspname;
    e->name = v->relname;
    e->cols = v->desc;
    e->ncols = v->ncols;
    size_t dlen = 2 * (strlen(e->schema) + strlen(e->name)) + 8;
    uint32_t *keys = malloc((v->ncols + 1) * sizeof *keys);
    e->display = malloc(dlen);
    e->key = malloc((v->ncols + 1) * sizeof *e->key);
    if (!keys || !e->display || !e->key) {
        free(keys);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping relation schemas");
        return -1;
    }
    tm_qualname_format(e->schema, e->name, e->display, dlen);
    bool unique;
    e->nkey = tm_version_key(v, keys, &unique);
    for (size_t i = 0; i < e->nkey; i++)
        e->key[i] = keys[i];
    free(keys);
    e->keysrc = !unique                                     ? TM_KEY_ALL
                : e->nkey && v->cols[e->key[0]].pk_position ? TM_KEY_PRIMARY
                                                            : TM_KEY_IDENTITY;
    if (fill_search(e) != 0) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping relation schemas");
        return -1;
    }
    return 0;
}

const tm_relver *tm_relreg_add(tm_relreg *s, const Tidemark__Relation *rel, bool *added,
                               tm_error *err)
{
    *added = false;
    if (!rel->has_oid) {
        tm_error_setc(err, TM_ERR_CORRUPT, "the journal holds a Relation record without an oid");
        return NULL;
    }
    const tm_relver *known = tm_relreg_get(s, rel->oid, rel->version);
    if (known)
        return known;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        tm_relver **v = realloc(s->v, cap * sizeof *v);
        if (v)
            s->v = v;
        tm_relver **sorted = v ? realloc(s->sorted, cap * sizeof *sorted) : NULL;
        if (!v || !sorted) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping relation schemas");
            return NULL;
        }
        s->sorted = sorted;
        s->cap = cap;
    }
    tm_relver *e = calloc(1, sizeof *e);
    if (!e) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping relation schemas");
        return NULL;
    }
    if (fill_entry(e, rel, err) != 0) {
        free_entry(e);
        return NULL;
    }
    e->index = s->n;
    size_t at = lower_bound(s, e->oid, e->version);
    memmove(s->sorted + at + 1, s->sorted + at, (s->n - at) * sizeof *s->sorted);
    s->sorted[at] = e;
    s->v[s->n++] = e;
    *added = true;
    return e;
}

const tm_relver *tm_relreg_get(const tm_relreg *s, uint32_t oid, uint32_t version)
{
    if (s->last && s->last->oid == oid && s->last->version == version)
        return s->last;
    size_t at = lower_bound(s, oid, version);
    if (at < s->n && cmp_key(oid, version, s->sorted[at]) == 0) {
        ((tm_relreg *)s)->last = s->sorted[at]; /* a cache, not state */
        return s->sorted[at];
    }
    return NULL;
}

size_t tm_relreg_count(const tm_relreg *s)
{
    return s->n;
}

const tm_relver *tm_relreg_at(const tm_relreg *s, size_t i)
{
    return i < s->n ? s->v[i] : NULL;
}

long tm_relver_column(const tm_relver *rv, const char *name)
{
    for (size_t i = 0; i < rv->ncols; i++)
        if (!strcmp(rv->cols[i].name, name))
            return (long)i;
    return -1;
}
