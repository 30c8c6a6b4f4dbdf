#include "replay/keys/keyscan.h"

#include <stdlib.h>
#include <string.h>

#include "store/journal/tuple.h"

struct tm_keyscan {
    char *dir;
    tm_reader *r;
    const tm_relreg *schema;
    tm_keyscan_want_fn want;
    void *ctx;
    tm_keysum *ks; /* the summary of the segment being read */
    bool have_last;
    uint64_t last_offset; /* the last frame begun (dropped if reading stops inside it) */

    /* the transaction being delivered */
    uint64_t tx_left;
    bool tx_indexed; /* its first frame is being added to the summary */
    bool tx_snapshot;
    uint64_t tx_frame;

    tm_colbuf oldv, newv;
    char canon[64];
    char *big; /* canonical forms longer than canon */
    size_t bigcap;
    tm_keyscan_stats stats;
};

static void save(tm_keyscan *k)
{
    if (!k->ks)
        return;
    if (tm_keysum_dirty(k->ks)) {
        tm_error ignored;
        if (tm_keysum_save(k->ks, k->dir, &ignored) == 0)
            k->stats.saved++;
    }
    tm_keysum_free(k->ks);
    k->ks = NULL;
}

static int filter(void *ctx, const tm_frame_info *f)
{
    tm_keyscan *k = ctx;
    if (!k->ks || tm_keysum_segment(k->ks) != f->segment) {
        /* The reader left the segment: everything it read there is whole. */
        save(k);
        tm_error err;
        k->ks = tm_keysum_load(k->dir, f->segment, &err);
        k->have_last = false;
        if (!k->ks)
            return TM_FRAME_READ;
    }
    uint32_t frame;
    if (tm_keysum_covers(k->ks, f->offset, f->payload_crc, &frame)) {
        if (f->must_read)
            return TM_FRAME_READ;
        int want = k->want ? k->want(k->ctx, k->ks, frame) : TM_FRAME_READ;
        if (want == TM_FRAME_READ)
            k->stats.covered_read++;
        else
            k->stats.covered_skipped++;
        return want;
    }
    /* Not covered: read it, and index the transactions that begin in it. */
    tm_error err;
    if (tm_keysum_begin_frame(k->ks, f->offset, f->payload_crc, &err) == 0) {
        k->have_last = true;
        k->last_offset = f->offset;
        k->stats.indexed++;
    }
    return TM_FRAME_READ;
}

tm_keyscan *tm_keyscan_new(const char *dir, tm_reader *r, const tm_relreg *schema,
                           tm_keyscan_want_fn want, void *ctx, tm_error *err)
{
    tm_keyscan *k = calloc(1, sizeof *k);
    if (!k || !(k->dir = strdup(dir))) {
        free(k);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    k->r = r;
    k->schema = schema;
    k->want = want;
    k->ctx = ctx;
    tm_reader_set_frame_filter(r, filter, k);
    return k;
}

void tm_keyscan_free(tm_keyscan *k)
{
    if (!k)
        return;
    tm_reader_set_frame_filter(k->r, NULL, NULL);
    tm_keysum_free(k->ks);
    tm_colbuf_free(&k->oldv);
    tm_colbuf_free(&k->newv);
    free(k->big);
    free(k->dir);
    free(k);
}

void tm_keyscan_finish(tm_keyscan *k, bool complete)
{
    if (k->ks && !complete && k->have_last)
        tm_keysum_drop_frame(k->ks, k->last_offset);
    save(k);
}

tm_keyscan_stats tm_keyscan_get_stats(const tm_keyscan *k)
{
    return k->stats;
}

/* Whether the frame at offset of the current summary is being built. */
static bool building(const tm_keyscan *k, uint64_t offset)
{
    return k->ks && tm_keysum_building(k->ks, offset);
}

/* The canonical form of v (of class cls) in k's buffers; false when it has
 * none. */
static bool canon_of(tm_keyscan *k, tm_tclass cls, const tm_value *v, const char **out, size_t *len,
                     tm_error *err, int *rc)
{
    if (v->kind != TM_KIND_TEXT || !tm_keysum_indexable(cls))
        return false;
    char *buf = k->canon;
    if (v->len + 1 > sizeof k->canon) {
        if (v->len + 1 > k->bigcap) {
            char *b = realloc(k->big, v->len + 1);
            if (!b) {
                tm_error_setc(err, TM_ERR_NOMEM, "out of memory indexing keys");
                *rc = -1;
                return false;
            }
            k->big = b;
            k->bigcap = v->len + 1;
        }
        buf = k->big;
    }
    return tm_keysum_canon(cls, v->ptr, v->len, buf, out, len);
}

/* The key hashes of one row image: each search column's value (the key's
 * first column, unique and foreign-key columns), and for a composite key
 * the whole key. A value without a canonical form (NULL, a type the
 * summaries do not hash) is not indexed: no lookup pins it. */
static int index_image(tm_keyscan *k, const tm_relver *rv, const tm_value *v, uint32_t n,
                       tm_error *err)
{
    const char *canon;
    size_t clen;
    int rc = 0;
    for (size_t i = 0; i < rv->nsearch; i++) {
        size_t c = rv->search[i];
        if (c >= n)
            continue;
        tm_tclass cls = tm_type_class(rv->cols[c].type_oid, rv->cols[c].type_name);
        if (!canon_of(k, cls, &v[c], &canon, &clen, err, &rc)) {
            if (rc != 0)
                return rc;
            continue;
        }
        if (tm_keysum_add(k->ks, k->tx_frame,
                          tm_keysum_hash_column(rv->oid, rv->cols[c].name, canon, clen), err) != 0)
            return -1;
    }
    if (rv->nkey <= 1 || rv->keysrc == TM_KEY_ALL)
        return 0;
    uint32_t row = tm_keysum_hash_row_begin(rv->oid);
    for (size_t i = 0; i < rv->nkey; i++) {
        size_t c = rv->key[i];
        if (c >= n)
            return 0;
        tm_tclass cls = tm_type_class(rv->cols[c].type_oid, rv->cols[c].type_name);
        if (!canon_of(k, cls, &v[c], &canon, &clen, err, &rc))
            return rc;
        row = tm_keysum_hash_row_add(row, canon, clen);
    }
    return tm_keysum_add(k->ks, k->tx_frame, row, err);
}

static int index_change(tm_keyscan *k, const Tidemark__Change *ch, tm_error *err)
{
    uint32_t oid = ch->relation_oid;
    if (tm_keysum_add(k->ks, k->tx_frame, tm_keysum_hash_table(oid), err) != 0 ||
        tm_keysum_add_relation(k->ks, oid, ch->relation_version, err) != 0)
        return -1;
    if (ch->op == TIDEMARK__CHANGE__OP__TRUNCATE)
        return tm_keysum_add(k->ks, k->tx_frame, tm_keysum_hash_trunc(oid), err);
    const tm_relver *rv = tm_relreg_get(k->schema, oid, ch->relation_version);
    if (!rv)
        return 0; /* no schema: findable by table only */
    uint32_t nold = 0, nnew = 0;
    if (ch->old_tuple) {
        if (tm_tuple_decode(ch->old_tuple, NULL, 0, &k->oldv, &nold, err) != 0)
            return -1;
        if (index_image(k, rv, k->oldv.v, nold, err) != 0)
            return -1;
    }
    if (ch->new_tuple) {
        if (tm_tuple_decode(ch->new_tuple, ch->old_tuple ? k->oldv.v : NULL, nold, &k->newv, &nnew,
                            err) != 0)
            return -1;
        if (index_image(k, rv, k->newv.v, nnew, err) != 0)
            return -1;
    }
    return 0;
}

int tm_keyscan_record(tm_keyscan *k, const Tidemark__Record *rec, tm_error *err)
{
    if (k->tx_left > 0) {
        k->tx_left--;
        if (k->tx_indexed && !k->tx_snapshot && rec->body_case == TIDEMARK__RECORD__BODY_CHANGE)
            return index_change(k, rec->change, err);
        return 0;
    }
    if (!k->ks)
        return 0;
    uint64_t offset = tm_reader_position(k->r).offset;
    switch (rec->body_case) {
    case TIDEMARK__RECORD__BODY_BEGIN:
        k->tx_left = rec->begin->n_records;
        k->tx_snapshot = rec->begin->snapshot;
        k->tx_frame = offset;
        k->tx_indexed = building(k, offset);
        if (!k->tx_indexed)
            return 0;
        if (tm_keysum_add(k->ks, offset, tm_keysum_hash_xid(rec->begin->xid), err) != 0)
            return -1;
        if (k->tx_snapshot)
            return tm_keysum_add(k->ks, offset, tm_keysum_hash_snapshot(), err);
        return 0;
    case TIDEMARK__RECORD__BODY_MESSAGE:
        if (building(k, offset))
            return tm_keysum_add(k->ks, offset, tm_keysum_hash_message(), err);
        return 0;
    case TIDEMARK__RECORD__BODY_GAP:
        if (building(k, offset))
            return tm_keysum_add(k->ks, offset, tm_keysum_hash_gap(), err);
        return 0;
    default:
        return 0;
    }
}

/* Frames a summary covers already need not be read again (their Relations
 * still are, so the schema is whole for the frames that are indexed). */
static int skip_covered(void *ctx, const tm_keysum *ks, uint32_t frame)
{
    (void)ctx;
    (void)ks;
    (void)frame;
    return TM_FRAME_SKIP;
}

int tm_keyscan_build_all(const char *dir, tm_keyscan_stats *st, tm_error *err)
{
    tm_relreg *schema = tm_relreg_new(err);
    tm_reader *r = NULL;
    tm_keyscan *k = NULL;
    int rc = -1, more;
    if (!schema || tm_reader_open(dir, &r, err) != 0 ||
        !(k = tm_keyscan_new(dir, r, schema, skip_covered, NULL, err)))
        goto out;
    const Tidemark__Record *rec;
    uint64_t left = 0; /* records of the open transaction still to come */
    while ((more = tm_reader_next(r, &rec, err)) == 1) {
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION && left == 0) {
            bool added;
            if (!tm_relreg_add(schema, rec->relation, &added, err))
                goto out;
        }
        if (tm_keyscan_record(k, rec, err) != 0)
            goto out;
        if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN)
            left = rec->begin->n_records;
        else if (left)
            left--;
    }
    if (more < 0)
        goto out;
    tm_keyscan_finish(k, true);
    if (st)
        *st = tm_keyscan_get_stats(k);
    rc = 0;
out:
    tm_keyscan_free(k);
    if (r)
        tm_reader_close(r);
    tm_relreg_free(schema);
    return rc;
}
