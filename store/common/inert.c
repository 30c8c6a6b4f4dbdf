/* tm_inert: control characters escaped for printing (see inert.h). */
#include "store/common/inert.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p that is not a C1 control, or 0. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        return (p[1] & 0xC0) == 0x80 && !(p[0] == 0xC2 && p[1] < 0xA0) ? 2 : 0;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        lo = p[0] == 0xE0 ? 0xA0 : 0x80; /* not overlong */
        hi = p[0] == 0xED ? 0x9F : 0xBF; /* not a surrogate */
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        lo = p[0] == 0xF0 ? 0x90 : 0x80;
        hi = p[0] == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* The escape of byte c (a control or a stray byte) into e. */
static void escape(unsigned char c, char e[5])
{
    if (c == '\n' || c == '\r' || c == '\t')
        snprintf(e, 5, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
    else
        snprintf(e, 5, "\\x%02x", c);
}

static bool plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7F;
}

char *tm_inert(const char *s, char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t off = 0;
    while (*p) {
        char e[5];
        size_t n = plain(*p) ? 1 : *p >= 0x80 ? utf8_len(p) : 0;
        const char *piece = (const char *)p;
        if (n == 0) {
            escape(*p, e);
            piece = e;
        }
        size_t plen = n ? n : strlen(e);
        if (off + plen >= len)
            break;
        memcpy(buf + off, piece, plen);
        off += plen;
        p += n ? n : 1;
    }
    buf[off] = '\0';
    return buf;
}
