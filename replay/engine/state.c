#include "replay/engine/state.h"

#include <stdlib.h>
#include <string.h>

#include "replay/engine/prefetch.h"
#include "replay/engine/rowalloc.h"

/* A change decoded for applying: its table, tuples and key. Values point
 * into buf (a copy of the packed change) or into the caller's record. */
typedef struct tm_decoded {
    tm_change c;
    tm_table *t; /* NULL: nothing to apply (a table not replayed) */
    uint8_t *buf;
    size_t buf_cap;
    tm_colbuf oldv, newv;
    uint32_t no, nn;
    bool has_old, has_new, old_key_ok;
    uint32_t old_hash;         /* of kv_old when old_key_ok */
    uint32_t look_hash;        /* of the key the change will look up (prefetching) */
    bool look;                 /* look_hash is set */
    tm_value *kv_old, *kv_new; /* key values, cur's key order */
    size_t kv_cap;
} tm_decoded;

/* Changes held back by tm_state_queue_packed: while the newest is decoded
 * its hash slot is fetched from memory, while the next one is decoded its
 * row is, and the oldest is applied once both are in the cache (a table
 * larger than the cache costs two memory round trips per change otherwise). */
#define TM_QUEUE 3

/* Rows of a checkpoint or base snapshot built but not yet in their table:
 * while the next ones are built, the hash slots they go to are fetched
 * from memory (the rows themselves were just written, so they are in the
 * cache). */
#define TM_LOADQ 8

typedef struct tm_loaded {
    tm_table *t;
    tm_row *r;
    uint32_t hash; /* of r's key */
} tm_loaded;

struct tm_state {
    tm_select_fn select;
    void *arg;
    tm_table **tables; /* in order of first appearance */
    size_t ntables, cap;
    tm_table **by_oid; /* the same, sorted by oid */
    tm_table *last;    /* the table of the previous change */

    tm_change_decoder dec;
    /* Changes decoded but not yet applied (tm_state_queue_packed): a ring
     * of TM_QUEUE entries, the oldest at qhead. */
    tm_decoded q[TM_QUEUE];
    unsigned qhead, qn;
    tm_decoded now;         /* for changes applied at once */
    tm_loaded lq[TM_LOADQ]; /* a ring, the oldest at lqhead */
    unsigned lqhead, lqn;
    tm_rowalloc alloc;
    uint64_t applied, skipped;
    bool in_snapshot;
};

/* ---- tables and versions ------------------------------------------------- */

/* Frees the loaded rows still waiting to go into their tables. */
static void drop_loaded(tm_state *s);

tm_state *tm_state_new(tm_select_fn select, void *arg, tm_error *err)
{
    tm_state *s = calloc(1, sizeof *s);
    if (!s) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->select = select;
    s->arg = arg;
    tm_change_decoder_init(&s->dec);
    return s;
}

/* Forgets the table's rows. give_back: return their memory to the
 * allocator (a TRUNCATE); else the allocator is about to be released, and
 * only rows it did not provide need freeing (reading every row's size from
 * memory is what makes freeing a large table slow). */
static void free_rows(tm_table *t, bool give_back)
{
    if (t->rows.slots && (give_back || t->big_rows))
        for (size_t i = 0; i <= t->rows.mask; i++) {
            tm_row *r = t->rows.slots[i].row;
            if (r && (give_back || r->cap > TM_ROWALLOC_MAX))
                tm_rowalloc_put(t->alloc, r, r->cap);
        }
    tm_rowmap_clear(&t->rows);
    t->nrows = 0;
    t->bytes = 0;
    t->big_rows = 0;
}

static void table_free(tm_table *t)
{
    free_rows(t, false);
    for (uint32_t i = 0; i < t->nver; i++) {
        tm_version_free(t->ver[i]);
        free(t->to_cur ? t->to_cur[i] : NULL);
    }
    free(t->ver);
    free(t->to_cur);
    free(t->keycols);
    free(t);
}

void tm_state_free(tm_state *s)
{
    if (!s)
        return;
    drop_loaded(s);
    for (size_t i = 0; i < s->ntables; i++)
        table_free(s->tables[i]);
    tm_rowalloc_release(&s->alloc);
    free(s->tables);
    free(s->by_oid);
    tm_change_decoder_free(&s->dec);
    for (unsigned i = 0; i <= TM_QUEUE; i++) {
        tm_decoded *d = i < TM_QUEUE ? &s->q[i] : &s->now;
        free(d->buf);
        tm_colbuf_free(&d->oldv);
        tm_colbuf_free(&d->newv);
        free(d->kv_old);
        free(d->kv_new);
    }
    free(s);
}

void tm_state_reset(tm_state *s)
{
    drop_loaded(s);
    for (size_t i = 0; i < s->ntables; i++)
        table_free(s->tables[i]);
    tm_rowalloc_release(&s->alloc);
    s->ntables = 0;
    s->qn = 0;
    s->last = NULL;
    s->applied = s->skipped = 0;
    s->in_snapshot = false;
}

size_t tm_state_ntables(const tm_state *s)
{
    return s->ntables;
}

tm_table *tm_state_table(const tm_state *s, size_t i)
{
    return s->tables[i];
}

uint64_t tm_state_applied(const tm_state *s)
{
    return s->applied;
}

uint64_t tm_state_skipped(const tm_state *s)
{
    return s->skipped;
}

static size_t oid_pos(const tm_state *s, uint32_t oid)
{
    size_t lo = 0, hi = s->ntables;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->by_oid[mid]->oid < oid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static inline tm_table *find_table(tm_state *s, uint32_t oid)
{
    if (s->last && s->last->oid == oid)
        return s->last;
    size_t i = oid_pos(s, oid);
    if (i < s->ntables && s->by_oid[i]->oid == oid)
        return s->last = s->by_oid[i];
    return NULL;
}

static tm_table *add_table(tm_state *s, uint32_t oid, tm_error *err)
{
    if (s->ntables == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        tm_table **a = realloc(s->tables, cap * sizeof *a);
        if (a)
            s->tables = a;
        tm_table **b = a ? realloc(s->by_oid, cap * sizeof *b) : NULL;
        if (!b) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return NULL;
        }
        s->by_oid = b;
        s->cap = cap;
    }
    tm_table *t = calloc(1, sizeof *t);
    if (!t) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->oid = oid;
    t->alloc = &s->alloc;
    size_t i = oid_pos(s, oid);
    memmove(s->by_oid + i + 1, s->by_oid + i, (s->ntables - i) * sizeof *s->by_oid);
    s->by_oid[i] = t;
    s->tables[s->ntables++] = t;
    return t;
}

/* The key values of a row, in cur's key order, into kv. */
static void row_key(const tm_table *t, const tm_row *r, tm_value *kv)
{
    const int32_t *map = t->to_cur[r->ver];
    for (uint32_t k = 0; k < t->nkeys; k++) {
        uint32_t c = t->keycols[k];
        kv[k] = map[c] >= 0 ? tm_row_get(r, (uint32_t)map[c]) : t->cur->cols[c].missing;
    }
}

static inline uint32_t key_hash(const tm_value *kv, uint32_t n)
{
    uint64_t h = 0x243F6A8885A308D3ull;
    for (uint32_t k = 0; k < n; k++) {
        if (kv[k].kind == TM_KIND_TEXT)
            h = tm_hash_part(h, kv[k].ptr, kv[k].len);
        else
            h = (h ^ 0x5A5A5A5A5A5A5A5Aull) * 0x9E3779B97F4A7C15ull; /* NULL */
    }
    return tm_hash_final(h);
}

/* Rebuilds the hash table after the key changed. */
static int rekey(tm_table *t, tm_error *err)
{
    tm_rowmap old = t->rows;
    memset(&t->rows, 0, sizeof t->rows);
    tm_value *kv = malloc((t->nkeys + 1) * sizeof *kv);
    if (!kv || tm_rowmap_reserve(&t->rows, old.n) != 0) {
        free(kv);
        t->rows = old;
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory re-indexing a table whose key changed");
        return -1;
    }
    for (size_t i = 0; old.slots && i <= old.mask; i++) {
        tm_row *r = old.slots[i].row;
        if (!r)
            continue;
        row_key(t, r, kv);
        uint32_t h = key_hash(kv, t->nkeys);
        size_t j = tm_rowmap_slot(&t->rows, h);
        while (t->rows.slots[j].row)
            j = tm_rowmap_step(&t->rows, j);
        tm_rowmap_put_at(&t->rows, j, h, r);
    }
    free(kv);
    tm_rowmap_free(&old);
    return 0;
}

/* cur became v: the key and every version's column map follow it. */
static int set_cur(tm_table *t, tm_version *v, tm_error *err)
{
    bool key_changed = !t->cur || !tm_version_same_key(t->cur, v);
    uint32_t *keys = malloc((v->ncols + 1) * sizeof *keys);
    if (!keys)
        goto oom;
    bool unique;
    uint32_t n = tm_version_key(v, keys, &unique);
    for (uint32_t i = 0; i < t->nver; i++) {
        if (!t->ver[i])
            continue;
        int32_t *m = realloc(t->to_cur[i], (v->ncols + 1) * sizeof *m);
        if (!m) {
            free(keys);
            goto oom;
        }
        tm_version_map(t->ver[i], v, m);
        t->to_cur[i] = m;
    }
    free(t->keycols);
    t->keycols = keys;
    t->nkeys = n;
    t->unique = unique;
    t->cur = v;
    return key_changed && t->rows.n ? rekey(t, err) : 0;
oom:
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping the schema of a table");
    return -1;
}

int tm_state_relation(tm_state *s, const Tidemark__Relation *rel, tm_error *err)
{
    if (tm_state_flush(s, err) != 0)
        return -1;
    if (!rel->has_version || rel->version == 0 || rel->version > UINT16_MAX) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the journal holds a schema of relation %u with version %u, which "
                      "replay cannot use; the journal is damaged or from a newer tidemark",
                      rel->oid, rel->version);
        return -1;
    }
    tm_table *t = find_table(s, rel->oid);
    if (!t && !(t = add_table(s, rel->oid, err)))
        return -1;
    if (rel->version < t->nver && t->ver[rel->version])
        return 0; /* a repeat (segment preamble) */
    if (rel->version >= t->nver) {
        uint32_t n = rel->version + 1;
        tm_version **v = realloc(t->ver, n * sizeof *v);
        if (v)
            t->ver = v;
        int32_t **m = v ? realloc(t->to_cur, n * sizeof *m) : NULL;
        if (!m) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping the schema of a table");
            return -1;
        }
        t->to_cur = m;
        for (uint32_t i = t->nver; i < n; i++) {
            t->ver[i] = NULL;
            t->to_cur[i] = NULL;
        }
        t->nver = n;
    }
    tm_version *v = tm_version_new(rel, err);
    if (!v)
        return -1;
    t->ver[rel->version] = v;
    if (!t->selected && s->select(s->arg, v))
        t->selected = true;
    if (!t->cur || v->version > t->cur->version)
        return set_cur(t, v, err);
    /* An older version arriving late: only its map is needed. */
    int32_t *m = malloc((t->cur->ncols + 1) * sizeof *m);
    if (!m) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping the schema of a table");
        return -1;
    }
    tm_version_map(v, t->cur, m);
    t->to_cur[rel->version] = m;
    return 0;
}

int tm_state_reserve_rows(tm_state *s, uint32_t oid, uint64_t n, tm_error *err)
{
    tm_table *t = find_table(s, oid);
    if (t && t->selected && n <= SIZE_MAX / 2 && tm_rowmap_reserve(&t->rows, (size_t)n) != 0) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory holding the replayed rows");
        return -1;
    }
    return 0;
}

void tm_state_gap(tm_state *s)
{
    for (size_t i = 0; i < s->ntables; i++)
        s->tables[i]->gap = true;
}

void tm_state_table_removed(tm_state *s, uint32_t oid)
{
    tm_table *t = find_table(s, oid);
    if (t)
        t->captured = false;
}

void tm_state_in_snapshot(tm_state *s, bool on)
{
    s->in_snapshot = on;
}

/* ---- rows ------------------------------------------------------------------ */

/* The key values of a tuple of version v, in cur's key order. Returns false
 * when a key value is not known ('u'). */
static inline bool tuple_key(const tm_table *t, uint32_t v, const tm_value *vals, uint32_t n,
                             tm_value *kv)
{
    const int32_t *map = t->to_cur[v];
    for (uint32_t k = 0; k < t->nkeys; k++) {
        uint32_t c = t->keycols[k];
        int32_t i = map[c];
        kv[k] = i >= 0 && (uint32_t)i < n ? vals[i] : t->cur->cols[c].missing;
        if (kv[k].kind != TM_KIND_TEXT && kv[k].kind != TM_KIND_NULL)
            return false;
    }
    return true;
}

static inline bool value_eq(const tm_value *a, const tm_value *b)
{
    return a->kind == b->kind && a->len == b->len && (!a->len || !memcmp(a->ptr, b->ptr, a->len));
}

static inline bool key_eq(const tm_value *a, const tm_value *b, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (!value_eq(&a[k], &b[k]))
            return false;
    return true;
}

static inline bool row_has_key(const tm_table *t, const tm_row *r, const tm_value *kv)
{
    const int32_t *map = t->to_cur[r->ver];
    for (uint32_t k = 0; k < t->nkeys; k++) {
        uint32_t c = t->keycols[k];
        tm_value v = map[c] >= 0 ? tm_row_get(r, (uint32_t)map[c]) : t->cur->cols[c].missing;
        if (!value_eq(&v, &kv[k]))
            return false;
    }
    return true;
}

/* The slot holding the row with key kv, or the empty slot where it would
 * go (*found false). The table must have room (tm_rowmap_reserve). */
static inline size_t lookup(const tm_table *t, const tm_value *kv, uint32_t h, bool *found)
{
    const tm_rowmap *m = &t->rows;
    for (size_t i = tm_rowmap_slot(m, h);; i = tm_rowmap_step(m, i)) {
        const tm_rowslot *sl = &m->slots[i];
        if (!sl->row) {
            *found = false;
            return i;
        }
        if (sl->hash == h && row_has_key(t, sl->row, kv)) {
            *found = true;
            return i;
        }
    }
}

/* Room for a row of size bytes (its cap set, the table's accounting
 * updated), or NULL when out of memory or too large. Sizes round up: the
 * slack lets a row grow a little in place. */
static tm_row *row_alloc(tm_table *t, size_t size)
{
    uint32_t cap;
    tm_row *r = size < TM_ROW_NULL ? tm_rowalloc_get(t->alloc, size, &cap) : NULL;
    if (!r)
        return NULL;
    r->cap = cap;
    t->bytes += cap;
    t->big_rows += cap > TM_ROWALLOC_MAX;
    return r;
}

/* Writes a row of version v holding vals[0..n) ('n' or 't' kinds only),
 * into reuse when it fits well, else into a new allocation. NULL when out
 * of memory (reuse is then untouched). */
static tm_row *row_build(tm_table *t, uint32_t v, const tm_value *vals, uint32_t n, tm_row *reuse)
{
    size_t data = 0;
    for (uint32_t i = 0; i < n; i++)
        data += vals[i].len;
    size_t size = sizeof(tm_row) + (size_t)n * sizeof(uint32_t) + data;
    tm_row *r = reuse; /* a reused row's cap, like row_alloc's, is below TM_ROW_NULL */
    if ((!r || r->cap < size || size < r->cap / 2) && !(r = row_alloc(t, size)))
        return NULL;
    r->ver = (uint16_t)v;
    r->ncols = (uint16_t)n;
    r->count = 1;
    char *d = (char *)(r->end + n);
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (vals[i].kind == TM_KIND_TEXT) {
            if (vals[i].len)
                memcpy(d + off, vals[i].ptr, vals[i].len);
            off += vals[i].len;
            r->end[i] = off;
        } else {
            r->end[i] = off | TM_ROW_NULL;
        }
    }
    return r;
}

static void row_free(tm_table *t, tm_row *r)
{
    t->bytes -= r->cap;
    t->big_rows -= r->cap > TM_ROWALLOC_MAX;
    tm_rowalloc_put(t->alloc, r, r->cap);
}

static void drop_loaded(tm_state *s)
{
    for (; s->lqn > 0; s->lqn--, s->lqhead = (s->lqhead + 1) % TM_LOADQ) {
        s->lq[s->lqhead].t->loading--;
        row_free(s->lq[s->lqhead].t, s->lq[s->lqhead].r);
    }
}

/* Replaces unchanged TOAST values ('u') of a tuple of version v by the
 * values of row r (NULL: not found, they read as NULL). Returns whether a
 * value now points into r. */
static bool resolve_unchanged(tm_table *t, uint32_t v, tm_value *vals, uint32_t n, const tm_row *r)
{
    bool refs = false;
    for (uint32_t i = 0; i < n; i++) {
        if (vals[i].kind != TM_KIND_UNCHANGED)
            continue;
        if (!r) {
            vals[i] = (tm_value){NULL, 0, TM_KIND_NULL};
            t->st.unresolved++;
            continue;
        }
        int idx = r->ver == v ? (int)i : tm_version_find(t->ver[r->ver], t->ver[v]->cols[i].name);
        if (idx >= 0 && (uint32_t)idx < r->ncols) {
            vals[i] = tm_row_get(r, (uint32_t)idx);
            refs = true;
        } else {
            vals[i] = t->ver[v]->cols[i].missing;
        }
    }
    return refs;
}

static int oom(tm_error *err)
{
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory holding the replayed rows");
    return -1;
}

/* Adds a new row (vals, key kv of hash h) to the table: built, or built
 * from vals when NULL. */
static int insert_row_hashed(tm_table *t, uint32_t v, const tm_value *vals, uint32_t n,
                             const tm_value *kv, uint32_t h, tm_row *built, tm_error *err)
{
    if (tm_rowmap_reserve(&t->rows, t->rows.n + 1) != 0) {
        if (built)
            row_free(t, built);
        return oom(err);
    }
    bool found;
    size_t i = lookup(t, kv, h, &found);
    if (found) {
        tm_row *r = t->rows.slots[i].row;
        if (!t->unique) { /* one more of an identical row */
            r->count++;
            t->nrows++;
            if (built)
                row_free(t, built);
            return 0;
        }
        t->st.duplicate_keys++;
        tm_row *nr = built ? built : row_build(t, v, vals, n, r);
        if (!nr)
            return oom(err);
        if (nr != r)
            row_free(t, r);
        t->rows.slots[i].row = nr;
        return 0;
    }
    tm_row *nr = built ? built : row_build(t, v, vals, n, NULL);
    if (!nr)
        return oom(err);
    tm_rowmap_put_at(&t->rows, i, h, nr);
    t->nrows++;
    return 0;
}

static int insert_row(tm_table *t, uint32_t v, const tm_value *vals, uint32_t n, const tm_value *kv,
                      tm_row *built, tm_error *err)
{
    return insert_row_hashed(t, v, vals, n, kv, key_hash(kv, t->nkeys), built, err);
}

/* Removes one instance of the row at slot i. */
static void remove_at(tm_table *t, size_t i)
{
    tm_row *r = t->rows.slots[i].row;
    t->nrows--;
    if (r->count > 1) {
        r->count--;
        return;
    }
    tm_rowmap_delete_at(&t->rows, i);
    row_free(t, r);
}

/* The three kinds of change, each reading its table, tuples and key from
 * what decode made of it. */
static int do_insert(tm_decoded *d, tm_error *err)
{
    tm_table *t = d->t;
    uint32_t v = d->c.relation_version, nn = d->nn;
    tm_value *nv = d->newv.v;
    t->st.inserts++;
    /* pgoutput sends no 'u' in inserts; should one come, it reads as the
     * previous value of the same key when there is one. */
    bool has_u = false;
    for (uint32_t i = 0; i < nn && !has_u; i++)
        has_u = nv[i].kind == TM_KIND_UNCHANGED;
    if (has_u)
        resolve_unchanged(t, v, nv, nn, NULL);
    /* decode found the key and its hash already, unless a key value was
     * 'u' (then it reads as NULL now) */
    if (d->look && !d->has_old)
        return insert_row_hashed(t, v, nv, nn, d->kv_new, d->look_hash, NULL, err);
    if (!tuple_key(t, v, nv, nn, d->kv_new)) {
        t->st.missing_rows++;
        return 0;
    }
    return insert_row(t, v, nv, nn, d->kv_new, NULL, err);
}

static int do_update(tm_decoded *d, tm_error *err)
{
    tm_table *t = d->t;
    uint32_t v = d->c.relation_version, nn = d->nn;
    tm_value *nv = d->newv.v;
    bool old_key_ok = d->old_key_ok;
    t->st.updates++;
    bool new_key_ok = tuple_key(t, v, nv, nn, d->kv_new);
    /* Where the row is: the old tuple's key, unless it lacks our key (a
     * key-only image of another index: then the key did not change). */
    if (old_key_ok && d->c.old_kind == 'K' && t->unique)
        for (uint32_t k = 0; k < t->nkeys && old_key_ok; k++)
            old_key_ok = d->kv_old[k].kind == TM_KIND_TEXT;
    const tm_value *kv = old_key_ok ? d->kv_old : new_key_ok ? d->kv_new : NULL;
    if (!kv) {
        t->st.missing_rows++;
        return 0;
    }
    if (tm_rowmap_reserve(&t->rows, t->rows.n + 1) != 0)
        return oom(err);
    uint32_t h = old_key_ok ? d->old_hash : key_hash(kv, t->nkeys);
    bool found;
    size_t i = lookup(t, kv, h, &found);
    if (!found) {
        t->st.missing_rows++;
        resolve_unchanged(t, v, nv, nn, NULL);
        if (!tuple_key(t, v, nv, nn, d->kv_new))
            return 0;
        return insert_row(t, v, nv, nn, d->kv_new, NULL, err);
    }
    tm_row *r = t->rows.slots[i].row;
    bool refs = resolve_unchanged(t, v, nv, nn, r);
    if (!new_key_ok && !tuple_key(t, v, nv, nn, d->kv_new)) {
        t->st.missing_rows++;
        return 0;
    }
    if (kv == d->kv_new || key_eq(kv, d->kv_new, t->nkeys)) {
        /* Same key: the row is rewritten where it is. */
        uint32_t count = r->count;
        tm_row *nr = row_build(t, v, nv, nn, refs || count > 1 ? NULL : r);
        if (!nr)
            return oom(err);
        if (count > 1) { /* one of several identical rows changes: it is still equal */
            nr->count = count;
        }
        if (nr != r)
            row_free(t, r);
        t->rows.slots[i].row = nr;
        return 0;
    }
    /* The key changed: build the new row before the old one goes (its
     * values may point into the old one). */
    tm_row *nr = row_build(t, v, nv, nn, NULL);
    if (!nr)
        return oom(err);
    remove_at(t, i);
    return insert_row(t, v, nv, nn, d->kv_new, nr, err);
}

static int do_delete(tm_decoded *d)
{
    tm_table *t = d->t;
    t->st.deletes++;
    if (!d->old_key_ok || !t->rows.slots) {
        t->st.missing_rows++;
        return 0;
    }
    bool found;
    size_t i = lookup(t, d->kv_old, d->old_hash, &found);
    if (!found) {
        t->st.missing_rows++;
        return 0;
    }
    remove_at(t, i);
    return 0;
}

static int grow_keys(tm_decoded *d, uint32_t n, tm_error *err)
{
    if (n <= d->kv_cap)
        return 0;
    tm_value *a = realloc(d->kv_old, n * sizeof *a);
    if (a)
        d->kv_old = a;
    tm_value *b = a ? realloc(d->kv_new, n * sizeof *b) : NULL;
    if (!b)
        return oom(err);
    d->kv_new = b;
    d->kv_cap = n;
    return 0;
}

/* The first half of applying a change: finds its table, decodes its tuples
 * and the key it looks up. Nothing here reads or changes rows, so it may
 * run ahead of the changes before it (only a Relation record changes what
 * it depends on, and the state applies everything queued before one). */
static int decode(tm_state *s, tm_decoded *d, tm_error *err)
{
    tm_change *c = &d->c;
    d->look = false;
    tm_table *t = d->t = find_table(s, c->relation_oid);
    if (!t) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the journal holds a change of relation %u before any schema of it; "
                      "the journal is damaged (run tidemark verify)",
                      c->relation_oid);
        return -1;
    }
    if (!t->selected) {
        s->skipped++;
        d->t = NULL;
        return 0;
    }
    s->applied++;
    if (c->op == TIDEMARK__CHANGE__OP__TRUNCATE)
        return 0;
    uint32_t v = c->relation_version;
    if (v >= t->nver || !t->ver[v]) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the journal holds a change of %s.%s with schema version %u, which it "
                      "never recorded; the journal is damaged (run tidemark verify)",
                      t->cur->nspname, t->cur->relname, v);
        return -1;
    }
    if (grow_keys(d, t->nkeys, err) != 0)
        return -1;
    uint32_t ncols = t->ver[v]->ncols;
    d->no = d->nn = 0;
    int has_old = tm_change_values(&s->dec, c, 0, NULL, 0, &d->oldv, &d->no, err);
    if (has_old < 0)
        return -1;
    d->old_key_ok = false;
    d->old_hash = 0;
    if (has_old && (d->old_key_ok = tuple_key(t, v, d->oldv.v, d->no, d->kv_old))) {
        d->old_hash = key_hash(d->kv_old, t->nkeys);
        d->look_hash = d->old_hash;
        d->look = true;
    }
    int has_new =
        tm_change_values(&s->dec, c, 1, has_old ? d->oldv.v : NULL, d->no, &d->newv, &d->nn, err);
    if (has_new < 0)
        return -1;
    if ((has_old && d->no != ncols) || (has_new && d->nn != ncols)) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the journal holds a row of %s.%s with %u columns where its schema "
                      "version %u has %u; the journal is damaged (run tidemark verify)",
                      t->ver[v]->nspname, t->ver[v]->relname,
                      has_old && d->no != ncols ? d->no : d->nn, v, ncols);
        return -1;
    }
    d->has_old = has_old > 0;
    d->has_new = has_new > 0;
    if (!d->look && has_new && c->op == TIDEMARK__CHANGE__OP__INSERT &&
        tuple_key(t, v, d->newv.v, d->nn, d->kv_new)) {
        d->look_hash = key_hash(d->kv_new, t->nkeys);
        d->look = true;
    }
    return 0;
}

/* The second half: the change meets the rows. */
static int apply_decoded(tm_state *s, tm_decoded *d, tm_error *err)
{
    tm_table *t = d->t;
    if (!t)
        return 0;
    if (s->in_snapshot)
        t->captured = true; /* its capture starts (again) with a snapshot */
    const tm_change *c = &d->c;
    if (c->op == TIDEMARK__CHANGE__OP__TRUNCATE) {
        t->st.truncates++;
        if (t->rows.n) /* an empty table keeps the room reserved for it */
            free_rows(t, true);
        if (s->in_snapshot)
            t->gap = false;
        return 0;
    }
    uint32_t v = c->relation_version;
    switch (c->op) {
    case TIDEMARK__CHANGE__OP__INSERT:
        if (!d->has_new)
            break;
        return do_insert(d, err);
    case TIDEMARK__CHANGE__OP__UPDATE:
        if (!d->has_new)
            break;
        return do_update(d, err);
    case TIDEMARK__CHANGE__OP__DELETE:
        return do_delete(d);
    default:
        break;
    }
    tm_error_setc(err, TM_ERR_CORRUPT,
                  "the journal holds a change of %s.%s of an unknown kind (%u) or without its "
                  "row; the journal is damaged or from a newer tidemark",
                  t->ver[v]->nspname, t->ver[v]->relname, c->op);
    return -1;
}

static inline void prefetch_slot(const tm_decoded *d)
{
    if (d->look && d->t && d->t->rows.slots)
        tm_prefetch(&d->t->rows.slots[tm_rowmap_slot(&d->t->rows, d->look_hash)]);
}

/* Its slot is in the cache by now: ask for the row it points to, which
 * need not be in its home slot (linear probing): the next few slots share
 * the cache line or the one after it. */
static inline void prefetch_row(const tm_decoded *d)
{
    if (!d->look || !d->t || !d->t->rows.slots)
        return;
    const tm_rowmap *m = &d->t->rows;
    const char *r = NULL;
    size_t i = tm_rowmap_slot(m, d->look_hash);
    for (int probe = 0; probe < 4 && !r && m->slots[i].row; probe++, i = tm_rowmap_step(m, i))
        if (m->slots[i].hash == d->look_hash)
            r = m->slots[i].row;
    if (!r)
        return;
    /* The row is read for its key, then usually rewritten: all of it (a
     * row of a few short columns spans two or three lines). */
    tm_prefetch(r);
    tm_prefetch(r + 64);
    tm_prefetch(r + 128);
}

/* Applies the oldest queued change (its row was asked for one change
 * ago); on an error the queue is dropped. */
static int apply_oldest(tm_state *s, tm_error *err)
{
    tm_decoded *d = &s->q[s->qhead];
    s->qhead = (s->qhead + 1) % TM_QUEUE;
    s->qn--;
    if (apply_decoded(s, d, err) == 0)
        return 0;
    s->qn = 0;
    return -1;
}

/* Puts the oldest loaded row into its table; on an error the rows still
 * waiting are dropped. */
static int insert_loaded(tm_state *s, tm_error *err)
{
    tm_loaded *e = &s->lq[s->lqhead];
    s->lqhead = (s->lqhead + 1) % TM_LOADQ;
    s->lqn--;
    e->t->loading--;
    row_key(e->t, e->r, s->now.kv_new); /* room: the row was built with it */
    if (insert_row_hashed(e->t, e->r->ver, NULL, e->r->ncols, s->now.kv_new, e->hash, e->r, err) ==
        0)
        return 0;
    drop_loaded(s);
    return -1;
}

static int flush_loaded(tm_state *s, tm_error *err)
{
    while (s->lqn > 0)
        if (insert_loaded(s, err) != 0)
            return -1;
    return 0;
}

static int flush_queue(tm_state *s, tm_error *err)
{
    while (s->qn > 0) {
        if (s->qn > 1)
            prefetch_row(&s->q[(s->qhead + 1) % TM_QUEUE]);
        if (apply_oldest(s, err) != 0)
            return -1;
    }
    return 0;
}

/* Only one of the two holds anything: each flushes the other first. */
int tm_state_flush(tm_state *s, tm_error *err)
{
    return flush_loaded(s, err) != 0 || flush_queue(s, err) != 0 ? -1 : 0;
}

int tm_state_queue_packed(tm_state *s, const uint8_t *p, size_t len, tm_error *err)
{
    if (flush_loaded(s, err) != 0 || (s->qn == TM_QUEUE && apply_oldest(s, err) != 0))
        return -1;
    tm_decoded *d = &s->q[(s->qhead + s->qn) % TM_QUEUE];
    if (len > d->buf_cap) {
        size_t cap = len < 256 ? 256 : len * 2;
        uint8_t *b = realloc(d->buf, cap);
        if (!b)
            return oom(err);
        d->buf = b;
        d->buf_cap = cap;
    }
    memcpy(d->buf, p, len);
    bool bad = tm_change_peek(&s->dec, d->buf, len, &d->c, err) != 0;
    if (bad || d->c.unpacked) {
        /* Damaged (err says how), or (rare) a change that needed protobuf-c,
         * whose memory the next change reuses: what is queued goes first
         * (and its error, if any, is the one reported). */
        tm_error e2;
        if (tm_state_flush(s, &e2) != 0) {
            *err = e2;
            return -1;
        }
        return bad ? -1 : tm_state_change_packed(s, p, len, err);
    }
    if (decode(s, d, err) != 0) {
        tm_error e2;
        return tm_state_flush(s, &e2) != 0 ? (*err = e2, -1) : -1;
    }
    s->qn++;
    prefetch_slot(d);
    if (s->qn >= 2)
        prefetch_row(&s->q[(s->qhead + s->qn - 2) % TM_QUEUE]);
    return 0;
}

/* A row of a checkpoint: an INSERT whose tuple holds only values and NULLs,
 * laid out as a row already (the values back to back), so the row is made
 * with one copy and no value array. Anything else takes the general path. */
int tm_state_load_row_packed(tm_state *s, const uint8_t *p, size_t len, tm_error *err)
{
    tm_decoded *d = &s->now;
    if (flush_queue(s, err) != 0 || tm_change_peek(&s->dec, p, len, &d->c, err) != 0)
        return -1;
    tm_table *t = d->c.unpacked ? NULL : find_table(s, d->c.relation_oid);
    if (t && !t->selected) { /* as decode skips it */
        s->skipped++;
        return 0;
    }
    if (t && s->in_snapshot)
        t->captured = true;
    uint32_t v = d->c.relation_version;
    tm_tuple_view tv;
    if (!t || !t->selected || d->c.op != TIDEMARK__CHANGE__OP__INSERT || v >= t->nver ||
        !t->ver[v] || !tm_change_canonical_tuple(&d->c, 1, &tv) || tv.nkinds != t->ver[v]->ncols ||
        tv.ndata >= TM_ROW_NULL || grow_keys(d, t->nkeys, err) != 0)
        return tm_state_change_packed(s, p, len, err);
    uint32_t n = (uint32_t)tv.nkinds;
    tm_row *r = row_alloc(t, sizeof(tm_row) + (size_t)n * sizeof(uint32_t) + tv.ndata);
    if (!r)
        return oom(err);
    uint32_t off = 0;
    const uint8_t *lq = tv.lens, *le = tv.lens + tv.nlens;
    bool ok = true;
    for (uint32_t i = 0; i < n && ok; i++) {
        uint64_t l;
        if (tv.kinds[i] == TM_KIND_TEXT && tm_varint(&lq, le, &l) == 0 && l <= tv.ndata - off) {
            off += (uint32_t)l;
            r->end[i] = off;
        } else {
            ok = tv.kinds[i] == TM_KIND_NULL;
            r->end[i] = off | TM_ROW_NULL;
        }
    }
    if (!ok || lq != le || off != tv.ndata) {
        row_free(t, r);
        return tm_state_change_packed(s, p, len, err); /* it reports what is wrong */
    }
    r->ver = (uint16_t)v;
    r->ncols = (uint16_t)n;
    r->count = 1;
    if (off)
        memcpy((char *)(r->end + n), tv.data, off);
    s->applied++;
    t->st.inserts++;
    /* Room for it and the rows waiting for this table, so that the slot
     * asked for now is still where the row goes. */
    if (tm_rowmap_reserve(&t->rows, t->rows.n + t->loading + 1) != 0) {
        row_free(t, r);
        return oom(err);
    }
    row_key(t, r, d->kv_new);
    uint32_t h = key_hash(d->kv_new, t->nkeys);
    tm_prefetch(&t->rows.slots[tm_rowmap_slot(&t->rows, h)]);
    if (s->lqn == TM_LOADQ && insert_loaded(s, err) != 0) {
        row_free(t, r);
        return -1;
    }
    s->lq[(s->lqhead + s->lqn++) % TM_LOADQ] = (tm_loaded){t, r, h};
    t->loading++;
    return 0;
}

int tm_state_change_packed(tm_state *s, const uint8_t *p, size_t len, tm_error *err)
{
    if (tm_state_flush(s, err) != 0 || tm_change_peek(&s->dec, p, len, &s->now.c, err) != 0 ||
        decode(s, &s->now, err) != 0)
        return -1;
    return apply_decoded(s, &s->now, err);
}

int tm_state_change(tm_state *s, const Tidemark__Change *m, tm_error *err)
{
    if (tm_state_flush(s, err) != 0)
        return -1;
    tm_change_from_unpacked(m, &s->now.c);
    if (decode(s, &s->now, err) != 0)
        return -1;
    return apply_decoded(s, &s->now, err);
}
