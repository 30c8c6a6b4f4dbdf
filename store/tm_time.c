#include "tm_time.h"

#include <stdio.h>
#include <time.h>

char *tm_time_format(int64_t t, char *buf)
{
    int64_t secs = t / 1000000, frac = t % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    time_t tt = (time_t)secs;
    struct tm tmv;
    gmtime_r(&tt, &tmv);
    int n = (int)strftime(buf, TM_TIME_BUFLEN, "%Y-%m-%d %H:%M:%S", &tmv);
    if (frac) {
        n += snprintf(buf + n, (size_t)(TM_TIME_BUFLEN - n), ".%06lld", (long long)frac);
        while (buf[n - 1] == '0')
            buf[--n] = '\0';
    }
    snprintf(buf + n, (size_t)(TM_TIME_BUFLEN - n), "+00");
    return buf;
}

int64_t tm_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
