/* Journal frames (store/journal/frame.c) and the records inside them, as
 * every reader sees them. The input is a flags byte, a 72-byte frame
 * header and the bytes after it. Bit 0 of the flags seals the header
 * (payload and header CRCs made valid, fuzz.h) so that what lies behind
 * the checksums is reached. Exercised and checked:
 *   - tm_frame_hdr_decode; a header it accepts encodes back to the same
 *     72 bytes;
 *   - tm_frame_read of header and payload from a file (LZ4, CRCs, sizes);
 *   - the bytes after the header as a decompressed payload: each record
 *     (tm_frame_next_record) through protobuf-c and through the fast
 *     decoders readers use instead (tm_begin_decode, replay's
 *     tm_change_peek/tm_change_tuple/tm_change_values), which must give
 *     what protobuf-c gives;
 *   - those bytes compressed by tm_frame_compress into a frame that
 *     tm_frame_read reads back to the same bytes. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/journal.pb-c.h"
#include "replay/engine/change_decode.h"
#include "store/common/crc32c.h"
#include "store/journal/frame.h"
#include "store/journal/record_decode.h"
#include "store/journal/tuple.h"
#include "tests/fuzz/fuzz.h"

#define SEAL 1u

static bool bytes_eq(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void check_begin(const uint8_t *p, size_t len, const Tidemark__Record *pb)
{
    Tidemark__Record r;
    Tidemark__TxBegin b;
    if (!tm_begin_decode(p, len, &r, &b))
        return;
    TM_FUZZ_CHECK(pb && pb->body_case == TIDEMARK__RECORD__BODY_BEGIN,
                  "tm_begin_decode reads a TxBegin that protobuf-c refuses");
    const Tidemark__TxBegin *q = pb->begin;
    TM_FUZZ_CHECK(b.has_xid == q->has_xid && b.xid == q->xid &&
                      b.has_commit_lsn == q->has_commit_lsn && b.commit_lsn == q->commit_lsn &&
                      b.has_end_lsn == q->has_end_lsn && b.end_lsn == q->end_lsn &&
                      b.has_commit_time == q->has_commit_time && b.commit_time == q->commit_time &&
                      q->origin == NULL && b.has_origin_lsn == q->has_origin_lsn &&
                      b.origin_lsn == q->origin_lsn && b.has_n_records == q->has_n_records &&
                      b.n_records == q->n_records && b.has_snapshot == q->has_snapshot &&
                      b.snapshot == q->snapshot &&
                      b.has_large_change_rows == q->has_large_change_rows &&
                      b.large_change_rows == q->large_change_rows,
                  "tm_begin_decode and protobuf-c read a TxBegin differently");
}

static bool tuple_eq(const Tidemark__Tuple *a, const Tidemark__Tuple *b)
{
    size_t ak = a->has_kinds ? a->kinds.len : 0, bk = b->has_kinds ? b->kinds.len : 0;
    size_t ad = a->has_data ? a->data.len : 0, bd = b->has_data ? b->data.len : 0;
    return bytes_eq(a->kinds.data, ak, b->kinds.data, bk) &&
           bytes_eq(a->data.data, ad, b->data.data, bd) &&
           bytes_eq(a->lengths, a->n_lengths * sizeof(uint32_t), b->lengths,
                    b->n_lengths * sizeof(uint32_t));
}

static bool values_eq(const tm_value *a, uint32_t na, const tm_value *b, uint32_t nb)
{
    if (na != nb)
        return false;
    for (uint32_t i = 0; i < na; i++)
        if (a[i].kind != b[i].kind || !bytes_eq(a[i].ptr, a[i].len, b[i].ptr, b[i].len))
            return false;
    return true;
}

/* A Change body: replay's decoder against protobuf-c. */
static void check_change(tm_change_decoder *d, const uint8_t *body, size_t blen)
{
    Tidemark__Change *pb = tidemark__change__unpack(NULL, blen, body);
    tm_change c;
    tm_error err;
    int peek = tm_change_peek(d, body, blen, &c, &err);
    if (!pb) {
        /* replay may read the top level and refuse a tuple later; it must
         * not read both tuples of a Change protobuf-c refuses */
        if (peek == 0) {
            Tidemark__Tuple t;
            bool all = tm_change_tuple(d, &c, 0, &t, &err) >= 0 &&
                       tm_change_tuple(d, &c, 1, &t, &err) >= 0;
            TM_FUZZ_CHECK(!all, "replay reads a Change that protobuf-c refuses");
        }
        return;
    }
    TM_FUZZ_CHECK(peek == 0, "replay refuses a Change protobuf-c reads: %s", err.msg);
    /* protobuf-c's view as replay takes it (an absent op is 0, not the
     * enum's default INSERT) */
    tm_change pbc;
    tm_change_from_unpacked(pb, &pbc);
    TM_FUZZ_CHECK(c.op == pbc.op && c.relation_oid == pbc.relation_oid &&
                      c.relation_version == pbc.relation_version && c.old_kind == pbc.old_kind &&
                      c.truncate_flags == pbc.truncate_flags && c.has_old == pbc.has_old &&
                      c.has_new == pbc.has_new,
                  "replay and protobuf-c read a Change's fields differently");
    tm_colbuf vals[2] = {{0}, {0}}, ref[2] = {{0}, {0}};
    uint32_t nvals[2] = {0, 0}, nref[2] = {0, 0};
    int rv[2] = {0, 0}, rr[2] = {0, 0};
    for (int which = 0; which < 2; which++) {
        const Tidemark__Tuple *want = which ? pb->new_tuple : pb->old_tuple;
        Tidemark__Tuple t;
        int rc = tm_change_tuple(d, &c, which, &t, &err);
        TM_FUZZ_CHECK(rc == (want ? 1 : 0), "tuple %d: replay says %d, protobuf-c %s", which, rc,
                      want ? "has it" : "has none");
        if (!want)
            continue;
        TM_FUZZ_CHECK(tuple_eq(&t, want), "tuple %d: replay and protobuf-c read it differently",
                      which);
        /* the values: replay's canonical path against tm_tuple_decode */
        const tm_value *old = which && rv[0] == 1 ? vals[0].v : NULL;
        uint32_t n_old = which && rv[0] == 1 ? nvals[0] : 0;
        rv[which] = tm_change_values(d, &c, which, old, n_old, &vals[which], &nvals[which], &err);
        rr[which] =
            tm_tuple_decode(want, which && rr[0] == 1 ? ref[0].v : NULL,
                            which && rr[0] == 1 ? nref[0] : 0, &ref[which], &nref[which], &err) == 0
                ? 1
                : -1;
        TM_FUZZ_CHECK(rv[which] == rr[which], "tuple %d: values %d, tm_tuple_decode %d", which,
                      rv[which], rr[which]);
        if (rv[which] == 1)
            TM_FUZZ_CHECK(values_eq(vals[which].v, nvals[which], ref[which].v, nref[which]),
                          "tuple %d: replay's values differ from tm_tuple_decode's", which);
    }
    for (int i = 0; i < 2; i++) {
        tm_colbuf_free(&vals[i]);
        tm_colbuf_free(&ref[i]);
    }
    tidemark__change__free_unpacked(pb, NULL);
}

static void check_records(tm_change_decoder *d, const uint8_t *raw, size_t len)
{
    size_t pos = 0;
    const uint8_t *rec;
    size_t rlen;
    char why[256];
    int rc;
    while ((rc = tm_frame_next_record(raw, len, &pos, &rec, &rlen, why, sizeof why)) == 1) {
        Tidemark__Record *pb = tidemark__record__unpack(NULL, rlen, rec);
        check_begin(rec, rlen, pb);
        const uint8_t *body;
        size_t blen;
        if (tm_record_body(rec, rlen, TIDEMARK__RECORD__BODY_CHANGE, &body, &blen))
            check_change(d, body, blen);
        if (pb)
            tidemark__record__free_unpacked(pb, NULL);
    }
    TM_FUZZ_CHECK(rc == 0 || why[0] != '\0', "a bad record length comes without a reason");
}

/* Reads the frame at offset 0 of path; returns tm_frame_read's result. */
static int read_frame(const char *path, tm_frame_hdr *h, tm_buf *raw)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    TM_FUZZ_CHECK(fd >= 0, "cannot open %s", path);
    tm_buf io = {0};
    char why[256];
    tm_error err;
    int rc = tm_frame_read(fd, 0, NULL, h, &io, raw, why, sizeof why, &err);
    tm_buf_free(&io);
    close(fd);
    TM_FUZZ_CHECK(rc != 1 || why[0] != '\0', "a damaged frame comes without a reason");
    return rc;
}

/* The payload compressed into a frame of its own reads back the same. */
static void check_compress(const uint8_t *payload, size_t len)
{
    tm_buf c = {0};
    tm_error err;
    if (len == 0 || tm_frame_compress(payload, len, &c, &err) != 0) {
        tm_buf_free(&c);
        return;
    }
    tm_frame_hdr h = {.version = TM_FRAME_VERSION,
                      .flags = TM_FRAME_TX_END,
                      .clen = (uint32_t)c.len,
                      .raw_len = (uint32_t)len,
                      .n_records = 1,
                      .payload_crc = tm_crc32c(0, c.p, c.len)};
    uint8_t *img = malloc(TM_FRAME_HDR_SIZE + c.len);
    TM_FUZZ_CHECK(img != NULL, "out of memory");
    tm_frame_hdr_encode(&h, img);
    memcpy(img + TM_FRAME_HDR_SIZE, c.p, c.len);
    const char *path = tm_fuzz_put("compressed.frame", img, TM_FRAME_HDR_SIZE + c.len);
    char why[256];
    tm_frame_hdr back;
    /* a payload that compresses more than 256 times is refused as absurd */
    if (tm_frame_hdr_decode(img, &back, why, sizeof why)) {
        tm_buf raw = {0};
        int rc = read_frame(path, &back, &raw);
        TM_FUZZ_CHECK(rc == 0, "a frame just compressed does not read back (%d)", rc);
        TM_FUZZ_CHECK(bytes_eq(raw.p, raw.len, payload, len),
                      "a frame just compressed reads back different bytes");
        tm_buf_free(&raw);
    }
    free(img);
    tm_buf_free(&c);
}

static void fuzz_frame(uint8_t *img, size_t len, unsigned flags)
{
    if (flags & SEAL)
        tm_fuzz_seal_frames(img, len, 0);

    tm_change_decoder d;
    tm_change_decoder_init(&d);
    if (len >= TM_FRAME_HDR_SIZE) {
        tm_frame_hdr h;
        char why[256];
        if (tm_frame_hdr_decode(img, &h, why, sizeof why)) {
            uint8_t again[TM_FRAME_HDR_SIZE];
            tm_frame_hdr_encode(&h, again);
            TM_FUZZ_CHECK(!memcmp(again, img, TM_FRAME_HDR_SIZE),
                          "a frame header does not encode back to its bytes");
        }
        tm_buf raw = {0};
        if (read_frame(tm_fuzz_put("fuzz.frame", img, len), &h, &raw) == 0) {
            TM_FUZZ_CHECK(raw.len == h.raw_len, "read %zu bytes of a %u-byte payload", raw.len,
                          h.raw_len);
            check_records(&d, raw.p, raw.len);
        }
        tm_buf_free(&raw);
        check_records(&d, img + TM_FRAME_HDR_SIZE, len - TM_FRAME_HDR_SIZE);
        check_compress(img + TM_FRAME_HDR_SIZE, len - TM_FRAME_HDR_SIZE);
    } else {
        check_records(&d, img, len);
    }
    tm_change_decoder_free(&d);
}

TM_FUZZ_FLAGGED_TARGET(fuzz_frame)
