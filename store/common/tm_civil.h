/* Proleptic Gregorian calendar arithmetic, as PostgreSQL uses for dates and
 * timestamps. Years are astronomical: 1 BC is year 0, 2 BC is year -1.
 * Header-only (static inline) so that store/ and replay/ share one copy. */
#ifndef TM_CIVIL_H
#define TM_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

static inline bool tm_civil_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline int tm_civil_mdays(int64_t y, int m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && tm_civil_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a valid date. The year is shifted so that March
 * starts it (the leap day then ends a year), and counted in 400-year eras of
 * 146097 days. */
static inline int64_t tm_civil_to_days(int64_t y, int m, int d)
{
    if (m <= 2)
        y -= 1;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    return era * 146097 + doe - 719468;
}

/* Inverse of tm_civil_to_days. */
static inline void tm_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

#endif
