#include "replay/engine/change_decode.h"

#include <stdlib.h>
#include <string.h>

/* Protobuf wire types. */
#define WT_VARINT 0
#define WT_I64 1
#define WT_LEN 2
#define WT_I32 5

/* Skips a field of wire type wt: 0, or -1 when it cannot be skipped (a
 * group, or truncated). */
static int skip(const uint8_t **p, const uint8_t *e, unsigned wt)
{
    uint64_t n;
    switch (wt) {
    case WT_VARINT:
        return tm_varint(p, e, &n);
    case WT_I64:
        n = 8;
        break;
    case WT_I32:
        n = 4;
        break;
    case WT_LEN:
        if (tm_varint(p, e, &n) != 0)
            return -1;
        break;
    default:
        return -1;
    }
    if (n > (uint64_t)(e - *p))
        return -1;
    *p += n;
    return 0;
}

void tm_change_decoder_init(tm_change_decoder *d)
{
    memset(d, 0, sizeof *d);
    tm_arena_init(&d->arena);
}

void tm_change_decoder_free(tm_change_decoder *d)
{
    tm_arena_free(&d->arena);
    free(d->lens[0]);
    free(d->lens[1]);
    memset(d, 0, sizeof *d);
}

void tm_change_from_unpacked(const Tidemark__Change *m, tm_change *c)
{
    memset(c, 0, sizeof *c);
    c->op = m->has_op ? (uint32_t)m->op : 0;
    c->relation_oid = m->relation_oid;
    c->relation_version = m->relation_version;
    c->old_kind = m->old_kind;
    c->truncate_flags = m->truncate_flags;
    c->has_old = m->old_tuple != NULL;
    c->has_new = m->new_tuple != NULL;
    c->unpacked = m;
}

static int slow_change(tm_change_decoder *d, const uint8_t *p, size_t len, tm_change *c,
                       tm_error *err)
{
    Tidemark__Change *m = tidemark__change__unpack(&d->arena.alloc, len, p);
    if (!m) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "a change record of the journal does not decode; the journal is "
                      "damaged (run tidemark verify)");
        return -1;
    }
    tm_change_from_unpacked(m, c);
    return 0;
}

/* A length-delimited field at *q (its tag read): *f and *n, *q past it. */
static inline bool len_field(const uint8_t **q, const uint8_t *e, const uint8_t **f, size_t *n)
{
    uint64_t v;
    if (tm_varint(q, e, &v) != 0 || v > (uint64_t)(e - *q))
        return false;
    *f = *q;
    *n = (size_t)v;
    *q += v;
    return true;
}

/* A varint field of at most 32 bits at *q (its tag read). */
static inline bool u32_field(const uint8_t **q, const uint8_t *e, uint32_t *out)
{
    uint64_t v;
    if (tm_varint(q, e, &v) != 0 || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A Change as tidemark writes it: its fields in number order, each at most
 * once (one-byte tags). false for anything else, which the general loop
 * then reads from the start. */
static inline bool canonical_change(const uint8_t *p, size_t len, tm_change *c)
{
    const uint8_t *q = p, *e = p + len;
    if (q < e && *q == (1 << 3 | WT_VARINT) && !u32_field((q++, &q), e, &c->op))
        return false;
    if (q < e && *q == (2 << 3 | WT_VARINT) && !u32_field((q++, &q), e, &c->relation_oid))
        return false;
    if (q < e && *q == (3 << 3 | WT_VARINT) && !u32_field((q++, &q), e, &c->relation_version))
        return false;
    if (q < e && *q == (4 << 3 | WT_VARINT) && !u32_field((q++, &q), e, &c->old_kind))
        return false;
    if (q < e && *q == (5 << 3 | WT_LEN) &&
        !(c->has_old = len_field((q++, &q), e, &c->old_p, &c->old_len)))
        return false;
    if (q < e && *q == (6 << 3 | WT_LEN) &&
        !(c->has_new = len_field((q++, &q), e, &c->new_p, &c->new_len)))
        return false;
    if (q < e && *q == (7 << 3 | WT_VARINT) && !u32_field((q++, &q), e, &c->truncate_flags))
        return false;
    return q == e;
}

int tm_change_peek(tm_change_decoder *d, const uint8_t *p, size_t len, tm_change *c, tm_error *err)
{
    tm_arena_reset(&d->arena); /* what the previous change's fallbacks unpacked */
    memset(c, 0, sizeof *c);
    if (canonical_change(p, len, c))
        return 0;
    memset(c, 0, sizeof *c);
    const uint8_t *q = p, *e = p + len;
    unsigned seen = 0;
    while (q < e) {
        uint64_t tag, v;
        if (tm_varint(&q, e, &tag) != 0)
            return slow_change(d, p, len, c, err);
        unsigned field = (unsigned)(tag >> 3), wt = (unsigned)(tag & 7);
        if (field == 0 || tag > UINT32_MAX)
            return slow_change(d, p, len, c, err); /* invalid: protobuf-c says so */
        if (field >= 1 && field <= 7) {
            if (seen & (1u << field))
                return slow_change(d, p, len, c, err); /* merging rules: protobuf-c's job */
            seen |= 1u << field;
        }
        if (field == 5 || field == 6) {
            if (wt != WT_LEN || tm_varint(&q, e, &v) != 0 || v > (uint64_t)(e - q))
                return slow_change(d, p, len, c, err);
            if (field == 5) {
                c->has_old = true;
                c->old_p = q;
                c->old_len = (size_t)v;
            } else {
                c->has_new = true;
                c->new_p = q;
                c->new_len = (size_t)v;
            }
            q += v;
        } else if (field >= 1 && field <= 7) {
            if (wt != WT_VARINT || tm_varint(&q, e, &v) != 0 || v > UINT32_MAX)
                return slow_change(d, p, len, c, err);
            switch (field) {
            case 1:
                c->op = (uint32_t)v;
                break;
            case 2:
                c->relation_oid = (uint32_t)v;
                break;
            case 3:
                c->relation_version = (uint32_t)v;
                break;
            case 4:
                c->old_kind = (uint32_t)v;
                break;
            default:
                c->truncate_flags = (uint32_t)v;
                break;
            }
        } else if (skip(&q, e, wt) != 0) {
            return slow_change(d, p, len, c, err);
        }
    }
    return 0;
}

static int slow_tuple(tm_change_decoder *d, const uint8_t *p, size_t len, Tidemark__Tuple *out,
                      tm_error *err)
{
    Tidemark__Tuple *t = tidemark__tuple__unpack(&d->arena.alloc, len, p);
    if (!t) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "a row image in the journal does not decode; the journal is damaged "
                      "(run tidemark verify)");
        return -1;
    }
    *out = *t;
    return 1;
}

/* Decodes packed varint lengths [q, e) into d->lens[which]. */
static int read_lengths(tm_change_decoder *d, int which, const uint8_t *q, const uint8_t *e,
                        size_t *n)
{
    /* At most one length per byte. */
    size_t most = (size_t)(e - q);
    if (most > d->lens_cap[which]) {
        size_t cap = d->lens_cap[which] ? d->lens_cap[which] : 64;
        while (cap < most)
            cap *= 2;
        uint32_t *l = realloc(d->lens[which], cap * sizeof *l);
        if (!l)
            return -1;
        d->lens[which] = l;
        d->lens_cap[which] = cap;
    }
    uint32_t *out = d->lens[which];
    size_t k = 0;
    while (q < e) {
        uint64_t v;
        if (tm_varint(&q, e, &v) != 0 || v > UINT32_MAX)
            return -1;
        out[k++] = (uint32_t)v;
    }
    *n = k;
    return 0;
}

/* A Tuple as tidemark writes it: kinds, lengths, data, each at most once
 * and in that order. false for anything else. */
bool tm_change_canonical_tuple(const tm_change *c, int which, tm_tuple_view *t)
{
    if (c->unpacked || !(which ? c->has_new : c->has_old))
        return false;
    const uint8_t *q = which ? c->new_p : c->old_p, *e = q + (which ? c->new_len : c->old_len);
    *t = (tm_tuple_view){0};
    if (q < e && *q == (1 << 3 | WT_LEN) && !len_field((q++, &q), e, &t->kinds, &t->nkinds))
        return false;
    if (q < e && *q == (2 << 3 | WT_LEN) && !len_field((q++, &q), e, &t->lens, &t->nlens))
        return false;
    if (q < e && *q == (3 << 3 | WT_LEN) && !len_field((q++, &q), e, &t->data, &t->ndata))
        return false;
    return q == e;
}

/* tm_tuple_decode of a canonical Tuple, the lengths read as they are used.
 * false when anything is not as it should be (tm_tuple_decode then says
 * what). */
static inline bool canonical_values(const tm_tuple_view *t, const tm_value *old, uint32_t n_old,
                                    tm_colbuf *out, uint32_t *ncols)
{
    tm_error ignored;
    size_t nk = t->nkinds, nd = t->ndata;
    if (nk > UINT32_MAX || tm_colbuf_reserve(out, nk, &ignored) != 0)
        return false;
    /* lens is NULL in a tuple without text values (an UPDATE that sets
     * every column to itself): NULL + 0 is undefined */
    const uint8_t *kinds = t->kinds, *lq = t->lens, *le = t->nlens ? t->lens + t->nlens : lq;
    const char *d = t->data ? (const char *)t->data : "";
    size_t off = 0;
    tm_value *v = out->v;
    for (size_t i = 0; i < nk; i++) {
        switch (kinds[i]) {
        case TM_KIND_TEXT: {
            uint64_t l;
            if (tm_varint(&lq, le, &l) != 0 || l > nd - off)
                return false;
            v[i] = (tm_value){d + off, (uint32_t)l, TM_KIND_TEXT};
            off += (size_t)l;
            break;
        }
        case TM_KIND_SAME:
            if (!old || i >= n_old || old[i].kind == TM_KIND_SAME)
                return false;
            v[i] = old[i];
            break;
        case TM_KIND_NULL:
        case TM_KIND_UNCHANGED:
            v[i] = (tm_value){NULL, 0, (char)kinds[i]};
            break;
        default:
            return false;
        }
    }
    if (lq != le || off != nd)
        return false;
    *ncols = (uint32_t)nk;
    return true;
}

int tm_change_values(tm_change_decoder *d, const tm_change *c, int which, const tm_value *old,
                     uint32_t n_old, tm_colbuf *out, uint32_t *ncols, tm_error *err)
{
    tm_tuple_view v;
    if (tm_change_canonical_tuple(c, which, &v) && canonical_values(&v, old, n_old, out, ncols))
        return 1;
    Tidemark__Tuple t;
    int rc = tm_change_tuple(d, c, which, &t, err);
    if (rc <= 0)
        return rc;
    return tm_tuple_decode(&t, old, n_old, out, ncols, err) == 0 ? 1 : -1;
}

int tm_change_tuple(tm_change_decoder *d, const tm_change *c, int which, Tidemark__Tuple *out,
                    tm_error *err)
{
    if (c->unpacked) {
        const Tidemark__Tuple *t = which ? c->unpacked->new_tuple : c->unpacked->old_tuple;
        if (!t)
            return 0;
        *out = *t;
        return 1;
    }
    if (!(which ? c->has_new : c->has_old))
        return 0;
    const uint8_t *p = which ? c->new_p : c->old_p;
    size_t len = which ? c->new_len : c->old_len;
    const uint8_t *q = p, *e = p + len;
    /* Only the fields tm_tuple_decode reads (init would copy the whole
     * descriptor-bearing struct each time). */
    out->has_kinds = out->has_data = 0;
    out->kinds.len = out->data.len = out->n_lengths = 0;
    out->kinds.data = out->data.data = NULL;
    out->lengths = NULL;
    unsigned seen = 0;
    while (q < e) {
        uint64_t tag, v;
        if (tm_varint(&q, e, &tag) != 0)
            return slow_tuple(d, p, len, out, err);
        unsigned field = (unsigned)(tag >> 3), wt = (unsigned)(tag & 7);
        if (field == 0 || tag > UINT32_MAX)
            return slow_tuple(d, p, len, out, err);
        if (field >= 1 && field <= 3) {
            if (wt != WT_LEN || (seen & (1u << field)) || tm_varint(&q, e, &v) != 0 ||
                v > (uint64_t)(e - q))
                return slow_tuple(d, p, len, out, err);
            seen |= 1u << field;
            if (field == 1) {
                out->has_kinds = 1;
                out->kinds.data = (uint8_t *)q;
                out->kinds.len = (size_t)v;
            } else if (field == 3) {
                out->has_data = 1;
                out->data.data = (uint8_t *)q;
                out->data.len = (size_t)v;
            } else if (read_lengths(d, which, q, q + v, &out->n_lengths) != 0) {
                return slow_tuple(d, p, len, out, err);
            } else {
                out->lengths = d->lens[which];
            }
            q += v;
        } else if (skip(&q, e, wt) != 0) {
            return slow_tuple(d, p, len, out, err);
        }
    }
    return 1;
}
