/* Compaction on a real PostgreSQL 15: a captured journal compacted by
 * tidemark compact replays and logs byte for byte as before (at the end
 * and at an LSN in the middle) and equals the live table; verify finds it
 * sound; capture --compact has its background maintenance compact the
 * segments it seals while it streams. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/journal/frame.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

/* Rows of 2 kB in batches: a few MB of journal, many 1 MB segments. */
static void bulk(PGconn *c, int batches)
{
    for (int i = 0; i < batches; i++)
        tm_pg_exec(c, "INSERT INTO events SELECT coalesce((SELECT max(id) FROM events), 0) + g, "
                      "(SELECT string_agg(md5(h || (g %% 50)::text), '') FROM "
                      "generate_series(1, 64) h) FROM generate_series(1, 300) g;"
                      "UPDATE events SET v = left(v, 100) WHERE id %% 7 = 0");
}

/* The format version of the first frame of segment segno (1 LZ4, 2 zstd),
 * 0 when there is none. */
static int first_frame_version(const char *j, uint64_t segno)
{
    char *p = tmt_seg_path(j, segno);
    int fd = open(p, O_RDONLY);
    free(p);
    if (fd < 0)
        return 0;
    unsigned char b[6];
    ssize_t n = pread(fd, b, sizeof b, 32);
    close(fd);
    return n == (ssize_t)sizeof b ? b[4] | b[5] << 8 : 0;
}

static char *run_ok(const char *what, const char *a1, const char *a2, const char *a3,
                    const char *a4, const char *a5, const char *a6, const char *a7, const char *a8)
{
    tm_run_result r;
    tm_tidemark(&r, NULL, what, a1, a2, a3, a4, a5, a6, a7, a8, NULL);
    tm_assert_exit(&r, 0);
    char *out = strdup(r.out);
    tm_run_result_free(&r);
    return out;
}

START_TEST(compacted_replays_same)
{
    PGconn *c;
    char *ci = tmc_setup_db(tm_pg_shared(), "compact_same", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    pid_t pid = tmc_spawn(j, ci, "--segment-size", "1", "--checkpoint-every", "0", NULL);
    tmc_wait_slot_active(c, "tidemark_compact_same", true);
    bulk(c, 4);
    char *mid = tmc_current_lsn(c);
    bulk(c, 4);
    tmc_commit(c, 5);
    char *end = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_compact_same", end, 30000));
    tmc_stop(pid, j);
    ck_assert_int_eq(first_frame_version(j, 1), TM_FRAME_VERSION);
    ck_assert_int_gt(first_frame_version(j, 4), 0); /* several segments */

    char *at_end = run_ok("replay", "--journal", j, "--lsn", end, "--table", "events", NULL, NULL);
    char *at_mid = run_ok("replay", "--journal", j, "--lsn", mid, "--table", "events", NULL, NULL);
    char *log = run_ok("log", "--journal", j, "--table", "events", NULL, NULL, NULL, NULL);
    char *live = tm_pg_copy_csv(c, "SELECT * FROM events ORDER BY id");
    ck_assert_msg(strcmp(at_end, live) == 0, "replay differs from the live table");

    tm_run_result r;
    tm_tidemark(&r, NULL, "compact", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "compacted ") && !strstr(r.err, "compacted 0 segments"), "%s",
                  r.err);
    tm_run_result_free(&r);
    ck_assert_int_eq(first_frame_version(j, 1), TM_FRAME_VERSION_CODEC);

    char *v = run_ok("verify", "--journal", j, NULL, NULL, NULL, NULL, NULL, NULL);
    free(v);
    char *end2 = run_ok("replay", "--journal", j, "--lsn", end, "--table", "events", NULL, NULL);
    char *mid2 = run_ok("replay", "--journal", j, "--lsn", mid, "--table", "events", NULL, NULL);
    char *log2 = run_ok("log", "--journal", j, "--table", "events", NULL, NULL, NULL, NULL);
    ck_assert_msg(strcmp(end2, at_end) == 0, "replay at the end differs after compaction");
    ck_assert_msg(strcmp(mid2, at_mid) == 0, "replay in the middle differs after compaction");
    ck_assert_msg(strcmp(log2, log) == 0, "log differs after compaction");

    /* capture goes on appending to the compacted journal */
    pid = tmc_spawn(j, ci, "--segment-size", "1", "--checkpoint-every", "0", NULL);
    tmc_wait_slot_active(c, "tidemark_compact_same", true);
    tmc_commit(c, 3);
    free(end);
    end = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_compact_same", end, 30000));
    tmc_stop(pid, j);
    char *end3 = run_ok("replay", "--journal", j, "--lsn", end, "--table", "events", NULL, NULL);
    free(live);
    live = tm_pg_copy_csv(c, "SELECT * FROM events ORDER BY id");
    ck_assert_msg(strcmp(end3, live) == 0, "replay differs from the live table");
    free(end3);
    free(end2);
    free(mid2);
    free(log2);
    free(at_end);
    free(at_mid);
    free(log);
    free(live);
    free(mid);
    free(end);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* capture --compact: the maintenance run compacts what capture sealed. */
START_TEST(capture_compacts_in_background)
{
    PGconn *c;
    char *ci = tmc_setup_db(tm_pg_shared(), "compact_bg", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    pid_t pid =
        tmc_spawn(j, ci, "--segment-size", "1", "--checkpoint-every", "1", "--compact", NULL);
    tmc_wait_slot_active(c, "tidemark_compact_bg", true);
    for (int i = 0; i < 20 && first_frame_version(j, 2) != TM_FRAME_VERSION_CODEC; i++) {
        bulk(c, 2);
        usleep(500000);
    }
    for (int i = 0; i < 300 && first_frame_version(j, 2) != TM_FRAME_VERSION_CODEC; i++)
        usleep(100000);
    ck_assert_msg(first_frame_version(j, 2) == TM_FRAME_VERSION_CODEC,
                  "no segment compacted in the background; log:\n%.2500s", tmc_log(j));
    tmc_commit(c, 3);
    char *end = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_compact_bg", end, 30000));
    tmc_stop(pid, j);
    char *v = run_ok("verify", "--journal", j, NULL, NULL, NULL, NULL, NULL, NULL);
    free(v);
    char *got = run_ok("replay", "--journal", j, "--lsn", end, "--table", "events", NULL, NULL);
    char *live = tm_pg_copy_csv(c, "SELECT * FROM events ORDER BY id");
    ck_assert_msg(strcmp(got, live) == 0, "replay differs from the live table");
    free(got);
    free(live);
    free(end);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {compacted_replays_same, capture_compacts_in_background, NULL};
    Suite *s = suite_create("pg_compact");
    TCase *tc = tcase_create("compact");
    tm_pg_fixture_add(tc);
    tcase_set_timeout(tc, 300);
    for (size_t i = 0; tests[i]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
