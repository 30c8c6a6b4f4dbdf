/* tidemark undo --apply on a real PostgreSQL 15 whose schema changed after
 * the changes being undone, and whose rows the application changed again:
 *   - writes fit the table as it is now: a column added NOT NULL with a
 *     default dropped since (Django's AddField) gets attmissingval, a NOT
 *     NULL column without any value makes the row a conflict (never a
 *     failed transaction), dropped columns are left out, retyped columns
 *     cast from text, generated and identity columns never written, a
 *     renamed column written under its new name;
 *   - column- and JSON-member-level undo: later changes to other columns
 *     and keys survive and are no conflict; --granularity row counts them;
 *   - --on-conflict abort (exit 3), skip, overwrite; the totals line;
 *     --report lines;
 *   - the dry run is a rehearsal: a deferred foreign key fails there too;
 *   - only the journal's source is written unless --allow-other-target;
 *   - the undo carries its own context message, log shows it, and undoing
 *     the undo gives back the state before it. */
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_sys.h"

static char journal[512];
static char *ci;

static void undo(tm_run_result *r, ...)
{
    const char *lead[] = {"undo", "--journal", journal, NULL};
    tm_run_opts o = {.timeout_ms = 120000};
    va_list ap;
    va_start(ap, r);
    tm_tidemark_ap(r, &o, lead, ap);
    va_end(ap);
}

static void capture_to_now(PGconn *c, bool first)
{
    char *lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    tm_run_result r;
    tm_run_opts ro = {.timeout_ms = 120000};
    if (first)
        tm_tidemark(&r, &ro, "capture", "--journal", journal, "--source", ci, "--table", "acct",
                    "--table", "strict", "--table", "shaped", "--table", "prefs", "--table", "dpar",
                    "--table", "gone", "--table", "ren", "--table", "rekey",
                    "--set-replica-identity-full", "--endpos", lsn, NULL);
    else
        tm_tidemark(&r, &ro, "capture", "--journal", journal, "--source", ci, "--endpos", lsn,
                    NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);
}

static void contains(const char *what, const char *text, const char *want)
{
    ck_assert_msg(strstr(text, want), "%s lacks \"%s\":\n%s", what, want, text);
}

static void same(const char *what, char *want, char *got)
{
    ck_assert_msg(!strcmp(want, got), "%s differs\n--- want:\n%s\n--- got:\n%s", what, want, got);
    free(want);
    free(got);
}

typedef struct refs {
    char *x_acct, *x_strict, *x_shaped, *x_prefs, *x_dpar, *x_gone, *x_ren, *x_rekey;
    char *acct, *shaped, *ren;
} refs;

static void setup(PGconn *c)
{
    tm_pg_exec(c, "CREATE TABLE acct (id int PRIMARY KEY, name text);"
                  "INSERT INTO acct SELECT g, 'a' || g FROM generate_series(1, 6) g;"
                  "CREATE TABLE strict (id int PRIMARY KEY, v text);"
                  "INSERT INTO strict SELECT g, 's' || g FROM generate_series(1, 4) g;"
                  "CREATE TABLE shaped (id int PRIMARY KEY, legacy text, code text, v text,"
                  "  n int GENERATED ALWAYS AS IDENTITY);"
                  "INSERT INTO shaped (id, legacy, code, v) SELECT g, 'old', (g * 10)::text, "
                  "  'v' || g FROM generate_series(1, 5) g;"
                  "CREATE TABLE prefs (id int PRIMARY KEY, theme text, lang text, data jsonb);"
                  "INSERT INTO prefs SELECT g, 'dark', 'en', jsonb_build_object('a', 1, 'b', 2, "
                  "  'c', jsonb_build_object('d', g)) FROM generate_series(1, 10) g;"
                  "CREATE TABLE dpar (id int PRIMARY KEY);"
                  "CREATE TABLE dchild (id int PRIMARY KEY, p int REFERENCES dpar DEFERRABLE "
                  "  INITIALLY DEFERRED);"
                  "CREATE TABLE ren (id int PRIMARY KEY, nick text NOT NULL, note text);"
                  "INSERT INTO ren SELECT g, 'n' || g, 'x' FROM generate_series(1, 4) g;"
                  "CREATE TABLE rekey (code text PRIMARY KEY, v text);"
                  "INSERT INTO rekey VALUES ('x1', 'a'), ('x2', 'b');"
                  "CREATE TABLE gone (id int PRIMARY KEY, v text);"
                  "INSERT INTO gone SELECT g, 'g' || g FROM generate_series(1, 3) g;");
}

static void workload(PGconn *c, refs *f)
{
    /* a bad delete, then Django's AddField: ADD COLUMN ... DEFAULT ... NOT
     * NULL, then DROP DEFAULT (rows older than the column read 'free') */
    f->acct = tm_pg_copy_csv(c, "SELECT id, name, 'free' AS plan FROM acct ORDER BY 1");
    f->x_acct = tm_pg_tx(c, "DELETE FROM acct WHERE id <= 3");
    tm_pg_exec(c, "ALTER TABLE acct ADD COLUMN plan text DEFAULT 'free' NOT NULL;"
                  "ALTER TABLE acct ALTER COLUMN plan DROP DEFAULT;"
                  "INSERT INTO acct VALUES (7, 'a7', 'pro')");
    /* a column added NOT NULL with no value for older rows */
    f->x_strict = tm_pg_tx(c, "DELETE FROM strict WHERE id IN (1, 2)");
    tm_pg_exec(c, "ALTER TABLE strict ADD COLUMN must text; UPDATE strict SET must = 'x';"
                  "ALTER TABLE strict ALTER COLUMN must SET NOT NULL");
    /* an update and a delete, then a dropped column, a retyped one, a
     * generated one */
    f->x_shaped = tm_pg_tx(c, "UPDATE shaped SET code = '0', v = 'bad' WHERE id <= 2;"
                              "DELETE FROM shaped WHERE id = 5");
    tm_pg_exec(c, "ALTER TABLE shaped DROP COLUMN legacy;"
                  "ALTER TABLE shaped ALTER COLUMN code TYPE int USING code::int;"
                  "ALTER TABLE shaped ADD COLUMN twice int GENERATED ALWAYS AS (id * 2) STORED");
    f->shaped = tm_pg_copy_csv(c, "SELECT id, CASE WHEN id <= 2 OR id = 5 THEN id * 10 ELSE "
                                  "code END AS code, CASE WHEN id <= 2 OR id = 5 THEN 'v' || id "
                                  "ELSE v END AS v, twice FROM shaped UNION ALL SELECT 5, 50, "
                                  "'v5', 10 ORDER BY 1");
    /* a migration of a column and two json members; later the app changes
     * other columns and members of some rows (1, 2), the same ones of
     * others (3, 4), and deletes one (5) */
    f->x_prefs =
        tm_pg_tx(c, "UPDATE prefs SET theme = 'light', data = (data || '{\"a\": 0}') - 'b'");
    tm_pg_exec(c, "UPDATE prefs SET lang = 'fr' WHERE id = 1;"
                  "UPDATE prefs SET data = jsonb_set(data, '{c,d}', '99') WHERE id = 2;"
                  "UPDATE prefs SET theme = 'blue' WHERE id = 3;"
                  "UPDATE prefs SET data = data || '{\"a\": 5}' WHERE id = 4;"
                  "DELETE FROM prefs WHERE id = 5");
    /* inserted parents, one of which a later row refers to through a
     * deferred foreign key */
    f->x_dpar = tm_pg_tx(c, "INSERT INTO dpar VALUES (1), (2)");
    tm_pg_exec(c, "INSERT INTO dchild VALUES (10, 1)");
    f->x_gone = tm_pg_tx(c, "UPDATE gone SET v = 'bad'");
    /* a delete and an update, then RENAME COLUMN (Django's RenameField)
     * and a later change that brings the new name into the journal */
    f->ren = tm_pg_copy_csv(c, "SELECT id, nick AS handle, CASE id WHEN 4 THEN 'later' ELSE note "
                               "END AS note FROM ren ORDER BY 1");
    f->x_ren =
        tm_pg_tx(c, "DELETE FROM ren WHERE id <= 2; UPDATE ren SET nick = 'bad' WHERE id = 3");
    tm_pg_exec(c, "ALTER TABLE ren RENAME COLUMN nick TO handle;"
                  "UPDATE ren SET note = 'later' WHERE id = 4");
    /* an update, then the key retyped: the journal's keys no longer read as
     * the target's type */
    f->x_rekey = tm_pg_tx(c, "UPDATE rekey SET v = 'bad'");
    tm_pg_exec(c, "ALTER TABLE rekey ALTER COLUMN code TYPE int USING substr(code, 2)::int");
}

static void check_fit(PGconn *c, refs *f)
{
    tm_run_result r;
    /* AddField: the rows come back with the column's value for old rows */
    undo(&r, "--xid", f->x_acct, "--apply", ci, NULL);
    tm_assert_exit(&r, 0);
    contains("stdout", r.out, "\nundo: 3 rows restored, 0 skipped as conflicts, 0 failed\n");
    tm_run_result_free(&r);
    same("acct after undo", f->acct,
         tm_pg_copy_csv(c, "SELECT * FROM acct WHERE id <> 7 ORDER BY 1"));

    /* NOT NULL without a value: conflicts with the reason, not a failure */
    undo(&r, "--xid", f->x_strict, "--apply", ci, NULL);
    tm_assert_exit(&r, 3);
    contains("stderr", r.err, "\"must\" is NOT NULL");
    contains("stdout", r.out, "\nundo: 0 rows restored, 2 skipped as conflicts, 0 failed\n");
    tm_run_result_free(&r);
    undo(&r, "--xid", f->x_strict, "--apply", ci, "--on-conflict", "skip", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "2", "SELECT count(*) FROM strict");

    /* dropped, retyped, generated and identity columns */
    undo(&r, "--xid", f->x_shaped, "--apply", ci, NULL);
    tm_assert_exit(&r, 0);
    contains("stdout", r.out, "\nundo: 3 rows restored, 0 skipped as conflicts, 0 failed\n");
    tm_run_result_free(&r);
    same("shaped after undo", f->shaped,
         tm_pg_copy_csv(c, "SELECT id, code, v, twice FROM shaped ORDER BY 1"));
    tm_pg_assert_value(c, "5", "SELECT n FROM shaped WHERE id = 5");

    /* a renamed column is written under its new name */
    undo(&r, "--xid", f->x_ren, "--apply", ci, NULL);
    tm_assert_exit(&r, 0);
    contains("stdout", r.out, "\nundo: 3 rows restored, 0 skipped as conflicts, 0 failed\n");
    tm_run_result_free(&r);
    same("ren after undo", f->ren, tm_pg_copy_csv(c, "SELECT * FROM ren ORDER BY 1"));

    /* keys the target's type cannot read: each row fails with the reason
     * (the temporary table holds such keys as text, so its COPY does not
     * fail the whole undo) */
    undo(&r, "--xid", f->x_rekey, "--apply", ci, NULL);
    tm_assert_exit(&r, 1);
    contains("stderr", r.err, "the database cannot take it");
    contains("stdout", r.out, "\nundo: 0 rows restored, 0 skipped as conflicts, 2 failed\n");
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "2", "SELECT count(*) FROM rekey WHERE v = 'bad'");
}

static void check_granularity(PGconn *c, refs *f)
{
    tm_run_result r;
    char *before = tm_pg_copy_csv(c, "SELECT * FROM prefs ORDER BY 1");
    /* whole rows: every row the app touched since is a conflict */
    undo(&r, "--xid", f->x_prefs, "--apply", ci, "--dry-run", "--granularity", "row", NULL);
    tm_assert_exit(&r, 3);
    contains("stdout", r.out, "\nundo: 0 rows restored, 5 skipped as conflicts, 0 failed\n");
    tm_run_result_free(&r);
    /* columns and members (the default): only rows 3, 4 and 5 */
    undo(&r, "--xid", f->x_prefs, "--apply", ci, NULL);
    tm_assert_exit(&r, 3);
    contains("stdout", r.out, "\nundo: 0 rows restored, 3 skipped as conflicts, 0 failed\n");
    contains("stderr", r.err, "(\"id\") = ('3'): changed since: theme");
    contains("stderr", r.err, "(\"id\") = ('4'): changed since: data.a");
    contains("stderr", r.err, "(\"id\") = ('5'): the row is gone");
    tm_run_result_free(&r);
    same("prefs after abort", strdup(before), tm_pg_copy_csv(c, "SELECT * FROM prefs ORDER BY 1"));
    /* overwrite, rehearsed: 3 and 4 too; 5 is gone */
    undo(&r, "--xid", f->x_prefs, "--apply", ci, "--dry-run", "--on-conflict", "overwrite", NULL);
    tm_assert_exit(&r, 0);
    contains("stdout", r.out, "\nundo: 9 rows restored, 1 conflicts left (rows gone), 0 failed\n");
    tm_run_result_free(&r);
    same("prefs after dry run", strdup(before),
         tm_pg_copy_csv(c, "SELECT * FROM prefs ORDER BY 1"));
    /* skip, with a report, by whom and why */
    char report[600];
    snprintf(report, sizeof report, "%s.report.jsonl", journal);
    undo(&r, "--xid", f->x_prefs, "--apply", ci, "--on-conflict", "skip", "--report", report,
         "--user", "alice", "--reason", "ticket 4711", NULL);
    tm_assert_exit(&r, 0);
    contains("stdout", r.out, "\nundo: 7 rows restored, 3 skipped as conflicts, 0 failed\n");
    const char *as = strstr(r.out, "committed as xid ");
    ck_assert_msg(as, "%s", r.out);
    char undo_xid[24];
    ck_assert_int_eq(sscanf(as, "committed as xid %23s", undo_xid), 1);
    tm_run_result_free(&r);
    tm_pg_assert_value(c,
                       "1 dark fr {\"a\": 1, \"b\": 2, \"c\": {\"d\": 1}}|"
                       "2 dark en {\"a\": 1, \"b\": 2, \"c\": {\"d\": 99}}|"
                       "3 blue en {\"a\": 0, \"c\": {\"d\": 3}}|"
                       "4 light en {\"a\": 5, \"c\": {\"d\": 4}}|"
                       "6 dark en {\"a\": 1, \"b\": 2, \"c\": {\"d\": 6}}",
                       "SELECT string_agg(concat_ws(' ', id, theme, lang, data), '|' ORDER BY id) "
                       "FROM prefs WHERE id <= 6");
    size_t replen;
    char *rep = (char *)tmt_slurp(report, &replen);
    rep[replen] = '\0';
    int lines = 0;
    for (const char *p = rep; (p = strchr(p, '\n')); p++)
        lines++;
    ck_assert_int_eq(lines, 10);
    contains("report", rep,
             "{\"table\": \"public.prefs\", \"key\": {\"id\": \"1\"}, \"action\": \"update\", "
             "\"result\": \"restored\", \"columns\": [\"theme\", \"data.a\", \"data.b\"], "
             "\"reason\": null}");
    contains("report", rep,
             "\"key\": {\"id\": \"3\"}, \"action\": \"update\", \"result\": "
             "\"conflict\"");
    contains("report", rep, "\"reason\": \"changed since: data.a; changed later by xid");
    free(rep);

    /* log shows the undo as such, and it can be undone in turn */
    char *after = tm_pg_copy_csv(c, "SELECT * FROM prefs ORDER BY 1");
    capture_to_now(c, false);
    tm_tidemark(&r, NULL, "log", "--journal", journal, "--xid", undo_xid, "--transactions", NULL);
    tm_assert_exit(&r, 0);
    contains("log", r.out, "\"action\": \"undo\"");
    contains("log", r.out, "\"user\": \"alice\"");
    contains("log", r.out, "\"reason\": \"ticket 4711\"");
    contains("log", r.out, f->x_prefs);
    tm_run_result_free(&r);
    undo(&r, "--xid", undo_xid, "--apply", ci, NULL);
    tm_assert_exit(&r, 0);
    contains("stdout", r.out, "\nundo: 7 rows restored, 0 skipped as conflicts, 0 failed\n");
    tm_run_result_free(&r);
    same("prefs after undoing the undo", before,
         tm_pg_copy_csv(c, "SELECT * FROM prefs ORDER BY 1"));
    free(after);
}

static void check_rehearsal(PGconn *c, refs *f)
{
    tm_run_result r;
    /* the deferred key fails at its row in the dry run as in the real one */
    undo(&r, "--xid", f->x_dpar, "--apply", ci, "--dry-run", NULL);
    tm_assert_exit(&r, 3);
    contains("stderr", r.err, "(\"id\") = ('1'): a foreign key stops it");
    contains("stdout", r.out, "\nundo: 0 rows restored, 1 skipped as conflicts, 0 failed\n");
    tm_run_result_free(&r);
    undo(&r, "--xid", f->x_dpar, "--apply", ci, NULL);
    tm_assert_exit(&r, 3);
    contains("stdout", r.out, "\nundo: 0 rows restored, 1 skipped as conflicts, 0 failed\n");
    tm_run_result_free(&r);
    undo(&r, "--xid", f->x_dpar, "--apply", ci, "--on-conflict", "skip", NULL);
    tm_assert_exit(&r, 0);
    contains("stdout", r.out, "\nundo: 1 rows restored, 1 skipped as conflicts, 0 failed\n");
    tm_run_result_free(&r);
    tm_pg_assert_value(c, "1", "SELECT string_agg(id::text, ',') FROM dpar");
}

static void check_target(PGconn *c, refs *f)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "undoother");
    PGconn *o = tm_pg_connect(pg, "undoother");
    tm_pg_exec(o, "CREATE TABLE gone (id int PRIMARY KEY, v text);"
                  "INSERT INTO gone SELECT g, 'bad' FROM generate_series(1, 3) g");
    char *oci = tm_pg_conninfo(pg, "undoother");
    tm_run_result r;
    undo(&r, "--xid", f->x_gone, "--apply", oci, NULL);
    tm_assert_exit(&r, 1);
    contains("stderr", r.err, "is not the journal's source");
    contains("stderr", r.err, "--allow-other-target");
    tm_run_result_free(&r);
    tm_pg_assert_value(o, "3", "SELECT count(*) FROM gone WHERE v = 'bad'");
    undo(&r, "--xid", f->x_gone, "--apply", oci, "--allow-other-target", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    tm_pg_assert_value(o, "g1,g2,g3", "SELECT string_agg(v, ',' ORDER BY id) FROM gone");
    tm_pg_assert_value(c, "3", "SELECT count(*) FROM gone WHERE v = 'bad'");
    /* a password given in --apply leaves argv at once, as for replay */
    undo(&r, "--xid", f->x_gone, "--apply", "host=/nonexistent port=1 password=sekrit", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(!strstr(r.err, "sekrit"), "%s", r.err);
    tm_run_result_free(&r);
    undo(&r, "--xid", f->x_gone, "--report", "x.jsonl", NULL);
    tm_assert_exit(&r, 2);
    tm_run_result_free(&r);
    free(oci);
    PQfinish(o);
}

START_TEST(undo_fits_the_target)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "undofit");
    PGconn *c = tm_pg_connect(pg, "undofit");
    ci = tm_pg_conninfo(pg, "undofit");
    char tmpl[] = "/tmp/tidemark-undofit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(journal, sizeof journal, "%s/journal", tmpl);
    setup(c);
    capture_to_now(c, true);
    refs f = {0};
    workload(c, &f);
    capture_to_now(c, false);

    check_fit(c, &f);
    check_granularity(c, &f);
    check_rehearsal(c, &f);
    check_target(c, &f);

    char **s[] = {&f.x_acct, &f.x_strict, &f.x_shaped, &f.x_prefs,
                  &f.x_dpar, &f.x_gone,   &f.x_ren,    &f.x_rekey};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        free(*s[i]);
    PQfinish(c);
    free(ci);
    tm_rmtree(tmpl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_undo_fit");
    TCase *tc = tm_check_case(s, "undo", 300, TM_TESTS(undo_fits_the_target));
    tm_pg_fixture_add(tc);
    return tm_check_run(s);
}
