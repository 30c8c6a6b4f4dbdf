/* The index of a sealed segment: DIR/NNNN.idx, its frame directory, so that
 * readers find frames without touching the segment. Its presence marks the
 * segment sealed (no more appends).
 *
 * Layout (version 1), little-endian:
 *   0 magic "TMIX", 4 u16 version, 6 u16 entry size (80),
 *   8 u64 segment number, 16 u64 segment file size, 24 u32 frame count,
 *   28 u32 reserved (0),
 *   32 entries: u64 frame offset + the frame's 72-byte header as on disk,
 *   then u32 CRC32C of everything before it.
 */
#ifndef TM_SEG_INDEX_H
#define TM_SEG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "store/journal/segment.h"

enum { TM_IDX_OK = 0, TM_IDX_ABSENT = 1, TM_IDX_BAD = 2 };

/* Writes the index atomically (temp, fsync, rename, fsync dir). */
int tm_index_write(const char *dir, uint64_t segno, uint64_t seg_size, const tm_frame_dir *d,
                   tm_error *err);

/* Loads DIR/NNNN.idx into out (emptied first) when it is well formed and
 * describes a segment of seg_size bytes. Returns TM_IDX_OK, TM_IDX_ABSENT,
 * TM_IDX_BAD (why says what is wrong), or -1 on an I/O error. */
int tm_index_read(const char *dir, uint64_t segno, uint64_t seg_size, tm_frame_dir *out, char *why,
                  size_t whylen, tm_error *err);

/* The segment size a sound index of segment segno records, 0 when it has
 * none: a segment shorter than that lost its end, even when it ends at a
 * frame boundary. */
uint64_t tm_index_seg_size(const char *dir, uint64_t segno);

#endif
