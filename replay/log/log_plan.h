/* tidemark log: which frames a query needs, from the key summaries
 * (keysum.h): --where conditions that pin key columns to values, --table
 * and --xid become hash lookups; a frame that holds none of what the query
 * asks for is not read. The plan only ever leaves out frames that cannot
 * hold a change the filters would show: every change read is still checked
 * by the filters (log_filter.h). */
#ifndef TM_LOG_PLAN_H
#define TM_LOG_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "replay/keys/keysum.h"
#include "replay/log/log_filter.h"
#include "replay/log/log_opts.h"
#include "replay/engine/relreg.h"

typedef struct log_plan log_plan;

log_plan *log_plan_new(const log_opts *o, const tm_relreg *s, log_filter *f, tm_error *err);
void log_plan_free(log_plan *p);

/* Whether the query can skip frames at all (else every frame is read). */
bool log_plan_prunes(const log_plan *p);

/* The tm_keyscan_want_fn: TM_FRAME_READ or TM_FRAME_SKIP for a covered
 * frame. ctx is the plan. */
int log_plan_want(void *ctx, const tm_keysum *ks, uint32_t frame);

#endif
