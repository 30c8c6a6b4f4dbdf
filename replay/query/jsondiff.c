#include "replay/query/jsondiff.h"

#include <stdlib.h>
#include <string.h>

#include "replay/query/jsonscan.h"

void tm_json_differ_free(tm_json_differ *d)
{
    free(d->scratch);
    d->scratch = NULL;
    d->cap = 0;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool tm_json_one_value(const char *p, const char *e, const char **vs, const char **ve)
{
    const char *end = tm_json_value(p, e, vs);
    if (!end)
        return false;
    *ve = end;
    while (end < e && is_ws(*end))
        end++;
    return end == e;
}

static bool same_span(const char *a, const char *ae, const char *b, const char *be)
{
    return ae - a == be - b && memcmp(a, b, (size_t)(ae - a)) == 0;
}

/* Decodes the member key [kp, ke) into the scratch buffer. */
static const char *decode_key(tm_json_differ *d, const char *kp, const char *ke, size_t *len,
                              int *rc)
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

static int walk(tm_json_differ *d, size_t depth, const char *o, const char *oe, const char *n,
                const char *ne, tm_json_diff_fn fn, void *ctx)
{
    if (same_span(o, oe, n, ne))
        return 0;
    if (*o != '{' || *n != '{' || depth >= TM_JSON_DIFF_MAXDEPTH)
        return fn(ctx, d, depth, o, oe, n, ne);
    tm_json_iter it;
    const char *kp, *ke, *vp, *ve, *xp, *xe;
    int rc = 0;
    /* Members of the old object: removed or changed. */
    tm_json_object_iter(&it, o, oe);
    while (rc == 0 && tm_json_object_next(&it, &kp, &ke, &vp, &ve)) {
        size_t klen;
        const char *key = decode_key(d, kp, ke, &klen, &rc);
        if (!key)
            break;
        d->path[depth] = (tm_json_key){kp, (size_t)(ke - kp)};
        if (!tm_json_get(n, ne, key, klen, &xp, &xe))
            rc = fn(ctx, d, depth + 1, vp, ve, NULL, NULL);
        else
            rc = walk(d, depth + 1, vp, ve, xp, xe, fn, ctx);
    }
    /* Members of the new object only: added. */
    tm_json_object_iter(&it, n, ne);
    while (rc == 0 && tm_json_object_next(&it, &kp, &ke, &vp, &ve)) {
        size_t klen;
        const char *key = decode_key(d, kp, ke, &klen, &rc);
        if (!key)
            break;
        if (tm_json_get(o, oe, key, klen, &xp, &xe))
            continue;
        d->path[depth] = (tm_json_key){kp, (size_t)(ke - kp)};
        rc = fn(ctx, d, depth + 1, NULL, NULL, vp, ve);
    }
    return rc;
}

int tm_json_diff(tm_json_differ *d, const char *o, const char *oe, const char *n, const char *ne,
                 tm_json_diff_fn fn, void *ctx)
{
    return walk(d, 0, o, oe, n, ne, fn, ctx);
}
