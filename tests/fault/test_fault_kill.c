/* kill -9 of capture at random moments under a concurrent workload: during
 * the first run's base snapshot, at start-up (recovery, slot checks) and
 * while streaming. After every restart the journal must hold every
 * committed transaction exactly once (the workload's own record, base
 * snapshot included); every tenth restart, and at the end, replay must
 * equal the live table and verify must be clean. TM_FAULT_SEED repeats a
 * run; TM_FAULT_KILLS changes the number of kills (default 120). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_fault.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_sys.h"

#define SLOT "tidemark_fk_kill"

static uint64_t seed_from_env(void)
{
    const char *s = getenv("TM_FAULT_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    printf("fault seed %llu (TM_FAULT_SEED repeats it)\n", (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

static void kill9(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Whether the first run finished (its metadata exists). */
static bool first_run_done(const char *journal)
{
    char *meta = tmt_path(journal, "journal.meta");
    bool done = access(meta, F_OK) == 0;
    free(meta);
    return done;
}

/* With the workload paused: the first run is finished (a slot made after
 * the workload paused is past it at once, before the snapshot is taken),
 * then tmf_check_caught_up. */
static void check_after_restart(PGconn *c, const char *j, pid_t pid, const char *kind,
                                tmf_audit *sum)
{
    for (long long until = tm_now_ms() + 120000; !first_run_done(j) && tm_now_ms() < until;)
        usleep(20000);
    tmf_check_caught_up(c, j, pid, SLOT, kind, sum);
}

START_TEST(kill9_under_workload)
{
    const char *k = getenv("TM_FAULT_KILLS");
    int kills_wanted = k ? atoi(k) : 120;
    tmt_rng rng = {seed_from_env()};
    PGconn *c;
    char *ci = tmf_setup_db(tm_pg_shared(), "fk_kill", 3000, &c);
    tmf_capture_ballast(true);
    char *j = tmt_journal_path();
    tmf_workload w;
    tmf_workload_start(&w, ci, tmt_rand(&rng));

    /* The first run, killed at random moments while it takes its base
     * snapshot, until it gets through. */
    int first_kills = 0, kills = 0;
    long long t0 = tm_now_ms();
    pid_t pid = tmf_spawn(j, ci, NULL, NULL);
    int after_slot = 0;
    while (!first_run_done(j) && first_kills < 12) {
        /* the whole first run takes about 200 ms here */
        usleep((useconds_t)(tmt_below(&rng, 160) * 1000));
        if (first_run_done(j))
            break;
        char *pending = tmt_path(j, "init.pending");
        after_slot += access(pending, F_OK) == 0;
        free(pending);
        kill9(pid);
        first_kills++;
        pid = tmf_spawn(j, ci, NULL, NULL);
    }
    kills += first_kills;
    tmf_workload_pause(&w);
    tmf_audit first = {0};
    check_after_restart(c, j, pid, "kill -9 during the first run", &first);
    printf("first run: %d kills (%d after the slot was announced), through after %lld ms\n",
           first_kills, after_slot, tm_now_ms() - t0);
    tmf_matrix_check("kill -9 during the first run", first_kills, &first);
    ck_assert_msg(first_kills >= 5, "only %d kills landed in the first run", first_kills);

    /* Streaming: kill, restart, check. A quarter of the kills come within
     * 60 ms of the start (recovery, slot checks, reconnect). */
    tmf_audit streaming = {0};
    int checks = 0;
    while (kills < kills_wanted) {
        tmf_workload_resume(&w);
        uint64_t ms = tmt_below(&rng, 4) == 0 ? tmt_below(&rng, 60) : 60 + tmt_below(&rng, 400);
        usleep((useconds_t)(ms * 1000));
        kill9(pid);
        kills++;
        pid = tmf_spawn(j, ci, NULL, NULL);
        tmf_workload_pause(&w);
        check_after_restart(c, j, pid, "kill -9 under a workload", &streaming);
        checks++;
        if (checks % 10 == 0) {
            tmc_stop(pid, j);
            tmf_audit a;
            tmf_oracle(c, j, "kill -9 under a workload", &a);
            pid = tmf_spawn(j, ci, NULL, NULL);
        }
    }
    tmc_stop(pid, j);
    long txs = tmf_workload_stop(&w);
    tmf_catch_up(c, j, ci);
    tmf_audit last;
    tmf_oracle(c, j, "kill -9 under a workload", &last);
    printf("%d kills in %lld s, %d exactly-once checks, %ld workload transactions\n", kills,
           (tm_now_ms() - t0) / 1000, checks + 1, txs);
    tmf_audit_add(&streaming, &last);
    tmf_matrix_check("kill -9 under a workload", kills - first_kills, &streaming);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fault_kill");
    TCase *tc = tm_check_case(s, "kill", 600, TM_TESTS(kill9_under_workload));
    tm_pg_fixture_add(tc);
    return tm_check_run(s);
}
