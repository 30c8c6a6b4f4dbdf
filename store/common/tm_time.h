/* Timestamps: microseconds since the Unix epoch, UTC (int64). */
#ifndef TM_TIME_H
#define TM_TIME_H

#include <stdint.h>

#include "store/common/tm_error.h"

#define TM_TIME_BUFLEN 40
/* PostgreSQL's epoch (2000-01-01 UTC) in Unix microseconds. */
#define TM_PG_EPOCH_US INT64_C(946684800000000)

/* Formats as ISO 8601 with offset in UTC, e.g. "2026-11-22 01:02:03.123456+00"
 * (the fraction is printed only when non-zero, like PostgreSQL). */
char *tm_time_format(int64_t t, char *buf);

/* Parses the forms PostgreSQL accepts for timestamptz that people type:
 * "YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]" with an optional offset ("Z", "+HH",
 * "+HH:MM", "+HHMM", "-..."), or a date alone (midnight). Without an offset
 * the time is local to tz (an IANA zone name such as "Europe/Paris"; NULL or
 * "" = UTC). Returns 0, or -1 with err saying what form is expected. */
int tm_time_parse(const char *s, const char *tz, int64_t *t, tm_error *err);

/* Parses a duration: a whole number and a unit, s, m (minutes), h, d or w
 * ("30d", "12h"), into microseconds (> 0). Returns 0, or -1 with err. */
int tm_duration_parse(const char *s, int64_t *us, tm_error *err);

/* Current time. */
int64_t tm_time_now(void);

#endif
