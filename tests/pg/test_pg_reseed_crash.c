/* capture --reseed killed in its middle (the new slot made, its base
 * snapshot being copied) on a real PostgreSQL 15: the intent record
 * (DIR/reseed.pending) lets the next start roll it back (the journal ends
 * with its gap as before, the slot nothing could read is dropped), and
 * --reseed again goes on exactly; a record left after the snapshot was
 * marked is taken as complete, the slot kept. */
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

#define SLOT "tidemark_reseed_kill"

static bool slot_exists(PGconn *c)
{
    char *n = tm_pg_query_value(c, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                                   "'" SLOT "'");
    bool there = !strcmp(n, "1");
    free(n);
    return there;
}

static void check_replay_exact(PGconn *c, const char *j)
{
    char *lsn = tmc_current_lsn(c);
    tm_run_result r;
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--lsn", lsn, "--table", "events", NULL);
    tm_assert_exit(&r, 0);
    char *live = tm_pg_copy_csv(c, "SELECT * FROM events ORDER BY id");
    ck_assert_msg(strcmp(r.out, live) == 0, "replay differs from the live table");
    free(live);
    tm_run_result_free(&r);
    free(lsn);
    tm_tidemark(&r, NULL, "verify", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
}

START_TEST(kill_during_reseed)
{
    PGconn *c;
    char *ci = tmc_setup_db(tm_pg_shared(), "reseed_kill", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_commit(c, 3);
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_wait_slot_active(c, SLOT, false);
    tm_pg_exec(c, "SELECT pg_drop_replication_slot('" SLOT "')");
    tmc_commit(c, 4); /* lost: no slot kept them */
    char *out = tmc_capture_to_now(c, j, ci, 1);
    ck_assert_msg(strstr(out, "gap"), "%s", out);
    free(out);

    /* Enough rows (about 80 MB of COPY text) for the reseed's base
     * snapshot to take a while: it is killed while its COPY runs, after it
     * made its slot. */
    tm_pg_exec(c, "INSERT INTO events SELECT 1000000 + g, repeat('x', 2000) "
                  "FROM generate_series(1, 40000) g");
    pid_t pid = tmc_spawn(j, ci, "--reseed", NULL);
    char pending[4096];
    snprintf(pending, sizeof pending, "%s/reseed.pending", j);
    long long until = tm_now_ms() + 60000;
    for (;;) {
        char *w = tm_pg_query_value(c, "SELECT count(*) FROM pg_stat_activity WHERE "
                                       "state = 'active' AND query ILIKE 'COPY%%events%%'");
        bool copying = !strcmp(w, "1");
        free(w);
        if (copying && slot_exists(c) && access(pending, F_OK) == 0)
            break;
        if (tm_now_ms() >= until) {
            char *act = tm_pg_query_value(
                c, "SELECT string_agg(coalesce(wait_event_type, '-') || ' ' || "
                   "left(query, 60), E'\n') FROM pg_stat_activity WHERE datname = 'reseed_kill'");
            ck_abort_msg("the reseed did not reach its COPY (slot %d, record %d); sessions:\n%s\n"
                         "log:\n%s",
                         slot_exists(c), access(pending, F_OK) == 0, act, tmc_log(j));
        }
        usleep(5000);
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    size_t rec_len;
    unsigned char *rec = tmt_slurp(pending, &rec_len); /* for the last part */

    /* A plain start rolls the reseed back: slot dropped, record gone, the
     * journal ends with its gap as before (refused), and verifies. */
    out = tmc_capture_to_now(c, j, ci, 1);
    ck_assert_msg(strstr(out, "rolled back") && strstr(out, "gap"), "%s", out);
    free(out);
    ck_assert_msg(!slot_exists(c), "the interrupted reseed's slot is still there");
    ck_assert(access(pending, F_OK) != 0);
    tm_run_result r;
    tm_tidemark(&r, NULL, "verify", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);

    /* --reseed again goes on; replay is exact after it. */
    char *lsn = tmc_current_lsn(c);
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source", ci, "--reseed", "--endpos", lsn,
                NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "reseeded journal"), "%s", r.err);
    tm_run_result_free(&r);
    free(lsn);
    ck_assert(access(pending, F_OK) != 0);
    tmc_commit(c, 2);
    free(tmc_capture_to_now(c, j, ci, 0));
    check_replay_exact(c, j);

    /* The record left by a kill after the snapshot was marked: complete,
     * nothing rolled back, capture goes on. */
    tmt_spit(pending, rec, rec_len);
    tmc_commit(c, 1);
    out = tmc_capture_to_now(c, j, ci, 0);
    ck_assert_msg(strstr(out, "had finished") && !strstr(out, "rolled back"), "%s", out);
    free(out);
    ck_assert(access(pending, F_OK) != 0);
    ck_assert(slot_exists(c));
    check_replay_exact(c, j);

    free(rec);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_reseed_crash");
    TCase *tc = tcase_create("reseed");
    tm_pg_fixture_add(tc);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, kill_during_reseed);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
