/* Generated columns on every major (README, "Supported PostgreSQL
 * versions"): replay never differs silently from COPY (SELECT * ...).
 *
 * Table st has a stored generated column. On 18 capture's publication
 * publishes it (publish_generated_columns = stored), so replay's CSV is
 * byte-equal to COPY; before 18 pgoutput does not send it, and replay's CSV
 * and JSON lines say so, naming the column. On 18 table vt also has a
 * virtual generated column, never sent: named the same way. Into a fresh
 * database, replay --apply --create-tables and --format sql
 * --create-tables recreate every generated column for the target to
 * compute, so there SELECT * gives the source's bytes. On 18 a
 * user-managed publication that does not publish stored generated columns
 * is refused with the statement that fixes it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

static bool is18(void)
{
    return atoi(tm_pg_major()) >= 18;
}

static const char *const schema_sql =
    "CREATE TABLE st (id int PRIMARY KEY, a int NOT NULL,"
    "  s int GENERATED ALWAYS AS (a * 2) STORED, b text);"
    "ALTER TABLE st REPLICA IDENTITY FULL;"
    "INSERT INTO st (id, a, b) SELECT g, g, 'b' || g FROM generate_series(1, 5) g;";

static const char *const schema18_sql =
    "CREATE TABLE vt (id int PRIMARY KEY, a int NOT NULL,"
    "  v text GENERATED ALWAYS AS ('v' || (a + 1)) VIRTUAL,"
    "  s bigint GENERATED ALWAYS AS (a::bigint * 1000) STORED NOT NULL, b text);"
    "INSERT INTO vt (id, a, b) VALUES (1, 1, 'x'), (2, 2, NULL);";

static const char *const workload_sql = "INSERT INTO st (id, a, b) VALUES (6, 60, 'six');"
                                        "UPDATE st SET a = a + 100 WHERE id IN (2, 3);"
                                        "DELETE FROM st WHERE id = 4;";

static const char *const workload18_sql = "INSERT INTO vt (id, a, b) VALUES (3, 30, 'y');"
                                          "UPDATE vt SET a = 7 WHERE id = 1;";

/* capture to now of st (and vt on 18), through publication pub (NULL:
 * its own); its exit status is to be expect, its stderr to hold want. */
static void capture(PGconn *c, const char *journal, const char *ci, const char *pub, int expect,
                    const char *want)
{
    char *lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 120000};
    const char *argv[16] = {"capture",  "--journal", journal,   "--source", ci,
                            "--endpos", lsn,         "--table", "public.st"};
    int n = 9;
    if (is18()) {
        argv[n++] = "--table";
        argv[n++] = "public.vt";
    }
    if (pub) {
        argv[n++] = "--publication";
        argv[n++] = pub;
    } else {
        argv[n++] = "--set-replica-identity-full";
    }
    argv[n] = NULL;
    tm_tidemarkv(&r, &o, argv);
    tm_assert_exit(&r, expect);
    ck_assert_msg(!want || strstr(r.err, want), "wanted \"%s\" in:\n%s", want, r.err);
    tm_run_result_free(&r);
    free(lsn);
}

static void replay(tm_run_result *r, const char *journal, const char *const *args)
{
    const char *argv[32] = {"replay", "--journal", journal, "--at", "2999-01-01 00:00:00+00"};
    int n = 5;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    tm_run_opts o = {.timeout_ms = 120000};
    tm_tidemarkv(r, &o, argv);
    tm_assert_exit(r, 0);
}

#define REPLAY(r, j, ...) replay(r, j, (const char *[]){__VA_ARGS__, NULL})

static void assert_same(const char *what, char *want, char *got)
{
    ck_assert_msg(want && got && !strcmp(want, got), "%s differs:\n--- want:\n%s\n--- got:\n%s",
                  what, want ? want : "(null)", got ? got : "(null)");
    free(want);
    free(got);
}

/* The CSV of table t, and the warning it gets: none when every column is
 * in the journal (then byte-equal to COPY), else one naming each missing
 * column (and equal to COPY of the columns it has). */
static void check_csv(PGconn *src, const char *journal, const char *t, const char *cols,
                      const char *missing)
{
    tm_run_result r;
    REPLAY(&r, journal, "--table", t);
    if (!missing) {
        ck_assert_msg(!strstr(r.err, "generated column"), "%s: %s", t, r.err);
        assert_same(t, tm_pg_copy_csv(src, "SELECT * FROM %s ORDER BY id", t), strdup(r.out));
    } else {
        ck_assert_msg(strstr(r.err, t) && strstr(r.err, missing) && strstr(r.err, "CSV"),
                      "%s: wanted a warning naming %s:\n%s", t, missing, r.err);
        assert_same(t, tm_pg_copy_csv(src, "SELECT %s FROM %s ORDER BY id", cols, t),
                    strdup(r.out));
    }
    tm_run_result_free(&r);
    REPLAY(&r, journal, "--table", t, "--format", "jsonl");
    ck_assert_msg(missing ? strstr(r.err, missing) != NULL : !strstr(r.err, "generated column"),
                  "%s jsonl: %s", t, r.err);
    ck_assert_msg(strstr(r.out, "\"a\":") && (missing || strstr(r.out, "\"s\":")), "%s", r.out);
    tm_run_result_free(&r);
}

/* Every table of the rebuilt database db: SELECT * as the source's, and
 * its generated columns generated alike. */
static void check_rebuilt(PGconn *src, const char *db)
{
    PGconn *c = tm_pg_connect(tm_pg_shared(), db);
    const char *gen = "SELECT string_agg(format('%s.%s:%s:%s', attrelid::regclass, attname, "
                      "attgenerated, pg_get_expr(adbin, adrelid)), ',' "
                      "ORDER BY attrelid::regclass::text, attnum) "
                      "FROM pg_attribute JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum "
                      "WHERE attgenerated <> ''";
    assert_same("generated columns", tm_pg_query_value(src, "%s", gen),
                tm_pg_query_value(c, "%s", gen));
    assert_same("st", tm_pg_copy_csv(src, "SELECT * FROM st ORDER BY id"),
                tm_pg_copy_csv(c, "SELECT * FROM st ORDER BY id"));
    if (is18())
        assert_same("vt", tm_pg_copy_csv(src, "SELECT * FROM vt ORDER BY id"),
                    tm_pg_copy_csv(c, "SELECT * FROM vt ORDER BY id"));
    /* The target computes them for its own rows too. */
    tm_pg_exec(c, "INSERT INTO st (id, a) VALUES (100, 21)");
    tm_pg_assert_value(c, "42", "SELECT s FROM st WHERE id = 100");
    PQfinish(c);
}

static void rebuild(PGconn *src, const char *journal)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "gen_apply");
    char *ci = tm_pg_conninfo(pg, "gen_apply");
    tm_run_result r;
    REPLAY(&r, journal, "--apply", ci, "--create-tables");
    /* The target computes what the source computed: nothing to warn of. */
    ck_assert_msg(!strstr(r.err, "generated"), "%s", r.err);
    tm_run_result_free(&r);
    free(ci);
    check_rebuilt(src, "gen_apply");

    char *dir = tmt_tempdir(), *path = tmt_path(dir, "state.sql");
    REPLAY(&r, journal, "--format", "sql", "--create-tables", "--output", path);
    tm_run_result_free(&r);
    tm_pg_createdb(pg, "gen_sql");
    char psql[TM_PG_PATHLEN + 16];
    snprintf(psql, sizeof psql, "%s/psql", pg->clientdir);
    ci = tm_pg_conninfo(pg, "gen_sql");
    const char *argv[] = {psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", ci, "-f", path, NULL};
    tm_runv(argv, NULL, &r);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(ci);
    free(path);
    tmt_tempdir_remove(dir);
    check_rebuilt(src, "gen_sql");
}

START_TEST(generated_columns)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "gen");
    PGconn *src = tm_pg_connect(pg, "gen");
    tm_pg_exec(src, "%s", schema_sql);
    if (is18())
        tm_pg_exec(src, "%s", schema18_sql);
    char *ci = tm_pg_conninfo(pg, "gen");
    if (is18()) {
        /* Published with REPLICA IDENTITY FULL, vt would refuse UPDATE and
         * DELETE: refused before anything is published. */
        char *bad = tmt_journal_path();
        tm_pg_exec(src, "ALTER TABLE vt REPLICA IDENTITY FULL");
        capture(src, bad, ci, NULL, 1, "ALTER TABLE vt REPLICA IDENTITY DEFAULT");
        tm_pg_assert_value(src, "0", "SELECT count(*) FROM pg_publication");
        tm_pg_exec(src, "UPDATE vt SET b = b");
        tm_pg_exec(src, "ALTER TABLE vt REPLICA IDENTITY DEFAULT");
        tmt_journal_remove(bad);
        /* A publication of the user's that leaves stored ones out. */
        bad = tmt_journal_path();
        tm_pg_exec(src, "CREATE PUBLICATION mine FOR TABLE st, vt");
        capture(src, bad, ci, "mine", 1,
                "ALTER PUBLICATION mine SET (publish_generated_columns = stored)");
        tmt_journal_remove(bad);
        tm_pg_exec(src, "DROP PUBLICATION mine");
    }
    char *journal = tmt_journal_path();
    /* --set-replica-identity-full sets FULL on st, and on 18 leaves vt at
     * DEFAULT, saying why. */
    capture(src, journal, ci, NULL, 0, is18() ? "must keep it" : NULL);
    /* Capture names what pgoutput does not send. */
    capture(src, journal, ci, NULL, 0,
            is18() ? "vt: generated column(s) \"v\" (virtual) are not sent"
                   : "st: generated column(s) \"s\" (stored) are not sent");
    tm_pg_assert_value(src, is18() ? "f d" : "f",
                       "SELECT string_agg(relreplident::text, ' ' ORDER BY relname) FROM pg_class "
                       "WHERE relname IN ('st', 'vt')");
    tm_pg_exec(src, "%s", workload_sql);
    if (is18())
        tm_pg_exec(src, "%s", workload18_sql);
    capture(src, journal, ci, NULL, 0, NULL);

    if (is18()) {
        check_csv(src, journal, "public.st", NULL, NULL);
        check_csv(src, journal, "public.vt", "id, a, s, b", "\"v\" (virtual)");
    } else {
        check_csv(src, journal, "public.st", "id, a, b", "\"s\" (stored)");
    }
    rebuild(src, journal);
    PQfinish(src);
    free(ci);
    tmt_journal_remove(journal);
}
END_TEST

int main(void)
{
    return tm_pg_check_main("pg_gencols", "gencols", 120, TM_TESTS(generated_columns));
}
