/* Frames: the unit of compression, checksumming and skipping in a segment.
 * The on-disk layout is documented at the top of frame.c. */
#ifndef TM_FRAME_H
#define TM_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/fsutil.h"
#include "store/common/tm_error.h"

#define TM_FRAME_MAGIC "TMFR"
#define TM_FRAME_VERSION 1
/* Version 2: the flags name the payload's codec (TM_FRAME_CODEC_MASK).
 * Only compaction writes it, so a journal's live segment stays readable by
 * a tidemark that knows only LZ4, and one that meets a zstd frame says its
 * version is not supported instead of failing to decompress it. */
#define TM_FRAME_VERSION_CODEC 2
#define TM_FRAME_HDR_SIZE 72
/* LZ4's own limit on one block's input. */
#define TM_FRAME_MAX_RAW 0x7E000000u

/* Flags. */
#define TM_FRAME_TX_END                                                                            \
    0x1 /* ends at a safe cut point: not inside a transaction                                      \
           or a segment's schema preamble */
#define TM_FRAME_HAS_TX                                                                            \
    0x2                           /* holds records of a transaction: the LSN and time              \
                                     ranges are meaningful (all zero otherwise) */
#define TM_FRAME_HAS_RELATION 0x4 /* holds at least one Relation record */
/* The payload's codec (version 2 frames; version 1 frames are LZ4). */
#define TM_FRAME_CODEC_MASK 0x0300
#define TM_FRAME_CODEC_LZ4 0x0000
#define TM_FRAME_CODEC_ZSTD 0x0100
/* zstd levels compaction accepts. */
#define TM_ZSTD_LEVEL_MIN 1
#define TM_ZSTD_LEVEL_MAX 19

typedef struct tm_frame_hdr {
    uint16_t version, flags;
    uint32_t clen;                /* compressed payload bytes following the header */
    uint32_t raw_len;             /* payload bytes after decompression */
    uint32_t n_records;           /* records in the payload */
    uint32_t cont_records;        /* leading records continuing a transaction begun in an
                                     earlier frame */
    uint32_t payload_crc;         /* CRC32C of the compressed payload */
    uint64_t first_lsn, last_lsn; /* commit LSN range of its transactions */
    int64_t min_time, max_time;   /* commit time range of its transactions */
    uint64_t end_lsn;             /* end LSN of the last transaction with a record in it */
} tm_frame_hdr;

void tm_frame_hdr_encode(const tm_frame_hdr *h, unsigned char out[TM_FRAME_HDR_SIZE]);
/* Returns true when in is a well-formed header (magic, CRC, version, sane
 * lengths and ranges); otherwise false with a reason in why. */
bool tm_frame_hdr_decode(const unsigned char in[TM_FRAME_HDR_SIZE], tm_frame_hdr *h, char *why,
                         size_t whylen);
/* Whether buf (at least TM_FRAME_HDR_SIZE bytes) starts with the magic. */
bool tm_frame_has_magic(const unsigned char *buf);

/* The codec of a decoded header: TM_FRAME_CODEC_LZ4 or TM_FRAME_CODEC_ZSTD. */
static inline unsigned tm_frame_codec(const tm_frame_hdr *h)
{
    return h->version >= TM_FRAME_VERSION_CODEC ? (unsigned)(h->flags & TM_FRAME_CODEC_MASK)
                                                : TM_FRAME_CODEC_LZ4;
}

/* LZ4 of raw into out (replacing its content). */
int tm_frame_compress(const unsigned char *raw, size_t raw_len, tm_buf *out, tm_error *err);

/* A reusable zstd compression context (compaction; one per thread). */
typedef struct tm_zstd_enc tm_zstd_enc;
/* NULL with err when out of memory or level is out of range. */
tm_zstd_enc *tm_zstd_enc_new(int level, tm_error *err);
void tm_zstd_enc_free(tm_zstd_enc *z);
/* zstd of raw into out (replacing its content), with zstd's own content
 * checksum so that decoding checks the bytes too. */
int tm_frame_compress_zstd(tm_zstd_enc *z, const unsigned char *raw, size_t raw_len, tm_buf *out,
                           tm_error *err);

/* Reads the frame at off: header (compared with *expect when given),
 * payload, payload CRC, decode (LZ4 or zstd, as the header says) into raw (exactly raw_len bytes).
 * io is a reusable read buffer. Without expect, a payload longer than the rest of the file is
 * damage found before anything is allocated for it. Returns 0, 1 when the frame is damaged (why
 * says how), -1 on an I/O error (err). */
int tm_frame_read(int fd, uint64_t off, const tm_frame_hdr *expect, tm_frame_hdr *h, tm_buf *io,
                  tm_buf *raw, char *why, size_t whylen, tm_error *err);

/* Varints (protobuf base-128) as used for record lengths. */
#define TM_VARINT_MAX 10
size_t tm_varint_put(unsigned char *p, uint64_t v);
size_t tm_varint_get_any(const unsigned char *p, size_t len, uint64_t *v);
/* Returns the bytes consumed, or 0 when p[0..len) holds no valid varint.
 * (Record lengths take one or two bytes: those are read here.) */
static inline size_t tm_varint_get(const unsigned char *p, size_t len, uint64_t *v)
{
    if (len >= 1 && p[0] < 0x80) {
        *v = p[0];
        return 1;
    }
    if (len >= 2 && p[1] < 0x80) {
        *v = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
        return 2;
    }
    return tm_varint_get_any(p, len, v);
}

/* Says in why what is wrong with the record length at raw[pos]. */
void tm_frame_bad_record(const unsigned char *raw, size_t len, size_t pos, char *why,
                         size_t whylen);

/* Next record of a decoded payload: sets *rec and *rec_len and advances *pos.
 * Returns 1, 0 at the end, -1 when the length prefix is bad (why). */
static inline int tm_frame_next_record(const unsigned char *raw, size_t len, size_t *pos,
                                       const unsigned char **rec, size_t *rec_len, char *why,
                                       size_t whylen)
{
    if (*pos >= len)
        return 0;
    uint64_t n;
    size_t used = tm_varint_get(raw + *pos, len - *pos, &n);
    if (used == 0 || n > len - *pos - used) {
        tm_frame_bad_record(raw, len, *pos, why, whylen);
        return -1;
    }
    *rec = raw + *pos + used;
    *rec_len = (size_t)n;
    *pos += used + (size_t)n;
    return 1;
}

#endif
