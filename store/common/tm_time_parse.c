/* tm_time_parse: the timestamptz forms people type on a command line.
 *
 * A deliberately small subset of what PostgreSQL's datetime parser accepts:
 * ISO 8601 dates and times with an optional UTC offset, and PostgreSQL's own
 * output form (so anything tm_time_format prints parses back). Local times
 * are resolved in a named zone with the system tz database the way
 * PostgreSQL resolves them: a time skipped by a spring-forward transition
 * is read with the offset in force before it, an ambiguous time of a
 * fall-back transition with the offset in force after it. */
#include "store/common/tm_time.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/common/tm_civil.h"

#define FORMS                                                                                      \
    "expected YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS[.ffffff]] (a 'T' may replace the space), "        \
    "optionally followed by an offset Z, +HH, +HH:MM or +HHMM, e.g. \"2026-11-22 14:03:12+02\""

/* PostgreSQL's timestamps start on 4714-11-24 BC (Julian day 0) and end in
 * 294276 AD; our int64 microseconds since 1970 end sooner, in 294247 AD. */
#define MIN_YEAR (-4713)
#define MAX_YEAR 294276
#define RANGE "4714-11-24 BC to 294247-01-10 AD"

typedef struct fields {
    int64_t year; /* as written, before BC is applied */
    int month, day, hour, min, sec, usec;
    bool has_offset;
    int offset; /* seconds east of UTC */
    bool bc;
} fields;

/* Reads between min and max digits; more digits than max is an error (we do
 * not silently stop in the middle of a number). Returns the count, or 0. */
static int read_digits(const char **p, int min, int max, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    int n = 0;
    while (isdigit((unsigned char)s[n])) {
        if (n < 18)
            v = v * 10 + (s[n] - '0');
        n++;
    }
    if (n < min || n > max)
        return 0;
    *p = s + n;
    *out = v;
    return n;
}

static void skip_space(const char **p)
{
    while (isspace((unsigned char)**p))
        (*p)++;
}

static bool word_at(const char *p, const char *w)
{
    size_t n = strlen(w);
    return strncasecmp(p, w, n) == 0 && !isalnum((unsigned char)p[n]);
}

/* "+HH", "+HH:MM", "+HH:MM:SS", "+HHMM", "+HHMMSS" (or '-'); also "Z", "UTC". */
static int parse_offset(const char **pp, int *offset, const char **why)
{
    const char *p = *pp;
    if (*p == 'Z' || *p == 'z') {
        *offset = 0;
        *pp = p + 1;
        return 0;
    }
    if (word_at(p, "UTC") || word_at(p, "GMT")) {
        *offset = 0;
        *pp = p + 3;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p == '-' ? -1 : 1;
    p++;
    int64_t h = 0, m = 0, s = 0, run;
    const char *q = p;
    int n = read_digits(&q, 1, 6, &run);
    if (n == 1 || n == 2) {
        h = run;
        p = q;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, 2, &m)) {
                *why = "the offset's minutes must be two digits";
                return -1;
            }
            if (*p == ':') {
                p++;
                if (!read_digits(&p, 2, 2, &s)) {
                    *why = "the offset's seconds must be two digits";
                    return -1;
                }
            }
        }
    } else if (n == 4 || n == 6) {
        h = run / (n == 4 ? 100 : 10000);
        m = (n == 4 ? run : run / 100) % 100;
        s = n == 6 ? run % 100 : 0;
        p = q;
    } else {
        *why = "the offset must be HH, HH:MM or HHMM";
        return -1;
    }
    if (h > 15 || m > 59 || s > 59) {
        *why = "the offset is out of range (at most 15:59:59)";
        return -1;
    }
    *offset = sign * (int)(h * 3600 + m * 60 + s);
    *pp = p;
    return 0;
}

static int parse_fields(const char *s, fields *f, const char **why)
{
    const char *p = s;
    int64_t v;
    memset(f, 0, sizeof *f);
    skip_space(&p);
    if (!read_digits(&p, 4, 6, &f->year)) {
        *why = "it must start with a date whose year has 4 digits";
        return -1;
    }
    if (*p++ != '-' || !read_digits(&p, 1, 2, &v)) {
        *why = "expected '-' and a month after the year";
        return -1;
    }
    f->month = (int)v;
    if (*p++ != '-' || !read_digits(&p, 1, 2, &v)) {
        *why = "expected '-' and a day after the month";
        return -1;
    }
    f->day = (int)v;

    bool has_time = false;
    if ((*p == 'T' || *p == 't') && isdigit((unsigned char)p[1])) {
        p++;
        has_time = true;
    } else if (isspace((unsigned char)*p)) {
        const char *q = p;
        skip_space(&q);
        if (isdigit((unsigned char)*q)) {
            p = q;
            has_time = true;
        }
    }
    if (has_time) {
        if (!read_digits(&p, 1, 2, &v) || *p != ':') {
            *why = "the time must be HH:MM[:SS[.ffffff]]";
            return -1;
        }
        f->hour = (int)v;
        p++;
        if (!read_digits(&p, 2, 2, &v)) {
            *why = "the minutes must be two digits";
            return -1;
        }
        f->min = (int)v;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, 2, &v)) {
                *why = "the seconds must be two digits";
                return -1;
            }
            f->sec = (int)v;
            if (*p == '.') {
                p++;
                int n = read_digits(&p, 1, 6, &v);
                if (!n) {
                    *why = isdigit((unsigned char)*p)
                               ? "at most 6 fractional digits (microseconds) are allowed"
                               : "expected digits after the decimal point";
                    return -1;
                }
                while (n++ < 6)
                    v *= 10;
                f->usec = (int)v;
            }
        }
        const char *q = p;
        skip_space(&q);
        if (*q == '+' || *q == '-' || *q == 'Z' || *q == 'z' || word_at(q, "UTC") ||
            word_at(q, "GMT")) {
            *why = NULL;
            if (parse_offset(&q, &f->offset, why) < 0) {
                if (!*why)
                    *why = "the offset must be Z, +HH, +HH:MM or +HHMM";
                return -1;
            }
            f->has_offset = true;
            p = q;
        }
    }
    const char *q = p;
    skip_space(&q);
    if (q != p && (word_at(q, "BC") || word_at(q, "AD"))) {
        f->bc = toupper((unsigned char)*q) == 'B';
        p = q + 2;
    }
    skip_space(&p);
    if (*p) {
        *why = "unexpected text after the timestamp";
        return -1;
    }

    if (f->year == 0) {
        *why = "there is no year 0 (1 BC is followed by 1 AD)";
        return -1;
    }
    int64_t y = f->bc ? 1 - f->year : f->year;
    if (y < MIN_YEAR || y > MAX_YEAR ||
        (y == MIN_YEAR && (f->month < 11 || (f->month == 11 && f->day < 24)))) {
        *why = "it is outside the supported range (" RANGE ")";
        return -1;
    }
    if (f->month < 1 || f->month > 12) {
        *why = "the month is out of range (1 to 12)";
        return -1;
    }
    if (f->day < 1 || f->day > tm_civil_mdays(y, f->month)) {
        *why = "the day is out of range for that month";
        return -1;
    }
    if (f->hour > 24 || f->min > 59 || f->sec > 60 ||
        (f->hour == 24 && (f->min || f->sec || f->usec))) {
        *why = "the time of day is out of range";
        return -1;
    }
    return 0;
}

static bool is_utc_name(const char *tz)
{
    return !tz || !*tz || !strcasecmp(tz, "UTC") || !strcasecmp(tz, "Z") ||
           !strcasecmp(tz, "GMT") || !strcasecmp(tz, "Etc/UTC");
}

/* A zone name is only ever a relative path inside the tz database, and that
 * file must really be a compiled zone: glibc silently falls back to UTC for
 * names it cannot load, which would turn a typo into a wrong answer. */
static int check_zone(const char *tz, tm_error *err)
{
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    bool ok = strlen(tz) < 200 && tz[0] != '/' && !strstr(tz, "..");
    for (const char *c = tz; ok && *c; c++)
        ok = isalnum((unsigned char)*c) || strchr("/_+-", *c);
    if (ok) {
        char path[512], magic[4];
        snprintf(path, sizeof path, "%s/%s", dir, tz);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ok = fd >= 0 && read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
        if (fd >= 0)
            close(fd);
    }
    if (!ok) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "unknown time zone \"%.100s\": give an IANA zone name such as Europe/Paris "
                      "(from %s) or an offset such as +02:00",
                      tz, dir);
        return -1;
    }
    return 0;
}

static int gmtoff_at(int64_t instant, long *off)
{
    time_t tt = (time_t)instant;
    struct tm tmv;
    if (!localtime_r(&tt, &tmv))
        return -1;
    *off = tmv.tm_gmtoff;
    return 0;
}

/* The UTC offset of local wall-clock time `local` (seconds, as if UTC) in
 * zone tz. The TZ environment variable is switched for the lookup and
 * restored afterwards; like all TZ juggling this is not thread-safe, which
 * is fine for a command-line parser. */
static int zone_offset(const char *tz, int64_t local, int *offset, tm_error *err)
{
    if (check_zone(tz, err) < 0)
        return -1;
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    if (old && !saved) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory while resolving time zone \"%.100s\"", tz);
        return -1;
    }
    char spec[256];
    snprintf(spec, sizeof spec, ":%s", tz);
    setenv("TZ", spec, 1);
    tzset();

    /* Offsets two days either side bracket any transition affecting local
     * (no zone's offset reaches 48 hours). */
    long before, after, chk;
    int rc = -1;
    if (gmtoff_at(local - 172800, &before) == 0 && gmtoff_at(local + 172800, &after) == 0) {
        int64_t tb = local - before, ta = local - after;
        bool vb = gmtoff_at(tb, &chk) == 0 && chk == before;
        bool va = gmtoff_at(ta, &chk) == 0 && chk == after;
        /* Both valid: ambiguous (fall back), PostgreSQL takes "after".
         * Neither: skipped (spring forward), PostgreSQL takes "before". */
        *offset = (int)(va ? after : before);
        if (!va && !vb) {
            long mid;
            if (gmtoff_at(local, &mid) == 0 && gmtoff_at(local - mid, &chk) == 0 && chk == mid)
                *offset = (int)mid; /* two transitions in 4 days: odd zone, but consistent */
        }
        rc = 0;
    } else {
        tm_error_setc(err, TM_ERR_FORMAT, "cannot resolve local time in time zone \"%.100s\"", tz);
    }

    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    return rc;
}

int tm_time_parse(const char *s, const char *tz, int64_t *t, tm_error *err)
{
    fields f;
    const char *why = NULL;
    if (!s || parse_fields(s, &f, &why) < 0) {
        tm_error_setc(err, TM_ERR_FORMAT, "invalid timestamp \"%.80s\": %s; %s", s ? s : "(null)",
                      why ? why : "empty", FORMS);
        return -1;
    }
    int64_t y = f.bc ? 1 - f.year : f.year;
    int64_t local =
        tm_civil_to_days(y, f.month, f.day) * 86400 + f.hour * 3600 + f.min * 60 + f.sec;
    int offset = f.offset;
    if (!f.has_offset && !is_utc_name(tz)) {
        if (tz[0] == '+' || tz[0] == '-') {
            const char *p = tz;
            if (parse_offset(&p, &offset, &why) < 0 || *p) {
                tm_error_setc(err, TM_ERR_FORMAT,
                              "invalid time zone offset \"%.100s\": expected +HH, +HH:MM or "
                              "+HHMM, or an IANA zone name such as Europe/Paris",
                              tz);
                return -1;
            }
        } else if (zone_offset(tz, local, &offset, err) < 0) {
            return -1;
        }
    }
    int64_t us;
    if (__builtin_mul_overflow(local - offset, INT64_C(1000000), &us) ||
        __builtin_add_overflow(us, (int64_t)f.usec, &us)) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "invalid timestamp \"%.80s\": it is outside the supported range (" RANGE
                      "); %s",
                      s, FORMS);
        return -1;
    }
    *t = us;
    return 0;
}

int tm_duration_parse(const char *s, int64_t *us, tm_error *err)
{
    static const struct {
        char unit;
        int64_t us;
    } units[] = {{'s', INT64_C(1000000)},
                 {'m', INT64_C(60000000)},
                 {'h', INT64_C(3600000000)},
                 {'d', INT64_C(86400000000)},
                 {'w', INT64_C(604800000000)}};
    char *end;
    errno = 0;
    unsigned long long n = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
    for (size_t i = 0; n > 0 && errno == 0 && i < sizeof units / sizeof units[0]; i++)
        if (end[0] == units[i].unit && end[1] == '\0' && n <= INT64_MAX &&
            !__builtin_mul_overflow((int64_t)n, units[i].us, us))
            return 0;
    tm_error_setc(err, TM_ERR_FORMAT,
                  "invalid duration \"%.80s\": expected a positive whole number and a unit, s, m "
                  "(minutes), h, d or w, such as 30d",
                  s);
    return -1;
}
