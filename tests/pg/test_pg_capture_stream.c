/* Large transactions streamed while in progress (pgoutput proto_version 2,
 * streaming on): with logical_decoding_work_mem at 64kB, a transaction of
 * tens of megabytes with savepoints rolled back (nested ones too), a
 * transaction that commits in the middle of it, and a large transaction
 * that rolls back. The journal must replay to exactly what the table holds
 * (COPY), verify must pass, no spool may be left, and the server must have
 * streamed (stream_bytes > 0) without ever spilling to its own disk
 * (pg_stat_replication_slots.spill_bytes = 0). */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

static void capture_to_now(PGconn *c, const char *journal, const char *ci)
{
    char *lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 300000};
    tm_tidemark(&r, &o, "capture", "--journal", journal, "--source", ci, "--table", "public.big",
                "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);
}

static int stream_spools(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, "stream-", 7) == 0;
    closedir(d);
    return n;
}

START_TEST(large_transactions_streamed)
{
    tm_pg pg;
    char err[2048];
    ck_assert_msg(tm_pg_start(&pg, "logical_decoding_work_mem = 64kB", err, sizeof err) == 0, "%s",
                  err);
    tm_pg_createdb(&pg, "app");
    PGconn *c = tm_pg_connect(&pg, "app");
    PGconn *other = tm_pg_connect(&pg, "app");
    tm_pg_exec(c, "CREATE TABLE big (id int PRIMARY KEY, v text, n int)");
    tm_pg_exec(c, "ALTER TABLE big REPLICA IDENTITY FULL");
    tm_pg_exec(c, "INSERT INTO big SELECT g, 'base ' || g, 0 FROM generate_series(1, 100) g");
    char *d = tmt_tempdir();
    char *journal = tmt_path(d, "journal");
    char *ci = tm_pg_conninfo(&pg, "app");
    capture_to_now(c, journal, ci);

    /* About 30 MB of changes, far above the 64kB that makes the server stream. */
    tm_pg_exec(c, "BEGIN");
    tm_pg_exec(c, "INSERT INTO big SELECT g, repeat('x', 200) || g, 1 "
                  "FROM generate_series(1000, 60000) g");
    tm_pg_exec(c, "SAVEPOINT a");
    tm_pg_exec(c, "INSERT INTO big SELECT g, 'rolled back ' || g, 2 "
                  "FROM generate_series(100000, 120000) g");
    tm_pg_exec(c, "SAVEPOINT a_inner");
    tm_pg_exec(c, "UPDATE big SET v = 'rolled back too', n = 3 WHERE id <= 30000");
    tm_pg_exec(c, "RELEASE a_inner");
    tm_pg_exec(c, "ROLLBACK TO a");
    /* Committed by someone else while the large one is open (and streamed). */
    tm_pg_exec(other, "INSERT INTO big VALUES (500, 'committed in the middle', 4)");
    tm_pg_exec(c, "SAVEPOINT b");
    tm_pg_exec(c, "UPDATE big SET v = v || ' kept', n = 5 WHERE id %% 7 = 0");
    tm_pg_exec(c, "RELEASE b");
    tm_pg_exec(c, "SAVEPOINT c");
    tm_pg_exec(c, "DELETE FROM big WHERE id BETWEEN 2000 AND 12000");
    tm_pg_exec(c, "ROLLBACK TO c");
    tm_pg_exec(c, "DELETE FROM big WHERE id BETWEEN 50 AND 60");
    tm_pg_exec(c, "COMMIT");
    /* A large transaction that rolls back as a whole. */
    tm_pg_exec(c, "BEGIN");
    tm_pg_exec(c, "INSERT INTO big SELECT g, repeat('y', 200), 6 "
                  "FROM generate_series(200000, 230000) g");
    tm_pg_exec(c, "ROLLBACK");
    tm_pg_exec(c, "UPDATE big SET n = 7 WHERE id = 1");
    capture_to_now(c, journal, ci);

    char *want = tm_pg_copy_csv(c, "SELECT * FROM big ORDER BY id");
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 300000};
    tm_tidemark(&r, &o, "replay", "--journal", journal, "--at", "2999-01-01 00:00:00+00", "--table",
                "public.big", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(r.out_len == strlen(want) && memcmp(r.out, want, r.out_len) == 0,
                  "replay differs from the table: %zu bytes, want %zu", r.out_len, strlen(want));
    tm_run_result_free(&r);
    tm_tidemark(&r, &o, "verify", "--journal", journal, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    ck_assert_int_eq(stream_spools(journal), 0);
    /* Three transactions after the snapshot, the rolled-back one absent. */
    tm_tidemark(&r, &o, "log", "--journal", journal, "--transactions", NULL);
    tm_assert_exit(&r, 0);
    int lines = 0;
    for (size_t i = 0; i < r.out_len; i++)
        lines += r.out[i] == '\n';
    ck_assert_msg(lines == 4, "%s", r.out); /* and the base snapshot's line */
    ck_assert_msg(strstr(r.out, "67455 rows  public.big: 59001 insert, 8443 update, 11 delete  "
                                "MASS CHANGE (8454 rows of one table)"),
                  "%s", r.out);
    tm_run_result_free(&r);

    /* The statistics reach the view a moment after the walsender exits. */
    char *stats = NULL;
    for (int i = 0; i < 100; i++) {
        free(stats);
        stats = tm_pg_query_value(c, "SELECT coalesce((SELECT spill_bytes || ' ' || stream_bytes "
                                     "FROM pg_stat_replication_slots WHERE slot_name = "
                                     "'tidemark_app'), '0 0')");
        if (strcmp(stats, "0 0") != 0)
            break;
        usleep(100000);
    }
    long long spill = -1, streamed = -1;
    ck_assert_int_eq(sscanf(stats, "%lld %lld", &spill, &streamed), 2);
    ck_assert_msg(spill == 0 && streamed > 1000000, "spill_bytes %lld, stream_bytes %lld", spill,
                  streamed);
    free(stats);
    free(want);
    free(ci);
    free(journal);
    tmt_tempdir_remove(d);
    PQfinish(other);
    PQfinish(c);
    tm_pg_stop(&pg);
}
END_TEST

int main(void)
{
    return tm_check_main("pg_capture_stream", "stream", 600, TM_TESTS(large_transactions_streamed));
}
