#include "replay/log/log_diff.h"

#include <stdlib.h>
#include <string.h>

void log_differ_free(log_differ *d)
{
    tm_json_differ_free(&d->j);
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

typedef struct walk {
    log_differ *d;
    size_t col;
    log_diff_fn fn;
    void *ctx;
} walk;

static int emit(walk *w, size_t depth, log_side old, log_side new_)
{
    log_diff_item it = {w->col, w->d->j.path, depth, old, new_};
    return w->fn(w->ctx, &it);
}

static bool same_span(const char *a, const char *ae, const char *b, const char *be)
{
    return ae - a == be - b && memcmp(a, b, (size_t)(ae - a)) == 0;
}

/* tm_json_diff_fn: one changed member, as log's sides. */
static int member(void *ctx, const tm_json_differ *d, size_t depth, const char *op, const char *oe,
                  const char *np, const char *ne)
{
    (void)d;
    log_side o = op ? (log_side){LOG_SIDE_VALUE, op, (size_t)(oe - op)}
                    : (log_side){LOG_SIDE_ABSENT, NULL, 0};
    log_side n = np ? (log_side){LOG_SIDE_VALUE, np, (size_t)(ne - np)}
                    : (log_side){LOG_SIDE_REMOVED, NULL, 0};
    return emit(ctx, depth, o, n);
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
                if (json && tm_json_one_value(ov->ptr, ov->ptr + ov->len, &os, &oe) &&
                    tm_json_one_value(nv->ptr, nv->ptr + nv->len, &ns, &ne) && *os == '{' &&
                    *ns == '{')
                    rc = tm_json_diff(&d->j, os, oe, ns, ne, member, &w);
                else
                    rc = emit(&w, 0, side_of(ov), side_of(nv));
            }
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}
