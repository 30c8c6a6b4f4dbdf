/* Base snapshots: the full content of captured tables copied (COPY, not
 * row-by-row SELECT) under one snapshot and journaled as a snapshot
 * transaction at that snapshot's LSN: a TRUNCATE then every row as INSERT,
 * for each table. */
#ifndef TM_SNAPSHOT_H
#define TM_SNAPSHOT_H

#include <libpq-fe.h>
#include <stdint.h>

#include "capture/source/catalog.h"
#include "store/journal/journal.h"
#include "store/journal/tuple.h"
#include "capture/decode/txbuf.h"

typedef struct tm_snapshot_stats {
    uint64_t rows;
    uint64_t bytes;
} tm_snapshot_stats;

/* Copies each relation in rels (schemas with oid and version set) under the
 * exported snapshot snapshot_name (NULL: a fresh REPEATABLE READ snapshot)
 * into out (reset first) as the records of one snapshot transaction with
 * commit LSN lsn, whose header is filled in hdr. The caller journals it
 * (tm_txbuf_write_tx) when the stream reaches lsn. */
int tm_snapshot_take(PGconn *sql, const char *snapshot_name, tm_catrel *const *rels, int n,
                     uint64_t lsn, tm_txbuf *out, Tidemark__TxBegin *hdr, tm_snapshot_stats *stats,
                     tm_error *err);

/* Decodes one line of COPY text format (without its newline; decoded in
 * place) of n fields into a Tuple: kinds 'n'/'t', lengths and data in the
 * given reusable buffers. Returns 0, or -1 on a malformed line. */
typedef struct tm_copyrow {
    uint8_t *kinds, *data;
    uint32_t *lengths;
    tm_value *vals;
    size_t kinds_cap, data_cap, lengths_cap, vals_cap;
} tm_copyrow;
int tm_copy_decode(char *line, size_t len, size_t n, tm_copyrow *row, Tidemark__Tuple *out);
void tm_copyrow_free(tm_copyrow *row);

#endif
