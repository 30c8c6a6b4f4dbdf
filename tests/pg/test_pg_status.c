/* tidemark status --source against a real PostgreSQL 15: with a healthy
 * slot it exits 0 and shows the slot; after pg_drop_replication_slot it
 * exits 1 with a message naming the slot, saying what it means and what to
 * do; a slot whose WAL is gone (wal_status = lost, past
 * max_slot_wal_keep_size) exits 1 likewise. The journal's own summary is
 * shown in every case. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

/* A database with one captured table and a journal of it, its slot
 * tidemark_<name> left inactive. */
static char *captured_db(const char *name, PGconn **c, char **journal)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, name);
    *c = tm_pg_connect(pg, name);
    tm_pg_exec(*c, "CREATE TABLE prefs (id int PRIMARY KEY, v text);"
                   "ALTER TABLE prefs REPLICA IDENTITY FULL;"
                   "INSERT INTO prefs VALUES (1, 'a'), (2, 'b')");
    char *ci = tm_pg_conninfo(pg, name);
    *journal = tmt_journal_path();
    char *lsn = tm_pg_query_value(*c, "SELECT pg_current_wal_lsn()");
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 120000};
    tm_tidemark(&r, &o, "capture", "--journal", *journal, "--source", ci, "--table", "prefs",
                "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);
    return ci;
}

/* Waits (up to 30 s) until the walsender of the capture that exited has
 * let go of the slot, so that it can be dropped. */
static void wait_inactive(PGconn *c, const char *slot)
{
    for (int i = 0; i < 300; i++) {
        char *a = tm_pg_query_value(
            c, "SELECT active FROM pg_replication_slots WHERE slot_name = '%s'", slot);
        bool done = a && a[0] == 'f';
        free(a);
        if (done)
            return;
        usleep(100000);
    }
    ck_abort_msg("slot %s stayed active", slot);
}

static void status(tm_run_result *r, const char *journal, const char *ci)
{
    tm_tidemark(r, NULL, "status", "--journal", journal, "--source", ci, NULL);
}

START_TEST(healthy_then_dropped)
{
    PGconn *c;
    char *j, *ci = captured_db("st_drop", &c, &j);
    tm_run_result r;
    status(&r, j, ci);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "slot:          \"tidemark_st_drop\" ") &&
                      strstr(r.out, "wal_status reserved") && strstr(r.out, "confirmed:"),
                  "%s", r.out);
    ck_assert_msg(!strstr(r.out, "MISSING") && r.err_len == 0, "%s\n%s", r.out, r.err);
    tm_run_result_free(&r);

    wait_inactive(c, "tidemark_st_drop");
    tm_pg_exec(c, "SELECT pg_drop_replication_slot('tidemark_st_drop')");
    status(&r, j, ci);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.out, "tables:") && strstr(r.out, "\"tidemark_st_drop\" MISSING"), "%s",
                  r.out);
    ck_assert_msg(strstr(r.err, "replication slot \"tidemark_st_drop\" does not exist") &&
                      strstr(r.err, "capture cannot resume journal") &&
                      strstr(r.err, "Start a new journal"),
                  "%s", r.err);
    tm_run_result_free(&r);
    tm_pg_done(c, ci, j);
}
END_TEST

START_TEST(wal_lost)
{
    PGconn *c;
    char *j, *ci = captured_db("st_lost", &c, &j);
    wait_inactive(c, "tidemark_st_lost");
    /* Keep at most 1 MB for slots, then write past it: the next checkpoint
     * invalidates the slot. */
    tm_pg_exec(c, "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    tm_pg_exec(c, "SELECT pg_reload_conf()");
    char *ws = NULL;
    for (int i = 0; i < 20 && !(ws && !strcmp(ws, "lost")); i++) {
        free(ws);
        for (int k = 0; k < 3; k++) {
            tm_pg_exec(c, "INSERT INTO prefs VALUES (%d, 'x')", 100 + i * 3 + k);
            tm_pg_exec(c, "SELECT pg_switch_wal()");
        }
        tm_pg_exec(c, "CHECKPOINT");
        ws = tm_pg_query_value(c, "SELECT coalesce(wal_status, '') FROM pg_replication_slots "
                                  "WHERE slot_name = 'tidemark_st_lost'");
    }
    tm_pg_exec(c, "ALTER SYSTEM RESET max_slot_wal_keep_size");
    tm_pg_exec(c, "SELECT pg_reload_conf()");
    ck_assert_msg(ws && !strcmp(ws, "lost"), "wal_status is '%s', not lost", ws ? ws : "(none)");
    free(ws);

    tm_run_result r;
    status(&r, j, ci);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.out, "wal_status lost  LOST"), "%s", r.out);
    ck_assert_msg(strstr(r.err, "replication slot \"tidemark_st_lost\" has lost WAL") &&
                      strstr(r.err, "Start a new journal"),
                  "%s", r.err);
    tm_run_result_free(&r);
    tm_pg_exec(c, "SELECT pg_drop_replication_slot('tidemark_st_lost')");
    tm_pg_done(c, ci, j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_status");
    TCase *tc = tcase_create("status");
    tm_pg_fixture_add(tc);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, healthy_then_dropped);
    tcase_add_test(tc, wal_lost);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
