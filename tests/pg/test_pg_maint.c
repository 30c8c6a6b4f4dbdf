/* Capture's self-maintenance on a real PostgreSQL 15: capture running alone
 * (no checkpoint job) makes checkpoints and key summaries in a background
 * child, verify finds them sound, replay starts from them and gives the
 * live table's bytes; a SIGKILL of the child, then of capture, leaves a
 * valid journal that goes on. */
#include <check.h>
#include <dirent.h>
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

/* Files in dir (or dir/sub) whose name ends with suffix. */
static int count_files(const char *dir, const char *sub, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        n += l > sl && strcmp(e->d_name + l - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

/* A few MB of journal: rows of 2 kB that LZ4 cannot shrink much. */
static void bulk(PGconn *c, int batches)
{
    for (int i = 0; i < batches; i++)
        tm_pg_exec(
            c,
            "INSERT INTO events SELECT coalesce((SELECT max(id) FROM events), 0) + g, "
            "(SELECT string_agg(md5(h || random()::text || g), '') FROM generate_series(1, 64) h) "
            "FROM generate_series(1, 400) g");
}

/* The first child process of pid (the maintenance run), or 0. */
static pid_t child_of(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
    long n = tm_read_small_file(path, buf, sizeof buf);
    if (n <= 0)
        return 0;
    return (pid_t)strtol(buf, NULL, 10);
}

static void wait_for_checkpoint(const char *j, pid_t capture)
{
    for (int i = 0; i < 600 && count_files(j, "checkpoints", ".ckpt") == 0; i++)
        usleep(100000);
    ck_assert_msg(count_files(j, "checkpoints", ".ckpt") > 0,
                  "capture made no checkpoint by itself; its log:\n%s", tmc_log(j));
    /* The run also builds the key summaries; wait for it to end. */
    for (int i = 0; i < 600 && child_of(capture); i++)
        usleep(100000);
}

/* replay of events at the current LSN equals COPY of the live table. */
static void check_replay_exact(PGconn *c, const char *j, bool from_checkpoint)
{
    char *lsn = tmc_current_lsn(c);
    tm_run_result r;
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--lsn", lsn, "--table", "events", "--verbose",
                NULL);
    tm_assert_exit(&r, 0);
    if (from_checkpoint)
        ck_assert_msg(strstr(r.err, "checkpoint at LSN"), "replay used no checkpoint:\n%s", r.err);
    char *live = tm_pg_copy_csv(c, "SELECT * FROM events ORDER BY id");
    ck_assert_msg(strcmp(r.out, live) == 0, "replay differs from the live table");
    free(live);
    tm_run_result_free(&r);
    free(lsn);
}

static void check_verify(const char *j)
{
    tm_run_result r;
    tm_tidemark(&r, NULL, "verify", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, ".ckpt") && strstr(r.out, ".keys"), "%s", r.out);
    tm_run_result_free(&r);
}

/* A new database (tables events, expected), a journal path, and a capture
 * run up to now. */
static char *start(const char *db, PGconn **c, char **j)
{
    char *ci = tmc_setup_db(tm_pg_shared(), db, c);
    *j = tmt_journal_path();
    free(tmc_capture_to_now(*c, *j, ci, 0));
    return ci;
}

START_TEST(capture_alone_makes_checkpoints)
{
    PGconn *c;
    char *j, *ci = start("maint_alone", &c, &j);
    pid_t pid = tmc_spawn(j, ci, "--checkpoint-every", "1", NULL);
    tmc_wait_slot_active(c, "tidemark_maint_alone", true);
    bulk(c, 6);
    tmc_commit(c, 3);
    wait_for_checkpoint(j, pid);
    char *lsn = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_maint_alone", lsn, 30000));
    free(lsn);
    tmc_stop(pid, j);
    ck_assert_msg(count_files(j, NULL, ".keys") > 0, "no key summary; log:\n%s", tmc_log(j));
    check_verify(j);
    check_replay_exact(c, j, true);
    tm_pg_done(c, ci, j);
}
END_TEST

START_TEST(kill9_of_child_then_capture)
{
    PGconn *c;
    char *j, *ci = start("maint_kill", &c, &j);
    pid_t pid = tmc_spawn(j, ci, "--checkpoint-every", "1", NULL);
    tmc_wait_slot_active(c, "tidemark_maint_kill", true);
    /* Kill the first maintenance run as soon as it shows up. */
    bool killed = false;
    for (int round = 0; round < 20 && !killed; round++) {
        bulk(c, 2);
        for (int i = 0; i < 200 && !killed; i++) {
            pid_t ch = child_of(pid);
            if (ch > 0 && kill(ch, SIGKILL) == 0)
                killed = true;
            else
                usleep(5000);
        }
    }
    ck_assert_msg(killed, "no maintenance run seen; log:\n%s", tmc_log(j));
    for (int i = 0; i < 100 && !strstr(tmc_log(j), "killed by signal 9"); i++)
        usleep(100000);
    ck_assert_msg(strstr(tmc_log(j), "maintenance run") && strstr(tmc_log(j), "killed by signal 9"),
                  "the failed run is logged:\n%s", tmc_log(j));
    /* Capture goes on streaming; then it dies too. */
    tmc_commit(c, 3);
    char *lsn = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_maint_kill", lsn, 30000));
    free(lsn);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    tmc_wait_slot_active(c, "tidemark_maint_kill", false);
    tm_verify_sound(j);
    /* The journal goes on, and a later run makes the checkpoint. */
    pid = tmc_spawn(j, ci, "--checkpoint-every", "1", NULL);
    tmc_wait_slot_active(c, "tidemark_maint_kill", true);
    bulk(c, 4);
    wait_for_checkpoint(j, pid);
    lsn = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_maint_kill", lsn, 30000));
    free(lsn);
    tmc_stop(pid, j);
    check_verify(j);
    check_replay_exact(c, j, true);
    tm_pg_done(c, ci, j);
}
END_TEST

/* Frames read by `log --stats` (its "frames: N in the journal, M read"). */
static void frames_read(const char *err, unsigned long *total, unsigned long *read)
{
    const char *p = strstr(err, "frames: ");
    ck_assert_msg(p && sscanf(p, "frames: %lu in the journal, %lu read", total, read) == 2, "%s",
                  err);
}

/* Capture records foreign keys; log by a foreign-key column (user_id, not
 * the key) then reads only the frames holding that user. */
START_TEST(lookup_by_foreign_key)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "maint_fk");
    PGconn *c = tm_pg_connect(pg, "maint_fk");
    char *ci = tm_pg_conninfo(pg, "maint_fk");
    tm_pg_exec(c, "CREATE TABLE users (id int PRIMARY KEY);"
                  "INSERT INTO users SELECT generate_series(1, 40);"
                  "CREATE TABLE events (id serial PRIMARY KEY, user_id int REFERENCES users,"
                  "  v text);"
                  "ALTER TABLE events REPLICA IDENTITY FULL");
    char *j = tmt_journal_path();
    char *lsn = tmc_current_lsn(c);
    tm_run_result r;
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source", ci, "--table", "public.events",
                "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);
    pid_t pid = tmc_spawn(j, ci, NULL);
    tmc_wait_slot_active(c, "tidemark_maint_fk", true);
    for (int i = 0; i < 40; i++) { /* one frame each: capture syncs when idle */
        tm_pg_exec(c, "INSERT INTO events (user_id, v) VALUES (%d, 'x')", 1 + i % 20);
        lsn = tmc_current_lsn(c);
        ck_assert(tmc_wait_confirmed(c, "tidemark_maint_fk", lsn, 30000));
        free(lsn);
    }
    tmc_stop(pid, j);
    unsigned long total, read;
    for (int pass = 0; pass < 2; pass++) { /* the first builds the summary */
        tm_tidemark(&r, NULL, "log", "--journal", j, "--table", "events", "--where", "user_id = 7",
                    "--stats", NULL);
        tm_assert_exit(&r, 0);
        ck_assert_msg(strstr(r.out, "user_id") || strstr(r.out, "INSERT"), "%s", r.out);
        frames_read(r.err, &total, &read);
        tm_run_result_free(&r);
    }
    ck_assert_msg(total >= 40 && read <= 6, "read %lu of %lu frames", read, total);
    tm_pg_done(c, ci, j);
}
END_TEST

/* ---- retention ---------------------------------------------------------- */

#define PHASES 6

/* What replay and log answer at the times after the horizon (T[2..]). */
typedef struct answers {
    char *replay[PHASES], *log_from[PHASES], *log_window;
} answers;

static void answer(const char *j, char *const *t, answers *a)
{
    for (int i = 2; i < PHASES; i++) {
        const char *rp[] = {"replay", "--journal", j, "--at", t[i], "--table", "events", NULL};
        a->replay[i] = tm_tidemark_expect(0, NULL, rp);
        const char *lg[] = {"log", "--journal", j, "--from", t[i], NULL};
        a->log_from[i] = tm_tidemark_expect(0, NULL, lg);
    }
    const char *w[] = {"log",  "--journal", j,          "--from", t[3],
                       "--to", t[4],        "--format", "jsonl",  NULL};
    a->log_window = tm_tidemark_expect(0, NULL, w);
}

static void same_answers(const char *j, char *const *t, const answers *want, const char *state)
{
    answers got;
    answer(j, t, &got);
    for (int i = 2; i < PHASES; i++) {
        ck_assert_msg(!strcmp(got.replay[i], want->replay[i]), "%s: replay at T%d differs", state,
                      i);
        ck_assert_msg(!strcmp(got.log_from[i], want->log_from[i]), "%s: log from T%d differs",
                      state, i);
        free(got.replay[i]);
        free(got.log_from[i]);
    }
    ck_assert_msg(!strcmp(got.log_window, want->log_window), "%s: log window differs", state);
    free(got.log_window);
    tm_verify_sound(j);
}

static void refused_before(const char *j, const char *t)
{
    tm_run_result r;
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--at", t, "--table", "events", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "before the retention horizon") && strstr(r.err, "LSN"), "%s",
                  r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "log", "--journal", j, "--from", t, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "before the retention horizon"), "%s", r.err);
    tm_run_result_free(&r);
}

static void copy_dir(const char *from, const char *to)
{
    const char *cp[] = {"cp", "-a", from, to, NULL};
    tm_run_result r;
    tm_runv(cp, NULL, &r);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
}

/* Phases of bulk inserts and updates, with a checkpoint after each (made
 * while capture runs, as its maintenance does) and small segments; prune
 * before T2; replay and log from T2 on give the same bytes, before it they
 * refuse. The on-disk states a kill leaves (horizon written, files not yet
 * removed; one segment removed) read the same, and prune again finishes. */
START_TEST(prune_keeps_history_after_horizon)
{
    PGconn *c;
    char *j, *ci = start("maint_prune", &c, &j);
    pid_t pid = tmc_spawn(j, ci, "--segment-size", "1", "--checkpoint-every", "0", NULL);
    tmc_wait_slot_active(c, "tidemark_maint_prune", true);
    char *t[PHASES];
    for (int i = 0; i < PHASES; i++) {
        bulk(c, 2);
        tm_pg_exec(c, "UPDATE events SET v = 'phase %d' WHERE id %% 7 = %d", i, i);
        tm_pg_exec(c, "DELETE FROM events WHERE id %% 11 = %d", i);
        t[i] = tm_pg_query_value(c, "SELECT clock_timestamp()");
        char *lsn = tmc_current_lsn(c);
        ck_assert(tmc_wait_confirmed(c, "tidemark_maint_prune", lsn, 30000));
        free(lsn);
        const char *ck[] = {"checkpoint", "--journal", j, "--quiet", NULL};
        free(tm_tidemark_expect(0, NULL, ck));
    }
    tmc_stop(pid, j);
    answers want;
    answer(j, t, &want);
    char *before = tmt_tempdir(), copy[2048], state[2048];
    snprintf(copy, sizeof copy, "%s/copy", before);
    copy_dir(j, copy);

    tm_run_result r;
    tm_tidemark(&r, NULL, "prune", "--journal", j, "--before", t[2], NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "removed") && !strstr(r.err, "removed 0 segments"), "%s", r.err);
    tm_run_result_free(&r);
    same_answers(j, t, &want, "pruned");
    refused_before(j, t[1]);
    /* status names the oldest recoverable time: the horizon's. */
    tm_tidemark(&r, NULL, "status", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "recoverable:") && strstr(r.out, "older history was pruned"), "%s",
                  r.out);
    tm_run_result_free(&r);

    /* A kill right after the horizon was written: nothing removed yet. */
    snprintf(state, sizeof state, "%s/killed", before);
    copy_dir(copy, state);
    char hz[4096], hz2[4096];
    snprintf(hz, sizeof hz, "%s/horizon", j);
    snprintf(hz2, sizeof hz2, "%s/horizon", state);
    const char *cp[] = {"cp", hz, hz2, NULL};
    tm_runv(cp, NULL, &r);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    same_answers(state, t, &want, "horizon written, nothing removed");
    refused_before(state, t[1]);
    /* ... and after the oldest segment's files went (summary, index, segment). */
    const char *suffix[] = {"keys", "idx", "seg"};
    for (int k = 0; k < 3; k++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/0000000000000001.%s", state, suffix[k]);
        unlink(p);
    }
    same_answers(state, t, &want, "one segment removed");
    /* Prune again finishes the job: the same files as the pruned journal. */
    tm_tidemark(&r, NULL, "prune", "--journal", state, "--before", t[2], NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    const char *diff[] = {"diff", "-r", "-q", "-x", "*.keys", "-x", "rowcounts", j, state, NULL};
    tm_runv(diff, NULL, &r);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);

    /* Capture goes on after the prune; replay now equals the live table. */
    pid = tmc_spawn(j, ci, "--segment-size", "1", NULL);
    tmc_wait_slot_active(c, "tidemark_maint_prune", true);
    tmc_commit(c, 3);
    char *lsn = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_maint_prune", lsn, 30000));
    free(lsn);
    tmc_stop(pid, j);
    check_replay_exact(c, j, true);

    for (int i = 0; i < PHASES; i++) {
        free(t[i]);
        if (i >= 2) {
            free(want.replay[i]);
            free(want.log_from[i]);
        }
    }
    free(want.log_window);
    tmt_tempdir_remove(before);
    tm_pg_done(c, ci, j);
}
END_TEST

/* The slot is dropped while capture is stopped, and transactions are lost:
 * capture records the gap and stops; capture --reseed takes a fresh slot
 * and base snapshot and goes on. Replay inside the gap (by LSN and by
 * time) refuses and names it, log shows it; after it replay is exact. */
START_TEST(reseed_after_gap)
{
    PGconn *c;
    char *j, *ci = start("maint_reseed", &c, &j);
    tmc_commit(c, 3);
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_wait_slot_active(c, "tidemark_maint_reseed", false);
    tm_pg_exec(c, "SELECT pg_drop_replication_slot('tidemark_maint_reseed')");
    tmc_commit(c, 4); /* lost: no slot kept them */
    char *inside = tm_pg_query_value(c, "SELECT clock_timestamp()");
    char *out = tmc_capture_to_now(c, j, ci, 1);
    ck_assert_msg(strstr(out, "gap"), "%s", out);
    free(out);

    char *lsn = tmc_current_lsn(c);
    tm_run_result r;
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source", ci, "--reseed", "--endpos", lsn,
                NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "reseeded journal"), "%s", r.err);
    tm_run_result_free(&r);
    free(lsn);
    tm_pg_exec(c, "UPDATE events SET v = 'after' WHERE id %% 3 = 0");
    tmc_commit(c, 2);
    free(tmc_capture_to_now(c, j, ci, 0)); /* a plain start goes on */
    check_replay_exact(c, j, false);

    uint64_t from, to;
    char *reason, at[32];
    ck_assert(tmc_last_gap(j, &from, &to, &reason));
    free(reason);
    snprintf(at, sizeof at, "%X/%X", (unsigned)(from >> 32), (unsigned)(from + 1));
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--lsn", at, "--table", "events", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "gap"), "%s", r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--at", inside, "--table", "events", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "gap"), "%s", r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "log", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "GAP in the journal"), "%s", r.out);
    tm_run_result_free(&r);
    tm_verify_sound(j);
    free(inside);
    tm_pg_done(c, ci, j);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {capture_alone_makes_checkpoints,
                                  kill9_of_child_then_capture,
                                  lookup_by_foreign_key,
                                  prune_keeps_history_after_horizon,
                                  reseed_after_gap,
                                  NULL};
    Suite *s = suite_create("pg_maint");
    TCase *tc = tcase_create("maint");
    tm_pg_fixture_add(tc);
    tcase_set_timeout(tc, 600);
    for (size_t i = 0; tests[i]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
