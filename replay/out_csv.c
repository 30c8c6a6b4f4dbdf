#include "out_csv.h"

#include <string.h>

/* Bytes that force quoting (the default delimiter and quote, CR, LF). */
static const bool special[256] = {['\n'] = true, ['\r'] = true, [','] = true, ['"'] = true};

void tm_csv_field(tm_out *o, const char *p, size_t len, bool single_column)
{
    /* The empty string is quoted because unquoted it would read as NULL, and
     * a lone \. because it would read as the end-of-data marker. */
    if (len == 0) {
        tm_out_write(o, "\"\"", 2);
        return;
    }
    bool quote = (single_column && len == 2 && p[0] == '\\' && p[1] == '.');
    for (size_t i = 0; i < len && !quote; i++)
        quote = special[(unsigned char)p[i]];
    if (!quote) {
        tm_out_write(o, p, len);
        return;
    }
    tm_out_putc(o, '"');
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"') {
            tm_out_write(o, p + start, i + 1 - start); /* the quote, then once more */
            start = i;
        }
    }
    tm_out_write(o, p + start, len - start);
    tm_out_putc(o, '"');
}

void tm_csv_header(tm_out *o, const tm_coldesc *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            tm_out_putc(o, ',');
        tm_csv_field(o, cols[i].name, strlen(cols[i].name), n == 1);
    }
    tm_out_putc(o, '\n');
}

/* Field p[0, len) formatted at d, which has room for 2 * len + 2 bytes;
 * returns the end. Same rules as tm_csv_field. */
static inline char *field_into(char *d, const char *p, size_t len, bool single_column)
{
    if (len == 0) {
        d[0] = d[1] = '"';
        return d + 2;
    }
    size_t i = 0;
    while (i < len && !special[(unsigned char)p[i]])
        i++;
    if (i == len && !(single_column && len == 2 && p[0] == '\\' && p[1] == '.')) {
        memcpy(d, p, len);
        return d + len;
    }
    *d++ = '"';
    memcpy(d, p, i);
    d += i;
    for (; i < len; i++) {
        char c = p[i];
        *d++ = c;
        if (c == '"')
            *d++ = '"';
    }
    *d++ = '"';
    return d;
}

int tm_csv_row(tm_out *o, const tm_value *vals, size_t n, tm_error *err)
{
    size_t need = n + 1; /* separators and the newline */
    for (size_t i = 0; i < n; i++) {
        if (vals[i].kind != 't' && vals[i].kind != 'n') {
            tm_error_set(err,
                         "internal error: CSV output got an unresolved value (kind '%c') in "
                         "column %zu",
                         vals[i].kind, i + 1);
            return -1;
        }
        if (vals[i].kind == 't')
            need += 2 * vals[i].len + 2; /* the worst case: all quotes, quoted */
    }
    /* The whole row straight into the buffer when it fits (it nearly
     * always does): no per-field calls or bounds checks. */
    char *d = tm_out_reserve(o, need);
    if (d) {
        char *start = d;
        for (size_t i = 0; i < n; i++) {
            if (i)
                *d++ = ',';
            if (vals[i].kind == 't')
                d = field_into(d, vals[i].ptr, vals[i].len, n == 1);
        }
        *d++ = '\n';
        tm_out_commit(o, (size_t)(d - start));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            tm_out_putc(o, ',');
        if (vals[i].kind == 't')
            tm_csv_field(o, vals[i].ptr, vals[i].len, n == 1);
    }
    tm_out_putc(o, '\n');
    return 0;
}
