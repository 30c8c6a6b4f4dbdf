#include "replay/query/jsonscan.h"

#include <string.h>

#include "store/common/hex.h"
#include "store/common/utf8.h"

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && is_ws(*p))
        p++;
    return p;
}

/* p at the opening quote; returns just past the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

const char *tm_json_value(const char *p, const char *e, const char **start)
{
    p = skip_ws(p, e);
    if (p >= e)
        return NULL;
    *start = p;
    if (*p == '"')
        return skip_string(p, e);
    if (*p == '{' || *p == '[') {
        /* Brackets are counted, not matched: PostgreSQL already validated
         * the text, and a mismatch cannot make us read past e. */
        size_t depth = 0;
        while (p < e) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, e);
                if (!p)
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    if (*p == '}' || *p == ']' || *p == ',' || *p == ':')
        return NULL;
    while (p < e && !is_ws(*p) && *p != ',' && *p != '}' && *p != ']' && *p != ':')
        p++;
    return p;
}

bool tm_json_object_iter(tm_json_iter *it, const char *p, const char *e)
{
    p = skip_ws(p, e);
    it->e = e;
    it->first = true;
    it->done = false;
    it->bad = p >= e || *p != '{';
    it->p = it->bad ? e : p + 1;
    return !it->bad;
}

bool tm_json_object_next(tm_json_iter *it, const char **kp, const char **ke, const char **vp,
                         const char **ve)
{
    if (it->bad || it->done)
        return false;
    const char *p = skip_ws(it->p, it->e), *e = it->e;
    if (p < e && *p == '}') {
        it->p = p + 1;
        it->done = true;
        return false;
    }
    if (!it->first) {
        if (p >= e || *p != ',')
            goto bad;
        p = skip_ws(p + 1, e);
    }
    if (p >= e || *p != '"')
        goto bad;
    const char *kend = skip_string(p, e);
    if (!kend)
        goto bad;
    *kp = p + 1;
    *ke = kend - 1;
    p = skip_ws(kend, e);
    if (p >= e || *p != ':')
        goto bad;
    *ve = tm_json_value(p + 1, e, vp);
    if (!*ve)
        goto bad;
    it->p = *ve;
    it->first = false;
    return true;
bad:
    it->bad = true;
    return false;
}

bool tm_json_get(const char *p, const char *e, const char *key, size_t keylen, const char **vp,
                 const char **ve)
{
    tm_json_iter it;
    const char *kp, *ke, *mp, *me;
    bool found = false;
    if (!tm_json_object_iter(&it, p, e))
        return false;
    while (tm_json_object_next(&it, &kp, &ke, &mp, &me)) {
        if (tm_json_strcmp(kp, ke, key, keylen) == 0) {
            *vp = mp;
            *ve = me;
            found = true;
        }
    }
    return found && !it.bad;
}

/* Walks the array at p ('['): sets *found and the span of element stop
 * if it exists; returns the number of elements walked, -1 if malformed. */
static long long array_walk(const char *p, const char *e, long long stop, bool *found,
                            const char **vp, const char **ve)
{
    *found = false;
    p = skip_ws(p + 1, e);
    if (p < e && *p == ']')
        return 0;
    for (long long i = 0;; i++) {
        const char *s, *end = tm_json_value(p, e, &s);
        if (!end)
            return -1;
        if (i == stop) {
            *vp = s;
            *ve = end;
            *found = true;
            return i + 1;
        }
        p = skip_ws(end, e);
        if (p < e && *p == ']')
            return i + 1;
        if (p >= e || *p != ',')
            return -1;
        p++;
    }
}

bool tm_json_index(const char *p, const char *e, long long idx, bool scalar_as_array,
                   const char **vp, const char **ve)
{
    p = skip_ws(p, e);
    if (p >= e || *p == '{')
        return false;
    if (*p != '[') {
        if (!scalar_as_array || (idx != 0 && idx != -1))
            return false;
        const char *end = tm_json_value(p, e, vp);
        if (!end)
            return false;
        *ve = end;
        return true;
    }
    bool found;
    if (idx < 0) { /* count the elements first */
        long long n = array_walk(p, e, -1, &found, vp, ve);
        if (n < 0 || n + idx < 0)
            return false;
        idx += n;
    }
    array_walk(p, e, idx, &found, vp, ve);
    return found;
}

bool tm_json_text(const char *vp, const char *ve, const char **tp, const char **te, bool *is_string)
{
    if (ve - vp >= 2 && *vp == '"') {
        *tp = vp + 1;
        *te = ve - 1;
        *is_string = true;
        return true;
    }
    if (ve - vp == 4 && memcmp(vp, "null", 4) == 0)
        return false;
    *tp = vp;
    *te = ve;
    *is_string = false;
    return true;
}

/* Byte-at-a-time decoder of a JSON string body. */
typedef struct jdec {
    const char *p, *e;
    unsigned char buf[4];
    int n, i;
} jdec;

static int hex4(const char *p, const char *e)
{
    if (e - p < 4)
        return -1;
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int d = tm_hex_value(p[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static int utf8_put(unsigned char *b, unsigned cp)
{
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | cp >> 18);
    b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Next decoded byte, or -1 at the end. */
static int jdec_next(jdec *d)
{
    if (d->i < d->n)
        return d->buf[d->i++];
    if (d->p >= d->e)
        return -1;
    unsigned char c = (unsigned char)*d->p++;
    if (c != '\\' || d->p >= d->e)
        return c;
    c = (unsigned char)*d->p++;
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'u':
        break;
    default:
        return c; /* \" \\ \/ */
    }
    int cp = hex4(d->p, d->e);
    if (cp < 0)
        return 'u'; /* malformed escape: the rest reads literally */
    d->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && d->e - d->p >= 6 && d->p[0] == '\\' && d->p[1] == 'u') {
        int lo = hex4(d->p + 2, d->e);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            d->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD;
    d->n = utf8_put(d->buf, (unsigned)cp);
    d->i = 1;
    return d->buf[0];
}

int tm_json_strcmp(const char *p, const char *e, const char *s, size_t len)
{
    jdec d = {p, e, {0}, 0, 0};
    for (size_t k = 0;; k++) {
        int a = jdec_next(&d);
        if (k == len)
            return a < 0 ? 0 : 1;
        if (a < 0)
            return -1;
        int b = (unsigned char)s[k];
        if (a != b)
            return a < b ? -1 : 1;
    }
}

size_t tm_json_unescape(const char *p, const char *e, char *out)
{
    jdec d = {p, e, {0}, 0, 0};
    size_t n = 0;
    for (int c; (c = jdec_next(&d)) >= 0;)
        out[n++] = (char)c;
    return n;
}

/* ---- strict checking ------------------------------------------------------ */

/* p at the opening quote: past the closing quote, or NULL. */
static const char *check_string(const char *p, const char *e)
{
    for (p++; p < e;) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if (++p >= e)
                return NULL;
            if (*p == 'u') {
                if (hex4(p + 1, e) < 0)
                    return NULL;
                p += 5;
            } else if (*p && strchr("\"\\/bfnrt", *p)) {
                p++;
            } else {
                return NULL;
            }
            continue;
        }
        size_t n = tm_utf8_len((const unsigned char *)p, (size_t)(e - p));
        if (!n)
            return NULL;
        p += n;
    }
    return NULL;
}

const char *tm_json_number_end(const char *p, const char *e)
{
#define DIGIT(q) ((q) < e && *(q) >= '0' && *(q) <= '9')
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (DIGIT(p))
        while (DIGIT(p))
            p++;
    else
        return NULL;
    if (p < e && *p == '.') {
        p++;
        if (!DIGIT(p))
            return NULL;
        while (DIGIT(p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (!DIGIT(p))
            return NULL;
        while (DIGIT(p))
            p++;
    }
#undef DIGIT
    return p;
}

static const char *check_word(const char *p, const char *e, const char *w)
{
    size_t n = strlen(w);
    return (size_t)(e - p) >= n && !memcmp(p, w, n) ? p + n : NULL;
}

bool tm_json_check(const char *p, const char *e)
{
    /* An explicit stack of open containers: '{' or '['. */
    char stack[256];
    size_t depth = 0;
    for (;;) {
        /* A value. */
        p = skip_ws(p, e);
        if (p >= e)
            return false;
        if (*p == '{' || *p == '[') {
            if (depth == sizeof stack)
                return false;
            stack[depth++] = *p++;
            p = skip_ws(p, e);
            if (p < e && *p == (stack[depth - 1] == '{' ? '}' : ']')) {
                p++;
                depth--;
                goto after_value;
            }
            if (stack[depth - 1] == '{')
                goto member_key;
            continue;
        }
        if (*p == '"')
            p = check_string(p, e);
        else if (*p == '-' || (*p >= '0' && *p <= '9'))
            p = tm_json_number_end(p, e);
        else if (*p == 't')
            p = check_word(p, e, "true");
        else if (*p == 'f')
            p = check_word(p, e, "false");
        else if (*p == 'n')
            p = check_word(p, e, "null");
        else
            return false;
        if (!p)
            return false;
    after_value:
        p = skip_ws(p, e);
        if (depth == 0)
            return p == e;
        if (p >= e)
            return false;
        if (*p == (stack[depth - 1] == '{' ? '}' : ']')) {
            p++;
            depth--;
            goto after_value;
        }
        if (*p != ',')
            return false;
        p++;
        if (stack[depth - 1] == '[')
            continue;
    member_key:
        p = skip_ws(p, e);
        if (p >= e || *p != '"' || !(p = check_string(p, e)))
            return false;
        p = skip_ws(p, e);
        if (p >= e || *p != ':')
            return false;
        p++;
    }
}
