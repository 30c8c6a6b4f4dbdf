/* capture/monitor without a server: the lag in seconds is the age of the
 * oldest unconfirmed server position (never understated when the samples
 * run out), a silence past the grace shows as lag, the retained-WAL
 * judgement (near at 80% of max_slot_wal_keep_size, unreserved), the
 * heartbeat file round trip and when it reads as alive, and the metrics
 * text passes promtool check metrics. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/monitor/heartbeat.h"
#include "capture/monitor/metrics.h"
#include "capture/monitor/stats.h"
#include "capture/source/slothealth.h"
#include "store/common/tm_time.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

START_TEST(lag_track)
{
    tm_lag_track t = {0};
    ck_assert_int_eq(tm_lag_since(&t), 0);
    tm_lag_seen(&t, 100, 1000000);
    tm_lag_seen(&t, 200, 1005000); /* within 10 ms: joins the first sample */
    tm_lag_seen(&t, 300, 1100000);
    ck_assert_int_eq(tm_lag_since(&t), 1000000);
    tm_lag_confirmed(&t, 150); /* the first sample reaches 200: still waiting */
    ck_assert_int_eq(tm_lag_since(&t), 1000000);
    tm_lag_confirmed(&t, 200);
    ck_assert_int_eq(tm_lag_since(&t), 1100000);
    tm_lag_confirmed(&t, 300);
    ck_assert_int_eq(tm_lag_since(&t), 0);
    /* Full: later positions join the newest sample; the oldest stays. */
    for (int i = 0; i < TM_LAG_SAMPLES + 50; i++)
        tm_lag_seen(&t, 1000 + (uint64_t)i, 2000000 + (int64_t)i * 20000);
    ck_assert_int_eq(tm_lag_since(&t), 2000000);
    tm_lag_confirmed(&t, 1000 + TM_LAG_SAMPLES + 48);
    ck_assert_int_ne(tm_lag_since(&t), 0); /* the last sample holds the newest position */
    tm_lag_confirmed(&t, 1000 + TM_LAG_SAMPLES + 49);
    ck_assert_int_eq(tm_lag_since(&t), 0);
}
END_TEST

START_TEST(lag_seconds)
{
    tm_capture_stats st;
    tm_stats_init(&st, 10);
    int64_t now = tm_mono_us();
    atomic_store(&st.last_recv, now);
    ck_assert(tm_stats_lag_seconds(&st, now) == 0);
    atomic_store(&st.behind_since, now - 250000);
    ck_assert(fabs(tm_stats_lag_seconds(&st, now) - 0.25) < 1e-9);
    atomic_store(&st.behind_since, 0);
    /* silent, but within the grace: no lag; past it: the silence */
    ck_assert(tm_stats_lag_seconds(&st, now + TM_SILENCE_GRACE_US) == 0);
    ck_assert(fabs(tm_stats_lag_seconds(&st, now + 5000000) - 5.0) < 1e-9);
    atomic_store(&st.server_lsn, 1000);
    atomic_store(&st.confirmed_lsn, 400);
    ck_assert_uint_eq(tm_stats_lag_bytes(&st), 600);
}
END_TEST

START_TEST(wal_risk)
{
    tm_slot_info si = {.exists = true, .logical_pgoutput = true};
    char why[400];
    snprintf(si.wal_status, sizeof si.wal_status, "reserved");
    si.restart_lsn = 1 << 20;
    si.server_lsn = si.restart_lsn + (79 << 20);
    si.max_keep_bytes = 100 << 20;
    ck_assert_uint_eq(tm_slot_retained(&si), 79u << 20);
    ck_assert_int_eq(tm_slot_wal_risk(&si, why, sizeof why), TM_WAL_OK);
    si.server_lsn = si.restart_lsn + (80 << 20);
    ck_assert_int_eq(tm_slot_wal_risk(&si, why, sizeof why), TM_WAL_NEAR);
    ck_assert_msg(strstr(why, "80% of max_slot_wal_keep_size (100 MB)"), "%s", why);
    si.max_keep_bytes = -1; /* unlimited: never near */
    ck_assert_int_eq(tm_slot_wal_risk(&si, why, sizeof why), TM_WAL_OK);
    snprintf(si.wal_status, sizeof si.wal_status, "unreserved");
    ck_assert_int_eq(tm_slot_wal_risk(&si, why, sizeof why), TM_WAL_UNRESERVED);
}
END_TEST

START_TEST(heartbeat_file)
{
    char *dir = tmt_tempdir();
    tm_capture_stats st;
    tm_stats_init(&st, 1);
    atomic_store(&st.tx, 7);
    atomic_store(&st.confirmed_lsn, 0x16B3748);
    tm_heartbeat hb;
    tm_error err;
    ck_assert_int_eq(tm_heartbeat_read(dir, &hb, &err), 0);
    tm_heartbeat_thread t;
    ck_assert_int_eq(tm_heartbeat_start(&t, dir, &st, &err), 0);
    ck_assert_int_eq(tm_heartbeat_read(dir, &hb, &err), 1);
    char why[300];
    ck_assert(hb.running && hb.pid == getpid() && hb.tx == 7 && hb.confirmed_lsn == 0x16B3748);
    ck_assert(tm_heartbeat_alive(&hb, tm_time_now(), why, sizeof why));
    /* not rewritten for longer than three intervals: not alive */
    ck_assert(!tm_heartbeat_alive(&hb, hb.updated + 6000000, why, sizeof why));
    ck_assert_msg(strstr(why, "last said it runs 6 s ago"), "%s", why);
    tm_heartbeat_stop(&t);
    ck_assert_int_eq(tm_heartbeat_read(dir, &hb, &err), 1);
    ck_assert(!hb.running && !tm_heartbeat_alive(&hb, tm_time_now(), why, sizeof why));
    tmt_tempdir_remove(dir);
}
END_TEST

START_TEST(metrics_text)
{
    tm_capture_stats st;
    tm_stats_init(&st, 10);
    atomic_store(&st.tx, 3);
    atomic_store(&st.last_commit_time, tm_time_now());
    tm_stats_fsync(&st, 300000);
    tm_stats_fsync(&st, 7000000);
    tm_stats_error(&st, TM_ERRKIND_CONNECTION);
    tm_slot_info si = {
        .exists = true, .restart_lsn = 100, .server_lsn = 4196, .max_keep_bytes = -1};
    snprintf(si.wal_status, sizeof si.wal_status, "extended");
    tm_stats_slot(&st, &si);
    tm_buf b = {0};
    tm_error err;
    ck_assert_int_eq(tm_metrics_render(&st, &b, &err), 0);
    ck_assert_int_eq(tm_buf_reserve(&b, 1, &err), 0);
    b.p[b.len] = '\0';
    const char *text = (const char *)b.p;
    const char *want[] = {"tidemark_transactions_total 3\n",
                          "tidemark_journal_fsync_duration_seconds_bucket{le=\"0.0005\"} 1\n",
                          "tidemark_journal_fsync_duration_seconds_bucket{le=\"0.01\"} 2\n",
                          "tidemark_journal_fsync_duration_seconds_count 2\n",
                          "tidemark_errors_total{kind=\"connection\"} 1\n",
                          "tidemark_slot_retained_wal_bytes 4096\n",
                          "tidemark_slot_wal_status{status=\"extended\"} 1\n"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(text, want[i]), "no %s in\n%s", want[i], text);
    ck_assert_msg(!strstr(text, "tidemark_slot_max_wal_keep_bytes"), "%s", text);
    if (access("/usr/bin/promtool", X_OK) == 0) {
        tm_run_opts o = {.input = text};
        const char *argv[] = {"promtool", "check", "metrics", NULL};
        tm_run_result r;
        tm_runv(argv, &o, &r);
        tm_assert_exit(&r, 0);
        tm_run_result_free(&r);
    }
    tm_buf_free(&b);
}
END_TEST

START_TEST(listen_addresses)
{
    tm_error err;
    const char *good[] = {"127.0.0.1:9187", ":9187", "[::1]:9187", "0.0.0.0:1"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(tm_metrics_listen_check(good[i], &err) == 0, "%s: %s", good[i], err.msg);
    const char *bad[] = {"9187",        "localhost:9187",  "1.2.3:99",
                         "127.0.0.1:0", "127.0.0.1:65536", "[::1]:99x",
                         "::1:9187",    "127.0.0.1:"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(tm_metrics_listen_check(bad[i], &err) != 0, "%s taken", bad[i]);
        ck_assert_int_eq(err.code, TM_ERR_USAGE);
    }
}
END_TEST

int main(void)
{
    return tm_check_main(
        "monitor", "monitor", 0,
        TM_TESTS(lag_track, lag_seconds, wal_risk, heartbeat_file, metrics_text, listen_addresses));
}
