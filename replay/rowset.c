#include "rowset.h"

#include <stdlib.h>
#include <string.h>

struct tm_rowset_item {
    const tm_row *row;
    uint64_t prefix; /* order-preserving summary of the first key value (see sort_prefix) */
};

const tm_version *tm_table_version_at(const tm_table *t, uint64_t limit_lsn)
{
    for (uint32_t n = t->nver; n-- > 0;) {
        const tm_version *v = t->ver[n];
        if (v && (!v->has_lsn || v->lsn < limit_lsn))
            return v;
    }
    return NULL;
}

static inline tm_value value_of(const tm_rowset *rs, const tm_row *r, uint32_t c)
{
    int32_t i = rs->map[r->ver][c];
    return i >= 0 && (uint32_t)i < r->ncols ? tm_row_get(r, (uint32_t)i) : rs->v->cols[c].missing;
}

/* ORDER BY's ascending order: NULLs last. */
static inline int cmp_value(tm_tclass cls, const tm_value *a, const tm_value *b)
{
    bool an = a->kind != TM_KIND_TEXT, bn = b->kind != TM_KIND_TEXT;
    if (an || bn)
        return an - bn;
    return tm_typecmp(cls, a->ptr, a->len, b->ptr, b->len);
}

/* A number whose order agrees with the first key's order wherever two
 * numbers differ (equal numbers: compare the values): exact for canonical
 * integers of up to 18 digits, the first 8 bytes for bytewise classes.
 * Sets *exotic for a value that is not in PostgreSQL's output form, and
 * then no prefixes are used. NULLs sort last. */
static uint64_t sort_prefix(tm_tclass cls, const tm_value *v, bool *exotic)
{
    if (v->kind != TM_KIND_TEXT)
        return UINT64_MAX;
    const unsigned char *p = (const unsigned char *)v->ptr, *e = p + v->len;
    if (cls == TM_TC_INT) {
        bool neg = p < e && *p == '-';
        p += neg;
        if (p == e || (*p == '0' && e - p > 1)) {
            *exotic = true;
            return 0;
        }
        if (e - p > 18) {
            for (const unsigned char *q = p; q < e; q++)
                if (*q < '0' || *q > '9')
                    *exotic = true;
            return neg ? 0 : UINT64_MAX - 1; /* beyond the exact range */
        }
        uint64_t x = 0;
        for (; p < e; p++) {
            if (*p < '0' || *p > '9') {
                *exotic = true;
                return 0;
            }
            x = x * 10 + (uint64_t)(*p - '0');
        }
        return neg ? (UINT64_C(1) << 63) - x : (UINT64_C(1) << 63) + x;
    }
    if (cls == TM_TC_TEXT || cls == TM_TC_JSON || cls == TM_TC_JSONB) {
        uint64_t x = 0;
        for (int i = 0; i < 8; i++)
            x = x << 8 | (p + i < e ? p[i] : 0);
        return x;
    }
    return 0;
}

static int cmp_items(const void *pa, const void *pb, void *arg)
{
    const tm_rowset *rs = arg;
    const tm_rowset_item *a = pa, *b = pb;
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    int c = 0;
    for (uint32_t k = 0; c == 0 && k < rs->nkeys; k++) {
        uint32_t col = rs->keys[k];
        tm_value x = value_of(rs, a->row, col), y = value_of(rs, b->row, col);
        c = cmp_value(rs->v->cols[col].cls, &x, &y);
    }
    return c;
}

void tm_rowset_free(tm_rowset *rs)
{
    if (rs->map && rs->t)
        for (uint32_t n = 0; n < rs->t->nver; n++)
            free(rs->map[n]);
    free(rs->map);
    free(rs->keys);
    free(rs->items);
    free(rs->vals);
    memset(rs, 0, sizeof *rs);
}

static const tm_value *row_values(tm_rowset *rs, const tm_row *r)
{
    for (uint32_t c = 0; c < rs->v->ncols; c++)
        rs->vals[c] = value_of(rs, r, c);
    return rs->vals;
}

const tm_value *tm_rowset_row(tm_rowset *rs, size_t i)
{
    return row_values(rs, rs->items[i].row);
}

int tm_rowset_build(tm_rowset *rs, const tm_table *t, const tm_version *v,
                    const tm_where_bound *where, tm_error *err)
{
    memset(rs, 0, sizeof *rs);
    rs->t = t;
    rs->v = v;
    rs->map = calloc(t->nver, sizeof *rs->map);
    rs->keys = malloc((v->ncols + 1) * sizeof *rs->keys);
    rs->vals = malloc((v->ncols + 1) * sizeof *rs->vals);
    rs->items = malloc((t->nrows + 1) * sizeof *rs->items);
    if (!rs->map || !rs->keys || !rs->vals || !rs->items)
        goto oom;
    for (uint32_t n = 0; n < t->nver; n++) {
        if (!t->ver[n])
            continue;
        if (!(rs->map[n] = malloc((v->ncols + 1) * sizeof *rs->map[n])))
            goto oom;
        tm_version_map(t->ver[n], v, rs->map[n]);
    }
    rs->nkeys = tm_version_key(v, rs->keys, &rs->unique);
    bool exotic = false;
    for (size_t i = 0; t->rows.slots && i <= t->rows.mask; i++) {
        const tm_row *r = t->rows.slots[i].row;
        if (!r)
            continue;
        if (r->ver >= t->nver || !rs->map[r->ver]) {
            tm_error_set(err, "internal error: a row of %s.%s has an unknown schema version",
                         v->nspname, v->relname);
            tm_rowset_free(rs);
            return -1;
        }
        if (where && !tm_where_match(where, row_values(rs, r)))
            continue;
        uint64_t prefix = 0;
        if (rs->nkeys) {
            tm_value k0 = value_of(rs, r, rs->keys[0]);
            prefix = sort_prefix(rs->v->cols[rs->keys[0]].cls, &k0, &exotic);
        }
        for (uint32_t k = 0; k < r->count && rs->n < t->nrows; k++)
            rs->items[rs->n++] = (tm_rowset_item){r, prefix};
    }
    if (exotic)
        for (size_t i = 0; i < rs->n; i++)
            rs->items[i].prefix = 0;
    qsort_r(rs->items, rs->n, sizeof *rs->items, cmp_items, rs);
    return 0;
oom:
    tm_rowset_free(rs);
    tm_error_set(err, "out of memory sorting the rows of %s.%s", v->nspname, v->relname);
    return -1;
}
