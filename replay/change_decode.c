#include "change_decode.h"

#include <stdlib.h>
#include <string.h>

/* Protobuf wire types. */
#define WT_VARINT 0
#define WT_I64 1
#define WT_LEN 2
#define WT_I32 5

/* Reads a varint at *p (< e): 0 on success, -1 when truncated or longer
 * than 10 bytes. */
static inline int varint(const uint8_t **p, const uint8_t *e, uint64_t *v)
{
    const uint8_t *q = *p;
    if (q < e && *q < 0x80) { /* the common one-byte case */
        *v = *q;
        *p = q + 1;
        return 0;
    }
    uint64_t r = 0;
    for (int shift = 0; shift < 70 && q < e; shift += 7) {
        uint8_t b = *q++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            *p = q;
            return 0;
        }
    }
    return -1;
}

/* Skips a field of wire type wt: 0, or -1 when it cannot be skipped (a
 * group, or truncated). */
static int skip(const uint8_t **p, const uint8_t *e, unsigned wt)
{
    uint64_t n;
    switch (wt) {
    case WT_VARINT:
        return varint(p, e, &n);
    case WT_I64:
        n = 8;
        break;
    case WT_I32:
        n = 4;
        break;
    case WT_LEN:
        if (varint(p, e, &n) != 0)
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
        tm_error_set(err, "a change record of the journal does not decode; the journal is "
                          "damaged (run tidemark verify)");
        return -1;
    }
    tm_change_from_unpacked(m, c);
    return 0;
}

int tm_change_peek(tm_change_decoder *d, const uint8_t *p, size_t len, tm_change *c, tm_error *err)
{
    tm_arena_reset(&d->arena);
    memset(c, 0, sizeof *c);
    const uint8_t *q = p, *e = p + len;
    unsigned seen = 0;
    while (q < e) {
        uint64_t tag, v;
        if (varint(&q, e, &tag) != 0)
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
            if (wt != WT_LEN || varint(&q, e, &v) != 0 || v > (uint64_t)(e - q))
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
            if (wt != WT_VARINT || varint(&q, e, &v) != 0 || v > UINT32_MAX)
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
        tm_error_set(err, "a row image in the journal does not decode; the journal is damaged "
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
        if (varint(&q, e, &v) != 0 || v > UINT32_MAX)
            return -1;
        out[k++] = (uint32_t)v;
    }
    *n = k;
    return 0;
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
        if (varint(&q, e, &tag) != 0)
            return slow_tuple(d, p, len, out, err);
        unsigned field = (unsigned)(tag >> 3), wt = (unsigned)(tag & 7);
        if (field == 0 || tag > UINT32_MAX)
            return slow_tuple(d, p, len, out, err);
        if (field >= 1 && field <= 3) {
            if (wt != WT_LEN || (seen & (1u << field)) || varint(&q, e, &v) != 0 ||
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
