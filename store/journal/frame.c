/*
 * Frame format (version 1). All integers little-endian.
 *
 *   off size field
 *     0   4  magic "TMFR"
 *     4   2  format version (1: LZ4; 2: the codec is in the flags)
 *     6   2  flags: 1 TX_END, 2 HAS_TX, 4 HAS_RELATION (frame.h); in
 *            version 2, bits 8-9 the codec (0 LZ4, 1 zstd); other unknown
 *            bits are ignored by readers
 *     8   4  compressed payload length (bytes after the header)
 *    12   4  raw (decompressed) payload length
 *    16   4  record count
 *    20   4  continuation records: how many leading records belong to a
 *            transaction whose TxBegin is in an earlier frame
 *    24   8  first commit LSN  \  of the transactions having a record in
 *    32   8  last commit LSN    | this frame (TxBegin or member); all four
 *    40   8  min commit time    | are 0 when HAS_TX is clear (a frame of
 *    48   8  max commit time   /  standalone records only)
 *    56   8  end LSN of the last transaction having a record in this frame
 *    64   4  CRC32C of the compressed payload
 *    68   4  CRC32C of bytes 0..67 (this header)
 *    72      payload: LZ4 block (LZ4_compress_default), or in a compacted
 *            segment one zstd frame with its content checksum, of the
 *            records, each a varint length followed by a packed
 *            tidemark.Record
 *
 * A frame is cut when its raw payload reaches the writer's frame target or
 * at sync; one record larger than the target makes a frame on its own.
 * TX_END marks a frame that ends at a safe cut point (after a complete
 * transaction or a standalone record, never inside a transaction or a
 * segment's schema preamble): crash recovery truncates back to such a frame.
 * Readers skip frames by the header alone: LSN/time ranges say whether a
 * frame can matter, and continuation records let a reader that starts at a
 * frame drop the tail of a transaction it did not see begin.
 */
#include "store/journal/frame.h"

#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "store/common/crc32c.h"
#include "store/common/le.h"

void tm_frame_hdr_encode(const tm_frame_hdr *h, unsigned char out[TM_FRAME_HDR_SIZE])
{
    memcpy(out, TM_FRAME_MAGIC, 4);
    tm_put16(out + 4, h->version);
    tm_put16(out + 6, h->flags);
    tm_put32(out + 8, h->clen);
    tm_put32(out + 12, h->raw_len);
    tm_put32(out + 16, h->n_records);
    tm_put32(out + 20, h->cont_records);
    tm_put64(out + 24, h->first_lsn);
    tm_put64(out + 32, h->last_lsn);
    tm_put64(out + 40, (uint64_t)h->min_time);
    tm_put64(out + 48, (uint64_t)h->max_time);
    tm_put64(out + 56, h->end_lsn);
    tm_put32(out + 64, h->payload_crc);
    tm_put32(out + 68, tm_crc32c(0, out, 68));
}

bool tm_frame_has_magic(const unsigned char *buf)
{
    return memcmp(buf, TM_FRAME_MAGIC, 4) == 0;
}

bool tm_frame_hdr_decode(const unsigned char in[TM_FRAME_HDR_SIZE], tm_frame_hdr *h, char *why,
                         size_t whylen)
{
    if (!tm_frame_has_magic(in)) {
        snprintf(why, whylen, "no frame header here (bad magic)");
        return false;
    }
    if (tm_get32(in + 68) != tm_crc32c(0, in, 68)) {
        snprintf(why, whylen, "frame header checksum mismatch");
        return false;
    }
    h->version = tm_get16(in + 4);
    h->flags = tm_get16(in + 6);
    h->clen = tm_get32(in + 8);
    h->raw_len = tm_get32(in + 12);
    h->n_records = tm_get32(in + 16);
    h->cont_records = tm_get32(in + 20);
    h->first_lsn = tm_get64(in + 24);
    h->last_lsn = tm_get64(in + 32);
    h->min_time = (int64_t)tm_get64(in + 40);
    h->max_time = (int64_t)tm_get64(in + 48);
    h->end_lsn = tm_get64(in + 56);
    h->payload_crc = tm_get32(in + 64);
    if (h->version != TM_FRAME_VERSION && h->version != TM_FRAME_VERSION_CODEC) {
        snprintf(why, whylen,
                 "frame format version %u is not supported (this tidemark reads %d and %d)",
                 h->version, TM_FRAME_VERSION, TM_FRAME_VERSION_CODEC);
        return false;
    }
    unsigned codec = tm_frame_codec(h);
    if (codec != TM_FRAME_CODEC_LZ4 && codec != TM_FRAME_CODEC_ZSTD) {
        snprintf(why, whylen, "frame codec %u is not supported (this tidemark reads LZ4 and zstd)",
                 codec >> 8);
        return false;
    }
    /* A checksummed header can still be nonsense if it was written that way;
     * these bounds keep readers from allocating or decoding absurd sizes.
     * zstd packs a block of repeats into 4 bytes: 32768 to 1 at most. */
    bool zstd = codec == TM_FRAME_CODEC_ZSTD;
    uint64_t bound = zstd ? (uint64_t)ZSTD_compressBound(h->raw_len)
                          : (uint64_t)LZ4_compressBound((int)h->raw_len);
    uint64_t ratio = zstd ? 32768 : 256;
    if (h->n_records == 0 || h->raw_len == 0 || h->raw_len > TM_FRAME_MAX_RAW ||
        h->n_records > h->raw_len || h->cont_records > h->n_records || h->clen > bound ||
        (uint64_t)h->raw_len > (uint64_t)h->clen * ratio + 1024) {
        snprintf(why, whylen,
                 "frame header has impossible sizes (records %u, raw %u, compressed %u)",
                 h->n_records, h->raw_len, h->clen);
        return false;
    }
    if ((h->flags & TM_FRAME_HAS_TX) && (h->first_lsn > h->last_lsn || h->min_time > h->max_time)) {
        snprintf(why, whylen, "frame header has an inverted LSN or time range");
        return false;
    }
    return true;
}

int tm_frame_compress(const unsigned char *raw, size_t raw_len, tm_buf *out, tm_error *err)
{
    if (raw_len == 0 || raw_len > TM_FRAME_MAX_RAW) {
        tm_error_set(err, "frame of %zu bytes cannot be compressed (limit %u)", raw_len,
                     TM_FRAME_MAX_RAW);
        return -1;
    }
    out->len = 0;
    int bound = LZ4_compressBound((int)raw_len);
    if (tm_buf_reserve(out, (size_t)bound, err) != 0)
        return -1;
    int n = LZ4_compress_default((const char *)raw, (char *)out->p, (int)raw_len, bound);
    if (n <= 0) {
        tm_error_set(err, "LZ4 compression of a %zu-byte frame failed", raw_len);
        return -1;
    }
    out->len = (size_t)n;
    return 0;
}

struct tm_zstd_enc {
    ZSTD_CCtx *cctx;
};

tm_zstd_enc *tm_zstd_enc_new(int level, tm_error *err)
{
    if (level < TM_ZSTD_LEVEL_MIN || level > TM_ZSTD_LEVEL_MAX) {
        tm_error_setc(err, TM_ERR_USAGE, "zstd level %d is out of range (%d to %d)", level,
                      TM_ZSTD_LEVEL_MIN, TM_ZSTD_LEVEL_MAX);
        return NULL;
    }
    tm_zstd_enc *z = calloc(1, sizeof *z);
    if (z)
        z->cctx = ZSTD_createCCtx();
    if (!z || !z->cctx ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1))) {
        tm_zstd_enc_free(z);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory for a zstd compression context");
        return NULL;
    }
    return z;
}

void tm_zstd_enc_free(tm_zstd_enc *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->cctx);
    free(z);
}

int tm_frame_compress_zstd(tm_zstd_enc *z, const unsigned char *raw, size_t raw_len, tm_buf *out,
                           tm_error *err)
{
    if (raw_len == 0 || raw_len > TM_FRAME_MAX_RAW) {
        tm_error_set(err, "frame of %zu bytes cannot be compressed (limit %u)", raw_len,
                     TM_FRAME_MAX_RAW);
        return -1;
    }
    out->len = 0;
    size_t bound = ZSTD_compressBound(raw_len);
    if (tm_buf_reserve(out, bound, err) != 0)
        return -1;
    size_t n = ZSTD_compress2(z->cctx, out->p, bound, raw, raw_len);
    if (ZSTD_isError(n)) {
        tm_error_set(err, "zstd compression of a %zu-byte frame failed: %s", raw_len,
                     ZSTD_getErrorName(n));
        return -1;
    }
    out->len = n;
    return 0;
}

/* Decodes a payload whose CRC was checked; false when it does not decode
 * to exactly raw_len bytes. */
static bool decode(const tm_frame_hdr *h, const unsigned char *in, unsigned char *out)
{
    if (tm_frame_codec(h) == TM_FRAME_CODEC_ZSTD) {
        size_t n = ZSTD_decompress(out, h->raw_len, in, h->clen);
        return !ZSTD_isError(n) && n == h->raw_len;
    }
    int n = LZ4_decompress_safe((const char *)in, (char *)out, (int)h->clen, (int)h->raw_len);
    return n >= 0 && (uint32_t)n == h->raw_len;
}

int tm_frame_read(int fd, uint64_t off, const tm_frame_hdr *expect, tm_frame_hdr *h, tm_buf *io,
                  tm_buf *raw, char *why, size_t whylen, tm_error *err)
{
    unsigned char hb[TM_FRAME_HDR_SIZE];
    ssize_t r = tm_pread_full(fd, hb, sizeof hb, off, "segment", err);
    if (r < 0)
        return -1;
    if (r < TM_FRAME_HDR_SIZE) {
        snprintf(why, whylen, "frame header cut short by the end of the file");
        return 1;
    }
    if (!tm_frame_hdr_decode(hb, h, why, whylen))
        return 1;
    if (expect) {
        unsigned char eb[TM_FRAME_HDR_SIZE];
        tm_frame_hdr_encode(expect, eb);
        if (memcmp(eb, hb, sizeof hb) != 0) {
            snprintf(why, whylen, "frame header differs from the segment index");
            return 1;
        }
    }
    if (!expect) {
        /* Nothing vouches for clen (a scan or an index does for the
         * others): a header claiming more than the file holds must not
         * size an allocation. */
        struct stat st;
        if (fstat(fd, &st) != 0) {
            tm_error_errno(err, "cannot stat the file of a frame");
            return -1;
        }
        uint64_t have = (uint64_t)st.st_size > off + TM_FRAME_HDR_SIZE
                            ? (uint64_t)st.st_size - off - TM_FRAME_HDR_SIZE
                            : 0;
        if (have < h->clen) {
            snprintf(why, whylen,
                     "frame payload cut short by the end of the file (%llu of %u bytes)",
                     (unsigned long long)have, h->clen);
            return 1;
        }
    }
    io->len = 0;
    if (tm_buf_reserve(io, h->clen, err) != 0)
        return -1;
    r = tm_pread_full(fd, io->p, h->clen, off + TM_FRAME_HDR_SIZE, "segment", err);
    if (r < 0)
        return -1;
    if ((size_t)r < h->clen) {
        snprintf(why, whylen, "frame payload cut short by the end of the file (%zd of %u bytes)", r,
                 h->clen);
        return 1;
    }
    if (tm_crc32c(0, io->p, h->clen) != h->payload_crc) {
        snprintf(why, whylen, "frame payload checksum mismatch");
        return 1;
    }
    raw->len = 0;
    if (tm_buf_reserve(raw, h->raw_len, err) != 0)
        return -1;
    if (!decode(h, io->p, raw->p)) {
        snprintf(why, whylen, "frame payload does not decompress to its %u bytes", h->raw_len);
        return 1;
    }
    raw->len = h->raw_len;
    return 0;
}

size_t tm_varint_put(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

size_t tm_varint_get_any(const unsigned char *p, size_t len, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < len && i < TM_VARINT_MAX; i++) {
        uint64_t b = p[i] & 0x7f;
        if (i == 9 && b > 1) /* the tenth byte may only hold bit 63 */
            return 0;
        x |= b << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

void tm_frame_bad_record(const unsigned char *raw, size_t len, size_t pos, char *why, size_t whylen)
{
    uint64_t n;
    if (tm_varint_get_any(raw + pos, len - pos, &n) == 0)
        snprintf(why, whylen, "bad record length at payload byte %zu", pos);
    else
        snprintf(why, whylen, "record length %llu at payload byte %zu runs past the frame",
                 (unsigned long long)n, pos);
}
