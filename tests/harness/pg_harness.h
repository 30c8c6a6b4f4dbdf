/* A throwaway PostgreSQL cluster for integration tests: 15 (Debian's), or
 * the major in the environment variable TM_PG_MAJOR (14, 16, 17, 18: the
 * server builds scripts/pg-builds.sh installs; client tools and libpq stay
 * Debian's 15).
 *
 * tm_pg_start initdbs a fresh cluster in a new temp dir (wal_level=logical,
 * replication slots and senders, unix socket in that dir, a free port on
 * 127.0.0.1 only; as the `postgres` OS user when we are root) and waits until
 * it accepts connections. tm_pg_stop stops it and removes the dir.
 *
 * The cluster is removed whatever happens to the process that started it:
 * normal exit (atexit), SIGINT/SIGTERM/SIGHUP (handlers), a crash or SIGKILL
 * (a watchdog process that outlives it), and as a last resort any later
 * tm_pg_start sweeps clusters whose owner process is gone.
 *
 * Check suites share one cluster per test binary: tm_pg_fixture_add(tc) adds
 * an unchecked fixture (it runs in the runner process, tests run in forked
 * children), tm_pg_shared() returns the cluster, tm_check_run (tm_check.h)
 * stops it. Tests share it, so each uses its own database (tm_pg_createdb)
 * and slot names. A test that stops, restarts or crashes the server starts
 * its own cluster with tm_pg_start inside the test: only the process that
 * started a cluster may stop or restart it.
 *
 *   tm_pg *pg = tm_pg_shared();
 *   tm_pg_createdb(pg, "t1");
 *   PGconn *c = tm_pg_connect(pg, "t1");
 *   tm_pg_exec(c, "CREATE TABLE prefs (id int PRIMARY KEY, v text)");
 *   char *n = tm_pg_query_value(c, "SELECT count(*) FROM prefs");
 *   ...
 *   char *ci = tm_pg_conninfo(pg, "t1");   (then tm_tidemark(&r, NULL, "capture", ...,
 *   NULL) from tm_run.h runs the binary against it; free(ci), free(n)) */
#ifndef TM_PG_HARNESS_H
#define TM_PG_HARNESS_H

#include <check.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <sys/types.h>

#define TM_PG_PATHLEN 256

typedef struct tm_pg {
    char dir[TM_PG_PATHLEN];        /* temp root; removed by tm_pg_stop */
    char datadir[TM_PG_PATHLEN];    /* dir/data */
    char socket_dir[TM_PG_PATHLEN]; /* where .s.PGSQL.<port> lives (= dir) */
    char bindir[TM_PG_PATHLEN];     /* the server major's binaries */
    char clientdir[TM_PG_PATHLEN];  /* client tools (psql, pg_dump): Debian's 15 */
    char logfile[TM_PG_PATHLEN];    /* server log: dir/postgres.log */
    char conninfo[768];             /* host=<socket_dir> port=N user=postgres dbname=postgres */
    int port;
    pid_t postmaster_pid;
    /* private to the harness */
    char run_as[32]; /* OS user the server runs as ("" = ourselves) */
    pid_t owner;     /* process that started it; only it stops it */
    int guard_fd;    /* our end of the watchdog connection */
    int running;
} tm_pg;

#define TM_PG_DEFAULT_MAJOR "15"

/* The server major the tests run against: TM_PG_MAJOR, else 15. */
const char *tm_pg_major(void);

/* Starts a new cluster. extra_conf (may be NULL) is appended to the
 * generated configuration, one "name = value" per line. Returns 0, or -1
 * with a sentence in err (nothing is left behind then). */
int tm_pg_start(tm_pg *pg, const char *extra_conf, char *err, size_t errlen);

/* Stops (fast, then immediate, then SIGKILL) and removes the temp dir.
 * Idempotent; does nothing in a process other than the one that started it. */
void tm_pg_stop(tm_pg *pg);

/* A base backup of pg's data directory into dest (which must not exist),
 * with the low-level backup API (pg_backup_start/stop; pg_start_backup/
 * pg_stop_backup on 14) and a file copy, since the npm builds have no
 * pg_basebackup. pg_wal is left empty: recovery takes the WAL from an
 * archive (the stop waits until it is archived) or from the primary.
 * Owned by the server's OS user. Returns 0 or -1 with err. */
int tm_pg_base_backup(const tm_pg *pg, const char *dest, char *err, size_t errlen);

/* Starts a hot standby of primary in a new cluster: a base backup, then
 * standby.signal and primary_conninfo (primary's socket), streaming through
 * the physical slot `slot` that it creates on primary first (if missing) to
 * hold the WAL. extra_conf as for tm_pg_start (hot_standby_feedback = on).
 * Stop it with tm_pg_stop; the slot stays on primary. */
int tm_pg_start_standby(tm_pg *standby, const tm_pg *primary, const char *slot,
                        const char *extra_conf, char *err, size_t errlen);

/* Waits until standby has replayed what primary has written up to now. */
int tm_pg_wait_replay(const tm_pg *standby, const tm_pg *primary, int timeout_ms, char *err,
                      size_t errlen);

/* Promotes a standby (pg_ctl promote, waiting until it is done). */
int tm_pg_promote(tm_pg *pg, char *err, size_t errlen);

/* Stops the server with mode "fast" or "immediate" (a crash) and starts it
 * again on the same port and data. Returns 0 or -1 with err. */
int tm_pg_restart(tm_pg *pg, const char *mode, char *err, size_t errlen);

/* Stops and removes clusters whose owner process is gone. Returns how many. */
int tm_pg_sweep_stale(void);

/* The directory under which clusters are created (TMPDIR if postgres can
 * use it, else /tmp). */
const char *tm_pg_tmp_base(void);

/* The postmaster pid from datadir/postmaster.pid, or 0. */
pid_t tm_pg_read_postmaster_pid(const char *datadir);

/* libpq conninfo for dbname (NULL: "postgres"), values quoted; malloc'd. */
char *tm_pg_conninfo(const tm_pg *pg, const char *dbname);

/* Connects to dbname (NULL: "postgres"); fails the test on error. */
PGconn *tm_pg_connect(const tm_pg *pg, const char *dbname);
/* A walsender connection (replication=database) to dbname. */
PGconn *tm_pg_connect_replication(const tm_pg *pg, const char *dbname);

/* Runs SQL built from fmt (printf-style: for trusted test text only);
 * fails the test unless it succeeds. */
void tm_pg_exec(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, for a query returning rows; PQclear the result. */
PGresult *tm_pg_query(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first column of the first row, malloc'd (NULL for SQL NULL); fails
 * the test when the query fails or returns no row. */
char *tm_pg_query_value(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs sql in a transaction of its own and returns its xid (malloc'd). */
char *tm_pg_tx(PGconn *conn, const char *sql);
/* Fails the test unless that value is want (SQL NULL never is). */
void tm_pg_assert_value(PGconn *conn, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What COPY (query built from fmt) TO STDOUT WITH (FORMAT csv, HEADER)
 * writes, as a malloc'd string; fails the test when the query fails. */
char *tm_pg_copy_csv(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CREATE DATABASE name (quoted as an identifier); fails the test on error. */
void tm_pg_createdb(const tm_pg *pg, const char *name);

/* The end of a test on a database of its own: closes c, frees its
 * conninfo and removes the journal (a tmt_journal_path). */
void tm_pg_done(PGconn *c, char *conninfo, char *journal);

/* The shared cluster of this test binary (see above). */
void tm_pg_fixture_add(TCase *tc);
tm_pg *tm_pg_shared(void);
/* main() of a suite of one test case using the shared cluster. */
int tm_pg_check_main(const char *suite, const char *tcase, double timeout,
                     const TTest *const *tests);
/* Stops the shared cluster (tm_check_run does it for you). */
void tm_pg_shared_stop(void);

#endif
