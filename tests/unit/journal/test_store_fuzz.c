/* Fuzz-style robustness: random and mutated segment and index bytes
 * (bit flips, overwrites, truncation, splices, random files, and frames
 * re-sealed with valid checksums around garbage so that LZ4 decoding,
 * record lengths and protobuf unpacking see it) fed to the reader, seeks,
 * verify and writer recovery. Nothing may crash or read out of bounds (the
 * ASan build checks the latter); and a journal verify calls sound must read
 * without error. Bounded by an iteration count and a time budget. */
#include <check.h>
#include <lz4.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/common/crc32c.h"
#include "store/journal/frame.h"
#include "store/journal/journal.h"
#include "store/journal/record_decode.h"
#include "store/common/le.h"
#include "store/journal/segment.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

#define NFILES 5 /* seg1 idx1 seg2 idx2 seg3 */
#define ITERATIONS 3000
#define BUDGET_SECONDS 45

typedef struct file {
    char *path;
    unsigned char *data;
    size_t len;
} file;

static file base[NFILES];

static void load_base(const char *dir)
{
    for (int i = 0; i < NFILES; i++) {
        uint64_t segno = (uint64_t)i / 2 + 1;
        base[i].path = i % 2 ? tmt_idx_path(dir, segno) : tmt_seg_path(dir, segno);
        base[i].data = tmt_slurp(base[i].path, &base[i].len);
    }
}

/* Offsets of the frames of a (valid) segment image. */
static size_t frame_offsets(const file *f, uint64_t *offs, size_t max)
{
    size_t n = 0;
    uint64_t off = TM_SEG_HDR_SIZE;
    while (off + TM_FRAME_HDR_SIZE <= f->len && n < max) {
        tm_frame_hdr h;
        char why[128];
        if (!tm_frame_hdr_decode(f->data + off, &h, why, sizeof why))
            break;
        offs[n++] = off;
        off += TM_FRAME_HDR_SIZE + h.clen;
    }
    return n;
}

/* Replaces frame k of segment image f by header h and payload p (CRCs made
 * valid), returning a new image. */
static unsigned char *splice_frame(const file *f, uint64_t off, tm_frame_hdr *h,
                                   const unsigned char *payload, size_t plen, size_t *outlen)
{
    tm_frame_hdr old;
    char why[128];
    ck_assert(tm_frame_hdr_decode(f->data + off, &old, why, sizeof why));
    size_t tail = off + TM_FRAME_HDR_SIZE + old.clen;
    *outlen = off + TM_FRAME_HDR_SIZE + plen + (f->len - tail);
    unsigned char *b = malloc(*outlen);
    memcpy(b, f->data, off);
    h->clen = (uint32_t)plen;
    h->payload_crc = tm_crc32c(0, payload, plen);
    tm_frame_hdr_encode(h, b + off);
    memcpy(b + off + TM_FRAME_HDR_SIZE, payload, plen);
    memcpy(b + off + TM_FRAME_HDR_SIZE + plen, f->data + tail, f->len - tail);
    return b;
}

static unsigned char *mutate_valid_frame(tmt_rng *r, const file *f, size_t *outlen)
{
    uint64_t offs[256];
    size_t n = frame_offsets(f, offs, 256);
    if (n == 0)
        return NULL;
    uint64_t off = offs[tmt_below(r, n)];
    tm_frame_hdr h;
    tm_buf io = {0}, raw = {0};
    char why[128];
    tm_error err;
    ck_assert(tm_frame_hdr_decode(f->data + off, &h, why, sizeof why));
    ck_assert(tm_buf_reserve(&io, h.clen, &err) == 0 && tm_buf_reserve(&raw, h.raw_len, &err) == 0);
    io.len = h.clen;
    memcpy(io.p, f->data + off + TM_FRAME_HDR_SIZE, h.clen);
    ck_assert(LZ4_decompress_safe((const char *)io.p, (char *)raw.p, (int)h.clen, (int)h.raw_len) ==
              (int)h.raw_len);
    raw.len = h.raw_len;
    unsigned char *out = NULL;
    uint64_t mode = tmt_below(r, 4);
    if (mode == 0) {
        /* garbage inside a well-formed LZ4 block: record lengths and protobuf */
        size_t flips = 1 + tmt_below(r, 6);
        for (size_t i = 0; i < flips; i++)
            raw.p[tmt_below(r, raw.len)] ^= (unsigned char)(1u << tmt_below(r, 8));
        if (tmt_below(r, 3) == 0)
            raw.len = tmt_below(r, raw.len) + 1;
        if (tmt_below(r, 4) == 0)
            h.n_records = (uint32_t)(1 + tmt_below(r, raw.len));
        tm_buf c = {0};
        ck_assert(tm_frame_compress(raw.p, raw.len, &c, &err) == 0);
        h.raw_len = (uint32_t)raw.len;
        if (h.cont_records > h.n_records)
            h.cont_records = h.n_records;
        out = splice_frame(f, off, &h, c.p, c.len, outlen);
        tm_buf_free(&c);
    } else if (mode == 1) {
        /* a payload that is not LZ4 at all, or damaged LZ4, with a valid CRC */
        size_t plen = tmt_below(r, 2) ? io.len : 1 + tmt_below(r, 2 * io.len);
        unsigned char *p = malloc(plen);
        for (size_t i = 0; i < plen; i++)
            p[i] = i < io.len && tmt_below(r, 8) ? io.p[i] : (unsigned char)tmt_rand(r);
        out = splice_frame(f, off, &h, p, plen, outlen);
        free(p);
    } else {
        /* forged header fields with a valid header CRC */
        switch (tmt_below(r, 6)) {
        case 0:
            h.raw_len = (uint32_t)tmt_rand(r);
            break;
        case 1:
            h.n_records = (uint32_t)tmt_below(r, h.raw_len + 2);
            break;
        case 2:
            h.cont_records = (uint32_t)tmt_below(r, h.n_records + 2);
            break;
        case 3:
            h.flags = (uint16_t)tmt_rand(r);
            break;
        case 4:
            h.first_lsn = tmt_rand(r);
            h.max_time = (int64_t)tmt_rand(r);
            break;
        default:
            h.raw_len = h.raw_len + (uint32_t)tmt_below(r, 64) - 32;
        }
        out = splice_frame(f, off, &h, io.p, io.len, outlen);
    }
    tm_buf_free(&io);
    tm_buf_free(&raw);
    return out;
}

static unsigned char *mutate_bytes(tmt_rng *r, const file *f, size_t *outlen)
{
    size_t len = f->len;
    unsigned char *b = malloc(len + 70000);
    memcpy(b, f->data, len);
    switch (tmt_below(r, 6)) {
    case 0: /* bit flips */
        for (uint64_t i = 0, n = 1 + tmt_below(r, 8); i < n && len; i++)
            b[tmt_below(r, len)] ^= (unsigned char)(1u << tmt_below(r, 8));
        break;
    case 1: /* overwrite a run */
        if (len) {
            size_t at = tmt_below(r, len), n = 1 + tmt_below(r, 300);
            for (size_t i = at; i < at + n && i < len; i++)
                b[i] = (unsigned char)tmt_rand(r);
        }
        break;
    case 2: /* truncate */
        len = tmt_below(r, len + 1);
        break;
    case 3: { /* insert random bytes */
        size_t at = tmt_below(r, len + 1), n = 1 + tmt_below(r, 2000);
        memmove(b + at + n, b + at, len - at);
        for (size_t i = 0; i < n; i++)
            b[at + i] = (unsigned char)tmt_rand(r);
        len += n;
        break;
    }
    case 4: { /* delete a chunk */
        if (len) {
            size_t at = tmt_below(r, len), n = 1 + tmt_below(r, len - at);
            memmove(b + at, b + at + n, len - at - n);
            len -= n;
        }
        break;
    }
    default: /* a random file, sometimes wearing a valid-looking start */
        len = tmt_below(r, 65000);
        for (size_t i = 0; i < len; i++)
            b[i] = (unsigned char)tmt_rand(r);
        if (len >= 4 && tmt_below(r, 2))
            memcpy(b, f->len >= 4 ? f->data : (const unsigned char *)"TMSG", 4);
        if (len >= TM_SEG_HDR_SIZE + 4 && tmt_below(r, 2)) {
            memcpy(b, f->data, f->len < TM_SEG_HDR_SIZE ? f->len : TM_SEG_HDR_SIZE);
            memcpy(b + TM_SEG_HDR_SIZE, "TMFR", 4);
        }
    }
    *outlen = len;
    return b;
}

/* Reads as far as the reader goes; returns its last result. */
static int drain(tm_reader *rd, size_t *n, tm_error *err)
{
    const Tidemark__Record *rec;
    int rc;
    *n = 0;
    while ((rc = tm_reader_next(rd, &rec, err)) == 1) {
        (*n)++;
        /* touch what was delivered so that ASan sees bad pointers */
        if (rec->body_case == TIDEMARK__RECORD__BODY_CHANGE && rec->change->new_tuple &&
            rec->change->new_tuple->has_data && rec->change->new_tuple->data.len)
            (void)*(volatile unsigned char *)&rec->change->new_tuple->data
                .data[rec->change->new_tuple->data.len - 1];
    }
    if (rc < 0)
        ck_assert(strstr(err->msg, "journal ")); /* an error always says where */
    return rc;
}

START_TEST(fuzz_segments)
{
    char *dir = tmt_tempdir();
    tmt_rng r = {51};
    tmt_stream s;
    tmt_stream_init(&s, INT64_C(1767225600000000));
    tm_writer_options o = {.segment_size = 6000, .frame_target = 1024};
    tm_writer *w;
    tm_error err;
    ck_assert(tm_writer_open(dir, &o, &w, &err) == 0);
    char *seg3 = tmt_seg_path(dir, 3);
    for (int i = 0; i < 60 && access(seg3, F_OK) != 0; i++) {
        if (i % 7 == 0)
            tmt_put_standalone(w, &s, &r);
        tmt_put_tx(w, &s, &r, (unsigned)tmt_below(&r, 12), 120);
    }
    ck_assert(tm_writer_close(w, &err) == 0);
    ck_assert_msg(access(seg3, F_OK) == 0, "base journal too small");
    free(seg3);
    load_base(dir);
    for (int i = 0; i < NFILES; i++)
        ck_assert(base[i].len > 0);

    FILE *devnull = fopen("/dev/null", "w");
    time_t start = time(NULL);
    int it, sound = 0, read_errors = 0;
    for (it = 0; it < ITERATIONS && time(NULL) - start < BUDGET_SECONDS; it++) {
        for (int i = 0; i < NFILES; i++)
            tmt_spit(base[i].path, base[i].data, base[i].len);
        /* one or two files mutated */
        for (uint64_t m = 0, nm = 1 + tmt_below(&r, 2); m < nm; m++) {
            int k = (int)tmt_below(&r, NFILES);
            size_t len;
            unsigned char *b = k % 2 == 0 && tmt_below(&r, 3) == 0
                                   ? mutate_valid_frame(&r, &base[k], &len)
                                   : mutate_bytes(&r, &base[k], &len);
            if (b) {
                tmt_spit(base[k].path, b, len);
                free(b);
            }
        }
        int vrc = tm_verify(dir, devnull, NULL, &err);
        tm_reader *rd;
        ck_assert(tm_reader_open(dir, &rd, &err) == 0);
        size_t n;
        int rrc = drain(rd, &n, &err);
        if (vrc == 0)
            ck_assert_msg(rrc == 0,
                          "iteration %d: verify found the journal sound, the reader "
                          "failed: %s",
                          it, err.msg);
        sound += vrc == 0;
        read_errors += rrc < 0;
        /* seeks and a time limit over the damaged journal */
        const tmt_rec *t = &s.v[tmt_below(&r, s.n)];
        if (tm_reader_seek_lsn(rd, t->lsn + tmt_below(&r, 3) - 1, &err) == 0)
            drain(rd, &n, &err);
        tm_reader_set_time_limit(rd, t->time);
        if (tm_reader_seek_time(rd, t->time - (int64_t)tmt_below(&r, 5000000), &err) == 0)
            drain(rd, &n, &err);
        tm_reader_close(rd);
        if (it % 4 == 0) { /* recovery writes: only now and then */
            tm_writer_options q = {.frame_target = 1024};
            if (tm_writer_open(dir, &q, &w, &err) == 0) {
                tmt_put_tx(w, &s, &r, 2, 30);
                ck_assert(tm_writer_close(w, &err) == 0);
                ck_assert(tm_reader_open(dir, &rd, &err) == 0);
                drain(rd, &n, &err);
                tm_reader_close(rd);
            }
            /* that journal is thrown away; the expected stream is not used
             * for comparison here */
        }
    }
    fclose(devnull);
    /* The budget must allow a real run, and the mutations must have hit
     * both outcomes. */
    ck_assert_msg(it >= 1000, "only %d iterations in the time budget", it);
    ck_assert_msg(sound > 0 && read_errors > 0, "sound %d, read errors %d in %d", sound,
                  read_errors, it);
    for (int i = 0; i < NFILES; i++) {
        free(base[i].path);
        free(base[i].data);
    }
    tmt_stream_free(&s);
    tmt_tempdir_remove(dir);
}
END_TEST

/* Varints and frame headers on their own: every prefix of every buffer. */
START_TEST(fuzz_small_decoders)
{
    tmt_rng r = {52};
    unsigned char buf[TM_FRAME_HDR_SIZE + 16];
    for (int it = 0; it < 200000; it++) {
        size_t len = tmt_below(&r, sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = tmt_below(&r, 3) ? 0xff : (unsigned char)tmt_rand(&r);
        uint64_t v;
        size_t used = tm_varint_get(buf, len, &v);
        ck_assert(used <= len && used <= TM_VARINT_MAX);
        if (used) {
            unsigned char again[TM_VARINT_MAX];
            size_t n = tm_varint_put(again, v);
            ck_assert(n <= used); /* over-long encodings decode, re-encode shorter */
        }
        size_t pos = 0, rl;
        const unsigned char *rp;
        char why[128];
        while (tm_frame_next_record(buf, len, &pos, &rp, &rl, why, sizeof why) == 1)
            ck_assert(rp >= buf && rp + rl <= buf + len);
        if (len == sizeof buf) {
            tm_frame_hdr h;
            tm_frame_hdr_decode(buf, &h, why, sizeof why);
        }
    }
    /* varint round trip at the edges */
    uint64_t edge[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX / 2, UINT64_MAX};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        unsigned char b[TM_VARINT_MAX];
        size_t n = tm_varint_put(b, edge[i]);
        uint64_t v;
        ck_assert_uint_eq(tm_varint_get(b, n, &v), n);
        ck_assert_uint_eq(v, edge[i]);
        ck_assert_uint_eq(tm_varint_get(b, n - 1, &v), 0); /* cut short */
    }
    unsigned char over[11];
    memset(over, 0x80, sizeof over);
    uint64_t v;
    ck_assert_uint_eq(tm_varint_get(over, sizeof over, &v), 0); /* never ends */
    memset(over, 0xff, 9);
    over[9] = 0x02; /* bit 64 */
    ck_assert_uint_eq(tm_varint_get(over, 10, &v), 0);
}
END_TEST

/* tm_begin_decode reads a TxBegin record as protobuf-c does, or declines:
 * random transactions (every field optional, origin strings, values at
 * the edges of their types), then damaged and non-canonical copies. */
START_TEST(begin_decoder_matches_protobuf)
{
    tmt_rng r = {91};
    unsigned char buf[256];
    int fast = 0;
    for (int it = 0; it < 100000; it++) {
        Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
        Tidemark__Record rec = TIDEMARK__RECORD__INIT;
        static const uint64_t edge[] = {0,         1, 127, 128, UINT32_MAX, (uint64_t)INT64_MAX + 1,
                                        UINT64_MAX};
        uint64_t pick[9];
        for (int i = 0; i < 9; i++)
            pick[i] = tmt_below(&r, 2) ? tmt_rand(&r) >> tmt_below(&r, 64) : edge[tmt_below(&r, 7)];
        b.has_xid = tmt_below(&r, 2), b.xid = (uint32_t)pick[0];
        b.has_commit_lsn = tmt_below(&r, 4) != 0, b.commit_lsn = pick[1];
        b.has_end_lsn = tmt_below(&r, 2), b.end_lsn = pick[2];
        b.has_commit_time = tmt_below(&r, 4) != 0, b.commit_time = (int64_t)pick[3];
        b.origin = tmt_below(&r, 10) == 0 ? "origin" : NULL;
        b.has_origin_lsn = tmt_below(&r, 5) == 0, b.origin_lsn = pick[5];
        b.has_n_records = tmt_below(&r, 4) != 0, b.n_records = pick[6];
        b.has_snapshot = tmt_below(&r, 3) == 0, b.snapshot = tmt_below(&r, 2);
        b.has_large_change_rows = tmt_below(&r, 5) == 0, b.large_change_rows = (uint32_t)pick[8];
        rec.body_case = TIDEMARK__RECORD__BODY_BEGIN;
        rec.begin = &b;
        size_t len = tidemark__record__pack(&rec, buf);
        switch (it % 4) { /* 0: as written */
        case 1:           /* a flipped byte */
            buf[tmt_below(&r, len)] ^= (unsigned char)(1 + tmt_below(&r, 255));
            break;
        case 2: /* cut short */
            len = tmt_below(&r, len);
            break;
        case 3: /* the commit LSN once more (protobuf-c: the last wins) */
            if (len + 12 < sizeof buf && buf[1] < 0x70) {
                buf[len++] = 2 << 3;
                len += tm_varint_put(buf + len, tmt_rand(&r));
                buf[1] = (unsigned char)(len - 2);
            }
            break;
        default:
            break;
        }
        Tidemark__Record got;
        Tidemark__TxBegin gb;
        bool ok = tm_begin_decode(buf, len, &got, &gb);
        Tidemark__Record *ref = tidemark__record__unpack(NULL, len, buf);
        if (it % 4 == 0)
            ck_assert_msg(ok == !b.origin,
                          "a TxBegin as written is read here (origin: protobuf-c)");
        if (ok) {
            fast++;
            ck_assert_ptr_nonnull(ref);
            ck_assert_int_eq(ref->body_case, TIDEMARK__RECORD__BODY_BEGIN);
            ck_assert_int_eq(got.body_case, TIDEMARK__RECORD__BODY_BEGIN);
            ck_assert_ptr_eq(got.begin, &gb);
            const Tidemark__TxBegin *w = ref->begin;
            ck_assert_ptr_null(w->origin);
            ck_assert_int_eq(gb.has_xid, w->has_xid);
            ck_assert_uint_eq(gb.xid, w->xid);
            ck_assert_int_eq(gb.has_commit_lsn, w->has_commit_lsn);
            ck_assert_uint_eq(gb.commit_lsn, w->commit_lsn);
            ck_assert_int_eq(gb.has_end_lsn, w->has_end_lsn);
            ck_assert_uint_eq(gb.end_lsn, w->end_lsn);
            ck_assert_int_eq(gb.has_commit_time, w->has_commit_time);
            ck_assert_int_eq(gb.commit_time, w->commit_time);
            ck_assert_int_eq(gb.has_origin_lsn, w->has_origin_lsn);
            ck_assert_uint_eq(gb.origin_lsn, w->origin_lsn);
            ck_assert_int_eq(gb.has_n_records, w->has_n_records);
            ck_assert_uint_eq(gb.n_records, w->n_records);
            ck_assert_int_eq(gb.has_snapshot, w->has_snapshot);
            ck_assert_int_eq(gb.snapshot, w->snapshot);
            ck_assert_int_eq(gb.has_large_change_rows, w->has_large_change_rows);
            ck_assert_uint_eq(gb.large_change_rows, w->large_change_rows);
        }
        if (ref)
            tidemark__record__free_unpacked(ref, NULL);
    }
    ck_assert_int_gt(fast, 30000);
}
END_TEST

/* Every single-bit flip of a frame header is caught by its CRC. */
START_TEST(header_bit_flips)
{
    tm_frame_hdr h = {.version = 1,
                      .flags = 3,
                      .clen = 100,
                      .raw_len = 300,
                      .n_records = 4,
                      .cont_records = 1,
                      .payload_crc = 0xdeadbeef,
                      .first_lsn = 10,
                      .last_lsn = 20,
                      .min_time = 5,
                      .max_time = 6,
                      .end_lsn = 30};
    unsigned char b[TM_FRAME_HDR_SIZE];
    tm_frame_hdr_encode(&h, b);
    tm_frame_hdr back;
    char why[128];
    ck_assert(tm_frame_hdr_decode(b, &back, why, sizeof why));
    ck_assert(memcmp(&back, &h, sizeof h) == 0);
    for (size_t bit = 0; bit < 8 * sizeof b; bit++) {
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        ck_assert_msg(!tm_frame_hdr_decode(b, &back, why, sizeof why), "bit %zu", bit);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
}
END_TEST

int main(void)
{
    return tm_check_main("store_fuzz", "core", 200,
                         TM_TESTS(fuzz_segments, fuzz_small_decoders,
                                  begin_decoder_matches_protobuf, header_bit_flips));
}
