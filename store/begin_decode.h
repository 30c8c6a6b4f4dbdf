/* Reading a journal Record that holds a TxBegin without protobuf-c: replay
 * reads one per transaction, and protobuf-c's generic unpacking of one
 * costs as much as applying the transaction's first few changes. */
#ifndef TM_BEGIN_DECODE_H
#define TM_BEGIN_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "journal.pb-c.h"

/* When p[0..len) is a Record holding only a TxBegin whose fields are
 * numeric, each at most once and in number order (what the writer
 * produces), fills *rec (body: b) and *b as protobuf-c would unpack them
 * and returns true. false for anything else (protobuf-c's job then). */
bool tm_begin_decode(const unsigned char *p, size_t len, Tidemark__Record *rec,
                     Tidemark__TxBegin *b);

#endif
