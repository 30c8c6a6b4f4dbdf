/* What a running capture publishes for its status line, its heartbeat file
 * and /metrics. The stream thread writes the fields with relaxed atomic
 * stores and adds; the heartbeat and HTTP threads only load them, so a
 * scrape never waits for the stream nor the stream for a scrape. */
#ifndef TM_STATS_H
#define TM_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/source/setup.h"

/* Why capture lost a connection or failed: the label of
 * tidemark_errors_total. */
typedef enum tm_errkind {
    TM_ERRKIND_CONNECTION, /* the server or the network went away */
    TM_ERRKIND_SERVER,     /* the server refused a query or command */
    TM_ERRKIND_PROTOCOL,   /* a message capture could not understand */
    TM_ERRKIND_JOURNAL,    /* writing or syncing the journal */
    TM_ERRKIND_N
} tm_errkind;

const char *tm_errkind_name(tm_errkind k);

/* Upper bounds (seconds) of the fsync duration histogram's buckets. */
#define TM_FSYNC_BUCKETS 12
extern const double tm_fsync_bucket_le[TM_FSYNC_BUCKETS];

/* Unconfirmed server positions and when each was first seen, oldest first:
 * the lag in seconds is the age of the oldest position the server reported
 * that capture has not confirmed yet (0 when it has confirmed all). At most
 * one sample per TM_LAG_SAMPLE_US; when full, new positions join the
 * newest sample, so the age is never understated. */
#define TM_LAG_SAMPLES 256
#define TM_LAG_SAMPLE_US 10000
typedef struct tm_lag_track {
    uint64_t lsn[TM_LAG_SAMPLES];
    int64_t seen[TM_LAG_SAMPLES];
    unsigned head, n;
} tm_lag_track;

/* The server reported WAL up to lsn at monotonic time now (us). */
void tm_lag_seen(tm_lag_track *t, uint64_t lsn, int64_t now);
/* Everything up to lsn is confirmed. */
void tm_lag_confirmed(tm_lag_track *t, uint64_t lsn);
/* When the oldest unconfirmed position was first seen (monotonic us), or 0. */
int64_t tm_lag_since(const tm_lag_track *t);

typedef struct tm_capture_stats {
    int64_t started; /* Unix us */
    int status_interval_s;
    atomic_uint_fast64_t tx, changes, skipped, bytes;
    atomic_int_fast64_t last_commit_time; /* Unix us; 0 before the first */
    atomic_uint_fast64_t confirmed_lsn;   /* last flush position sent */
    atomic_uint_fast64_t server_lsn;      /* the server's WAL position, latest known */
    atomic_int_fast64_t behind_since;     /* tm_lag_since, published */
    atomic_int_fast64_t last_recv;        /* monotonic us of the last message */
    atomic_uint_fast64_t reconnects, gaps;
    atomic_uint_fast64_t errors[TM_ERRKIND_N];
    /* the slot, as the last periodic check saw it */
    atomic_bool slot_known;
    atomic_uint_fast64_t retained_wal;
    atomic_int_fast64_t safe_wal_size; /* INT64_MIN: none */
    atomic_int_fast64_t max_keep_bytes;
    atomic_int wal_status; /* index into tm_wal_statuses */
    /* fsyncs of the journal */
    atomic_uint_fast64_t fsync_bucket[TM_FSYNC_BUCKETS], fsync_count, fsync_sum_ns;
    /* checkpoints in DIR/checkpoints, as the heartbeat thread last saw them */
    atomic_uint_fast64_t checkpoints;
    atomic_int_fast64_t checkpoint_mtime; /* Unix us of the newest; 0 none */
    /* the archive (DIR/archive.state), as the heartbeat thread last saw it */
    atomic_bool archive_known;
    atomic_uint_fast64_t archive_pending_files, archive_pending_bytes;
    atomic_int_fast64_t archive_success; /* Unix us of the last finished pass; 0 none */
    atomic_bool archive_failing;         /* the last pass failed */
} tm_capture_stats;

/* The values of wal_status, as pg_replication_slots spells them. */
#define TM_WAL_STATUSES 5
extern const char *const tm_wal_statuses[TM_WAL_STATUSES];

void tm_stats_init(tm_capture_stats *st, int status_interval_s);
void tm_stats_fsync(tm_capture_stats *st, int64_t ns);
void tm_stats_error(tm_capture_stats *st, tm_errkind k);
/* Publishes what tm_slot_info_get said of the journal's slot. */
void tm_stats_slot(tm_capture_stats *st, const tm_slot_info *si);

/* The lag now (monotonic us): bytes from the confirmed position to the
 * server's, and seconds: the age of the oldest unconfirmed position, or,
 * when nothing came from the server for longer than TM_SILENCE_GRACE_US
 * (capture asks for a reply every second when idle), that silence: a dead
 * link never shows as no lag. */
#define TM_SILENCE_GRACE_US 1500000
uint64_t tm_stats_lag_bytes(const tm_capture_stats *st);
double tm_stats_lag_seconds(const tm_capture_stats *st, int64_t now);

/* Monotonic microseconds. */
int64_t tm_mono_us(void);

#endif
