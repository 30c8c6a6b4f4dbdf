/* tidemark log: reading the journal and writing the listing. */
#ifndef TM_LOG_RUN_H
#define TM_LOG_RUN_H

#include <stdint.h>

#include "replay/log/log_opts.h"
#include "store/common/tm_error.h"

/* What a run read (for --stats, tests and benchmarks). */
typedef struct log_run_stats {
    uint64_t frames_total;    /* frames in the journal */
    uint64_t frames_decoded;  /* frames decompressed by the main pass */
    uint64_t frames_skipped;  /* frames a key summary let it skip */
    uint64_t schema_frames;   /* frames decompressed to collect the schemas */
    uint64_t indexed;         /* frames added to key summaries */
    uint64_t summaries_saved; /* key summary files written */
    uint64_t changes_shown, transactions_shown;
} log_run_stats;

/* Runs the query o, writing to out_fd. Returns 0, or -1 with err. */
int log_run(const log_opts *o, int out_fd, log_run_stats *stats, tm_error *err);

#endif
