/* Driving the state engine through a journal up to a target point.
 *
 * State at time T (PostgreSQL's recovery_target_time with
 * recovery_target_inclusive = on): the base snapshot, then the journal's
 * transactions in commit-LSN order up to, not including, the first one
 * whose commit time is later than T. State at LSN L: every transaction
 * with commit LSN <= L. */
#ifndef TM_RUNNER_H
#define TM_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "replay/engine/state.h"
#include "store/common/tm_error.h"

typedef struct tm_target {
    bool by_lsn;
    uint64_t lsn; /* by_lsn */
    int64_t time; /* else: microseconds since the Unix epoch */
} tm_target;

typedef struct tm_run_info {
    uint64_t transactions; /* applied, the base snapshot included */
    uint64_t base_lsn;     /* the first base snapshot */
    int64_t base_time;
    uint64_t last_lsn; /* the last transaction applied */
    int64_t last_time;
    bool reached_end;  /* no transaction past the target: the journal ended first */
    uint64_t stop_lsn; /* commit LSN of the first transaction not applied (0 at the end) */
    int64_t stop_time;
    uint64_t gap_lsn; /* the last gap read (0: none) */
    char gap_reason[256];
    int64_t max_time;    /* the latest commit time of all transactions applied */
    uint64_t ckpt_lsn;   /* the checkpoint replay started from (0: the base snapshot) */
    uint64_t ckpt_rows;  /* changes of it loaded (counted in tm_state_applied) */
    double ckpt_seconds; /* time spent loading the checkpoint */
    double seconds;      /* time spent reading and applying the journal */
    double cpu_seconds;  /* of it, on the CPU (the machine may be busy with others) */
} tm_run_info;

/* Seconds on the monotonic clock, or of the process's CPU time (cpu). */
double tm_run_clock(bool cpu);

/* Progress lines through the logger (NULL: none) about once a second;
 * tty: the line is rewritten in place. */
typedef struct tm_progress {
    bool tty;
} tm_progress;

/* Reads journal dir and applies it to s up to target t. A target before
 * the base snapshot is an error that names the range the journal covers.
 * Returns 0, or -1 with err (a missing or damaged journal). */
int tm_run_to(const char *dir, tm_state *s, const tm_target *t, const tm_progress *progress,
              tm_run_info *info, tm_error *err);

typedef struct tm_runner_opts {
    const tm_progress *progress; /* NULL: none */
    /* Start from the newest usable checkpoint (checkpoint.h): for an LSN
     * target one at or before it, for a time target one whose transactions
     * all committed at or before it. A damaged one is skipped with a
     * warning (the logger's). */
    bool use_checkpoints;
    /* Called after each transaction applied (NULL: not); -1 (with err)
     * stops the run with that error. */
    int (*after_tx)(void *arg, tm_state *s, const tm_run_info *info, tm_error *err);
    void *arg;
} tm_runner_opts;

/* tm_run_to with options. */
int tm_run_to_opts(const char *dir, tm_state *s, const tm_target *t, const tm_runner_opts *o,
                   tm_run_info *info, tm_error *err);

/* The commit time and LSN of the journal's last transaction (reads the
 * whole journal; used for messages). Returns 0 or -1 with err. */
int tm_journal_last_commit(const char *dir, uint64_t *lsn, int64_t *time, tm_error *err);

#endif
