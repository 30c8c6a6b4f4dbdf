#include "capture/decode/relcache.h"

#include <stdlib.h>
#include <string.h>

/* uthash (packaged as uthash-dev) is the hash table; report out-of-memory
 * instead of exiting. */
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

/* The hash entry stays put for the life of the oid; a changed relation
 * swaps the rel block it points to, so no hash operation can fail midway
 * through a replacement. */
typedef struct entry {
    uint32_t oid;
    tm_rel *rel; /* one allocation: tm_rel, its columns, then its strings */
    UT_hash_handle hh;
} entry;

struct tm_relcache {
    entry *head;
};

int tm_relcache_create(tm_relcache **out, tm_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory for the relation cache");
        return -1;
    }
    return 0;
}

void tm_relcache_destroy(tm_relcache *rc)
{
    if (!rc)
        return;
    entry *e, *tmp;
    HASH_ITER(hh, rc->head, e, tmp)
    {
        HASH_DEL(rc->head, e);
        free(e->rel);
        free(e);
    }
    free(rc);
}

tm_rel *tm_relcache_get(const tm_relcache *rc, uint32_t oid)
{
    entry *e;
    HASH_FIND(hh, rc->head, &oid, sizeof oid, e);
    return e ? e->rel : NULL;
}

uint32_t tm_relcache_count(const tm_relcache *rc)
{
    return HASH_COUNT(rc->head);
}

static bool same(const tm_rel *a, const tm_pgo_relation *m)
{
    if (a->replident != m->replident || a->ncols != m->ncols || strcmp(a->nspname, m->nspname) ||
        strcmp(a->relname, m->relname))
        return false;
    for (uint32_t i = 0; i < m->ncols; i++) {
        const tm_relcol *c = &a->cols[i];
        const tm_pgo_relcol *n = &m->cols[i];
        if (c->type_oid != n->type_oid || c->typmod != n->typmod || c->flags != n->flags ||
            strcmp(c->name, n->name))
            return false;
    }
    return true;
}

static char *put_str(char **pool, const char *s)
{
    size_t n = strlen(s) + 1;
    char *dst = memcpy(*pool, s, n);
    *pool += n;
    return dst;
}

static tm_rel *copy_rel(const tm_pgo_relation *m)
{
    size_t size = sizeof(tm_rel) + (size_t)m->ncols * sizeof(tm_relcol);
    size += strlen(m->nspname) + 1 + strlen(m->relname) + 1;
    for (uint32_t i = 0; i < m->ncols; i++)
        size += strlen(m->cols[i].name) + 1;
    tm_rel *r = malloc(size);
    if (!r)
        return NULL;
    tm_relcol *cols = (tm_relcol *)(r + 1);
    char *pool = (char *)(cols + m->ncols);
    r->oid = m->oid;
    r->nspname = put_str(&pool, m->nspname);
    r->relname = put_str(&pool, m->relname);
    r->replident = m->replident;
    r->ncols = m->ncols;
    r->cols = cols;
    r->version = 0;
    for (uint32_t i = 0; i < m->ncols; i++) {
        cols[i].name = put_str(&pool, m->cols[i].name);
        cols[i].type_oid = m->cols[i].type_oid;
        cols[i].typmod = m->cols[i].typmod;
        cols[i].flags = m->cols[i].flags;
    }
    return r;
}

int tm_relcache_put(tm_relcache *rc, const tm_pgo_relation *msg, tm_rel **out, bool *changed,
                    tm_error *err)
{
    entry *e;
    HASH_FIND(hh, rc->head, &msg->oid, sizeof msg->oid, e);
    if (e && same(e->rel, msg)) {
        *out = e->rel;
        *changed = false;
        return 0;
    }
    tm_rel *r = copy_rel(msg);
    if (!r)
        goto oom;
    if (e) {
        free(e->rel);
        e->rel = r;
    } else {
        e = malloc(sizeof *e);
        if (!e) {
            free(r);
            goto oom;
        }
        e->oid = msg->oid;
        e->rel = r;
        HASH_ADD(hh, rc->head, oid, sizeof e->oid, e);
        if (!e->hh.tbl) { /* uthash could not allocate its table */
            free(r);
            free(e);
            goto oom;
        }
    }
    *out = r;
    *changed = true;
    return 0;
oom:
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory caching relation %s.%s (oid %u)", msg->nspname,
                  msg->relname, msg->oid);
    return -1;
}
