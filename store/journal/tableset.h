/* The live table set: when each table was captured. A table's capture
 * starts with the first snapshot transaction that holds it (the base
 * snapshot, or the snapshot capture takes when the table joins the
 * publication) and ends with a TableRemoved record; a table re-added later
 * starts again with its next snapshot. Rows of a table are known exactly
 * only inside one of its spans. */
#ifndef TM_TABLESET_H
#define TM_TABLESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/qualname.h"
#include "store/common/tm_error.h"

typedef struct tm_tablespan {
    uint32_t oid;
    char nspname[TM_NAME_MAX], relname[TM_NAME_MAX]; /* latest known */
    uint64_t start_lsn;                              /* the snapshot that started it */
    int64_t start_time;
    bool ended;
    uint64_t end_lsn; /* the last commit its rows are known at */
    int64_t end_time; /* when capture noticed the removal */
} tm_tablespan;

typedef struct tm_tableset {
    tm_tablespan *v; /* in order of start; a table may have several */
    size_t n, cap;
    /* every table a Relation named, span or not (oid and name only) */
    tm_tablespan *seen;
    size_t nseen, capseen;
} tm_tableset;

void tm_tableset_free(tm_tableset *ts);
/* A Relation record: its name (spans of the oid take it). */
int tm_tableset_relation(tm_tableset *ts, uint32_t oid, const char *nsp, const char *rel,
                         tm_error *err);
/* A change of oid inside a snapshot transaction committed at lsn, time:
 * starts a span unless one of the oid is open. */
int tm_tableset_snapshot(tm_tableset *ts, uint32_t oid, uint64_t lsn, int64_t time, tm_error *err);
/* A TableRemoved record: ends the oid's open span. */
void tm_tableset_removed(tm_tableset *ts, uint32_t oid, uint64_t lsn, int64_t time);
/* The oid's span that holds lsn (by_lsn) or time, else NULL. */
const tm_tablespan *tm_tableset_at(const tm_tableset *ts, uint32_t oid, bool by_lsn, uint64_t lsn,
                                   int64_t time);
/* The oid's first span starting after lsn / time, else NULL. */
const tm_tablespan *tm_tableset_next(const tm_tableset *ts, uint32_t oid, bool by_lsn, uint64_t lsn,
                                     int64_t time);
/* The oid's last span starting at or before lsn / time, else NULL. */
const tm_tablespan *tm_tableset_prev(const tm_tableset *ts, uint32_t oid, bool by_lsn, uint64_t lsn,
                                     int64_t time);
/* Whether a Relation of oid was seen (with or without a span). */
bool tm_tableset_known(const tm_tableset *ts, uint32_t oid);

/* Reads the whole journal in dir into ts (empty first). 0 or -1 with err. */
int tm_tableset_scan(const char *dir, tm_tableset *ts, tm_error *err);

/* "captured from T (LSN L)[ to T (LSN L)]" into buf. */
const char *tm_tablespan_describe(const tm_tablespan *sp, char *buf, size_t len);

#endif
