/* Capture's published counters, and the lag computed from them. */
#include "capture/monitor/stats.h"

#include <string.h>
#include <time.h>

#include "capture/source/slothealth.h"
#include "store/common/tm_time.h"

const double tm_fsync_bucket_le[TM_FSYNC_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1,    2.5};

const char *const tm_wal_statuses[TM_WAL_STATUSES] = {"", "reserved", "extended", "unreserved",
                                                      "lost"};

const char *tm_errkind_name(tm_errkind k)
{
    static const char *const names[TM_ERRKIND_N] = {"connection", "server", "protocol", "journal"};
    return k < TM_ERRKIND_N ? names[k] : "other";
}

int64_t tm_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tm_lag_seen(tm_lag_track *t, uint64_t lsn, int64_t now)
{
    if (t->n) {
        unsigned last = (t->head + t->n - 1) % TM_LAG_SAMPLES;
        if (lsn <= t->lsn[last])
            return;
        /* Close to the newest sample, or no room: it joins it (its time
         * stays the older one, so the lag is not understated). */
        if (now - t->seen[last] < TM_LAG_SAMPLE_US || t->n == TM_LAG_SAMPLES) {
            t->lsn[last] = lsn;
            return;
        }
    }
    unsigned i = (t->head + t->n) % TM_LAG_SAMPLES;
    t->lsn[i] = lsn;
    t->seen[i] = now;
    t->n++;
}

void tm_lag_confirmed(tm_lag_track *t, uint64_t lsn)
{
    while (t->n && t->lsn[t->head] <= lsn) {
        t->head = (t->head + 1) % TM_LAG_SAMPLES;
        t->n--;
    }
}

int64_t tm_lag_since(const tm_lag_track *t)
{
    return t->n ? t->seen[t->head] : 0;
}

void tm_stats_init(tm_capture_stats *st, int status_interval_s)
{
    memset(st, 0, sizeof *st);
    st->started = tm_time_now();
    st->status_interval_s = status_interval_s;
    atomic_store(&st->safe_wal_size, INT64_MIN);
    atomic_store(&st->max_keep_bytes, -1);
    atomic_store(&st->last_recv, tm_mono_us());
}

void tm_stats_fsync(tm_capture_stats *st, int64_t ns)
{
    double s = (double)ns / 1e9;
    for (int i = 0; i < TM_FSYNC_BUCKETS; i++)
        if (s <= tm_fsync_bucket_le[i]) {
            atomic_fetch_add_explicit(&st->fsync_bucket[i], 1, memory_order_relaxed);
            break;
        }
    atomic_fetch_add_explicit(&st->fsync_sum_ns, (uint64_t)ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->fsync_count, 1, memory_order_relaxed);
}

void tm_stats_error(tm_capture_stats *st, tm_errkind k)
{
    if (k < TM_ERRKIND_N)
        atomic_fetch_add_explicit(&st->errors[k], 1, memory_order_relaxed);
}

void tm_stats_slot(tm_capture_stats *st, const tm_slot_info *si)
{
    int ws = 0;
    for (int i = 1; i < TM_WAL_STATUSES; i++)
        if (!strcmp(si->wal_status, tm_wal_statuses[i]))
            ws = i;
    atomic_store(&st->wal_status, ws);
    atomic_store(&st->retained_wal, tm_slot_retained(si));
    atomic_store(&st->safe_wal_size, si->has_safe_wal_size ? si->safe_wal_size : INT64_MIN);
    atomic_store(&st->max_keep_bytes, si->max_keep_bytes);
    uint64_t cur = atomic_load(&st->server_lsn);
    if (si->server_lsn > cur)
        atomic_store(&st->server_lsn, si->server_lsn);
    atomic_store(&st->slot_known, si->exists);
}

uint64_t tm_stats_lag_bytes(const tm_capture_stats *st)
{
    uint64_t s = atomic_load(&st->server_lsn), c = atomic_load(&st->confirmed_lsn);
    return s > c ? s - c : 0;
}

double tm_stats_lag_seconds(const tm_capture_stats *st, int64_t now)
{
    int64_t since = atomic_load(&st->behind_since), recv = atomic_load(&st->last_recv);
    int64_t lag = since && now > since ? now - since : 0;
    if (now - recv > TM_SILENCE_GRACE_US && now - recv > lag)
        lag = now - recv;
    return (double)lag / 1e6;
}
