#include "replay/engine/rowset.h"

#include <stdlib.h>
#include <string.h>

#include "replay/engine/bigmem.h"
#include "replay/engine/prefetch.h"

struct tm_rowset_item {
    const tm_row *row;
    uint64_t p[2]; /* order-preserving summaries of the first two key values (sort_prefix) */
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

/* Whether prefix p of a key of class cls determines the value: canonical
 * integers in the exact range; bytewise values shorter than 8 bytes (no
 * text holds a NUL byte, so a zero last byte means the value ended). */
static inline bool prefix_exact(tm_tclass cls, uint64_t p)
{
    if (cls == TM_TC_INT)
        return p != 0 && p < UINT64_MAX - 1;
    /* Other classes have no prefix (0 for every value): never exact. */
    return (cls == TM_TC_TEXT || cls == TM_TC_JSON || cls == TM_TC_JSONB) && (p & 0xff) == 0 &&
           p != UINT64_MAX;
}

static int cmp_items(const void *pa, const void *pb, void *arg)
{
    const tm_rowset *rs = arg;
    const tm_rowset_item *a = pa, *b = pb;
    uint32_t k = 0;
    /* Prefixes decide as far as they are exact, without touching rows. */
    for (; k < 2 && k < rs->nkeys; k++) {
        if (a->p[k] != b->p[k])
            return a->p[k] < b->p[k] ? -1 : 1;
        if (!rs->pfx[k] || !prefix_exact(rs->v->cols[rs->keys[k]].cls, a->p[k]))
            break;
    }
    int c = 0;
    for (; c == 0 && k < rs->nkeys; k++) {
        uint32_t col = rs->keys[k];
        tm_value x = value_of(rs, a->row, col), y = value_of(rs, b->row, col);
        c = cmp_value(rs->v->cols[col].cls, &x, &y);
    }
    return c;
}

/* Sorting the items in place: quicksort (median of three, the smaller
 * side first so the stack stays logarithmic), insertion sort for short
 * runs, heapsort when the partitions go bad; no extra memory, and the
 * comparison inlined (qsort's merge sort copies 24-byte items through a
 * generic path and needs a second array). */
static inline void swap_items(tm_rowset_item *a, tm_rowset_item *b)
{
    tm_rowset_item t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(tm_rowset_item *v, size_t i, size_t n, const tm_rowset *rs)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && cmp_items(&v[c], &v[c + 1], (void *)rs) < 0)
            c++;
        if (cmp_items(&v[i], &v[c], (void *)rs) >= 0)
            return;
        swap_items(&v[i], &v[c]);
        i = c;
    }
}

static void heap_sort(tm_rowset_item *v, size_t n, const tm_rowset *rs)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(v, i, n, rs);
    for (size_t end = n; end-- > 1;) {
        swap_items(&v[0], &v[end]);
        sift_down(v, 0, end, rs);
    }
}

static void sort_items(tm_rowset_item *v, size_t n, const tm_rowset *rs, int depth)
{
    while (n > 16) {
        if (depth-- == 0) {
            heap_sort(v, n, rs);
            return;
        }
        size_t m = n / 2;
        if (cmp_items(&v[m], &v[0], (void *)rs) < 0)
            swap_items(&v[m], &v[0]);
        if (cmp_items(&v[n - 1], &v[m], (void *)rs) < 0) {
            swap_items(&v[n - 1], &v[m]);
            if (cmp_items(&v[m], &v[0], (void *)rs) < 0)
                swap_items(&v[m], &v[0]);
        }
        tm_rowset_item pivot = v[m];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (cmp_items(&v[i], &pivot, (void *)rs) < 0)
                i++;
            while (cmp_items(&pivot, &v[j], (void *)rs) < 0)
                j--;
            if (i >= j)
                break;
            swap_items(&v[i], &v[j]);
            i++;
            j--;
        }
        /* [0, j] <= pivot <= [j + 1, n) */
        size_t left = j + 1;
        if (left < n - left) {
            sort_items(v, left, rs, depth);
            v += left;
            n -= left;
        } else {
            sort_items(v + left, n - left, rs, depth);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        tm_rowset_item x = v[i];
        size_t j = i;
        for (; j > 0 && cmp_items(&x, &v[j - 1], (void *)rs) < 0; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

static void sort_run(tm_rowset_item *v, size_t n, const tm_rowset *rs)
{
    int depth = 2;
    for (size_t m = n; m > 1; m >>= 1)
        depth += 2;
    sort_items(v, n, rs, depth);
}

/* Byte b of an item's first-key prefix p[0], b = 0 the least significant. */
static inline unsigned p0_byte(const tm_rowset_item *it, unsigned b)
{
    return (unsigned)(it->p[0] >> (8 * b)) & 0xff;
}

/* Sorts by the first key's prefix p[0] with an LSD radix sort (bytes
 * every item shares are skipped: integer keys use two or three), then each
 * run of equal p[0] with cmp_items, which looks at p[1] and the values
 * (runs are short for a composite key led by an id, and p[1] settles most
 * of their comparisons). The result is the order of cmp_items. false when
 * out of memory (nothing changed). */
static bool radix_sort(tm_rowset *rs)
{
    size_t n = rs->n, tmp_bytes = (n + 1) * sizeof(tm_rowset_item);
    tm_rowset_item *tmp = tm_bigmem_zalloc(tmp_bytes);
    size_t(*count)[256] = calloc(8, sizeof *count); /* count[b]: byte b of p[0] */
    if (!tmp || !count) {
        tm_bigmem_free(tmp, tmp_bytes);
        free(count);
        return false;
    }
    tm_rowset_item *src = rs->items, *dst = tmp;
    for (size_t i = 0; i < n; i++)
        for (unsigned b = 0; b < 8; b++)
            count[b][p0_byte(&src[i], b)]++;
    for (unsigned b = 0; b < 8; b++) {
        if (count[b][p0_byte(&src[0], b)] == n)
            continue; /* one value: this byte orders nothing */
        size_t pos = 0;
        for (unsigned x = 0; x < 256; x++) {
            size_t c = count[b][x];
            count[b][x] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[b][p0_byte(&src[i], b)]++] = src[i];
        tm_rowset_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != rs->items) { /* the sorted items are in tmp: it becomes the array */
        tm_bigmem_free(rs->items, rs->items_bytes);
        rs->items = src;
        rs->items_bytes = tmp_bytes;
    } else {
        tm_bigmem_free(tmp, tmp_bytes);
    }
    free(count);
    tm_rowset_item *v = rs->items;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j].p[0] == v[i].p[0])
            j++;
        if (j - i > 1)
            sort_run(v + i, j - i, rs);
        i = j;
    }
    return true;
}

void tm_rowset_free(tm_rowset *rs)
{
    if (rs->map && rs->t)
        for (uint32_t n = 0; n < rs->t->nver; n++)
            free(rs->map[n]);
    free(rs->map);
    free(rs->keys);
    tm_bigmem_free(rs->items, rs->items_bytes);
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
    /* Rows are read in key order, scattered in memory: ask early, for
     * three cache lines (a row of a few short columns starts anywhere in
     * one and spans two or three). */
    if (i + 16 < rs->n) {
        const char *p = (const char *)rs->items[i + 16].row;
        tm_prefetch(p);
        tm_prefetch(p + 64);
        tm_prefetch(p + 128);
    }
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
    rs->items_bytes = (t->nrows + 1) * sizeof *rs->items;
    rs->items = tm_bigmem_zalloc(rs->items_bytes);
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
    bool exotic[2] = {false, false};
    for (size_t i = 0; t->rows.slots && i <= t->rows.mask; i++) {
        const tm_row *r = t->rows.slots[i].row;
        if (i + 16 <= t->rows.mask && t->rows.slots[i + 16].row)
            tm_prefetch(t->rows.slots[i + 16].row);
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
        uint64_t p[2] = {0, 0};
        for (uint32_t k = 0; k < 2 && k < rs->nkeys; k++) {
            tm_value kv = value_of(rs, r, rs->keys[k]);
            p[k] = sort_prefix(rs->v->cols[rs->keys[k]].cls, &kv, &exotic[k]);
        }
        for (uint32_t k = 0; k < r->count && rs->n < t->nrows; k++)
            rs->items[rs->n++] = (tm_rowset_item){r, {p[0], p[1]}};
    }
    /* A value not in output form: that key's prefixes (and the next's,
     * which are compared only after it) are not used. */
    rs->pfx[0] = !exotic[0] && rs->nkeys > 0;
    rs->pfx[1] = rs->pfx[0] && !exotic[1] && rs->nkeys > 1;
    for (size_t i = 0; i < rs->n; i++) {
        if (!rs->pfx[0])
            rs->items[i].p[0] = 0;
        if (!rs->pfx[1])
            rs->items[i].p[1] = 0;
    }
    if (rs->n > 1 && !radix_sort(rs))
        sort_run(rs->items, rs->n, rs);
    return 0;
oom:
    tm_rowset_free(rs);
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory sorting the rows of %s.%s", v->nspname,
                  v->relname);
    return -1;
}
