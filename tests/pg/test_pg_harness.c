/* The PostgreSQL test harness: the server it starts is what capture needs
 * (pgoutput through the SQL interface and through a real walsender
 * connection), runs as the postgres OS user when we are root, and is always
 * removed: on stop, on SIGTERM, on SIGKILL (the watchdog), and by the sweeper
 * for clusters of dead processes. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_sys.h"

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static int dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void assert_setting(PGconn *c, const char *name, const char *want)
{
    char *v = tm_pg_query_value(c, "SELECT current_setting('%s')", name);
    ck_assert_msg(v && strcmp(v, want) == 0, "%s = %s, want %s", name, v ? v : "NULL", want);
    free(v);
}

START_TEST(server_is_configured_for_capture)
{
    tm_pg *pg = tm_pg_shared();
    PGconn *c = tm_pg_connect(pg, NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", pg->port);
    char *v = tm_pg_query_value(c, "SHOW server_version_num");
    ck_assert_int_eq(atoi(v) / 10000, atoi(tm_pg_major()));
    free(v);
    assert_setting(c, "wal_level", "logical");
    assert_setting(c, "listen_addresses", "127.0.0.1");
    assert_setting(c, "unix_socket_directories", pg->socket_dir);
    assert_setting(c, "port", port);
    assert_setting(c, "max_replication_slots", "20");
    assert_setting(c, "max_wal_senders", "20");
    tm_pg_assert_value(c, "postgres", "SELECT current_user");
    PQfinish(c);

    /* The same server over TCP on 127.0.0.1. */
    char ci[128];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d user=postgres dbname=postgres", pg->port);
    c = PQconnectdb(ci);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "TCP connect: %s", PQerrorMessage(c));
    PQfinish(c);

    /* PostgreSQL refuses root; as root the harness runs it as postgres. */
    char proc[64];
    struct stat st;
    snprintf(proc, sizeof proc, "/proc/%ld", (long)pg->postmaster_pid);
    ck_assert_int_eq(stat(proc, &st), 0);
    uid_t want = geteuid();
    if (want == 0) {
        struct passwd *pw = getpwnam("postgres");
        ck_assert_ptr_nonnull(pw);
        want = pw->pw_uid;
    }
    ck_assert_uint_eq(st.st_uid, want);
}
END_TEST

/* The pgoutput messages of one decoding session must be, by type:
 *   INSERT 2 rows             B R I I C   (R: the relation, first use)
 *   message + UPDATE          B M U C
 *   DELETE                    B D C
 * and with REPLICA IDENTITY FULL, U and D carry the whole old row ('O'). */
static const char expected_types[] = "BRIICBMUCBDC";

static void check_message(const char *m, int len, uint32_t relid)
{
    switch (m[0]) {
    case 'R': {
        ck_assert_uint_eq(be32(m + 1), relid);
        const char *nspname = m + 5;
        ck_assert_str_eq(nspname, "public");
        const char *relname = nspname + strlen(nspname) + 1;
        ck_assert_str_eq(relname, "prefs");
        ck_assert_int_eq(relname[strlen(relname) + 1], 'f'); /* replica identity full */
        break;
    }
    case 'I':
        ck_assert_uint_eq(be32(m + 1), relid);
        ck_assert_int_eq(m[5], 'N');
        break;
    case 'U':
    case 'D':
        ck_assert_uint_eq(be32(m + 1), relid);
        ck_assert_int_eq(m[5], 'O');
        break;
    case 'M': {
        ck_assert_int_eq(m[1], 1); /* transactional */
        const char *prefix = m + 10;
        ck_assert_str_eq(prefix, "tidemark");
        const char *body = prefix + strlen(prefix) + 1;
        ck_assert_uint_eq(be32(body), 9);
        ck_assert_int_eq(memcmp(body + 4, "who=alice", 9), 0);
        ck_assert_int_eq(body + 4 + 9 - m, len);
        break;
    }
    default:
        break;
    }
}

static void make_workload_schema(PGconn *c)
{
    tm_pg_exec(c, "CREATE TABLE prefs (id int PRIMARY KEY, v text)");
    tm_pg_exec(c, "ALTER TABLE prefs REPLICA IDENTITY FULL");
    tm_pg_exec(c, "CREATE PUBLICATION pub FOR TABLE prefs");
}

static void run_workload(PGconn *c)
{
    tm_pg_exec(c, "INSERT INTO prefs VALUES (1, 'a'), (2, 'b')");
    tm_pg_exec(c, "BEGIN; SELECT pg_logical_emit_message(true, 'tidemark', 'who=alice');"
                  "UPDATE prefs SET v = 'c' WHERE id = 1; COMMIT");
    tm_pg_exec(c, "DELETE FROM prefs WHERE id = 2");
}

START_TEST(pgoutput_through_sql_interface)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "peek");
    PGconn *c = tm_pg_connect(pg, "peek");
    make_workload_schema(c);
    tm_pg_exec(c, "SELECT pg_create_logical_replication_slot('peek_slot', 'pgoutput')");
    run_workload(c);
    char *oid = tm_pg_query_value(c, "SELECT 'prefs'::regclass::oid");
    uint32_t relid = (uint32_t)strtoul(oid, NULL, 10);
    free(oid);

    PGresult *r = PQexecParams(c,
                               "SELECT data FROM pg_logical_slot_peek_binary_changes("
                               "'peek_slot', NULL, NULL, 'proto_version', '1', "
                               "'publication_names', 'pub', 'messages', 'true')",
                               0, NULL, NULL, NULL, NULL, 1);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    char types[64] = "";
    int n = PQntuples(r);
    for (int i = 0; i < n && i < (int)sizeof types - 1; i++) {
        const char *m = PQgetvalue(r, i, 0);
        ck_assert_int_gt(PQgetlength(r, i, 0), 0);
        types[i] = m[0];
        types[i + 1] = '\0';
        check_message(m, PQgetlength(r, i, 0), relid);
    }
    PQclear(r);
    ck_assert_str_eq(types, expected_types);

    /* Peeking does not consume: the same stream again; get consumes it. */
    char *again = tm_pg_query_value(
        c, "SELECT count(*) FROM pg_logical_slot_get_binary_changes('peek_slot', NULL, NULL, "
           "'proto_version', '1', 'publication_names', 'pub', 'messages', 'true')");
    ck_assert_int_eq(atoi(again), (int)strlen(expected_types));
    free(again);
    tm_pg_exec(c, "SELECT pg_drop_replication_slot('peek_slot')");
    PQfinish(c);
}
END_TEST

/* Reads CopyData until the workload's three Commits have arrived; fills types
 * with the pgoutput message types seen. */
static void read_stream_types(PGconn *rc, char *types, size_t len, uint32_t relid)
{
    size_t n = 0;
    long long deadline = tm_now_ms() + 30000;
    types[0] = '\0';
    int commits = 0;
    while (commits < 3) {
        char *buf = NULL;
        int got = PQgetCopyData(rc, &buf, 1);
        if (got == 0) {
            long long left = deadline - tm_now_ms();
            ck_assert_msg(left > 0, "no Commit within 30 s; got \"%s\"", types);
            struct pollfd p = {.fd = PQsocket(rc), .events = POLLIN};
            poll(&p, 1, (int)left);
            ck_assert_int_eq(PQconsumeInput(rc), 1);
            continue;
        }
        ck_assert_msg(got > 0, "replication stream ended: %s", PQerrorMessage(rc));
        /* 'w' XLogData: 1 + 3 * 8 header bytes, then one pgoutput message;
         * 'k' keepalives are skipped. */
        if (buf[0] == 'w' && got > 25 && n + 1 < len) {
            types[n++] = buf[25];
            types[n] = '\0';
            check_message(buf + 25, got - 25, relid);
            commits += buf[25] == 'C';
        }
        PQfreemem(buf);
    }
}

START_TEST(pgoutput_through_walsender)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "stream");
    PGconn *c = tm_pg_connect(pg, "stream");
    make_workload_schema(c);
    char *sysid = tm_pg_query_value(c, "SELECT system_identifier FROM pg_control_system()");
    char *oid = tm_pg_query_value(c, "SELECT 'prefs'::regclass::oid");
    uint32_t relid = (uint32_t)strtoul(oid, NULL, 10);
    free(oid);

    PGconn *rc = tm_pg_connect_replication(pg, "stream");
    PGresult *r = PQexec(rc, "IDENTIFY_SYSTEM");
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(rc));
    ck_assert_int_eq(PQntuples(r), 1);
    ck_assert_str_eq(PQgetvalue(r, 0, PQfnumber(r, "systemid")), sysid);
    ck_assert_str_eq(PQgetvalue(r, 0, PQfnumber(r, "dbname")), "stream");
    PQclear(r);
    free(sysid);

    /* The keyword syntax: every major takes it (14 knows no parenthesised options). */
    r = PQexec(rc, "CREATE_REPLICATION_SLOT stream_slot LOGICAL pgoutput NOEXPORT_SNAPSHOT");
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(rc));
    PQclear(r);
    run_workload(c);

    r = PQexec(rc, "START_REPLICATION SLOT stream_slot LOGICAL 0/0 "
                   "(proto_version '1', publication_names 'pub', messages 'true')");
    ck_assert_msg(PQresultStatus(r) == PGRES_COPY_BOTH, "%s", PQerrorMessage(rc));
    PQclear(r);
    char types[64];
    read_stream_types(rc, types, sizeof types, relid);
    ck_assert_str_eq(types, expected_types);
    PQfinish(rc);
    PQfinish(c);
}
END_TEST

static void assert_gone(pid_t postmaster, const char *dir)
{
    ck_assert_msg(!tm_pid_alive(postmaster), "postmaster %ld still alive", (long)postmaster);
    ck_assert_msg(!dir_exists(dir), "%s still exists", dir);
}

START_TEST(start_restart_stop_leaves_nothing)
{
    tm_pg pg;
    char err[2048];
    ck_assert_msg(tm_pg_start(&pg, "log_min_messages = notice", err, sizeof err) == 0, "%s", err);
    pid_t first = pg.postmaster_pid;
    ck_assert(tm_pid_alive(first));
    ck_assert(dir_exists(pg.datadir));

    PGconn *c = tm_pg_connect(&pg, NULL);
    assert_setting(c, "log_min_messages", "notice"); /* extra_conf applies */
    tm_pg_exec(c, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)");
    PQfinish(c);

    /* A crash (immediate stop) and restart keeps committed data. */
    ck_assert_msg(tm_pg_restart(&pg, "immediate", err, sizeof err) == 0, "%s", err);
    ck_assert(!tm_pid_alive(first));
    ck_assert(tm_pid_alive(pg.postmaster_pid));
    c = tm_pg_connect(&pg, NULL);
    tm_pg_assert_value(c, "42", "SELECT x FROM kept");
    PQfinish(c);

    char dir[TM_PG_PATHLEN];
    snprintf(dir, sizeof dir, "%s", pg.dir);
    pid_t pid = pg.postmaster_pid;
    tm_pg_stop(&pg);
    assert_gone(pid, dir);
    tm_pg_stop(&pg); /* idempotent */
}
END_TEST

struct report {
    int ok;
    pid_t postmaster;
    char dir[TM_PG_PATHLEN];
    char err[512];
};

/* Forks a process that starts a cluster, reports it, and waits forever, as
 * a test binary would. Its pid is returned; *rep describes the cluster. */
static pid_t spawn_owner(struct report *rep)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* A standalone process: own group, default signal handling
         * (not the handlers Check set in the runner). */
        setpgid(0, 0);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        close(p[0]);
        tm_pg pg;
        struct report r = {0};
        r.ok = tm_pg_start(&pg, NULL, r.err, sizeof r.err) == 0;
        r.postmaster = pg.postmaster_pid;
        snprintf(r.dir, sizeof r.dir, "%s", pg.dir);
        if (write(p[1], &r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    ssize_t got = read(p[0], rep, sizeof *rep);
    close(p[0]);
    if (got != (ssize_t)sizeof *rep || !rep->ok) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ck_abort_msg("owner process could not start a cluster: %s",
                     got == (ssize_t)sizeof *rep ? rep->err : "no report");
    }
    ck_assert(tm_pid_alive(rep->postmaster));
    ck_assert(dir_exists(rep->dir));
    return pid;
}

START_TEST(sigterm_of_owner_removes_cluster_before_it_exits)
{
    struct report rep;
    pid_t owner = spawn_owner(&rep);
    ck_assert_int_eq(kill(owner, SIGTERM), 0);
    int status;
    ck_assert_int_eq(waitpid(owner, &status, 0), owner);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    /* The handler waited for the watchdog: nothing is left already. */
    assert_gone(rep.postmaster, rep.dir);
}
END_TEST

START_TEST(sigkill_of_owner_is_cleaned_by_watchdog)
{
    struct report rep;
    pid_t owner = spawn_owner(&rep);
    ck_assert_int_eq(kill(owner, SIGKILL), 0);
    ck_assert_int_eq(waitpid(owner, NULL, 0), owner);
    long long deadline = tm_now_ms() + 30000;
    while ((tm_pid_alive(rep.postmaster) || dir_exists(rep.dir)) && tm_now_ms() < deadline)
        usleep(20000);
    assert_gone(rep.postmaster, rep.dir);
}
END_TEST

static void make_fake_cluster(char *dir, size_t len, pid_t owner, unsigned long long start)
{
    snprintf(dir, len, "%s/tidemark-pg-XXXXXX", tm_pg_tmp_base());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[TM_PG_PATHLEN + 32];
    snprintf(path, sizeof path, "%s/data", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/owner", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%ld %llu\n", (long)owner, start);
    fclose(f);
}

START_TEST(sweeper_removes_only_dead_owners_clusters)
{
    pid_t dead = fork();
    ck_assert_int_ge(dead, 0);
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);

    char stale[TM_PG_PATHLEN], live[TM_PG_PATHLEN], reused[TM_PG_PATHLEN];
    make_fake_cluster(stale, sizeof stale, dead, 0);
    make_fake_cluster(live, sizeof live, getpid(), tm_pid_starttime(getpid()));
    /* Our pid, but a different start time: a pid reused by us. */
    make_fake_cluster(reused, sizeof reused, getpid(), tm_pid_starttime(getpid()) + 1);

    tm_pg_sweep_stale();
    ck_assert_msg(!dir_exists(stale), "stale %s kept", stale);
    ck_assert_msg(!dir_exists(reused), "stale %s kept", reused);
    ck_assert_msg(dir_exists(live), "live %s removed", live);
    ck_assert_int_eq(tm_rmtree(live), 0);
}
END_TEST

/* A hot standby made with the low-level backup API streams from its
 * primary: what the primary commits is read on the standby. */
START_TEST(standby_follows_primary)
{
    tm_pg primary, standby;
    char err[2048];
    ck_assert_msg(tm_pg_start(&primary, NULL, err, sizeof err) == 0, "%s", err);
    PGconn *c = tm_pg_connect(&primary, NULL);
    tm_pg_exec(c, "CREATE TABLE t (id int PRIMARY KEY)");
    tm_pg_exec(c, "INSERT INTO t SELECT generate_series(1, 100)");
    ck_assert_msg(tm_pg_start_standby(&standby, &primary, "standby1", "hot_standby_feedback = on",
                                      err, sizeof err) == 0,
                  "%s", err);
    tm_pg_exec(c, "INSERT INTO t SELECT generate_series(101, 150)");
    ck_assert_msg(tm_pg_wait_replay(&standby, &primary, 60000, err, sizeof err) == 0, "%s", err);
    PGconn *s = tm_pg_connect(&standby, NULL);
    tm_pg_assert_value(s, "t", "SELECT pg_is_in_recovery()");
    tm_pg_assert_value(s, "150", "SELECT count(*) FROM t");
    tm_pg_assert_value(c, "streaming", "SELECT state FROM pg_stat_replication");
    PQfinish(s);
    PQfinish(c);
    tm_pg_stop(&standby);
    tm_pg_stop(&primary);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_harness");
    TCase *server =
        tm_check_case(s, "server", 0,
                      TM_TESTS(server_is_configured_for_capture, pgoutput_through_sql_interface,
                               pgoutput_through_walsender));
    tm_pg_fixture_add(server);
    tm_check_case(s, "lifecycle", 0,
                  TM_TESTS(start_restart_stop_leaves_nothing,
                           sigterm_of_owner_removes_cluster_before_it_exits,
                           sigkill_of_owner_is_cleaned_by_watchdog,
                           sweeper_removes_only_dead_owners_clusters));
    tm_check_case(s, "standby", 0, TM_TESTS(standby_follows_primary));
    return tm_check_run(s);
}
