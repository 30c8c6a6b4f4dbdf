/* tidemark capture: options and the pieces of the command. */
#ifndef TM_CAPTURE_H
#define TM_CAPTURE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/monitor/stats.h"
#include "capture/source/setup.h"
#include "capture/source/source.h"
#include "store/common/tm_error.h"
#include "store/journal/journal.h"

typedef struct tm_capture_opts {
    const char *journal;
    const char *source;      /* conninfo; never printed */
    const char *source_file; /* --source-file, as given */
    const char **tables;
    int n_tables;
    char slot[128];
    char publication[128];
    bool set_replica_identity_full;
    int fsync_interval_ms;       /* group commit window */
    uint64_t segment_size;       /* bytes */
    int status_interval_s;       /* status line and standby status update period */
    int receive_timeout_s;       /* silence after which the link is taken for dead */
    uint64_t endpos;             /* stop once durable up to here; 0 = run until signalled */
    uint64_t tx_memory_budget;   /* bytes of a transaction held in memory before spooling */
    uint32_t warn_rows;          /* mass-change warning threshold */
    const char *metrics_listen;  /* ADDR:PORT for /metrics, or NULL */
    uint64_t checkpoint_every;   /* journal bytes between maintenance runs (maint.h); 0: off */
    uint64_t maint_memory;       /* the maintenance child's address-space limit, bytes */
    const char *retention;       /* --retention DURATION, for the maintenance child; NULL: none */
    const char *local_retention; /* --local-retention DURATION, likewise (with --archive) */
    bool compact;                /* --compact: the maintenance child compacts sealed segments */
    const char *archive_url;     /* --archive s3://BUCKET/PREFIX (archiver.h); NULL: none */
    unsigned archive_interval_s; /* seconds between archive passes; 0: default */
    const char *archive_keys;    /* --encrypt-key-file FILE for the archive; NULL: none */
    bool reseed;                 /* --reseed: after a gap, a new slot and base snapshot */
    bool failover_slot;          /* --failover-slot: the slot synchronised to standbys (17+) */
    bool source_standby;         /* found at start: the source is a hot standby (16+) */
} tm_capture_opts;

/* First run: publication, slot with exported snapshot, base snapshot,
 * metadata. On success the journal is initialised and w holds it open. */
int tm_capture_init_journal(const tm_capture_opts *o, PGconn *sql, PGconn *repl,
                            const tm_identity *id, tm_writer *w, tm_meta *meta, tm_error *err);

/* After a gap (recorded in the journal): a new slot with an exported
 * snapshot in place of the old one (dropped when it is still there), and a
 * base snapshot of the publication's tables under it, journaled at the new
 * slot's consistent point, fsynced and marked, so that the journal goes on
 * and replay after it is exact. Interrupted, it leaves the journal ending
 * with its gap, and --reseed again starts over. -1 with err. */
int tm_capture_reseed(const tm_capture_opts *o, PGconn *sql, PGconn *repl, const tm_identity *id,
                      tm_writer *w, tm_error *err);

/* The reseed's intent record, DIR/reseed.pending (capture/loop/reseed.c):
 * announced (temp file, fsync, rename) before the old slot is dropped,
 * with the journal's confirmed LSN then; done once the new base snapshot
 * is marked. */
int tm_capture_reseed_announce(const char *dir, const char *slot, uint64_t system_identifier,
                               uint64_t mark, tm_error *err);
int tm_capture_reseed_done(const char *dir, tm_error *err);
/* At a start, with the journal open (confirmed: its mark's LSN): a reseed
 * that was interrupted is complete when the mark moved past the recorded
 * one (the record is removed), else rolled back: the journal ends with its
 * gap again, and the slot it may have made is dropped. -1 with err when
 * the record is of another system or the slot cannot be dropped. */
int tm_capture_reseed_resume(const char *dir, PGconn *sql, const tm_identity *id,
                             uint64_t confirmed, tm_error *err);

/* A first run that failed before its metadata was written: removes the
 * files it made (segments, indexes, spools, the mark, the lock) and the
 * directory when it made that too, so the next attempt starts clean. The
 * first run's record (init.pending) stays when the slot it names could not
 * be dropped, and so does the directory then. */
void tm_capture_discard_fresh(const char *dir, bool created_dir);

/* Before a first run (no journal.meta): when DIR records an earlier first
 * run that did not finish (a crash after it created its slot, say), the
 * slot it left is dropped if it is still there and is the one it made
 * (same name, system and consistent point; waiting while a walsender still
 * holds it), what it wrote in DIR is removed, and the record forgotten,
 * saying so. -1 with err when the slot there is not that one, or the
 * record is of another system. */
int tm_capture_init_resume(const char *dir, PGconn *sql, const tm_identity *id, tm_error *err);
/* A record left by a first run that did finish (journal.meta exists): gone. */
int tm_capture_init_forget(const char *dir, tm_error *err);

/* Streams from the slot into the journal until signalled, endpos, or a
 * fatal error. Reconnects by itself when the connection is lost. Returns 0
 * on a clean stop. */
int tm_capture_stream(const tm_capture_opts *o, const tm_meta *meta, tm_writer *w,
                      tm_capture_stats *st, tm_error *err);

/* A journal that ends with a gap not followed by a base snapshot can take
 * nothing more: -1 with err saying so (the gap's range and reason, and what
 * to do), else 0. */
int tm_capture_check_gap(const char *dir, tm_writer *w, tm_error *err);

/* Checks the journal's slot before streaming from it, at every start and
 * reconnect: waits while another walsender holds it (tm_capture_wait_slot_
 * free), then requires that it exists, is a pgoutput slot of the journal's
 * database, has not lost WAL nor been invalidated, and that its
 * confirmed_flush_lsn is not ahead of the journal's durable mark (behind
 * is fine: the server resends, and capture skips what it holds). A slot
 * that fails is a gap: a Gap record (the LSN range and why) is journaled
 * and fsynced under the mark, and err says what happened and what to do.
 * Returns 0; -1 when the connection failed (try again); -2 when capture
 * must stop (err); -3 when it must stop after a gap was found (err). */
int tm_capture_check_slot(PGconn *sql, const char *dir, const tm_meta *meta, tm_writer *w,
                          tm_error *err);

/* Waits while slot is active (held by another walsender, e.g. of a capture
 * that was killed and that the server has not noticed yet), polling
 * pg_replication_slots, up to wal_sender_timeout plus a margin; says so
 * once. *si is the slot's state after. Returns 0 (free, or not there), -1
 * when the connection failed or a stop was requested, -2 when it is still
 * held after the wait (err). */
int tm_capture_wait_slot_free(PGconn *sql, const char *slot, tm_slot_info *si, tm_error *err);

/* The tables named by --table, as oids added to oids. */
int tm_capture_resolve_tables(const tm_capture_opts *o, PGconn *sql, tm_oidlist *oids,
                              tm_error *err);

/* The live table set (liveset.c): the tables whose capture has started
 * and not ended, from DIR/tables.captured, or (absent) from the journal's
 * snapshots and TableRemoved records, then saved. */
#define TM_CAPTURED_FILE "tables.captured"
int tm_liveset_load(const char *dir, tm_oidlist *captured, tm_error *err);

/* Set by SIGINT/SIGTERM. */
extern volatile int tm_capture_stop_requested;

#endif
