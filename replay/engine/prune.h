/* Retention: removes the journal's history before a time, keeping a
 * checkpoint as the new start (store/journal/horizon.h).
 *
 * The horizon is the newest sound checkpoint whose transactions all
 * committed at or before the time asked for. The first segment kept is the
 * one where the reader, seeking past that checkpoint, finds its first
 * record (never the last segment or a later one). In this order, each step
 * durable before the next:
 *   1. the checkpoint is loaded whole and checked, as replay would load it;
 *   2. DIR/horizon is written (temp file, fsync, rename, fsync dir): from
 *      here on every reader starts at the checkpoint and ignores the
 *      segments below the first kept one, so what follows only frees space;
 *   3. per segment below it, oldest first: its key summary, its index,
 *      then the segment itself; then the checkpoints older than the
 *      horizon's; the directories are fsynced.
 * A kill anywhere leaves either the old journal (before 2) or the pruned
 * one with some dead files that the next prune removes (after 2); both
 * are readable, and replay and log after the horizon give the same bytes.
 * Running it again with the same time finishes an interrupted prune. */
#ifndef TM_PRUNE_H
#define TM_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/common/tm_error.h"
#include "store/journal/horizon.h"

typedef struct tm_prune_report {
    bool have_horizon; /* the journal has a horizon after the run (or would) */
    bool moved;        /* the horizon moved (or would, with dry_run) */
    tm_horizon horizon;
    uint64_t segments, checkpoints, bytes; /* removed (or to remove) */
} tm_prune_report;

/* Prunes journal dir to the newest checkpoint at or before time `before`
 * (us since the Unix epoch). dry_run: only says what it would do. -1 with
 * err when the journal cannot be read or a file cannot be removed. */
int tm_prune(const char *dir, int64_t before, bool dry_run, tm_prune_report *rep, tm_error *err);

/* Whether the archive holds a checked copy of DIR/name as it is now. */
typedef bool (*tm_prune_archived_fn)(void *ctx, const char *name);

/* Local retention of an archived journal (capture --local-retention): the
 * same choice of a checkpoint, but the history stays in the archive. It
 * writes DIR/local.horizon (TM_LOCAL_HORIZON_FILE; not archived, so the
 * archive's readers still see everything) instead of DIR/horizon, then
 * removes, oldest first, only files archived says the archive holds: the
 * first segment with a file it lacks stops the removal of segments (they
 * stay, ignored by local readers, and go on a later run); a checkpoint it
 * lacks stays. The same order and crash safety as tm_prune. */
int tm_prune_local(const char *dir, int64_t before, bool dry_run, tm_prune_archived_fn archived,
                   void *ctx, tm_prune_report *rep, tm_error *err);

#endif
