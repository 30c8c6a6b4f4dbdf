/* replay --create-tables without a server (replay/out/ddl.h): journals
 * written with the real writer, then replay --format sql --create-tables
 * as the binary. An older journal (no catalog detail) gives what it can and
 * says what it could not recreate; with the detail, types come before the
 * tables in dependency order, every name stays quoted data, and defaults
 * and CHECK conditions that do not read as one expression are left out
 * with a warning, never written; generated columns are recreated in the
 * source's column order (a forged generation expression is refused). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/out/ddl.h"
#include "tests/harness/support_log.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

#define T_OID 16500
#define MOOD_OID 16400
#define MOOD_ARRAY_OID 16399
#define DOMAIN_OID 16401

static void column(Tidemark__Column *c, const char *name, uint32_t oid, const char *type,
                   uint32_t pk)
{
    tidemark__column__init(c);
    c->name = (char *)name;
    c->has_type_oid = c->has_typmod = c->has_pk_position = c->has_not_null = 1;
    c->type_oid = oid;
    c->type_name = (char *)type;
    c->typmod = -1;
    c->pk_position = pk;
    c->not_null = pk != 0;
}

static void relation(Tidemark__Relation *rel, const char *name, Tidemark__Column **cols, size_t n)
{
    tidemark__relation__init(rel);
    rel->has_oid = rel->has_version = rel->has_replica_identity = 1;
    rel->oid = T_OID;
    rel->version = 1;
    rel->namespace_ = "public";
    rel->name = (char *)name;
    rel->replica_identity = 'f';
    rel->n_columns = n;
    rel->columns = cols;
}

/* One snapshot row, so the table is replayed. */
static void snapshot_row(tlj *j, size_t n, const char *const *vals)
{
    tlj_begin(j, 1);
    tlj_snapshot(j);
    tlj_insert(j, T_OID, 1, n, vals);
    tlj_commit(j, 1000);
    tlj_close(j);
}

static void replay_sql(tlj *j, tm_run_result *r)
{
    tm_tidemark(r, NULL, "replay", "--journal", j->dir, "--at", "2999-01-01 00:00:00+00",
                "--format", "sql", "--create-tables", NULL);
    tm_assert_exit(r, 0);
}

START_TEST(old_journal_creates_what_it_can)
{
    tlj j;
    tlj_open(&j, 0);
    Tidemark__Column c[3], *pc[3] = {&c[0], &c[1], &c[2]};
    column(&c[0], "id", 23, "integer", 1);
    column(&c[1], "m", MOOD_OID, "mood", 0);
    column(&c[2], "note", 25, "text", 0);
    Tidemark__Relation rel;
    relation(&rel, "t", pc, 3);
    tmt_put_relation_record(j.w, &rel);
    snapshot_row(&j, 3, (const char *[]){"1", "happy", NULL});
    tm_run_result r;
    replay_sql(&j, &r);
    ck_assert_msg(strstr(r.out,
                         "CREATE TABLE \"public\".\"t\" (\n    \"id\" integer NOT NULL,\n"
                         "    \"m\" mood,\n    \"note\" text,\n    PRIMARY KEY (\"id\")\n);"),
                  "%s", r.out);
    ck_assert_msg(strstr(r.err, "public.t: the journal (written by an older tidemark capture) does "
                                "not record its defaults") &&
                      strstr(r.err, "column m is of type mood, which the journal does not "
                                    "define: it must exist in the target"),
                  "%s", r.err);
    /* The sequences the target's table owns are set past the rows. */
    ck_assert_msg(strstr(r.out, "\\.\nDO 'DECLARE") && strstr(r.out, "RESTART WITH"), "%s", r.out);
    tm_run_result_free(&r);
    tlj_destroy(&j);
}
END_TEST

START_TEST(detail_in_dependency_order_names_quoted)
{
    tlj j;
    tlj_open(&j, 0);
    /* A domain over an enum, both with hostile names; the domain's column
     * comes first, its CHECK does not read as one expression. */
    Tidemark__TypeDef mood = TIDEMARK__TYPE_DEF__INIT, dom = TIDEMARK__TYPE_DEF__INIT;
    mood.has_oid = mood.has_kind = mood.has_array_oid = 1;
    mood.oid = MOOD_OID;
    mood.array_oid = MOOD_ARRAY_OID;
    mood.kind = 'e';
    mood.namespace_ = "app\"s";
    mood.name = "mood\"; DROP TABLE t; --";
    char *labels[] = {"it's", "x\"y"};
    mood.labels = labels;
    mood.n_labels = 2;
    Tidemark__TypeCheck good = TIDEMARK__TYPE_CHECK__INIT, bad = TIDEMARK__TYPE_CHECK__INIT;
    good.name = "ok";
    good.expr = "(VALUE <> 'a;b'::text)";
    bad.name = "evil";
    bad.expr = "(true)); DROP TABLE t; --";
    Tidemark__TypeCheck *checks[] = {&bad, &good};
    dom.has_oid = dom.has_kind = dom.has_base_type_oid = dom.has_not_null = 1;
    dom.oid = DOMAIN_OID;
    dom.kind = 'd';
    dom.namespace_ = "public";
    dom.name = "nice";
    dom.base_type_oid = MOOD_OID;
    dom.base_type = "mood";
    dom.not_null = 1;
    dom.checks = checks;
    dom.n_checks = 2;
    Tidemark__TypeDef *types[] = {&mood, &dom};
    Tidemark__Column c[4], *pc[4] = {&c[0], &c[1], &c[2], &c[3]};
    column(&c[0], "feel", DOMAIN_OID, "nice", 0);
    column(&c[1], "id", 23, "integer", 1);
    column(&c[2], "moods", MOOD_ARRAY_OID, "mood[]", 0);
    column(&c[3], "v\";x", 25, "text", 0);
    c[2].default_expr = "'{}'::mood[]";
    c[3].default_expr = "1); DROP TABLE t; --";
    Tidemark__UniqueKey u = TIDEMARK__UNIQUE_KEY__INIT;
    char *ucols[] = {"v\";x"};
    u.name = "u\"k";
    u.columns = ucols;
    u.n_columns = 1;
    u.has_constraint = 1;
    u.constraint = 1;
    Tidemark__UniqueKey *uks[] = {&u};
    Tidemark__Relation rel;
    relation(&rel, "t", pc, 4);
    rel.has_catalog_detail = 1;
    rel.catalog_detail = 1;
    rel.types = types;
    rel.n_types = 2;
    rel.unique_keys = uks;
    rel.n_unique_keys = 1;
    rel.primary_key_name = "t_pkey";
    tmt_put_relation_record(j.w, &rel);
    snapshot_row(&j, 4, (const char *[]){"it's", "1", "{}", "v"});
    tm_run_result r;
    replay_sql(&j, &r);
    const char *want_types =
        "CREATE SCHEMA IF NOT EXISTS \"app\"\"s\";\n"
        "CREATE TYPE \"app\"\"s\".\"mood\"\"; DROP TABLE t; --\" AS ENUM ('it''s', 'x\"y');\n"
        "CREATE DOMAIN \"public\".\"nice\" AS \"app\"\"s\".\"mood\"\"; DROP TABLE t; --\" NOT NULL "
        "CONSTRAINT \"ok\" CHECK ((VALUE <> 'a;b'::text));\n";
    const char *want_table =
        "CREATE TABLE \"public\".\"t\" (\n"
        "    \"feel\" \"public\".\"nice\",\n"
        "    \"id\" integer NOT NULL,\n"
        "    \"moods\" \"app\"\"s\".\"mood\"\"; DROP TABLE t; --\"[] DEFAULT '{}'::mood[],\n"
        "    \"v\"\";x\" text,\n"
        "    CONSTRAINT \"t_pkey\" PRIMARY KEY (\"id\"),\n"
        "    CONSTRAINT \"u\"\"k\" UNIQUE (\"v\"\";x\")\n"
        ");\n";
    const char *types_at = strstr(r.out, want_types), *table_at = strstr(r.out, want_table);
    ck_assert_msg(types_at && table_at && types_at < table_at, "%s", r.out);
    ck_assert_msg(!strstr(r.out, "(true))") && !strstr(r.out, "1); DROP"), "%s", r.out);
    ck_assert_msg(strstr(r.err, "CHECK constraint evil is left out") &&
                      strstr(r.err, "column v\";x: its DEFAULT") && strstr(r.err, "left out"),
                  "%s", r.err);
    tm_run_result_free(&r);
    tlj_destroy(&j);
}
END_TEST

START_TEST(one_expression_or_nothing)
{
    static const char *const ok[] = {
        "now()",
        "nextval('users_id_seq'::regclass)",
        "'a''b;--'::text",
        "(VALUE > 0)",
        "'{}'::jsonb",
        "\"Odd\"\"Col\" + 1",
        "E'it\\'s; fine'",
        "'C:\\path'",
        "ARRAY[1, 2]",
        "f(1, 2)",
        "E'\\'; DROP TABLE t; --'", /* one string: the quote is escaped */
    };
    static const char *const bad[] = {
        "",
        "1; DROP TABLE t",
        "1 -- comment",
        "1 /* comment */",
        "(1",
        "1)",
        ") OR (true",
        "1, \"x\" int",
        "'unterminated",
        "\"unterminated",
        "1 \\! rm -rf /",
        "$$x$$",
        "1\n\\gexec",
        "'\\'; DROP TABLE t; --'", /* standard strings: the backslash is a character */
        "[1",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(tm_ddl_expr_ok(ok[i]), "refused: %s", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!tm_ddl_expr_ok(bad[i]), "accepted: %s", bad[i]);
}
END_TEST

/* Generated columns: a stored one the journal has values of (18), and a
 * virtual one it has not (unpublished) between others. --create-tables
 * makes both generated, in the source's column order, and leaves them out
 * of the COPY; CSV names the one it lacks; a generation expression that
 * does not read as one expression is refused. */
START_TEST(generated_columns_in_source_order)
{
    tlj j;
    tlj_open(&j, 0);
    Tidemark__Column c[4], *pc[4] = {&c[0], &c[1], &c[2], &c[3]}, v, *pv[1] = {&v};
    column(&c[0], "id", 23, "integer", 1);
    column(&c[1], "a", 23, "integer", 0);
    column(&c[2], "s", 23, "integer", 0);
    column(&c[3], "b", 25, "text", 0);
    column(&v, "v", 23, "integer", 0);
    uint32_t attnum[4] = {1, 2, 4, 5};
    for (int i = 0; i < 4; i++) {
        c[i].has_attnum = 1;
        c[i].attnum = attnum[i];
    }
    c[2].has_generated = v.has_generated = v.has_attnum = 1;
    c[2].generated = 's';
    c[2].generation_expr = "(a * 2)";
    v.generated = 'v';
    v.generation_expr = "(a + 1)";
    v.attnum = 3;
    Tidemark__Relation rel;
    relation(&rel, "t", pc, 4);
    rel.has_catalog_detail = rel.catalog_detail = 1;
    rel.n_unpublished_columns = 1;
    rel.unpublished_columns = pv;
    tmt_put_relation_record(j.w, &rel);
    snapshot_row(&j, 4, (const char *[]){"1", "2", "4", "x"});
    tm_run_result r;
    replay_sql(&j, &r);
    ck_assert_msg(strstr(r.out, "CREATE TABLE \"public\".\"t\" (\n    \"id\" integer NOT NULL,\n"
                                "    \"a\" integer,\n"
                                "    \"v\" integer GENERATED ALWAYS AS ((a + 1)) VIRTUAL,\n"
                                "    \"s\" integer GENERATED ALWAYS AS ((a * 2)) STORED,\n"
                                "    \"b\" text,\n") &&
                      strstr(r.out, "COPY \"public\".\"t\" (\"id\", \"a\", \"b\") FROM "
                                    "stdin;\n1\t2\tx\n\\.\n"),
                  "%s", r.out);
    ck_assert_msg(!strstr(r.err, "generated column"), "%s", r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "replay", "--journal", j.dir, "--at", "2999-01-01 00:00:00+00", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "id,a,s,b\n1,2,4,x\n");
    ck_assert_msg(strstr(r.err, "public.t: generated column(s) \"v\" (virtual) are not in the "
                                "journal"),
                  "%s", r.err);
    tm_run_result_free(&r);
    tlj_destroy(&j);

    /* A forged expression is refused, never written. */
    tlj_open(&j, 0);
    v.generation_expr = "1) STORED, x int DEFAULT (1";
    tmt_put_relation_record(j.w, &rel);
    snapshot_row(&j, 4, (const char *[]){"1", "2", "4", "x"});
    tm_tidemark(&r, NULL, "replay", "--journal", j.dir, "--at", "2999-01-01 00:00:00+00",
                "--format", "sql", "--create-tables", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "generation expression of public.t column \"v\"") &&
                      !strstr(r.out, "x int"),
                  "%s\n%s", r.err, r.out);
    tm_run_result_free(&r);
    tlj_destroy(&j);
}
END_TEST

int main(void)
{
    return tm_check_main("ddl", "core", 0,
                         TM_TESTS(old_journal_creates_what_it_can,
                                  detail_in_dependency_order_names_quoted,
                                  one_expression_or_nothing, generated_columns_in_source_order));
}
