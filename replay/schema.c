#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include "qualname.h"

struct tm_schema {
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
static size_t lower_bound(const tm_schema *s, uint32_t oid, uint32_t version)
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

tm_schema *tm_schema_new(tm_error *err)
{
    tm_schema *s = calloc(1, sizeof *s);
    if (!s)
        tm_error_set(err, "out of memory");
    return s;
}

static void free_entry(tm_relver *e)
{
    if (!e)
        return;
    if (e->rel)
        tidemark__relation__free_unpacked(e->rel, NULL);
    free(e->display);
    free(e->cols);
    free(e->key);
    free(e);
}

void tm_schema_free(tm_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free_entry(s->v[i]);
    free(s->v);
    free(s->sorted);
    free(s);
}

/* An owned deep copy, by packing and unpacking (Relations are rare). */
static Tidemark__Relation *copy_relation(const Tidemark__Relation *rel)
{
    size_t len = tidemark__relation__get_packed_size(rel);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    tidemark__relation__pack(rel, buf);
    Tidemark__Relation *c = tidemark__relation__unpack(NULL, len, buf);
    free(buf);
    return c;
}

static int fill_entry(tm_relver *e)
{
    const Tidemark__Relation *r = e->rel;
    e->oid = r->oid;
    e->version = r->version;
    e->schema = r->namespace_ ? r->namespace_ : "";
    e->name = r->name ? r->name : "";
    size_t dlen = 2 * (strlen(e->schema) + strlen(e->name)) + 8;
    e->display = malloc(dlen);
    e->ncols = r->n_columns;
    e->cols = calloc(e->ncols ? e->ncols : 1, sizeof *e->cols);
    e->key = calloc(e->ncols ? e->ncols : 1, sizeof *e->key);
    if (!e->display || !e->cols || !e->key)
        return -1;
    tm_qualname_format(e->schema, e->name, e->display, dlen);
    for (size_t i = 0; i < e->ncols; i++) {
        const Tidemark__Column *c = r->columns[i];
        e->cols[i].name = c->name ? c->name : "";
        e->cols[i].type_oid = c->type_oid;
        e->cols[i].type_name = c->type_name;
    }
    /* Primary key columns in key order; else the replica identity's. */
    uint32_t maxpos = 0;
    for (size_t i = 0; i < e->ncols; i++)
        if (r->columns[i]->pk_position > maxpos)
            maxpos = r->columns[i]->pk_position;
    e->nkey = 0;
    for (uint32_t pos = 1; pos <= maxpos; pos++)
        for (size_t i = 0; i < e->ncols; i++)
            if (r->columns[i]->pk_position == pos)
                e->key[e->nkey++] = i;
    e->keysrc = TM_KEY_PRIMARY;
    if (e->nkey == 0) {
        for (size_t i = 0; i < e->ncols; i++)
            if (r->columns[i]->replica_key)
                e->key[e->nkey++] = i;
        e->keysrc = TM_KEY_IDENTITY;
    }
    if (e->nkey == 0) {
        for (size_t i = 0; i < e->ncols; i++)
            e->key[e->nkey++] = i;
        e->keysrc = TM_KEY_ALL;
    }
    return 0;
}

const tm_relver *tm_schema_add(tm_schema *s, const Tidemark__Relation *rel, bool *added,
                               tm_error *err)
{
    *added = false;
    if (!rel->has_oid) {
        tm_error_set(err, "the journal holds a Relation record without an oid");
        return NULL;
    }
    const tm_relver *known = tm_schema_get(s, rel->oid, rel->version);
    if (known)
        return known;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        tm_relver **v = realloc(s->v, cap * sizeof *v);
        if (v)
            s->v = v;
        tm_relver **sorted = v ? realloc(s->sorted, cap * sizeof *sorted) : NULL;
        if (!v || !sorted) {
            tm_error_set(err, "out of memory keeping relation schemas");
            return NULL;
        }
        s->sorted = sorted;
        s->cap = cap;
    }
    tm_relver *e = calloc(1, sizeof *e);
    if (!e || !(e->rel = copy_relation(rel)) || fill_entry(e) != 0) {
        free_entry(e);
        tm_error_set(err, "out of memory keeping relation schemas");
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

const tm_relver *tm_schema_get(const tm_schema *s, uint32_t oid, uint32_t version)
{
    if (s->last && s->last->oid == oid && s->last->version == version)
        return s->last;
    size_t at = lower_bound(s, oid, version);
    if (at < s->n && cmp_key(oid, version, s->sorted[at]) == 0) {
        ((tm_schema *)s)->last = s->sorted[at]; /* a cache, not state */
        return s->sorted[at];
    }
    return NULL;
}

size_t tm_schema_count(const tm_schema *s)
{
    return s->n;
}

const tm_relver *tm_schema_at(const tm_schema *s, size_t i)
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
