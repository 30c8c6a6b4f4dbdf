#include "store/common/qualname.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Reads one identifier at *p into out; advances *p. */
static int parse_part(const char **p, char *out, const char *whole, tm_error *err)
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '"') {
        for (s++;; s++) {
            if (*s == '\0') {
                tm_error_setc(err, TM_ERR_FORMAT, "unterminated quoted name in '%s'", whole);
                return -1;
            }
            if (*s == '"') {
                if (s[1] != '"')
                    break;
                s++;
            }
            if (n + 1 >= TM_NAME_MAX)
                goto too_long;
            out[n++] = *s;
        }
        s++;
    } else {
        for (; *s && *s != '.'; s++) {
            unsigned char c = (unsigned char)*s;
            if (!(isalnum(c) || c == '_' || c == '$' || c >= 0x80)) {
                tm_error_setc(err, TM_ERR_FORMAT,
                              "invalid character '%c' in table name '%s' (quote it: \"Name\")", *s,
                              whole);
                return -1;
            }
            if (n + 1 >= TM_NAME_MAX)
                goto too_long;
            out[n++] = (char)tolower(c);
        }
    }
    if (n == 0) {
        tm_error_setc(err, TM_ERR_FORMAT, "empty name in '%s' (expected NAME or SCHEMA.NAME)",
                      whole);
        return -1;
    }
    out[n] = '\0';
    *p = s;
    return 0;
too_long:
    tm_error_setc(err, TM_ERR_FORMAT, "name too long in '%s'", whole);
    return -1;
}

int tm_qualname_parse(const char *s, tm_qualname *out, tm_error *err)
{
    const char *p = s;
    char first[TM_NAME_MAX];
    if (parse_part(&p, first, s, err) != 0)
        return -1;
    if (*p == '\0') {
        snprintf(out->schema, sizeof out->schema, "public");
        memcpy(out->name, first, sizeof out->name);
        return 0;
    }
    if (*p != '.') {
        tm_error_setc(err, TM_ERR_FORMAT, "unexpected text after name in '%s'", s);
        return -1;
    }
    p++;
    if (parse_part(&p, out->name, s, err) != 0)
        return -1;
    if (*p != '\0') {
        tm_error_setc(err, TM_ERR_FORMAT, "too many dots in table name '%s' (expected SCHEMA.NAME)",
                      s);
        return -1;
    }
    memcpy(out->schema, first, sizeof out->schema);
    return 0;
}

static bool needs_quotes(const char *s)
{
    if (!*s || isdigit((unsigned char)*s))
        return true;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return true;
    return false;
}

static size_t put_part(const char *s, char *buf, size_t len, size_t at)
{
    bool q = needs_quotes(s);
    if (q && at + 1 < len)
        buf[at++] = '"';
    for (; *s && at + 2 < len; s++) {
        if (*s == '"')
            buf[at++] = '"';
        buf[at++] = *s;
    }
    if (q && at + 1 < len)
        buf[at++] = '"';
    buf[at] = '\0';
    return at;
}

char *tm_qualname_format(const char *schema, const char *name, char *buf, size_t len)
{
    size_t at = put_part(schema, buf, len, 0);
    if (at + 1 < len)
        buf[at++] = '.';
    put_part(name, buf, len, at);
    return buf;
}

bool tm_qualname_selects(const tm_qualname *list, size_t n, const char *schema, const char *name)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i].schema, schema) && !strcmp(list[i].name, name))
            return true;
    return false;
}
