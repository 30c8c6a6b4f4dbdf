/* Capture from a hot standby, and across a failover, against a real
 * primary and standby (tests/harness: a base backup by the low-level
 * backup API). What works depends on the major (TM_PG_MAJOR):
 *   - from a standby (16+): the slot on the standby, the settings it needs
 *     checked, replay equal to the primary's tables; refused on 14-15;
 *   - a failover (17+, --failover-slot): the slot synchronised to the
 *     standby, the standby promoted in the middle of a workload, capture
 *     on a multi-host conninfo (target_session_attrs=read-write) goes on
 *     with nothing lost or duplicated; --failover-slot refused before 17;
 *   - a failover before 17: the slot is lost, capture records a gap and
 *     exits 1, --reseed goes on. */
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
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

#include <time.h>
/* TM_STANDBY_DEBUG=1: when each phase ends, on stderr. */
static void phase(const char *what)
{
    static struct timespec t0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (!t0.tv_sec)
        t0 = t;
    if (getenv("TM_STANDBY_DEBUG"))
        fprintf(stderr, "%7.2f s %s\n",
                (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9, what);
}

static int major(void)
{
    return atoi(tm_pg_major());
}

/* A conninfo naming both servers, for the one that is read-write. */
static char *pair_conninfo(const tm_pg *a, const tm_pg *b, const char *db)
{
    char *ci = malloc(2048);
    ck_assert_ptr_nonnull(ci);
    snprintf(ci, 2048,
             "host=%s,%s port=%d,%d user=postgres dbname=%s target_session_attrs=read-write",
             a->socket_dir, b->socket_dir, a->port, b->port, db);
    return ci;
}

/* Sets a setting of a running server (ALTER SYSTEM, reload). */
static void set_conf(const tm_pg *pg, const char *name, const char *value)
{
    PGconn *c = tm_pg_connect(pg, NULL);
    if (value)
        tm_pg_exec(c, "ALTER SYSTEM SET %s = '%s'", name, value);
    else
        tm_pg_exec(c, "ALTER SYSTEM RESET %s", name);
    tm_pg_exec(c, "SELECT pg_reload_conf()");
    PQfinish(c);
    usleep(300000); /* the postmaster rereads it asynchronously */
}

/* Runs capture once (to --endpos when given) and returns its result. */
static void capture_once(tm_run_result *r, const char *journal, const char *ci, const char *endpos,
                         const char *extra)
{
    tm_run_opts o = {.timeout_ms = 120000};
    const char *args[16] = {
        "capture",       "--journal", journal,           "--source",      ci,        "--table",
        "public.events", "--table",   "public.expected", "--publication", "tidemark"};
    int n = 11;
    if (endpos) {
        args[n++] = "--endpos";
        args[n++] = endpos;
    }
    if (extra)
        args[n++] = extra;
    args[n] = NULL;
    tm_tidemarkv(r, &o, args);
}

/* Waits until capture pid has created its slot on the standby, hastening
 * the primary's next running-transactions record, which a slot on a
 * standby waits for. */
static void nudge_until_slot(PGconn *primary, PGconn *standby, const char *slot, pid_t pid,
                             const char *journal)
{
    for (int i = 0; i < 600; i++) {
        tm_pg_exec(primary, "SELECT pg_log_standby_snapshot()");
        PGresult *r = tm_pg_query(
            standby, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s' AND active",
            slot);
        int there = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (there)
            return;
        ck_assert_msg(tmc_wait_exit(pid, 0) == -1, "capture exited; its log:\n%s",
                      tmf_log_tail(journal));
        usleep(100000);
    }
    ck_abort_msg("no slot on the standby after 60 s; capture's log:\n%s", tmf_log_tail(journal));
}

/* A standby of primary whose physical slot is sb1, with hot_standby_feedback. */
static void start_standby(tm_pg *sb, const tm_pg *primary, const char *extra)
{
    char conf[1024], err[2048];
    /* (a quick reconnect after the primary restarts) */
    snprintf(conf, sizeof conf,
             "hot_standby_feedback = on\nwal_retrieve_retry_interval = 200ms\n%s",
             extra ? extra : "");
    ck_assert_msg(tm_pg_start_standby(sb, primary, "sb1", conf, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(tm_pg_wait_replay(sb, primary, 60000, err, sizeof err) == 0, "%s", err);
}

START_TEST(capture_from_standby)
{
    tm_pg primary, standby;
    char err[2048];
    ck_assert_msg(tm_pg_start(&primary, NULL, err, sizeof err) == 0, "%s", err);
    PGconn *pc;
    char *pci = tmf_setup_db(&primary, "sbcap", 0, &pc);
    tm_pg_exec(pc, "CREATE PUBLICATION tidemark FOR TABLE events, expected");
    tmt_rng rng = {41};
    tmf_commit(pc, 20, &rng);
    start_standby(&standby, &primary, NULL);
    phase("standby started");
    char *sci = tm_pg_conninfo(&standby, "sbcap");
    PGconn *sc = tm_pg_connect(&standby, "sbcap");
    char *j = tmt_journal_path();
    tm_run_result r;

    if (major() < 16) {
        /* No logical decoding in recovery before 16: said, nothing left. */
        capture_once(&r, j, sci, NULL, NULL);
        tm_assert_exit(&r, 1);
        ck_assert_msg(strstr(r.err, "standby") && strstr(r.err, "16"), "%s", r.err);
        ck_assert_int_eq(access(j, F_OK), -1);
        tm_run_result_free(&r);
        goto out;
    }

    /* The settings it needs, each named with its fix: wal_level = logical
     * on the primary (known only to the server: said when the slot is
     * made), hot_standby_feedback on the standby. */
    set_conf(&primary, "wal_level", "replica");
    ck_assert_msg(tm_pg_restart(&primary, "fast", err, sizeof err) == 0, "%s", err);
    PQfinish(pc);
    pc = tm_pg_connect(&primary, "sbcap");
    ck_assert_msg(tm_pg_wait_replay(&standby, &primary, 60000, err, sizeof err) == 0, "%s", err);
    capture_once(&r, j, sci, NULL, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "wal_level = logical in the primary"), "%s", r.err);
    phase("wal_level refused");
    ck_assert_int_eq(access(j, F_OK), -1);
    tm_run_result_free(&r);
    set_conf(&primary, "wal_level", NULL);
    ck_assert_msg(tm_pg_restart(&primary, "fast", err, sizeof err) == 0, "%s", err);
    PQfinish(pc);
    pc = tm_pg_connect(&primary, "sbcap");
    ck_assert_msg(tm_pg_wait_replay(&standby, &primary, 60000, err, sizeof err) == 0, "%s", err);
    set_conf(&standby, "hot_standby_feedback", "off");
    capture_once(&r, j, sci, NULL, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "hot_standby_feedback"), "%s", r.err);
    phase("feedback refused");
    ck_assert_int_eq(access(j, F_OK), -1);
    tm_run_result_free(&r);
    set_conf(&standby, "hot_standby_feedback", NULL);
    capture_once(&r, j, sci, NULL, "--failover-slot");
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "--failover-slot") && strstr(r.err, "standby"), "%s", r.err);
    tm_run_result_free(&r);

    /* A workload on the primary while the first run on the standby makes
     * its slot and base snapshot, then streams: every transaction in the
     * snapshot or the journal, once. */
    tmf_workload w;
    tmf_workload_start(&w, pci, 42);
    const char *extra[] = {"--publication", "tidemark", NULL};
    pid_t pid = tmf_spawn(j, sci, NULL, extra);
    nudge_until_slot(pc, sc, "tidemark_sbcap", pid, j);
    phase("slot on standby");
    usleep(1500000);
    tmf_workload_stop(&w);
    char *lsn = tmc_current_lsn(pc);
    ck_assert_msg(tm_pg_wait_replay(&standby, &primary, 60000, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(tmc_wait_confirmed(sc, "tidemark_sbcap", lsn, 60000),
                  "capture on the standby did not confirm %s; its log:\n%s", lsn, tmf_log_tail(j));
    free(lsn);
    tmc_stop(pid, j);
    if (getenv("TM_STANDBY_DEBUG"))
        fprintf(stderr, "%s\n", tmc_log(j));
    /* Exactly once, and replay equal to the primary's table. */
    tmf_audit a;
    tmf_oracle(pc, j, "standby capture", &a);
    ck_assert_int_gt(a.checked, 20);

    /* 17+: a failover slot on the primary, with this standby in --source,
     * which does not synchronise slots: what it lacks is named. */
    if (major() >= 17) {
        set_conf(&primary, "synchronized_standby_slots", "sb1");
        char *pair = pair_conninfo(&primary, &standby, "sbcap");
        char *j2 = tmt_journal_path();
        lsn = tmc_current_lsn(pc);
        tm_run_opts o = {.timeout_ms = 120000};
        tm_tidemark(&r, &o, "capture", "--journal", j2, "--source", pair, "--slot", "tidemark_fo2",
                    "--table", "public.events", "--publication", "fo2", "--failover-slot",
                    "--endpos", lsn, NULL);
        tm_assert_exit(&r, 0);
        ck_assert_msg(strstr(r.err, "does not synchronise the slot") &&
                          strstr(r.err, "sync_replication_slots = on") && strstr(r.err, "dbname"),
                      "%s", r.err);
        tm_run_result_free(&r);
        tmt_journal_remove(j2);
        free(lsn);
        free(pair);
    }
out:
    PQfinish(sc);
    PQfinish(pc);
    tm_pg_stop(&standby);
    tm_pg_stop(&primary);
    tmt_journal_remove(j);
    free(sci);
    free(pci);
}
END_TEST

/* Waits until the standby holds a persistent synchronised copy of slot. */
static void wait_synced(const tm_pg *sb, const char *slot, const char *journal)
{
    PGconn *c = tm_pg_connect(sb, NULL);
    for (int i = 0; i < 600; i++) {
        PGresult *r = tm_pg_query(c,
                                  "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                                  "'%s' AND synced AND NOT temporary",
                                  slot);
        int there = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (there) {
            PQfinish(c);
            return;
        }
        usleep(100000);
    }
    size_t n = 0;
    char *log = (char *)tmt_slurp(sb->logfile, &n);
    ck_abort_msg("slot %s not synchronised to the standby after 60 s; capture's log:\n%s\nthe "
                 "standby's log:\n%s",
                 slot, tmf_log_tail(journal),
                 log && n > 2000 ? log + n - 2000
                 : log           ? log
                                 : "");
}

START_TEST(failover)
{
    tm_pg a, b;
    char err[2048], conf[1024];
    tm_run_result r;
    bool sync = major() >= 17;
    ck_assert_msg(tm_pg_start(&a, NULL, err, sizeof err) == 0, "%s", err);
    PGconn *ac;
    free(tmf_setup_db(&a, "sbfo", 0, &ac));
    /* 17+: the standby synchronises failover slots (it needs a dbname to
     * reach the primary's slots). */
    snprintf(conf, sizeof conf,
             "primary_conninfo = 'host=%s port=%d user=postgres dbname=postgres "
             "application_name=sb1'\n%s",
             a.socket_dir, a.port, sync ? "sync_replication_slots = on" : "");
    start_standby(&b, &a, conf);
    phase("failover: standby started");
    char *ci = pair_conninfo(&a, &b, "sbfo");
    char *j = tmt_journal_path();
    capture_once(&r, j, ci, NULL, "--failover-slot");
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, sync ? "synchronized_standby_slots" : "17 or later"), "%s", r.err);
    ck_assert_int_eq(access(j, F_OK), -1);
    tm_run_result_free(&r);
    if (sync)
        set_conf(&a, "synchronized_standby_slots", "sb1");

    /* The first run, then capture streaming while a workload runs, on
     * whichever server is read-write. */
    char *lsn = tmc_current_lsn(ac);
    capture_once(&r, j, ci, lsn, sync ? "--failover-slot" : NULL);
    tm_assert_exit(&r, 0);
    if (sync)
        ck_assert_msg(strstr(r.err, "synchronises failover slots"), "%s", r.err);
    tm_run_result_free(&r);
    free(lsn);
    const char *fo[] = {"--failover-slot", NULL};
    pid_t pid = tmf_spawn(j, ci, NULL, sync ? fo : NULL);
    tmf_workload w;
    tmf_workload_start(&w, ci, 51);
    tmf_wait_streaming(j, pid);
    phase("failover: streaming");
    if (sync) {
        wait_synced(&b, "tidemark_sbfo", j);
        phase("failover: synced");
        /* The copy on the standby cannot be read before a promotion: said. */
        char *bci = tm_pg_conninfo(&b, "sbfo");
        capture_once(&r, j, bci, NULL, NULL);
        tm_assert_exit(&r, 1);
        ck_assert_msg(strstr(r.err, "synchronised copy"), "%s", r.err);
        tm_run_result_free(&r);
        free(bci);
    }
    usleep(1000000);

    /* The primary goes away, the standby is promoted, the workload goes on there. */
    PQfinish(ac);
    tmc_server_down(&a, "fast");
    ck_assert_msg(tm_pg_promote(&b, err, sizeof err) == 0, "%s", err);
    phase("failover: promoted");
    usleep(1500000);
    PGconn *bc = tm_pg_connect(&b, "sbfo");
    tmf_audit sum = {0}, au;
    if (sync) {
        /* The synchronised slot goes on: exactly once over the whole run. */
        tmf_workload_pause(&w);
        tmf_check_caught_up(bc, j, pid, "tidemark_sbfo", "failover", &sum);
        phase("failover: caught up");
        tmf_workload_stop(&w);
        tmc_stop(pid, j);
        if (getenv("TM_STANDBY_DEBUG"))
            fprintf(stderr, "%s\n", tmc_log(j));
        ck_assert_msg(strstr(tmc_log(j), "reconnected to"), "%s", tmf_log_tail(j));
        tmf_oracle(bc, j, "failover", &au);
        tmf_matrix("failover (promotion mid-workload)", 1, &au);
        phase("failover: oracle");
    } else {
        /* The slot stayed behind on the old primary: a gap, said. */
        int st = tmc_wait_exit(pid, 90000);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
                      "capture did not stop at the lost slot (status %d); its log:\n%s", st,
                      tmf_log_tail(j));
        ck_assert_msg(strstr(tmc_log(j), "gap") && strstr(tmc_log(j), "failover"), "%s",
                      tmf_log_tail(j));
        uint64_t gl, ge;
        char *why = NULL;
        ck_assert_msg(tmc_last_gap(j, &gl, &ge, &why), "no gap recorded:\n%s", tmf_log_tail(j));
        phase("failover: gap");
        free(why);
        /* --reseed goes on in the same journal, on the new primary. */
        lsn = tmc_current_lsn(bc);
        capture_once(&r, j, ci, lsn, "--reseed");
        tm_assert_exit(&r, 0);
        phase("failover: reseeded");
        tm_run_result_free(&r);
        free(lsn);
        tmf_workload_stop(&w);
        lsn = tmc_current_lsn(bc);
        capture_once(&r, j, ci, lsn, NULL);
        tm_assert_exit(&r, 0);
        tm_run_result_free(&r);
        tm_run_opts o = {.timeout_ms = 120000};
        tm_tidemark(&r, &o, "replay", "--journal", j, "--lsn", lsn, "--table", "public.events",
                    NULL);
        tm_assert_exit(&r, 0);
        char *live = tm_pg_copy_csv(bc, "SELECT * FROM events ORDER BY id");
        ck_assert_msg(r.out_len == strlen(live) && !memcmp(r.out, live, r.out_len),
                      "replay after the reseed differs from the new primary's table");
        free(live);
        free(lsn);
        tm_run_result_free(&r);
    }
    PQfinish(bc);
    tm_pg_stop(&b);
    tm_pg_stop(&a);
    tmt_journal_remove(j);
    free(ci);
}
END_TEST

int main(void)
{
    /* A few hundred transactions a second are plenty, and spare the CPU. */
    tmf_workload_pace(5000);
    Suite *s = suite_create("pg_standby");
    tm_check_case(s, "standby", 0, TM_TESTS(capture_from_standby, failover));
    return tm_check_run(s);
}
