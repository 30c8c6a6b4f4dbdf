/* Decoding journal Change records on replay's hot path.
 *
 * protobuf-c's generic unpacking costs more than everything else replay
 * does with a change (it was over half of the time of reading a journal),
 * so the canonical encoding that tidemark writes (each field at most once,
 * packed lengths) is read here directly, in two steps: tm_change_peek reads
 * the top-level fields (op, relation, version) and only locates the tuples,
 * so a change of a table that is not replayed costs almost nothing; then
 * tm_change_tuple decodes a tuple for tm_tuple_decode (store/tuple.h).
 * Anything else (a repeated field, unpacked lengths, a field of an
 * unexpected wire type) is handed to protobuf-c, so the result is always
 * what protobuf-c would give. Nothing is allocated per change: the lengths
 * go to buffers the decoder reuses. */
#ifndef TM_CHANGE_DECODE_H
#define TM_CHANGE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/journal/arena.h"
#include "proto/journal.pb-c.h"
#include "store/common/tm_error.h"
#include "store/journal/tuple.h"

typedef struct tm_change {
    uint32_t op; /* TIDEMARK__CHANGE__OP__*, 0 when absent */
    uint32_t relation_oid, relation_version, old_kind, truncate_flags;
    bool has_old, has_new;
    /* The packed Tuples (fast path), or the message protobuf-c unpacked
     * (unpacked != NULL). */
    const uint8_t *old_p, *new_p;
    size_t old_len, new_len;
    const Tidemark__Change *unpacked;
} tm_change;

typedef struct tm_change_decoder {
    tm_arena arena; /* protobuf-c fallback; reset for each change */
    uint32_t *lens[2];
    size_t lens_cap[2];
} tm_change_decoder;

void tm_change_decoder_init(tm_change_decoder *d);
void tm_change_decoder_free(tm_change_decoder *d);

/* Reads the top-level fields of the packed Change p[0..len). The result
 * points into p (or into d's arena) until the next call. -1 with err when
 * the bytes are not a Change. */
int tm_change_peek(tm_change_decoder *d, const uint8_t *p, size_t len, tm_change *c, tm_error *err);

/* The same view of a Change protobuf-c unpacked already. */
void tm_change_from_unpacked(const Tidemark__Change *m, tm_change *c);

/* The old (which = 0) or new (which = 1) tuple of c as a Tidemark__Tuple
 * pointing into the record (lengths into d, valid until the next call for
 * the same which). Returns 1, 0 when c has no such tuple, -1 with err when
 * it does not decode. */
int tm_change_tuple(tm_change_decoder *d, const tm_change *c, int which, Tidemark__Tuple *out,
                    tm_error *err);

/* A tuple's fields as they lie in the record: kinds, the packed varint
 * lengths of its text values, the value bytes back to back. */
typedef struct tm_tuple_view {
    const uint8_t *kinds, *lens, *data;
    size_t nkinds, nlens, ndata;
} tm_tuple_view;

/* The old (which = 0) or new tuple of c, when c has it and it is encoded
 * as tidemark writes it (else false: tm_change_tuple reads any encoding). */
bool tm_change_canonical_tuple(const tm_change *c, int which, tm_tuple_view *t);

/* Reads a varint at *p (< e): 0 on success, -1 when truncated or longer
 * than 10 bytes. Its own loop, not tm_varint_get's: that one's indexing
 * and tenth-byte check cost ~3% of a replay here (relation oids and value
 * lengths take two or three bytes). */
static inline int tm_varint(const uint8_t **p, const uint8_t *e, uint64_t *v)
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

/* tm_change_tuple then tm_tuple_decode (old, n_old: the old tuple's values
 * for 's' columns), in one pass for the encoding tidemark writes: the
 * values of the tuple in out->v[0 .. *ncols). Returns 1, 0 when c has no
 * such tuple, -1 with err. */
int tm_change_values(tm_change_decoder *d, const tm_change *c, int which, const tm_value *old,
                     uint32_t n_old, tm_colbuf *out, uint32_t *ncols, tm_error *err);

#endif
