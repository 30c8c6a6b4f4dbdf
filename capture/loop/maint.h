/* Self-maintenance: capture keeps the journal's derived files current by
 * itself, off its hot path. When the journal has grown by every_bytes since
 * the last maintenance run started, capture starts the same binary's
 * `tidemark checkpoint` (/proc/self/exe) as a child process: nice 19, I/O
 * priority idle, its address space bounded. The child writes a checkpoint
 * at the durable mark (and on the way, every 250,000 changes), completes
 * the key summaries and the row counts, and prunes the journal to the
 * retention horizon when one is set; all of it crash-safe (temp file,
 * fsync, rename). The layer rules keep capture from calling replay/ code,
 * and a process of its own keeps the state engine's memory and CPU out of
 * capture.
 *
 * Capture never waits for the child: it is reaped without blocking from
 * the stream loop. A child that fails is logged with its exit status and
 * tried again after a pause that doubles from 1 to 60 minutes. At stop a
 * running child is sent SIGTERM (what it wrote is whole or a temp file). */
#ifndef TM_MAINT_H
#define TM_MAINT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tm_maint_opts {
    const char *journal;
    uint64_t every_bytes;        /* journal bytes between runs; 0: no maintenance */
    uint64_t memory_bytes;       /* the child's address-space limit; 0: none */
    const char *retention;       /* --retention, passed on to tidemark checkpoint; NULL: none */
    const char *local_retention; /* --local-retention, likewise */
    bool compact;                /* --compact, passed on: sealed segments recompressed with zstd */
} tm_maint_opts;

typedef struct tm_maint tm_maint;

/* NULL when maintenance is off (every_bytes 0) or out of memory (said). */
tm_maint *tm_maint_new(const tm_maint_opts *o);

/* Called from the stream loop with the bytes this capture has written to
 * segments so far: reaps a finished child (no blocking) and starts one when due.
 * Problems are logged, never returned: the stream goes on regardless. */
void tm_maint_poll(tm_maint *m, uint64_t journal_bytes, int64_t now_us);

/* Stops a running child (SIGTERM, then reaps it) and frees m. */
void tm_maint_free(tm_maint *m);

#endif
