/* The records of the transaction being received, held until its Commit
 * arrives (the journal header needs the record count and end LSN). Kept in
 * memory up to a budget, then spooled to a file in the journal directory so
 * that a huge transaction never needs huge memory. */
#ifndef TM_TXBUF_H
#define TM_TXBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/journal/journal.h"
#include "store/common/tm_error.h"

typedef struct tm_txbuf tm_txbuf;

/* spool_path: file used past budget bytes (created 0600, removed on reset). */
tm_txbuf *tm_txbuf_new(const char *spool_path, size_t budget);
void tm_txbuf_free(tm_txbuf *b);
void tm_txbuf_reset(tm_txbuf *b);

int tm_txbuf_add(tm_txbuf *b, const Tidemark__Record *rec, tm_error *err);
uint64_t tm_txbuf_count(const tm_txbuf *b);
/* Bytes of packed records held (memory and spool). */
uint64_t tm_txbuf_bytes(const tm_txbuf *b);

/* Calls fn with each packed record in order. */
typedef int (*tm_txbuf_fn)(void *arg, const uint8_t *rec, size_t len, tm_error *err);
int tm_txbuf_drain(tm_txbuf *b, tm_txbuf_fn fn, void *arg, tm_error *err);

/* Journals the buffered records as one transaction with header hdr
 * (hdr->n_records must equal the count). */
int tm_txbuf_write_tx(tm_txbuf *b, tm_writer *w, const Tidemark__TxBegin *hdr, tm_error *err);
/* Same with only the records whose index (0-based, in order) keep accepts
 * (hdr->n_records must be their count). */
typedef bool (*tm_txbuf_keep_fn)(void *arg, uint64_t index);
int tm_txbuf_write_tx_kept(tm_txbuf *b, tm_writer *w, const Tidemark__TxBegin *hdr,
                           tm_txbuf_keep_fn keep, void *arg, tm_error *err);

#endif
