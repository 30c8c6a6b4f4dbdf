/* The soak: a concurrent workload and random faults of every kind that
 * leaves the journal usable (kill -9, a torn tail after it, storage faults
 * through faultfs, connections cut, reset, down, frozen or slowed by the
 * proxy, the server crashing, the walsender terminated), with the
 * exactly-once audit after every fault and the whole oracle (replay against
 * the live table, verify) every 20 faults and at the end. Faults that end
 * a journal (the slot dropped or advanced, damage below the mark) are
 * test_fault_server's and the verify suites'.
 *
 * TM_SOAK_SECONDS (default 60: the run in ctest; scripts/bench/soak.sh
 * runs 30 minutes), TM_FAULT_SEED. Prints the faults by kind, the
 * transactions, lost and duplicated, capture's peak RSS and its open
 * descriptors at start and end. */
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_fault.h"
#include "tests/harness/support_proxy.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_sys.h"

#define SLOT "tidemark_fsoak"

enum {
    F_KILL,
    F_TORN,
    F_STORAGE,
    F_CUT,
    F_RESET,
    F_DOWN,
    F_FREEZE,
    F_SLOW,
    F_CRASH,
    F_WALSENDER,
    F_N
};
static const char *const fault_names[F_N] = {"soak: kill -9",
                                             "soak: kill -9, then a torn tail",
                                             "soak: storage (faultfs)",
                                             "soak: connection cut",
                                             "soak: connection reset",
                                             "soak: network down 2 s",
                                             "soak: network frozen 5 s",
                                             "soak: slow link 3 s",
                                             "soak: server crash",
                                             "soak: walsender terminated"};

typedef struct soak {
    tm_pg pg;
    PGconn *c;
    char *ci, *j;
    char via[256];
    tm_proxy px;
    tmf_workload w;
    tmt_rng rng;
    pid_t pid;
    /* figures */
    long injected[F_N], attempted[F_N];
    long peak_rss_kb, fds_start, fds_end, fds_max;
    long refused_starts; /* first connection failed: started again */
    tmf_shim shim;
} soak;

static long proc_status_kb(pid_t pid, const char *field)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (tm_read_small_file(path, buf, sizeof buf) < 0)
        return -1;
    const char *p = strstr(buf, field);
    return p ? atol(p + strlen(field)) : -1;
}

static long fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Samples capture's peak RSS, and with fds its descriptors (when it has
 * caught up: not in the middle of a reconnect). */
static void sample(soak *s, bool fds_too)
{
    long rss = proc_status_kb(s->pid, "VmHWM:"), fds = fds_too ? fd_count(s->pid) : -1;
    if (rss > s->peak_rss_kb)
        s->peak_rss_kb = rss;
    if (fds < 0)
        return;
    if (s->fds_start < 0)
        s->fds_start = fds;
    s->fds_end = fds;
    if (fds > s->fds_max)
        s->fds_max = fds;
}

static void sleep_sampling(soak *s, int ms)
{
    for (long long until = tm_now_ms() + ms; tm_now_ms() < until;) {
        sample(s, false);
        usleep(100000);
    }
}

static void spawn(soak *s, const char *const *env)
{
    const char *extra[] = {"--receive-timeout", "4", NULL};
    s->pid = tmf_spawn(s->j, s->via, env, extra);
}

static void kill9(soak *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

/* Appends garbage to the last segment, as a write torn by a crash. */
static void tear_tail(soak *s)
{
    uint64_t last = 0;
    for (;;) {
        char *p = tmt_seg_path(s->j, last + 1);
        bool there = access(p, F_OK) == 0;
        free(p);
        if (!there)
            break;
        last++;
    }
    ck_assert(last > 0);
    char *seg = tmt_seg_path(s->j, last);
    FILE *f = fopen(seg, "ab");
    ck_assert(f != NULL);
    unsigned char junk[512];
    size_t n = 1 + tmt_below(&s->rng, sizeof junk);
    for (size_t i = 0; i < n; i++)
        junk[i] = (unsigned char)tmt_rand(&s->rng);
    if (n >= 4)
        memcpy(junk, "TMFR", 4); /* a frame's beginning */
    ck_assert(fwrite(junk, 1, n, f) == n && fclose(f) == 0);
    free(seg);
}

/* Restarts capture under a random storage fault; true when the fault was
 * met (capture then exited, and a clean one is started). */
static bool storage_fault(soak *s)
{
    static const char *const ops[] = {"write", "fsync", "truncate", "create"};
    static const char *const errs[] = {"EIO", "ENOSPC", "short"};
    tmc_stop(s->pid, s->j);
    tmf_shim_env(&s->shim, s->j, ops[tmt_below(&s->rng, 4)], errs[tmt_below(&s->rng, 3)],
                 1 + (long)tmt_below(&s->rng, 12));
    spawn(s, s->shim.env);
    sleep_sampling(s, 1500);
    char text[4096];
    bool met = tm_read_small_file(s->shim.log, text, sizeof text) > 0 && strstr(text, "injected ");
    int status = tmc_wait_exit(s->pid, met ? 10000 : 0);
    if (status == -1) {
        /* not met yet, or a short write that was retried: on without the shim */
        tmf_wait_streaming(s->j, s->pid);
        tmc_stop(s->pid, s->j);
    } else {
        ck_assert_msg(met && WIFEXITED(status) && WEXITSTATUS(status) == 1,
                      "capture under faultfs: status %d; its log:\n%s", status, tmf_log_tail(s->j));
    }
    ck_assert_msg(tmf_slot_confirmed(s->c, SLOT) <= tmf_mark_confirmed(s->j),
                  "confirmed past the durable mark");
    spawn(s, NULL);
    return met;
}

static void inject(soak *s, int f)
{
    s->attempted[f]++;
    bool met = true;
    switch (f) {
    case F_KILL:
    case F_TORN:
        kill9(s);
        if (f == F_TORN)
            tear_tail(s);
        spawn(s, NULL);
        break;
    case F_STORAGE:
        met = storage_fault(s);
        break;
    case F_CUT:
    case F_RESET:
        tm_proxy_set(&s->px, f == F_CUT ? TM_PROXY_CUT : TM_PROXY_RESET);
        break;
    case F_DOWN:
    case F_FREEZE:
    case F_SLOW:
        tm_proxy_set(&s->px, f == F_DOWN     ? TM_PROXY_DOWN
                             : f == F_FREEZE ? TM_PROXY_FREEZE
                                             : TM_PROXY_SLOW);
        sleep_sampling(s, f == F_DOWN ? 2000 : f == F_FREEZE ? 5000 : 3000);
        tm_proxy_set(&s->px, TM_PROXY_PASS);
        break;
    case F_CRASH:
        PQfinish(s->c);
        tmc_server_down(&s->pg, "immediate");
        usleep((useconds_t)tmt_below(&s->rng, 1000000));
        tmc_server_up(&s->pg);
        s->c = tm_pg_connect(&s->pg, "fsoak");
        break;
    case F_WALSENDER:
        tm_pg_exec(s->c, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                         "WHERE slot_name = '" SLOT "' AND active");
        break;
    }
    s->injected[f] += met;
}

/* As a service manager would: a capture that could not make its first
 * connection (exit 1, saying so) is started again; anything else it exits
 * with is left to the check to fail on. */
static void supervise(soak *s)
{
    char *lsn = tmc_current_lsn(s->c);
    for (long long until = tm_now_ms() + 120000; tm_now_ms() < until;) {
        if (tmc_wait_confirmed(s->c, SLOT, lsn, 500))
            break;
        int status = tmc_wait_exit(s->pid, 0);
        if (status == -1)
            continue;
        /* The log holds earlier runs too (and their reconnect failures):
         * what counts is its last such line. */
        const char *log = tmf_log_tail(s->j), *last = NULL;
        for (const char *p = log; (p = strstr(p, "cannot connect to the source database")); p++)
            last = p;
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1 && last &&
                          !strstr(last + 1, "tidemark capture: "),
                      "capture exited (status %d); its log:\n%s", status, log);
        s->refused_starts++;
        spawn(s, NULL);
    }
    free(lsn);
}

START_TEST(soak_run)
{
    const char *secs = getenv("TM_SOAK_SECONDS"), *seed = getenv("TM_FAULT_SEED");
    long duration_ms = (secs ? atol(secs) : 60) * 1000;
    soak *s = calloc(1, sizeof *s);
    s->rng.s = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL);
    s->fds_start = -1;
    printf("soak: %ld s, seed %llu (TM_FAULT_SEED repeats it)\n", duration_ms / 1000,
           (unsigned long long)s->rng.s);
    fflush(stdout);
    char err[256];
    ck_assert_msg(tm_pg_start(&s->pg, "wal_sender_timeout = 3s", err, sizeof err) == 0, "%s", err);
    s->ci = tmf_setup_db(&s->pg, "fsoak", 0, &s->c);
    s->j = tmt_journal_path();
    tmf_catch_up(s->c, s->j, s->ci);
    tmc_wait_slot_active(s->c, SLOT, false);
    tm_proxy_start(&s->px, s->pg.port);
    snprintf(s->via, sizeof s->via, "host=127.0.0.1 port=%d user=postgres dbname=fsoak",
             s->px.port);
    spawn(s, NULL);
    tmf_workload_pace(10000); /* about 150 transactions a second, not all the CPU */
    tmf_workload_start(&s->w, s->ci, tmt_rand(&s->rng));
    long long t0 = tm_now_ms();
    tmf_audit sum = {0};
    long faults = 0;
    while (tm_now_ms() - t0 < duration_ms) {
        tmf_workload_resume(&s->w);
        sleep_sampling(s, 300 + (int)tmt_below(&s->rng, 2500));
        inject(s, (int)tmt_below(&s->rng, F_N));
        faults++;
        tmf_workload_pause(&s->w);
        supervise(s);
        tmf_check_caught_up(s->c, s->j, s->pid, SLOT, "soak", &sum);
        sample(s, true);
        if (faults % 20 == 0) {
            tmc_stop(s->pid, s->j);
            tmf_audit a;
            tmf_oracle(s->c, s->j, "soak", &a);
            spawn(s, NULL);
        }
    }
    long txs = tmf_workload_stop(&s->w);
    tmc_stop(s->pid, s->j);
    tm_proxy_stop(&s->px);
    tmf_catch_up(s->c, s->j, s->ci);
    tmf_audit last;
    tmf_oracle(s->c, s->j, "soak", &last);
    tmf_audit_add(&sum, &last);

    for (int f = 0; f < F_N; f++) {
        tmf_audit none = {.checked = sum.checked};
        tmf_matrix(fault_names[f], s->injected[f], &none);
    }
    printf("soak: %lld s, %ld faults (%ld storage faults tried, %ld met), %ld workload "
           "transactions, %ld checked, lost %ld, duplicated %ld\n",
           (tm_now_ms() - t0) / 1000, faults, s->attempted[F_STORAGE], s->injected[F_STORAGE], txs,
           sum.checked, sum.lost, sum.duplicated);
    printf("soak: %ld starts of capture could not connect (exit 1) and were started again\n",
           s->refused_starts);
    printf("soak: capture peak RSS %ld kB; open descriptors %ld at start, %ld at end, %ld at "
           "most\n",
           s->peak_rss_kb, s->fds_start, s->fds_end, s->fds_max);
    fflush(stdout);
    tmf_matrix_check("soak: all faults", faults, &sum);
    PQfinish(s->c);
    tm_pg_stop(&s->pg);
    free(s->ci);
    tmt_journal_remove(s->j);
    free(s);
}
END_TEST

int main(void)
{
    const char *secs = getenv("TM_SOAK_SECONDS");
    double timeout = 300 + (secs ? atof(secs) * 1.5 : 60);
    return tm_check_main("fault_soak", "soak", timeout, TM_TESTS(soak_run));
}
