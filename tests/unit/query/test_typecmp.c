/* tm_typecmp against PostgreSQL's own order: tests/data/typecmp_order.tsv
 * holds, per type, literals, PostgreSQL 15's text output of each and its
 * rank in ORDER BY (see typecmp_order.sql for how it was made). Every pair
 * of those strings must compare as their ranks do. Plus class lookup,
 * validity, and properties PostgreSQL cannot be asked about (malformed
 * values, arbitrary lengths). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/tm_time.h"
#include "replay/query/typecmp.h"
#include "tests/harness/tm_check.h"

#define MAXCASES 512

typedef struct tcase_row {
    char typ[32];
    char s[2][128]; /* input, output */
    int rank;
} tcase_row;

static tcase_row rows[MAXCASES];
static int nrows;

/* COPY text format field: backslash escapes, NUL-terminated in place. */
static void unescape(char *f)
{
    char *o = f;
    for (char *p = f; *p; p++) {
        if (*p != '\\') {
            *o++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 't':
            *o++ = '\t';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        default:
            *o++ = *p;
        }
    }
    *o = '\0';
}

static void load(void)
{
    if (nrows)
        return;
    FILE *f = fopen(TM_SOURCE_DIR "/tests/data/typecmp_order.tsv", "r");
    ck_assert_msg(f != NULL, "cannot open typecmp_order.tsv");
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *fields[4];
        char *p = line;
        for (int i = 0; i < 4; i++) {
            fields[i] = p;
            p = strchr(p, '\t');
            if (i < 3) {
                ck_assert_ptr_nonnull(p);
                *p++ = '\0';
            }
        }
        ck_assert_int_lt(nrows, MAXCASES);
        tcase_row *r = &rows[nrows++];
        snprintf(r->typ, sizeof r->typ, "%s", fields[0]);
        unescape(fields[1]);
        unescape(fields[2]);
        snprintf(r->s[0], sizeof r->s[0], "%s", fields[1]);
        snprintf(r->s[1], sizeof r->s[1], "%s", fields[2]);
        r->rank = atoi(fields[3]);
    }
    fclose(f);
    ck_assert_int_gt(nrows, 150);
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

static int cmp(tm_tclass c, const char *a, const char *b)
{
    return sign(tm_typecmp(c, a, strlen(a), b, strlen(b)));
}

static void check_type(const char *typ, tm_tclass want)
{
    load();
    tm_tclass c = tm_type_class(0, typ);
    ck_assert_int_eq(c, want);
    int n = 0;
    for (int i = 0; i < nrows; i++) {
        if (strcmp(rows[i].typ, typ))
            continue;
        n++;
        for (int j = 0; j < nrows; j++) {
            if (strcmp(rows[j].typ, typ))
                continue;
            int expect = sign(rows[i].rank - rows[j].rank);
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    const char *x = rows[i].s[a], *y = rows[j].s[b];
                    ck_assert_msg(tm_type_valid(c, x, strlen(x)), "%s: '%s' invalid", typ, x);
                    ck_assert_msg(cmp(c, x, y) == expect, "%s: cmp('%s', '%s') = %d, want %d", typ,
                                  x, y, cmp(c, x, y), expect);
                }
        }
    }
    ck_assert_int_gt(n, 3);
}

START_TEST(pg_order_int)
{
    check_type("int8", TM_TC_INT);
    check_type("int4", TM_TC_INT);
}
END_TEST

START_TEST(pg_order_numeric)
{
    check_type("numeric", TM_TC_NUMERIC);
}
END_TEST

START_TEST(pg_order_float)
{
    check_type("float8", TM_TC_FLOAT8);
    check_type("float4", TM_TC_FLOAT4);
}
END_TEST

START_TEST(pg_order_bool)
{
    check_type("bool", TM_TC_BOOL);
}
END_TEST

START_TEST(pg_order_datetime)
{
    check_type("date", TM_TC_DATE);
    check_type("timestamp", TM_TC_TIMESTAMP);
    check_type("timestamptz", TM_TC_TIMESTAMPTZ);
    check_type("time", TM_TC_TIME);
}
END_TEST

START_TEST(pg_order_interval)
{
    check_type("interval", TM_TC_INTERVAL);
}
END_TEST

START_TEST(pg_order_uuid)
{
    check_type("uuid", TM_TC_UUID);
}
END_TEST

START_TEST(pg_order_text)
{
    check_type("text", TM_TC_TEXT);
    check_type("bpchar", TM_TC_BPCHAR);
}
END_TEST

START_TEST(classes)
{
    ck_assert_int_eq(tm_type_class(23, NULL), TM_TC_INT);
    ck_assert_int_eq(tm_type_class(20, "whatever"), TM_TC_INT); /* the oid wins */
    ck_assert_int_eq(tm_type_class(1700, NULL), TM_TC_NUMERIC);
    ck_assert_int_eq(tm_type_class(1184, NULL), TM_TC_TIMESTAMPTZ);
    ck_assert_int_eq(tm_type_class(3802, NULL), TM_TC_JSONB);
    ck_assert_int_eq(tm_type_class(114, NULL), TM_TC_JSON);
    ck_assert_int_eq(tm_type_class(2950, NULL), TM_TC_UUID);
    ck_assert_int_eq(tm_type_class(1042, NULL), TM_TC_BPCHAR);
    ck_assert_int_eq(tm_type_class(16, NULL), TM_TC_BOOL);
    ck_assert_int_eq(tm_type_class(700, NULL), TM_TC_FLOAT4);
    ck_assert_int_eq(tm_type_class(701, NULL), TM_TC_FLOAT8);
    ck_assert_int_eq(tm_type_class(1007, NULL), TM_TC_TEXT); /* int4[] */
    ck_assert_int_eq(tm_type_class(99999, NULL), TM_TC_TEXT);
    /* format_type() names, for oids we do not know. */
    ck_assert_int_eq(tm_type_class(99999, "character varying(40)"), TM_TC_TEXT);
    ck_assert_int_eq(tm_type_class(99999, "numeric(10,2)"), TM_TC_NUMERIC);
    ck_assert_int_eq(tm_type_class(99999, "timestamp(3) with time zone"), TM_TC_TIMESTAMPTZ);
    ck_assert_int_eq(tm_type_class(99999, "Timestamp  Without Time Zone"), TM_TC_TIMESTAMP);
    ck_assert_int_eq(tm_type_class(99999, "pg_catalog.bigint"), TM_TC_INT);
    ck_assert_int_eq(tm_type_class(99999, "character(5)"), TM_TC_BPCHAR);
    ck_assert_int_eq(tm_type_class(99999, "double precision"), TM_TC_FLOAT8);
    ck_assert_int_eq(tm_type_class(99999, "integer[]"), TM_TC_TEXT);
    ck_assert_int_eq(tm_type_class(99999, "my_domain"), TM_TC_TEXT);
    ck_assert_int_eq(tm_type_class(99999, ""), TM_TC_TEXT);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(tm_type_class(99999, longname), TM_TC_TEXT);
    ck_assert_str_eq(tm_tclass_name(TM_TC_TIMESTAMPTZ), "timestamp with time zone");
    ck_assert_str_eq(tm_tclass_name(TM_TC_INT), "integer");
}
END_TEST

START_TEST(long_numbers)
{
    /* Beyond any machine integer: still exact. */
    ck_assert_int_eq(
        cmp(TM_TC_INT, "123456789012345678901234567890", "123456789012345678901234567891"), -1);
    ck_assert_int_eq(cmp(TM_TC_INT, "-123456789012345678901234567890", "-99"), -1);
    ck_assert_int_eq(
        cmp(TM_TC_INT, "100000000000000000000000000000000", "99999999999999999999999999999999"), 1);
    ck_assert_int_eq(cmp(TM_TC_NUMERIC, "1.000000000000000000000000000000000001", "1"), 1);
    ck_assert_int_eq(cmp(TM_TC_NUMERIC, "1.000000000000000000000000000000000000", "1"), 0);
    ck_assert_int_eq(cmp(TM_TC_NUMERIC, "-0.0000000000000000000000000000001", "0"), -1);
    ck_assert_int_eq(cmp(TM_TC_NUMERIC, "1e999999999999999999999", "1e999999999999999999998"), 0);
    ck_assert_int_eq(cmp(TM_TC_NUMERIC, "1e-5", "0.00001"), 0);
    ck_assert_int_eq(cmp(TM_TC_NUMERIC, "12.5e1", "125"), 0);
    ck_assert_int_eq(cmp(TM_TC_NUMERIC, ".5", "0.5"), 0);
    ck_assert_int_eq(cmp(TM_TC_NUMERIC, "5.", "5"), 0);
    /* Numeric vs text: '10' > '9' as numbers but not as text. */
    ck_assert_int_eq(cmp(TM_TC_INT, "10", "9"), 1);
    ck_assert_int_eq(cmp(TM_TC_TEXT, "10", "9"), -1);
    ck_assert_int_eq(cmp(TM_TC_FLOAT8, "10", "9"), 1);
    ck_assert_int_eq(cmp(TM_TC_FLOAT8, "1e400", "1"), 1); /* out of range: malformed, last */
    ck_assert(!tm_type_valid(TM_TC_FLOAT8, "1e400", 5));
    ck_assert(tm_type_valid(TM_TC_FLOAT4, "1e30", 4));
    ck_assert(!tm_type_valid(TM_TC_FLOAT4, "1e39", 4));
}
END_TEST

START_TEST(validity)
{
    struct {
        tm_tclass c;
        const char *s;
    } bad[] = {
        {TM_TC_INT, ""},
        {TM_TC_INT, "abc"},
        {TM_TC_INT, "1 2"},
        {TM_TC_INT, "--1"},
        {TM_TC_INT, "1e"},
        {TM_TC_INT, "."},
        {TM_TC_INT, "0x10"},
        {TM_TC_NUMERIC, "1.2.3"},
        {TM_TC_NUMERIC, "NaNa"},
        {TM_TC_FLOAT8, "1,5"},
        {TM_TC_BOOL, "maybe"},
        {TM_TC_BOOL, ""},
        {TM_TC_BOOL, "o"},
        {TM_TC_BOOL, "truee"},
        {TM_TC_DATE, "2026-02-30"},
        {TM_TC_DATE, "2026-13-01"},
        {TM_TC_DATE, "0000-01-01"},
        {TM_TC_DATE, "22-11-2026"},
        {TM_TC_TIMESTAMP, "2026-11-22 25:00"},
        {TM_TC_TIMESTAMP, "2026-11-22 14:03:12.1234567"},
        {TM_TC_TIMESTAMP, "2026-11-22 junk"},
        {TM_TC_TIMESTAMPTZ, "2026-11-22 14:00+16"},
        {TM_TC_TIMESTAMPTZ, "yesterday"},
        {TM_TC_TIME, "25:00"},
        {TM_TC_TIME, "12"},
        {TM_TC_INTERVAL, "1 fortnight"},
        {TM_TC_INTERVAL, ""},
        {TM_TC_INTERVAL, "day"},
        {TM_TC_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"},
        {TM_TC_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111"},
        {TM_TC_UUID, "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11"},
        {TM_TC_UUID, "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        {TM_TC_UUID, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        {TM_TC_UUID, "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!tm_type_valid(bad[i].c, bad[i].s, strlen(bad[i].s)), "%s accepted '%s'",
                      tm_tclass_name(bad[i].c), bad[i].s);
    ck_assert(tm_type_valid(TM_TC_TEXT, "anything at all", 15));
    ck_assert(tm_type_valid(TM_TC_BOOL, " Yes ", 5));
}
END_TEST

/* Malformed values sort after well-formed ones and among themselves
 * bytewise, so sorting stays consistent (antisymmetric and transitive). */
START_TEST(total_order)
{
    const char *vals[] = {"1", "-1", "abc", "", "1e5", "NaN", "Infinity", "zz", "12x", "0", " 7 "};
    size_t n = sizeof vals / sizeof vals[0];
    tm_tclass classes[] = {TM_TC_INT,  TM_TC_NUMERIC,  TM_TC_FLOAT8, TM_TC_BOOL,   TM_TC_DATE,
                           TM_TC_UUID, TM_TC_INTERVAL, TM_TC_TIME,   TM_TC_BPCHAR, TM_TC_TEXT};
    for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++) {
        tm_tclass c = classes[k];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                int ij = cmp(c, vals[i], vals[j]);
                ck_assert_int_eq(ij, -cmp(c, vals[j], vals[i]));
                for (size_t l = 0; l < n; l++)
                    if (ij <= 0 && cmp(c, vals[j], vals[l]) <= 0)
                        ck_assert_int_le(cmp(c, vals[i], vals[l]), 0);
            }
    }
    ck_assert_int_eq(cmp(TM_TC_INT, "abc", "99999999"), 1);
    ck_assert_int_eq(cmp(TM_TC_INT, "abc", "abd"), -1);
}
END_TEST

/* The canonical-form shortcuts agree with the values' real order: random
 * instants printed as PostgreSQL prints them (tm_time_format) compare as
 * the instants, random integers as the integers, including forms that must
 * leave the shortcut (BC, 5-digit years, trailing zeros, long numbers). */
START_TEST(shortcuts_agree)
{
    uint64_t x = 0x853C49E6748FEA9Bull;
    char a[TM_TIME_BUFLEN], b[TM_TIME_BUFLEN], ta[48], tb[48];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t s = (int64_t)(x >> 1) % INT64_C(100000000000000000); /* +-3000 years */
        int64_t t = i % 3 ? s + (int64_t)(x % 2000001) - 1000000 : -s;
        if (i % 5 == 0)
            t = s / 1000000 * 1000000; /* whole seconds */
        tm_time_format(s, a);
        tm_time_format(t, b);
        int want = (s > t) - (s < t);
        ck_assert_msg(cmp(TM_TC_TIMESTAMPTZ, a, b) == want, "%s vs %s", a, b);
        /* The same as timestamp without time zone, and as dates. */
        snprintf(ta, sizeof ta, "%.*s%s", (int)(strstr(a, "+00") - a), a,
                 strstr(a, " BC") ? " BC" : "");
        snprintf(tb, sizeof tb, "%.*s%s", (int)(strstr(b, "+00") - b), b,
                 strstr(b, " BC") ? " BC" : "");
        ck_assert_msg(cmp(TM_TC_TIMESTAMP, ta, tb) == want, "%s vs %s", ta, tb);
        int64_t da = s / INT64_C(86400000000) - (s % INT64_C(86400000000) < 0);
        int64_t db = t / INT64_C(86400000000) - (t % INT64_C(86400000000) < 0);
        snprintf(ta, sizeof ta, "%.10s%s", a, strstr(a, " BC") ? " BC" : "");
        snprintf(tb, sizeof tb, "%.10s%s", b, strstr(b, " BC") ? " BC" : "");
        ck_assert_msg(cmp(TM_TC_DATE, ta, tb) == (da > db) - (da < db), "%s vs %s", ta, tb);

        int64_t p = (int64_t)x, q = i % 2 ? p + (int64_t)(x % 3) - 1 : (int64_t)(x * 31);
        snprintf(ta, sizeof ta, "%lld", (long long)p);
        snprintf(tb, sizeof tb, "%lld", (long long)q);
        ck_assert_msg(cmp(TM_TC_INT, ta, tb) == (p > q) - (p < q), "%s vs %s", ta, tb);
    }
    /* Shapes that must not take the shortcut. */
    ck_assert_int_eq(cmp(TM_TC_TIMESTAMP, "2026-11-22 12:00:00.50", "2026-11-22 12:00:00.5"), 0);
    ck_assert_int_eq(cmp(TM_TC_TIMESTAMP, "2026-11-22 24:00:00", "2026-11-23 00:00:00"), 0);
    ck_assert_int_eq(cmp(TM_TC_TIMESTAMP, "2026-11-22 23:59:60", "2026-11-23 00:00:00"), 0);
    ck_assert_int_eq(cmp(TM_TC_TIMESTAMPTZ, "2026-11-22 12:00:00+01", "2026-11-22 11:00:00+00"), 0);
    ck_assert_int_eq(cmp(TM_TC_DATE, "2026-02-30", "2026-03-01"), 1); /* malformed: last */
    ck_assert_int_eq(cmp(TM_TC_DATE, "2026-02-30", "9999-12-31"), 1);
    ck_assert_int_eq(cmp(TM_TC_DATE, "0000-01-01", "9999-12-31"), 1);
    ck_assert_int_eq(cmp(TM_TC_INT, "9223372036854775807", "9223372036854775806"), 1);
    ck_assert_int_eq(cmp(TM_TC_INT, "-9223372036854775808", "-9223372036854775807"), -1);
    ck_assert_int_eq(cmp(TM_TC_INT, "-", "0"), 1); /* malformed */
    ck_assert_int_eq(cmp(TM_TC_INT, "-0", "0"), 0);
}
END_TEST

int main(void)
{
    return tm_check_main("typecmp", "core", 0,
                         TM_TESTS(pg_order_int, pg_order_numeric, pg_order_float, pg_order_bool,
                                  pg_order_datetime, pg_order_interval, pg_order_uuid,
                                  pg_order_text, classes, long_numbers, validity, total_order,
                                  shortcuts_agree));
}
