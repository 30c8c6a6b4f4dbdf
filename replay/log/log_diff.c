#include "replay/log/log_diff.h"

#include <stdlib.h>
#include <string.h>

#include "replay/query/jsonscan.h"

void log_differ_free(log_differ *d)
{
    free(d->scratch);
    d->scratch = NULL;
    d->cap = 0;
}

bool log_is_key(const tm_relver *rv, size_t c)
{
    if (rv->keysrc == TM_KEY_ALL)
        return false; /* the whole row: every column is shown as data */
    for (size_t i = 0; i < rv->nkey; i++)
        if (rv->key[i] == c)
            return true;
    return false;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The span of exactly one JSON value in [p, e) (whitespace around it
 * allowed), or false. */
static bool one_value(const char *p, const char *e, const char **vs, const char **ve)
{
    const char *end = tm_json_value(p, e, vs);
    if (!end)
        return false;
    *ve = end;
    while (end < e && is_ws(*end))
        end++;
    return end == e;
}

static bool is_object(const char *vs)
{
    return *vs == '{';
}

typedef struct walk {
    log_differ *d;
    size_t col;
    log_diff_fn fn;
    void *ctx;
} walk;

static int emit(walk *w, size_t depth, log_side old, log_side new_)
{
    log_diff_item it = {w->col, w->d->path, depth, old, new_};
    return w->fn(w->ctx, &it);
}

static log_side value(const char *p, const char *e)
{
    return (log_side){LOG_SIDE_VALUE, p, (size_t)(e - p)};
}

static bool same_span(const char *a, const char *ae, const char *b, const char *be)
{
    return ae - a == be - b && memcmp(a, b, (size_t)(ae - a)) == 0;
}

/* Decodes the member key [kp, ke) into the scratch buffer. */
static const char *decode_key(log_differ *d, const char *kp, const char *ke, size_t *len, int *rc)
{
    size_t need = (size_t)(ke - kp) + 1;
    if (need > d->cap) {
        char *s = realloc(d->scratch, need);
        if (!s) {
            *rc = -1;
            return NULL;
        }
        d->scratch = s;
        d->cap = need;
    }
    *len = tm_json_unescape(kp, ke, d->scratch);
    return d->scratch;
}

/* Compares two JSON values (both well formed) at path depth `depth`. */
static int diff_json(walk *w, size_t depth, const char *o, const char *oe, const char *n,
                     const char *ne)
{
    if (same_span(o, oe, n, ne))
        return 0;
    if (!is_object(o) || !is_object(n) || depth >= LOG_DIFF_MAXDEPTH)
        return emit(w, depth, value(o, oe), value(n, ne));
    tm_json_iter it;
    const char *kp, *ke, *vp, *ve, *xp, *xe;
    int rc = 0;
    /* Members of the old object: removed or changed. */
    tm_json_object_iter(&it, o, oe);
    while (rc == 0 && tm_json_object_next(&it, &kp, &ke, &vp, &ve)) {
        size_t klen;
        const char *key = decode_key(w->d, kp, ke, &klen, &rc);
        if (!key)
            break;
        w->d->path[depth] = (log_key){kp, (size_t)(ke - kp)};
        if (!tm_json_get(n, ne, key, klen, &xp, &xe))
            rc = emit(w, depth + 1, value(vp, ve), (log_side){LOG_SIDE_REMOVED, NULL, 0});
        else
            rc = diff_json(w, depth + 1, vp, ve, xp, xe);
    }
    /* Members of the new object only: added. */
    tm_json_object_iter(&it, n, ne);
    while (rc == 0 && tm_json_object_next(&it, &kp, &ke, &vp, &ve)) {
        size_t klen;
        const char *key = decode_key(w->d, kp, ke, &klen, &rc);
        if (!key)
            break;
        if (tm_json_get(o, oe, key, klen, &xp, &xe))
            continue;
        w->d->path[depth] = (log_key){kp, (size_t)(ke - kp)};
        rc = emit(w, depth + 1, (log_side){LOG_SIDE_ABSENT, NULL, 0}, value(vp, ve));
    }
    return rc;
}

static log_side side_of(const tm_value *v)
{
    if (v->kind == TM_KIND_TEXT)
        return (log_side){LOG_SIDE_VALUE, v->ptr, v->len};
    if (v->kind == TM_KIND_UNCHANGED)
        return (log_side){LOG_SIDE_UNCHANGED, NULL, 0};
    return (log_side){LOG_SIDE_NULL, NULL, 0};
}

int log_diff_update(log_differ *d, const log_rel *lr, const tm_value *oldv, uint32_t nold,
                    char old_kind, const tm_value *newv, uint32_t nnew, log_diff_fn fn, void *ctx)
{
    const tm_relver *rv = lr->rv;
    static const tm_value null_value = {NULL, 0, TM_KIND_NULL};
    walk w = {d, 0, fn, ctx};
    for (size_t c = 0; c < rv->ncols; c++) {
        w.col = c;
        const tm_value *nv = c < nnew ? &newv[c] : &null_value;
        /* Is the old value known? Whole old rows have all of them; a
         * key-only old tuple has the replica identity's columns. */
        bool known = false;
        if (c < nold && oldv[c].kind != TM_KIND_UNCHANGED) {
            if (old_kind == 'O')
                known = true;
            else if (old_kind == 'K')
                known = rv->rel->columns[c]->replica_key;
        }
        int rc = 0;
        if (!known) {
            if (old_kind == 0 && log_is_key(rv, c))
                continue;
            if (nv->kind == TM_KIND_UNCHANGED)
                rc = emit(&w, 0, (log_side){LOG_SIDE_UNCHANGED, NULL, 0},
                          (log_side){LOG_SIDE_UNCHANGED, NULL, 0});
            else
                rc = emit(&w, 0, (log_side){LOG_SIDE_UNKNOWN, NULL, 0}, side_of(nv));
        } else {
            const tm_value *ov = &oldv[c];
            if (nv->kind == TM_KIND_UNCHANGED)
                continue;
            if (ov->kind != nv->kind) {
                rc = emit(&w, 0, side_of(ov), side_of(nv));
            } else if (ov->kind == TM_KIND_TEXT &&
                       !same_span(ov->ptr, ov->ptr + ov->len, nv->ptr, nv->ptr + nv->len)) {
                const char *os, *oe, *ns, *ne;
                bool json = lr->cls[c] == TM_TC_JSON || lr->cls[c] == TM_TC_JSONB;
                if (json && one_value(ov->ptr, ov->ptr + ov->len, &os, &oe) &&
                    one_value(nv->ptr, nv->ptr + nv->len, &ns, &ne) && is_object(os) &&
                    is_object(ns))
                    rc = diff_json(&w, 0, os, oe, ns, ne);
                else
                    rc = emit(&w, 0, side_of(ov), side_of(nv));
            }
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}
