/* Server faults under a concurrent workload: the server crashing
 * (pg_ctl stop -m immediate) mid-stream and coming back, the walsender
 * terminated; and the slot dropped, recreated or advanced
 * (pg_replication_slot_advance) while capture is down and while it
 * streams. A crash must cost nothing: capture comes back by itself and
 * every committed transaction is in the journal exactly once. A slot that
 * lost transactions for the journal must be a gap: capture exits 1 saying
 * so, the gap is recorded, nothing is appended across it (the journal
 * holds exactly what was committed before), and every later start refuses. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_fault.h"
#include "tests/harness/support_proxy.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

START_TEST(server_crashes)
{
    tm_pg pg;
    char err[256];
    ck_assert_msg(tm_pg_start(&pg, "wal_sender_timeout = 5s", err, sizeof err) == 0, "%s", err);
    PGconn *c;
    char *ci = tmf_setup_db(&pg, "fsv_crash", 0, &c);
    char *j = tmt_journal_path();
    tmf_catch_up(c, j, ci);
    tmc_wait_slot_active(c, "tidemark_fsv_crash", false);
    pid_t pid = tmf_spawn(j, ci, NULL, NULL);
    tmf_workload w;
    tmf_workload_start(&w, ci, 31);
    tmt_rng rng = {32};
    tmf_audit crash = {0}, term = {0};
    const int crashes = 4, terminations = 4;
    for (int i = 0; i < crashes; i++) {
        usleep((useconds_t)(200000 + tmt_below(&rng, 500000)));
        PQfinish(c);
        tmc_server_down(&pg, "immediate");
        usleep((useconds_t)tmt_below(&rng, 1000000));
        tmc_server_up(&pg);
        c = tm_pg_connect(&pg, "fsv_crash");
        tmf_workload_pause(&w);
        tmf_check_caught_up(c, j, pid, "tidemark_fsv_crash", "server crash", &crash);
        tmf_workload_resume(&w);
    }
    tmf_matrix_check("server: pg_ctl stop -m immediate", crashes, &crash);
    for (int i = 0; i < terminations; i++) {
        usleep((useconds_t)(200000 + tmt_below(&rng, 500000)));
        tm_pg_exec(c, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                      "WHERE slot_name = 'tidemark_fsv_crash' AND active");
        tmf_workload_pause(&w);
        tmf_check_caught_up(c, j, pid, "tidemark_fsv_crash", "walsender terminated", &term);
        tmf_workload_resume(&w);
    }
    tmf_matrix_check("server: walsender terminated", terminations, &term);
    tmf_workload_stop(&w);
    tmc_stop(pid, j);
    tmf_catch_up(c, j, ci);
    tmf_audit a;
    tmf_oracle(c, j, "server crash", &a);
    PQfinish(c);
    tm_pg_stop(&pg);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* ---- the slot changed behind capture's back --------------------------------- */

typedef enum { DROP, RECREATE, ADVANCE } slot_action;

/* Lets the workload commit for ms milliseconds. */
static void workload_for(tmf_workload *w, int ms)
{
    tmf_workload_resume(w);
    usleep((useconds_t)ms * 1000);
    tmf_workload_pause(w);
}

static void slot_scenario(slot_action action, bool streaming)
{
    static const char *const names[] = {"drop", "recreate", "advance"};
    char db[64], slot[80], kind[96];
    snprintf(db, sizeof db, "fsv_%s_%s", names[action], streaming ? "streaming" : "down");
    snprintf(slot, sizeof slot, "tidemark_%s", db);
    snprintf(kind, sizeof kind, "server: slot %s%s while %s", names[action],
             action == DROP ? "ped" : "d", streaming ? "streaming" : "capture is down");
    tm_pg *pg = tm_pg_shared();
    PGconn *c;
    char *ci = tmf_setup_db(pg, db, 0, &c);
    char *j = tmt_journal_path();
    tmf_catch_up(c, j, ci);
    tmc_wait_slot_active(c, slot, false);
    tm_proxy px;
    tm_proxy_start(&px, pg->port);
    char via[256];
    snprintf(via, sizeof via, "host=127.0.0.1 port=%d user=postgres dbname=%s", px.port, db);
    pid_t pid = tmf_spawn(j, via, NULL, NULL);
    tmc_wait_slot_active(c, slot, true);
    tmf_workload w;
    tmf_workload_start(&w, ci, 41 + action);
    workload_for(&w, 500);
    char *lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, slot, lsn, 60000), "%s", tmf_log_tail(j));
    free(lsn);
    if (streaming)
        tm_proxy_set(&px, TM_PROXY_DOWN); /* capture cannot come back for now */
    else
        tmc_stop(pid, j);
    tmc_wait_slot_active(c, slot, false);
    /* what the journal must hold: nothing committed from now on */
    tm_pg_exec(c, "CREATE TABLE before_gap AS SELECT xid FROM expected");

    workload_for(&w, 300);
    if (action == ADVANCE) {
        tm_pg_exec(c, "SELECT pg_replication_slot_advance('%s', pg_current_wal_lsn())", slot);
    } else {
        tm_pg_exec(c, "SELECT pg_drop_replication_slot('%s')", slot);
        if (action == RECREATE) {
            workload_for(&w, 200);
            tm_pg_exec(c, "SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", slot);
        }
    }
    workload_for(&w, 200);

    if (streaming)
        tm_proxy_set(&px, TM_PROXY_PASS);
    else
        pid = tmf_spawn(j, via, NULL, NULL);
    int status = tmc_wait_exit(pid, 90000);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("%s: capture went on across the gap; its log:\n%s", kind, tmf_log_tail(j));
    }
    const char *why = action == DROP ? "no longer exists" : "is ahead of the journal";
    const char *log = tmc_log(j);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1 && strstr(log, why) &&
                      strstr(log, "a gap from") &&
                      strstr(log, "Start a new journal in an empty directory"),
                  "%s: status %d; log:\n%s", kind, status, log);
    uint64_t from, to;
    char *reason;
    ck_assert_msg(tmc_last_gap(j, &from, &to, &reason) && strstr(reason, why),
                  "%s: no gap recorded", kind);
    free(reason);
    /* every later start refuses */
    tm_run_result r;
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source", ci, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "ends with a gap from"), "%s", r.err);
    tm_run_result_free(&r);

    /* nothing lost before the gap, nothing appended across it */
    tmf_workload_stop(&w);
    tm_pg_exec(c, "DELETE FROM expected WHERE xid NOT IN (SELECT xid FROM before_gap)");
    tmf_audit a;
    tmf_audit_journal(c, j, &a);
    tmf_matrix_check(kind, 1, &a);
    tm_proxy_stop(&px);
    tm_pg_exec(c,
               "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
               "WHERE slot_name = '%s'",
               slot);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}

START_TEST(slot_changed)
{
    for (int streaming = 0; streaming < 2; streaming++)
        for (slot_action a = DROP; a <= ADVANCE; a++)
            slot_scenario(a, streaming);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fault_server");
    tm_check_case(s, "crash", 600, TM_TESTS(server_crashes));
    tm_pg_fixture_add(tm_check_case(s, "slot", 600, TM_TESTS(slot_changed)));
    return tm_check_run(s);
}
