/*
 * Converts a decoded pgoutput tuple into the journal's Tuple representation
 * (proto/journal.proto: one kind byte per column, packed lengths of the text
 * values, the text values concatenated). The matching decoder is
 * tm_tuple_decode in store/tuple.h.
 *
 * With an old tuple in the same change, a new-tuple text value equal to the
 * old one (same bytes) is stored as 's' (same as old). An unchanged TOAST
 * value ('u') whose old value is present as text is stored as 's' too: 'u'
 * means the value did not change, and the old tuple carries it (pgoutput
 * inlines TOAST values in old tuples), so replay need not look it up.
 */
#ifndef TM_TUPLE_ENCODE_H
#define TM_TUPLE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/journal.pb-c.h"
#include "store/common/tm_error.h"
#include "store/journal/tuple.h"

/* Reusable storage for one encoded tuple; zero-initialise ({0}). An update
 * needs two (old and new) because both must live until the Change is
 * written. Grows only when a wider or larger tuple appears. */
typedef struct tm_tuple_enc {
    uint8_t *kinds;
    size_t kinds_cap;
    uint32_t *lengths;
    size_t lengths_cap;
    uint8_t *data;
    size_t data_cap;
} tm_tuple_enc;

/*
 * Encodes cols[0 .. ncols) into *out, which points into e afterwards (valid
 * until e's next use). old (n_old columns) is the old tuple of the same
 * change, or NULL. Binary ('b') values are an error: capture requests text.
 * Returns 0, or -1 with err.
 */
int tm_tuple_encode(tm_tuple_enc *e, const tm_value *cols, uint32_t ncols, const tm_value *old,
                    uint32_t n_old, Tidemark__Tuple *out, tm_error *err);

void tm_tuple_enc_free(tm_tuple_enc *e);

#endif
