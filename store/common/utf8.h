/* Validating UTF-8 one sequence at a time (JSON checking and JSON string
 * output). Inline: output calls it for every non-ASCII character. */
#ifndef TM_UTF8_H
#define TM_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at p, of which avail (at least 1)
 * bytes may be read: 1 to 4, or 0 when none starts there (no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static inline size_t tm_utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

#endif
