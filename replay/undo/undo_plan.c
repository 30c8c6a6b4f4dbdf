#include "replay/undo/undo_plan.h"

#include <stdlib.h>
#include <string.h>

#include "replay/engine/change_decode.h"
#include "store/journal/journal.h"
#include "replay/out/out.h"

typedef struct bind {
    const tm_version *v;
    tm_where_bound *b;
} bind;

/* Scan state for one pass over the journal. */
typedef struct scan {
    tm_undo_plan *p;
    tm_colbuf oldv, newv;
    tm_value *kv; /* key values, cur's key order */
    size_t kvcap;
    tm_out keybuf;
    uint64_t seq;
    bool in_set;      /* the current transaction is selected */
    bool set_started; /* a selected transaction was seen */
    uint32_t xid;
    int64_t time;
    tm_change_decoder dec;
    bool with_state; /* the rows of the tables are followed (for TRUNCATE) */
    bool want_state; /* a TRUNCATE of the set was met without them */
} scan;

static int oom(tm_error *err)
{
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory building the undo plan");
    return -1;
}

static bool select_table(void *arg, const tm_version *v)
{
    const tm_undo_select *sel = arg;
    return tm_qualname_selects(sel->tables, sel->ntables, v->nspname, v->relname);
}

static tm_table *table_of(const tm_undo_plan *p, uint32_t oid)
{
    for (size_t i = 0; i < tm_state_ntables(p->state); i++) {
        tm_table *t = tm_state_table(p->state, i);
        if (t->oid == oid)
            return t;
    }
    return NULL;
}

/* ---- images and keys -------------------------------------------------------- */

static int img_copy(tm_undo_img *img, const tm_version *ver, const tm_value *vals, tm_error *err)
{
    size_t data = 0;
    for (uint32_t i = 0; i < ver->ncols; i++)
        data += vals[i].len;
    tm_value *v = malloc(ver->ncols * sizeof *v + data + 1);
    if (!v)
        return oom(err);
    char *d = (char *)(v + ver->ncols);
    for (uint32_t i = 0; i < ver->ncols; i++) {
        v[i] = vals[i];
        if (vals[i].kind == TM_KIND_TEXT) {
            if (vals[i].len)
                memcpy(d, vals[i].ptr, vals[i].len);
            v[i].ptr = d;
            d += vals[i].len;
        } else {
            v[i] = (tm_value){NULL, 0, TM_KIND_NULL};
        }
    }
    free(img->v);
    img->v = v;
    img->ver = ver;
    return 0;
}

/* The key of a tuple of version ver into s->keybuf (serialised) and its
 * hash. Returns false when a key value is not known. */
static bool tuple_key(scan *s, const tm_table *t, const tm_version *ver, const tm_value *vals,
                      uint32_t *hash)
{
    const int32_t *map = t->to_cur[ver->version];
    tm_out_reset(&s->keybuf);
    uint64_t h = 0x9E3779B97F4A7C15ull ^ t->oid;
    for (uint32_t k = 0; k < t->nkeys; k++) {
        uint32_t c = t->keycols[k];
        int32_t i = map[c];
        tm_value v = i >= 0 ? vals[i] : t->cur->cols[c].missing;
        if (v.kind != TM_KIND_TEXT && v.kind != TM_KIND_NULL)
            return false;
        char hdr[5] = {v.kind};
        memcpy(hdr + 1, &v.len, 4);
        tm_out_write(&s->keybuf, hdr, 5);
        tm_out_write(&s->keybuf, v.ptr, v.len);
        h = tm_hash_part(h, hdr, 5);
        h = tm_hash_part(h, v.ptr, v.len);
    }
    *hash = tm_hash_final(h);
    return s->keybuf.err == 0;
}

static tm_undo_entry *find(tm_undo_plan *p, const tm_table *t, const char *key, size_t len,
                           uint32_t h, size_t *slot)
{
    if (!p->map.slots)
        return NULL;
    for (size_t i = tm_rowmap_slot(&p->map, h);; i = tm_rowmap_step(&p->map, i)) {
        const tm_rowslot *sl = &p->map.slots[i];
        if (!sl->row) {
            *slot = i;
            return NULL;
        }
        /* the slot's hash first: most probes then never touch the entry */
        tm_undo_entry *e = sl->row;
        if (sl->hash == h && e->t == t && e->keylen == len && !memcmp(e->key, key, len))
            return e;
    }
}

/* The entry of the key in s->keybuf, created (with before = image, or
 * absent) when new. Tables without a unique key: always a new entry. */
static tm_undo_entry *entry_for(scan *s, tm_table *t, uint32_t h, const tm_version *ver,
                                const tm_value *before, tm_error *err)
{
    tm_undo_plan *p = s->p;
    size_t len, slot = 0;
    const char *key = tm_out_data(&s->keybuf, &len);
    if (tm_rowmap_reserve(&p->map, p->map.n + 1) != 0) {
        oom(err);
        return NULL;
    }
    tm_undo_entry *e = t->unique ? find(p, t, key, len, h, &slot) : NULL;
    if (e) {
        if (e->nlater)
            e->interleaved = true;
        e->last_seq = s->seq;
        e->last_xid = s->xid;
        return e;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        tm_undo_entry **a = realloc(p->e, cap * sizeof *a);
        if (!a) {
            oom(err);
            return NULL;
        }
        p->e = a;
        p->cap = cap;
    }
    e = calloc(1, sizeof *e);
    char *k = malloc(len + 1);
    if (!e || !k) {
        free(e);
        free(k);
        oom(err);
        return NULL;
    }
    memcpy(k, key, len);
    e->t = t;
    e->hash = h;
    e->key = k;
    e->keylen = len;
    e->first_seq = e->last_seq = s->seq;
    e->first_xid = e->last_xid = s->xid;
    p->e[p->n++] = e;
    if (t->unique) {
        if (!p->map.slots[slot].row) /* slot found by find() above */
            tm_rowmap_put_at(&p->map, slot, h, e);
    }
    if (before) {
        e->has_before = true;
        if (img_copy(&e->before, ver, before, err) != 0)
            return NULL;
    }
    return e;
}

/* ---- --where -------------------------------------------------------------- */

static int where_for(tm_undo_plan *p, const tm_version *v, const tm_where_bound **out,
                     tm_error *err)
{
    bind *b = p->binds;
    for (size_t i = 0; i < p->nbinds; i++)
        if (b[i].v == v) {
            *out = b[i].b;
            return 0;
        }
    tm_where_bound *wb = tm_where_bind(p->sel->where, v->desc, v->ncols, p->sel->tz, err);
    if (!wb) {
        tm_error_prefix(err, "--where on %s.%s", v->nspname, v->relname);
        return -1;
    }
    b = realloc(p->binds, (p->nbinds + 1) * sizeof *b);
    if (!b) {
        tm_where_bound_free(wb);
        return oom(err);
    }
    b[p->nbinds++] = (bind){v, wb};
    p->binds = b;
    *out = wb;
    return 0;
}

/* Whether the change (old and/or new image) passes --where: 1, 0, -1. */
static int where_ok(tm_undo_plan *p, const tm_version *v, const tm_value *o, const tm_value *n,
                    tm_error *err)
{
    if (!p->sel->where)
        return 1;
    const tm_where_bound *b;
    if (where_for(p, v, &b, err) != 0)
        return -1;
    return (o && tm_where_match(b, o)) || (n && tm_where_match(b, n));
}

/* ---- folding changes of the set ---------------------------------------------- */

static int cannot(tm_undo_plan *p, const tm_table *t, const tm_version *v, uint32_t xid,
                  tm_error *err)
{
    for (size_t i = 0; i < p->ncannot; i++)
        if (p->cannot[i].t == t) {
            p->cannot[i].changes++;
            return 0;
        }
    tm_undo_cannot *a = realloc(p->cannot, (p->ncannot + 1) * sizeof *a);
    if (!a)
        return oom(err);
    char ri = v->rel->has_replica_identity ? (char)v->rel->replica_identity : 'd';
    a[p->ncannot++] = (tm_undo_cannot){t, ri, xid, 1};
    p->cannot = a;
    return 0;
}

/* The row with image vals (version ver) left the table. */
static int fold_delete(scan *s, tm_table *t, const tm_version *ver, const tm_value *vals,
                       tm_error *err)
{
    uint32_t h;
    if (!tuple_key(s, t, ver, vals, &h))
        return 0;
    tm_undo_entry *e = entry_for(s, t, h, ver, vals, err);
    if (!e)
        return -1;
    e->has_after = false;
    s->p->changes++;
    return 0;
}

/* The row with image vals arrived at its key. */
static int fold_arrive(scan *s, tm_table *t, const tm_version *ver, const tm_value *vals,
                       tm_error *err)
{
    uint32_t h;
    if (!tuple_key(s, t, ver, vals, &h))
        return 0;
    tm_undo_entry *e = entry_for(s, t, h, ver, NULL, err);
    if (!e)
        return -1;
    e->has_after = true;
    s->p->changes++;
    return img_copy(&e->after, ver, vals, err);
}

static bool same_key(scan *s, tm_table *t, const tm_version *v, const tm_value *a,
                     const tm_value *b)
{
    uint32_t ha, hb;
    if (!tuple_key(s, t, v, a, &ha))
        return false;
    size_t la;
    const char *ka = tm_out_data(&s->keybuf, &la);
    char *copy = malloc(la + 1);
    if (!copy)
        return false;
    memcpy(copy, ka, la);
    bool same = tuple_key(s, t, v, b, &hb) && ha == hb;
    size_t lb;
    const char *kb = tm_out_data(&s->keybuf, &lb);
    same = same && la == lb && !memcmp(copy, kb, la);
    free(copy);
    return same;
}

/* Every row of t, as the state holds it before a TRUNCATE, leaves. */
static int fold_truncate(scan *s, tm_table *t, tm_error *err)
{
    tm_colbuf buf = {0};
    int rc = 0;
    for (size_t i = 0; t->rows.slots && i <= t->rows.mask && rc == 0; i++) {
        const tm_row *r = t->rows.slots[i].row;
        if (!r)
            continue;
        const tm_version *ver = t->ver[r->ver];
        if (tm_colbuf_reserve(&buf, ver->ncols, err) != 0) {
            rc = -1;
            break;
        }
        for (uint32_t c = 0; c < ver->ncols; c++)
            buf.v[c] = c < r->ncols ? tm_row_get(r, c) : ver->cols[c].missing;
        int ok = where_ok(s->p, ver, buf.v, NULL, err);
        if (ok < 0)
            rc = -1;
        for (uint32_t n = 0; ok > 0 && n < r->count && rc == 0; n++) {
            s->seq++;
            rc = fold_delete(s, t, ver, buf.v, err);
        }
    }
    tm_colbuf_free(&buf);
    return rc;
}

/* Decodes c's tuples into s->oldv / s->newv (without unpacking the
 * record: nothing is allocated per change), resolving the new image's
 * unchanged TOAST values from a full old image. */
static int decode(scan *s, const tm_change *c, const tm_version *ver, bool *has_old, bool *has_new,
                  tm_error *err)
{
    uint32_t no = 0, nn = 0;
    int ho = tm_change_values(&s->dec, c, 0, NULL, 0, &s->oldv, &no, err);
    if (ho < 0)
        return -1;
    int hn = tm_change_values(&s->dec, c, 1, ho ? s->oldv.v : NULL, no, &s->newv, &nn, err);
    if (hn < 0)
        return -1;
    *has_old = ho > 0;
    *has_new = hn > 0;
    if ((*has_old && no != ver->ncols) || (*has_new && nn != ver->ncols)) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the journal holds a row of %s.%s whose width does not match its schema; "
                      "it is damaged (run tidemark verify)",
                      ver->nspname, ver->relname);
        return -1;
    }
    if (*has_new && *has_old && c->old_kind == 'O')
        for (uint32_t i = 0; i < nn; i++)
            if (s->newv.v[i].kind == TM_KIND_UNCHANGED)
                s->newv.v[i] = s->oldv.v[i];
    return 0;
}

static int fold_change(scan *s, tm_table *t, const tm_change *c, tm_error *err)
{
    tm_undo_plan *p = s->p;
    if (c->op == TIDEMARK__CHANGE__OP__TRUNCATE)
        return s->with_state ? fold_truncate(s, t, err) : (s->want_state = true, -1);
    const tm_version *ver = c->relation_version < t->nver ? t->ver[c->relation_version] : NULL;
    if (!ver) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the journal holds a change with an unrecorded schema version; it is "
                      "damaged (run tidemark verify)");
        return -1;
    }
    bool ho, hn;
    if (decode(s, c, ver, &ho, &hn, err) != 0)
        return -1;
    bool full_old = ho && c->old_kind == 'O';
    int ok = where_ok(p, ver, full_old ? s->oldv.v : NULL, hn ? s->newv.v : NULL, err);
    if (ok <= 0)
        return ok;
    switch (c->op) {
    case TIDEMARK__CHANGE__OP__INSERT:
        return hn ? fold_arrive(s, t, ver, s->newv.v, err) : 0;
    case TIDEMARK__CHANGE__OP__UPDATE:
        if (!full_old)
            return cannot(p, t, ver, s->xid, err);
        if (!hn)
            return 0;
        for (uint32_t i = 0; i < ver->ncols; i++)
            if (s->newv.v[i].kind == TM_KIND_UNCHANGED)
                return cannot(p, t, ver, s->xid, err);
        if (t->unique && same_key(s, t, ver, s->oldv.v, s->newv.v)) {
            uint32_t h;
            tuple_key(s, t, ver, s->oldv.v, &h);
            tm_undo_entry *e = entry_for(s, t, h, ver, s->oldv.v, err);
            if (!e)
                return -1;
            e->has_after = true;
            p->changes++;
            return img_copy(&e->after, ver, s->newv.v, err);
        }
        if (fold_delete(s, t, ver, s->oldv.v, err) != 0)
            return -1;
        p->changes--; /* one change, two entries */
        return fold_arrive(s, t, ver, s->newv.v, err);
    case TIDEMARK__CHANGE__OP__DELETE:
        if (!full_old)
            return cannot(p, t, ver, s->xid, err);
        return fold_delete(s, t, ver, s->oldv.v, err);
    default:
        return 0;
    }
}

/* ---- later touches ----------------------------------------------------------- */

static int touch(scan *s, tm_undo_entry *e, char op, tm_error *err)
{
    if (e->nlater && e->later[e->nlater - 1].xid == s->xid)
        return 0;
    if (e->nlater == e->caplater) {
        uint32_t cap = e->caplater ? e->caplater * 2 : 2;
        tm_undo_touch *a = realloc(e->later, cap * sizeof *a);
        if (!a)
            return oom(err);
        e->later = a;
        e->caplater = cap;
    }
    e->later[e->nlater++] = (tm_undo_touch){s->xid, s->time, op};
    return 0;
}

static int touch_image(scan *s, tm_table *t, const tm_version *ver, const tm_value *vals, char op,
                       tm_error *err)
{
    uint32_t h;
    if (!t->unique || !tuple_key(s, t, ver, vals, &h))
        return 0;
    size_t len, slot;
    const char *key = tm_out_data(&s->keybuf, &len);
    tm_undo_entry *e = find(s->p, t, key, len, h, &slot);
    return e ? touch(s, e, op, err) : 0;
}

/* A change outside the set, to a table the set changed. */
static int note_later(scan *s, tm_table *t, const tm_change *c, tm_error *err)
{
    static const char ops[] = {0, 'I', 'U', 'D', 'T'};
    char op = c->op <= 4 ? ops[c->op] : '?';
    if (c->op == TIDEMARK__CHANGE__OP__TRUNCATE) {
        for (size_t i = 0; i < s->p->n; i++)
            if (s->p->e[i]->t == t && touch(s, s->p->e[i], op, err) != 0)
                return -1;
        return 0;
    }
    const tm_version *ver = c->relation_version < t->nver ? t->ver[c->relation_version] : NULL;
    if (!ver)
        return 0;
    bool ho, hn;
    if (decode(s, c, ver, &ho, &hn, err) != 0)
        return -1;
    if (ho && touch_image(s, t, ver, s->oldv.v, op, err) != 0)
        return -1;
    return hn ? touch_image(s, t, ver, s->newv.v, op, err) : 0;
}

/* ---- the pass ------------------------------------------------------------------ */

static bool tx_selected(const tm_undo_select *sel, const Tidemark__TxBegin *b)
{
    if (b->snapshot)
        return false;
    if (sel->by_time)
        return b->commit_time >= sel->from && b->commit_time <= sel->to;
    for (size_t i = 0; i < sel->nxids; i++)
        if (sel->xids[i] == b->xid)
            return true;
    return false;
}

static int on_begin(scan *s, const Tidemark__TxBegin *b, tm_error *err)
{
    tm_undo_plan *p = s->p;
    s->xid = b->xid;
    s->time = b->commit_time;
    s->in_set = tx_selected(p->sel, b);
    tm_state_in_snapshot(p->state, b->snapshot && b->n_records > 0);
    if (!s->in_set)
        return 0;
    s->set_started = true;
    if (p->ntx == p->captx) {
        size_t cap = p->captx ? p->captx * 2 : 8;
        tm_undo_tx *a = realloc(p->tx, cap * sizeof *a);
        if (!a)
            return oom(err);
        p->tx = a;
        p->captx = cap;
    }
    p->tx[p->ntx++] = (tm_undo_tx){b->xid, b->commit_lsn, b->commit_time};
    return 0;
}

/* A change, packed as the journal holds it: its tuples decoded only when it
 * touches a selected table once the set has begun; the state follows every one by
 * the packed fast path (a base snapshot's rows are loaded as such). */
static int on_change(scan *s, const uint8_t *raw, size_t len, bool snapshot, tm_error *err)
{
    tm_undo_plan *p = s->p;
    tm_change peek;
    if (tm_change_peek(&s->dec, raw, len, &peek, err) != 0)
        return -1;
    tm_table *t = s->set_started ? table_of(p, peek.relation_oid) : NULL;
    if (t && t->selected) {
        s->seq++;
        if ((s->in_set ? fold_change(s, t, &peek, err) : note_later(s, t, &peek, err)) != 0)
            return -1;
    }
    if (!s->with_state)
        return 0;
    return snapshot ? tm_state_load_row_packed(p->state, raw, len, err)
                    : tm_state_change_packed(p->state, raw, len, err);
}

/* One pass; *want_state when it met a TRUNCATE of the set without the
 * rows it needs (then -1, and err says nothing). */
static int build(tm_undo_plan *p, const char *journal, const tm_undo_select *sel, bool with_state,
                 bool *want_state, tm_error *err)
{
    p->sel = sel;
    if (!(p->state = tm_state_new(select_table, (void *)sel, err)))
        return -1;
    scan s = {.p = p, .with_state = with_state};
    if (tm_out_init_mem(&s.keybuf, err) != 0)
        return -1;
    tm_reader *r;
    if (tm_reader_open(journal, &r, err) != 0) {
        tm_out_free(&s.keybuf);
        return -1;
    }
    const Tidemark__Record *rec;
    const uint8_t *raw;
    size_t len;
    uint64_t left = 0;
    bool snapshot = false;
    int rc;
    tm_change_decoder_init(&s.dec);
    while ((rc = tm_reader_next_lazy(r, &rec, &raw, &len, err)) == 1) {
        switch (rec ? rec->body_case : TIDEMARK__RECORD__BODY_CHANGE) {
        case TIDEMARK__RECORD__BODY_BEGIN:
            rc = on_begin(&s, rec->begin, err);
            left = rec->begin->n_records;
            snapshot = rec->begin->snapshot && left > 0;
            break;
        case TIDEMARK__RECORD__BODY_CHANGE:
            rc = rec ? -1 : on_change(&s, raw, len, snapshot, err);
            if (rec)
                tm_error_setc(err, TM_ERR_CORRUPT, "the journal holds an unexpected change record");
            break;
        case TIDEMARK__RECORD__BODY_RELATION:
            rc = tm_state_relation(p->state, rec->relation, err);
            break;
        default: /* logical messages and gaps carry no rows to undo */
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = -1;
            break;
        }
        if ((!rec || rec->body_case != TIDEMARK__RECORD__BODY_BEGIN) && left > 0 && --left == 0) {
            s.in_set = false;
            if (snapshot && tm_state_flush(p->state, err) != 0) {
                rc = -1;
                break;
            }
            snapshot = false;
            tm_state_in_snapshot(p->state, false);
        }
    }
    tm_change_decoder_free(&s.dec);
    tm_reader_close(r);
    tm_out_free(&s.keybuf);
    tm_colbuf_free(&s.oldv);
    tm_colbuf_free(&s.newv);
    *want_state = s.want_state;
    return rc < 0 ? -1 : 0;
}

/* Following every row of the tables costs most of the pass and is needed
 * only to expand a TRUNCATE of the set into its rows: a first pass
 * without them, a second with them when it meets one. */
int tm_undo_plan_build(tm_undo_plan *p, const char *journal, const tm_undo_select *sel,
                       tm_error *err)
{
    bool want = false;
    int rc = build(p, journal, sel, false, &want, err);
    if (rc == 0 || !want)
        return rc;
    tm_undo_plan_free(p);
    return build(p, journal, sel, true, &want, err);
}

void tm_undo_plan_free(tm_undo_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        tm_undo_entry *e = p->e[i];
        free(e->key);
        free(e->before.v);
        free(e->after.v);
        free(e->later);
        free(e);
    }
    free(p->e);
    tm_rowmap_free(&p->map);
    free(p->tx);
    free(p->cannot);
    bind *b = p->binds;
    for (size_t i = 0; i < p->nbinds; i++)
        tm_where_bound_free(b[i].b);
    free(p->binds);
    tm_state_free(p->state);
    memset(p, 0, sizeof *p);
}

bool tm_undo_entry_reused(const tm_undo_entry *e)
{
    for (uint32_t i = 0; i < e->nlater; i++)
        if (e->later[i].op == 'I')
            return true;
    return false;
}
