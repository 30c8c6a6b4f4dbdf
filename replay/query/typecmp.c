#include "replay/query/typecmp.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/hex.h"
#include "store/common/tm_civil.h"

__extension__ typedef __int128 i128;

#define USEC_PER_DAY INT64_C(86400000000)

/* ---- classes ---------------------------------------------------------- */

static const struct {
    uint32_t oid;
    tm_tclass c;
} builtin_oids[] = {
    {16, TM_TC_BOOL},        {17, TM_TC_TEXT},          {18, TM_TC_TEXT},
    {19, TM_TC_TEXT},        {20, TM_TC_INT},           {21, TM_TC_INT},
    {23, TM_TC_INT},         {25, TM_TC_TEXT},          {26, TM_TC_INT},
    {28, TM_TC_INT},         {29, TM_TC_INT},           {114, TM_TC_JSON},
    {700, TM_TC_FLOAT4},     {701, TM_TC_FLOAT8},       {1042, TM_TC_BPCHAR},
    {1043, TM_TC_TEXT},      {1082, TM_TC_DATE},        {1083, TM_TC_TIME},
    {1114, TM_TC_TIMESTAMP}, {1184, TM_TC_TIMESTAMPTZ}, {1186, TM_TC_INTERVAL},
    {1700, TM_TC_NUMERIC},   {2950, TM_TC_UUID},        {3802, TM_TC_JSONB},
    {5069, TM_TC_INT},
};

/* format_type() spellings (typmods removed) and the internal names. */
static const struct {
    const char *name;
    tm_tclass c;
} builtin_names[] = {
    {"boolean", TM_TC_BOOL},
    {"bool", TM_TC_BOOL},
    {"smallint", TM_TC_INT},
    {"integer", TM_TC_INT},
    {"bigint", TM_TC_INT},
    {"int2", TM_TC_INT},
    {"int4", TM_TC_INT},
    {"int8", TM_TC_INT},
    {"int", TM_TC_INT},
    {"oid", TM_TC_INT},
    {"xid", TM_TC_INT},
    {"xid8", TM_TC_INT},
    {"cid", TM_TC_INT},
    {"numeric", TM_TC_NUMERIC},
    {"decimal", TM_TC_NUMERIC},
    {"real", TM_TC_FLOAT4},
    {"double precision", TM_TC_FLOAT8},
    {"float4", TM_TC_FLOAT4},
    {"float8", TM_TC_FLOAT8},
    {"character", TM_TC_BPCHAR},
    {"bpchar", TM_TC_BPCHAR},
    {"date", TM_TC_DATE},
    {"time without time zone", TM_TC_TIME},
    {"time", TM_TC_TIME},
    {"timestamp without time zone", TM_TC_TIMESTAMP},
    {"timestamp", TM_TC_TIMESTAMP},
    {"timestamp with time zone", TM_TC_TIMESTAMPTZ},
    {"timestamptz", TM_TC_TIMESTAMPTZ},
    {"interval", TM_TC_INTERVAL},
    {"uuid", TM_TC_UUID},
    {"json", TM_TC_JSON},
    {"jsonb", TM_TC_JSONB},
};

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

tm_tclass tm_type_class(uint32_t type_oid, const char *type_name)
{
    for (size_t i = 0; i < sizeof builtin_oids / sizeof builtin_oids[0]; i++)
        if (builtin_oids[i].oid == type_oid)
            return builtin_oids[i].c;
    if (!type_name)
        return TM_TC_TEXT;
    /* Normalise "pg_catalog.Timestamp(3) With Time Zone" to
     * "timestamp with time zone": lower case, typmods dropped, single spaces. */
    char norm[64] = "";
    size_t n = 0;
    int depth = 0;
    if (!strncmp(type_name, "pg_catalog.", 11))
        type_name += 11;
    for (const char *p = type_name; *p; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        else if (depth == 0 && is_space(*p)) {
            if (n && norm[n - 1] != ' ')
                norm[n++] = ' ';
        } else if (depth == 0)
            norm[n++] = lower(*p);
        if (n >= sizeof norm - 1)
            return TM_TC_TEXT;
    }
    while (n && norm[n - 1] == ' ')
        n--;
    norm[n] = '\0';
    for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
        if (!strcmp(norm, builtin_names[i].name))
            return builtin_names[i].c;
    return TM_TC_TEXT; /* arrays ("integer[]"), domains, enums, user types */
}

const char *tm_tclass_name(tm_tclass c)
{
    switch (c) {
    case TM_TC_TEXT:
        return "text";
    case TM_TC_BPCHAR:
        return "character";
    case TM_TC_INT:
        return "integer";
    case TM_TC_NUMERIC:
        return "numeric";
    case TM_TC_FLOAT4:
        return "real";
    case TM_TC_FLOAT8:
        return "double precision";
    case TM_TC_BOOL:
        return "boolean";
    case TM_TC_DATE:
        return "date";
    case TM_TC_TIME:
        return "time";
    case TM_TC_TIMESTAMP:
        return "timestamp";
    case TM_TC_TIMESTAMPTZ:
        return "timestamp with time zone";
    case TM_TC_INTERVAL:
        return "interval";
    case TM_TC_UUID:
        return "uuid";
    case TM_TC_JSON:
        return "json";
    case TM_TC_JSONB:
        return "jsonb";
    }
    return "text";
}

/* ---- helpers ---------------------------------------------------------- */

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r < 0 ? -1 : 1;
    return (alen > blen) - (alen < blen);
}

static void trim(const char **p, const char **e)
{
    while (*p < *e && is_space(**p))
        (*p)++;
    while (*e > *p && is_space((*e)[-1]))
        (*e)--;
}

/* Case-insensitive: is [p, e) exactly the word w? */
static bool word_is(const char *p, const char *e, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(e - p) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != w[i])
            return false;
    return true;
}

/* Reads 1..max digits (more is a failure) into *v. */
static bool digits(const char **p, const char *e, int min, int max, int64_t *v)
{
    const char *s = *p;
    int64_t x = 0;
    int n = 0;
    while (s < e && is_digit(*s)) {
        if (n < 18)
            x = x * 10 + (*s - '0');
        n++, s++;
    }
    if (n < min || n > max)
        return false;
    *p = s;
    *v = x;
    return true;
}

/* Orders a malformed value after every well-formed one. */
static int order_malformed(bool va, bool vb, const char *a, size_t alen, const char *b, size_t blen)
{
    if (va != vb)
        return va ? -1 : 1;
    return cmp_bytes(a, alen, b, blen);
}

/* ---- numbers ---------------------------------------------------------- */

/* A decimal as written: value = 0.DIGITS * 10^exp, DIGITS running from the
 * first significant digit to `end` (a '.' inside is skipped). Nothing is
 * converted, so numbers of any length compare exactly. */
typedef struct dec {
    int rank; /* 0 -Infinity, 1 finite, 2 Infinity, 3 NaN: PostgreSQL's order */
    int sign; /* finite only: -1, 0, 1 */
    const char *dig, *end;
    int64_t exp;
} dec;

static bool dec_parse(const char *p, const char *e, dec *d)
{
    trim(&p, &e);
    bool neg = false;
    if (p < e && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    if (word_is(p, e, "nan")) {
        d->rank = 3;
        return true;
    }
    if (word_is(p, e, "infinity") || word_is(p, e, "inf")) {
        d->rank = neg ? 0 : 2;
        return true;
    }
    d->rank = 1;
    int64_t intd = 0, ndig = 0, lead = 0;
    const char *first = NULL;
    bool dot = false;
    for (; p < e; p++) {
        if (is_digit(*p)) {
            if (!first && *p != '0') {
                first = p;
                lead = ndig;
            }
            ndig++;
            intd += !dot;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (!ndig)
        return false;
    const char *mend = p;
    int64_t x = 0;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < e && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == e || !is_digit(*p))
            return false;
        for (; p < e && is_digit(*p); p++)
            if (x < INT64_C(1000000000000000)) /* saturate: still exact in order */
                x = x * 10 + (*p - '0');
        x = eneg ? -x : x;
    }
    if (p != e)
        return false;
    if (!first) {
        d->sign = 0;
        return true;
    }
    d->sign = neg ? -1 : 1;
    d->dig = first;
    d->end = mend;
    d->exp = intd - lead + x;
    return true;
}

static int dec_cmp_mag(const dec *a, const dec *b)
{
    if (a->exp != b->exp)
        return a->exp < b->exp ? -1 : 1;
    const char *p = a->dig, *q = b->dig;
    for (;;) {
        if (p < a->end && *p == '.')
            p++;
        if (q < b->end && *q == '.')
            q++;
        if (p == a->end || q == b->end)
            break;
        if (*p != *q)
            return *p < *q ? -1 : 1;
        p++, q++;
    }
    for (; p < a->end; p++)
        if (*p > '0' && *p <= '9')
            return 1;
    for (; q < b->end; q++)
        if (*q > '0' && *q <= '9')
            return -1;
    return 0;
}

static int dec_cmp(const dec *a, const dec *b)
{
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->rank != 1)
        return 0;
    if (a->sign != b->sign)
        return a->sign < b->sign ? -1 : 1;
    if (a->sign == 0)
        return 0;
    int m = dec_cmp_mag(a, b);
    return a->sign < 0 ? -m : m;
}

/* Floats compare as the binary values PostgreSQL holds: two spellings of
 * one double ("4.9e-324" and "5e-324") are equal, which a decimal
 * comparison would miss. The syntax is checked by dec_parse first; the
 * conversion uses the C locale whatever the process locale is. */
typedef struct flt {
    int rank; /* as dec */
    double v;
} flt;

static locale_t c_locale(void)
{
    static locale_t loc;
    if (!loc)
        loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    return loc;
}

static bool flt_parse(tm_tclass c, const char *p, const char *e, flt *f)
{
    dec d;
    if (!dec_parse(p, e, &d))
        return false;
    f->rank = d.rank;
    f->v = 0;
    if (d.rank != 1)
        return true;
    trim(&p, &e);
    char buf[128];
    size_t n = (size_t)(e - p);
    locale_t loc = c_locale();
    if (n >= sizeof buf || !loc)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    errno = 0;
    if (c == TM_TC_FLOAT4)
        f->v = strtof_l(buf, NULL, loc);
    else
        f->v = strtod_l(buf, NULL, loc);
    /* Out of range, as PostgreSQL's float input says; subnormals are fine. */
    return !(errno == ERANGE && (f->v == 0 || isinf(f->v)));
}

static int flt_cmp(const flt *a, const flt *b)
{
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    return (a->v > b->v) - (a->v < b->v);
}

/* ---- booleans --------------------------------------------------------- */

/* PostgreSQL's boolean input: t/true/y/yes/on/1 and f/false/n/no/off/0, case
 * insensitive, any unambiguous prefix. Returns 0, 1, or -1. */
static int bool_parse(const char *p, const char *e)
{
    trim(&p, &e);
    size_t n = (size_t)(e - p);
    if (!n)
        return -1;
    static const struct {
        const char *w;
        size_t min;
        int v;
    } words[] = {{"true", 1, 1},  {"yes", 1, 1}, {"on", 2, 1},  {"1", 1, 1},
                 {"false", 1, 0}, {"no", 1, 0},  {"off", 2, 0}, {"0", 1, 0}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t wl = strlen(words[i].w);
        if (n < words[i].min || n > wl)
            continue;
        size_t k = 0;
        while (k < n && lower(p[k]) == words[i].w[k])
            k++;
        if (k == n)
            return words[i].v;
    }
    return -1;
}

/* ---- dates and times -------------------------------------------------- */

typedef struct when {
    int inf; /* -1 -infinity, 0 finite, 1 infinity */
    int64_t days, usec;
} when;

/* HH:MM[:SS[.ffffff]], hours up to max_hour (more digits allowed for
 * intervals); 24:00:00 exactly is allowed for times of day. */
static bool parse_clock(const char **pp, const char *e, int max_hour_digits, int64_t *usec)
{
    const char *p = *pp;
    int64_t h, m, s = 0, f = 0;
    if (!digits(&p, e, 1, max_hour_digits, &h) || p >= e || *p != ':')
        return false;
    p++;
    if (!digits(&p, e, 2, 2, &m) || m > 59)
        return false;
    if (p < e && *p == ':') {
        p++;
        if (!digits(&p, e, 2, 2, &s) || s > 60)
            return false;
        if (p < e && *p == '.') {
            p++;
            const char *fs = p;
            if (!digits(&p, e, 1, 6, &f))
                return false;
            for (int n = (int)(p - fs); n < 6; n++)
                f *= 10;
        }
    }
    *usec = ((h * 60 + m) * 60 + s) * 1000000 + f;
    *pp = p;
    return true;
}

/* Z, UTC, +HH, +HH:MM, +HH:MM:SS, +HHMM (or -). */
static bool parse_zone(const char **pp, const char *e, int64_t *secs)
{
    const char *p = *pp;
    if (p < e && (*p == 'Z' || *p == 'z')) {
        *secs = 0;
        *pp = p + 1;
        return true;
    }
    if (e - p >= 3 && word_is(p, p + 3, "utc")) {
        *secs = 0;
        *pp = p + 3;
        return true;
    }
    if (p >= e || (*p != '+' && *p != '-'))
        return false;
    int sign = *p++ == '-' ? -1 : 1;
    int64_t h, m = 0, s = 0;
    const char *q = p;
    int64_t run;
    if (!digits(&q, e, 1, 6, &run))
        return false;
    int n = (int)(q - p);
    if (n <= 2) {
        h = run;
        p = q;
        if (p < e && *p == ':') {
            p++;
            if (!digits(&p, e, 2, 2, &m))
                return false;
            if (p < e && *p == ':') {
                p++;
                if (!digits(&p, e, 2, 2, &s))
                    return false;
            }
        }
    } else if (n == 4) {
        h = run / 100, m = run % 100, p = q;
    } else {
        return false;
    }
    if (h > 15 || m > 59 || s > 59)
        return false;
    *secs = sign * (h * 3600 + m * 60 + s);
    *pp = p;
    return true;
}

/* date, timestamp and timestamptz in ISO output form (and the literal forms
 * tm_time_parse reads): YYYY-MM-DD[( |T)HH:MM[:SS[.f]]][zone][ BC|AD], or
 * [+-]infinity. A timestamp without time zone ignores a zone, as PostgreSQL
 * does; a date ignores the time. */
static bool when_parse(tm_tclass c, const char *p, const char *e, when *w)
{
    trim(&p, &e);
    w->days = w->usec = 0;
    w->inf = 0;
    if (word_is(p, e, "infinity") || word_is(p, e, "+infinity")) {
        w->inf = 1;
        return true;
    }
    if (word_is(p, e, "-infinity")) {
        w->inf = -1;
        return true;
    }
    int64_t y, mo, d, usec = 0, zone = 0;
    if (!digits(&p, e, 4, 7, &y) || p >= e || *p++ != '-' || !digits(&p, e, 1, 2, &mo) || p >= e ||
        *p++ != '-' || !digits(&p, e, 1, 2, &d))
        return false;
    const char *q = p;
    if (q < e && (*q == 'T' || *q == 't'))
        q++;
    else
        while (q < e && *q == ' ')
            q++;
    if (q > p && q < e && is_digit(*q)) {
        if (!parse_clock(&q, e, 2, &usec) || usec > USEC_PER_DAY)
            return false;
        p = q;
        while (q < e && *q == ' ')
            q++;
        if (c != TM_TC_DATE && parse_zone(&q, e, &zone))
            p = q;
    }
    bool bc = false;
    q = p;
    while (q < e && *q == ' ')
        q++;
    if (q > p && e - q == 2 && (word_is(q, e, "bc") || word_is(q, e, "ad"))) {
        bc = lower(*q) == 'b';
        p = e;
    }
    if (p != e || y == 0 || mo < 1 || mo > 12)
        return false;
    if (bc)
        y = 1 - y;
    if (d < 1 || d > tm_civil_mdays(y, (int)mo))
        return false;
    w->days = tm_civil_to_days(y, (int)mo, (int)d);
    if (c == TM_TC_DATE)
        return true;
    w->usec = usec;
    if (c == TM_TC_TIMESTAMPTZ)
        w->usec -= zone * 1000000;
    while (w->usec < 0)
        w->usec += USEC_PER_DAY, w->days--;
    while (w->usec >= USEC_PER_DAY)
        w->usec -= USEC_PER_DAY, w->days++;
    return true;
}

static int when_cmp(const when *a, const when *b)
{
    if (a->inf != b->inf)
        return a->inf < b->inf ? -1 : 1;
    if (a->days != b->days)
        return a->days < b->days ? -1 : 1;
    return (a->usec > b->usec) - (a->usec < b->usec);
}

static bool time_parse(const char *p, const char *e, int64_t *usec)
{
    trim(&p, &e);
    return parse_clock(&p, e, 2, usec) && p == e && *usec <= USEC_PER_DAY;
}

/* ---- intervals -------------------------------------------------------- */

/* IntervalStyle=postgres output ("1 year 2 mons -3 days +04:05:06.5") and
 * the usual typed forms ("90 minutes", "2 weeks", "1 day ago"). The value
 * is the span PostgreSQL compares: months count 30 days, days 24 hours. */
static bool interval_parse(const char *p, const char *e, i128 *span)
{
    static const struct {
        const char *unit;
        int64_t months, days, usec;
    } units[] = {
        {"year", 12, 0, 0},
        {"years", 12, 0, 0},
        {"y", 12, 0, 0},
        {"mon", 1, 0, 0},
        {"mons", 1, 0, 0},
        {"month", 1, 0, 0},
        {"months", 1, 0, 0},
        {"week", 0, 7, 0},
        {"weeks", 0, 7, 0},
        {"day", 0, 1, 0},
        {"days", 0, 1, 0},
        {"d", 0, 1, 0},
        {"hour", 0, 0, 3600000000},
        {"hours", 0, 0, 3600000000},
        {"h", 0, 0, 3600000000},
        {"minute", 0, 0, 60000000},
        {"minutes", 0, 0, 60000000},
        {"min", 0, 0, 60000000},
        {"mins", 0, 0, 60000000},
        {"second", 0, 0, 1000000},
        {"seconds", 0, 0, 1000000},
        {"sec", 0, 0, 1000000},
        {"secs", 0, 0, 1000000},
        {"s", 0, 0, 1000000},
        {"millisecond", 0, 0, 1000},
        {"milliseconds", 0, 0, 1000},
        {"ms", 0, 0, 1000},
        {"microsecond", 0, 0, 1},
        {"microseconds", 0, 0, 1},
        {"us", 0, 0, 1},
    };
    trim(&p, &e);
    i128 total = 0;
    int terms = 0;
    bool ago = false;
    if (p < e && *p == '@')
        p++;
    for (;;) {
        while (p < e && is_space(*p))
            p++;
        if (p == e)
            break;
        if (ago || ++terms > 16) /* "ago" ends the value; bound the sum */
            return false;
        const char *w = p;
        while (p < e && !is_space(*p))
            p++;
        if (word_is(w, p, "ago")) {
            ago = true;
            continue;
        }
        const char *q = w;
        int sign = 1;
        if (*q == '+' || *q == '-')
            sign = *q++ == '-' ? -1 : 1;
        int64_t n, usec;
        const char *r = q;
        if (digits(&r, p, 1, 18, &n) && r < p && *r == ':') {
            if (!parse_clock(&q, p, 18, &usec) || q != p)
                return false;
            total += (i128)sign * usec;
            continue;
        }
        if (!digits(&q, p, 1, 18, &n))
            return false;
        const char *unit = q, *uend = p;
        if (unit == uend) { /* "3 days": the unit is the next word */
            while (p < e && is_space(*p))
                p++;
            unit = p;
            while (p < e && !is_space(*p))
                p++;
            uend = p;
        }
        size_t i = 0, nu = sizeof units / sizeof units[0];
        while (i < nu && !word_is(unit, uend, units[i].unit))
            i++;
        if (i == nu)
            return false;
        total += (i128)sign * n *
                 (((i128)units[i].months * 30 + units[i].days) * USEC_PER_DAY + units[i].usec);
    }
    if (!terms)
        return false;
    *span = ago ? -total : total;
    return true;
}

/* ---- uuids ------------------------------------------------------------ */

/* 32 hex digits, optionally in braces, a '-' allowed after any group of four
 * digits (as PostgreSQL's uuid input). */
static bool uuid_parse(const char *p, const char *e, unsigned char out[16])
{
    trim(&p, &e);
    if (p < e && *p == '{') {
        if (e - p < 2 || e[-1] != '}')
            return false;
        p++, e--;
    }
    int n = 0;
    for (; p < e; p++) {
        if (*p == '-' && n && n % 4 == 0 && n < 32 && p + 1 < e && p[1] != '-')
            continue;
        int v = tm_hex_value(*p);
        if (v < 0 || n == 32)
            return false;
        if (n % 2 == 0)
            out[n / 2] = (unsigned char)(v << 4);
        else
            out[n / 2] |= (unsigned char)v;
        n++;
    }
    return n == 32;
}

/* ---- fast paths ------------------------------------------------------- */

/* Sorting a table compares the same few shapes millions of times; these
 * recognise PostgreSQL's canonical output and compare it without a full
 * parse. Anything else takes the general path, so results are identical. */

static bool small_int(const char *p, size_t n, int64_t *v)
{
    size_t i = n && p[0] == '-';
    if (i == n || n - i > 18)
        return false;
    int64_t x = 0;
    for (; i < n; i++) {
        if (!is_digit(p[i]))
            return false;
        x = x * 10 + (p[i] - '0');
    }
    *v = n && p[0] == '-' ? -x : x;
    return true;
}

static bool dg(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "YYYY-MM-DD", a valid AD date with a 4-digit year. */
static bool iso_date(const char *s)
{
    if (!(dg(s[0]) && dg(s[1]) && dg(s[2]) && dg(s[3]) && s[4] == '-' && dg(s[5]) && dg(s[6]) &&
          s[7] == '-' && dg(s[8]) && dg(s[9])))
        return false;
    int m = two(s + 5), d = two(s + 8);
    if (m < 1 || m > 12 || d < 1 || (s[0] == '0' && s[1] == '0' && s[2] == '0' && s[3] == '0'))
        return false;
    return d <= 28 || d <= tm_civil_mdays(two(s) * 100 + two(s + 2), m);
}

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" (+ "+00" for timestamptz) as PostgreSQL
 * prints an AD time with a 4-digit year, the fraction without trailing
 * zeros: then bytewise order, shorter first, is chronological. Returns the
 * length before the offset, or 0 when s has another shape. */
static size_t iso_shape(const char *s, size_t n, bool utc_suffix)
{
    size_t slen = utc_suffix ? 3 : 0;
    if (n < 19 + slen || (utc_suffix && (s[n - 3] != '+' || s[n - 2] != '0' || s[n - 1] != '0')) ||
        !iso_date(s))
        return 0;
    if (!(s[10] == ' ' && dg(s[11]) && dg(s[12]) && s[13] == ':' && dg(s[14]) && dg(s[15]) &&
          s[16] == ':' && dg(s[17]) && dg(s[18])))
        return 0;
    if (two(s + 11) > 23 || s[14] > '5' || s[17] > '5')
        return 0;
    n -= slen;
    if (n == 19)
        return n;
    if (n == 20 || s[19] != '.' || s[n - 1] == '0')
        return 0;
    for (size_t i = 20; i < n; i++)
        if (!dg(s[i]))
            return 0;
    return n;
}

/* ---- entry points ----------------------------------------------------- */

int tm_typecmp(tm_tclass c, const char *a, size_t alen, const char *b, size_t blen)
{
    const char *ae = a + alen, *be = b + blen;
    switch (c) {
    case TM_TC_BPCHAR:
        /* character(n) compares without its padding (bpcharcmp). */
        while (alen && a[alen - 1] == ' ')
            alen--;
        while (blen && b[blen - 1] == ' ')
            blen--;
        return cmp_bytes(a, alen, b, blen);
    case TM_TC_FLOAT4:
    case TM_TC_FLOAT8: {
        flt x, y;
        bool vx = flt_parse(c, a, ae, &x), vy = flt_parse(c, b, be, &y);
        return vx && vy ? flt_cmp(&x, &y) : order_malformed(vx, vy, a, alen, b, blen);
    }
    case TM_TC_INT: {
        int64_t x, y;
        if (small_int(a, alen, &x) && small_int(b, blen, &y))
            return (x > y) - (x < y);
    }
        /* fall through */
    case TM_TC_NUMERIC: {
        dec x, y;
        bool vx = dec_parse(a, ae, &x), vy = dec_parse(b, be, &y);
        return vx && vy ? dec_cmp(&x, &y) : order_malformed(vx, vy, a, alen, b, blen);
    }
    case TM_TC_BOOL: {
        int x = bool_parse(a, ae), y = bool_parse(b, be);
        return x >= 0 && y >= 0 ? (x > y) - (x < y)
                                : order_malformed(x >= 0, y >= 0, a, alen, b, blen);
    }
    case TM_TC_DATE:
    case TM_TC_TIMESTAMP:
    case TM_TC_TIMESTAMPTZ: {
        if (c == TM_TC_DATE && alen == 10 && blen == 10 && iso_date(a) && iso_date(b))
            return cmp_bytes(a, alen, b, blen);
        if (c != TM_TC_DATE) {
            bool tz = c == TM_TC_TIMESTAMPTZ;
            size_t an = iso_shape(a, alen, tz), bn = an ? iso_shape(b, blen, tz) : 0;
            if (bn)
                return cmp_bytes(a, an, b, bn);
        }
        when x, y;
        bool vx = when_parse(c, a, ae, &x), vy = when_parse(c, b, be, &y);
        return vx && vy ? when_cmp(&x, &y) : order_malformed(vx, vy, a, alen, b, blen);
    }
    case TM_TC_TIME: {
        int64_t x, y;
        bool vx = time_parse(a, ae, &x), vy = time_parse(b, be, &y);
        return vx && vy ? (x > y) - (x < y) : order_malformed(vx, vy, a, alen, b, blen);
    }
    case TM_TC_INTERVAL: {
        i128 x, y;
        bool vx = interval_parse(a, ae, &x), vy = interval_parse(b, be, &y);
        return vx && vy ? (x > y) - (x < y) : order_malformed(vx, vy, a, alen, b, blen);
    }
    case TM_TC_UUID: {
        unsigned char x[16], y[16];
        bool vx = uuid_parse(a, ae, x), vy = uuid_parse(b, be, y);
        if (!vx || !vy)
            return order_malformed(vx, vy, a, alen, b, blen);
        int r = memcmp(x, y, 16);
        return (r > 0) - (r < 0);
    }
    case TM_TC_TEXT:
    case TM_TC_JSON:
    case TM_TC_JSONB:
        break;
    }
    return cmp_bytes(a, alen, b, blen);
}

bool tm_type_valid(tm_tclass c, const char *s, size_t len)
{
    const char *e = s + len;
    switch (c) {
    case TM_TC_INT:
    case TM_TC_NUMERIC: {
        dec d;
        return dec_parse(s, e, &d);
    }
    case TM_TC_FLOAT4:
    case TM_TC_FLOAT8: {
        flt f;
        return flt_parse(c, s, e, &f);
    }
    case TM_TC_BOOL:
        return bool_parse(s, e) >= 0;
    case TM_TC_DATE:
    case TM_TC_TIMESTAMP:
    case TM_TC_TIMESTAMPTZ: {
        when w;
        return when_parse(c, s, e, &w);
    }
    case TM_TC_TIME: {
        int64_t u;
        return time_parse(s, e, &u);
    }
    case TM_TC_INTERVAL: {
        i128 v;
        return interval_parse(s, e, &v);
    }
    case TM_TC_UUID: {
        unsigned char u[16];
        return uuid_parse(s, e, u);
    }
    default:
        return true;
    }
}
