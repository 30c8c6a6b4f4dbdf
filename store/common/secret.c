/* Passwords in connection strings: finding, scrubbing and masking them
 * (see secret.h). A scanner of text, not a conninfo parser: it must also
 * work on malformed input and on messages that quote pieces of it. */
#include "store/common/secret.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/common/hex.h"

#define MAX_REGISTERED 16
#define MIN_REGISTERED 3

static char *registered[MAX_REGISTERED];
static size_t n_registered;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The end of a password value starting at i: a quoted one through its
 * closing quote, else up to a space or what ends a value in a URI query
 * or a quoted message. */
static size_t value_end(const char *s, size_t i)
{
    if (s[i] == '\'') {
        for (i++; s[i] && s[i] != '\''; i++)
            if (s[i] == '\\' && s[i + 1])
                i++;
        return s[i] ? i + 1 : i;
    }
    for (; s[i] && !is_space(s[i]) && s[i] != '&' && s[i] != '"' && s[i] != '#'; i++)
        if (s[i] == '\\' && s[i + 1])
            i++;
    return i;
}

/* A password keyword at i ("password", also inside "sslpassword")
 * followed by '=': the span of its value. */
static bool keyword_value(const char *s, size_t i, tm_span *sp)
{
    if (strncasecmp(s + i, "password", 8) != 0)
        return false;
    size_t j = i + 8;
    while (is_space(s[j]))
        j++;
    if (s[j] != '=')
        return false;
    for (j++; is_space(s[j]);)
        j++;
    size_t end = value_end(s, j);
    if (end == j)
        return false;
    *sp = (tm_span){j, end};
    return true;
}

/* A URI's "scheme://" at i: the span of the password in its user
 * information ("user:PASSWORD@"), as libpq reads it: up to the first '@'
 * before the first '/'. */
static bool uri_password(const char *s, size_t i, tm_span *sp)
{
    if (strncmp(s + i, "://", 3) != 0)
        return false;
    size_t a = i + 3, at = a;
    while (s[at] && s[at] != '@' && s[at] != '/' && s[at] != '?' && !is_space(s[at]) &&
           s[at] != '"')
        at++;
    if (s[at] != '@')
        return false;
    const char *colon = memchr(s + a, ':', at - a);
    if (!colon || (size_t)(colon - s) + 1 == at)
        return false;
    *sp = (tm_span){(size_t)(colon - s) + 1, at};
    return true;
}

size_t tm_secret_spans(const char *s, tm_span *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; s[i]; i++) {
        tm_span sp;
        if (!keyword_value(s, i, &sp) && !uri_password(s, i, &sp))
            continue;
        if (n < max)
            out[n] = sp;
        n++;
        i = sp.end > i ? sp.end - 1 : i;
    }
    return n;
}

int tm_secret_scrub(char *s)
{
    tm_span sp[32];
    size_t n = tm_secret_spans(s, sp, 32);
    for (size_t k = 0; k < n && k < 32; k++)
        memset(s + sp[k].start, '*', sp[k].end - sp[k].start);
    return (int)n;
}

static void remember(const char *v, size_t len)
{
    if (len < MIN_REGISTERED || n_registered == MAX_REGISTERED)
        return;
    for (size_t i = 0; i < n_registered; i++)
        if (strlen(registered[i]) == len && !memcmp(registered[i], v, len))
            return;
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, v, len);
    copy[len] = '\0';
    registered[n_registered++] = copy;
}

/* The value of a span as written, without quotes and backslashes, and
 * percent-decoded: each is remembered. */
static void remember_value(const char *s, tm_span sp)
{
    size_t len = sp.end - sp.start;
    const char *v = s + sp.start;
    remember(v, len);
    char *plain = malloc(len + 1), *dec = malloc(len + 1);
    if (plain && dec) {
        size_t np = 0, nd = 0;
        for (size_t i = 0; i < len; i++) {
            if (v[i] == '\'' && (i == 0 || i == len - 1))
                continue;
            if (v[i] == '\\' && i + 1 < len)
                i++;
            plain[np++] = v[i];
        }
        remember(plain, np);
        for (size_t i = 0; i < len; i++) {
            int h = i + 2 < len && v[i] == '%' ? tm_hex_value(v[i + 1]) : -1;
            int l = h >= 0 ? tm_hex_value(v[i + 2]) : -1;
            if (l >= 0) {
                dec[nd++] = (char)(h * 16 + l);
                i += 2;
            } else {
                dec[nd++] = v[i];
            }
        }
        remember(dec, nd);
    }
    free(plain);
    free(dec);
}

void tm_secret_register(const char *conninfo)
{
    tm_span sp[32];
    size_t n = tm_secret_spans(conninfo, sp, 32);
    for (size_t k = 0; k < n && k < 32; k++)
        remember_value(conninfo, sp[k]);
}

void tm_secret_forget_all(void)
{
    for (size_t i = 0; i < n_registered; i++)
        free(registered[i]);
    n_registered = 0;
}

/* Marks in hide the bytes of in that are secrets. */
static void mark_secrets(const char *in, size_t n, bool *hide)
{
    for (size_t r = 0; r < n_registered; r++) {
        size_t rl = strlen(registered[r]);
        for (const char *p = in; (p = strstr(p, registered[r])) != NULL; p++)
            memset(hide + (p - in), 1, rl);
    }
    tm_span sp[64];
    size_t ns = tm_secret_spans(in, sp, 64);
    for (size_t k = 0; k < ns && k < 64; k++)
        memset(hide + sp[k].start, 1, sp[k].end - sp[k].start);
    if (ns > 64) /* more than we looked at: hide the rest of the text */
        memset(hide + sp[63].end, 1, n - sp[63].end);
}

void tm_secret_mask(const char *in, char *out, size_t len)
{
    if (len == 0)
        return;
    size_t n = strlen(in), o = 0;
    bool *hide = calloc(n + 1, sizeof *hide);
    if (!hide) {
        /* Nothing can be checked: say nothing rather than a secret. */
        strncpy(out, "(message withheld: out of memory)", len - 1);
        out[len - 1] = '\0';
        return;
    }
    mark_secrets(in, n, hide);
    for (size_t i = 0; i < n && o + 1 < len;) {
        if (!hide[i]) {
            out[o++] = in[i++];
            continue;
        }
        for (const char *m = TM_SECRET_MASK; *m && o + 1 < len;)
            out[o++] = *m++;
        while (i < n && hide[i])
            i++;
    }
    out[o] = '\0';
    free(hide);
}
