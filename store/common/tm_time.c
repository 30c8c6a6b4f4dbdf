#include "store/common/tm_time.h"

#include <stdio.h>
#include <time.h>

#include "store/common/tm_civil.h"

/* PostgreSQL's output for timestamptz with DateStyle=ISO and TimeZone=UTC:
 * the year has at least 4 digits, years before 1 AD are written as positive
 * years followed by " BC", and the fraction loses its trailing zeros.
 * Calendar arithmetic is our own (not gmtime) so that every int64 value
 * prints, whatever the platform's time_t range. */
char *tm_time_format(int64_t t, char *buf)
{
    int64_t days = t / INT64_C(86400000000), rem = t % INT64_C(86400000000);
    if (rem < 0) {
        rem += INT64_C(86400000000);
        days -= 1;
    }
    int64_t y;
    int m, d;
    tm_civil_from_days(days, &y, &m, &d);
    int secs = (int)(rem / 1000000), frac = (int)(rem % 1000000);
    int bc = y <= 0;
    int n = snprintf(buf, TM_TIME_BUFLEN, "%04lld-%02d-%02d %02d:%02d:%02d",
                     (long long)(bc ? 1 - y : y), m, d, secs / 3600, secs / 60 % 60, secs % 60);
    if (frac) {
        n += snprintf(buf + n, (size_t)(TM_TIME_BUFLEN - n), ".%06d", frac);
        while (buf[n - 1] == '0')
            buf[--n] = '\0';
    }
    snprintf(buf + n, (size_t)(TM_TIME_BUFLEN - n), bc ? "+00 BC" : "+00");
    return buf;
}

int64_t tm_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
