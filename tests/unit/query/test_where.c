/* --where: syntax errors with positions, binding errors naming columns and
 * types, SQL NULL semantics, typed comparisons, JSON paths, quoting and
 * injection-looking literals, and the JSON scanner underneath. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/query/jsonscan.h"
#include "tests/harness/support_data.h"
#include "tests/harness/where_table.h"
#include "replay/query/where.h"
#include "tests/harness/tm_check.h"

/* A row from C strings; NULL pointers are SQL NULLs. */
typedef struct row {
    tm_value v[NCOLS];
} row;

static row make_row(const char *const s[NCOLS])
{
    row r;
    for (int i = 0; i < NCOLS; i++) {
        r.v[i].kind = s[i] ? 't' : 'n';
        r.v[i].ptr = s[i] ? s[i] : NULL;
        r.v[i].len = s[i] ? (uint32_t)strlen(s[i]) : 0;
    }
    return r;
}

/* Parses, binds and matches expr against r; fails the test on errors. */
static bool match_tz(const char *expr, const row *r, const char *tz)
{
    tm_error err = {0};
    tm_where *w = tm_where_parse(expr, &err);
    ck_assert_msg(w != NULL, "parse '%s': %s", expr, err.msg);
    tm_where_bound *b = tm_where_bind(w, tmt_where_cols, NCOLS, tz, &err);
    ck_assert_msg(b != NULL, "bind '%s': %s", expr, err.msg);
    tm_where_free(w); /* the bound form must not depend on it */
    bool m = tm_where_match(b, r->v);
    tm_where_bound_free(b);
    return m;
}

static bool match(const char *expr, const row *r)
{
    return match_tz(expr, r, NULL);
}

#define YES(expr) ck_assert_msg(match(expr, &r), "expected a match: %s", expr)
#define NO(expr) ck_assert_msg(!match(expr, &r), "expected no match: %s", expr)

static void parse_fails(const char *expr, const char *want)
{
    tm_error err = {0};
    tm_where *w = tm_where_parse(expr, &err);
    ck_assert_msg(w == NULL, "parsed '%s'", expr);
    ck_assert_msg(strstr(err.msg, want) != NULL, "'%s': message '%s' lacks '%s'", expr, err.msg,
                  want);
}

static void bind_fails(const char *expr, const char *want)
{
    tm_error err = {0};
    tm_where *w = tm_where_parse(expr, &err);
    ck_assert_msg(w != NULL, "parse '%s': %s", expr, err.msg);
    tm_where_bound *b = tm_where_bind(w, tmt_where_cols, NCOLS, NULL, &err);
    tm_where_free(w);
    ck_assert_msg(b == NULL, "bound '%s'", expr);
    ck_assert_msg(strstr(err.msg, want) != NULL, "'%s': message '%s' lacks '%s'", expr, err.msg,
                  want);
}

START_TEST(syntax_errors)
{
    parse_fails("", "--where is empty");
    parse_fails("   ", "--where is empty");
    parse_fails("id =", "expected a literal");
    parse_fails("id =", "at the end of --where");
    parse_fails("id == 1", "expected a literal (a 'quoted string', a number, true or false) at "
                           "character 5 of --where");
    parse_fails("id = 1 OR id = 2", "OR is not supported");
    parse_fails("id = 1 OR id = 2", "character 8");
    parse_fails("email = 'abc", "unterminated quoted string at character 9");
    parse_fails("\"email = 1", "unterminated quoted name at character 1");
    parse_fails("id = NULL", "use IS NULL");
    parse_fails("id IS 5", "expected NULL after IS");
    parse_fails("id IS NOT 5", "expected NULL after IS");
    parse_fails("(id = 1)", "parentheses are not supported");
    parse_fails("NOT id = 1", "NOT is only supported");
    parse_fails("id NOT = 1", "expected IN after NOT");
    parse_fails("id = 1 id = 2", "expected AND or the end of the expression at character 8");
    parse_fails("id = 1 AND", "expected a column name at the end");
    parse_fails("id = 1 AND AND id = 2", "expected a column name at character 12");
    parse_fails("\"\" = 1", "zero-length quoted name");
    parse_fails("id ! 1", "unexpected '!'");
    parse_fails("id = E'x'", "E'...' strings are not supported");
    parse_fails("id = 1x", "malformed number");
    parse_fails("id = 1.2.3", "malformed number");
    parse_fails("id 1", "expected an operator");
    parse_fails("prefs->'a' = 'x'", "end the path with ->>");
    parse_fails("prefs->'a' IN ('x')", "end the JSON path with ->>");
    parse_fails("prefs->>'a'->>'b' = 'x'", "must be the last step");
    parse_fails("prefs->>1.5 = 'x'", "must be an integer");
    parse_fails("prefs->>+1 = 'x'", "must be an integer");
    parse_fails("prefs->>99999999999999999999 = 'x'", "must be an integer");
    parse_fails("prefs->>b = 'x'", "expected a 'key'");
    parse_fails("id IN 1", "expected '(' after IN");
    parse_fails("id IN ()", "expected a literal");
    parse_fails("id IN (1 2)", "expected ',' or ')'");
    parse_fails("id IN (1,", "expected a literal");
    parse_fails("id = 1 \x01", "unexpected control character 0x01");
    parse_fails("id = 1; DROP TABLE users", "unexpected character ';' at character 7");
    parse_fails("id = 1 -- comment", "unexpected character '-' at character 8");
    /* Positions count characters, not bytes. */
    parse_fails("email = 'é' AND x ~ 1", "unexpected character '~' at character 19");
    parse_fails("email = 'é' AND x ~ 1", "(near \"~ 1\")");
    /* Long context is cut. */
    parse_fails("id = 1 AND x ~ aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "...\")");
    tm_error err;
    ck_assert_ptr_null(tm_where_parse(NULL, &err));
}
END_TEST

START_TEST(bind_errors)
{
    tm_error err;
    bind_fails("nope = 1", "column nope at character 1 of --where does not exist");
    bind_fails("nope = 1", "the table's columns are: id, email, \"Weird \"\"Name\"\"\", score");
    bind_fails("nope = 1", "uid, \"Nick\"");
    bind_fails("nick = 'x'", "did you mean \"Nick\"?");
    bind_fails("NICK = 'x'", "did you mean \"Nick\"?");
    bind_fails("id = 1 AND \"ID\" = 1", "column \"ID\" at character 12");
    bind_fails("email = 10", "10 at character 9 of --where is a number but email is text");
    bind_fails("email = 10", "('10')");
    bind_fails("id = 'abc'", "'abc' at character 6 of --where is not a valid integer value");
    bind_fails("id IN (1, 'x')", "'x' at character 11");
    bind_fails("id = true", "is a boolean but id is integer");
    bind_fails("active = 1", "is a number but active is boolean");
    bind_fails("active = 'maybe'", "not a valid boolean");
    bind_fails("email->>'a' = 'x'", "apply to json and jsonb columns, but email");
    bind_fails("prefs = '{}'", "prefs (character 1 of --where) is jsonb, which does not compare");
    bind_fails("raw < 'x'", "is json");
    bind_fails("prefs->>'n' = 5", "is a number but prefs is text");
    bind_fails("created > 'yesterday'", "not a valid timestamp for created");
    bind_fails("created > '2026-11-22 14:00:00.1234567'", "6 fractional digits");
    bind_fails("birthday = '2026-02-30'", "not a valid date value");
    bind_fails("uid = 'not-a-uuid'", "not a valid uuid");
    bind_fails("score > 'ten'", "not a valid numeric");
    bind_fails("ratio = 'x1'", "not a valid double precision");

    /* Long and many names are cut, never overflowing the message. */
    char quotes[400], names[120][12];
    memset(quotes, '"', sizeof quotes - 1);
    quotes[sizeof quotes - 1] = '\0';
    tm_coldesc many[121];
    for (int i = 0; i < 120; i++) {
        snprintf(names[i], sizeof names[i], "column_%d", i);
        many[i] = (tm_coldesc){names[i], 25, "text"};
    }
    many[120] = (tm_coldesc){quotes, 25, "text"};
    tm_where *lw = tm_where_parse("nope = 'x'", &err);
    ck_assert_ptr_null(tm_where_bind(lw, many, 121, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "column_0, column_1"));
    ck_assert_ptr_nonnull(strstr(err.msg, ", ..."));
    ck_assert_ptr_null(tm_where_bind(lw, many + 119, 2, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "column_119, \"\"\"\""));
    tm_where_free(lw);

    /* A table without columns. */
    tm_where *w = tm_where_parse("id = 1", &err);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_null(tm_where_bind(w, tmt_where_cols, 0, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "(none)"));
    tm_where_free(w);
}
END_TEST

START_TEST(numbers_vs_text)
{
    row r = make_row(tmt_where_row);
    YES("id = 10");
    YES("id = '10'");
    YES("id = ' 10 '");
    YES("id = 10.0");
    YES("id = 1e1");
    YES("id = 010");
    NO("id = 10.5");
    YES("id < 10.5");
    YES("id > 9"); /* numerically */
    YES("id > '9'");
    YES("id >= -11");
    YES("id <> 11");
    YES("id != 11");
    NO("id != 10");
    YES("id <= 10 AND id >= 10");
    YES("id < 100000000000000000000000000000");
    YES("id > -100000000000000000000000000000");
    /* The same digits as text compare bytewise: '10' < '9'. */
    row t = make_row((const char *const[NCOLS]){"1", "10"});
    ck_assert(match("email < '9'", &t));
    ck_assert(!match("email > '9'", &t));
    YES("score = 1.5");
    YES("score = '1.500'");
    YES("score > 1.499999999999999999999999");
    YES("score < 1.500000000000000000000001");
    YES("score > 1e-3");
    YES("ratio = 'Infinity'");
    YES("ratio > 1e308");
    YES("ratio < 'NaN'");
    YES("ratio IS NOT NULL");
}
END_TEST

START_TEST(null_semantics)
{
    const char *vals[NCOLS] = {0};
    row r = make_row(vals);
    YES("id IS NULL");
    YES("email IS NULL AND prefs IS NULL");
    NO("id IS NOT NULL");
    NO("id = 1");
    NO("id != 1");
    NO("id <> 1");
    NO("id < 1");
    NO("id >= 1");
    NO("id IN (1, 2)");
    NO("id NOT IN (1, 2)"); /* NULL NOT IN (...) is not true either */
    NO("prefs->>'theme' = 'dark'");
    NO("prefs->>'theme' != 'dark'");
    YES("prefs->>'theme' IS NULL");
    YES("prefs->'ui'->>'lang' IS NULL");
    /* Unresolved kinds count as NULL rather than being read. */
    r.v[C_ID].kind = 'u';
    r.v[C_ID].ptr = "10";
    r.v[C_ID].len = 2;
    YES("id IS NULL");
    NO("id = 10");
}
END_TEST

START_TEST(keywords_names_quotes)
{
    row r = make_row(tmt_where_row);
    YES("id = 10 and email is not null");
    YES("ID = 10 AnD Email IS NOT null");
    YES("  id=10   AND\temail<>'x'\n");
    YES("\"Weird \"\"Name\"\"\" = 'v'");
    YES("\"Nick\" = 'Bob'");
    YES("\"id\" = 10");
    YES("active = true");
    YES("active = TRUE");
    YES("active = 'yes'");
    YES("active != false");
    NO("active = 'f'");
    YES("active IN (true)");

    const char *v[NCOLS] = {"1",  "it's", NULL, NULL, NULL, NULL,          NULL,
                            NULL, NULL,   NULL, NULL, NULL, "x' OR 1=1 --"};
    r = make_row(v);
    YES("email = 'it''s'");
    NO("email = 'it'");
    NO("email = 'its'");
    YES("\"Nick\" = 'x'' OR 1=1 --'");
    NO("\"Nick\" = 'x'");

    /* SQL-looking text is a literal like any other. */
    const char *v2[NCOLS] = {"1",          "'; DROP TABLE users; --",
                             "\"quoted\"", NULL,
                             NULL,         NULL,
                             NULL,         NULL,
                             NULL,         NULL,
                             NULL,         NULL,
                             "back\\slash"};
    r = make_row(v2);
    YES("email = '''; DROP TABLE users; --'");
    YES("\"Weird \"\"Name\"\"\" = '\"quoted\"'");
    YES("\"Nick\" = 'back\\slash'"); /* backslashes are literal */
    NO("\"Nick\" = 'backslash'");

    /* Unicode in values and names. */
    const char *v3[NCOLS] = {"1", "héllo 日本 😀", NULL};
    r = make_row(v3);
    YES("email = 'héllo 日本 😀'");
    NO("email = 'hello 日本 😀'");
    YES("email > 'h'");
    YES("email < 'i'");
}
END_TEST

START_TEST(in_lists)
{
    row r = make_row(tmt_where_row);
    YES("id IN (10)");
    YES("id IN (1, 2, 10)");
    NO("id IN (1, 2, 3)");
    YES("id NOT IN (1, 2, 3)");
    NO("id NOT IN (1, 10)");
    YES("id IN ('10')");
    /* Long lists are sorted and searched: every position must work. */
    char expr[512];
    for (int at = 0; at < 20; at++) {
        for (int neg = 0; neg < 2; neg++) {
            int n = snprintf(expr, sizeof expr, "id %sIN (", neg ? "NOT " : "");
            for (int i = 0; i < 20; i++)
                n += snprintf(expr + n, sizeof expr - (size_t)n, "%s%d", i ? ", " : "",
                              i == at ? 10 : 1000 - i * 37);
            snprintf(expr + n, sizeof expr - (size_t)n, ")");
            ck_assert_msg(match(expr, &r) == !neg, "%s", expr);
        }
    }
    YES("id IN (99, 98, 97, 96, 95, 94, 93, 92, 91, 10.0)");
    NO("id IN (99, 98, 97, 96, 95, 94, 93, 92, 91, 9)");
    YES("id NOT IN (99, 98, 97, 96, 95, 94, 93, 92, 91, 9)");
    YES("email IN ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'alice@example.com')");
    YES("prefs->>'theme' IN ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'dark')");
    NO("prefs->>'theme' IN ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'Dark')");
}
END_TEST

START_TEST(typed_columns)
{
    row r = make_row(tmt_where_row);
    /* timestamptz: offsets and --tz are resolved before comparing. */
    YES("created = '2026-11-22 14:03:12+00'");
    YES("created = '2026-11-22 16:03:12+02'");
    YES("created = '2026-11-22T14:03:12Z'");
    YES("created > '2026-11-22'");
    YES("created < '2026-11-23'");
    YES("created < 'infinity'");
    YES("created > '2026-11-22 14:03:11.999999'");
    NO("created > '2026-11-22 14:03:12'");
    ck_assert(match_tz("created = '2026-11-22 15:03:12'", &r, "Europe/Paris"));
    ck_assert(!match_tz("created = '2026-11-22 14:03:12'", &r, "Europe/Paris"));
    ck_assert(match_tz("created = '2026-11-22 14:03:12Z'", &r, "Europe/Paris"));
    /* date */
    YES("birthday < '2000-01-01'");
    YES("birthday = '1990-5-17'");
    YES("birthday > '0100-01-01 BC'");
    /* character(n) ignores its padding */
    YES("code = 'ab'");
    YES("code = 'ab '");
    NO("code = 'abc'");
    /* uuid, any case or hyphenation */
    YES("uid = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'");
    YES("uid = 'a0eebc999c0b4ef8bb6d6bb9bd380a11'");
    YES("uid < 'b0000000-0000-0000-0000-000000000000'");
    /* varchar with a typmod is text */
    YES("\"Weird \"\"Name\"\"\" > 'u'");
}
END_TEST

START_TEST(json_paths)
{
    row r = make_row(tmt_where_row);
    YES("prefs->>'theme' = 'dark'");
    YES("prefs ->> 'theme' = 'dark'");
    NO("prefs->>'theme' = 'Dark'");
    YES("prefs->>'n' = '5'");
    YES("prefs->'ui'->>'lang' = 'fr'");
    YES("prefs->>'missing' IS NULL");
    YES("prefs->>'nul' IS NULL");    /* JSON null is SQL NULL through ->> */
    YES("prefs->'nul' IS NOT NULL"); /* but json 'null' through -> */
    YES("prefs->'missing' IS NULL");
    NO("prefs->>'nul' = 'null'");
    YES("prefs->>'esc' = 'a\"b\\c é'"); /* escapes decoded */
    YES("prefs->>'list' = '[\"x\", \"y\", {\"z\": 1}]'");
    YES("prefs->'list'->>1 = 'y'");
    YES("prefs->'list'->2->>'z' = '1'");
    YES("prefs->'list'->>3 IS NULL");
    YES("prefs->'list'->>-2 = 'y'");
    YES("prefs->'list'->-1->>'z' = '1'");
    YES("prefs->'list'->>-4 IS NULL");
    YES("prefs->'theme'->>0 = 'dark'"); /* jsonb: a scalar is a 1-element array */
    YES("prefs->'theme'->>-1 = 'dark'");
    YES("prefs->'theme'->>1 IS NULL");
    YES("raw->'s'->>0 IS NULL"); /* json: it is not */
    YES("prefs->>'obj' = '{\"k\": 1}'");
    YES("prefs->>'brace' = '}{'");
    YES("prefs->'ui'->'lang' IS NOT NULL");
    YES("prefs->'theme'->>'x' IS NULL"); /* not an object */
    YES("prefs->>'theme' > 'd' AND prefs->>'theme' < 'e'");
    /* json keeps duplicate keys; PostgreSQL's ->> takes the last. */
    YES("raw->>'a' = '2'");
    YES("raw->>'s' = 'x'");

    /* Malformed JSON text never crashes and reads as NULL. */
    const char *bad[] = {"",
                         "{",
                         "{\"a\"",
                         "{\"a\":",
                         "{\"a\": 1,",
                         "[",
                         "{\"a\" 1}",
                         "{a: 1}",
                         "\"str\"",
                         "{\"a\":\"x}",
                         "{\"a\":1,}",
                         "null",
                         "{\"a\": [1, {\"b\": }",
                         "{\"a\":}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *v[NCOLS] = {"1", NULL, NULL, NULL, NULL, NULL, NULL, NULL, bad[i]};
        row m = make_row(v);
        ck_assert_msg(!match("prefs->>'a' = '1'", &m), "matched in '%s'", bad[i]);
        ck_assert(match("prefs IS NOT NULL", &m));
    }
}
END_TEST

START_TEST(uses)
{
    tm_error err;
    tm_where *w = tm_where_parse("email = 'x' AND prefs->>'a' IS NULL", &err);
    ck_assert_ptr_nonnull(w);
    tm_where_bound *b = tm_where_bind(w, tmt_where_cols, NCOLS, NULL, &err);
    ck_assert_ptr_nonnull(b);
    ck_assert(tm_where_uses(b, C_EMAIL));
    ck_assert(tm_where_uses(b, C_PREFS));
    ck_assert(!tm_where_uses(b, C_ID));
    /* One parse binds to several tables with different layouts. */
    tm_coldesc other[] = {{"prefs", 3802, "jsonb"}, {"email", 25, "text"}};
    tm_where_bound *b2 = tm_where_bind(w, other, 2, NULL, &err);
    ck_assert_ptr_nonnull(b2);
    tm_value vals[2] = {{"{}", 2, 't'}, {"x", 1, 't'}};
    ck_assert(tm_where_match(b2, vals));
    vals[1].ptr = "y";
    ck_assert(!tm_where_match(b2, vals));
    tm_where_bound_free(b);
    tm_where_bound_free(b2);
    tm_where_free(w);
    tm_where_free(NULL);
    tm_where_bound_free(NULL);
}
END_TEST

/* The introspection that index lookups plan with. */
START_TEST(pins)
{
    tm_error err;
    tm_where *w = tm_where_parse("id = 42 AND \"Key\" IN ('a', 'it''s') AND prefs->>'k' = 'x' "
                                 "AND email > 'b' AND id NOT IN (1) AND email IS NULL",
                                 &err);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(tm_where_count(w), 6);
    const char *cols_seen[] = {"id", "Key", "prefs", "email", "id", "email"};
    bool pinned[] = {true, true, false, false, false, false};
    for (size_t i = 0; i < 6; i++) {
        size_t n;
        ck_assert_str_eq(tm_where_column(w, i), cols_seen[i]);
        ck_assert_int_eq(tm_where_pin(w, i, &n), pinned[i]);
    }
    size_t n;
    const char *v;
    size_t len;
    ck_assert(tm_where_pin(w, 0, &n));
    ck_assert_uint_eq(n, 1);
    tm_where_pin_value(w, 0, 0, &v, &len);
    ck_assert_str_eq(v, "42");
    ck_assert(tm_where_pin(w, 1, &n));
    ck_assert_uint_eq(n, 2);
    tm_where_pin_value(w, 1, 1, &v, &len);
    ck_assert_uint_eq(len, 4);
    ck_assert_str_eq(v, "it's");
    tm_where_free(w);
}
END_TEST

START_TEST(json_scanner)
{
    const char *s = "\"a\\ud83d\\ude00b\"";
    size_t n = strlen(s);
    ck_assert_int_eq(tm_json_strcmp(s + 1, s + n - 1,
                                    "a\xF0\x9F\x98\x80"
                                    "b",
                                    6),
                     0);
    char out[32];
    ck_assert_uint_eq(tm_json_unescape(s + 1, s + n - 1, out), 6);
    ck_assert(memcmp(out,
                     "a\xF0\x9F\x98\x80"
                     "b",
                     6) == 0);
    /* Lone surrogates read as U+FFFD; simple escapes. */
    const char *t = "\\ud800x\\n\\t\\/\\\\";
    ck_assert_int_eq(tm_json_strcmp(t, t + strlen(t), "\xEF\xBF\xBDx\n\t/\\", 8), 0);
    ck_assert_int_lt(tm_json_strcmp("a", "a" + 1, "ab", 2), 0);
    ck_assert_int_gt(tm_json_strcmp("ab", "ab" + 2, "a", 1), 0);
    ck_assert_int_lt(tm_json_strcmp("\\u0041", "\\u0041" + 6, "B", 1), 0);
    ck_assert_int_eq(tm_json_strcmp("\\u00e9", "\\u00e9" + 6, "é", 2), 0);
    ck_assert_int_eq(tm_json_strcmp("", "", "", 0), 0);
    /* Members iterate in order with raw value spans. */
    const char *obj = " { \"k\" : [1, \"]\"] , \"e\\\"q\": {\"x\": \"}\"}, \"z\": -1.5e3 } ";
    tm_json_iter it;
    const char *kp, *ke, *vp, *ve;
    ck_assert(tm_json_object_iter(&it, obj, obj + strlen(obj)));
    ck_assert(tm_json_object_next(&it, &kp, &ke, &vp, &ve));
    ck_assert_int_eq((int)(ve - vp), 8);
    ck_assert(tm_json_object_next(&it, &kp, &ke, &vp, &ve));
    ck_assert_int_eq(tm_json_strcmp(kp, ke, "e\"q", 3), 0);
    ck_assert(memcmp(vp, "{\"x\": \"}\"}", (size_t)(ve - vp)) == 0);
    ck_assert(tm_json_object_next(&it, &kp, &ke, &vp, &ve));
    ck_assert(memcmp(vp, "-1.5e3", 6) == 0 && ve - vp == 6);
    ck_assert(!tm_json_object_next(&it, &kp, &ke, &vp, &ve));
    ck_assert(!it.bad && it.done);
    ck_assert(!tm_json_object_next(&it, &kp, &ke, &vp, &ve));
}
END_TEST

/* The same predicate text run by PostgreSQL 15 over csv_values selects the
 * same rows (tests/data/where_expected.sql says how the ids were made). */
START_TEST(same_rows_as_postgres)
{
    const tm_coldesc vcols[8] = {
        {"id", 23, "integer"},  {"a,\"q\"", 25, "text"},        {"b c", 25, "text"},
        {"n", 1700, "numeric"}, {"f", 701, "double precision"}, {"bö", 16, "boolean"},
        {"j", 3802, "jsonb"},   {"new\nline", 25, "text"},
    };
    tm_test_rows data;
    tm_test_load_rows("csv_values.sql", 8, &data);
    char *tsv = tm_test_slurp("where_expected.tsv", NULL);
    int checked = 0;
    for (char *line = tsv; *line;) {
        char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        char *tab = strchr(line, '\t');
        ck_assert_ptr_nonnull(tab);
        *tab = '\0';
        tm_value pred, ids;
        tm_test_copy_field(line, &pred);
        tm_test_copy_field(tab + 1, &ids);
        ((char *)pred.ptr)[pred.len] = '\0';
        tm_error err;
        tm_where *w = tm_where_parse(pred.ptr, &err);
        ck_assert_msg(w != NULL, "parse %s: %s", pred.ptr, err.msg);
        tm_where_bound *b = tm_where_bind(w, vcols, 8, NULL, &err);
        ck_assert_msg(b != NULL, "bind %s: %s", pred.ptr, err.msg);
        char got[512] = "";
        size_t n = 0;
        for (size_t r = 0; r < data.nrows; r++) {
            const tm_value *row = &data.vals[r * 8];
            if (tm_where_match(b, row))
                n += (size_t)snprintf(got + n, sizeof got - n, "%s%.*s", n ? "," : "",
                                      (int)row[0].len, row[0].ptr);
        }
        ck_assert_msg(strlen(got) == ids.len && memcmp(got, ids.ptr, ids.len) == 0,
                      "%s: PostgreSQL selects [%.*s], we select [%s]", pred.ptr, (int)ids.len,
                      ids.ptr, got);
        tm_where_bound_free(b);
        tm_where_free(w);
        checked++;
        line = nl + 1;
    }
    ck_assert_int_ge(checked, 50);
    free(tsv);
    tm_test_free_rows(&data);
}
END_TEST

/* Random and mutated inputs: no crash, no leak, errors always explained. */
START_TEST(fuzz)
{
    const char *frags[] = {"id",  " = ",  "'x''y'", " AND ", "(",   ")",   ",",      "IN",
                           "NOT", " IS ", "NULL",   "->",    "->>", "'k'", "12.5e3", "\"Nick\"",
                           "'",   "\"",   "<>",     "!",     "-",   "e'",  "true",   "\xC3\xA9"};
    const char *valid[] = {"id = 10 AND email <> 'x''y'",
                           "prefs->'list'->>1 IN ('a', 'b') AND code IS NOT NULL",
                           "\"Weird \"\"Name\"\"\" NOT IN ('v', 'w') AND ratio >= -1.5e3",
                           "created > '2026-11-22 14:00+02' AND active = true",
                           "uid = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' AND score < 2"};
    size_t nvalid = sizeof valid / sizeof valid[0];
    uint64_t x = 88172645463325252ull;
    row r = make_row(tmt_where_row);
    int parsed = 0;
    for (int i = 0; i < 20000; i++) {
        char expr[256];
        size_t n = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (x % 2) {
            /* A valid expression with a byte or two replaced or cut. */
            n = (size_t)snprintf(expr, sizeof expr, "%s", valid[x % nvalid]);
            for (int j = 0; j < (int)(x >> 60) % 3; j++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t at = x % n;
                if (x & 0x100)
                    expr[at] = (char)(1 + (x >> 16) % 255);
                else
                    expr[n = at] = '\0';
                if (!n)
                    break;
            }
        } else {
            int k = 1 + (int)(x % 9);
            for (int j = 0; j < k; j++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                const char *f = frags[x % (sizeof frags / sizeof frags[0])];
                size_t fl = strlen(f);
                if (n + fl + 1 < sizeof expr) {
                    memcpy(expr + n, f, fl);
                    n += fl;
                }
                if (x % 7 == 0 && n + 2 < sizeof expr) /* a random byte */
                    expr[n++] = (char)(1 + (x >> 8) % 255);
            }
            expr[n] = '\0';
        }
        tm_error err = {0};
        tm_where *w = tm_where_parse(expr, &err);
        if (!w) {
            ck_assert_msg(err.msg[0] != '\0', "no message for '%s'", expr);
            continue;
        }
        parsed++;
        tm_where_bound *b = tm_where_bind(w, tmt_where_cols, NCOLS, NULL, &err);
        if (b) {
            (void)tm_where_match(b, r.v);
            tm_where_bound_free(b);
        } else {
            ck_assert(err.msg[0] != '\0');
        }
        tm_where_free(w);
    }
    ck_assert_int_gt(parsed, 1000);
}
END_TEST

int main(void)
{
    return tm_check_main("where", "core", 0,
                         TM_TESTS(syntax_errors, bind_errors, numbers_vs_text, null_semantics,
                                  keywords_names_quotes, in_lists, typed_columns, json_paths, uses,
                                  pins, same_rows_as_postgres, json_scanner, fuzz));
}
