/* Capture and schema changes: new relation versions for ADD/DROP/RENAME
 * COLUMN and type changes, the missing value of ADD COLUMN ... DEFAULT,
 * fresh snapshots after table rewrites (with and without the DDL event
 * trigger), canonical value text whatever the server's settings, and
 * spooling of transactions larger than the memory budget. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "store/journal/tuple.h"

static void capture_to_now(PGconn *c, const char *j, const char *ci, const char *extra)
{
    char *lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 120000};
    const char *args[] = {"capture",  "--journal", j,     "--source",         ci,  "--table", "t",
                          "--endpos", lsn,         extra, extra ? "1" : NULL, NULL};
    tm_tidemarkv(&r, &o, args);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);
}

/* The latest Relation of table t's oid, and snapshot transactions seen. */
typedef struct seen {
    uint32_t version;
    char columns[512];             /* "name:type_name[=missing]," of the latest version */
    int snapshots;                 /* snapshot transactions (the base one included) */
    char last_snapshot_rows[2048]; /* rows of the last snapshot, "v1|v2;" */
    char values[4096];             /* every text value of every change, "v;" */
    uint64_t biggest_tx;           /* most records in one non-snapshot transaction */
} seen;

static void append(char *buf, size_t cap, const char *p, size_t n)
{
    size_t len = strlen(buf);
    if (len + n + 1 < cap) {
        memcpy(buf + len, p, n);
        buf[len + n] = '\0';
    }
}

static void scan(const char *dir, seen *sn)
{
    memset(sn, 0, sizeof *sn);
    tm_reader *r;
    tm_error err;
    ck_assert_msg(tm_reader_open(dir, &r, &err) == 0, "%s", err.msg);
    const Tidemark__Record *rec;
    int rc;
    bool in_snapshot = false;
    tm_colbuf cb = {0};
    while ((rc = tm_reader_next(r, &rec, &err)) == 1) {
        if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
            in_snapshot = rec->begin->snapshot;
            if (!in_snapshot && rec->begin->n_records > sn->biggest_tx)
                sn->biggest_tx = rec->begin->n_records;
            if (in_snapshot) {
                sn->snapshots++;
                sn->last_snapshot_rows[0] = '\0';
            }
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION &&
                   !strcmp(rec->relation->name, "t")) {
            sn->version = rec->relation->version;
            sn->columns[0] = '\0';
            for (size_t i = 0; i < rec->relation->n_columns; i++) {
                const Tidemark__Column *col = rec->relation->columns[i];
                char one[200];
                snprintf(one, sizeof one, "%s:%s%s%.*s,", col->name, col->type_name,
                         col->has_missing_value ? "=" : "", (int)col->missing_value.len,
                         (const char *)col->missing_value.data);
                append(sn->columns, sizeof sn->columns, one, strlen(one));
            }
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_CHANGE && rec->change->new_tuple) {
            uint32_t n;
            ck_assert_int_eq(tm_tuple_decode(rec->change->new_tuple, NULL, 0, &cb, &n, &err), 0);
            for (uint32_t i = 0; i < n; i++) {
                const char *v = cb.v[i].kind == 't' ? cb.v[i].ptr : "NULL";
                size_t len = cb.v[i].kind == 't' ? cb.v[i].len : 4;
                if (in_snapshot) {
                    append(sn->last_snapshot_rows, sizeof sn->last_snapshot_rows, v, len);
                    append(sn->last_snapshot_rows, sizeof sn->last_snapshot_rows,
                           i + 1 < n ? "|" : ";", 1);
                } else {
                    append(sn->values, sizeof sn->values, v, len);
                    append(sn->values, sizeof sn->values, ";", 1);
                }
            }
        }
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    tm_colbuf_free(&cb);
    tm_reader_close(r);
}

static char *setup(const char *db, PGconn **c)
{
    tm_pg *pg = tm_pg_shared();
    tm_pg_createdb(pg, db);
    *c = tm_pg_connect(pg, db);
    tm_pg_exec(*c, "CREATE TABLE t (id int PRIMARY KEY, v int);"
                   "ALTER TABLE t REPLICA IDENTITY FULL;"
                   "INSERT INTO t VALUES (1, 10), (2, 20)");
    return tm_pg_conninfo(pg, db);
}

/* Installs scripts/ddl-messages.sql in c's database. */
static void install_ddl_messages(PGconn *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/scripts/ddl-messages.sql", TM_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *sql = calloc(1, 1 << 16);
    size_t n = fread(sql, 1, (1 << 16) - 1, f);
    fclose(f);
    ck_assert_uint_gt(n, 0);
    tm_pg_exec(c, "%s", sql);
    free(sql);
}

/* setup (with scripts/ddl-messages.sql when ddl_messages), a journal
 * path, and a capture run up to now. */
static char *start(const char *db, bool ddl_messages, PGconn **c, char **j)
{
    char *ci = setup(db, c);
    if (ddl_messages)
        install_ddl_messages(*c);
    *j = tmt_journal_path();
    capture_to_now(*c, *j, ci, NULL);
    return ci;
}

START_TEST(schema_versions)
{
    PGconn *c;
    char *j, *ci = start("ddl_versions", false, &c, &j);
    seen sn;
    scan(j, &sn);
    ck_assert_uint_eq(sn.version, 1);
    ck_assert_str_eq(sn.columns, "id:integer,v:integer,");

    tm_pg_exec(c, "ALTER TABLE t ADD COLUMN note text DEFAULT 'hello'");
    tm_pg_exec(c, "INSERT INTO t VALUES (3, 30, 'x')");
    capture_to_now(c, j, ci, NULL);
    scan(j, &sn);
    ck_assert_uint_eq(sn.version, 2);
    ck_assert_str_eq(sn.columns, "id:integer,v:integer,note:text=hello,");

    tm_pg_exec(c, "ALTER TABLE t DROP COLUMN v");
    tm_pg_exec(c, "ALTER TABLE t RENAME COLUMN note TO remark");
    tm_pg_exec(c, "INSERT INTO t VALUES (4, 'y')");
    capture_to_now(c, j, ci, NULL);
    scan(j, &sn);
    ck_assert_uint_eq(sn.version, 3);
    ck_assert_str_eq(sn.columns, "id:integer,remark:text=hello,");

    /* A restart re-sends Relation messages: no new version for the same schema. */
    tm_pg_exec(c, "INSERT INTO t VALUES (5, 'z')");
    capture_to_now(c, j, ci, NULL);
    scan(j, &sn);
    ck_assert_uint_eq(sn.version, 3);
    tm_pg_done(c, ci, j);
}
END_TEST

START_TEST(rewrite_takes_fresh_snapshot)
{
    PGconn *c;
    char *j, *ci = start("ddl_rewrite", false, &c, &j);
    /* A rewrite: rows change, no row changes go through the slot. */
    tm_pg_exec(c, "ALTER TABLE t ALTER COLUMN v TYPE text USING (v * 100)::text");
    tm_pg_exec(c, "INSERT INTO t VALUES (3, 'three')");
    capture_to_now(c, j, ci, NULL);
    /* The snapshot waits for the stream to reach its LSN: one more commit. */
    tm_pg_exec(c, "INSERT INTO t VALUES (4, 'four')");
    capture_to_now(c, j, ci, NULL);
    seen sn;
    scan(j, &sn);
    ck_assert_str_eq(sn.columns, "id:integer,v:text,");
    ck_assert_int_eq(sn.snapshots, 2);
    /* Taken at its own consistent point: it holds every row committed before. */
    ck_assert_str_eq(sn.last_snapshot_rows, "1|1000;2|2000;3|three;4|four;");
    ck_assert_int_eq(access(j, F_OK), 0);
    tm_pg_done(c, ci, j);
}
END_TEST

START_TEST(rewrite_with_event_trigger)
{
    PGconn *c;
    char *j, *ci = start("ddl_trigger", true, &c, &j);
    /* No row change after the DDL at all: the trigger's message is enough. */
    tm_pg_exec(c, "ALTER TABLE t ALTER COLUMN v TYPE bigint USING v + 1");
    capture_to_now(c, j, ci, NULL);
    tm_pg_exec(c, "CREATE TABLE other (x int)"); /* some WAL so the stream moves on */
    tm_pg_exec(c, "SELECT pg_logical_emit_message(false, 'noise', 'x')");
    capture_to_now(c, j, ci, NULL);
    seen sn;
    scan(j, &sn);
    ck_assert_int_eq(sn.snapshots, 2);
    ck_assert_str_eq(sn.last_snapshot_rows, "1|11;2|21;");
    ck_assert_str_eq(sn.columns, "id:integer,v:bigint,");
    tm_pg_done(c, ci, j);
}
END_TEST

/* replay of t at now equals the table. */
static void check_replay_equals_table(PGconn *c, const char *j)
{
    char *want = tm_pg_copy_csv(c, "SELECT * FROM t ORDER BY id");
    tm_run_result r;
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--at", "2100-01-01 00:00+00", "--table", "t",
                NULL);
    tm_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, want);
    tm_run_result_free(&r);
    free(want);
}

/* A renamed column keeps its values (columns are matched by attnum), and
 * with the DDL trigger the new name is journaled at the ALTER, before any
 * row of the table changes (Django's RenameField, then nothing). */
START_TEST(rename_keeps_values)
{
    PGconn *c;
    char *j, *ci = start("ddl_rename", true, &c, &j);
    tm_pg_exec(c, "ALTER TABLE t RENAME COLUMN v TO w");
    tm_pg_exec(c, "SELECT pg_logical_emit_message(false, 'noise', 'x')");
    capture_to_now(c, j, ci, NULL);
    check_replay_equals_table(c, j); /* "id,w" and the old rows */
    tm_pg_exec(c, "INSERT INTO t VALUES (3, 30)");
    capture_to_now(c, j, ci, NULL);
    check_replay_equals_table(c, j); /* rows 1 and 2 still have their values */
    tm_pg_done(c, ci, j);
}
END_TEST

START_TEST(canonical_values_and_spool)
{
    PGconn *c;
    char *ci = setup("ddl_values", &c);
    tm_pg_exec(c, "ALTER DATABASE ddl_values SET TimeZone = 'Asia/Tokyo';"
                  "ALTER DATABASE ddl_values SET DateStyle = 'German, DMY';"
                  "ALTER DATABASE ddl_values SET extra_float_digits = 3;"
                  "ALTER DATABASE ddl_values SET bytea_output = 'escape';"
                  "ALTER DATABASE ddl_values SET IntervalStyle = 'sql_standard'");
    PQfinish(c);
    c = tm_pg_connect(tm_pg_shared(), "ddl_values");
    tm_pg_exec(c, "ALTER TABLE t ADD COLUMN ts timestamptz, ADD COLUMN f float8, ADD COLUMN b "
                  "bytea, ADD COLUMN i interval, ADD COLUMN big text");
    char *j = tmt_journal_path();
    capture_to_now(c, j, ci, NULL);
    tm_pg_exec(c, "INSERT INTO t VALUES (7, 1, '2026-01-02 03:04:05+00', 0.1, '\\x00ff', "
                  "'1 day 2 hours')");
    /* A transaction of ~6 MB with a 1 MB budget: spooled, journaled whole. */
    tm_pg_exec(c, "INSERT INTO t (id, big) SELECT g, repeat(md5(g::text), 200) FROM "
                  "generate_series(100, 1100) g");
    capture_to_now(c, j, ci, "--tx-memory-mb");
    seen sn;
    scan(j, &sn);
    ck_assert_msg(strstr(sn.values, "7;1;2026-01-02 03:04:05+00;0.1;\\x00ff;1 day 02:00:00;NULL;"),
                  "values: %.300s", sn.values);
    char spool[4200];
    snprintf(spool, sizeof spool, "%s/spool.tmp", j);
    ck_assert_int_ne(access(spool, F_OK), 0);
    /* All 1001 rows of the big transaction made it, in one transaction. */
    ck_assert_uint_eq(sn.biggest_tx, 1001);
    tm_run_result r;
    tm_tidemark(&r, NULL, "status", "--journal", j, "--source", ci, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "public.t") && strstr(r.out, "2 rows in the base snapshot") &&
                      strstr(r.out, "slot:") && strstr(r.out, "inactive"),
                  "status output:\n%s", r.out);
    tm_run_result_free(&r);
    tm_pg_done(c, ci, j);
}
END_TEST

int main(void)
{
    return tm_pg_check_main("pg_capture_ddl", "ddl", 300,
                            TM_TESTS(schema_versions, rewrite_takes_fresh_snapshot,
                                     rewrite_with_event_trigger, rename_keeps_values,
                                     canonical_values_and_spool));
}
