/* Timestamps: the forms tm_time_parse accepts, its rejections, named zones
 * (including DST gaps and overlaps, checked against PostgreSQL 15's answers),
 * and tm_time_format in PostgreSQL's output style with round trips. */
#include <check.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/common/tm_civil.h"
#include "store/common/tm_time.h"
#include "tests/harness/tm_check.h"

/* Unix microseconds of a UTC calendar time, computed independently of the
 * parser through the civil-day helper (itself checked below). */
static int64_t utc(int64_t y, int mo, int d, int h, int mi, int s, int us)
{
    return (tm_civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * INT64_C(1000000) + us;
}

static int64_t parse_ok(const char *s, const char *tz)
{
    int64_t t = 0;
    tm_error err = {0};
    ck_assert_msg(tm_time_parse(s, tz, &t, &err) == 0, "rejected '%s' (tz %s): %s", s,
                  tz ? tz : "NULL", err.msg);
    return t;
}

START_TEST(civil_days)
{
    ck_assert_int_eq(tm_civil_to_days(1970, 1, 1), 0);
    ck_assert_int_eq(tm_civil_to_days(2000, 1, 1), 10957);
    ck_assert_int_eq(tm_civil_to_days(2000, 3, 1), 11017); /* 2000 is leap: 31+29 */
    ck_assert_int_eq(tm_civil_to_days(1969, 12, 31), -1);
    ck_assert_int_eq(tm_civil_to_days(1900, 3, 1) - tm_civil_to_days(1900, 2, 28), 1);
    /* Every day from 4713 BC to 3000 AD maps back to itself and the next
     * day number is the next calendar day. */
    int64_t y;
    int m, d;
    int64_t prev_y = -4712;
    int prev_m = 1, prev_d = 1;
    for (int64_t n = tm_civil_to_days(-4712, 1, 1) + 1; n < tm_civil_to_days(3000, 1, 1); n++) {
        tm_civil_from_days(n, &y, &m, &d);
        if (tm_civil_to_days(y, m, d) != n) /* ck_assert per day would be slow */
            ck_abort_msg("day %lld does not round-trip", (long long)n);
        bool next = (y == prev_y && m == prev_m && d == prev_d + 1) ||
                    (y == prev_y && m == prev_m + 1 && d == 1 &&
                     prev_d == tm_civil_mdays(prev_y, prev_m)) ||
                    (y == prev_y + 1 && m == 1 && d == 1 && prev_m == 12 && prev_d == 31);
        if (!next)
            ck_abort_msg("day %lld follows %lld-%d-%d with %lld-%d-%d", (long long)n,
                         (long long)prev_y, prev_m, prev_d, (long long)y, m, d);
        prev_y = y, prev_m = m, prev_d = d;
    }
}
END_TEST

START_TEST(format_like_postgres)
{
    /* Expected strings are what PostgreSQL 15 prints with TimeZone=UTC. */
    char buf[TM_TIME_BUFLEN];
    ck_assert_str_eq(tm_time_format(0, buf), "1970-01-01 00:00:00+00");
    ck_assert_str_eq(tm_time_format(utc(2026, 11, 22, 14, 3, 12, 500000), buf),
                     "2026-11-22 14:03:12.5+00");
    ck_assert_str_eq(tm_time_format(utc(2026, 11, 22, 14, 3, 12, 123456), buf),
                     "2026-11-22 14:03:12.123456+00");
    ck_assert_str_eq(tm_time_format(utc(2026, 11, 22, 14, 3, 12, 1), buf),
                     "2026-11-22 14:03:12.000001+00");
    ck_assert_str_eq(tm_time_format(-1, buf), "1969-12-31 23:59:59.999999+00");
    ck_assert_str_eq(tm_time_format(utc(99, 1, 1, 0, 0, 0, 0), buf), "0099-01-01 00:00:00+00");
    ck_assert_str_eq(tm_time_format(utc(-43, 3, 15, 0, 0, 0, 0), buf), "0044-03-15 00:00:00+00 BC");
    ck_assert_str_eq(tm_time_format(utc(10000, 1, 1, 0, 0, 0, 0), buf), "10000-01-01 00:00:00+00");
    ck_assert_str_eq(tm_time_format(TM_PG_EPOCH_US, buf), "2000-01-01 00:00:00+00");
    /* Extremes print without overflowing the buffer. */
    tm_time_format(INT64_MAX, buf);
    ck_assert_uint_lt(strlen(buf), TM_TIME_BUFLEN);
    tm_time_format(INT64_MIN, buf);
    ck_assert_uint_lt(strlen(buf), TM_TIME_BUFLEN);
    ck_assert_ptr_nonnull(strstr(buf, " BC"));
}
END_TEST

START_TEST(parse_forms)
{
    int64_t base = utc(2026, 11, 22, 14, 3, 12, 0);
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12", NULL), base);
    ck_assert_int_eq(parse_ok("2026-11-22T14:03:12", NULL), base);
    ck_assert_int_eq(parse_ok("2026-11-22t14:03:12z", NULL), base);
    ck_assert_int_eq(parse_ok("  2026-11-22   14:03:12  ", NULL), base);
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12Z", NULL), base);
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12 UTC", NULL), base);
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12+00", NULL), base);
    ck_assert_int_eq(parse_ok("2026-11-22T14:03:12.123456Z", NULL), base + 123456);
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12.5", NULL), base + 500000);
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12.05", NULL), base + 50000);
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12.000001", NULL), base + 1);
    ck_assert_int_eq(parse_ok("2026-11-22 14:03", NULL), base - 12000000);
    ck_assert_int_eq(parse_ok("2026-11-22 4:03", NULL), utc(2026, 11, 22, 4, 3, 0, 0));
    ck_assert_int_eq(parse_ok("2026-11-22", NULL), utc(2026, 11, 22, 0, 0, 0, 0));
    ck_assert_int_eq(parse_ok("2026-1-2", NULL), utc(2026, 1, 2, 0, 0, 0, 0));
    /* Offsets: the local time minus the offset is UTC. */
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12+02", NULL), base - 2 * 3600 * INT64_C(1000000));
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12 +02", NULL), base - 7200 * INT64_C(1000000));
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12+05:30", NULL), base - 19800 * INT64_C(1000000));
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12+0530", NULL), base - 19800 * INT64_C(1000000));
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12-0800", NULL), base + 28800 * INT64_C(1000000));
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12-08", NULL), base + 28800 * INT64_C(1000000));
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12-8", NULL), base + 28800 * INT64_C(1000000));
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12+05:30:15", NULL),
                     base - 19815 * INT64_C(1000000));
    /* An explicit offset wins over --tz. */
    ck_assert_int_eq(parse_ok("2026-11-22 14:03:12Z", "America/New_York"), base);
    /* Like PostgreSQL: 24:00:00 is the next midnight, second 60 rolls over. */
    ck_assert_int_eq(parse_ok("2026-11-22 24:00:00", NULL), utc(2026, 11, 23, 0, 0, 0, 0));
    ck_assert_int_eq(parse_ok("2026-11-22 23:59:60", NULL), utc(2026, 11, 23, 0, 0, 0, 0));
    /* Leap day, BC, large years, PostgreSQL's own output form. */
    ck_assert_int_eq(parse_ok("2024-02-29", NULL), utc(2024, 2, 29, 0, 0, 0, 0));
    ck_assert_int_eq(parse_ok("2000-02-29", NULL), utc(2000, 2, 29, 0, 0, 0, 0));
    ck_assert_int_eq(parse_ok("0044-03-15 00:00:00+00 BC", NULL), utc(-43, 3, 15, 0, 0, 0, 0));
    ck_assert_int_eq(parse_ok("0044-03-15 bc", NULL), utc(-43, 3, 15, 0, 0, 0, 0));
    ck_assert_int_eq(parse_ok("0001-01-01 AD", NULL), utc(1, 1, 1, 0, 0, 0, 0));
    ck_assert_int_eq(parse_ok("4714-11-24 BC", NULL), utc(-4713, 11, 24, 0, 0, 0, 0));
    ck_assert_int_eq(parse_ok("10000-01-01 00:00:00+00", NULL), utc(10000, 1, 1, 0, 0, 0, 0));
}
END_TEST

START_TEST(parse_rejects)
{
    const char *bad[] = {
        "",
        "   ",
        "garbage",
        "2026",
        "2026-11",
        "26-11-22",         /* two-digit years are ambiguous */
        "2026-13-01",       /* month 13 */
        "2026-00-10",       /* month 0 */
        "2026-02-30",       /* Feb 30 */
        "2026-02-29",       /* not a leap year */
        "1900-02-29",       /* century, not leap */
        "2026-04-31",       /* April has 30 days */
        "2026-11-00",       /* day 0 */
        "2026-11-22 25:00", /* hour 25 */
        "2026-11-22 24:00:01",
        "2026-11-22 14:60", /* minute 60 */
        "2026-11-22 14:03:61",
        "2026-11-22 14", /* no minutes: PostgreSQL rejects this too */
        "2026-11-22 14:3",
        "2026-11-22 14:03:1",
        "2026-11-22 14:03:12.",
        "2026-11-22 14:03:12.1234567", /* 7 fraction digits */
        "2026-11-22 14:03:12 junk",
        "2026-11-22 14:03:12+02 junk",
        "2026-11-22x",
        "2026-11-22T",
        "2026-11-22 14:03:12+",
        "2026-11-22 14:03:12+123",
        "2026-11-22 14:03:12+16", /* offsets stop at 15:59 */
        "2026-11-22 14:03:12+02:60",
        "2026-11-22 14:03:12+02:3",
        "2026-11-22 14:03:12ZZ",
        "2026-11-22Z",   /* offset without a time */
        "0000-01-01",    /* there is no year 0 */
        "4714-01-01 BC", /* before PostgreSQL's range */
        "4714-11-23 BC",
        "294277-01-01", /* after it */
        "294247-01-11", /* after int64 microseconds */
        "1000000-01-01",
        "2026/11/22",
        "2026-11-22 14:03:12 BC BC",
        "-2026-11-22",
        "2026-11-22\n14:03:12x",
        "2026-11-22 14:03:12\x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 42;
        tm_error err = {0};
        ck_assert_msg(tm_time_parse(bad[i], NULL, &t, &err) == -1, "accepted '%s'", bad[i]);
        ck_assert_int_eq(t, 42);
        /* The message names the accepted forms. */
        ck_assert_msg(strstr(err.msg, "YYYY-MM-DD") != NULL, "message for '%s': %s", bad[i],
                      err.msg);
    }
    tm_error err = {0};
    int64_t t;
    ck_assert_int_eq(tm_time_parse(NULL, NULL, &t, &err), -1);
    ck_assert_int_eq(tm_time_parse("2026-11-22 14:03:12.1234567", NULL, &t, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "6 fractional digits"));
    ck_assert_int_eq(tm_time_parse("2026-02-30", NULL, &t, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "day is out of range"));
    ck_assert_int_eq(tm_time_parse("2026-13-01", NULL, &t, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "month is out of range"));
}
END_TEST

START_TEST(named_zones)
{
    static const struct {
        const char *text, *zone;
        int y, mo, d, h, mi, s, us; /* the UTC time it is */
    } cases[] = {
        /* Winter and summer time in Paris. */
        {"2026-01-15 12:00", "Europe/Paris", 2026, 1, 15, 11, 0, 0, 0},
        {"2026-07-15 12:00", "Europe/Paris", 2026, 7, 15, 10, 0, 0, 0},
        {"2026-07-15", "Asia/Kolkata", 2026, 7, 14, 18, 30, 0, 0},
        {"2026-07-15 12:00:00.25", "America/Los_Angeles", 2026, 7, 15, 19, 0, 0, 250000},
        /* PostgreSQL 15: '2018-03-11 02:30' (skipped by the spring-forward
         * transition) in America/New_York is 07:30 UTC; the ambiguous
         * '2018-11-04 01:30' is 06:30 UTC. */
        {"2018-03-11 02:30", "America/New_York", 2018, 3, 11, 7, 30, 0, 0},
        {"2018-11-04 01:30", "America/New_York", 2018, 11, 4, 6, 30, 0, 0},
        /* Either side of the transitions is unambiguous. */
        {"2018-03-11 01:59:59", "America/New_York", 2018, 3, 11, 6, 59, 59, 0},
        {"2018-03-11 03:00", "America/New_York", 2018, 3, 11, 7, 0, 0, 0},
        {"2018-11-04 00:59", "America/New_York", 2018, 11, 4, 4, 59, 0, 0},
        {"2018-11-04 02:00", "America/New_York", 2018, 11, 4, 7, 0, 0, 0},
        /* Southern hemisphere: Sydney is +11 in January. */
        {"2026-01-10 12:00", "Australia/Sydney", 2026, 1, 10, 1, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = parse_ok(cases[i].text, cases[i].zone);
        int64_t want = utc(cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi, cases[i].s,
                           cases[i].us);
        ck_assert_msg(got == want, "'%s' in %s: %" PRId64 ", expected %" PRId64, cases[i].text,
                      cases[i].zone, got, want);
    }
    /* UTC spellings and offsets as a zone. */
    int64_t noon = utc(2026, 7, 15, 12, 0, 0, 0);
    ck_assert_int_eq(parse_ok("2026-07-15 12:00", ""), noon);
    ck_assert_int_eq(parse_ok("2026-07-15 12:00", "UTC"), noon);
    ck_assert_int_eq(parse_ok("2026-07-15 12:00", "+02:00"), noon - 7200 * INT64_C(1000000));
    ck_assert_int_eq(parse_ok("2026-07-15 12:00", "-0330"), noon + 12600 * INT64_C(1000000));
}
END_TEST

START_TEST(zone_restores_tz)
{
    setenv("TZ", "Asia/Tokyo", 1);
    parse_ok("2026-07-15 12:00", "Europe/Paris");
    ck_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
    unsetenv("TZ");
    parse_ok("2026-07-15 12:00", "Europe/Paris");
    ck_assert_ptr_null(getenv("TZ"));
    /* localtime follows the restored setting again. */
    setenv("TZ", "UTC", 1);
    tzset();
    time_t t0 = 0;
    struct tm tmv;
    localtime_r(&t0, &tmv);
    ck_assert_int_eq(tmv.tm_gmtoff, 0);
    unsetenv("TZ");
}
END_TEST

START_TEST(zone_rejects)
{
    const char *bad[] = {"Europe/Pariss", "../../etc/passwd", "/etc/localtime",
                         "Mars/Olympus",  "Europe",           "+25",
                         "+02:00x",       "Europe/Paris;rm",  "zone.tab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 7;
        tm_error err = {0};
        ck_assert_msg(tm_time_parse("2026-07-15 12:00", bad[i], &t, &err) == -1,
                      "accepted zone '%s'", bad[i]);
        ck_assert_int_eq(t, 7);
        ck_assert_msg(strstr(err.msg, "zone") != NULL, "message: %s", err.msg);
    }
}
END_TEST

START_TEST(round_trips)
{
    char buf[TM_TIME_BUFLEN];
    int64_t lo = utc(-4713, 11, 24, 0, 0, 0, 0), hi = INT64_MAX;
    int64_t fixed[] = {0,
                       -1,
                       1,
                       lo,
                       hi,
                       TM_PG_EPOCH_US,
                       utc(2026, 11, 22, 14, 3, 12, 120000),
                       utc(0, 2, 29, 12, 0, 0, 0),
                       utc(1, 1, 1, 0, 0, 0, 0) - 1};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        ck_assert_int_eq(parse_ok(tm_time_format(fixed[i], buf), NULL), fixed[i]);
    /* A deterministic pseudo-random walk over the whole range. */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 50000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t t = (int64_t)((uint64_t)lo + x % ((uint64_t)hi - (uint64_t)lo));
        if (i % 2) /* also times near now, with few fraction digits */
            t = utc(2026, 1, 1, 0, 0, 0, 0) +
                (int64_t)(x % (INT64_C(86400000000) * 3650)) / 1000 * 1000;
        tm_time_format(t, buf);
        int64_t back = parse_ok(buf, NULL);
        ck_assert_msg(back == t, "%lld -> %s -> %lld", (long long)t, buf, (long long)back);
    }
}
END_TEST

START_TEST(durations)
{
    struct {
        const char *in;
        int64_t us; /* 0: refused */
    } cases[] = {
        {"30d", INT64_C(30) * 86400 * 1000000},
        {"12h", INT64_C(12) * 3600 * 1000000},
        {"2w", INT64_C(14) * 86400 * 1000000},
        {"90m", INT64_C(90) * 60 * 1000000},
        {"5s", INT64_C(5) * 1000000},
        {"0d", 0},
        {"30", 0},
        {"d", 0},
        {"-3d", 0},
        {"3dd", 0},
        {"3 d", 0},
        {"99999999999999w", 0}, /* overflows */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t us = -1;
        tm_error err;
        int rc = tm_duration_parse(cases[i].in, &us, &err);
        if (!cases[i].us) {
            ck_assert_msg(rc == -1 && strstr(err.msg, "invalid duration"), "%s accepted",
                          cases[i].in);
            continue;
        }
        ck_assert_msg(rc == 0 && us == cases[i].us, "%s -> %lld", cases[i].in, (long long)us);
    }
}
END_TEST

int main(void)
{
    return tm_check_main("time", "core", 0,
                         TM_TESTS(civil_days, format_like_postgres, parse_forms, parse_rejects,
                                  named_zones, zone_restores_tz, zone_rejects, round_trips,
                                  durations));
}
