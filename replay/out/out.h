/* A buffered byte sink for the output formats: an fd, a FILE*, or a growing
 * memory buffer (for building SQL statements).
 *
 * Writes never fail individually: the first error is kept (errno) and later
 * writes are dropped, so formatting code stays straight-line; tm_out_flush
 * and tm_out_sync report it. The sink does not own the fd or FILE*. */
#ifndef TM_OUT_H
#define TM_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "replay/query/value.h"
#include "store/common/tm_error.h"

#define TM_OUT_BUFSIZE (256 * 1024)

typedef struct tm_out {
    char *buf;
    size_t len, cap;
    int fd;         /* fd sink when >= 0 */
    FILE *fp;       /* FILE sink when non-NULL */
    int err;        /* first errno seen; 0 when all is well */
    uint64_t total; /* bytes accepted so far */
    /* fd sinks that will be fsynced: bytes written to the fd, and up to
     * where the system was asked to start writing them back */
    bool write_behind;
    uint64_t written, kicked;
} tm_out;

int tm_out_init_fd(tm_out *o, int fd, tm_error *err);
int tm_out_init_file(tm_out *o, FILE *fp, tm_error *err);
int tm_out_init_mem(tm_out *o, tm_error *err);
/* For an fd sink that is a file the caller will fsync: the system is asked
 * to start writing it back every few megabytes as it is written, so that
 * the fsync at the end waits for the last few only (as PostgreSQL's
 * *_flush_after settings do). Linux only; a hint elsewhere ignored. */
void tm_out_write_behind(tm_out *o);
/* Frees the buffer (without flushing); the fd or FILE* stays open. */
void tm_out_free(tm_out *o);

void tm_out_write_slow(tm_out *o, const void *p, size_t n);

static inline void tm_out_write(tm_out *o, const void *p, size_t n)
{
    if (n <= o->cap - o->len) {
        if (n) /* p may be NULL when n is 0 */
            memcpy(o->buf + o->len, p, n);
        o->len += n;
        o->total += n;
    } else {
        tm_out_write_slow(o, p, n);
    }
}

static inline void tm_out_putc(tm_out *o, char c)
{
    if (o->len < o->cap) {
        o->buf[o->len++] = c;
        o->total++;
    } else {
        tm_out_write_slow(o, &c, 1);
    }
}

void tm_out_puts(tm_out *o, const char *s);

/* Room for n bytes written straight into the buffer (then tm_out_commit
 * with how many were used), for formatting a whole row in one pass. NULL
 * after an error, or when n exceeds a file sink's buffer: then use
 * tm_out_write. */
char *tm_out_reserve_slow(tm_out *o, size_t n);

static inline char *tm_out_reserve(tm_out *o, size_t n)
{
    return n <= o->cap - o->len && !o->err ? o->buf + o->len : tm_out_reserve_slow(o, n);
}

static inline void tm_out_commit(tm_out *o, size_t n)
{
    o->len += n;
    o->total += n;
}

/* Writes the buffer out (memory sinks: nothing to do). Returns 0, or -1 with
 * err describing the first write error of this sink. */
int tm_out_flush(tm_out *o, tm_error *err);

/* Flushes, then fsyncs the file underneath, for output files that must be
 * durable when the command reports success. Pipes and terminals, which
 * cannot be synced, are not an error. */
int tm_out_sync(tm_out *o, tm_error *err);

/* Memory sinks: the bytes written so far, and emptying for reuse (which
 * also clears a previous out-of-memory error). */
const char *tm_out_data(const tm_out *o, size_t *len);
void tm_out_reset(tm_out *o);

/* The formats take resolved values only (replay/query/value.h): returns 0,
 * or -1 with an internal error naming the format ("CSV") and the column
 * when a value of vals[0..n) is of another kind. */
int tm_out_check_resolved(const tm_value *vals, size_t n, const char *format, tm_error *err);

#endif
