/* Row order of replay's output for composite keys whose first column is not
 * an integer or text (numeric, date, boolean): ORDER BY compares the first
 * key fully before the second decides anything. The rows are written to the
 * journal in a scrambled order; the CSV must come out sorted. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/journal/journal.h"
#include "tests/harness/support_journal.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

/* A journal of one snapshot transaction holding rows (k1, k2, v) in the
 * given (scrambled) order. */
static char *journal_of(const char *first_type, uint32_t first_oid, const char *const rows[][2],
                        size_t n)
{
    char *dir = tmt_tempdir();
    tmt_jw j = {.time = 1700000000000000};
    tmt_jw_open(&j, dir, NULL);
    const tmt_col cols[] = {{"k1", first_oid, 1, false, first_type},
                            {"k2", 23, 2, false, NULL},
                            {"v", 25, 0, false, NULL}};
    tmt_jw_relation(j.w, 500, 1, 100, "t", 'f', cols, 3);
    tmt_jw_begin(&j, n + 1, true, j.time); /* commits at LSN 100 */
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, 500, 1, 0, NULL, 0, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        tm_value v[3] = {{rows[i][0], (uint32_t)strlen(rows[i][0]), TM_KIND_TEXT},
                         {rows[i][1], (uint32_t)strlen(rows[i][1]), TM_KIND_TEXT},
                         {"x", 1, TM_KIND_TEXT}};
        tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, 500, 1, 0, NULL, 0, v, 3);
    }
    tmt_jw_end(&j);
    tmt_jw_close(&j);
    return dir;
}

static void check_order(const char *first_type, uint32_t first_oid,
                        const char *const scrambled[][2], size_t n, const char *want)
{
    char *dir = journal_of(first_type, first_oid, scrambled, n);
    char *out;
    int rc = tmt_run(&out, "replay", "--journal", dir, "--lsn", "0/64", "--table", "t", NULL);
    ck_assert_msg(rc == 0 && strstr(out, want), "%s key: got\n%s\nwant\n%s", first_type, out, want);
    free(out);
    tmt_tempdir_remove(dir);
}

START_TEST(composite_keys_sort_by_first_column_first)
{
    /* numeric: 10 > 9.5 > -1 numerically, although the second key of the
     * smaller rows is larger. */
    const char *const num[][2] = {
        {"10", "1"}, {"9.5", "7"}, {"-1", "9"}, {"9.5", "2"}, {"10", "0"}};
    check_order("numeric", 1700, num, 5, "k1,k2,v\n-1,9,x\n9.5,2,x\n9.5,7,x\n10,0,x\n10,1,x\n");
    const char *const date[][2] = {
        {"2026-03-01", "1"}, {"2025-12-31", "5"}, {"2026-03-01", "0"}, {"1999-01-01", "9"}};
    check_order("date", 1082, date, 4,
                "k1,k2,v\n1999-01-01,9,x\n2025-12-31,5,x\n2026-03-01,0,x\n2026-03-01,1,x\n");
    const char *const boolean[][2] = {{"t", "1"}, {"f", "3"}, {"t", "0"}, {"f", "2"}};
    check_order("boolean", 16, boolean, 4, "k1,k2,v\nf,2,x\nf,3,x\nt,0,x\nt,1,x\n");
}
END_TEST

static int cmp_pair(const void *a, const void *b)
{
    const long long *x = a, *y = b;
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] > y[1]) - (x[1] < y[1]);
}

/* Integer first keys whose values differ in one byte, two neighbouring
 * bytes, three, or the sign (the top byte and the low ones): output sorts
 * them with byte-wise passes that depend on which bytes differ, and must
 * give ORDER BY's order in every case. */
START_TEST(integer_keys_of_every_range_sort)
{
    static const long long lo[] = {0, 0, 1000, 0, -900},
                           span[] = {200, 60000, 40000, 5000000, 1800};
    for (size_t r = 0; r < sizeof lo / sizeof lo[0]; r++) {
        enum { N = 3000 };
        static long long pairs[N][2];
        static char text[N][2][24];
        static const char *rows[N][2];
        uint64_t x = 0x2545F4914F6CDD1Dull + r;
        for (size_t i = 0; i < N; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            pairs[i][0] = lo[r] + (long long)(x % (uint64_t)span[r]);
            pairs[i][1] = (long long)i; /* the key stays unique */
            snprintf(text[i][0], sizeof text[i][0], "%lld", pairs[i][0]);
            snprintf(text[i][1], sizeof text[i][1], "%lld", pairs[i][1]);
            rows[i][0] = text[i][0];
            rows[i][1] = text[i][1];
        }
        qsort(pairs, N, sizeof pairs[0], cmp_pair);
        size_t cap = 64 + (size_t)N * 40, len = 0;
        char *want = malloc(cap);
        len += (size_t)snprintf(want + len, cap - len, "k1,k2,v\n");
        for (size_t i = 0; i < N; i++)
            len +=
                (size_t)snprintf(want + len, cap - len, "%lld,%lld,x\n", pairs[i][0], pairs[i][1]);
        check_order("bigint", 20, rows, N, want);
        free(want);
    }
}
END_TEST

int main(void)
{
    return tm_check_main(
        "replay_order", "core", 0,
        TM_TESTS(composite_keys_sort_by_first_column_first, integer_keys_of_every_range_sort));
}
