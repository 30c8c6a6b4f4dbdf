/* tidemark undo against a real PostgreSQL 15 and the real capture binary.
 *
 * One captured workload holds a bad migration of each kind (UPDATE-all,
 * a mass DELETE cascading to a child table, an INSERT batch, a TRUNCATE),
 * each followed by a legitimate change of other rows; a migration whose
 * rows were changed again later (conflicts); a DELETE whose key was
 * re-inserted (key reuse); names and values full of quotes, backslashes,
 * newlines, unicode and SQL; and a table without REPLICA IDENTITY FULL.
 * Copies of each table taken right before its migration are the
 * reference: after undo, the affected rows must equal them exactly while
 * the later changes stay. */
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

static char journal[512];
static char *ci; /* conninfo of the source */

static void same(const char *what, char *want, char *got)
{
    ck_assert_msg(!strcmp(want, got), "%s differs\n--- want:\n%.1500s\n--- got:\n%.1500s", what,
                  want, got);
    free(want);
    free(got);
}

static void undo(tm_run_result *r, ...)
{
    const char *lead[] = {"undo", "--journal", journal, NULL};
    tm_run_opts o = {.timeout_ms = 120000};
    va_list ap;
    va_start(ap, r);
    tm_tidemark_ap(r, &o, lead, ap);
    va_end(ap);
}

/* Runs a script with psql -v ON_ERROR_STOP=1 against the source. */
static void psql_run(const char *path, tm_run_result *r)
{
    char psql[TM_PG_PATHLEN + 16];
    snprintf(psql, sizeof psql, "%s/psql", tm_pg_shared()->clientdir);
    const char *argv[] = {psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", ci, "-f", path, NULL};
    tm_runv(argv, NULL, r);
}

static void psql_file(const char *path)
{
    tm_run_result pr;
    psql_run(path, &pr);
    tm_assert_exit(&pr, 0);
    tm_run_result_free(&pr);
}

static void capture_to_now(PGconn *c, bool first)
{
    char *lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    tm_run_result r;
    tm_run_opts ro = {.timeout_ms = 120000};
    if (first)
        tm_tidemark(&r, &ro, "capture", "--journal", journal, "--source", ci, "--table", "prefs",
                    "--table", "parent", "--table", "child", "--table", "items", "--table", "flags",
                    "--table", "conf", "--table", "kr", "--table", "\"we\"\"ird \\ tab\"",
                    "--table", "nofull", "--table", "fkp", "--table", "cpar", "--table", "cchild",
                    "--table", "bag", "--table", "sk", "--endpos", lsn, NULL);
    else
        tm_tidemark(&r, &ro, "capture", "--journal", journal, "--source", ci, "--endpos", lsn,
                    NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);
}

static const char *const nasty_table = "\"we\"\"ird \\ tab\"";

static void setup(PGconn *c)
{
    tm_pg_exec(
        c, "CREATE TABLE prefs (user_id int, key text, value jsonb, PRIMARY KEY (user_id, key));"
           "CREATE TABLE parent (id int PRIMARY KEY, name text);"
           "CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent ON "
           "  DELETE CASCADE, note text);"
           "CREATE TABLE items (id int PRIMARY KEY, v text, n numeric);"
           "CREATE TABLE flags (name text PRIMARY KEY, enabled bool, meta jsonb);"
           "CREATE TABLE conf (id int PRIMARY KEY, v text);"
           "CREATE TABLE kr (id int PRIMARY KEY, v text);"
           "CREATE TABLE \"we\"\"ird \\ tab\" (id int PRIMARY KEY, \"col \"\"q\"\" \n\" text, j "
           "  jsonb);"
           "CREATE TABLE nofull (id int PRIMARY KEY, v text);"
           "CREATE TABLE fkp (id int PRIMARY KEY, v text);"
           "ALTER TABLE fkp REPLICA IDENTITY FULL;"
           "CREATE TABLE fkc (id int PRIMARY KEY, p int NOT NULL REFERENCES fkp);"
           "CREATE TABLE cpar (id int PRIMARY KEY, v text);"
           "CREATE TABLE cchild (id int PRIMARY KEY, p int REFERENCES cpar ON DELETE CASCADE);"
           "CREATE TABLE cnull (id int PRIMARY KEY, p int REFERENCES cpar ON DELETE SET NULL);"
           "ALTER TABLE cpar REPLICA IDENTITY FULL; ALTER TABLE cchild REPLICA IDENTITY FULL;"
           "CREATE TABLE bag (v text, n int); ALTER TABLE bag REPLICA IDENTITY FULL;"
           "INSERT INTO bag VALUES ('a', 1), ('a', 1), ('a', 1), ('b', 2);"
           "CREATE TABLE sk (id int PRIMARY KEY, v text); ALTER TABLE sk REPLICA IDENTITY FULL;"
           "INSERT INTO sk SELECT g, 's' || g FROM generate_series(1, 3) g;"
           "DO $$DECLARE t text; BEGIN FOREACH t IN ARRAY ARRAY['prefs','parent','child','items',"
           "  'flags','conf','kr','we\"ird \\ tab'] LOOP EXECUTE format('ALTER TABLE %%I REPLICA "
           "  IDENTITY FULL', t); END LOOP; END$$;"
           "INSERT INTO prefs SELECT g, k, jsonb_build_object('theme', 'dark', 'notifications', "
           "  jsonb_build_object('email', g %% 2 = 0)) FROM generate_series(1, 30) g, "
           "  unnest(ARRAY['ui', 'mail']) k;"
           "INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 10) g;"
           "INSERT INTO child SELECT g, 1 + g %% 10, 'c' || g FROM generate_series(1, 40) g;"
           "INSERT INTO items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 20) g;"
           "INSERT INTO flags SELECT 'flag' || g, g %% 3 = 0, jsonb_build_object('g', g) FROM "
           "  generate_series(1, 25) g;"
           "INSERT INTO conf SELECT g, 'v' || g FROM generate_series(1, 10) g;"
           "INSERT INTO kr SELECT g, 'k' || g FROM generate_series(1, 5) g;"
           "INSERT INTO nofull SELECT g, 'n' || g FROM generate_series(1, 5) g;");
    tm_pg_exec(c,
               "INSERT INTO %s VALUES (1, 'it''s \"q\" \\ back', '{\"a\": \"x''y\"}'),"
               " (2, E'line1\\nline2\\ttab', NULL), (3, '''); DROP TABLE x; --', '[1, 2]'),"
               " (4, 'ünïcødé ✓ 日本', '{\"k\": \"$tm$ $$\"}'), (5, NULL, 'null')",
               nasty_table);
}

typedef struct refs {
    char *prefs, *parent, *child, *items, *flags, *conf, *kr, *nasty;
    char *x_update, *x_delete, *x_truncate, *x_conf, *x_kr, *x_nasty, *x_nofull, *x_later;
    char *x_fk, *x_cascade, *x_bag, *x_sk;
    char ins_from[64], ins_to[64];
} refs;

static void workload(PGconn *c, refs *f)
{
    /* UPDATE-all, then a legitimate new row */
    f->prefs = tm_pg_copy_csv(c, "SELECT * FROM prefs ORDER BY 1, 2");
    /* With the application's context message in the same transaction, as
     * scripts/context.sql does it: messages are not rows to undo. */
    f->x_update =
        tm_pg_tx(c, "SELECT pg_logical_emit_message(true, 'tidemark', '{\"user\": \"bot\"}');"
                    "UPDATE prefs SET value = value - 'notifications'");
    tm_pg_exec(c, "INSERT INTO prefs VALUES (999, 'ui', '{\"theme\": \"light\"}')");
    /* mass DELETE with cascade, then a legitimate new parent */
    f->parent = tm_pg_copy_csv(c, "SELECT * FROM parent ORDER BY 1");
    f->child = tm_pg_copy_csv(c, "SELECT * FROM child ORDER BY 1");
    f->x_delete = tm_pg_tx(c, "DELETE FROM parent WHERE id <= 6");
    tm_pg_exec(c, "INSERT INTO parent VALUES (100, 'later')");
    /* INSERT batch (by time window), then a legitimate update of an old row */
    f->items = tm_pg_copy_csv(c, "SELECT * FROM items WHERE id <> 1 ORDER BY 1");
    char *t = tm_pg_query_value(c, "SELECT clock_timestamp()::text");
    snprintf(f->ins_from, sizeof f->ins_from, "%s", t);
    free(t);
    tm_pg_exec(c,
               "INSERT INTO items SELECT g, 'batch ' || g, g FROM generate_series(1000, 1049) g");
    t = tm_pg_query_value(c, "SELECT clock_timestamp()::text");
    snprintf(f->ins_to, sizeof f->ins_to, "%s", t);
    free(t);
    usleep(20000);
    tm_pg_exec(c, "UPDATE items SET v = 'legit' WHERE id = 1");
    /* TRUNCATE after an update in the journal, then a legitimate new flag */
    tm_pg_exec(c, "UPDATE flags SET enabled = NOT enabled WHERE name = 'flag1'");
    f->flags = tm_pg_copy_csv(c, "SELECT * FROM flags ORDER BY 1");
    f->x_truncate = tm_pg_tx(c, "TRUNCATE flags");
    tm_pg_exec(c, "INSERT INTO flags VALUES ('new', true, '{}')");
    /* a migration whose row 3 is changed again later */
    f->conf = tm_pg_copy_csv(c, "SELECT * FROM conf ORDER BY 1");
    f->x_conf = tm_pg_tx(c, "UPDATE conf SET v = v || '-m'");
    f->x_later = tm_pg_tx(c, "UPDATE conf SET v = 'human' WHERE id = 3");
    /* a DELETE whose key 2 is inserted again */
    f->kr = tm_pg_copy_csv(c, "SELECT * FROM kr ORDER BY 1");
    f->x_kr = tm_pg_tx(c, "DELETE FROM kr WHERE id IN (1, 2)");
    tm_pg_exec(c, "INSERT INTO kr VALUES (2, 'reused')");
    /* quoting: update, delete and insert in one transaction */
    f->nasty = tm_pg_copy_csv(c, "SELECT * FROM %s ORDER BY 1", nasty_table);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE %s SET \"col \"\"q\"\" \n\" = 'x' WHERE id IN (1, 4); DELETE FROM %s WHERE "
             "id IN (2, 3); INSERT INTO %s VALUES (6, '$$''\\', '{}')",
             nasty_table, nasty_table, nasty_table);
    f->x_nasty = tm_pg_tx(c, sql);
    /* no old rows */
    f->x_nofull = tm_pg_tx(c, "UPDATE nofull SET v = 'changed'");
    /* an insert that a later row (in a table not captured) refers to */
    f->x_fk = tm_pg_tx(c, "INSERT INTO fkp VALUES (1, 'a'), (2, 'b')");
    tm_pg_exec(c, "INSERT INTO fkc VALUES (10, 1)");
    /* inserted parents (one with a child of the same transaction) that
     * later rows refer to through ON DELETE CASCADE / SET NULL */
    f->x_cascade = tm_pg_tx(c, "INSERT INTO cpar VALUES (1, 'a'), (2, 'b'), (3, 'c');"
                               "INSERT INTO cchild VALUES (5, 2)");
    tm_pg_exec(c, "INSERT INTO cchild VALUES (6, 1); INSERT INTO cnull VALUES (7, 3)");
    /* a table without a key: one of three identical rows updated, one row
     * deleted, two identical rows inserted; later one more identical row */
    f->x_bag =
        tm_pg_tx(c, "UPDATE bag SET n = 9 WHERE ctid = (SELECT ctid FROM bag WHERE v = 'a' "
                    "LIMIT 1); DELETE FROM bag WHERE v = 'b'; INSERT INTO bag VALUES ('c', 3), "
                    "('c', 3)");
    tm_pg_exec(c, "INSERT INTO bag VALUES ('a', 1)");
    /* a migration whose row 2 is changed again later, undone by a script */
    f->x_sk = tm_pg_tx(c, "UPDATE sk SET v = v || '-m'");
    tm_pg_exec(c, "UPDATE sk SET v = 'human' WHERE id = 2");
}

static void check_update_all(PGconn *c, refs *f)
{
    tm_run_result r;
    undo(&r, "--xid", f->x_update, "--apply", ci, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "60 rows set back"), "%s", r.out);
    tm_run_result_free(&r);
    same("prefs after undo", f->prefs,
         tm_pg_copy_csv(c, "SELECT * FROM prefs WHERE user_id <> 999 ORDER BY 1, 2"));
    tm_pg_assert_value(c, "light", "SELECT value->>'theme' FROM prefs WHERE user_id = 999");
}

static void check_delete_cascade(PGconn *c, refs *f)
{
    /* through a script file and psql */
    char path[600];
    snprintf(path, sizeof path, "%s.undo.sql", journal);
    tm_run_result r;
    undo(&r, "--xid", f->x_delete, "--output", path, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    psql_file(path);
    same("parent after undo", f->parent,
         tm_pg_copy_csv(c, "SELECT * FROM parent WHERE id <> 100 ORDER BY 1"));
    same("child after undo", f->child, tm_pg_copy_csv(c, "SELECT * FROM child ORDER BY 1"));
    tm_pg_assert_value(c, "later", "SELECT name FROM parent WHERE id = 100");
}

static void check_insert_batch(PGconn *c, refs *f)
{
    tm_run_result r;
    /* dry run without a database: a plan only */
    undo(&r, "--from", f->ins_from, "--to", f->ins_to, "--dry-run", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "50 rows deleted"), "%s", r.out);
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "70", "SELECT count(*) FROM items");
    undo(&r, "--from", f->ins_from, "--to", f->ins_to, "--apply", ci, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    same("items after undo", f->items,
         tm_pg_copy_csv(c, "SELECT * FROM items WHERE id <> 1 ORDER BY 1"));
    tm_pg_assert_value(c, "legit", "SELECT v FROM items WHERE id = 1");
}

static void check_truncate(PGconn *c, refs *f)
{
    tm_run_result r;
    undo(&r, "--xid", f->x_truncate, "--apply", ci, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "25 rows inserted back"), "%s", r.out);
    tm_run_result_free(&r);
    same("flags after undo", f->flags,
         tm_pg_copy_csv(c, "SELECT * FROM flags WHERE name <> 'new' ORDER BY 1"));
    tm_pg_assert_value(c, "1", "SELECT count(*) FROM flags WHERE name = 'new'");
}

static void check_conflicts(PGconn *c, refs *f)
{
    char *before = tm_pg_copy_csv(c, "SELECT * FROM conf ORDER BY 1");
    tm_run_result r;
    /* abort: nothing changes, row 3 and the later xid are named */
    undo(&r, "--xid", f->x_conf, "--apply", ci, NULL);
    tm_assert_exit(&r, 3);
    ck_assert_msg(strstr(r.err, "conflict") && strstr(r.err, "(\"id\") = ('3')") &&
                      strstr(r.err, f->x_later),
                  "%s", r.err);
    ck_assert_msg(strstr(r.out, "rolled back") &&
                      strstr(r.out, "\nundo: 0 rows restored, 1 skipped as conflicts, 0 failed\n"),
                  "%s", r.out);
    tm_run_result_free(&r);
    same("conf after abort", strdup(before), tm_pg_copy_csv(c, "SELECT * FROM conf ORDER BY 1"));
    /* dry run against the target: the same conflict, nothing written */
    undo(&r, "--xid", f->x_conf, "--apply", ci, "--dry-run", NULL);
    tm_assert_exit(&r, 3);
    ck_assert_msg(strstr(r.out, "\nundo: 0 rows restored, 1 skipped as conflicts, 0 failed\n"),
                  "%s", r.out);
    tm_run_result_free(&r);
    /* skip, dry run: exit 0, the totals of the real run */
    undo(&r, "--xid", f->x_conf, "--apply", ci, "--dry-run", "--on-conflict", "skip", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "\nundo: 9 rows restored, 1 skipped as conflicts, 0 failed\n"),
                  "%s", r.out);
    tm_run_result_free(&r);
    same("conf after dry run", before, tm_pg_copy_csv(c, "SELECT * FROM conf ORDER BY 1"));
    /* skip: the rest restored, row 3 untouched and listed */
    undo(&r, "--xid", f->x_conf, "--apply", ci, "--on-conflict", "skip", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "(\"id\") = ('3')"), "%s", r.err);
    ck_assert_msg(strstr(r.out, "9 rows set back") && strstr(r.out, "1 conflicts") &&
                      strstr(r.out, "\nundo: 9 rows restored, 1 skipped as conflicts, 0 failed\n"),
                  "%s", r.out);
    tm_run_result_free(&r);
    same("conf after skip", f->conf,
         tm_pg_copy_csv(
             c, "SELECT id, CASE id WHEN 3 THEN 'v3' ELSE v END AS v FROM conf ORDER BY 1"));
    tm_pg_assert_value(c, "human", "SELECT v FROM conf WHERE id = 3");

    /* key reuse */
    undo(&r, "--xid", f->x_kr, "--apply", ci, NULL);
    tm_assert_exit(&r, 3);
    ck_assert_msg(strstr(r.err, "key reuse") && strstr(r.err, "('2')"), "%s", r.err);
    tm_run_result_free(&r);
    undo(&r, "--xid", f->x_kr, "--apply", ci, "--on-conflict", "skip", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    same("kr after skip", f->kr,
         tm_pg_copy_csv(c,
                        "SELECT id, CASE id WHEN 2 THEN 'k2' ELSE v END AS v FROM kr ORDER BY 1"));
}

static void check_quoting(PGconn *c, refs *f)
{
    char path[600];
    snprintf(path, sizeof path, "%s.nasty.sql", journal);
    tm_run_result r;
    undo(&r, "--xid", f->x_nasty, "--output", path, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    psql_file(path);
    same("quoted table after undo", f->nasty,
         tm_pg_copy_csv(c, "SELECT * FROM %s ORDER BY 1", nasty_table));
    char *v = tm_pg_query_value(c, "SELECT count(*) FROM pg_class WHERE relname = 'x'");
    free(v);
}

static void check_foreign_key(PGconn *c, refs *f)
{
    tm_run_result r;
    /* abort: the foreign key failure is a conflict, nothing changes */
    undo(&r, "--xid", f->x_fk, "--apply", ci, NULL);
    tm_assert_exit(&r, 3);
    ck_assert_msg(strstr(r.err, "foreign key") && strstr(r.err, "(\"id\") = ('1')"), "%s", r.err);
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "2", "SELECT count(*) FROM fkp");
    /* skip: row 2 goes, row 1 stays because fkc still refers to it */
    undo(&r, "--xid", f->x_fk, "--apply", ci, "--on-conflict", "skip", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "foreign key"), "%s", r.err);
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "1", "SELECT string_agg(id::text, ',' ORDER BY id) FROM fkp");
}

/* Undoing an insert must not delete (or null) rows that later changes made
 * to refer to the inserted row: a cascade would do it without a word. */
static void check_cascade(PGconn *c, refs *f)
{
    const char *state =
        "SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM cpar) || ' / ' ||"
        " (SELECT string_agg(id || ':' || p, ',' ORDER BY id) FROM cchild) || ' / ' ||"
        " (SELECT string_agg(id || ':' || coalesce(p::text, 'null'), ',') FROM cnull)";
    tm_run_result r;
    undo(&r, "--xid", f->x_cascade, "--apply", ci, NULL);
    tm_assert_exit(&r, 3);
    ck_assert_msg(strstr(r.err, "still refer to it") && strstr(r.err, "(\"id\") = ('1')") &&
                      strstr(r.err, "delete them") && strstr(r.err, "(\"id\") = ('3')") &&
                      strstr(r.err, "set their reference to NULL") &&
                      !strstr(r.err, "(\"id\") = ('2')"),
                  "%s", r.err);
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "1,2,3 / 5:2,6:1 / 7:3", "%s", state);
    /* the script: psql stops at the first such row, nothing is changed */
    char path[600];
    snprintf(path, sizeof path, "%s.cascade.sql", journal);
    undo(&r, "--xid", f->x_cascade, "--output", path, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    psql_run(path, &r);
    ck_assert_msg(r.status != 0 && strstr(r.err, "still refer to it"), "%s", r.err);
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "1,2,3 / 5:2,6:1 / 7:3", "%s", state);
    /* skip: parent 2 and its child of the same transaction go, 1 and 3 stay */
    undo(&r, "--xid", f->x_cascade, "--apply", ci, "--on-conflict", "skip", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "1,3 / 6:1 / 7:3", "%s", state);
}

/* Scripts (--output, run by psql): a keyless table, and --on-conflict skip,
 * where a conflicting row is a warning and the rest is reverted. */
static void check_scripts(PGconn *c, refs *f)
{
    char path[600];
    tm_run_result r;
    snprintf(path, sizeof path, "%s.bag.sql", journal);
    undo(&r, "--xid", f->x_bag, "--output", path, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    psql_file(path);
    tm_pg_assert_value(c, "a1,a1,a1,a1,b2",
                       "SELECT string_agg(v || n, ',' ORDER BY v, n) FROM bag");

    snprintf(path, sizeof path, "%s.sk.sql", journal);
    undo(&r, "--xid", f->x_sk, "--output", path, "--on-conflict", "skip", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    psql_run(path, &r);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "WARNING") && strstr(r.err, "skipped") &&
                      strstr(r.err, "(\"id\") = ('2')") && !strstr(r.err, "('1')"),
                  "%s", r.err);
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "1=s1,2=human,3=s3",
                       "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM sk");
}

static void check_errors(refs *f)
{
    tm_run_result r;
    undo(&r, "--xid", f->x_nofull, NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "REPLICA IDENTITY DEFAULT") && strstr(r.err, "nofull"), "%s",
                  r.err);
    tm_run_result_free(&r);
    /* --where keeps the changes whose old or new row matches */
    undo(&r, "--xid", f->x_update, "--where", "user_id <= 2 AND key = 'ui'", "--dry-run", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "2 rows set back"), "%s", r.out);
    tm_run_result_free(&r);
    undo(&r, "--xid", f->x_update, "--where", "nosuch = 1", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "nosuch"), "%s", r.err);
    tm_run_result_free(&r);
    undo(&r, "--xid", "abc", NULL);
    tm_assert_exit(&r, 2);
    tm_run_result_free(&r);
    undo(&r, "--xid", "4000000000", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "no transaction with xid"), "%s", r.err);
    tm_run_result_free(&r);
    undo(&r, "--from", "yesterday", "--to", "2030-01-01", NULL);
    tm_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "--from"), "%s", r.err);
    tm_run_result_free(&r);
    undo(&r, "--xid", f->x_update, "--apply", "host=/nonexistent port=1", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "cannot connect"), "%s", r.err);
    tm_run_result_free(&r);
    undo(&r, "--xid", f->x_update, "--on-conflict", "maybe", NULL);
    tm_assert_exit(&r, 2);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "undo", "--journal", "/nonexistent/j", "--xid", "5", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "not a tidemark journal"), "%s", r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "undo", "--help", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--on-conflict"));
    tm_run_result_free(&r);
}

START_TEST(undo_migrations)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "undoapp");
    PGconn *c = tm_pg_connect(pg, "undoapp");
    ci = tm_pg_conninfo(pg, "undoapp");
    char tmpl[] = "/tmp/tidemark-undo-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(journal, sizeof journal, "%s/journal", tmpl);
    setup(c);
    capture_to_now(c, true);
    refs f = {0};
    workload(c, &f);
    capture_to_now(c, false);

    check_update_all(c, &f);
    check_delete_cascade(c, &f);
    check_insert_batch(c, &f);
    check_truncate(c, &f);
    check_conflicts(c, &f);
    check_quoting(c, &f);
    check_foreign_key(c, &f);
    check_cascade(c, &f);
    check_scripts(c, &f);
    check_errors(&f);

    char **s[] = {&f.x_update, &f.x_delete, &f.x_truncate, &f.x_conf,    &f.x_kr,  &f.x_nasty,
                  &f.x_nofull, &f.x_later,  &f.x_fk,       &f.x_cascade, &f.x_bag, &f.x_sk};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        free(*s[i]);
    PQfinish(c);
    free(ci);
    tm_rmtree(tmpl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_undo");
    TCase *tc = tm_check_case(s, "undo", 300, TM_TESTS(undo_migrations));
    tm_pg_fixture_add(tc);
    return tm_check_run(s);
}
