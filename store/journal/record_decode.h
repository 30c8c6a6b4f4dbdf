/* Reading journal Records without protobuf-c where replay reads many: the
 * packed body of a Record (a Change, then decoded by replay's own decoder)
 * and a whole TxBegin (one per transaction; protobuf-c's generic unpacking
 * of one costs as much as applying the transaction's first few changes). */
#ifndef TM_RECORD_DECODE_H
#define TM_RECORD_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/journal/frame.h"
#include "proto/journal.pb-c.h"

/* When p[0..len) is a packed Record whose only field is body field
 * number (length delimited, filling the record: what the writer produces),
 * its packed body in *body, *blen, and true; false for anything else. */
static inline bool tm_record_body(const unsigned char *p, size_t len, unsigned number,
                                  const unsigned char **body, size_t *blen)
{
    uint64_t n;
    size_t k;
    if (len < 2 || p[0] != ((number << 3) | 2u) || (k = tm_varint_get(p + 1, len - 1, &n)) == 0 ||
        n != len - 1 - k)
        return false;
    *body = p + 1 + k;
    *blen = (size_t)n;
    return true;
}

/* When p[0..len) is a Record holding only a TxBegin whose fields are
 * numeric, each at most once and in number order (what the writer
 * produces), fills *rec (body: b) and *b as protobuf-c would unpack them
 * and returns true. false for anything else (protobuf-c's job then). */
bool tm_begin_decode(const unsigned char *p, size_t len, Tidemark__Record *rec,
                     Tidemark__TxBegin *b);

#endif
