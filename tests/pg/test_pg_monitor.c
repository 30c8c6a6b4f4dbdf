/* Monitoring a capture on a real PostgreSQL 15: status --check gives each
 * state its monitoring-plugin exit code (OK 0 while capture runs and keeps
 * up; WARNING 1 for a lag past --warn-lag, or low disk; CRITICAL 2 for a
 * lag past --crit-lag, capture not running, the slot missing, a gap;
 * UNKNOWN 3 for a source or journal that cannot be read); status --json
 * is one valid document of schema tidemark.status/1; and /metrics, scraped
 * over HTTP from capture --metrics-listen, holds the counters and passes
 * promtool check metrics. The lag is made real: the walsender is stopped
 * (SIGSTOP) while transactions commit. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/support_net.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#define SLOT "tidemark_mon"

/* status --check of j (with --source ci when given) and the extra
 * arguments; returns its exit status, its output in r. */
static int check(tm_run_result *r, const char *j, const char *ci, const char *a1, const char *a2,
                 const char *a3, const char *a4)
{
    const char *args[16] = {"status", "--journal", j, "--check"};
    int n = 4;
    if (ci) {
        args[n++] = "--source";
        args[n++] = ci;
    }
    const char *extra[] = {a1, a2, a3, a4};
    for (int i = 0; i < 4 && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return tm_tidemarkv(r, NULL, args);
}

static void expect(const char *j, const char *ci, int code, const char *says, const char *a1,
                   const char *a2, const char *a3, const char *a4)
{
    tm_run_result r;
    check(&r, j, ci, a1, a2, a3, a4);
    tm_assert_exit(&r, code);
    ck_assert_msg(strstr(r.out, says), "status --check said:\n%s\n(expected \"%s\")\n%s", r.out,
                  says, r.err);
    tm_run_result_free(&r);
}

static int walsender_pid(PGconn *c)
{
    char *p = tm_pg_query_value(c, "SELECT active_pid FROM pg_replication_slots WHERE slot_name "
                                   "= '" SLOT "'");
    int pid = p ? atoi(p) : 0;
    free(p);
    ck_assert_int_gt(pid, 0);
    return pid;
}

START_TEST(states_and_metrics)
{
    tm_pg *pg = tm_pg_shared();
    PGconn *c;
    char *ci = tmc_setup_db(pg, "mon", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_wait_slot_active(c, SLOT, false);

    /* A journal whose capture stopped. */
    expect(j, NULL, 2, "TIDEMARK CRITICAL - capture is not running: capture stopped cleanly", NULL,
           NULL, NULL, NULL);

    int port = tm_free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid_t pid = tmc_spawn(j, ci, "--status-interval", "1", "--metrics-listen", listen, NULL);
    tmc_wait_slot_active(c, SLOT, true);
    tmc_commit(c, 3);
    char *lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, SLOT, lsn, 30000), "%s", tmc_log(j));
    free(lsn);
    usleep(1500000); /* a heartbeat after the commits */

    expect(j, ci, 0, "TIDEMARK OK - capture running", NULL, NULL, NULL, NULL);
    expect(j, ci, 1, "TIDEMARK WARNING - ", "--warn-disk", "100", "--crit-disk", "0");
    expect(j, ci, 2, "TIDEMARK CRITICAL - ", "--warn-disk", "100", "--crit-disk", "100");
    expect(j, "host=127.0.0.1 port=1 dbname=mon connect_timeout=2", 3,
           "TIDEMARK UNKNOWN - the source cannot be asked about the slot", NULL, NULL, NULL, NULL);
    expect("/nonexistent/journal", NULL, 3, "TIDEMARK UNKNOWN - the journal cannot be read", NULL,
           NULL, NULL, NULL);

    /* JSON: valid, versioned, with what a monitor needs. */
    tm_run_result r;
    tm_tidemark(&r, NULL, "status", "--journal", j, "--source", ci, "--json", NULL);
    tm_assert_exit(&r, 0);
    const char *keys[] = {"\"schema\": \"tidemark.status/1\"",
                          "\"running\": true",
                          "\"retained_wal_bytes\": ",
                          "\"oldest_recoverable_time\": ",
                          "\"capture_start_time\": ",
                          "\"gaps\": []",
                          "\"status\": \"OK\""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ck_assert_msg(strstr(r.out, keys[i]), "no %s in\n%s", keys[i], r.out);
    tm_run_opts jo = {.input = r.out};
    const char *pyargv[] = {"python3", "-c",
                            "import json,sys; d=json.load(sys.stdin); "
                            "assert d['lag']['seconds'] < 5, d['lag']",
                            NULL};
    tm_run_result py;
    tm_runv(pyargv, &jo, &py);
    tm_assert_exit(&py, 0);
    tm_run_result_free(&py);
    tm_run_result_free(&r);

    /* /metrics, scraped. */
    char *m = tm_http_get(port, "/metrics");
    ck_assert_msg(strstr(m, "HTTP/1.0 200") || strstr(m, "HTTP/1.1 200"), "%s", m);
    ck_assert_msg(strstr(m, "text/plain; version=0.0.4"), "%s", m);
    const char *want[] = {"\ntidemark_transactions_total 3\n",
                          "\ntidemark_changes_total 3\n",
                          "\ntidemark_lag_seconds ",
                          "\ntidemark_lag_bytes ",
                          "\ntidemark_last_commit_timestamp_seconds ",
                          "\ntidemark_journal_fsync_duration_seconds_bucket{le=\"+Inf\"} ",
                          "\ntidemark_reconnects_total 0\n",
                          "\ntidemark_errors_total{kind=\"connection\"} 0\n",
                          "\ntidemark_slot_retained_wal_bytes ",
                          "\ntidemark_slot_wal_status{status=\"reserved\"} 1\n",
                          "\ntidemark_gaps_recorded_total 0\n"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(m, want[i]), "no \"%s\" in\n%s", want[i] + 1, m);
    char *body = strstr(m, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    if (access("/usr/bin/promtool", X_OK) == 0) {
        tm_run_opts po = {.input = body + 4};
        const char *pargv[] = {"promtool", "check", "metrics", NULL};
        tm_runv(pargv, &po, &r);
        tm_assert_exit(&r, 0);
        tm_run_result_free(&r);
    } else {
        printf("test_pg_monitor: no promtool here (Debian package prometheus)\n");
    }
    free(m);
    m = tm_http_get(port, "/other");
    ck_assert_msg(strstr(m, " 404 "), "%s", m);
    free(m);

    /* A real lag: the walsender stopped while transactions commit. */
    int ws = walsender_pid(c);
    ck_assert_int_eq(kill(ws, SIGSTOP), 0);
    tmc_commit(c, 2);
    usleep(6000000);
    expect(j, NULL, 1, "TIDEMARK WARNING - lag ", "--warn-lag", "4", "--crit-lag", "1000");
    expect(j, NULL, 2, "TIDEMARK CRITICAL - lag ", "--warn-lag", "1", "--crit-lag", "4");
    ck_assert_int_eq(kill(ws, SIGCONT), 0);
    lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, SLOT, lsn, 60000), "%s", tmc_log(j));
    free(lsn);
    usleep(2500000);
    expect(j, ci, 0, "TIDEMARK OK - capture running", NULL, NULL, NULL, NULL);

    tmc_stop(pid, j);
    expect(j, ci, 2, "capture is not running: capture stopped cleanly", NULL, NULL, NULL, NULL);

    /* The slot dropped: CRITICAL; the next capture records a gap: CRITICAL. */
    tmc_wait_slot_active(c, SLOT, false);
    tm_pg_exec(c, "SELECT pg_drop_replication_slot('" SLOT "')");
    expect(j, ci, 2, "replication slot \"" SLOT "\" MISSING", NULL, NULL, NULL, NULL);
    free(tmc_capture_to_now(c, j, ci, 1));
    expect(j, NULL, 2, "the journal ends with a gap from ", NULL, NULL, NULL, NULL);

    tm_pg_done(c, ci, j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_monitor");
    TCase *tc = tcase_create("monitor");
    tm_pg_fixture_add(tc);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, states_and_metrics);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
