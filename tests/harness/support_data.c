#include "tests/harness/support_data.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/journal/copy_text.h"

char *tm_test_slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/%s", TM_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

void tm_test_copy_field(char *f, tm_value *v)
{
    ck_assert_msg(tm_copy_text_split(f, strlen(f), v, 1) == 0, "'%s' is not one COPY field", f);
}

void tm_test_load_rows(const char *name, size_t ncols, tm_test_rows *r)
{
    memset(r, 0, sizeof *r);
    r->file = tm_test_slurp(name, NULL);
    r->ncols = ncols;
    char *start = strstr(r->file, "FROM stdin;\n");
    ck_assert_msg(start != NULL, "%s has no COPY FROM stdin block", name);
    start += strlen("FROM stdin;\n");
    char *end = strstr(start, "\n\\.\n");
    ck_assert_msg(end != NULL, "%s: unterminated COPY block", name);
    end++;
    r->block_len = (size_t)(end - start);
    r->block = malloc(r->block_len + 1);
    ck_assert_ptr_nonnull(r->block);
    memcpy(r->block, start, r->block_len);
    r->block[r->block_len] = '\0';
    *end = '\0';
    size_t lines = 0;
    for (char *p = start; *p; p++)
        lines += *p == '\n';
    r->vals = calloc(lines * ncols + 1, sizeof *r->vals);
    ck_assert_ptr_nonnull(r->vals);
    for (char *line = start; *line; r->nrows++) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        char *f = line;
        for (size_t c = 0; c < ncols; c++) {
            char *tab = strchr(f, '\t');
            ck_assert_msg((tab != NULL) == (c + 1 < ncols), "%s: row %zu has a wrong field count",
                          name, r->nrows + 1);
            if (tab)
                *tab = '\0';
            tm_test_copy_field(f, &r->vals[r->nrows * ncols + c]);
            if (tab)
                f = tab + 1;
        }
        line = nl + 1;
    }
}

void tm_test_free_rows(tm_test_rows *r)
{
    free(r->file);
    free(r->block);
    free(r->vals);
    memset(r, 0, sizeof *r);
}
