/* The Prometheus text format of capture's stats (see metrics.h). Names
 * follow Prometheus' conventions: a tidemark_ prefix, base units (seconds,
 * bytes), _total for counters. */
#include "capture/monitor/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/common/tm_time.h"

typedef struct out {
    tm_buf *b;
    tm_error *err;
    int failed;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || tm_buf_reserve(o->b, (size_t)n + 1, o->err) != 0) {
        o->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf((char *)o->b->p + o->b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    o->b->len += (size_t)n;
}

/* HELP and TYPE lines, then one sample without labels (when fmt given). */
static void head(out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void u64(out *o, const char *name, const char *type, const char *help, uint64_t v)
{
    head(o, name, type, help);
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void dbl(out *o, const char *name, const char *type, const char *help, double v)
{
    head(o, name, type, help);
    put(o, "%s %.6f\n", name, v);
}

int tm_metrics_render(const tm_capture_stats *st, tm_buf *b, tm_error *err)
{
    out o = {.b = b, .err = err};
    int64_t now = tm_time_now(), mono = tm_mono_us();
    dbl(&o, "tidemark_capture_start_time_seconds", "gauge",
        "When this capture process started (Unix time).", (double)st->started / 1e6);
    dbl(&o, "tidemark_lag_seconds", "gauge",
        "Age of the oldest WAL position the server reported that capture has not yet made durable "
        "and confirmed; when the server has been silent longer than 1.5 s, that silence.",
        tm_stats_lag_seconds(st, mono));
    u64(&o, "tidemark_lag_bytes", "gauge",
        "WAL bytes from the position capture confirmed to the server's current WAL position.",
        tm_stats_lag_bytes(st));
    u64(&o, "tidemark_confirmed_lsn_bytes", "gauge",
        "The WAL position (as a byte offset) confirmed to the server as durable in the journal.",
        atomic_load(&st->confirmed_lsn));
    u64(&o, "tidemark_server_lsn_bytes", "gauge",
        "The server's WAL position (as a byte offset), as last reported.",
        atomic_load(&st->server_lsn));
    u64(&o, "tidemark_transactions_total", "counter", "Transactions journaled.",
        atomic_load(&st->tx));
    u64(&o, "tidemark_changes_total", "counter",
        "Records journaled in transactions (row changes and logical messages).",
        atomic_load(&st->changes));
    u64(&o, "tidemark_skipped_transactions_total", "counter",
        "Transactions the server sent again that the journal already held.",
        atomic_load(&st->skipped));
    u64(&o, "tidemark_journal_written_bytes_total", "counter",
        "Bytes written to the journal's segments.", atomic_load(&st->bytes));
    int64_t lc = atomic_load(&st->last_commit_time);
    if (lc)
        dbl(&o, "tidemark_last_commit_timestamp_seconds", "gauge",
            "Commit time of the last transaction journaled (Unix time).", (double)lc / 1e6);
    head(&o, "tidemark_journal_fsync_duration_seconds", "histogram",
         "Time to make the journal durable (write out and fsync the segment).");
    uint64_t cum = 0;
    for (int i = 0; i < TM_FSYNC_BUCKETS; i++) {
        cum += atomic_load(&st->fsync_bucket[i]);
        put(&o, "tidemark_journal_fsync_duration_seconds_bucket{le=\"%g\"} %llu\n",
            tm_fsync_bucket_le[i], (unsigned long long)cum);
    }
    uint64_t count = atomic_load(&st->fsync_count);
    put(&o, "tidemark_journal_fsync_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
        (unsigned long long)count);
    put(&o, "tidemark_journal_fsync_duration_seconds_sum %.9f\n",
        (double)atomic_load(&st->fsync_sum_ns) / 1e9);
    put(&o, "tidemark_journal_fsync_duration_seconds_count %llu\n", (unsigned long long)count);
    u64(&o, "tidemark_reconnects_total", "counter",
        "Times capture connected to the server again after losing it.",
        atomic_load(&st->reconnects));
    head(&o, "tidemark_errors_total", "counter",
         "Errors by kind: connection (server or network gone), server (a query or command "
         "refused), protocol (a message not understood), journal (a write or fsync).");
    for (int k = 0; k < TM_ERRKIND_N; k++)
        put(&o, "tidemark_errors_total{kind=\"%s\"} %llu\n", tm_errkind_name((tm_errkind)k),
            (unsigned long long)atomic_load(&st->errors[k]));
    u64(&o, "tidemark_gaps_recorded_total", "counter",
        "Gaps (transactions the slot could no longer deliver) recorded by this process.",
        atomic_load(&st->gaps));
    u64(&o, "tidemark_checkpoints", "gauge", "Checkpoints in the journal.",
        atomic_load(&st->checkpoints));
    int64_t cm = atomic_load(&st->checkpoint_mtime);
    if (cm)
        dbl(&o, "tidemark_checkpoint_age_seconds", "gauge",
            "Seconds since the newest checkpoint was written.",
            now > cm ? (double)(now - cm) / 1e6 : 0);
    if (atomic_load(&st->archive_known)) {
        u64(&o, "tidemark_archive_lag_files", "gauge",
            "Finished journal files not yet in the archive (capture --archive).",
            atomic_load(&st->archive_pending_files));
        u64(&o, "tidemark_archive_lag_bytes", "gauge",
            "Journal bytes not yet in the archive, the live segment included.",
            atomic_load(&st->archive_pending_bytes));
        int64_t ok = atomic_load(&st->archive_success);
        if (ok)
            dbl(&o, "tidemark_archive_lag_seconds", "gauge",
                "Seconds since the last archive pass that finished (the archive holds everything "
                "sealed before it).",
                now > ok ? (double)(now - ok) / 1e6 : 0);
        u64(&o, "tidemark_archive_up", "gauge", "1 when the last archive pass succeeded, else 0.",
            !atomic_load(&st->archive_failing));
    }
    if (atomic_load(&st->slot_known)) {
        u64(&o, "tidemark_slot_retained_wal_bytes", "gauge",
            "WAL the replication slot holds back on the server (current WAL position minus "
            "restart_lsn).",
            atomic_load(&st->retained_wal));
        int64_t safe = atomic_load(&st->safe_wal_size);
        if (safe != INT64_MIN)
            dbl(&o, "tidemark_slot_safe_wal_size_bytes", "gauge",
                "WAL that can still be written before the slot risks losing WAL it needs "
                "(safe_wal_size).",
                (double)safe);
        int64_t keep = atomic_load(&st->max_keep_bytes);
        if (keep >= 0)
            u64(&o, "tidemark_slot_max_wal_keep_bytes", "gauge",
                "The server's max_slot_wal_keep_size.", (uint64_t)keep);
        head(&o, "tidemark_slot_wal_status", "gauge",
             "The slot's wal_status: 1 for the current one.");
        int ws = atomic_load(&st->wal_status);
        for (int i = 1; i < TM_WAL_STATUSES; i++)
            put(&o, "tidemark_slot_wal_status{status=\"%s\"} %d\n", tm_wal_statuses[i],
                i == ws ? 1 : 0);
    }
    return o.failed ? -1 : 0;
}
