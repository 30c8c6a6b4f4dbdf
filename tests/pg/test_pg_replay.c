/* tidemark replay against PostgreSQL's own point-in-time recovery.
 *
 * A cluster with WAL archiving gets a base backup, then a captured
 * workload (composite keys, unchanged TOAST values, a key change, rows
 * deleted and re-inserted, a column added with a DEFAULT and one dropped,
 * TRUNCATE, a table without a key holding duplicate rows, a bad migration
 * and a mass DELETE) during which points in time are recorded, including
 * exact commit timestamps and one microsecond before them. For each point
 * the backup is restored with recovery_target_time (inclusive) into a new
 * data directory, every table is dumped with COPY ... ORDER BY key (CSV,
 * HEADER, TimeZone UTC, DateStyle ISO), and tidemark replay --at must
 * write the same bytes. At one point --where, --format sql, --apply
 * (replace, merge, --where subset, --dry-run) and the refusal to write
 * into the source are checked against the same reference. */
#include <check.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#define NTABLES 4
static const char *const tables[NTABLES] = {"users", "prefs", "docs", "notes"};
static const char *const order_by[NTABLES] = {"id", "user_id, key", "id", "author, note"};

#define MAXPOINTS 16
typedef struct point {
    char t[64];
    char label[48];
    char *ref[NTABLES]; /* PITR dump of each table */
} point;

static tm_pg pg;
static point points[MAXPOINTS];
static int npoints;
static char journal[512];
static char *end_lsn; /* WAL position right after the last point's transactions */

/* ---- helpers ------------------------------------------------------------- */

static void run_as_pg(const char *const *argv)
{
    tm_run_opts o = {.timeout_ms = 120000, .as_user = pg.run_as[0] ? pg.run_as : NULL};
    tm_run_result r;
    int rc = tm_runv(argv, &o, &r);
    ck_assert_msg(rc == 0, "%s failed (%d): %s%s", argv[0], rc, r.err, r.out);
    tm_run_result_free(&r);
}

static void chown_pg(const char *path)
{
    if (!pg.run_as[0])
        return;
    struct passwd *pw = getpwnam(pg.run_as);
    ck_assert_ptr_nonnull(pw);
    ck_assert_int_eq(chown(path, pw->pw_uid, pw->pw_gid), 0);
}

static void append_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fputs(text, f);
    fclose(f);
    chown_pg(path);
}

static char *dump_table(PGconn *c, int i, const char *where)
{
    char q[512];
    snprintf(q, sizeof q, "SELECT * FROM %s%s%s ORDER BY %s", tables[i], where ? " WHERE " : "",
             where ? where : "", order_by[i]);
    return tm_pg_copy_csv(c, "%s", q);
}

static void assert_same(const char *what, const char *want, const char *got, size_t got_len)
{
    size_t wl = strlen(want), i = 0;
    while (i < wl && i < got_len && want[i] == got[i])
        i++;
    if (i == wl && i == got_len)
        return;
    size_t from = i > 60 ? i - 60 : 0;
    ck_abort_msg("%s: differs at byte %zu (want %zu bytes, got %zu)\n--- want:\n%.200s\n--- "
                 "got:\n%.200s",
                 what, i, wl, got_len, want + from, got + (from < got_len ? from : got_len));
}

/* Runs tidemark replay with the arguments after the journal and target. */
static void replay(tm_run_result *r, const char *t, ...)
{
    const char *lead[] = {"replay", "--journal", journal, "--at", t, NULL};
    tm_run_opts o = {.timeout_ms = 120000};
    va_list ap;
    va_start(ap, t);
    tm_tidemark_ap(r, &o, lead, ap);
    va_end(ap);
}

static void add_point(PGconn *c, const char *label, const char *expr)
{
    ck_assert_int_lt(npoints, MAXPOINTS);
    char *t = tm_pg_query_value(c, "SELECT (%s)::text", expr);
    point *p = &points[npoints++];
    snprintf(p->t, sizeof p->t, "%s", t);
    snprintf(p->label, sizeof p->label, "%s", label);
    free(t);
}

/* After a commit: its exact timestamp, and one microsecond before it. */
static void add_commit_points(PGconn *c, const char *label)
{
    char l[48];
    snprintf(l, sizeof l, "%s (commit)", label);
    add_point(c, l, "(SELECT timestamp FROM pg_last_committed_xact())");
    snprintf(l, sizeof l, "%s (commit - 1us)", label);
    add_point(c, l, "(SELECT timestamp - interval '1 microsecond' FROM pg_last_committed_xact())");
}

static void mark(PGconn *c, const char *label)
{
    add_point(c, label, "clock_timestamp()");
}

/* ---- the workload --------------------------------------------------------- */

static void setup_schema(PGconn *c)
{
    tm_pg_exec(
        c, "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, plan text);"
           "CREATE TABLE prefs (user_id int, key text, value jsonb, PRIMARY KEY (user_id, key));"
           "CREATE TABLE docs (id int PRIMARY KEY, title text, body text);"
           "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;"
           "CREATE TABLE notes (author text, note text);"
           "ALTER TABLE users REPLICA IDENTITY FULL;"
           "ALTER TABLE prefs REPLICA IDENTITY FULL;"
           "ALTER TABLE notes REPLICA IDENTITY FULL;"
           "CREATE TABLE other (id int, pad text);"
           "INSERT INTO users SELECT g, 'u' || g || '@example.com', "
           "  CASE WHEN g %% 3 = 0 THEN 'pro' ELSE 'free' END FROM generate_series(1, 40) g;"
           "INSERT INTO prefs SELECT g, k, jsonb_build_object('on', g %% 2 = 0, 'n', g, "
           "  'notifications', jsonb_build_object('email', true)) "
           "  FROM generate_series(1, 40) g, unnest(ARRAY['theme', 'lang', 'tz']) k;"
           "INSERT INTO docs SELECT g, 'title ' || g, (SELECT string_agg(md5(g::text || i), "
           "  '') FROM generate_series(1, 200) i) FROM generate_series(1, 5) g;"
           "INSERT INTO notes VALUES ('ann', 'hello'), ('bob', 'dup'), ('bob', 'dup'), "
           "  ('bob', 'dup'), ('cy', NULL);");
}

static void workload(PGconn *c)
{
    tm_pg_exec(c, "SET TimeZone = 'UTC'");
    mark(c, "start");
    tm_pg_exec(c, "INSERT INTO prefs VALUES (41, 'theme', '{\"on\": true}'), "
                  "(41, 'lang', '{\"v\": \"fr\"}'); UPDATE users SET email = 'new1@example.com' "
                  "WHERE id = 1");
    /* Unchanged TOAST values: docs has the default replica identity, so
     * its updates carry no old row and body arrives as 'u'. */
    tm_pg_exec(c, "UPDATE docs SET title = 'v2' WHERE id IN (1, 2)");
    mark(c, "after toast update");
    /* Key changes, on a single and a composite key. */
    tm_pg_exec(c, "BEGIN; UPDATE users SET id = 1005 WHERE id = 5; "
                  "UPDATE prefs SET user_id = 1005 WHERE user_id = 5; COMMIT");
    tm_pg_exec(c, "DELETE FROM users WHERE id = 7");
    tm_pg_exec(c, "INSERT INTO users VALUES (7, 'again7@example.com', 'pro')");
    add_commit_points(c, "re-insert");
    /* Deleted and re-inserted in one transaction, with another value. */
    tm_pg_exec(c, "BEGIN; DELETE FROM prefs WHERE user_id = 8 AND key = 'tz'; "
                  "INSERT INTO prefs VALUES (8, 'tz', '{\"v\": \"Europe/Paris\"}'); COMMIT");
    /* A column added with a DEFAULT (old rows read it), used at once. */
    tm_pg_exec(c, "BEGIN; ALTER TABLE users ADD COLUMN tier int DEFAULT 3; "
                  "UPDATE users SET tier = 4 WHERE id = 2; COMMIT");
    /* One of three identical rows of a table without a key goes. */
    tm_pg_exec(c, "DELETE FROM notes WHERE ctid = (SELECT ctid FROM notes WHERE author = 'bob' "
                  "LIMIT 1)");
    tm_pg_exec(c, "INSERT INTO notes VALUES ('ann', 'hello')");
    mark(c, "after add column");
    tm_pg_exec(c, "BEGIN; ALTER TABLE users DROP COLUMN plan; "
                  "UPDATE users SET email = email || '.x' WHERE id = 3; COMMIT");
    tm_pg_exec(c, "UPDATE docs SET body = body || 'tail' WHERE id = 3");
    tm_pg_exec(c, "UPDATE docs SET title = 'v3' WHERE id = 3");
    add_commit_points(c, "toast after change");
    mark(c, "before bad migration");
    tm_pg_exec(c, "UPDATE prefs SET value = value - 'notifications'");
    mark(c, "after bad migration");
    tm_pg_exec(c, "DELETE FROM prefs WHERE user_id > 20");
    mark(c, "after mass delete");
    tm_pg_exec(c, "BEGIN; TRUNCATE notes; INSERT INTO notes VALUES ('carol', 'after truncate'); "
                  "COMMIT");
    tm_pg_exec(c, "INSERT INTO prefs VALUES (3, 'quote', '{\"s\": \"a,b\\\"c\\nd\"}')");
    mark(c, "end");
    end_lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    /* Recovery needs a commit after every target to stop at. */
    tm_pg_exec(c, "INSERT INTO other VALUES (1, 'after the last point')");
}

/* ---- point-in-time recovery --------------------------------------------- */

/* Restores the base backup to time t in a new data dir, waits for the end
 * of recovery, dumps every table into p->ref (and, for where_point, the
 * --where reference into *where_ref). */
static void restore_and_dump(point *p, int n, const char *where, char **where_ref)
{
    char dir[TM_PG_PATHLEN + 32], base[TM_PG_PATHLEN + 16], conf[TM_PG_PATHLEN + 64];
    snprintf(dir, sizeof dir, "%s/restore%d", pg.dir, n);
    snprintf(base, sizeof base, "%s/base", pg.dir);
    const char *cp[] = {"cp", "-a", base, dir, NULL};
    run_as_pg(cp);
    int port = 20000 + (int)(getpid() % 20000);
    char text[8192];
    snprintf(text, sizeof text,
             "\n# restore for tidemark's test\n"
             "port = %d\nlisten_addresses = ''\nunix_socket_directories = '%s'\n"
             "archive_mode = off\nrestore_command = 'cp %s/archive/%%f %%p'\n"
             "recovery_target_time = '%.63s'\nrecovery_target_inclusive = on\n"
             "recovery_target_action = 'promote'\n",
             port, dir, pg.dir, p->t);
    snprintf(conf, sizeof conf, "%s/postgresql.auto.conf", dir);
    append_file(conf, text);
    snprintf(conf, sizeof conf, "%s/recovery.signal", dir);
    append_file(conf, "");
    char ctl[TM_PG_PATHLEN + 16], log[TM_PG_PATHLEN + 64];
    snprintf(ctl, sizeof ctl, "%s/pg_ctl", pg.bindir);
    snprintf(log, sizeof log, "%s/restore.log", dir);
    const char *start[] = {ctl, "start", "-D", dir, "-l", log, "-w", "-t", "120", NULL};
    run_as_pg(start);
    char ci[1024];
    snprintf(ci, sizeof ci, "host=%s port=%d user=postgres dbname=app", dir, port);
    PGconn *c = NULL;
    for (int i = 0; i < 600; i++) {
        if (c)
            PQfinish(c);
        c = PQconnectdb(ci);
        if (PQstatus(c) == CONNECTION_OK) {
            PGresult *r = PQexec(c, "SELECT pg_is_in_recovery()");
            bool done = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 'f';
            PQclear(r);
            if (done)
                break;
        }
        usleep(100000);
    }
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "restored cluster: %s", PQerrorMessage(c));
    tm_pg_exec(c, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'");
    for (int i = 0; i < NTABLES; i++)
        p->ref[i] = dump_table(c, i, NULL);
    if (where)
        *where_ref = dump_table(c, 1, where);
    PQfinish(c);
    const char *stop[] = {ctl, "stop", "-D", dir, "-m", "fast", "-w", NULL};
    run_as_pg(stop);
    const char *rm[] = {"rm", "-rf", dir, NULL};
    run_as_pg(rm);
}

/* ---- checks against the references --------------------------------------- */

static void check_point(const point *p)
{
    for (int i = 0; i < NTABLES; i++) {
        tm_run_result r;
        replay(&r, p->t, "--table", tables[i], NULL);
        char what[512];
        snprintf(what, sizeof what, "%s at %.63s (%.47s)", tables[i], p->t, p->label);
        ck_assert_msg(r.status == 0, "%s: exit %d: %s", what, r.status, r.err);
        assert_same(what, p->ref[i], r.out, r.out_len);
        tm_run_result_free(&r);
    }
}

static void check_dump(PGconn *c, const point *p, int i, const char *what)
{
    tm_pg_exec(c, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'");
    char *got = dump_table(c, i, NULL);
    assert_same(what, p->ref[i], got, strlen(got));
    free(got);
}

static void apply_checks(const point *p)
{
    char *ci = tm_pg_conninfo(&pg, "staging");
    tm_pg_createdb(&pg, "staging");
    tm_run_result r;

    /* Into a fresh database, creating the tables. */
    replay(&r, p->t, "--apply", ci, "--create-tables", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "prefs: inserted"));
    tm_run_result_free(&r);
    PGconn *c = tm_pg_connect(&pg, "staging");
    for (int i = 0; i < NTABLES; i++)
        check_dump(c, p, i, "--apply --create-tables into a fresh database");

    /* Merge restores only what is missing or changed, and keeps the rest. */
    tm_pg_exec(c, "DELETE FROM prefs WHERE user_id <= 3; UPDATE users SET email = 'changed' "
                  "WHERE id = 1; INSERT INTO users (id, email) VALUES (999, 'extra')");
    char *n_deleted = tm_pg_query_value(c, "SELECT count(*) FROM prefs");
    replay(&r, p->t, "--table", "users", "--table", "prefs", "--apply", ci, "--mode", "merge",
           NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "users: inserted 0, updated 1, deleted 0"), "merge: %s", r.out);
    ck_assert_msg(strstr(r.out, "prefs: inserted 9, updated 0, deleted 0"), "merge: %s", r.out);
    tm_run_result_free(&r);
    free(n_deleted);
    tm_pg_assert_value(c, "1", "SELECT count(*) FROM users WHERE id = 999");
    tm_pg_exec(c, "DELETE FROM users WHERE id = 999");
    check_dump(c, p, 0, "users after --mode merge");
    check_dump(c, p, 1, "prefs after --mode merge");

    /* Dry run: reports, writes nothing. */
    tm_pg_exec(c, "DELETE FROM prefs WHERE user_id = 4; INSERT INTO notes VALUES ('x', 'y')");
    char *before = dump_table(c, 1, NULL), *notes_before = dump_table(c, 3, NULL);
    replay(&r, p->t, "--table", "prefs", "--table", "notes", "--apply", ci, "--dry-run", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "prefs: would insert 3, update 0, delete 0"), "dry: %s", r.out);
    ck_assert_msg(strstr(r.out, "nothing was written"), "dry: %s", r.out);
    tm_run_result_free(&r);
    char *after = dump_table(c, 1, NULL), *notes_after = dump_table(c, 3, NULL);
    ck_assert_str_eq(before, after);
    ck_assert_str_eq(notes_before, notes_after);
    free(before);
    free(after);
    free(notes_before);
    free(notes_after);

    /* Replace (default) of a --where subset: only theme rows are made equal. */
    tm_pg_exec(c, "UPDATE prefs SET value = '{}' WHERE key = 'theme' AND user_id = 6; "
                  "DELETE FROM prefs WHERE key = 'theme' AND user_id = 9; "
                  "INSERT INTO prefs VALUES (9999, 'theme', '1'), (9999, 'lang', '2')");
    replay(&r, p->t, "--table", "prefs", "--where", "key = 'theme'", "--apply", ci, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "prefs: inserted 2, updated 1, deleted 1"), "subset: %s", r.out);
    tm_run_result_free(&r);
    char *left = tm_pg_query_value(c, "SELECT string_agg(user_id || ':' || key, ',' ORDER BY "
                                      "user_id, key) FROM prefs WHERE user_id IN (4, 9999)");
    ck_assert_str_eq(left, "4:theme,9999:lang"); /* only theme rows were in the subset */
    free(left);
    tm_pg_exec(c, "DELETE FROM prefs WHERE user_id = 9999");
    /* Replace of whole tables brings everything back. */
    replay(&r, p->t, "--apply", ci, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    for (int i = 0; i < NTABLES; i++)
        check_dump(c, p, i, "--apply (replace) after local changes");
    PQfinish(c);
    free(ci);

    /* The capture source is refused. */
    char *src = tm_pg_conninfo(&pg, "app");
    replay(&r, p->t, "--table", "prefs", "--apply", src, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "capture source"));
    tm_run_result_free(&r);
    free(src);
}

/* --format sql --create-tables, loaded by psql into a new database. */
static void sql_checks(const point *p)
{
    tm_run_result r;
    char path[600];
    snprintf(path, sizeof path, "%s.sql", journal);
    replay(&r, p->t, "--format", "sql", "--create-tables", "--output", path, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    tm_pg_createdb(&pg, "sqlload");
    char psql[TM_PG_PATHLEN + 16];
    snprintf(psql, sizeof psql, "%s/psql", pg.clientdir);
    char *ci = tm_pg_conninfo(&pg, "sqlload");
    const char *argv[] = {psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", ci, "-f", path, NULL};
    tm_run_result pr;
    tm_runv(argv, NULL, &pr);
    tm_assert_exit(&pr, 0);
    tm_run_result_free(&pr);
    PGconn *c = tm_pg_connect(&pg, "sqlload");
    for (int i = 0; i < NTABLES; i++)
        check_dump(c, p, i, "--format sql loaded by psql");
    PQfinish(c);
    free(ci);

    /* JSON lines: one line per row. */
    replay(&r, p->t, "--table", "prefs", "--format", "jsonl", NULL);
    tm_assert_exit(&r, 0);
    size_t lines = 0, ref_lines = 0;
    for (size_t i = 0; i < r.out_len; i++)
        lines += r.out[i] == '\n';
    for (const char *s = p->ref[1]; *s; s++)
        ref_lines += *s == '\n';
    ck_assert_uint_eq(lines, ref_lines - 1);
    ck_assert_msg(r.out_len > 0 && r.out[0] == '{', "jsonl: %.80s", r.out);
    tm_run_result_free(&r);

    /* Several tables into a directory, one CSV each. */
    char dir[600], file[700];
    snprintf(dir, sizeof dir, "%s.out", journal);
    replay(&r, p->t, "--output", dir, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    for (int i = 0; i < NTABLES; i++) {
        snprintf(file, sizeof file, "%s/public.%s.csv", dir, tables[i]);
        FILE *f = fopen(file, "r");
        ck_assert_msg(f != NULL, "missing %s", file);
        char *buf = malloc(1 << 20);
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        fclose(f);
        assert_same(file, p->ref[i], buf, n);
        free(buf);
    }
    /* ... and not to stdout. */
    replay(&r, p->t, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "--output DIR"));
    tm_run_result_free(&r);
}

static void error_checks(void)
{
    tm_run_result r;
    replay(&r, "2001-01-01 00:00:00+00", "--table", "prefs", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "before the journal's base snapshot") && strstr(r.err, "covers"),
                  "%s", r.err);
    tm_run_result_free(&r);
    replay(&r, "2999-01-01 00:00:00+00", "--table", "notes", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "after the journal's last commit"), "%s", r.err);
    tm_run_result_free(&r);
    replay(&r, "yesterday-ish", NULL);
    tm_assert_exit(&r, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--at"));
    tm_run_result_free(&r);
    replay(&r, points[0].t, "--table", "nosuch", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "not in the journal") && strstr(r.err, "public.prefs"), "%s",
                  r.err);
    tm_run_result_free(&r);
    replay(&r, points[0].t, "--table", "prefs", "--where", "nosuchcol = 1", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "nosuchcol") && strstr(r.err, "user_id"), "%s", r.err);
    tm_run_result_free(&r);
    replay(&r, points[0].t, "--format", "xml", NULL);
    tm_assert_exit(&r, 2);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "replay", "--journal", "/nonexistent/journal", "--at", points[0].t, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "not a tidemark journal"));
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "replay", "--help", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--at TIMESTAMP"));
    tm_run_result_free(&r);
}

START_TEST(replay_matches_pitr)
{
    char err[512];
    ck_assert_msg(tm_pg_start(&pg,
                              "archive_mode = on\nfull_page_writes = on\n"
                              "track_commit_timestamp = on\n",
                              err, sizeof err) == 0,
                  "%s", err);
    char arch[TM_PG_PATHLEN + 16], base[TM_PG_PATHLEN + 16];
    snprintf(arch, sizeof arch, "%s/archive", pg.dir);
    snprintf(base, sizeof base, "%s/base", pg.dir);
    const char *mk[] = {"mkdir", arch, NULL};
    run_as_pg(mk);
    PGconn *admin = tm_pg_connect(&pg, NULL);
    tm_pg_exec(admin, "ALTER SYSTEM SET archive_command = 'cp %%p %s/%%f'", arch);
    tm_pg_exec(admin, "SELECT pg_reload_conf()");
    tm_pg_createdb(&pg, "app");
    PGconn *c = tm_pg_connect(&pg, "app");
    setup_schema(c);

    /* The backup API and a copy: every major's builds can do it. */
    ck_assert_msg(tm_pg_base_backup(&pg, base, err, sizeof err) == 0, "%s", err);

    char tmpl[] = "/tmp/tidemark-replay-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(journal, sizeof journal, "%s/journal", tmpl);
    char *ci = tm_pg_conninfo(&pg, "app");
    char *lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    tm_run_result r;
    tm_run_opts ro = {.timeout_ms = 120000};
    tm_tidemark(&r, &ro, "capture", "--journal", journal, "--source", ci, "--table", "users",
                "--table", "prefs", "--table", "docs", "--table", "notes", "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);

    workload(c);
    lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    tm_tidemark(&r, &ro, "capture", "--journal", journal, "--source", ci, "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);
    /* Everything up to here in the archive. */
    char *seg = tm_pg_query_value(c, "SELECT pg_walfile_name(pg_current_wal_lsn())");
    tm_pg_exec(c, "SELECT pg_switch_wal()");
    for (int i = 0; i < 600; i++) {
        char *done = tm_pg_query_value(
            c, "SELECT coalesce(last_archived_wal >= '%s', false) FROM pg_stat_archiver", seg);
        bool ok = done && done[0] == 't';
        free(done);
        if (ok)
            break;
        usleep(100000);
    }
    free(seg);

    const char *where = "user_id <= 10 AND value->>'on' = 'true'";
    char *where_ref = NULL;
    int apply_at = -1;
    for (int i = 0; i < npoints; i++) {
        bool is_apply = !strcmp(points[i].label, "before bad migration");
        if (is_apply)
            apply_at = i;
        restore_and_dump(&points[i], i, is_apply ? where : NULL, &where_ref);
        check_point(&points[i]);
    }
    ck_assert_int_ge(apply_at, 0);
    ck_assert_int_eq(npoints, 11);
    fprintf(stderr, "pg_replay: %d points in time checked against PITR\n", npoints);
    /* The same points again, now starting from checkpoints (a small
     * interval, so that most points have one before them). */
    tm_tidemark(&r, NULL, "checkpoint", "--journal", journal, "--every", "5", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    int from_ckpt = 0;
    for (int i = 0; i < npoints; i++) {
        check_point(&points[i]);
        replay(&r, points[i].t, "--table", "prefs", "--verbose", NULL);
        tm_assert_exit(&r, 0);
        from_ckpt += strstr(r.err, "started from the checkpoint") != NULL;
        tm_run_result_free(&r);
    }
    ck_assert_int_ge(from_ckpt, npoints / 2);
    fprintf(stderr, "pg_replay: %d of them replayed from checkpoints, same bytes\n", from_ckpt);
    const point *p = &points[apply_at];
    replay(&r, p->t, "--table", "prefs", "--where", where, NULL);
    tm_assert_exit(&r, 0);
    assert_same("--where subset", where_ref, r.out, r.out_len);
    tm_run_result_free(&r);
    free(where_ref);
    /* --lsn: every transaction committed at or before it. */
    const point *last = &points[npoints - 1];
    for (int i = 0; i < NTABLES; i++) {
        const char *args[] = {"replay", "--journal", journal,   "--lsn",
                              end_lsn,  "--table",   tables[i], NULL};
        tm_tidemarkv(&r, NULL, args);
        tm_assert_exit(&r, 0);
        assert_same("--lsn at the end", last->ref[i], r.out, r.out_len);
        tm_run_result_free(&r);
    }
    free(end_lsn);
    sql_checks(p);
    apply_checks(p);
    error_checks();

    for (int i = 0; i < npoints; i++)
        for (int k = 0; k < NTABLES; k++)
            free(points[i].ref[k]);
    PQfinish(c);
    PQfinish(admin);
    free(ci);
    tm_pg_stop(&pg);
    tm_rmtree(tmpl);
}
END_TEST

int main(void)
{
    return tm_check_main("pg_replay", "pitr", 600, TM_TESTS(replay_matches_pitr));
}
