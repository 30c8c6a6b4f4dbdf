/* Undo's SQL (replay/undo/undo_sql.h) for plans of synthetic journals, no
 * PostgreSQL: the inverse statement of each kind of entry, word for word
 * (a DELETE of an inserted row, an UPDATE setting back what changed, an
 * INSERT of a deleted row), each guarded so that it changes a row only if
 * it still looks as the undone changes left it; rows of tables without a
 * key picked by ctid; names and values quoted whatever they hold; the
 * order of the statements; the descriptions conflicts are reported with;
 * and the psql script around them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/support_journal.h"
#include "tests/harness/support_store.h"
#include "tests/harness/support_undo.h"
#include "tests/harness/tm_check.h"

enum { KEYED = 100, BAG = 200, NASTY = 300, XMLS = 400, RENAMED = 500 };

/* keyed: note text, id int PRIMARY KEY (its second column), j json */
static const tmt_col keyed[] = {
    {"note", 25, 0, false, NULL}, {"id", 23, 1, false, NULL}, {"j", 114, 0, false, "json"}};
/* bag: v text, n int, no key */
static const tmt_col bag[] = {{"v", 25, 0, false, NULL}, {"n", 23, 0, false, NULL}};
/* "Sch""ema\"."Order's ""x""": mixed case, quotes, a backslash, a newline,
 * a reserved word */
static const tmt_col nasty[] = {{"Id", 23, 1, false, NULL},
                                {"col \"q\"\n", 25, 0, false, NULL},
                                {"select", 25, 0, false, NULL},
                                {"MiXed", 25, 0, false, NULL}};
/* xmls: id int PRIMARY KEY, x xml (no equality operator) */
static const tmt_col xml[] = {{"id", 23, 1, false, NULL}, {"x", 142, 0, false, "xml"}};

static const tmt_table tables[] = {
    {NULL, "keyed", NULL, KEYED, 'f', keyed, 3},
    {NULL, "bag", NULL, BAG, 'f', bag, 2},
    {"Sch\"ema\\", "Order's \"x\"", "nasty", NASTY, 'f', nasty, 4},
    {NULL, "xmls", NULL, XMLS, 'f', xml, 2},
};

/* Plans the undo of 502, which makes the changes tx502 (a line of a
 * tmt_undo_write script), after 501 filled the tables. */
static void plan(tm_undo_plan *p, const char *tx502)
{
    char script[2048];
    snprintf(script, sizeof script,
             "501: +keyed x,1,{\"a\": 1}; +keyed _,2,_; +bag b,2; +xmls 1,<a>1</a>;"
             " +nasty 7,it's \"q\" \\ back,') OR true --,_\n502: %s\n",
             tx502);
    char *dir = tmt_undo_write(tables, sizeof tables / sizeof *tables, script);
    tmt_undo_plan(p, dir, TMT_XIDS(502));
    tmt_tempdir_remove(dir);
}

/* Whether got is want, in which ` stands for " (expected SQL reads
 * better with fewer escapes). */
static bool same_text(const char *got, const char *want)
{
    for (; *got && *want; got++, want++)
        if (*got != (*want == '`' ? '"' : *want))
            return false;
    return *got == *want;
}

/* got (freed here) is want, ` standing for ". */
static void expect_text(char *got, const char *want)
{
    ck_assert_msg(same_text(got, want), "\n got: %s\nwant: %s", got, want);
    free(got);
}

/* The statement for the entry of table's row key is want (` for "). */
static void assert_stmt(const tm_undo_plan *p, const char *table, const char *key, const char *want)
{
    expect_text(tmt_undo_stmt(tmt_undo_entry(p, table, key)), want);
}

/* What 502 did (a line of a tmt_undo_write script), which entry of its
 * plan to look at, and the statement for it, ` standing for ". */
typedef struct stmt_case {
    const char *what, *tx502;
    size_t entry;
    const char *stmt;
} stmt_case;

static const stmt_case cases[] = {
    /* an inserted row is deleted where its key is, only if every column
     * still holds what the insert wrote (json compared as text), and only
     * if nothing a cascade would touch refers to it */
    {"an insert", "+keyed new,3,{\"b\": [1]}", 0,
     "DELETE FROM `public`.`keyed` WHERE `id` = '3' AND `note` IS NOT DISTINCT FROM 'new' AND "
     "`j`::text IS NOT DISTINCT FROM '{`b`: [1]}' AND "
     "pg_temp.tidemark_unreferenced('`public`.`keyed`'::regclass, ctid)"},
    {"an insert of NULLs", "+keyed _,4,_", 0,
     "DELETE FROM `public`.`keyed` WHERE `id` = '4' AND `note` IS NULL AND `j`::text IS NULL "
     "AND pg_temp.tidemark_unreferenced('`public`.`keyed`'::regclass, ctid)"},
    /* an updated row gets back the values that changed where it still
     * holds what the update wrote */
    /* by column: the test covers the key and the columns set back, so a
     * later change of j would not stop it */
    {"an update", "keyed x,1,{\"a\": 1} > y,1,{\"a\": 1}", 0,
     "UPDATE `public`.`keyed` SET `note` = 'x' WHERE `id` = '1' AND `note` IS NOT DISTINCT "
     "FROM 'y'"},
    {"an update of NULLs", "keyed _,2,_ > z,2,[]", 0,
     "UPDATE `public`.`keyed` SET `note` = NULL, `j` = NULL WHERE `id` = '2' AND `note` IS NOT "
     "DISTINCT FROM 'z' AND `j`::text IS NOT DISTINCT FROM '[]'"},
    {"an update of xml", "xmls 1,<a>1</a> > 1,<b/>", 0,
     "UPDATE `public`.`xmls` SET `x` = '<a>1</a>' WHERE `id` = '1' AND `x`::text IS NOT "
     "DISTINCT FROM '<b/>'"},
    /* a deleted row is inserted back with every value it had (identity
     * columns too) unless its key is taken; a keyless row regardless */
    {"a delete", "-keyed x,1,{\"a\": 1}", 0,
     "INSERT INTO `public`.`keyed` (`note`, `id`, `j`) OVERRIDING SYSTEM VALUE VALUES ('x', "
     "'1', '{`a`: 1}') ON CONFLICT DO NOTHING"},
    {"a delete of NULLs", "-keyed _,2,_", 0,
     "INSERT INTO `public`.`keyed` (`note`, `id`, `j`) OVERRIDING SYSTEM VALUE VALUES (NULL, "
     "'2', NULL) ON CONFLICT DO NOTHING"},
    {"a keyless delete", "-bag b,2", 0,
     "INSERT INTO `public`.`bag` (`v`, `n`) OVERRIDING SYSTEM VALUE VALUES ('b', '2')"},
    /* without a key: one of the identical rows, picked by ctid */
    {"a keyless insert", "+bag c,3", 0,
     "DELETE FROM `public`.`bag` WHERE ctid = (SELECT ctid FROM `public`.`bag` WHERE `v` IS "
     "NOT DISTINCT FROM 'c' AND `n` IS NOT DISTINCT FROM '3' LIMIT 1) AND "
     "pg_temp.tidemark_unreferenced('`public`.`bag`'::regclass, ctid)"},
    {"a keyless update", "bag b,2 > _,9", 1,
     "DELETE FROM `public`.`bag` WHERE ctid = (SELECT ctid FROM `public`.`bag` WHERE `v` IS "
     "NULL AND `n` IS NOT DISTINCT FROM '9' LIMIT 1) AND "
     "pg_temp.tidemark_unreferenced('`public`.`bag`'::regclass, ctid)"},
    /* names double quoted, '"' doubled, case and reserved words kept;
     * values single quoted, '\'' doubled, backslashes and control
     * characters as they are (standard_conforming_strings) */
    {"hostile names, a delete", "-nasty 7,it's \"q\" \\ back,') OR true --,_", 0,
     "INSERT INTO `Sch``ema\\`.`Order's ``x``` (`Id`, `col ``q``\n`, `select`, `MiXed`) "
     "OVERRIDING SYSTEM VALUE VALUES ('7', 'it''s `q` \\ back', ''') OR true --', NULL) ON "
     "CONFLICT DO NOTHING"},
    {"hostile names, an insert", "+nasty 8,tab\there \x01 \\,ünï ✓,$$", 0,
     "DELETE FROM `Sch``ema\\`.`Order's ``x``` WHERE `Id` = '8' AND `col ``q``\n` IS NOT "
     "DISTINCT FROM 'tab\there \x01 \\' AND `select` IS NOT DISTINCT FROM 'ünï ✓' AND `MiXed` "
     "IS NOT DISTINCT FROM '$$' AND pg_temp.tidemark_unreferenced('`Sch``ema\\`.`Order''s "
     "``x```'::regclass, ctid)"},
};

START_TEST(statement_of_each_kind)
{
    const stmt_case *c = &cases[_i];
    tm_undo_plan p;
    plan(&p, c->tx502);
    char *got = tmt_undo_stmt(p.e[c->entry]);
    ck_assert_msg(same_text(got, c->stmt), "%s:\n got: %s\nwant: %s", c->what, got, c->stmt);
    free(got);
    tm_undo_plan_free(&p);
}
END_TEST

/* --granularity row: an UPDATE's test covers every column, so a later
 * change of any of them stops it. */
START_TEST(row_granularity_tests_every_column)
{
    tm_undo_plan p;
    plan(&p, "keyed x,1,{\"a\": 1} > y,1,{\"a\": 1}");
    tm_out o;
    tm_error err;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    ck_assert_int_eq(tm_undo_stmt(&o, p.e[0], true, &err), 0);
    tm_out_putc(&o, '\0');
    size_t len;
    const char *got = tm_out_data(&o, &len);
    const char *want =
        "UPDATE `public`.`keyed` SET `note` = 'x' WHERE `id` = '1' AND `note` IS NOT "
        "DISTINCT FROM 'y' AND `j`::text IS NOT DISTINCT FROM '{`a`: 1}'";
    ck_assert_msg(same_text(got, want), "got: %s\nwant: %s", got, want);
    tm_out_free(&o);
    tm_undo_plan_free(&p);
}
END_TEST

/* A value with a NUL byte cannot be SQL (nor a PostgreSQL text value):
 * the statement and the script are refused, a description shows '?'. */
START_TEST(nul_bytes_are_refused)
{
    tmt_jw j;
    char *dir = tmt_undo_journal(&j);
    tmt_jw_relation(j.w, BAG, 1, 1000, "bag", 'f', bag, 2);
    tmt_undo_begin(&j, 502, 1);
    tm_value v[2] = {{"a\0b", 3, TM_KIND_TEXT}, {"9", 1, TM_KIND_TEXT}};
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, BAG, 1, 0, NULL, 0, v, 2);
    tmt_jw_end(&j);
    tmt_jw_close(&j);
    tm_undo_plan p;
    tmt_undo_plan(&p, dir, TMT_XIDS(502));
    tm_out o;
    tm_error err;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    ck_assert_int_eq(tm_undo_stmt(&o, p.e[0], false, &err), -1);
    ck_assert_str_eq(err.msg, "a value of public.bag cannot be written as SQL (it holds a NUL "
                              "byte)");
    expect_text(tmt_undo_describe(p.e[0]), "`public`.`bag` (`v`, `n`) = (?, '9')");
    ck_assert_int_eq(
        tm_undo_write_script(&o, &p, (const tm_undo_entry **)p.e, 1, false, false, &err), -1);
    tm_out_free(&o);
    tm_undo_plan_free(&p);
    tmt_tempdir_remove(dir);
}
END_TEST

/* 502 and 503 of a table that is renamed and gains a column between them:
 * the row's image before the set is in the old layout, after it in the
 * new one. */
static char *renamed(void)
{
    static const tmt_col v1[] = {{"id", 23, 1, false, NULL}, {"v", 25, 0, false, NULL}};
    static const tmt_col v2[] = {
        {"id", 23, 1, false, NULL}, {"v", 25, 0, false, NULL}, {"w", 23, 0, true, NULL}};
    tmt_jw j;
    char *dir = tmt_undo_journal(&j);
    tmt_jw_relation(j.w, RENAMED, 1, 1000, "old_name", 'f', v1, 2);
    tmt_undo_begin(&j, 502, 1);
    tmt_jw_update(&j, RENAMED, 1, 'O', TMT_ROW("1", "a"), TMT_ROW("1", "b"));
    tmt_jw_end(&j);
    tmt_jw_relation(j.w, RENAMED, 2, j.lsn + 50, "new_name", 'f', v2, 3);
    tmt_undo_begin(&j, 503, 1);
    tmt_jw_update(&j, RENAMED, 2, 'O', TMT_ROW("1", "b", "7"), TMT_ROW("1", "c", "7"));
    tmt_jw_end(&j);
    tmt_jw_close(&j);
    return dir;
}

/* Across a schema change every column of the old layout is set back, the
 * row is matched in the new one, and the table has its newest name. */
START_TEST(schema_change_sets_back_every_column)
{
    char *dir = renamed();
    tm_undo_plan p;
    tmt_undo_plan(&p, dir, TMT_XIDS(502, 503));
    assert_stmt(&p, "new_name", "1",
                "UPDATE `public`.`new_name` SET `id` = '1', `v` = 'a' WHERE `id` = '1' "
                "AND `v` IS NOT DISTINCT FROM 'c' AND `w` IS NOT DISTINCT FROM '7'");
    tm_undo_plan_free(&p);
    tmt_tempdir_remove(dir);
}
END_TEST

/* Statements run DELETEs newest first, then UPDATEs newest first, then
 * INSERTs in the order the rows were deleted; rows that end as they began
 * need none. */
START_TEST(statements_in_undo_order)
{
    tm_undo_plan p;
    plan(&p, "-keyed x,1,{\"a\": 1}; +keyed i1,10,_; xmls 1,<a>1</a> > 1,<c/>; -bag b,2;"
             " +keyed i2,11,_; keyed _,2,_ > u2,2,_; +keyed gone,12,_; -keyed gone,12,_;"
             " xmls 1,<c/> > 1,<a>1</a>; keyed i1,10,_ > i1,10,1");
    const tm_undo_entry *gone = tmt_undo_entry(&p, "keyed", "gone");
    ck_assert_int_eq(tm_undo_kind_of(gone), TM_UNDO_NONE);
    expect_text(tmt_undo_stmt(gone), ""); /* nothing to do */
    ck_assert_int_eq(tm_undo_kind_of(tmt_undo_entry(&p, "xmls", "1")), TM_UNDO_NONE);
    const tm_undo_entry **es;
    ck_assert_int_eq(tm_undo_order(&p, &es), 5);
    const char *want[] = {"i1", "i2", "u2", "x", "b"};
    for (int i = 0; i < 5; i++) {
        const tm_undo_img *img = es[i]->has_after ? &es[i]->after : &es[i]->before;
        ck_assert_msg(img->v[0].len == strlen(want[i]) &&
                          !memcmp(img->v[0].ptr, want[i], img->v[0].len),
                      "statement %d is not the one of %s", i, want[i]);
    }
    ck_assert_int_eq(tm_undo_kind_of(es[1]), TM_UNDO_DELETE);
    ck_assert_int_eq(tm_undo_kind_of(es[2]), TM_UNDO_UPDATE);
    ck_assert_int_eq(tm_undo_kind_of(es[4]), TM_UNDO_INSERT);
    free(es);
    tm_undo_plan_free(&p);
}
END_TEST

/* Conflicts name the row: its key columns (every column without a key)
 * and values, quoted, long ones cut at a character boundary. */
START_TEST(rows_are_described_by_key)
{
    tm_undo_plan p;
    /* 59 ASCII bytes, then a two-byte character across the 60-byte cut */
    plan(&p,
         "+bag aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaéz,_; +keyed it's,5,_");
    char *d = tmt_undo_describe(tmt_undo_entry(&p, "keyed", "it's"));
    expect_text(d, "`public`.`keyed` (`id`) = ('5')");
    d = tmt_undo_describe(p.e[0]);
    expect_text(d, "`public`.`bag` (`v`, `n`) = "
                   "('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'..., NULL)");
    tm_undo_plan_free(&p);
}
END_TEST

/* The explanation of a conflict from the journal: the later changes of
 * the row, five at the most. */
START_TEST(later_changes_are_listed)
{
    static const char ops[] = "UDIT?UU";
    tm_undo_touch t[7];
    for (uint32_t i = 0; i < 7; i++)
        t[i] = (tm_undo_touch){503 + i, tmt_undo_time(503 + i), ops[i]};
    tm_undo_entry e = {.later = t};
    char *s = tmt_undo_later(&e);
    ck_assert_str_eq(s, "no later change in the journal");
    free(s);
    e.nlater = 2;
    s = tmt_undo_later(&e);
    ck_assert_str_eq(s, "changed later by xid 503 (UPDATE at 2026-01-01 00:08:23+00), xid 504 "
                        "(DELETE at 2026-01-01 00:08:24+00)");
    free(s);
    e.nlater = 7;
    s = tmt_undo_later(&e);
    ck_assert_msg(strstr(s, ", xid 505 (INSERT at ") && strstr(s, ", xid 506 (TRUNCATE at ") &&
                      strstr(s, ", xid 507 (change at 2026-01-01 00:08:27+00) and 2 more") &&
                      !strstr(s, "508"),
                  "%s", s);
    free(s);
}
END_TEST

static const char script_head[] =
    "-- tidemark undo: 1 transaction(s), 1 row statement(s), on conflict %s\n"
    "SET standard_conforming_strings = on;\nSET client_encoding = 'UTF8';\nBEGIN;\n";

/* The script of a plan of one row statement, without its head and the
 * session function (checked here) and its last line (COMMIT). */
static char *script_body(const tm_undo_plan *p, bool skip)
{
    char *s = tmt_undo_script(p, skip), head[256];
    snprintf(head, sizeof head, script_head, skip ? "skip" : "abort");
    size_t hl = strlen(head), sl = strlen(TM_UNDO_SESSION_SQL), len = strlen(s);
    ck_assert_msg(!strncmp(s, head, hl) && !strncmp(s + hl, TM_UNDO_SESSION_SQL, sl) &&
                      !strncmp(s + hl + sl, ";\n", 2),
                  "%s", s);
    ck_assert_msg(len > 10 && !strcmp(s + len - 8, "COMMIT;\n"), "%s", s);
    s[len - 8] = '\0';
    memmove(s, s + hl + sl + 2, len - 8 - hl - sl - 1);
    return s;
}

/* One DO block a statement: with abort, an error when it changes no row;
 * with skip, a warning, integrity errors too. */
START_TEST(script_guards_each_statement)
{
    tm_undo_plan p;
    plan(&p, "-keyed x,1,{\"a\": 1}");
    char *got = script_body(&p, false);
    expect_text(got,
                "DO $tm$#variable_conflict use_column\nBEGIN\n  INSERT INTO `public`.`keyed` "
                "(`note`, `id`, `j`) OVERRIDING SYSTEM VALUE VALUES ('x', '1', '{`a`: 1}') "
                "ON CONFLICT DO NOTHING;\n  IF NOT FOUND THEN RAISE EXCEPTION USING MESSAGE = "
                "'tidemark undo: conflict: `public`.`keyed` (`id`) = (''1'') cannot be "
                "inserted back: its key (or another unique value) is taken; no later change in the "
                "journal'; END IF;\nEND\n$tm$;\n");
    got = script_body(&p, true);
    ck_assert_msg(strstr(got, "IF NOT FOUND THEN RAISE WARNING USING MESSAGE = 'tidemark undo: "
                              "skipped: ") &&
                      strstr(got, "EXCEPTION WHEN integrity_constraint_violation THEN\n  RAISE "
                                  "WARNING USING MESSAGE = 'tidemark undo: skipped: "
                                  "\"public\".\"keyed\" (\"id\") = (''1'')' || ': ' || "
                                  "SQLERRM;\nEND\n$tm$;\n"),
                  "%s", got);
    free(got);
    tm_undo_plan_free(&p);
}
END_TEST

/* The dollar quotes of a DO block are not in its body. */
START_TEST(script_quotes_around_dollars)
{
    tm_undo_plan p;
    plan(&p, "keyed x,1,{\"a\": 1} > $tm$ $tm1$,1,{\"a\": 1}");
    char *got = script_body(&p, false);
    ck_assert_msg(!strncmp(got, "DO $tm2$#variable_conflict", 26) &&
                      strstr(got, "no later change in the journal'; END IF;\nEND\n$tm2$;\n") &&
                      strstr(got, "IS NOT DISTINCT FROM '$tm$ $tm1$'") &&
                      strstr(got, "no longer looks as the undone transaction(s) left it"),
                  "%s", got);
    free(got);
    tm_undo_plan_free(&p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("undo_sql");
    TCase *statements = tcase_create("statements");
    tcase_add_loop_test(statements, statement_of_each_kind, 0, sizeof cases / sizeof *cases);
    suite_add_tcase(s, statements);
    tm_check_case(s, "sql", 0,
                  TM_TESTS(row_granularity_tests_every_column, nul_bytes_are_refused,
                           schema_change_sets_back_every_column, statements_in_undo_order,
                           rows_are_described_by_key, later_changes_are_listed,
                           script_guards_each_statement, script_quotes_around_dollars));
    return tm_check_run(s);
}
