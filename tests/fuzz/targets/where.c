/* The --where language (replay/query/where.c): parse, then bind to a table
 * of every type class replay compares (tests/harness/where_table.h, so
 * that literals meet typecmp's readers), then match rows, as replay, log
 * and undo do. The input is the expression, optionally followed by a NUL
 * and a row: column values separated by newlines ("\N" is NULL, missing
 * columns are NULL), matched besides the table's row of sane values.
 * Properties: a parsed expression has conditions, each naming a column,
 * and pinned values are in bounds; matching is deterministic. */
#include <stdlib.h>
#include <string.h>

#include "replay/query/where.h"
#include "tests/fuzz/fuzz.h"
#include "tests/harness/where_table.h"

static void match_both(const tm_where_bound *b, const tm_value *row)
{
    bool first = tm_where_match(b, row);
    TM_FUZZ_CHECK(tm_where_match(b, row) == first, "matching the same row twice differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t elen = nul ? (size_t)(nul - data) : size;
    char *expr = tm_fuzz_cstr(data, elen);
    tm_error err;
    tm_where *w = tm_where_parse(expr, &err);
    if (!w) {
        TM_FUZZ_CHECK(err.msg[0] != '\0', "a refused expression comes without a reason");
        free(expr);
        return 0;
    }
    size_t n = tm_where_count(w);
    TM_FUZZ_CHECK(n > 0, "a parsed expression has no condition");
    for (size_t i = 0; i < n; i++) {
        const char *c = tm_where_column(w, i);
        TM_FUZZ_CHECK(c != NULL, "condition %zu names no column", i);
        size_t nv;
        if (tm_where_pin(w, i, &nv)) {
            TM_FUZZ_CHECK(nv > 0, "condition %zu pins its column to no value", i);
            for (size_t j = 0; j < nv; j++) {
                const char *s;
                size_t len;
                tm_where_pin_value(w, i, j, &s, &len);
                TM_FUZZ_CHECK(s != NULL && len <= elen, "pinned value %zu of condition %zu", j, i);
            }
        }
    }

    /* the row after the NUL: values as given, the rest NULL */
    char *rowtext = nul ? tm_fuzz_cstr(nul + 1, size - elen - 1) : NULL;
    tm_value row[NCOLS], base[NCOLS];
    size_t rowlen = nul ? size - elen - 1 : 0;
    size_t pos = 0;
    for (int i = 0; i < NCOLS; i++) {
        base[i] = (tm_value){tmt_where_row[i], (uint32_t)strlen(tmt_where_row[i]), TM_KIND_TEXT};
        row[i] = (tm_value){NULL, 0, TM_KIND_NULL};
        if (!rowtext || pos > rowlen)
            continue;
        const char *v = rowtext + pos;
        const char *nl = memchr(v, '\n', rowlen - pos);
        size_t vlen = nl ? (size_t)(nl - v) : rowlen - pos;
        if (!(vlen == 2 && v[0] == '\\' && v[1] == 'N'))
            row[i] = (tm_value){v, (uint32_t)vlen, TM_KIND_TEXT};
        pos += vlen + 1;
    }

    static const char *const zones[] = {NULL, "Europe/Paris", "+05:30"};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        tm_where_bound *b = tm_where_bind(w, tmt_where_cols, NCOLS, zones[z], &err);
        if (!b) {
            TM_FUZZ_CHECK(err.msg[0] != '\0', "a refused binding comes without a reason");
            continue;
        }
        for (int i = 0; i < NCOLS; i++)
            (void)tm_where_uses(b, (size_t)i);
        match_both(b, base);
        match_both(b, row);
        tm_where_bound_free(b);
    }
    free(rowtext);
    tm_where_free(w);
    free(expr);
    return 0;
}
