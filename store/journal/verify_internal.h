/* Between verify_walk.c (the walk over every file, the lines and totals)
 * and verify.c (segments and their indexes): not for other callers. */
#ifndef TM_VERIFY_INTERNAL_H
#define TM_VERIFY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/journal/verify.h"

typedef struct tm_vwalk {
    const char *dir;
    const tm_verify_opts *o;
    tm_verify_totals *t;
    bool have_range; /* t's LSN and time range is set */
} tm_vwalk;

/* Prints the line of a checked file and counts it (checked, damaged);
 * if_damaged (may be NULL) follows a damage. */
void tm_vwalk_report(tm_vwalk *w, const char *name, const tm_vresult *res, const char *if_damaged);

/* A segment that should be there and is not: its line, counted damaged. */
void tm_vwalk_missing(tm_vwalk *w, const char *name, const char *why);

/* "lsn A..B time T1..T2" (or "lsn none time none") into buf. */
void tm_verify_fmt_ranges(char *buf, size_t len, bool have, uint64_t lo, uint64_t hi, int64_t tlo,
                          int64_t thi);

/* Checks segments segs[0..n) (ascending) and their indexes, reporting
 * each; 0, or -1 with err when checking cannot go on. */
int tm_verify_segments(tm_vwalk *w, const uint64_t *segs, size_t n, tm_error *err);

#endif
