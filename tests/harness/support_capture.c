/* Helpers for capture tests against a real PostgreSQL; see support_capture.h. */
#include "tests/harness/support_capture.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

char *tmc_setup_db(tm_pg *pg, const char *name, PGconn **conn)
{
    tm_pg_createdb(pg, name);
    *conn = tm_pg_connect(pg, name);
    tm_pg_exec(*conn, "CREATE TABLE events (id int PRIMARY KEY, v text);"
                      "ALTER TABLE events REPLICA IDENTITY FULL;"
                      "CREATE TABLE expected (xid bigint);"
                      "INSERT INTO events SELECT g, 'seed' FROM generate_series(1, 20) g");
    return tm_pg_conninfo(pg, name);
}

void tmc_commit(PGconn *c, int n)
{
    for (int i = 0; i < n; i++)
        tm_pg_exec(c, "BEGIN; INSERT INTO events SELECT coalesce(max(id), 0) + 1, 'tx' FROM "
                      "events; INSERT INTO expected VALUES (txid_current()); COMMIT");
}

char *tmc_current_lsn(PGconn *c)
{
    return tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
}

char *tmc_capture_to_now(PGconn *c, const char *journal, const char *conninfo, int expect)
{
    char *lsn = tmc_current_lsn(c);
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 120000};
    tm_tidemark(&r, &o, "capture", "--journal", journal, "--source", conninfo, "--table",
                "public.events", "--endpos", lsn, NULL);
    tm_assert_exit(&r, expect);
    char *err = strdup(r.err);
    tm_run_result_free(&r);
    free(lsn);
    return err;
}

pid_t tmc_spawnv(const char *journal, const char *const *env, const char *const *argv)
{
    char log[4096];
    snprintf(log, sizeof log, "%s.log", journal);
    pid_t pid = tm_fork_child();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        tm_cloexec_from(3); /* not the test's connections and pipes */
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

pid_t tmc_spawn(const char *journal, const char *conninfo, ...)
{
    const char *argv[32] = {
        TM_BINARY, "capture",       "--journal",           journal, "--source", conninfo,
        "--table", "public.events", "--fsync-interval-ms", "20"};
    int n = 10;
    va_list ap;
    va_start(ap, conninfo);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 26)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return tmc_spawnv(journal, NULL, argv);
}

const char *tmc_log(const char *journal)
{
    static char buf[65536];
    char path[4096];
    snprintf(path, sizeof path, "%s.log", journal);
    /* the last 64 kB: what a long run said last */
    int fd = open(path, O_RDONLY);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
    ssize_t n = size >= 0 ? pread(fd, buf, sizeof buf - 1, from) : -1;
    buf[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    return buf;
}

int tmc_wait_exit(pid_t pid, int timeout_ms)
{
    long long until = tm_now_ms() + timeout_ms;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        if (tm_now_ms() >= until)
            return -1;
        usleep(20000);
    }
}

void tmc_stop(pid_t pid, const char *journal)
{
    /* A capture just spawned may not have installed its handler yet; then
     * SIGTERM would kill it instead of stopping it cleanly. */
    for (long long until = tm_now_ms() + 30000;
         tm_pid_catches(pid, SIGTERM) == 0 && tm_now_ms() < until;)
        usleep(10000);
    kill(pid, SIGTERM);
    int status = tmc_wait_exit(pid, 60000);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("capture did not stop on SIGTERM; its log:\n%s", tmc_log(journal));
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "capture exits 0 on SIGTERM (status %d); its log:\n%s", status, tmc_log(journal));
}

void tmc_wait_slot_active(PGconn *c, const char *slot, bool active)
{
    for (int waited = 0; waited < 300; waited++) {
        char *a = tm_pg_query_value(
            c,
            "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = '%s'), "
            "false)",
            slot);
        bool ok = a && (a[0] == 't') == active;
        free(a);
        if (ok)
            return;
        usleep(100000);
    }
    ck_abort_msg("slot %s never became %s", slot, active ? "active" : "inactive");
}

bool tmc_wait_confirmed(PGconn *c, const char *slot, const char *lsn, int timeout_ms)
{
    long long until = tm_now_ms() + timeout_ms;
    do {
        char *v = tm_pg_query_value(c,
                                    "SELECT coalesce((SELECT confirmed_flush_lsn >= '%s' FROM "
                                    "pg_replication_slots WHERE slot_name = '%s'), false)",
                                    lsn, slot);
        bool ok = v && v[0] == 't';
        free(v);
        if (ok)
            return true;
        usleep(100000);
    } while (tm_now_ms() < until);
    return false;
}

typedef struct jtx {
    uint32_t xid;
    uint64_t commit_lsn, n_changes;
    bool snapshot;
} jtx;

/* The journal's transactions in order (malloc'd, *n of them). */
static jtx *journal_txs(const char *dir, size_t *n)
{
    tm_reader *r;
    tm_error err;
    ck_assert_msg(tm_reader_open(dir, &r, &err) == 0, "reader: %s", err.msg);
    jtx *v = NULL;
    size_t len = 0, cap = 0;
    const Tidemark__Record *rec;
    int rc;
    while ((rc = tm_reader_next(r, &rec, &err)) == 1) {
        if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
            if (len == cap) {
                cap = cap ? cap * 2 : 64;
                jtx *grown = realloc(v, cap * sizeof *v);
                ck_assert_msg(grown != NULL, "out of memory");
                v = grown;
            }
            v[len++] = (jtx){.xid = rec->begin->xid,
                             .commit_lsn = rec->begin->commit_lsn,
                             .snapshot = rec->begin->snapshot};
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_CHANGE) {
            ck_assert_msg(len > 0, "a change outside a transaction");
            v[len - 1].n_changes++;
        }
    }
    ck_assert_msg(rc == 0, "reading journal %s: %s", dir, err.msg);
    tm_reader_close(r);
    *n = len;
    return v;
}

void tmc_check_exactly_once(PGconn *c, const char *journal)
{
    size_t n;
    jtx *v = journal_txs(journal, &n);
    ck_assert_msg(n >= 1 && v[0].snapshot, "journal starts with a base snapshot");
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(v[i].commit_lsn > v[i - 1].commit_lsn, "commit LSNs strictly increase");
    PGresult *r = tm_pg_query(c, "SELECT xid %% 4294967296 FROM expected ORDER BY xid");
    int want = PQntuples(r);
    ck_assert_msg((size_t)want == n - 1,
                  "journal holds %zu transactions, the workload committed %d", n - 1, want);
    for (int i = 0; i < want; i++) {
        uint32_t xid = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        int found = 0;
        for (size_t k = 1; k < n; k++)
            if (v[k].xid == xid) {
                found++;
                ck_assert_msg(v[k].n_changes == 1, "xid %u has %llu changes", xid,
                              (unsigned long long)v[k].n_changes);
            }
        ck_assert_msg(found == 1, "xid %u is in the journal %d times", xid, found);
    }
    PQclear(r);
    free(v);
}

bool tmc_last_gap(const char *journal, uint64_t *lsn, uint64_t *end_lsn, char **reason)
{
    tm_reader *r;
    tm_error err;
    ck_assert_msg(tm_reader_open(journal, &r, &err) == 0, "reader: %s", err.msg);
    const Tidemark__Record *rec;
    bool found = false;
    *reason = NULL;
    int rc;
    while ((rc = tm_reader_next(r, &rec, &err)) == 1) {
        if (rec->body_case != TIDEMARK__RECORD__BODY_GAP)
            continue;
        found = true;
        *lsn = rec->gap->lsn;
        *end_lsn = rec->gap->end_lsn;
        free(*reason);
        *reason = strdup(rec->gap->reason ? rec->gap->reason : "");
    }
    ck_assert_msg(rc == 0, "reading journal %s: %s", journal, err.msg);
    tm_reader_close(r);
    return found;
}

long tmc_cpu_ms(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (tm_read_small_file(path, buf, sizeof buf) < 0)
        return -1;
    /* utime and stime are fields 14 and 15, after the ")" ending comm */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static void pg_ctl(tm_pg *pg, const char *action, const char *mode)
{
    char prog[512];
    snprintf(prog, sizeof prog, "%s/pg_ctl", pg->bindir);
    const char *argv[] = {prog, action, "-D", pg->datadir,        "-l", pg->logfile,
                          "-w", "-t",   "60", mode ? "-m" : NULL, mode, NULL};
    tm_run_opts o = {.timeout_ms = 90000, .as_user = pg->run_as[0] ? pg->run_as : NULL};
    tm_run_result r;
    tm_runv(argv, &o, &r);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
}

void tmc_server_down(tm_pg *pg, const char *mode)
{
    pg_ctl(pg, "stop", mode);
}

void tmc_server_up(tm_pg *pg)
{
    pg_ctl(pg, "start", NULL);
    pg->postmaster_pid = tm_pg_read_postmaster_pid(pg->datadir);
}
