/* capture --retention end to end on a real PostgreSQL 15: a running capture
 * with a short retention prunes by itself (its maintenance child
 * checkpoints, then prunes); replay and log at times after the horizon give
 * the bytes they gave before the prune, earlier times are refused naming
 * the horizon, and verify passes. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#define RETENTION_S 20
#define PHASES 3

/* A MB or more of journal: rows of 2 kB that LZ4 cannot shrink much. */
static void bulk(PGconn *c, int phase)
{
    tm_pg_exec(c,
               "INSERT INTO events SELECT coalesce((SELECT max(id) FROM events), 0) + g, "
               "(SELECT string_agg(md5(h || random()::text || g), '') FROM generate_series(1, 64) "
               "h) FROM generate_series(1, 700) g");
    tm_pg_exec(c, "UPDATE events SET v = 'phase %d' WHERE id %% 7 = %d", phase, phase);
    tm_pg_exec(c, "DELETE FROM events WHERE id %% 11 = %d", phase);
}

/* The maintenance child of capture pid, or 0. */
static pid_t child_of(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
    long n = tm_read_small_file(path, buf, sizeof buf);
    return n > 0 ? (pid_t)strtol(buf, NULL, 10) : 0;
}

static int count_ckpts(const char *j)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoints", j);
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".ckpt") && !strstr(e->d_name, ".tmp");
    if (d)
        closedir(d);
    return n;
}

/* Waits until capture has confirmed everything committed so far, there
 * are at least `ckpts` checkpoints, and no maintenance run is going on. */
static void settle(PGconn *c, const char *j, pid_t pid, int ckpts)
{
    char *lsn = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_retention", lsn, 30000));
    free(lsn);
    for (int i = 0; i < 600 && (count_ckpts(j) < ckpts || child_of(pid)); i++)
        usleep(100000);
    ck_assert_msg(count_ckpts(j) >= ckpts && !child_of(pid),
                  "capture's maintenance made %d checkpoints, %d expected; its log:\n%s",
                  count_ckpts(j), ckpts, tmc_log(j));
}

static char *out_of(const char *const *args, int *status)
{
    tm_run_result r;
    tm_tidemarkv(&r, NULL, args);
    *status = r.status;
    char *out = strdup(r.status == 0 ? r.out : r.err);
    tm_run_result_free(&r);
    return out;
}

START_TEST(running_capture_prunes_by_itself)
{
    PGconn *c;
    char *ci = tmc_setup_db(tm_pg_shared(), "retention", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    char ret[16];
    snprintf(ret, sizeof ret, "%ds", RETENTION_S);
    pid_t pid = tmc_spawn(j, ci, "--segment-size", "1", "--checkpoint-every", "1", "--retention",
                          ret, NULL);
    tmc_wait_slot_active(c, "tidemark_retention", true);

    /* Phases well within the retention: nothing is old enough to go. */
    char *t[PHASES];
    for (int i = 0; i < PHASES; i++) {
        bulk(c, i);
        t[i] = tm_pg_query_value(c, "SELECT clock_timestamp()");
        settle(c, j, pid, i + 1);
    }
    char hz[4096];
    snprintf(hz, sizeof hz, "%s/horizon", j);
    ck_assert_msg(access(hz, F_OK) != 0, "pruned within the retention; log:\n%s", tmc_log(j));
    char *end = tm_pg_query_value(c, "SELECT clock_timestamp()"); /* log windows end here */
    char *replay_before[PHASES], *log_before[PHASES];
    for (int i = 0; i < PHASES; i++) {
        int st;
        const char *rp[] = {"replay", "--journal", j, "--at", t[i], "--table", "events", NULL};
        replay_before[i] = out_of(rp, &st);
        ck_assert_int_eq(st, 0);
        const char *lg[] = {"log",  "--journal", j,          "--from", t[i],
                            "--to", end,         "--format", "jsonl",  NULL};
        log_before[i] = out_of(lg, &st);
        ck_assert_int_eq(st, 0);
    }

    /* Past the retention of the first phases: the next maintenance run
     * (started by more journal) prunes on its own. */
    sleep(RETENTION_S + 1);
    bulk(c, PHASES);
    settle(c, j, pid, 0); /* (prune removes the checkpoints before the horizon) */
    for (int i = 0; i < 600 && (access(hz, F_OK) != 0 || child_of(pid)); i++)
        usleep(100000);
    ck_assert_msg(access(hz, F_OK) == 0, "capture did not prune by itself; log:\n%s", tmc_log(j));
    ck_assert_msg(!child_of(pid), "the maintenance run did not end");
    char seg1[4096];
    snprintf(seg1, sizeof seg1, "%s/0000000000000001.seg", j);
    ck_assert_msg(access(seg1, F_OK) != 0, "the first segment is still there");

    int kept = 0, refused = 0;
    for (int i = 0; i < PHASES; i++) {
        int st;
        const char *rp[] = {"replay", "--journal", j, "--at", t[i], "--table", "events", NULL};
        char *now = out_of(rp, &st);
        const char *lg[] = {"log",  "--journal", j,          "--from", t[i],
                            "--to", end,         "--format", "jsonl",  NULL};
        int lst;
        char *lnow = out_of(lg, &lst);
        if (st == 0) {
            ck_assert_msg(!strcmp(now, replay_before[i]), "replay at T%d differs after the prune",
                          i);
            ck_assert_int_eq(lst, 0);
            ck_assert_msg(!strcmp(lnow, log_before[i]), "log from T%d differs after the prune", i);
            kept++;
        } else {
            /* refused naming the horizon, its time and LSN */
            ck_assert_int_eq(st, 1);
            ck_assert_msg(strstr(now, "before the retention horizon") && strstr(now, "LSN"),
                          "T%d: %s", i, now);
            ck_assert_int_eq(lst, 1);
            ck_assert_msg(strstr(lnow, "before the retention horizon"), "T%d: %s", i, lnow);
            ck_assert_msg(kept == 0, "T%d refused after a later time was kept", i);
            refused++;
        }
        free(now);
        free(lnow);
    }
    ck_assert_msg(refused > 0 && kept > 0, "refused %d, kept %d of %d times", refused, kept,
                  PHASES);
    tm_run_result r;
    tm_tidemark(&r, NULL, "verify", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    tmc_stop(pid, j);

    for (int i = 0; i < PHASES; i++) {
        free(t[i]);
        free(replay_before[i]);
        free(log_before[i]);
    }
    free(end);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_retention");
    TCase *tc = tcase_create("retention");
    tm_pg_fixture_add(tc);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, running_capture_prunes_by_itself);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
