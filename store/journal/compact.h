/* Compaction: sealed segments rewritten with zstd into larger frames, off
 * capture's hot path (which keeps LZ4 at its fast level). The records, their
 * order and the frames' LSN and time ranges stay what they were; only the
 * codec and the frame boundaries change (a compacted frame is a run of
 * whole old frames, cut where an old frame ended a transaction).
 *
 * Crash-safe order for segment S (no reader ever sees a segment with an
 * index that is not its own):
 *   1. S.seg.tmp written, fsynced, then read back and decoded, each frame's
 *      bytes compared with what went in (CRC32C of the raw payload);
 *   2. S.idx removed (a sealed segment without an index is read by
 *      scanning its frame headers), directory fsynced;
 *   3. S.seg.tmp renamed over S.seg, directory fsynced;
 *   4. the new S.idx written (temporary name, fsync, rename, fsync);
 *   5. S.keys, whose frame offsets are gone, removed (tidemark checkpoint
 *      builds it again; a stale one is harmless: it names frames by offset
 *      and payload CRC, so none of them match), and a left-over live index
 *      S.lidx (checked against the frames on disk, so harmless too).
 * A kill anywhere leaves the old or the new segment, whole; running
 * compaction again finishes the job (an unindexed segment whose frames
 * are all zstd gets its index) and a left-over S.seg.tmp is replaced.
 *
 * Which segments: every one below the live (last) segment and below the
 * durable mark's segment (capture's recovery checks the mark's segment by
 * its size), at or above the retention horizon. One compaction per journal
 * at a time (DIR/compact.lock, flock). */
#ifndef TM_COMPACT_H
#define TM_COMPACT_H

#include <stdint.h>

#include "store/common/tm_error.h"

#define TM_COMPACT_LOCK "compact.lock"
#define TM_COMPACT_LEVEL 3
#define TM_COMPACT_FRAME (4u << 20)

typedef struct tm_compact_options {
    int level;             /* zstd level; 0: TM_COMPACT_LEVEL */
    uint32_t frame_target; /* raw bytes per compacted frame; 0: TM_COMPACT_FRAME */
} tm_compact_options;

typedef struct tm_compact_stats {
    uint64_t segments;                  /* compacted by this call */
    uint64_t already;                   /* sealed segments found compacted */
    uint64_t bytes_before, bytes_after; /* sizes of the segments compacted */
    uint64_t raw_bytes;                 /* their decoded payload bytes */
    uint64_t frames_before, frames_after;
} tm_compact_stats;

/* Compacts every sealed segment of journal dir that is not compacted yet
 * (see above). *st is filled also on failure (what was done before it).
 * Returns 0, or -1 with err: TM_ERR_CONFLICT when another compaction
 * holds the journal, TM_ERR_CORRUPT (naming the file) for a damaged
 * segment or index, left as it was, or the code of an I/O error. */
int tm_compact_journal(const char *dir, const tm_compact_options *o, tm_compact_stats *st,
                       tm_error *err);

#endif
