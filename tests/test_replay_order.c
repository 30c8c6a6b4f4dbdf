/* Row order of replay's output for composite keys whose first column is not
 * an integer or text (numeric, date, boolean): ORDER BY compares the first
 * key fully before the second decides anything. The rows are written to the
 * journal in a scrambled order; the CSV must come out sorted. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "support_store.h"
#include "tm_check.h"

static void put_rel(tm_writer *w, const char *first_type, uint32_t first_oid)
{
    Tidemark__Column cols[3], *cp[3];
    const char *names[] = {"k1", "k2", "v"};
    const char *types[] = {first_type, "integer", "text"};
    uint32_t oids[] = {first_oid, 23, 25}, pk[] = {1, 2, 0};
    for (int i = 0; i < 3; i++) {
        tidemark__column__init(&cols[i]);
        cols[i].name = (char *)names[i];
        cols[i].type_name = (char *)types[i];
        cols[i].has_type_oid = cols[i].has_pk_position = cols[i].has_replica_key = 1;
        cols[i].type_oid = oids[i];
        cols[i].pk_position = pk[i];
        cols[i].replica_key = 1;
        cp[i] = &cols[i];
    }
    Tidemark__Relation rel = TIDEMARK__RELATION__INIT;
    rel.has_oid = rel.has_version = rel.has_lsn = rel.has_replica_identity = 1;
    rel.oid = 500;
    rel.version = 1;
    rel.lsn = 100;
    rel.namespace_ = "public";
    rel.name = "t";
    rel.replica_identity = 'f';
    rel.n_columns = 3;
    rel.columns = cp;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
    rec.relation = &rel;
    tm_error err;
    ck_assert_msg(tm_writer_put_standalone(w, &rec, &err) == 0, "%s", err.msg);
}

/* A journal of one snapshot transaction holding rows (k1, k2, v) in the
 * given (scrambled) order. */
static char *journal_of(const char *first_type, uint32_t first_oid, const char *const rows[][2],
                        size_t n)
{
    char *dir = tmt_tempdir();
    tm_meta meta = {.format_version = TM_JOURNAL_FORMAT_VERSION, .system_identifier = 42};
    snprintf(meta.database, sizeof meta.database, "db");
    tm_error err;
    ck_assert_int_eq(tm_meta_write(dir, &meta, &err), 0);
    tm_writer *w;
    ck_assert_msg(tm_writer_open(dir, NULL, &w, &err) == 0, "%s", err.msg);
    put_rel(w, first_type, first_oid);
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    b.has_commit_lsn = b.has_end_lsn = b.has_commit_time = b.has_n_records = b.has_snapshot = 1;
    b.snapshot = 1;
    b.commit_lsn = b.end_lsn = 100;
    b.commit_time = 1700000000000000;
    b.n_records = n + 1;
    ck_assert_int_eq(tm_writer_begin_tx(w, &b, &err), 0);
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    ch.has_op = ch.has_relation_oid = ch.has_relation_version = 1;
    ch.relation_oid = 500;
    ch.relation_version = 1;
    ch.op = TIDEMARK__CHANGE__OP__TRUNCATE;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    ck_assert_int_eq(tm_writer_put(w, &rec, &err), 0);
    ch.op = TIDEMARK__CHANGE__OP__INSERT;
    for (size_t i = 0; i < n; i++) {
        char data[128];
        uint32_t lens[3] = {(uint32_t)strlen(rows[i][0]), (uint32_t)strlen(rows[i][1]), 1};
        snprintf(data, sizeof data, "%s%sx", rows[i][0], rows[i][1]);
        Tidemark__Tuple t = TIDEMARK__TUPLE__INIT;
        t.has_kinds = t.has_data = 1;
        t.kinds.data = (uint8_t *)"ttt";
        t.kinds.len = 3;
        t.n_lengths = 3;
        t.lengths = lens;
        t.data.data = (uint8_t *)data;
        t.data.len = strlen(data);
        ch.new_tuple = &t;
        ck_assert_int_eq(tm_writer_put(w, &rec, &err), 0);
    }
    ck_assert_int_eq(tm_writer_end_tx(w, &err), 0);
    ck_assert_int_eq(tm_writer_close(w, &err), 0);
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
    tmt_rmtree(dir);
    free(dir);
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
    Suite *s = suite_create("replay_order");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, composite_keys_sort_by_first_column_first);
    tcase_add_test(tc, integer_keys_of_every_range_sort);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
