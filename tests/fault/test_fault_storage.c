/* Storage faults under capture: EIO and ENOSPC on write, fsync, rename,
 * truncate and file creation, and short writes, injected at many points of
 * a run by the faultfs shim (tests/harness/faultfs), in the first run and
 * later ones; and a disk that really fills up (a small tmpfs). After each
 * fault capture must exit 1 (a short write is retried: exit 0) without
 * having confirmed to the server more than its durable mark holds, and the
 * next start must recover with nothing lost or duplicated: the audit,
 * replay against the live table, verify. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/common/lsn.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_fault.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_sys.h"

typedef struct fault_kind {
    const char *op, *err;
} fault_kind;

/* What one capture run under the shim did. */
typedef struct fault_run {
    int status;         /* wait status */
    bool injected;      /* the shim failed a call */
    long calls[5];      /* write fsync rename truncate create, as counted */
    char log[65536];    /* capture's output of this run */
    char shimlog[4096]; /* the shim's */
} fault_run;

/* Runs capture of j up to the current LSN with the shim failing call nth
 * (0: none, counting only) of kind k. */
static void run_with_fault(PGconn *c, const char *j, const char *ci, const fault_kind *k, long nth,
                           fault_run *out)
{
    tmf_shim shim;
    tmf_shim_env(&shim, j, k->op, k->err, nth);
    char caplog[PATH_MAX + 16];
    snprintf(caplog, sizeof caplog, "%s.log", j);
    unlink(caplog);

    char *lsn = tmc_current_lsn(c);
    const char *extra[] = {"--endpos", lsn, NULL};
    pid_t pid = tmf_spawn(j, ci, shim.env, extra);
    out->status = tmc_wait_exit(pid, 120000);
    if (out->status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ck_abort_msg("%s %s at call %ld: capture hung; its log:\n%s", k->op, k->err, nth,
                     tmf_log_tail(j));
    }
    free(lsn);
    snprintf(out->log, sizeof out->log, "%s", tmc_log(j));
    if (tm_read_small_file(shim.log, out->shimlog, sizeof out->shimlog) < 0)
        out->shimlog[0] = '\0';
    out->injected = strstr(out->shimlog, "injected ") != NULL;
    const char *calls = strstr(out->shimlog, "calls ");
    ck_assert_msg(calls && sscanf(calls,
                                  "calls write %ld fsync %ld rename %ld truncate %ld "
                                  "create %ld",
                                  &out->calls[0], &out->calls[1], &out->calls[2], &out->calls[3],
                                  &out->calls[4]) == 5,
                  "the shim did not report (not loaded?): %s", out->shimlog);
}

static long calls_of(const fault_run *r, const char *op)
{
    static const char *const ops[] = {"write", "fsync", "rename", "truncate", "create"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(ops[i], op))
            return r->calls[i];
    return 0;
}

/* After a run with a fault: exit 1 with the error named (0 for a short
 * write, retried), nothing confirmed past the durable mark. */
static void check_faulted_run(PGconn *c, const char *j, const char *slot, const fault_kind *k,
                              long nth, const fault_run *r)
{
    const char *what = !strcmp(k->err, "ENOSPC") ? "No space left on device" : "Input/output error";
    /* Harmless, with exit 0: the fsync of the directory after removing
     * init.pending or a failed first run's files (the next start removes
     * them), the monitoring file capture.status (a warning; the next
     * heartbeat writes it again), and an append to the open segment's live
     * index (a warning; readers scan what it lacks). */
    bool exit0 = WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
    bool cleanup =
        exit0 && ((strstr(r->shimlog, "/journal\n") && !strcmp(k->op, "fsync")) ||
                  (strstr(r->shimlog, "/capture.status") && strstr(r->log, "WARNING: cannot ")) ||
                  (strstr(r->shimlog, ".lidx\n") && !strcmp(k->op, "write") &&
                   strstr(r->log, "WARNING: cannot write the live index")));
    if (r->injected && strcmp(k->err, "short") != 0 && !cleanup) {
        ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 1 && strstr(r->log, what),
                      "%s %s at call %ld: status %d, not exit 1 naming the error; log:\n%.3000s%s",
                      k->op, k->err, nth, r->status, r->log, r->shimlog);
    } else {
        ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
                      "%s %s at call %ld (%s): status %d; log:\n%.3000s%s", k->op, k->err, nth,
                      r->injected ? "injected" : "not reached", r->status, r->log, r->shimlog);
    }
    uint64_t slot_at = tmf_slot_confirmed(c, slot), mark = tmf_mark_confirmed(j);
    char a[32], b[32];
    ck_assert_msg(slot_at <= mark || mark == 0,
                  "%s %s at call %ld: the server was told %s, the durable mark is %s", k->op,
                  k->err, nth, tm_lsn_format(slot_at, a), tm_lsn_format(mark, b));
}

/* (a later run renames nothing: renames are the first run's) */
static const fault_kind kinds[] = {
    {"write", "EIO"},    {"write", "ENOSPC"}, {"write", "short"},   {"fsync", "EIO"},
    {"fsync", "ENOSPC"}, {"truncate", "EIO"}, {"create", "ENOSPC"},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

#define MAXPOINTS 24

/* Points of a run of `total` calls to fail at: every one of a few, else
 * the first few and then spread. */
static int fault_points(long total, long *pts)
{
    int n = 0;
    if (total <= MAXPOINTS) {
        for (long i = 1; i <= total; i++)
            pts[n++] = i;
        return n;
    }
    long cand[] = {1, 2, 3, total / 4, total / 2, 3 * total / 4, total - 1, total};
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        bool dup = cand[i] < 1 || cand[i] > total;
        for (int k = 0; k < n && !dup; k++)
            dup = pts[k] == cand[i];
        if (!dup)
            pts[n++] = cand[i];
    }
    return n;
}

/* Later runs: a journal that exists, a workload between runs, a fault at
 * points spread over each kind's calls. */
START_TEST(faults_while_streaming)
{
    PGconn *c;
    char *ci = tmf_setup_db(tm_pg_shared(), "fs_stream", 0, &c);
    char *j = tmt_journal_path();
    tmt_rng rng = {11};
    tmf_catch_up(c, j, ci);
    for (size_t i = 0; i < NKINDS; i++) {
        const fault_kind *k = &kinds[i];
        tmf_commit(c, 40, &rng);
        fault_run count;
        run_with_fault(c, j, ci, k, 0, &count);
        check_faulted_run(c, j, "tidemark_fs_stream", k, 0, &count);
        long pts[MAXPOINTS + 1];
        int npts = fault_points(calls_of(&count, k->op), pts);
        long injected = 0;
        tmf_audit sum = {0};
        for (int p = 0; p < npts; p++) {
            tmf_commit(c, 15, &rng);
            fault_run r;
            run_with_fault(c, j, ci, k, pts[p], &r);
            check_faulted_run(c, j, "tidemark_fs_stream", k, pts[p], &r);
            injected += r.injected;
            tmf_catch_up(c, j, ci);
            tmf_audit a;
            tmf_oracle(c, j, k->op, &a);
            tmf_audit_add(&sum, &a);
        }
        char kind[64];
        snprintf(kind, sizeof kind, "storage: %s %s", k->op, k->err);
        tmf_matrix_check(kind, injected, &sum);
    }
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* The first run (slot, base snapshot, metadata) failing at a point: the
 * rerun must go through, and lose nothing. */
START_TEST(faults_in_first_run)
{
    PGconn *c;
    char *ci = tmf_setup_db(tm_pg_shared(), "fs_first", 200, &c);
    tmf_capture_ballast(true);
    tmt_rng rng = {12};
    const fault_kind first[] = {{"write", "EIO"},
                                {"fsync", "EIO"},
                                {"rename", "EIO"},
                                {"create", "ENOSPC"},
                                {"write", "short"}};
    long counted[5] = {0};
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++) {
        const fault_kind *k = &first[i];
        long pts[MAXPOINTS + 1];
        int npts = 1;
        pts[0] = 0; /* a clean first run that counts the calls */
        long injected = 0;
        tmf_audit sum = {0};
        for (int p = 0; p < npts; p++) {
            char *j = tmt_journal_path();
            tmf_commit(c, 10, &rng);
            fault_run r;
            run_with_fault(c, j, ci, k, pts[p], &r);
            if (pts[p] == 0) {
                memcpy(counted, r.calls, sizeof counted);
                npts = 1 + fault_points(calls_of(&r, k->op), pts + 1);
            } else {
                check_faulted_run(c, j, "tidemark_fs_first", k, pts[p], &r);
                injected += r.injected;
                tmf_catch_up(c, j, ci); /* the rerun */
            }
            tmf_commit(c, 5, &rng);
            tmf_catch_up(c, j, ci);
            tmf_audit a;
            tmf_oracle(c, j, k->op, &a);
            tmf_audit_add(&sum, &a);
            /* the next first run: a new journal, the slot gone */
            tmc_wait_slot_active(c, "tidemark_fs_first", false);
            tm_pg_exec(c, "SELECT pg_drop_replication_slot('tidemark_fs_first')");
            tmt_journal_remove(j);
        }
        char kind[64];
        snprintf(kind, sizeof kind, "storage, first run: %s %s", k->op, k->err);
        tmf_matrix_check(kind, injected, &sum);
    }
    tmf_capture_ballast(false);
    PQfinish(c);
    free(ci);
}
END_TEST

/* ---- a disk that fills up ------------------------------------------------- */

static char mounted[PATH_MAX];

static void unmount_at_exit(void)
{
    if (mounted[0])
        umount2(mounted, MNT_DETACH);
}

/* The journal on a 3 MB tmpfs: capture writes until the disk is full,
 * must then exit 1 saying so, having confirmed nothing past its mark;
 * with room again it goes on and nothing is lost or duplicated. */
START_TEST(disk_full)
{
    char *dir = tmt_tempdir();
    snprintf(mounted, sizeof mounted, "%s/fs", dir);
    ck_assert(mkdir(mounted, 0700) == 0);
    if (mount("tmpfs", mounted, "tmpfs", 0, "size=3m,mode=0700") != 0) {
        printf("disk_full skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        mounted[0] = '\0';
        tmt_tempdir_remove(dir);
        return;
    }
    atexit(unmount_at_exit);
    char *j = tmt_path(mounted, "journal");
    PGconn *c;
    char *ci = tmf_setup_db(tm_pg_shared(), "fs_full", 0, &c);
    tmf_catch_up(c, j, ci);
    tmc_wait_slot_active(c, "tidemark_fs_full", false);
    pid_t pid = tmf_spawn(j, ci, NULL, NULL);
    /* rows that do not compress: 50 kB a transaction */
    int status = -1, batches = 0;
    while (status == -1 && batches < 200) {
        tm_pg_exec(c, "BEGIN; INSERT INTO events SELECT (SELECT max(id) FROM events) + g, "
                      "string_agg(md5(random()::text), '') FROM generate_series(1, 20) g, "
                      "generate_series(1, 80) h GROUP BY g; "
                      "INSERT INTO expected VALUES (txid_current(), 20); COMMIT");
        batches++;
        status = tmc_wait_exit(pid, 50);
    }
    if (status == -1)
        status = tmc_wait_exit(pid, 30000);
    ck_assert_msg(status != -1, "capture went on with the disk full; log:\n%s", tmf_log_tail(j));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
                      strstr(tmc_log(j), "No space left on device"),
                  "status %d; log:\n%s", status, tmf_log_tail(j));
    uint64_t slot_at = tmf_slot_confirmed(c, "tidemark_fs_full"), mark = tmf_mark_confirmed(j);
    ck_assert_msg(slot_at <= mark, "the server was told more than the durable mark holds");
    /* more room, and on */
    ck_assert(mount("tmpfs", mounted, NULL, MS_REMOUNT, "size=64m,mode=0700") == 0);
    tmf_catch_up(c, j, ci);
    tmf_audit a;
    tmf_oracle(c, j, "disk full", &a);
    tmf_matrix_check("storage: disk full (tmpfs)", 1, &a);
    PQfinish(c);
    free(ci);
    free(j);
    umount2(mounted, MNT_DETACH);
    mounted[0] = '\0';
    tmt_tempdir_remove(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fault_storage");
    tm_pg_fixture_add(tm_check_case(s, "streaming", 600, TM_TESTS(faults_while_streaming)));
    tm_pg_fixture_add(tm_check_case(s, "first_run", 600, TM_TESTS(faults_in_first_run)));
    tm_pg_fixture_add(tm_check_case(s, "disk_full", 300, TM_TESTS(disk_full)));
    return tm_check_run(s);
}
