/* Micro-benchmark of replay's per-row building blocks on one core: CSV and
 * JSONL writing, --where matching and key comparison (sorting), on a
 * synthetic preference table. Built and run by scripts/bench_rowops.sh. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scripts/bench/bench_util.h"
#include "replay/out/out_csv.h"
#include "replay/out/out_jsonl.h"
#include "store/common/tm_time.h"
#include "replay/query/typecmp.h"
#include "replay/query/where.h"

#define NCOL 5

static const tm_coldesc cols[NCOL] = {
    {"id", 20, "bigint"},      {"email", 25, "text"},
    {"prefs", 3802, "jsonb"},  {"updated_at", 1184, "timestamp with time zone"},
    {"active", 16, "boolean"},
};

typedef struct rowbuf {
    char text[320];
    tm_value v[NCOL];
} rowbuf;

static void make_row(rowbuf *r, long i)
{
    char *p = r->text;
    const char *themes[] = {"dark", "light", "system"};
    int n[NCOL];
    char *start[NCOL];
    start[0] = p;
    n[0] = sprintf(p, "%ld", i * 7919 % 1000003);
    p += n[0] + 1;
    start[1] = p;
    n[1] = sprintf(p, "user%ld@example.com", i);
    p += n[1] + 1;
    start[2] = p;
    n[2] = sprintf(p,
                   "{\"lang\": \"fr\", \"theme\": \"%s\", \"digest\": %s, \"ai\": {\"model\": "
                   "\"m-%ld\", \"temperature\": 0.%ld}}",
                   themes[i % 3], i % 2 ? "true" : "false", i % 7, i % 10);
    p += n[2] + 1;
    start[3] = p;
    int64_t t = INT64_C(1793000000000000) + (int64_t)(i * 7919 % 1000003) * 2600000001;
    n[3] = (int)strlen(tm_time_format(t, p)); /* PostgreSQL's output form */
    p += n[3] + 1;
    start[4] = p;
    n[4] = sprintf(p, "%s", i % 5 ? "t" : "f");
    for (int c = 0; c < NCOL; c++)
        r->v[c] = (tm_value){.kind = 't', .len = (uint32_t)n[c], .ptr = start[c]};
    if (i % 11 == 0)
        r->v[4] = (tm_value){.kind = 'n'};
}

static tm_tclass sort_cls;
static int cmp_keys(const void *a, const void *b)
{
    const tm_value *x = a, *y = b;
    return tm_typecmp(sort_cls, x->ptr, x->len, y->ptr, y->len);
}

int main(int argc, char **argv)
{
    long nrows = argc > 1 ? atol(argv[1]) : 1000000;
    rowbuf *rows = malloc((size_t)nrows * sizeof *rows);
    if (!rows)
        return 1;
    for (long i = 0; i < nrows; i++)
        make_row(&rows[i], i);
    tm_error err;
    int devnull = open("/dev/null", O_WRONLY);
    tm_out o;
    if (devnull < 0 || tm_out_init_fd(&o, devnull, &err) < 0)
        return 1;

    double t0 = bench_now();
    tm_csv_header(&o, cols, NCOL);
    for (long i = 0; i < nrows; i++)
        tm_csv_row(&o, rows[i].v, NCOL, &err);
    tm_out_flush(&o, &err);
    double t = bench_now() - t0;
    printf("csv:     %8.2f M rows/s  %7.1f MB/s  (%ld rows, %.1f MB)\n", nrows / t / 1e6,
           (double)o.total / t / 1e6, nrows, (double)o.total / 1e6);

    tm_jsonl j;
    tm_jsonl_init(&j, cols, NCOL, &err);
    uint64_t before = o.total;
    t0 = bench_now();
    for (long i = 0; i < nrows; i++)
        tm_jsonl_row(&j, &o, rows[i].v, &err);
    tm_out_flush(&o, &err);
    t = bench_now() - t0;
    printf("jsonl:   %8.2f M rows/s  %7.1f MB/s\n", nrows / t / 1e6,
           (double)(o.total - before) / t / 1e6);
    tm_jsonl_free(&j);

    const char *exprs[] = {"id > 500000", "prefs->>'theme' = 'dark' AND active = true",
                           "updated_at >= '2026-11-10 12:00:00+00' AND email <> 'x'",
                           ("prefs->'ai'->>'model' IN ('m-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6', "
                            "'m-7', 'm-8')")};
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        tm_where *w = tm_where_parse(exprs[e], &err);
        tm_where_bound *b = w ? tm_where_bind(w, cols, NCOL, NULL, &err) : NULL;
        if (!b) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        long hits = 0;
        t0 = bench_now();
        for (long i = 0; i < nrows; i++)
            hits += tm_where_match(b, rows[i].v);
        t = bench_now() - t0;
        printf("where:   %8.2f M rows/s  (%ld%% match)  %s\n", nrows / t / 1e6, hits * 100 / nrows,
               exprs[e]);
        tm_where_bound_free(b);
        tm_where_free(w);
    }

    /* Sorting one key column's values (ORDER BY key), shuffled, then timing
     * the comparisons alone on a cache-resident array. */
    tm_value *keys = malloc((size_t)nrows * sizeof *keys);
    int sort_cols[] = {0, 1, 3};
    for (size_t s = 0; s < 3; s++) {
        int col = sort_cols[s];
        sort_cls = tm_type_class(cols[col].type_oid, cols[col].type_name);
        for (long i = 0; i < nrows; i++)
            keys[i] = rows[(i * 48271) % nrows].v[col];
        t0 = bench_now();
        qsort(keys, (size_t)nrows, sizeof *keys, cmp_keys);
        t = bench_now() - t0;
        long ncmp = 20000000, sink = 0;
        double t1 = bench_now();
        for (long i = 0; i < ncmp; i++) {
            const tm_value *x = &keys[i & 1023], *y = &keys[(i * 7 + 3) & 1023];
            sink += tm_typecmp(sort_cls, x->ptr, x->len, y->ptr, y->len);
        }
        double tc = bench_now() - t1;
        printf("sort:    %8.2f s for %ld keys by %s (%s); %.0f ns per comparison%s\n", t, nrows,
               cols[col].name, tm_tclass_name(sort_cls), tc / (double)ncmp * 1e9,
               sink == 42 ? " " : "");
    }
    free(keys);
    tm_out_free(&o);
    close(devnull);
    free(rows);
    return 0;
}
