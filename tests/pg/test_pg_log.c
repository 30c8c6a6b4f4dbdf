/* tidemark log against a real PostgreSQL 15 and the real capture: a known
 * workload (context set with scripts/context.sql, jsonb edits, a delete, a
 * mass update flagged by capture's --warn-rows, messages with other
 * prefixes, a table with awkward names and values), then the listing,
 * context on the right transaction only, filters, --transactions/--top,
 * and names and values through text and JSON Lines exactly as PostgreSQL
 * has them; and a TRUNCATE of 50,000 rows ranked by them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/query/jsonscan.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/support_log.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

static char *journal_dir(void)
{
    char *d = tmt_tempdir();
    char *j = tmt_path(d, "journal");
    free(d);
    return j;
}

static void capture_to_now(PGconn *c, const char *journal, const char *ci, const char *warn_rows)
{
    char *lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 120000};
    tm_tidemark(&r, &o, "capture", "--journal", journal, "--source", ci, "--table", "public.users",
                "--table", "prefs", "--table", "\"We\"\"ird Tab\"", "--warn-rows", warn_rows,
                "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);
}

/* Runs tidemark log on the journal; exit 0 expected; stdout (malloc'd). */
static char *tlog(const char *journal, const char *const *args)
{
    const char *argv[32] = {"log", "--journal", journal};
    int n = 3;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return tm_tidemark_expect(0, NULL, argv);
}

#define LOG(j, ...) tlog(j, (const char *[]){__VA_ARGS__, NULL})

/* The journal's xid of workload transaction `name`. */
static long xid_of(PGconn *c, const char *name)
{
    char *v =
        tm_pg_query_value(c, "SELECT xid %% 4294967296 FROM expected WHERE name = '%s'", name);
    long x = strtol(v, NULL, 10);
    free(v);
    return x;
}

/* The transaction block of xid in a text listing (static copy). */
static const char *block_of(const char *out, long xid)
{
    static char buf[16384];
    char needle[64];
    snprintf(needle, sizeof needle, "  xid %ld  lsn ", xid);
    const char *p = strstr(out, needle);
    if (!p)
        return "";
    while (p > out && p[-1] != '\n')
        p--;
    const char *e = strstr(p, "\n\n");
    size_t n = e ? (size_t)(e - p) + 1 : strlen(p);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static char *json_string_at(const char *p, const char *e, const char *key)
{
    const char *vp, *ve;
    if (!tm_json_get(p, e, key, strlen(key), &vp, &ve) || *vp != '"')
        return NULL;
    char *s = calloc(1, (size_t)(ve - vp));
    tm_json_unescape(vp + 1, ve - 1, s);
    return s;
}

START_TEST(log_of_a_real_workload)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "logdb");
    PGconn *c = tm_pg_connect(pg, "logdb");
    char *ci = tm_pg_conninfo(pg, "logdb");
    /* scripts/context.sql, as users install it. */
    char *path = tmt_path(TM_SOURCE_DIR, "scripts/context.sql");
    size_t len;
    unsigned char *raw = tmt_slurp(path, &len);
    char *sql = calloc(1, len + 1); /* tmt_slurp does not terminate it */
    memcpy(sql, raw, len);
    free(raw);
    PGresult *res = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "context.sql: %s",
                  PQresultErrorMessage(res));
    PQclear(res);
    free(sql);
    free(path);
    tm_pg_exec(c, "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);"
                  "CREATE TABLE prefs (user_id int, key text, value jsonb,"
                  "  PRIMARY KEY (user_id, key));"
                  "CREATE TABLE \"We\"\"ird Tab\" (id int PRIMARY KEY, \"Na\"\"me\" text,"
                  "  \"new\nline\" text, \"\xc3\xbcn\xc3\xaf\" text);"
                  "ALTER TABLE users REPLICA IDENTITY FULL;"
                  "ALTER TABLE prefs REPLICA IDENTITY FULL;"
                  "ALTER TABLE \"We\"\"ird Tab\" REPLICA IDENTITY FULL;"
                  "CREATE TABLE expected (name text, xid bigint);"
                  "INSERT INTO users VALUES (99, 'before@x.org')");
    char *j = journal_dir();
    capture_to_now(c, j, ci, "5");

    tm_pg_exec(
        c, "BEGIN; SELECT tidemark_context('{\"user\": \"alice\", \"reason\": \"signup\"}');"
           "INSERT INTO users VALUES (1, 'a@x.org'), (2, 'b@x.org');"
           "INSERT INTO prefs SELECT 1, 'k' || g, '{\"n\": 0}' FROM generate_series(1, 10) g;"
           "INSERT INTO prefs VALUES (1, 'ui', '{\"theme\": \"light\", \"notifications\": true}');"
           "INSERT INTO expected VALUES ('A', txid_current()); COMMIT");
    tm_pg_exec(c, "BEGIN; UPDATE users SET email = 'a2@x.org' WHERE id = 1;"
                  "UPDATE prefs SET value = (value - 'notifications') || '{\"theme\": \"dark\"}'"
                  "  WHERE user_id = 1 AND key = 'ui';"
                  "INSERT INTO expected VALUES ('B', txid_current()); COMMIT");
    tm_pg_exec(c, "BEGIN; SELECT pg_logical_emit_message(true, 'audit', 'cron job');"
                  "DELETE FROM users WHERE id = 2;"
                  "INSERT INTO expected VALUES ('C', txid_current()); COMMIT");
    tm_pg_exec(c, "SELECT pg_logical_emit_message(false, 'ops', 'deploy 42')");
    tm_pg_exec(
        c, "BEGIN; SELECT tidemark_context('{\"user\": \"mallory\", \"reason\": \"migration\"}');"
           "UPDATE prefs SET value = value || '{\"migrated\": true}' WHERE key LIKE 'k%%';"
           "INSERT INTO expected VALUES ('D', txid_current()); COMMIT");
    tm_pg_exec(c,
               "BEGIN; INSERT INTO \"We\"\"ird Tab\" VALUES (1, E'it''s \"q\" \\\\ back\\\\slash',"
               "  E'line1\\nline2\\ttab', '''; DROP TABLE users; --');"
               "UPDATE \"We\"\"ird Tab\" SET \"\xc3\xbcn\xc3\xaf\" = "
               "  '\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe2\x9c\x93' WHERE id = 1;"
               "INSERT INTO expected VALUES ('E', txid_current()); COMMIT");
    capture_to_now(c, j, ci, "5");
    long xa = xid_of(c, "A"), xb = xid_of(c, "B"), xc = xid_of(c, "C"), xd = xid_of(c, "D"),
         xe = xid_of(c, "E");

    /* The listing. */
    char *out = LOG(j, "--format", "text");
    const char *b = block_of(out, xa);
    ck_assert_msg(strstr(b, "  context: {\"user\": \"alice\", \"reason\": \"signup\", \"db_user\": "
                            "\"postgres\"}\n"),
                  "%s", out);
    ck_assert_msg(strstr(b, "  public.users  INSERT  id=1\n    email: \"a@x.org\"\n"), "%s", b);
    ck_assert_uint_eq(tlj_count(b, "public.prefs  INSERT"), 11);
    b = block_of(out, xb);
    ck_assert_msg(!strstr(b, "context"), "%s", b);
    ck_assert_msg(
        strstr(b, "  public.users  UPDATE  id=1\n    email: \"a@x.org\" -> \"a2@x.org\"\n"), "%s",
        b);
    ck_assert_msg(strstr(b, "  public.prefs  UPDATE  user_id=1, key=\"ui\"\n"), "%s", b);
    ck_assert_msg(strstr(b, "    value.theme: \"light\" -> \"dark\"\n"), "%s", b);
    ck_assert_msg(strstr(b, "    value.notifications: true -> (removed)\n"), "%s", b);
    b = block_of(out, xc);
    ck_assert_msg(strstr(b, "  public.users  DELETE  id=2\n    email: \"b@x.org\"\n"), "%s", b);
    ck_assert_msg(!strstr(b, "cron"), "%s", b);
    b = block_of(out, xd);
    ck_assert_msg(strstr(b, "MASS CHANGE (10 rows of one table)"), "%s", b);
    ck_assert_uint_eq(tlj_count(b, "    value.migrated: (absent) -> true\n"), 10);
    ck_assert_msg(strstr(b, "\"mallory\""), "%s", b);
    /* The base snapshot is no change. */
    ck_assert_ptr_null(strstr(out, "before@x.org"));
    free(out);

    /* Context on the right transactions only, in JSON Lines. */
    out = LOG(j, "--format", "jsonl");
    size_t lines = tlj_check_jsonl(out);
    ck_assert_uint_eq(lines, 11 + 2 + 2 + 1 + 10 + 2);
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        const char *vp, *ve;
        ck_assert(tm_json_get(line, nl, "xid", 3, &vp, &ve));
        long x = strtol(vp, NULL, 10);
        bool has = tm_json_get(line, nl, "context", 7, &vp, &ve);
        ck_assert_msg(has == (x == xa || x == xd), "%.*s", (int)(nl - line), line);
        if (has) {
            char *who = json_string_at(vp, ve, "user");
            ck_assert_str_eq(who, x == xa ? "alice" : "mallory");
            free(who);
        }
        bool mass = tm_json_get(line, nl, "mass_change", 11, &vp, &ve);
        ck_assert_int_eq(mass, x == xd);
    }
    free(out);

    /* Filters. */
    out = LOG(j, "--where", "user_id = 1 AND key = 'ui'");
    ck_assert_uint_eq(tlj_count(out, "  public.prefs  "), 2);
    ck_assert(*block_of(out, xa) && *block_of(out, xb) && !*block_of(out, xd));
    free(out);
    out = LOG(j, "--column", "email");
    ck_assert(*block_of(out, xa) && *block_of(out, xb) && *block_of(out, xc));
    ck_assert(!*block_of(out, xd) && !*block_of(out, xe));
    ck_assert_uint_eq(tlj_count(out, "public.prefs"), 0);
    free(out);
    char xs[32];
    snprintf(xs, sizeof xs, "%ld", xc);
    out = LOG(j, "--xid", xs, "--all-messages");
    ck_assert_msg(strstr(out, "  message audit: \"cron job\"\n"), "%s", out);
    ck_assert(!*block_of(out, xa));
    free(out);
    out = LOG(j, "--all-messages");
    ck_assert_msg(strstr(out, "  message (outside a transaction) ops: \"deploy 42\"\n"), "%s", out);
    free(out);

    /* --transactions and --top: the migration stands out. */
    out = LOG(j, "--transactions");
    ck_assert_msg(strstr(out, "base snapshot of 3 tables"), "%s", out);
    char want[256];
    snprintf(want, sizeof want, "  xid %ld  ", xd);
    const char *line = strstr(out, want);
    ck_assert_msg(line && strstr(line, "10 rows  public.prefs: 10 update  MASS CHANGE (10 rows of "
                                       "one table)  context: {\"user\": \"mallory\""),
                  "%s", out);
    free(out);
    /* The largest first: A (13 rows), then the migration (10). */
    out = LOG(j, "--transactions", "--top", "2");
    ck_assert_uint_eq(tlj_count(out, "\n"), 2);
    char wa[64];
    snprintf(wa, sizeof wa, "  xid %ld  ", xa);
    ck_assert_msg(strstr(out, wa) && strstr(out, want) && strstr(out, wa) < strstr(out, want) &&
                      strstr(out, "  13 rows  ") < strstr(out, "  10 rows  "),
                  "%s", out);
    free(out);

    /* Awkward names and values come back as PostgreSQL has them. */
    out = LOG(j, "--table", "\"We\"\"ird Tab\"", "--format", "jsonl");
    ck_assert_uint_eq(tlj_check_jsonl(out), 2);
    char *nl = strchr(out, '\n');
    const char *np, *ne;
    ck_assert(tm_json_get(out, nl, "new", 3, &np, &ne));
    PGresult *row = tm_pg_query(c, "SELECT \"Na\"\"me\", \"new\nline\" FROM \"We\"\"ird Tab\"");
    char *v = json_string_at(np, ne, "Na\"me");
    ck_assert_str_eq(v, PQgetvalue(row, 0, 0));
    free(v);
    v = json_string_at(np, ne, "new\nline");
    ck_assert_str_eq(v, PQgetvalue(row, 0, 1));
    free(v);
    PQclear(row);
    char *name = json_string_at(out, nl, "name");
    ck_assert_str_eq(name, "We\"ird Tab");
    free(name);
    free(out);
    out = LOG(j, "--table", "\"We\"\"ird Tab\"");
    ck_assert_msg(strstr(out, "  public.\"We\\\"ird Tab\"  INSERT  id=1\n"
                              "    \"Na\\\"me\": \"it's \\\"q\\\" \\\\ back\\\\slash\"\n"
                              "    \"new\\nline\": \"line1\\nline2\\ttab\"\n"
                              "    \"\xc3\xbcn\xc3\xaf\": \"'; DROP TABLE users; --\"\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "    \"\xc3\xbcn\xc3\xaf\": \"'; DROP TABLE users; --\" -> "
                              "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe2\x9c\x93\"\n"),
                  "%s", out);
    free(out);
    char *still = tm_pg_query_value(c, "SELECT count(*) FROM users");
    ck_assert_str_eq(still, "2"); /* 99 and 1: no SQL from the data ran */
    free(still);

    PQfinish(c);
    free(ci);
    free(j);
}
END_TEST

/* The migration finder on a real capture: a TRUNCATE of a 50,000-row
 * table ranks above a 2-row update, with the rows it removed (the base
 * snapshot's, plus and minus the changes after it). */
START_TEST(truncate_ranks_by_its_rows)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, "log_truncate");
    PGconn *c = tm_pg_connect(pg, "log_truncate");
    tm_pg_exec(c, "CREATE TABLE small (id int PRIMARY KEY, v text);"
                  "CREATE TABLE big (id int PRIMARY KEY, pad text);"
                  "ALTER TABLE small REPLICA IDENTITY FULL; ALTER TABLE big REPLICA IDENTITY FULL;"
                  "INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'c');"
                  "INSERT INTO big SELECT g, 'x' FROM generate_series(1, 49990) g");
    char *ci = tm_pg_conninfo(pg, "log_truncate"), *j = journal_dir();
    const char *tables[] = {"--table", "small", "--table", "big", NULL};
    for (int round = 0; round < 2; round++) {
        /* One transaction each. */
        static const char *const workload[] = {
            "INSERT INTO big SELECT g, 'y' FROM generate_series(49991, 50010) g",
            "DELETE FROM big WHERE id > 50000", "UPDATE small SET v = v || '!' WHERE id <= 2",
            "TRUNCATE big", "UPDATE small SET v = 'z' WHERE id = 3"};
        for (size_t i = 0; round == 1 && i < sizeof workload / sizeof workload[0]; i++)
            tm_pg_exec(c, "%s", workload[i]);
        char *lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
        tm_run_result r;
        tm_run_opts o = {.timeout_ms = 120000};
        tm_tidemark(&r, &o, "capture", "--journal", j, "--source", ci, tables[0], tables[1],
                    tables[2], tables[3], "--endpos", lsn, NULL);
        tm_assert_exit(&r, 0);
        tm_run_result_free(&r);
        free(lsn);
    }
    char *out = LOG(j, "--transactions", "--top", "1");
    ck_assert_msg(strstr(out, "  50000 rows  public.big: truncate (50000 rows)\n") &&
                      tlj_count(out, "\n") == 1,
                  "%s", out);
    free(out);
    out = LOG(j, "--transactions");
    ck_assert_msg(strstr(out, "  2 rows  public.small: 2 update\n"), "%s", out);
    free(out);
    out = LOG(j, "--table", "big", "--format", "jsonl");
    ck_assert_msg(strstr(out, "\"op\":\"truncate\",\"cascade\":false,\"restart_identity\":false,"
                              "\"rows\":50000"),
                  "%s", out);
    free(out);
    PQfinish(c);
    free(ci);
    free(j);
}
END_TEST

int main(void)
{
    return tm_pg_check_main("pg_log", "log", 300,
                            TM_TESTS(log_of_a_real_workload, truncate_ranks_by_its_rows));
}
