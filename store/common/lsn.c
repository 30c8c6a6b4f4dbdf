#include "store/common/lsn.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/common/hex.h"

static int parse_hex32(const char *s, const char **end, uint32_t *out)
{
    int n = 0;
    uint64_t v = 0;
    for (int d; (d = tm_hex_value(*s)) >= 0; s++, n++) {
        v = v * 16 + (uint64_t)d;
        if (n >= 8)
            return -1;
    }
    if (n == 0)
        return -1;
    *out = (uint32_t)v;
    *end = s;
    return 0;
}

int tm_lsn_parse(const char *s, uint64_t *lsn)
{
    uint32_t hi, lo;
    const char *p;
    if (!s || parse_hex32(s, &p, &hi) != 0 || *p != '/')
        return -1;
    if (parse_hex32(p + 1, &p, &lo) != 0 || *p != '\0')
        return -1;
    *lsn = ((uint64_t)hi << 32) | lo;
    return 0;
}

char *tm_lsn_format(uint64_t lsn, char *buf)
{
    snprintf(buf, TM_LSN_BUFLEN, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
    return buf;
}
