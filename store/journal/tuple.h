/*
 * Row images as arrays of column values that point into someone else's
 * buffer (a pgoutput message, or a journal Tuple), and the decoder of the
 * journal's Tuple representation (proto/journal.proto) that replay uses.
 *
 * Nothing here allocates per value: column arrays live in a caller-owned
 * tm_colbuf that is reused from row to row and grows only when a wider row
 * appears.
 */
#ifndef TM_TUPLE_H
#define TM_TUPLE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/journal.pb-c.h"
#include "store/common/tm_error.h"

/* Column kinds. pgoutput sends n/u/t/b; the journal stores n/u/t/s. */
#define TM_KIND_NULL 'n'
#define TM_KIND_UNCHANGED 'u' /* unchanged TOAST value: resolved from the row's previous image */
#define TM_KIND_TEXT 't'
#define TM_KIND_BINARY 'b' /* pgoutput binary mode only; tidemark requests text */
#define TM_KIND_SAME 's'   /* journal only: same as the old tuple's value */

typedef struct tm_value {
    const char *ptr; /* 't'/'b': the bytes, not NUL-terminated (never NULL); else NULL */
    uint32_t len;    /* byte length for 't'/'b'; else 0 */
    char kind;       /* one of TM_KIND_* */
} tm_value;

/* A reusable column array. Zero-initialise ({0}) before first use. */
typedef struct tm_colbuf {
    tm_value *v;
    size_t cap;
} tm_colbuf;

/* Makes room for at least n values (v may move; never NULL after it returns
 * 0, also for n == 0). Returns 0, or -1 with err. */
int tm_colbuf_reserve(tm_colbuf *b, size_t n, tm_error *err);
void tm_colbuf_free(tm_colbuf *b);

/*
 * Decodes a journal Tuple into out->v[0 .. *ncols). Values point into t's
 * data. 's' columns are resolved against old (the already decoded old tuple
 * of the same Change: its value is copied, so the result never contains
 * 's'); old may be NULL when the Change has no old tuple, and then an 's' is
 * an error. 'u' is passed through for replay to resolve from the row's
 * previous image. Any inconsistency (unknown kind, lengths not matching the
 * 't' columns or the data size) is an error: -1 with err.
 */
int tm_tuple_decode(const Tidemark__Tuple *t, const tm_value *old, uint32_t n_old, tm_colbuf *out,
                    uint32_t *ncols, tm_error *err);

#endif
