/* Reading a journal with key summaries (keysum.h): a frame filter for the
 * reader that reads the frames a summary does not cover (and indexes them
 * as they go by, so the summary grows), and for covered frames asks the
 * caller whether it wants them; summaries that grew are saved when the
 * reader leaves their segment and at the end.
 *
 *   tm_keyscan *ks = tm_keyscan_new(dir, reader, schema, want, ctx, &err);
 *   while ((rc = tm_reader_next(reader, &rec, &err)) == 1) {
 *       (add Relations to schema first)
 *       tm_keyscan_record(ks, rec, &err);
 *       ...
 *   }
 *   tm_keyscan_finish(ks, rc == 0 && !time_limited);
 *   tm_keyscan_free(ks);
 *
 * Saving is best effort: a journal directory we cannot write to (another
 * user's, read-only media) just keeps no summaries. */
#ifndef TM_KEYSCAN_H
#define TM_KEYSCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "store/journal/journal.h"
#include "replay/keys/keysum.h"
#include "replay/engine/relreg.h"

typedef struct tm_keyscan tm_keyscan;

/* Whether to read covered frame `frame` of summary ks (TM_FRAME_READ or
 * TM_FRAME_SKIP). NULL: read every frame (summaries are still built). */
typedef int (*tm_keyscan_want_fn)(void *ctx, const tm_keysum *ks, uint32_t frame);

/* Installs itself as r's frame filter. schema must hold every Relation the
 * reader delivered before a change is passed to tm_keyscan_record. */
tm_keyscan *tm_keyscan_new(const char *dir, tm_reader *r, const tm_relreg *schema,
                           tm_keyscan_want_fn want, void *ctx, tm_error *err);
void tm_keyscan_free(tm_keyscan *k);

/* Indexes a record the reader just delivered (a no-op unless its frame is
 * being added to a summary). -1 with err on a tuple that does not decode
 * or out of memory. */
int tm_keyscan_record(tm_keyscan *k, const Tidemark__Record *rec, tm_error *err);

/* Saves what was built. complete: the reader reached the end by itself (no
 * time limit), so the last frame it entered was read whole. */
void tm_keyscan_finish(tm_keyscan *k, bool complete);

typedef struct tm_keyscan_stats {
    uint64_t covered_read;    /* frames a summary covered that the caller wanted */
    uint64_t covered_skipped; /* frames a summary covered that the caller did not want */
    uint64_t indexed;         /* frames read and added to a summary */
    uint64_t saved;           /* summaries written */
} tm_keyscan_stats;
tm_keyscan_stats tm_keyscan_get_stats(const tm_keyscan *k);

/* Reads the whole journal once so that every segment's summary is built
 * (or completed), as `tidemark checkpoint` does in the background: later
 * by-key log queries then read only the frames that hold their keys. */
int tm_keyscan_build_all(const char *dir, tm_keyscan_stats *st, tm_error *err);

#endif
