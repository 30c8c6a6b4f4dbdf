/* Checkpoints: the replay state of every table materialised at a commit
 * LSN, so that replay of a late point need not start at the base snapshot.
 *
 * DIR/checkpoints/<16 hex digits: LSN>.ckpt, one file each (0600, in a
 * 0700 directory), written to a temp file, fsynced, renamed, directory
 * fsynced. Layout (all integers little-endian):
 *
 *   header, 56 bytes: 0 magic "TMCK", 4 u16 version (1), 6 u16 header
 *     size (56), 8 u64 LSN (commit LSN of the last transaction applied),
 *     16 i64 max commit time of all transactions applied, 24 i64 commit
 *     time of the last one, 32 u64 frames, 40 u64 records, 48 u32
 *     reserved (0), 52 u32 CRC32C of bytes 0..51.
 *   then journal frames (frame.h: header, CRC32C, LZ4 payload of
 *     length-prefixed Records), in this order: every schema version of
 *     every table (Relation), each table's anomaly counters (a
 *     LogicalMessage with prefix TM_CKPT_STATS_PREFIX) and row count (one
 *     with TM_CKPT_ROWS_PREFIX: u32 oid, u64 rows, so that a loader sizes
 *     the table once; older checkpoints lack it), then one snapshot
 *     TxBegin (commit_lsn = LSN, commit_time = the max commit time) and,
 *     per table, a TRUNCATE and an INSERT for each row in the layout of
 *     the schema version that wrote it.
 *
 * A reader checks every CRC, the counts, the TxBegin against the header
 * and that the file ends after the last frame; anything else is damage.
 * Checkpoints are not written while a table is inside a gap, so one never
 * hides a gap (a Gap record after the LSN is still read from the journal). */
#ifndef TM_CHECKPOINT_H
#define TM_CHECKPOINT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/engine/state.h"
#include "store/common/tm_error.h"
#include "store/journal/verify.h"

#define TM_CKPT_DIR "checkpoints"
#define TM_CKPT_STATS_PREFIX "tidemark.checkpoint.stats"
#define TM_CKPT_ROWS_PREFIX "tidemark.checkpoint.rows"

typedef struct tm_ckpt {
    uint64_t lsn;
    int64_t max_time;  /* the latest commit time of all its transactions */
    int64_t last_time; /* the commit time of the transaction at lsn */
    bool ok;           /* the header is sound (else why says what is wrong) */
    char why[256];
    char path[PATH_MAX];
} tm_ckpt;

/* The checkpoints of journal dir, ascending by LSN (*out malloc'd; none:
 * NULL and 0; a missing checkpoints directory is none). Only headers are
 * read. -1 with err when the directory cannot be read. */
int tm_ckpt_list(const char *dir, tm_ckpt **out, size_t *n, tm_error *err);

/* Whether any table of s is inside a gap (then no checkpoint may be made). */
bool tm_ckpt_state_has_gap(const tm_state *s);

/* Writes the checkpoint of s at lsn (last_time: that transaction's commit
 * time; max_time: the latest of all applied) unless one exists already (*written
 * says which). -1 with err. */
int tm_ckpt_write(const char *dir, const tm_state *s, uint64_t lsn, int64_t last_time,
                  int64_t max_time, bool *written, tm_error *err);

/* Loads checkpoint c into s, which must be new (or reset). Returns 0, or
 * -1 with err: TM_ERR_CORRUPT (the file as context) when it is damaged,
 * the code of the I/O error (TM_ERR_NOT_FOUND when it is gone) when it
 * cannot be read. s is then partly loaded and must be reset before use. */
int tm_ckpt_load(const tm_ckpt *c, tm_state *s, tm_error *err);

/* tidemark verify's check of the checkpoint file at path
 * (DIR/checkpoints/<LSN>.ckpt): it is loaded whole, as replay would load
 * it, into a state of its own (then freed). Sound (what it holds), or
 * damaged with what is wrong and, for damage in its data, the offset of
 * the frame (a file that cannot be read is damage too). -1 with err only
 * when out of memory. */
int tm_ckpt_verify(const char *path, tm_vresult *res, tm_error *err);

#endif
