/* Output formats against PostgreSQL's own bytes: the rows of
 * tests/data/csv_values.sql (PostgreSQL's COPY text output of tricky
 * values) written as CSV, single-column CSV, COPY text and JSON lines must
 * equal what PostgreSQL 15 wrote for them (csv_expected.csv,
 * csv_expected_single.csv, the COPY block itself, json_expected.jsonl).
 * Plus SQL quoting, the buffered sink's error handling, and a CSV round
 * trip over random bytes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "replay/out/out.h"
#include "replay/out/out_csv.h"
#include "replay/out/out_jsonl.h"
#include "replay/out/sql_quote.h"
#include "tests/harness/support_data.h"
#include "tests/harness/tm_check.h"

#define NCOL 8

static const tm_coldesc cols[NCOL] = {
    {"id", 23, "integer"},  {"a,\"q\"", 25, "text"},        {"b c", 25, "text"},
    {"n", 1700, "numeric"}, {"f", 701, "double precision"}, {"bö", 16, "boolean"},
    {"j", 3802, "jsonb"},   {"new\nline", 25, "text"},
};

/* The rows of csv_values.sql's COPY block (PostgreSQL's own COPY output). */
static tm_test_rows data;
static int nrows;
#define ROW(r) (&data.vals[(size_t)(r)*NCOL])

static void load(void)
{
    tm_test_load_rows("csv_values.sql", NCOL, &data);
    nrows = (int)data.nrows;
    ck_assert_int_ge(nrows, 40);
}

static void unload(void)
{
    tm_test_free_rows(&data);
}

static void assert_bytes(const tm_out *o, const char *expected_file)
{
    size_t elen, glen;
    char *expected = tm_test_slurp(expected_file, &elen);
    const char *got = tm_out_data(o, &glen);
    size_t i = 0;
    while (i < elen && i < glen && got[i] == expected[i])
        i++;
    ck_assert_msg(i == elen && i == glen,
                  "%s differs at byte %zu (got %zu bytes, want %zu): got \"%.40s\" want \"%.40s\"",
                  expected_file, i, glen, elen, got + i, expected + i);
    free(expected);
}

START_TEST(csv_like_postgres)
{
    tm_out o;
    tm_error err;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    tm_csv_header(&o, cols, NCOL);
    for (int r = 0; r < nrows; r++)
        ck_assert_int_eq(tm_csv_row(&o, ROW(r), NCOL, &err), 0);
    assert_bytes(&o, "csv_expected.csv");
    tm_out_free(&o);
}
END_TEST

START_TEST(csv_single_column_like_postgres)
{
    tm_out o;
    tm_error err;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    tm_coldesc one = {"\\.", 25, "text"};
    tm_csv_header(&o, &one, 1);
    for (int r = 0; r < nrows; r++)
        ck_assert_int_eq(tm_csv_row(&o, ROW(r) + 1, 1, &err), 0);
    assert_bytes(&o, "csv_expected_single.csv");
    tm_out_free(&o);
}
END_TEST

START_TEST(copy_text_like_postgres)
{
    tm_out o;
    tm_error err;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    for (int r = 0; r < nrows; r++)
        ck_assert_int_eq(tm_copy_text_row(&o, ROW(r), NCOL, &err), 0);
    size_t len;
    const char *got = tm_out_data(&o, &len);
    ck_assert_uint_eq(len, data.block_len);
    ck_assert(memcmp(got, data.block, len) == 0);
    /* No data line can be the end marker. */
    ck_assert_ptr_null(strstr(data.block, "\n\\.\n"));
    tm_out_free(&o);
}
END_TEST

START_TEST(jsonl_like_postgres)
{
    tm_out o;
    tm_error err;
    tm_jsonl j;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    ck_assert_int_eq(tm_jsonl_init(&j, cols, NCOL, &err), 0);
    for (int r = 0; r < nrows; r++)
        ck_assert_int_eq(tm_jsonl_row(&j, &o, ROW(r), &err), 0);
    assert_bytes(&o, "json_expected.jsonl");
    tm_jsonl_free(&j);
    tm_out_free(&o);
}
END_TEST

static const char *render(void (*fn)(tm_out *, const char *, size_t), const char *s, size_t n,
                          tm_out *o)
{
    tm_out_reset(o);
    fn(o, s, n);
    tm_out_putc(o, '\0');
    size_t len;
    return tm_out_data(o, &len);
}

START_TEST(json_strings)
{
    tm_out o;
    tm_error err;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    ck_assert_str_eq(render(tm_json_string, "a\"b\\c/", 6, &o), "\"a\\\"b\\\\c/\"");
    ck_assert_str_eq(render(tm_json_string, "\x01\x1f\x7f", 3, &o), "\"\\u0001\\u001f\x7f\"");
    ck_assert_str_eq(render(tm_json_string, "\b\f\n\r\t", 5, &o), "\"\\b\\f\\n\\r\\t\"");
    ck_assert_str_eq(render(tm_json_string, "é日😀", 9, &o), "\"é日😀\"");
    ck_assert_str_eq(render(tm_json_string, "", 0, &o), "\"\"");
    /* Invalid UTF-8: stray continuation, overlong, surrogate, truncated, > U+10FFFF. */
    ck_assert_str_eq(render(tm_json_string, "a\x80z", 3, &o), "\"a\\ufffdz\"");
    ck_assert_str_eq(render(tm_json_string, "\xC0\xAF", 2, &o), "\"\\ufffd\\ufffd\"");
    ck_assert_str_eq(render(tm_json_string, "\xED\xA0\x80", 3, &o), "\"\\ufffd\\ufffd\\ufffd\"");
    ck_assert_str_eq(render(tm_json_string, "\xE6\x97", 2, &o), "\"\\ufffd\\ufffd\"");
    ck_assert_str_eq(render(tm_json_string, "\xF4\x90\x80\x80", 4, &o),
                     "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    ck_assert_str_eq(render(tm_json_string, "\xF4\x8F\xBF\xBF", 4, &o), "\"\xF4\x8F\xBF\xBF\"");

    /* Typed values not in the PostgreSQL sample: json with line breaks,
     * numbers that are not JSON numbers, odd booleans, empty json. */
    tm_coldesc c[4] = {{"j", 114, "json"}, {"n", 20, "bigint"}, {"b", 16, NULL}, {"t", 1184, NULL}};
    tm_value v[4] = {{"{\"a\":\r\n 1}\n", 11, 't'},
                     {"007", 3, 't'},
                     {"true", 4, 't'},
                     {"2026-11-22 14:03:12+00", 22, 't'}};
    tm_jsonl j;
    ck_assert_int_eq(tm_jsonl_init(&j, c, 4, &err), 0);
    tm_out_reset(&o);
    ck_assert_int_eq(tm_jsonl_row(&j, &o, v, &err), 0);
    tm_out_putc(&o, '\0');
    size_t len;
    ck_assert_str_eq(
        tm_out_data(&o, &len),
        "{\"j\":{\"a\": 1},\"n\":\"007\",\"b\":\"true\",\"t\":\"2026-11-22 14:03:12+00\"}\n");
    v[0].len = 0;
    tm_out_reset(&o);
    ck_assert_int_eq(tm_jsonl_row(&j, &o, v, &err), 0);
    tm_out_putc(&o, '\0');
    ck_assert_ptr_nonnull(strstr(tm_out_data(&o, &len), "{\"j\":\"\","));
    v[2].kind = 'u';
    ck_assert_int_eq(tm_jsonl_row(&j, &o, v, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "unresolved"));
    tm_jsonl_free(&j);
    tm_out_free(&o);
}
END_TEST

static const char *sql(int (*fn)(tm_out *, const char *, size_t), const char *s, size_t n,
                       tm_out *o, int *rc)
{
    tm_out_reset(o);
    *rc = fn(o, s, n);
    tm_out_putc(o, '\0');
    size_t len;
    return tm_out_data(o, &len);
}

START_TEST(sql_quoting)
{
    tm_out o;
    tm_error err;
    int rc;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    ck_assert_str_eq(sql(tm_sql_ident, "users", 5, &o, &rc), "\"users\"");
    ck_assert_str_eq(sql(tm_sql_ident, "Weird \"Name\"", 12, &o, &rc), "\"Weird \"\"Name\"\"\"");
    ck_assert_str_eq(sql(tm_sql_ident, "\"", 1, &o, &rc), "\"\"\"\"");
    ck_assert_str_eq(sql(tm_sql_ident, "a\nb;--", 6, &o, &rc), "\"a\nb;--\"");
    ck_assert_str_eq(sql(tm_sql_literal, "it's", 4, &o, &rc), "'it''s'");
    ck_assert_str_eq(sql(tm_sql_literal, "''", 2, &o, &rc), "''''''");
    ck_assert_str_eq(sql(tm_sql_literal, "back\\slash\\", 11, &o, &rc), "'back\\slash\\'");
    ck_assert_str_eq(sql(tm_sql_literal, "x'); DROP TABLE t; --", 21, &o, &rc),
                     "'x''); DROP TABLE t; --'");
    ck_assert_str_eq(sql(tm_sql_literal, "", 0, &o, &rc), "''");
    ck_assert_str_eq(sql(tm_sql_literal, "日本\n\t", 8, &o, &rc), "'日本\n\t'");
    ck_assert_int_eq(rc, 0);
    /* NUL cannot be in PostgreSQL text: refused, nothing written. */
    sql(tm_sql_literal, "a\0b", 3, &o, &rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_uint_eq(o.len, 1);
    sql(tm_sql_ident, "a\0b", 3, &o, &rc);
    ck_assert_int_eq(rc, -1);

    tm_out_reset(&o);
    ck_assert_int_eq(tm_sql_qualified(&o, "public", "my \"t\""), 0);
    tm_out_putc(&o, ' ');
    ck_assert_int_eq(tm_sql_qualified(&o, NULL, "t"), 0);
    tm_out_putc(&o, ' ');
    tm_value vals[3] = {{NULL, 0, 'n'}, {"a'b", 3, 't'}, {NULL, 0, 'u'}};
    ck_assert_int_eq(tm_sql_value(&o, &vals[0]), 0);
    tm_out_putc(&o, ' ');
    ck_assert_int_eq(tm_sql_value(&o, &vals[1]), 0);
    ck_assert_int_eq(tm_sql_value(&o, &vals[2]), -1);
    tm_out_putc(&o, '\0');
    size_t len;
    ck_assert_str_eq(tm_out_data(&o, &len), "\"public\".\"my \"\"t\"\"\" \"t\" NULL 'a''b'");

    /* COPY text: all the escapes, and unresolved kinds refused. */
    tm_out_reset(&o);
    tm_copy_text_field(&o, "\\.\b\f\n\r\t\v\x01 end\\", 14);
    tm_out_putc(&o, '\0');
    ck_assert_str_eq(tm_out_data(&o, &len), "\\\\.\\b\\f\\n\\r\\t\\v\x01 end\\\\");
    ck_assert_int_eq(tm_copy_text_row(&o, vals, 3, &err), -1);
    ck_assert_int_eq(tm_csv_row(&o, vals, 3, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "kind 'u'"));
    tm_out_free(&o);
}
END_TEST

/* A reader for PostgreSQL's CSV, used to check that whatever bytes a value
 * holds, the CSV reads back to the same value (unquoted empty = NULL). */
static size_t read_csv_row(const char *p, size_t len, tm_value *out, char *scratch, size_t n)
{
    size_t i = 0, s = 0;
    for (size_t c = 0; c < n; c++) {
        if (i < len && p[i] == '"') {
            out[c].kind = 't';
            out[c].ptr = scratch + s;
            size_t start = s;
            for (i++;; i++) {
                ck_assert_uint_lt(i, len);
                if (p[i] == '"') {
                    if (i + 1 < len && p[i + 1] == '"') {
                        scratch[s++] = '"';
                        i++;
                        continue;
                    }
                    i++;
                    break;
                }
                scratch[s++] = p[i];
            }
            out[c].len = (uint32_t)(s - start);
        } else {
            size_t start = i;
            while (i < len && p[i] != ',' && p[i] != '\n')
                i++;
            out[c].kind = i == start ? 'n' : 't';
            out[c].ptr = p + start;
            out[c].len = (uint32_t)(i - start);
        }
        ck_assert_uint_lt(i, len);
        ck_assert_int_eq(p[i], c + 1 < n ? ',' : '\n');
        i++;
    }
    return i;
}

START_TEST(csv_round_trip)
{
    tm_out o;
    tm_error err;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    uint64_t x = 0x2545F4914F6CDD1Dull;
    const char alphabet[] = ",\"\r\n\\. a\t'";
    char bufs[3][80], scratch[512];
    for (int iter = 0; iter < 20000; iter++) {
        tm_value in[3], back[3];
        for (int c = 0; c < 3; c++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* Mostly short values; every fourth row has values long enough
             * for the writer's 16-byte blocks, specials anywhere in them. */
            size_t n = iter % 4 ? x % 6 : x % 80;
            uint64_t y = x;
            for (size_t k = 0; k < n; k++) {
                y ^= y << 13, y ^= y >> 7, y ^= y << 17;
                bufs[c][k] =
                    (y >> 8) % 3 == 0 ? alphabet[(y >> 16) % 11] : (char)(1 + (y >> 24) % 255);
            }
            in[c].kind = (x >> 60) % 5 == 0 ? 'n' : 't';
            in[c].ptr = bufs[c];
            in[c].len = in[c].kind == 't' ? (uint32_t)n : 0;
        }
        size_t ncol = 1 + iter % 3;
        tm_out_reset(&o);
        ck_assert_int_eq(tm_csv_row(&o, in, ncol, &err), 0);
        size_t len;
        const char *p = tm_out_data(&o, &len);
        ck_assert_uint_eq(read_csv_row(p, len, back, scratch, ncol), len);
        for (size_t c = 0; c < ncol; c++) {
            ck_assert_int_eq(back[c].kind, in[c].kind);
            ck_assert_uint_eq(back[c].len, in[c].len);
            ck_assert(in[c].len == 0 || memcmp(back[c].ptr, in[c].ptr, in[c].len) == 0);
        }
        /* The row writer agrees with the field-at-a-time writer. */
        tm_out f;
        ck_assert_int_eq(tm_out_init_mem(&f, &err), 0);
        for (size_t c = 0; c < ncol; c++) {
            if (c)
                tm_out_putc(&f, ',');
            if (in[c].kind == 't')
                tm_csv_field(&f, in[c].ptr, in[c].len, ncol == 1);
        }
        tm_out_putc(&f, '\n');
        size_t flen;
        const char *fp = tm_out_data(&f, &flen);
        ck_assert_uint_eq(flen, len);
        ck_assert(memcmp(fp, p, len) == 0);
        tm_out_free(&f);
        /* A lone \. never starts an unquoted single-column line. */
        if (ncol == 1)
            ck_assert(!(len == 3 && p[0] == '\\' && p[1] == '.'));
    }
    tm_out_free(&o);
}
END_TEST

/* Values that end at a page end, start anywhere in the page's last bytes,
 * with special bytes anywhere: the row writer reads values 16 bytes at a
 * time and must never read past a page it was not given (the next page is
 * made inaccessible), and must agree with the field writer. */
START_TEST(csv_values_at_page_ends)
{
    long page = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(map != MAP_FAILED);
    ck_assert_int_eq(mprotect(map + page, (size_t)page, PROT_NONE), 0);
    char *end = map + page;
    tm_out row, fields;
    tm_error err;
    ck_assert_int_eq(tm_out_init_mem(&row, &err), 0);
    ck_assert_int_eq(tm_out_init_mem(&fields, &err), 0);
    const char alphabet[] = "ab,\"\r\nxyz";
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t len = 0; len <= 40; len++) {
        for (int rep = 0; rep < 50; rep++) {
            char *p = end - len;
            for (size_t k = 0; k < len; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                p[k] = alphabet[x % 10];
            }
            tm_value v[2] = {{p, (uint32_t)len, 't'}, {end - len / 2, (uint32_t)(len / 2), 't'}};
            tm_out_reset(&row);
            tm_out_reset(&fields);
            ck_assert_int_eq(tm_csv_row(&row, v, 2, &err), 0);
            for (int c = 0; c < 2; c++) {
                if (c)
                    tm_out_putc(&fields, ',');
                tm_csv_field(&fields, v[c].ptr, v[c].len, false);
            }
            tm_out_putc(&fields, '\n');
            size_t a, b;
            const char *pa = tm_out_data(&row, &a), *pb = tm_out_data(&fields, &b);
            ck_assert_uint_eq(a, b);
            ck_assert(memcmp(pa, pb, a) == 0);
        }
    }
    tm_out_free(&row);
    tm_out_free(&fields);
    munmap(map, (size_t)page * 2);
}
END_TEST

START_TEST(sinks)
{
    tm_error err;
    char path[] = "/tmp/tm_test_out_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    tm_out o;
    ck_assert_int_eq(tm_out_init_fd(&o, fd, &err), 0);
    /* Small writes through the buffer, then one larger than it. */
    size_t big = TM_OUT_BUFSIZE * 2 + 17;
    char *chunk = malloc(big);
    for (size_t i = 0; i < big; i++)
        chunk[i] = (char)('a' + i % 26);
    for (int i = 0; i < 100000; i++)
        tm_out_write(&o, "0123456789", 10);
    tm_out_write(&o, chunk, big);
    tm_out_puts(&o, "end\n");
    ck_assert_int_eq(tm_out_sync(&o, &err), 0);
    ck_assert_uint_eq(o.total, 1000000 + big + 4);
    off_t size = lseek(fd, 0, SEEK_END);
    ck_assert_int_eq((long long)size, (long long)(1000000 + big + 4));
    char tail[4];
    ck_assert_int_eq(pread(fd, tail, 4, size - 4), 4);
    ck_assert(memcmp(tail, "end\n", 4) == 0);
    char mid[26];
    ck_assert_int_eq(pread(fd, mid, 26, 1000000), 26);
    ck_assert(memcmp(mid, chunk, 26) == 0);
    tm_out_free(&o);
    close(fd);

    /* Errors are sticky and reported by flush. */
    ck_assert_int_eq(tm_out_init_fd(&o, fd /* now closed */, &err), 0);
    tm_out_write(&o, chunk, big);
    tm_out_write(&o, "x", 1);
    ck_assert_int_eq(tm_out_flush(&o, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "could not write output"));
    ck_assert_ptr_nonnull(strstr(err.msg, strerror(EBADF)));
    tm_out_free(&o);
    ck_assert_int_eq(tm_out_init_fd(&o, -1, &err), -1);

    /* FILE sinks. */
    FILE *f = fopen(path, "w+");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(tm_out_init_file(&o, f, &err), 0);
    tm_out_write(&o, chunk, big);
    tm_out_puts(&o, "!");
    ck_assert_int_eq(tm_out_sync(&o, &err), 0);
    ck_assert_int_eq(ftell(f), (long)big + 1);
    tm_out_free(&o);
    fclose(f);
    ck_assert_int_eq(tm_out_init_file(&o, NULL, &err), -1);

    /* Syncing a pipe is not an error. */
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    ck_assert_int_eq(tm_out_init_fd(&o, pfd[1], &err), 0);
    tm_out_puts(&o, "hi");
    ck_assert_int_eq(tm_out_sync(&o, &err), 0);
    char two[2];
    ck_assert_int_eq(read(pfd[0], two, 2), 2);
    tm_out_free(&o);
    close(pfd[0]);
    close(pfd[1]);

    /* Memory sinks grow. */
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    tm_out_write(&o, chunk, big);
    tm_out_write(&o, chunk, big);
    size_t len;
    const char *d = tm_out_data(&o, &len);
    ck_assert_uint_eq(len, 2 * big);
    ck_assert(memcmp(d + big, chunk, big) == 0);
    ck_assert_int_eq(tm_out_flush(&o, &err), 0);
    tm_out_free(&o);
    free(chunk);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("out");
    TCase *tc =
        tm_check_case(s, "core", 0,
                      TM_TESTS(csv_like_postgres, csv_single_column_like_postgres,
                               copy_text_like_postgres, jsonl_like_postgres, json_strings,
                               sql_quoting, csv_round_trip, csv_values_at_page_ends, sinks));
    tcase_add_unchecked_fixture(tc, load, unload);
    return tm_check_run(s);
}
