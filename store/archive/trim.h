/* Retention reaches the archive: after `tidemark prune` (or capture
 * --retention) moved the journal's retention horizon (DIR/horizon; never
 * the local horizon of --local-retention), the next archive pass removes
 * the archived files below it. Crash-safe order: the new horizon is
 * uploaded with the other files; then the files below it leave the state
 * (tm_archive_trim_state) and so the manifest, which readers trust, so no
 * reader is ever sent to a deleted object; only then are the objects
 * deleted (tm_archive_trim_store), and the state is saved last. A pass cut
 * short before that still has them in its state and does it all again. */
#ifndef TM_ARCHIVE_TRIM_H
#define TM_ARCHIVE_TRIM_H

#include "store/archive/push.h"

/* Drops from st the files below DIR's retention horizon: segments, their
 * indexes and key summaries numbered below its first segment, checkpoints
 * older than it. Returns how many, or -1 with err. */
long tm_archive_trim_state(const char *dir, tm_archive_state *st, tm_error *err);

/* Deletes every object under prefix that names a file below DIR's
 * retention horizon and that st no longer holds (one listing). Returns how
 * many were deleted, or -1 with err. */
long tm_archive_trim_store(tm_s3 *s3, const char *dir, const char *prefix,
                           const tm_archive_state *st, tm_error *err);

#endif
