/* tidemark capture: options and the pieces of the command. */
#ifndef TM_CAPTURE_H
#define TM_CAPTURE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/journal/journal.h"
#include "capture/source/source.h"
#include "store/common/tm_error.h"

typedef struct tm_capture_opts {
    const char *journal;
    const char *source; /* conninfo; never printed */
    const char **tables;
    int n_tables;
    char slot[128];
    char publication[128];
    bool set_replica_identity_full;
    int fsync_interval_ms;     /* group commit window */
    uint64_t segment_size;     /* bytes */
    int status_interval_s;     /* status line and standby status update period */
    uint64_t endpos;           /* stop once durable up to here; 0 = run until signalled */
    uint64_t tx_memory_budget; /* bytes of a transaction held in memory before spooling */
    uint32_t warn_rows;        /* mass-change warning threshold */
} tm_capture_opts;

/* First run: publication, slot with exported snapshot, base snapshot,
 * metadata. On success the journal is initialised and w holds it open. */
int tm_capture_init_journal(const tm_capture_opts *o, PGconn *sql, PGconn *repl,
                            const tm_identity *id, tm_writer *w, tm_meta *meta, tm_error *err);

/* A first run that failed before its metadata was written: removes the
 * files it made (segments, indexes, spools, the lock) and the directory
 * when it made that too, so the next attempt starts clean. */
void tm_capture_discard_fresh(const char *dir, bool created_dir);

/* Streams from the slot into the journal until signalled, endpos, or a
 * fatal error. Reconnects by itself when the connection is lost. Returns 0
 * on a clean stop. */
int tm_capture_stream(const tm_capture_opts *o, const tm_meta *meta, tm_writer *w, tm_error *err);

/* Set by SIGINT/SIGTERM. */
extern volatile int tm_capture_stop_requested;

#endif
