/* tidemark capture against a real PostgreSQL 15: first run, resume, exactly
 * once across SIGKILLs and server restarts, refusals. Each committed
 * workload transaction's xid and change count are recorded by the workload
 * itself; the journal must hold each exactly once, in commit order, and
 * nothing of rolled-back transactions. Also: the notices of the library
 * layers (a new journal, replica identity, a torn tail cut) reach stderr. */
#include <check.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "store/common/lsn.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/tm_sys.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

typedef struct jtx {
    uint32_t xid;
    uint64_t commit_lsn;
    uint64_t n_records;
    uint64_t n_changes;
    bool snapshot;
} jtx;

typedef struct jscan {
    jtx *tx;
    size_t n, cap;
    uint64_t relations, messages;
} jscan;

/* Reads the whole journal into a list of transactions. */
static void scan_journal(const char *dir, jscan *out)
{
    tm_reader *r;
    tm_error err;
    memset(out, 0, sizeof *out);
    ck_assert_msg(tm_reader_open(dir, &r, &err) == 0, "reader: %s", err.msg);
    const Tidemark__Record *rec;
    int rc;
    while ((rc = tm_reader_next(r, &rec, &err)) == 1) {
        if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 64;
                out->tx = realloc(out->tx, out->cap * sizeof *out->tx);
            }
            jtx *t = &out->tx[out->n++];
            memset(t, 0, sizeof *t);
            t->xid = rec->begin->xid;
            t->commit_lsn = rec->begin->commit_lsn;
            t->n_records = rec->begin->n_records;
            t->snapshot = rec->begin->snapshot;
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_CHANGE) {
            ck_assert_msg(out->n > 0, "change outside a transaction");
            out->tx[out->n - 1].n_changes++;
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION) {
            out->relations++;
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_MESSAGE) {
            out->messages++;
        }
    }
    ck_assert_msg(rc == 0, "reading journal: %s", err.msg);
    tm_reader_close(r);
}

/* A database of its own per test, with the preference-like tables. */
static char *setup_db_on(tm_pg *pg, const char *name, PGconn **conn)
{
    tm_pg_createdb(pg, name);
    *conn = tm_pg_connect(pg, name);
    tm_pg_exec(*conn, "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);"
                      "CREATE TABLE prefs (user_id int, key text, value jsonb, big text,"
                      "  PRIMARY KEY (user_id, key));"
                      "ALTER TABLE users REPLICA IDENTITY FULL;"
                      "ALTER TABLE prefs REPLICA IDENTITY FULL;"
                      "CREATE TABLE expected (xid bigint, changes int);"
                      "INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM "
                      "generate_series(1, 50) g;");
    return tm_pg_conninfo(pg, name);
}

static char *setup_db(const char *name, PGconn **conn)
{
    return setup_db_on(tm_pg_shared(), name, conn);
}

/* Runs a data-changing statement; returns the rows it affected. */
__attribute__((format(printf, 2, 3))) static int affected(PGconn *c, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(r));
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n;
}

/* One committed workload transaction: records its xid and change count in
 * `expected` (which is not captured). */
static void workload_tx(PGconn *c, int i)
{
    tm_pg_exec(c, "BEGIN");
    int changes = 0;
    switch (i % 7) {
    case 0:
        tm_pg_exec(c, "INSERT INTO prefs VALUES (%d, 'k%d', '{\"a\": %d}', NULL)", i % 50 + 1, i,
                   i);
        changes = 1;
        break;
    case 1:
        changes = affected(c, "UPDATE users SET email = email || 'x' WHERE id = %d", i % 50 + 1);
        break;
    case 2:
        tm_pg_exec(c, "INSERT INTO prefs VALUES (%d, 'big%d', '{}', repeat('x', 100000))",
                   i % 50 + 1, i);
        tm_pg_exec(c, "UPDATE prefs SET value = '{\"b\": 1}' WHERE user_id = %d AND key = 'big%d'",
                   i % 50 + 1, i);
        changes = 2;
        break;
    case 3:
        /* Deletes exactly the row that case 0 inserted three transactions ago. */
        tm_pg_exec(c, "DELETE FROM prefs WHERE key = 'k%d'", i - 3);
        changes = 1;
        break;
    case 4:
        tm_pg_exec(c, "SELECT pg_logical_emit_message(true, 'tidemark', '{\"user\":\"t%d\"}')", i);
        tm_pg_exec(c, "INSERT INTO users VALUES (%d, 'new%d')", 1000 + i, i);
        changes = 1;
        break;
    case 5:
        tm_pg_exec(c, "SAVEPOINT s");
        tm_pg_exec(c, "INSERT INTO users VALUES (%d, 'rolledback')", 100000 + i);
        tm_pg_exec(c, "ROLLBACK TO SAVEPOINT s");
        changes = affected(c, "UPDATE users SET email = email WHERE id = %d", i % 50 + 1);
        break;
    case 6:
        /* A key change and a second table in one transaction. */
        changes = affected(c, "UPDATE users SET id = %d WHERE id = %d", 50000 + i, i % 50 + 1);
        changes += affected(c,
                            "INSERT INTO prefs VALUES (%d, 'moved', '[]', NULL) "
                            "ON CONFLICT DO NOTHING",
                            50000 + i);
        break;
    }
    /* A transaction that changed no captured row has nothing to journal. */
    if (changes > 0)
        tm_pg_exec(c, "INSERT INTO expected VALUES (txid_current(), %d)", changes);
    tm_pg_exec(c, "COMMIT");
    if (i % 7 == 0) {
        tm_pg_exec(c, "BEGIN; INSERT INTO users VALUES (%d, 'aborted'); ROLLBACK", 200000 + i);
    }
}

static char *current_lsn(PGconn *c)
{
    return tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
}

/* Every expected transaction exactly once, in commit order, with its
 * changes; nothing else besides the base snapshot. */
static void check_exactly_once(PGconn *c, const char *journal)
{
    jscan js;
    scan_journal(journal, &js);
    ck_assert_msg(js.n >= 1 && js.tx[0].snapshot, "journal starts with a base snapshot");
    for (size_t i = 1; i < js.n; i++) {
        ck_assert_msg(js.tx[i].commit_lsn > js.tx[i - 1].commit_lsn,
                      "commit LSNs strictly increase (tx %zu)", i);
    }
    PGresult *r = tm_pg_query(c, "SELECT xid %% 4294967296, changes FROM expected ORDER BY xid");
    int n = PQntuples(r);
    /* Fresh snapshots (a TRUNCATE gives the table a new file node) are not
     * workload transactions. */
    size_t workload = 0;
    for (size_t k = 1; k < js.n; k++)
        workload += !js.tx[k].snapshot;
    ck_assert_msg((size_t)n == workload,
                  "journal holds %zu transactions, the workload committed %d", workload, n);
    for (int i = 0; i < n; i++) {
        uint32_t xid = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        int changes = atoi(PQgetvalue(r, i, 1));
        int found = 0;
        for (size_t k = 1; k < js.n; k++)
            if (!js.tx[k].snapshot && js.tx[k].xid == xid) {
                found++;
                ck_assert_msg(js.tx[k].n_changes == (uint64_t)changes,
                              "xid %u: %llu changes journaled, %d made", xid,
                              (unsigned long long)js.tx[k].n_changes, changes);
            }
        ck_assert_msg(found == 1, "xid %u is in the journal %d times", xid, found);
    }
    PQclear(r);
    free(js.tx);
}

static void run_capture_to(const char *journal, const char *conninfo, const char *endpos,
                           int expect)
{
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 120000};
    tm_tidemark(&r, &o, "capture", "--journal", journal, "--source", conninfo, "--table",
                "public.users", "--table", "prefs", "--endpos", endpos, NULL);
    tm_assert_exit(&r, expect);
    tm_run_result_free(&r);
}

/* Captures everything committed so far. */
static void capture_to_now(PGconn *c, const char *journal, const char *conninfo)
{
    char *lsn = current_lsn(c);
    run_capture_to(journal, conninfo, lsn, 0);
    free(lsn);
}

/* The end of a test: the journal verifies; the connection, the conninfo
 * and the journal go. */
static void finish_verified(PGconn *c, char *conninfo, char *journal)
{
    tm_verify_sound(journal);
    tm_pg_done(c, conninfo, journal);
}

START_TEST(first_run_and_resume)
{
    PGconn *c;
    char *ci = setup_db("cap_basic", &c);
    char *j = tmt_journal_path();
    for (int i = 0; i < 30; i++)
        workload_tx(c, i); /* before the slot exists: only in the base snapshot */
    tm_pg_exec(c, "TRUNCATE expected");
    capture_to_now(c, j, ci);
    struct stat st;
    ck_assert_int_eq(stat(j, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    tm_pg_assert_value(c, "1",
                       "SELECT count(*) FROM pg_replication_slots WHERE "
                       "slot_name = 'tidemark_cap_basic'");
    for (int i = 30; i < 90; i++)
        workload_tx(c, i);
    tm_pg_exec(c, "BEGIN; TRUNCATE users, prefs;"
                  "INSERT INTO expected VALUES (txid_current(), 2); COMMIT");
    capture_to_now(c, j, ci);
    /* Resume twice with nothing new: nothing is duplicated. */
    capture_to_now(c, j, ci);
    check_exactly_once(c, j);

    finish_verified(c, ci, j);
}
END_TEST

/* Waits (up to 30 s) until the slot is in use (active), or, after a capture
 * exited, until its walsender has noticed and let go of it (not active). */
static void wait_slot_state(PGconn *c, const char *slot, bool active)
{
    for (int waited = 0; waited < 300; waited++) {
        char *a = tm_pg_query_value(
            c, "SELECT active FROM pg_replication_slots WHERE slot_name = '%s'", slot);
        bool ok = a && (a[0] == 't') == active;
        free(a);
        if (ok)
            return;
        usleep(100000);
    }
    ck_abort_msg("slot %s never became %s", slot, active ? "active" : "inactive");
}

static void wait_slot_active(PGconn *c, const char *slot)
{
    wait_slot_state(c, slot, true);
}

/* What a background capture printed (static buffer, for failure messages). */
static const char *capture_log(const char *journal)
{
    static char buf[8192];
    char path[4096];
    snprintf(path, sizeof path, "%s.log", journal);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static pid_t spawn_capture(const char *journal, const char *conninfo)
{
    pid_t pid = tm_fork_child();
    if (pid == 0) {
        char log[4096];
        snprintf(log, sizeof log, "%s.log", journal);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(TM_BINARY, TM_BINARY, "capture", "--journal", journal, "--source", conninfo,
              "--table", "users", "--table", "prefs", "--fsync-interval-ms", "20", (char *)NULL);
        _exit(127);
    }
    return pid;
}

START_TEST(sigkill_twenty_times)
{
    PGconn *c;
    char *ci = setup_db("cap_kill", &c);
    char *j = tmt_journal_path();
    capture_to_now(c, j, ci);
    srand(42);
    int i = 0;
    for (int kill_no = 0; kill_no < 20; kill_no++) {
        pid_t pid = spawn_capture(j, ci);
        int burst = 3 + rand() % 8;
        for (int k = 0; k < burst; k++)
            workload_tx(c, i++);
        usleep((useconds_t)(rand() % 150000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
    }
    for (int k = 0; k < 10; k++)
        workload_tx(c, i++);
    capture_to_now(c, j, ci);
    check_exactly_once(c, j);
    finish_verified(c, ci, j);
}
END_TEST

START_TEST(refusals)
{
    PGconn *c;
    char *ci = setup_db("cap_refuse", &c);
    char *j = tmt_journal_path();
    capture_to_now(c, j, ci);
    tm_run_result r;

    /* Unreachable server and bad conninfo: clear error, exit 1. */
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source",
                "host=127.0.0.1 port=1 dbname=x password=sekret connect_timeout=2", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot connect"));
    ck_assert_ptr_null(strstr(r.err, "sekret"));
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source", "nonsense=1", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "invalid connection string"));
    tm_run_result_free(&r);

    /* Another database's journal. */
    tm_pg_createdb(tm_pg_shared(), "cap_other");
    char *other = tm_pg_conninfo(tm_pg_shared(), "cap_other");
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source", other, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "belongs to database \"cap_refuse\""));
    tm_run_result_free(&r);
    free(other);

    /* Second capture on the same journal. */
    wait_slot_state(c, "tidemark_cap_refuse", false); /* the last run's walsender is gone */
    pid_t pid = spawn_capture(j, ci);
    wait_slot_active(c, "tidemark_cap_refuse"); /* it holds the lock by then */
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source", ci, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "in use by another capture"));
    tm_run_result_free(&r);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM exits 0");

    /* Missing slot: a gap, refused. */
    wait_slot_state(c, "tidemark_cap_refuse", false);
    tm_pg_exec(c, "SELECT pg_drop_replication_slot('tidemark_cap_refuse')");
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source", ci, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "no longer exists"));
    tm_run_result_free(&r);

    /* First runs that are refused leave nothing behind: no journal
     * directory, no slot. */
    char *j2 = tmt_journal_path();
    tm_tidemark(&r, NULL, "capture", "--journal", j2, "--source", ci, NULL);
    tm_assert_exit(&r, 2); /* a usage error: the first run needs --table */
    ck_assert_ptr_nonnull(strstr(r.err, "--table"));
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "capture", "--journal", j2, "--source", ci, "--table", "nosuch", "--slot",
                "never", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "table public.nosuch does not exist"));
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "capture", "--journal", j2, "--source",
                "host=127.0.0.1 port=1 connect_timeout=2", "--table", "users", NULL);
    tm_assert_exit(&r, 1);
    tm_run_result_free(&r);
    ck_assert_msg(access(j2, F_OK) != 0, "a refused first run left %s behind", j2);
    tm_pg_assert_value(c, "0",
                       "SELECT count(*) FROM pg_replication_slots WHERE "
                       "slot_name = 'never'");
    tm_pg_done(c, ci, j);
    tmt_journal_remove(j2);
}
END_TEST

START_TEST(server_restart_mid_stream)
{
    /* A cluster of its own: the shared one cannot be restarted from a test. */
    tm_pg pg;
    char err[256];
    ck_assert_msg(tm_pg_start(&pg, NULL, err, sizeof err) == 0, "%s", err);
    PGconn *c;
    char *ci = setup_db_on(&pg, "cap_restart", &c);
    char *j = tmt_journal_path();
    capture_to_now(c, j, ci);
    /* Active must mean this capture's walsender, not the last run's one
     * that has not noticed its client left: a capture that cannot make its
     * first connection (the server restarting) refuses to start. */
    wait_slot_state(c, "tidemark_cap_restart", false);
    pid_t pid = spawn_capture(j, ci);
    wait_slot_active(c, "tidemark_cap_restart");
    int i = 0;
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 10; k++)
            workload_tx(c, i++);
        PQfinish(c);
        ck_assert_msg(tm_pg_restart(&pg, round % 2 ? "fast" : "immediate", err, sizeof err) == 0,
                      "%s", err);
        c = tm_pg_connect(&pg, "cap_restart");
    }
    for (int k = 0; k < 10; k++)
        workload_tx(c, i++);
    char *lsn = current_lsn(c);
    /* The running capture reconnects by itself; let it catch up, then stop it. */
    for (int waited = 0; waited < 300; waited++) {
        char *confirmed = tm_pg_query_value(
            c, "SELECT confirmed_flush_lsn >= '%s' FROM pg_replication_slots", lsn);
        bool ok = confirmed && confirmed[0] == 't';
        free(confirmed);
        if (ok)
            break;
        usleep(100000);
    }
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "capture exits 0 on SIGTERM (status %d); its log:\n%s", status, capture_log(j));
    run_capture_to(j, ci, lsn, 0);
    free(lsn);
    check_exactly_once(c, j);
    PQfinish(c);
    tm_pg_stop(&pg);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* Runs capture of public.users up to the current LSN (extra: one more
 * option or NULL) and returns its stderr (malloc'd). */
static char *capture_users(PGconn *c, const char *journal, const char *conninfo, const char *extra)
{
    char *lsn = current_lsn(c);
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 120000};
    tm_tidemark(&r, &o, "capture", "--journal", journal, "--source", conninfo, "--table",
                "public.users", "--endpos", lsn, extra, NULL);
    tm_assert_exit(&r, 0);
    char *err = strdup(r.err);
    tm_run_result_free(&r);
    free(lsn);
    return err;
}

/* What the library layers say through the command (the logger, and the
 * writer's recovery report) still reaches stderr: the new journal, a table
 * without REPLICA IDENTITY FULL, setting it, and a torn tail cut. */
START_TEST(notices_reach_stderr)
{
    PGconn *c;
    char *ci = setup_db("cap_notice", &c);
    char *j = tmt_journal_path();
    tm_pg_exec(c, "ALTER TABLE users REPLICA IDENTITY DEFAULT");
    char *err = capture_users(c, j, ci, NULL);
    ck_assert_msg(strstr(err, "tidemark capture: new journal "), "%s", err);
    ck_assert_msg(strstr(err, "tidemark capture: WARNING: users has REPLICA IDENTITY DEFAULT, "
                              "not FULL"),
                  "%s", err);
    free(err);
    /* a torn write at the tail of the last segment */
    uint64_t last = 0;
    for (;;) {
        char *p = tmt_seg_path(j, last + 1);
        bool there = access(p, F_OK) == 0;
        free(p);
        if (!there)
            break;
        last++;
    }
    ck_assert_uint_ge(last, 1);
    char *seg = tmt_seg_path(j, last);
    int fd = open(seg, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "TMFRtorn", 8), 8);
    close(fd);
    err = capture_users(c, j, ci, "--set-replica-identity-full");
    ck_assert_msg(strstr(err, "tidemark capture: journal ") &&
                      strstr(err, "cut 8 bytes at offset") &&
                      strstr(err, "everything before it is intact"),
                  "%s", err);
    ck_assert_msg(strstr(err, "tidemark capture: set REPLICA IDENTITY FULL on users"), "%s", err);
    free(err);
    free(seg);
    tm_pg_done(c, ci, j);
}
END_TEST

int main(void)
{
    return tm_pg_check_main("pg_capture", "capture", 600,
                            TM_TESTS(first_run_and_resume, refusals, sigkill_twenty_times,
                                     server_restart_mid_stream, notices_reach_stderr));
}
