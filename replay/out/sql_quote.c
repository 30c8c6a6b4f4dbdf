#include "replay/out/sql_quote.h"

#include <string.h>

/* Writes q + s + q with every q inside doubled. */
static int quoted(tm_out *o, char q, const char *s, size_t len)
{
    if (len && memchr(s, '\0', len))
        return -1;
    tm_out_putc(o, q);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == q) { /* the quote, then once more */
            tm_out_write(o, s + start, i + 1 - start);
            start = i;
        }
    }
    tm_out_write(o, s + start, len - start);
    tm_out_putc(o, q);
    return 0;
}

int tm_sql_ident(tm_out *o, const char *s, size_t len)
{
    return quoted(o, '"', s, len);
}

int tm_sql_qualified(tm_out *o, const char *schema, const char *name)
{
    if (schema && *schema) {
        if (tm_sql_ident(o, schema, strlen(schema)) < 0)
            return -1;
        tm_out_putc(o, '.');
    }
    return tm_sql_ident(o, name, strlen(name));
}

int tm_sql_literal(tm_out *o, const char *s, size_t len)
{
    return quoted(o, '\'', s, len);
}

int tm_sql_value(tm_out *o, const tm_value *v)
{
    if (v->kind == 'n') {
        tm_out_write(o, "NULL", 4);
        return 0;
    }
    if (v->kind != 't')
        return -1;
    return tm_sql_literal(o, v->ptr, v->len);
}

void tm_copy_text_field(tm_out *o, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc;
        if (c == '\\')
            esc = '\\';
        else if (c >= 0x20)
            continue;
        else if (c == '\b')
            esc = 'b';
        else if (c == '\f')
            esc = 'f';
        else if (c == '\n')
            esc = 'n';
        else if (c == '\r')
            esc = 'r';
        else if (c == '\t')
            esc = 't';
        else if (c == '\v')
            esc = 'v';
        else
            continue; /* other control characters go through as COPY TO does */
        tm_out_write(o, s + start, i - start);
        tm_out_putc(o, '\\');
        tm_out_putc(o, esc);
        start = i + 1;
    }
    tm_out_write(o, s + start, len - start);
}

int tm_copy_text_row(tm_out *o, const tm_value *vals, size_t n, tm_error *err)
{
    if (tm_out_check_resolved(vals, n, "COPY", err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (i)
            tm_out_putc(o, '\t');
        if (vals[i].kind == 'n')
            tm_out_write(o, "\\N", 2);
        else
            tm_copy_text_field(o, vals[i].ptr, vals[i].len);
    }
    tm_out_putc(o, '\n');
    return 0;
}
