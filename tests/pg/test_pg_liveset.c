/* The live table set: a table added to the publication while capture runs
 * (ALTER PUBLICATION ... ADD TABLE) or by a new --table on restart gets a
 * snapshot of its own, so replay of it is exact from its capture start on;
 * replay before that start refuses and names it; a removed table is
 * recorded and status lists each table's start and end; a kill -9 during
 * the added table's snapshot loses and duplicates nothing. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#define LATE_ROWS 3399

/* A database with events (captured from the start) and late (3,399 rows,
 * not in the publication yet). */
static char *setup(const char *db, PGconn **c)
{
    char *ci = tmc_setup_db(tm_pg_shared(), db, c);
    tm_pg_exec(*c,
               "CREATE TABLE late (id int PRIMARY KEY, v int, note text);"
               "ALTER TABLE late REPLICA IDENTITY FULL;"
               "INSERT INTO late SELECT g, g * 3, 'row ' || g FROM generate_series(1, %d) g",
               LATE_ROWS);
    return ci;
}

/* setup, a journal path, and capture started on it with its slot active. */
static pid_t start(const char *db, PGconn **c, char **ci, char **j)
{
    *ci = setup(db, c);
    *j = tmt_journal_path();
    pid_t pid = tmc_spawn(*j, *ci, NULL);
    char slot[128];
    snprintf(slot, sizeof slot, "tidemark_%s", db);
    tmc_wait_slot_active(*c, slot, true);
    return pid;
}

/* Waits until everything committed so far is confirmed by capture. */
static void settle(PGconn *c, const char *db, const char *j)
{
    char slot[128];
    snprintf(slot, sizeof slot, "tidemark_%s", db);
    /* Some WAL after the last change, so that the stream passes it. */
    tm_pg_exec(c, "SELECT pg_logical_emit_message(false, 'noise', 'x')");
    char *lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, slot, lsn, 60000), "not confirmed; log:\n%s", tmc_log(j));
    free(lsn);
}

/* Waits until status lists the table as captured (its snapshot is
 * journaled and durable). */
static void wait_captured(PGconn *c, const char *db, const char *j, const char *table)
{
    long long until = tm_now_ms() + 60000;
    for (;;) {
        settle(c, db, j);
        tm_run_result r;
        tm_tidemark(&r, NULL, "status", "--journal", j, NULL);
        const char *line = r.out ? strstr(r.out, table) : NULL;
        bool ok = line && strstr(line, "captured from") &&
                  strstr(line, "captured from") < strchr(line, '\n');
        tm_run_result_free(&r);
        if (ok)
            return;
        ck_assert_msg(tm_now_ms() < until, "%s was never captured; log:\n%s", table, tmc_log(j));
        usleep(200000);
    }
}

/* replay of table at now equals COPY of it from the server. */
static void check_exact(PGconn *c, const char *j, const char *table)
{
    char *want = tm_pg_copy_csv(c, "SELECT * FROM %s ORDER BY 1", table);
    tm_run_result r;
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--at", "2100-01-01 00:00+00", "--table", table,
                NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(!strcmp(r.out, want), "replay of %s differs from the table: %zu bytes, not %zu",
                  table, strlen(r.out), strlen(want));
    tm_run_result_free(&r);
    free(want);
}

static char *server_now(PGconn *c)
{
    return tm_pg_query_value(c, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                                "'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
}

START_TEST(added_table_replays_exactly)
{
    PGconn *c;
    char *ci, *j;
    pid_t pid = start("ls_add", &c, &ci, &j);
    tmc_commit(c, 3);
    settle(c, "ls_add", j);
    usleep(20000);
    char *before = server_now(c);
    usleep(20000);

    tm_pg_exec(c, "ALTER PUBLICATION tidemark ADD TABLE late");
    tm_pg_exec(c, "UPDATE late SET v = -1 WHERE id = 7");
    wait_captured(c, "ls_add", j, "public.late");
    tm_pg_exec(c, "UPDATE late SET v = v + 10 WHERE id <= 100");
    tm_pg_exec(c, "DELETE FROM late WHERE id = 3000");
    tm_pg_exec(c, "INSERT INTO late VALUES (5000, 1, 'new')");
    tmc_commit(c, 2);
    settle(c, "ls_add", j);
    tmc_stop(pid, j);

    /* Exact from its capture start on: every row, not only those changed. */
    check_exact(c, j, "public.late");
    check_exact(c, j, "public.events");

    /* Before its capture start: refused, naming the start. */
    tm_run_result r;
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--at", before, "--table", "public.late", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "joined the capture set after") && strstr(r.err, "captured from"),
                  "%s", r.err);
    tm_run_result_free(&r);
    /* All tables then: events alone, late left out with the same reason. */
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--at", before, "--format", "jsonl", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(!strstr(r.out, "\"note\"") && strstr(r.err, "public.late joined the capture"),
                  "%s\n%s", r.out, r.err);
    tm_run_result_free(&r);

    /* log: a window that ends before the start is refused likewise. */
    tm_tidemark(&r, NULL, "log", "--journal", j, "--table", "public.late", "--to", before, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "joined the capture set after") && strstr(r.err, "captured from"),
                  "%s", r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "log", "--journal", j, "--table", "public.late", "--where", "id = 7",
                NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "v: -1 -> 9"), "%s", r.out);
    tm_run_result_free(&r);

    tm_tidemark(&r, NULL, "status", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "public.events") && strstr(r.out, "public.late"), "%s", r.out);
    ck_assert_msg(strstr(strstr(r.out, "public.late"), "captured from"), "%s", r.out);
    tm_run_result_free(&r);
    tm_verify_sound(j);

    free(before);
    tm_pg_done(c, ci, j);
}
END_TEST

START_TEST(new_table_option_on_restart)
{
    PGconn *c;
    char *ci = setup("ls_opt", &c), *j = tmt_journal_path();
    char *out = tmc_capture_to_now(c, j, ci, 0);
    free(out);
    tm_pg_exec(c, "UPDATE late SET v = 0 WHERE id = 1");

    pid_t pid = tmc_spawn(j, ci, "--table", "public.late", NULL);
    tmc_wait_slot_active(c, "tidemark_ls_opt", true);
    wait_captured(c, "ls_opt", j, "public.late");
    tm_pg_assert_value(c, "1",
                       "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'tidemark' "
                       "AND tablename = 'late'");
    tm_pg_exec(c, "UPDATE late SET note = 'after' WHERE id BETWEEN 10 AND 20");
    settle(c, "ls_opt", j);
    tmc_stop(pid, j);
    check_exact(c, j, "public.late");
    tm_pg_done(c, ci, j);
}
END_TEST

START_TEST(removed_table_recorded)
{
    PGconn *c;
    char *ci, *j;
    pid_t pid = start("ls_rm", &c, &ci, &j);
    tm_pg_exec(c, "ALTER PUBLICATION tidemark ADD TABLE late");
    wait_captured(c, "ls_rm", j, "public.late");
    tm_pg_exec(c, "UPDATE late SET v = 42 WHERE id = 5");
    settle(c, "ls_rm", j);
    char *during = server_now(c);
    char *want = tm_pg_copy_csv(c, "SELECT * FROM late ORDER BY 1");
    /* The end recorded is the last commit journaled before capture noticed
     * (with scripts/ddl-messages.sql, the ALTER PUBLICATION itself). */
    tmc_commit(c, 1);
    settle(c, "ls_rm", j);
    tm_pg_exec(c, "ALTER PUBLICATION tidemark DROP TABLE late");
    tm_pg_exec(c, "UPDATE late SET v = 43 WHERE id = 5"); /* not captured any more */
    /* The removal is noticed within the poll (2 s). */
    long long until = tm_now_ms() + 30000;
    while (!strstr(tmc_log(j), "left the capture set") && tm_now_ms() < until)
        usleep(100000);
    ck_assert_msg(strstr(tmc_log(j), "left the capture set"), "%s", tmc_log(j));
    tmc_commit(c, 1);
    settle(c, "ls_rm", j);
    tmc_stop(pid, j);

    tm_run_result r;
    tm_tidemark(&r, NULL, "status", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    const char *line = strstr(r.out, "public.late");
    ck_assert_msg(line && strstr(line, "captured from") && strstr(line, " to "), "%s", r.out);
    tm_run_result_free(&r);

    /* While it was captured: exact. */
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--at", during, "--table", "public.late", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(!strcmp(r.out, want), "replay while captured differs");
    tm_run_result_free(&r);
    /* After: refused, naming the span. */
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--at", "2100-01-01 00:00+00", "--table",
                "public.late", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "left the capture set") && strstr(r.err, "captured from"), "%s",
                  r.err);
    tm_run_result_free(&r);
    /* A checkpoint taken after it leaves it out, and replay still refuses. */
    tm_tidemark(&r, NULL, "checkpoint", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--at", "2100-01-01 00:00+00", "--table",
                "public.late", NULL);
    tm_assert_exit(&r, 1);
    tm_run_result_free(&r);
    free(want);
    free(during);
    tm_pg_done(c, ci, j);
}
END_TEST

/* kill -9 while the added table's snapshot is being taken (its temporary
 * slot waits for a transaction left open), then a restart: the snapshot is
 * owed still, taken again, and the table replays exactly. */
START_TEST(kill_during_snapshot)
{
    PGconn *c;
    char *ci, *j;
    pid_t pid = start("ls_kill", &c, &ci, &j);
    tmc_commit(c, 2);
    settle(c, "ls_kill", j);

    PGconn *open_tx = tm_pg_connect(tm_pg_shared(), "ls_kill");
    tm_pg_exec(open_tx, "BEGIN; INSERT INTO expected VALUES (0)");
    tm_pg_exec(c, "ALTER PUBLICATION tidemark ADD TABLE late");
    tm_pg_exec(c, "UPDATE late SET v = -7 WHERE id = 7");
    long long until = tm_now_ms() + 30000;
    for (;;) {
        char *n = tm_pg_query_value(c, "SELECT count(*) FROM pg_replication_slots WHERE "
                                       "slot_name LIKE 'tidemark_snapshot_%%'");
        bool there = !strcmp(n, "1");
        free(n);
        if (there)
            break;
        ck_assert_msg(tm_now_ms() < until, "no snapshot slot; log:\n%s", tmc_log(j));
        usleep(20000);
    }
    usleep(200000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    tm_pg_exec(open_tx, "COMMIT");
    PQfinish(open_tx);
    tm_pg_exec(c, "UPDATE late SET v = -8 WHERE id = 8");
    tmc_commit(c, 1);

    pid = tmc_spawn(j, ci, NULL);
    wait_captured(c, "ls_kill", j, "public.late");
    tm_pg_exec(c, "UPDATE late SET v = -9 WHERE id = 9");
    tm_pg_exec(c, "DELETE FROM late WHERE id = 10");
    tmc_commit(c, 1);
    settle(c, "ls_kill", j);
    tmc_stop(pid, j);
    check_exact(c, j, "public.late");
    check_exact(c, j, "public.events");
    tm_pg_assert_value(c, "0",
                       "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE "
                       "'tidemark_snapshot_%%'");
    tm_verify_sound(j);
    tm_pg_done(c, ci, j);
}
END_TEST

int main(void)
{
    return tm_pg_check_main("pg_liveset", "liveset", 300,
                            TM_TESTS(added_table_replays_exactly, new_table_option_on_restart,
                                     removed_table_recorded, kill_during_snapshot));
}
