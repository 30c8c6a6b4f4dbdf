/* Undo planning (replay/undo/undo_plan.h) over synthetic journals, no
 * PostgreSQL: which transactions a plan selects (by xid, by commit time,
 * never a snapshot), which changes it keeps (--table, --where), how a
 * row's changes fold into one entry (key changes into two, keyless tables
 * one per change, a TRUNCATE into the rows it removed, unchanged TOAST
 * values resolved from the old row), the changes it refuses (no old row),
 * later changes by other transactions (interleaving, key reuse) and
 * damaged journals. Plans are compared as tmt_undo_plan_text writes them. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/support_journal.h"
#include "tests/harness/support_store.h"
#include "tests/harness/support_undo.h"
#include "tests/harness/tm_check.h"

enum { ITEMS = 100, BAG = 200, NOFULL = 300, DOCS = 400, NOTHING = 500 };

/* items, nofull, nothing: id int PRIMARY KEY, v text, n int */
static const tmt_col keyed[] = {
    {"id", 23, 1, false, NULL}, {"v", 25, 0, false, NULL}, {"n", 23, 0, false, NULL}};
/* bag: v text, n int, no key */
static const tmt_col keyless[] = {{"v", 25, 0, false, NULL}, {"n", 23, 0, false, NULL}};
/* docs: id int PRIMARY KEY, body text (TOASTed), j json */
static const tmt_col doc[] = {
    {"id", 23, 1, false, NULL}, {"body", 25, 0, false, NULL}, {"j", 114, 0, false, "json"}};

static const tmt_table tables[] = {
    {NULL, "items", NULL, ITEMS, 'f', keyed, 3},     {NULL, "bag", NULL, BAG, 'f', keyless, 2},
    {NULL, "nofull", NULL, NOFULL, 'd', keyed, 3},   {NULL, "docs", NULL, DOCS, 'f', doc, 3},
    {NULL, "nothing", NULL, NOTHING, 'n', keyed, 3},
};

static char *journal(const char *script)
{
    return tmt_undo_write(tables, sizeof tables / sizeof *tables, script);
}

/* p's entries and refusals are want (tmt_undo_plan_text); what names
 * the case. */
static void expect(const tm_undo_plan *p, const char *what, const char *want)
{
    char *got = tmt_undo_plan_text(p);
    ck_assert_msg(!strcmp(got, want), "%s: plan\n%s\nwanted\n%s", what, got, want);
    free(got);
}

/* The plan of sel over the journal of script is want; returns how many
 * changes it folded. */
static uint64_t expect_plan(const char *what, const char *script, const tm_undo_select *sel,
                            const char *want)
{
    char *dir = journal(script);
    tm_undo_plan p;
    tmt_undo_plan(&p, dir, sel);
    expect(&p, what, want);
    uint64_t changes = p.changes;
    tm_undo_plan_free(&p);
    tmt_tempdir_remove(dir);
    return changes;
}

static const char three[] = "501: +items 1,a,1; +items 2,b,2\n"
                            "502: items 1,a,1 > 1,z,1; -items 2,b,2; +items 3,c,3\n"
                            "503: items 3,c,3 > 3,d,3\n";

static const char toasted[] = "501: +docs 1,long body,{\"a\": 1}\n"
                              "502: docs 1,long body,{\"a\": 1} > 1,^,{\"a\": 2}\n"
                              "503: docs 1,^,{\"a\": 2} > 1,^,{\"a\": 3}\n";

/* A script, the transactions undone, and the plan (tmt_undo_plan_text). */
typedef struct plan_case {
    const char *what, *script;
    uint32_t xids[3]; /* ends at 0 */
    uint64_t changes; /* row changes folded into entries */
    const char *plan;
} plan_case;

static const plan_case cases[] = {
    /* the update set back, the deleted row inserted back, the inserted
     * row deleted; 503's update of row 3 is a later touch */
    {"one transaction",
     three,
     {502},
     3,
     "UPDATE items (1,a,1) > (1,z,1)\nINSERT items (2,b,2) > -\n"
     "DELETE items - > (3,c,3) later 503U\n"},
    /* row 1 was inserted by the set: delete it whatever 502 made of it;
     * row 2 inserted and deleted: nothing to do */
    {"two transactions",
     three,
     {502, 501},
     5,
     "DELETE items - > (1,z,1)\nNONE items - > -\nDELETE items - > (3,c,3) later 503U\n"},
    /* a snapshot (the base copy of a table) is never undone */
    {"a snapshot", "501s: !items; +items 1,a,1\n", {501}, 0, ""},
    /* an UPDATE of the key leaves one key and arrives at another */
    {"a key change",
     "501: +items 3,c,3\n502: items 3,c,3 > 30,c,3\n",
     {502},
     1,
     "INSERT items (3,c,3) > -\nDELETE items - > (30,c,3)\n"},
    /* a row's changes fold into one entry, from the image before the first
     * to the image after the last: inserted and changed, deleted; changed
     * and deleted, inserted back as it was; deleted and inserted back the
     * same, nothing; differently, set back */
    {"one row's changes",
     "501: +items 1,a,1; +items 2,b,2; +items 4,d,4\n"
     "502: +items 5,a,5; items 5,a,5 > 5,b,5; items 5,b,5 > 5,c,_; items 1,a,1 > 1,x,1;"
     " -items 1,x,1; -items 2,b,2; +items 2,b,2; -items 4,d,4; +items 4,D,4\n",
     {502},
     9,
     "DELETE items - > (5,c,_)\nINSERT items (1,a,1) > -\nNONE items (2,b,2) > (2,b,2)\n"
     "UPDATE items (4,d,4) > (4,D,4)\n"},
    /* without a key every change is an entry, an UPDATE two (the old row
     * back, the new one away), identical rows too */
    {"a keyless table",
     "501: +bag a,1; +bag a,1; +bag b,2\n502: bag a,1 > a,9; -bag b,2; +bag c,3; +bag c,3\n",
     {502},
     4,
     "INSERT bag (a,1) > -\nDELETE bag - > (a,9)\nINSERT bag (b,2) > -\nDELETE bag - > (c,3)\n"
     "DELETE bag - > (c,3)\n"},
    /* an unchanged TOAST value is taken from the old row */
    {"an unchanged TOAST value",
     toasted,
     {502},
     1,
     "UPDATE docs (1,long body,{\"a\": 1}) > (1,long body,{\"a\": 2}) later 503U\n"},
    /* ... also when the journal kept it as unchanged ('u') */
    {"an unchanged TOAST value kept",
     "501: +docs 1,body,_\n502u: docs 1,body,_ > 1,^,[]\n",
     {502},
     1,
     "UPDATE docs (1,body,_) > (1,body,[])\n"},
    /* ... and one known nowhere makes the change impossible to undo */
    {"an unknown TOAST value", toasted, {503}, 0, "cannot docs f 503 x1\n"},
    /* without the old row (REPLICA IDENTITY DEFAULT, NOTHING, a key-only
     * old row) nothing can be undone: counted per table with the identity
     * its version had and the first xid */
    {"no old rows",
     "501: +nofull 1,a,1; +nofull 2,b,2; +items 1,a,1; +nothing 1,a,1\n"
     "502: nofull/0 > 1,x,1; -nofull/K 2,_,_\n"
     "503: items/K 1,_,_ > 1,y,1; -nothing/0; nofull/0 > 1,z,1\n",
     {502, 503},
     0,
     "cannot nofull d 502 x3\ncannot items f 503 x1\ncannot nothing n 503 x1\n"},
    /* changes by other transactions: between two of the set, interleaved;
     * an INSERT of the key (key reuse) and a TRUNCATE are touches; several
     * changes of one transaction count once; none before the set */
    {"later changes",
     "501: +items 1,a,1; +items 2,b,2; +items 3,c,3\n"
     "502: items 1,a,1 > 1,b,1; -items 2,b,2; items 3,c,3 > 3,C,3\n"
     "503: items 1,b,1 > 1,c,1; items 1,c,1 > 1,d,1; +items 2,again,2\n"
     "504: items 1,d,1 > 1,e,1\n505: !items\n",
     {502, 504},
     4,
     "UPDATE items (1,a,1) > (1,e,1) interleaved later 503U 505T\n"
     "INSERT items (2,b,2) > - later 503I 505T\nUPDATE items (3,c,3) > (3,C,3) later 505T\n"},
    /* a logical message carries no row */
    {"a message", "502: #app; +items 1,a,1\n", {502}, 1, "DELETE items - > (1,a,1)\n"},
};

START_TEST(plans_of_journals)
{
    const plan_case *c = &cases[_i];
    size_t n = 0;
    while (n < 3 && c->xids[n])
        n++;
    uint64_t changes =
        expect_plan(c->what, c->script, &(tm_undo_select){.xids = c->xids, .nxids = n}, c->plan);
    ck_assert_msg(changes == c->changes, "%s: %llu changes", c->what, (unsigned long long)changes);
}
END_TEST

/* The plan of `three` for xids: its transactions, the changes folded and
 * the order of the statements. */
START_TEST(transactions_and_statement_order)
{
    char *dir = journal(three);
    tm_undo_plan p;
    tmt_undo_plan(&p, dir, TMT_XIDS(502));
    ck_assert(p.ntx == 1 && p.tx[0].xid == 502 && p.tx[0].commit_lsn == 1200);
    ck_assert_int_eq(p.tx[0].commit_time, tmt_undo_time(502));
    ck_assert_uint_eq(p.changes, 3);
    ck_assert_int_eq(p.e[2]->later[0].time, tmt_undo_time(503));
    const tm_undo_entry **es;
    ck_assert_int_eq(tm_undo_order(&p, &es), 3); /* DELETEs, UPDATEs, INSERTs */
    ck_assert(es[0] == p.e[2] && es[1] == p.e[0] && es[2] == p.e[1]);
    free(es);
    tm_undo_plan_free(&p);
    tmt_undo_plan(&p, dir, TMT_XIDS(502, 501));
    ck_assert(p.ntx == 2 && p.tx[0].xid == 501 && p.tx[1].xid == 502); /* commit order */
    ck_assert_uint_eq(p.changes, 5);
    ck_assert(p.e[0]->first_xid == 501 && p.e[0]->last_xid == 502);
    ck_assert_uint_lt(p.e[0]->first_seq, p.e[0]->last_seq);
    ck_assert_int_eq(tm_undo_order(&p, &es), 2); /* newest first, nothing for row 2 */
    ck_assert(es[0] == p.e[2] && es[1] == p.e[0]);
    free(es);
    tm_undo_plan_free(&p);
    tmt_tempdir_remove(dir);
}
END_TEST

/* Key reuse: a later INSERT of a deleted row's key. */
START_TEST(key_reuse_is_seen)
{
    char *dir = journal("501: +items 1,a,1; +items 2,b,2\n502: -items 1,a,1; -items 2,b,2\n"
                        "503: +items 2,again,2\n");
    tm_undo_plan p;
    tmt_undo_plan(&p, dir, TMT_XIDS(502));
    ck_assert(!tm_undo_entry_reused(p.e[0]) && tm_undo_entry_reused(p.e[1]));
    ck_assert(!p.e[1]->interleaved);
    tm_undo_plan_free(&p);
    tmt_tempdir_remove(dir);
}
END_TEST

/* The xids of the transactions committed in [from, to], "502,503". */
static void expect_window(const char *dir, int64_t from, int64_t to, const char *want)
{
    tm_undo_plan p;
    tmt_undo_plan(&p, dir, &(tm_undo_select){.by_time = true, .from = from, .to = to});
    char got[64] = "";
    for (size_t i = 0; i < p.ntx; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%u", i ? "," : "", p.tx[i].xid);
    ck_assert_msg(!strcmp(got, want), "window: %s, want %s", got, want);
    tm_undo_plan_free(&p);
}

/* --from and --to: commit times, both ends inclusive; never a snapshot. */
START_TEST(transactions_by_commit_time)
{
    char *dir = journal("500s: !items; +items 9,s,9\n"
                        "501: +items 1,a,1\n502: +items 2,b,2\n503: +items 3,c,3\n");
    expect_window(dir, tmt_undo_time(502), tmt_undo_time(503), "502,503");
    expect_window(dir, tmt_undo_time(502) + 1, tmt_undo_time(503), "503");
    expect_window(dir, tmt_undo_time(501), tmt_undo_time(502) - 1, "501");
    expect_window(dir, tmt_undo_time(504), tmt_undo_time(600), "");
    expect_window(dir, 0, tmt_undo_time(500), "");
    tmt_tempdir_remove(dir);
}
END_TEST

/* --table: only the changes of the tables named; the others are not even
 * followed. */
START_TEST(only_the_tables_named)
{
    char *dir = journal("502: +items 1,a,1; +bag x,1; +bag y,2\n");
    tm_qualname bag = {"public", "bag"};
    tm_undo_plan p;
    tm_undo_select sel = {.xids = (uint32_t[]){502}, .nxids = 1, .tables = &bag, .ntables = 1};
    tmt_undo_plan(&p, dir, &sel);
    expect(&p, "--table bag", "DELETE bag - > (x,1)\nDELETE bag - > (y,2)\n");
    for (size_t i = 0; i < tm_state_ntables(p.state); i++) {
        const tm_table *t = tm_state_table(p.state, i);
        ck_assert_msg(t->selected == (t->oid == BAG), "table %u", t->oid);
    }
    tm_undo_plan_free(&p);
    tmt_tempdir_remove(dir);
}
END_TEST

/* The plan of xid 502 of `three` under --where expr. */
static void expect_where(const char *expr, const char *want)
{
    tm_error err;
    tm_where *w = tm_where_parse(expr, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    expect_plan(expr, three, &(tm_undo_select){.xids = (uint32_t[]){502}, .nxids = 1, .where = w},
                want);
    tm_where_free(w);
}

/* --where keeps a change when its old or its new row matches. */
START_TEST(where_matches_old_or_new_row)
{
    expect_where("n >= 2", "INSERT items (2,b,2) > -\nDELETE items - > (3,c,3) later 503U\n");
    expect_where("v = 'z'", "UPDATE items (1,a,1) > (1,z,1)\n"); /* the new row */
    expect_where("v = 'a'", "UPDATE items (1,a,1) > (1,z,1)\n"); /* the old row */
    expect_where("v = 'q'", "");
    tm_error err;
    tm_where *w = tm_where_parse("nosuch = 1", &err);
    char *dir = journal(three);
    char *msg = tmt_undo_plan_error(
        dir, &(tm_undo_select){.xids = (uint32_t[]){502}, .nxids = 1, .where = w});
    ck_assert_msg(strstr(msg, "--where on public.items") && strstr(msg, "nosuch"), "%s", msg);
    free(msg);
    tm_where_free(w);
    tmt_tempdir_remove(dir);
}
END_TEST

/* A TRUNCATE is undone row by row: every row the table held then, a
 * repeated row as often as it was there; --where picks among them. */
START_TEST(truncate_expands_into_its_rows)
{
    static const char script[] = "501: +items 1,a,1; +items 2,_,2; +bag a,1; +bag a,1\n"
                                 "502: !items; !bag\n";
    char *dir = journal(script);
    tm_undo_plan p;
    tmt_undo_plan(&p, dir, TMT_XIDS(502));
    ck_assert_uint_eq(p.changes, 4);
    char *got = tmt_undo_plan_text(&p);
    ck_assert_msg(strstr(got, "INSERT items (1,a,1) > -\n") &&
                      strstr(got, "INSERT items (2,_,2) > -\n") &&
                      strstr(got, "INSERT bag (a,1) > -\nINSERT bag (a,1) > -\n"),
                  "%s", got);
    free(got);
    tm_undo_plan_free(&p);
    tmt_tempdir_remove(dir);
    tm_error err;
    tm_where *w = tm_where_parse("n = 2", &err);
    expect_plan("--where n = 2", script,
                &(tm_undo_select){.xids = (uint32_t[]){502}, .nxids = 1, .where = w},
                "INSERT items (2,_,2) > -\n");
    tm_where_free(w);
}
END_TEST

/* The error of planning the transaction of script. */
static char *plan_error(const char *script)
{
    char *dir = journal(script);
    char *msg = tmt_undo_plan_error(dir, TMT_XIDS(502));
    tmt_tempdir_remove(dir);
    return msg;
}

/* A change of an unrecorded schema version, or a row narrower than its
 * schema, in the set: the journal is damaged, no plan. */
START_TEST(damaged_journals_are_refused)
{
    char *msg = plan_error("502: +items@7 1,a,1\n");
    ck_assert_msg(strstr(msg, "unrecorded schema version"), "%s", msg);
    free(msg);
    msg = plan_error("502: +items 1,a\n");
    ck_assert_msg(strstr(msg, "public.items") && strstr(msg, "does not match its schema"), "%s",
                  msg);
    free(msg);
    msg = plan_error("502: +items 1,a,1\n503: +items 2,b\n"); /* after the set, outside it */
    ck_assert_msg(strstr(msg, "does not match its schema"), "%s", msg);
    free(msg);
    msg = tmt_undo_plan_error("/nonexistent/journal", TMT_XIDS(502));
    ck_assert_msg(strstr(msg, "/nonexistent/journal"), "%s", msg);
    free(msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("undo_plan");
    tcase_add_loop_test(
        tm_check_case(s, "plan", 0,
                      TM_TESTS(transactions_and_statement_order, key_reuse_is_seen,
                               transactions_by_commit_time, only_the_tables_named,
                               where_matches_old_or_new_row, truncate_expands_into_its_rows,
                               damaged_journals_are_refused)),
        plans_of_journals, 0, sizeof cases / sizeof *cases);
    return tm_check_run(s);
}
