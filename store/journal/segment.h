/* Segment files: naming, the file header, listing a journal's segments and
 * scanning a segment's frame headers (the frame directory). */
#ifndef TM_SEGMENT_H
#define TM_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/journal/frame.h"
#include "store/common/tm_error.h"

/*
 * Segment file header (version 1), little-endian, 32 bytes:
 *   0 magic "TMSG", 4 u16 version, 6 u16 header size (32),
 *   8 u64 segment number, 16 i64 creation time (us since the Unix epoch),
 *   24 u32 reserved (0), 28 u32 CRC32C of bytes 0..27.
 * Frames follow back to back from offset 32.
 */
#define TM_SEG_MAGIC "TMSG"
#define TM_SEG_VERSION 1
#define TM_SEG_HDR_SIZE 32
#define TM_SEG_NAME_LEN 21 /* 16 hex digits + ".seg" + NUL */

typedef struct tm_seg_hdr {
    uint64_t segno;
    int64_t created;
} tm_seg_hdr;

void tm_seg_hdr_encode(const tm_seg_hdr *h, unsigned char out[TM_SEG_HDR_SIZE]);
bool tm_seg_hdr_decode(const unsigned char in[TM_SEG_HDR_SIZE], tm_seg_hdr *h, char *why,
                       size_t whylen);

/* "%016llx.seg" / "%016llx.idx" */
char *tm_seg_name(uint64_t segno, char buf[TM_SEG_NAME_LEN]);
/* Whether name is 16 lower-case hex digits then exactly suffix (".seg",
 * ".idx", ".keys", ".ckpt", ...), as the journal names its files; the
 * number in *n when n is not NULL. */
bool tm_name_numbered(const char *name, const char *suffix, uint64_t *n);
/* Whether name is capture's spool of a transaction streamed while in
 * progress: "stream-<xid>.spool". */
bool tm_name_stream_spool(const char *name);
char *tm_idx_name(uint64_t segno, char buf[TM_SEG_NAME_LEN]);
/* DIR/name into buf (PATH_MAX); -1 with err when too long. */
int tm_seg_path(const char *dir, const char *name, char *buf, size_t len, tm_error *err);

/* Segment numbers present in dir, ascending (*segs malloc'd, may be NULL
 * when n == 0). -1 with err (TM_ERR_NOT_FOUND, TM_ERR_IO, ...) when dir
 * cannot be read. */
int tm_segment_list(const char *dir, uint64_t **segs, size_t *n, tm_error *err);

/* One frame of a segment's directory. */
typedef struct tm_frame_entry {
    uint64_t offset;
    tm_frame_hdr h;
} tm_frame_entry;

typedef struct tm_frame_dir {
    tm_frame_entry *v;
    size_t n, cap;
} tm_frame_dir;

int tm_frame_dir_push(tm_frame_dir *d, uint64_t offset, const tm_frame_hdr *h, tm_error *err);
void tm_frame_dir_free(tm_frame_dir *d);

static inline uint64_t tm_frame_end(const tm_frame_entry *e)
{
    return e->offset + TM_FRAME_HDR_SIZE + e->h.clen;
}

/* What scanning a segment found. Damage is reported, not an error: callers
 * decide (a torn tail of the last segment is recoverable, anything else is
 * not). */
typedef struct tm_seg_scan {
    uint64_t file_size;
    bool hdr_ok;
    tm_seg_hdr hdr;
    tm_frame_dir frames; /* the good frames before any damage, in order */
    uint64_t good_end;   /* end of the last good frame (header end; 0 if header bad) */
    size_t n_safe;       /* frames up to the last one with TX_END */
    uint64_t safe_end;   /* end of that frame (header end if none; 0 if header bad) */
    bool damaged;
    uint64_t bad_offset;
    char why[256];
    /* Damage with no valid frame header anywhere after it: what a crash in
     * the middle of a write leaves, as opposed to corruption of data that
     * was followed by more writes. */
    bool tail;
} tm_seg_scan;

/* Scans the frame headers of an open segment file (segno is what its name
 * says). With check_payloads every payload is read and its CRC checked;
 * otherwise payloads are seeked over. Returns 0 (see damaged), or -1 on an
 * I/O error. */
int tm_segment_scan(int fd, uint64_t segno, bool check_payloads, tm_seg_scan *out, tm_error *err);
/* The same, taking the frames of `known` (what a live index vouched for,
 * from the segment's first frame on; emptied) as found and scanning after
 * them. */
int tm_segment_scan_after(int fd, uint64_t segno, bool check_payloads, tm_frame_dir *known,
                          tm_seg_scan *s, tm_error *err);
void tm_seg_scan_free(tm_seg_scan *s);

/* Whether a well-formed frame header starts anywhere in (from, size). */
int tm_segment_valid_header_after(int fd, uint64_t from, uint64_t size, bool *found, tm_error *err);

#endif
