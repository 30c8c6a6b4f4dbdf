/* The live segment's frame index: DIR/NNNN.lidx, so that a reader of the
 * segment being appended to finds its frames without reading every frame
 * header (one pread each). The writer appends an entry per frame after the
 * fsync that made the frame durable (one write per sync, nothing per
 * record); at sealing the sealed index (seg_index.h) replaces it.
 *
 * It is a cache, trusted only as far as it checks out: each entry carries
 * its own CRC and must start where the previous frame ended; the file names
 * the segment's number and creation time, which must match the segment's
 * header; and the last entry used must equal the frame header on disk.
 * A torn append, a file of another incarnation of the segment or one that
 * describes bytes the segment no longer holds is used up to where it
 * agrees, or not at all; the reader scans the headers after it. When
 * recovery cuts the segment, the writer replaces the file (temp, fsync,
 * rename) before anything new is appended.
 *
 * Layout (version 1), little-endian:
 *   0 magic "TMLX", 4 u16 version, 6 u16 entry size (84), 8 u64 segment
 *   number, 16 i64 segment creation time, 24 u32 0, 28 u32 CRC32C of 0..27;
 *   then entries: u64 frame offset, the frame's 72-byte header as on disk,
 *   u32 CRC32C of those 80 bytes. */
#ifndef TM_LIVE_INDEX_H
#define TM_LIVE_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "store/journal/segment.h"

#define TM_LIDX_NAME_LEN 22 /* 16 hex digits + ".lidx" + NUL */

char *tm_lidx_name(uint64_t segno, char buf[TM_LIDX_NAME_LEN]);

/* The writer's side: the open file and how many frames of the segment's
 * directory it holds. fd < 0: none (appends are no-ops). */
typedef struct tm_lidx {
    int fd;
    bool active; /* segno's file was started */
    uint64_t segno;
    size_t n;
    tm_buf buf; /* entries being appended, reused */
} tm_lidx;

/* Replaces DIR/NNNN.lidx with one holding the frames of d (temp file,
 * fsync, rename, fsync of DIR) and keeps it open for appends. */
int tm_lidx_start(tm_lidx *li, const char *dir, uint64_t segno, int64_t created,
                  const tm_frame_dir *d, tm_error *err);
/* Appends the frames of d it does not hold yet (they must be durable).
 * A failed write leaves a file the reader uses up to the damage: the cache
 * is then given up (fd closed), never the writer. */
void tm_lidx_append(tm_lidx *li, const tm_frame_dir *d);
/* Closes it; with remove, also unlinks it (the segment was sealed). Also
 * for one never started or given up. */
void tm_lidx_stop(tm_lidx *li, const char *dir, bool remove);

/* The reader's side: the frames of the open segment seg_fd (of seg_size
 * bytes) that DIR/NNNN.lidx vouches for, into out (emptied first): 0 when
 * there is no usable file, or the count. -1 with err only on an I/O error
 * reading the segment or out of memory. */
int tm_lidx_load(const char *dir, uint64_t segno, int seg_fd, uint64_t seg_size, tm_frame_dir *out,
                 tm_error *err);

#endif
