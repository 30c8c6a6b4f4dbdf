/* Transactions that pgoutput streams while they are in progress
 * (proto_version 2, streaming on): their changes arrive in blocks between
 * Stream Start and Stream Stop, interleaved with other transactions, long
 * before the Stream Commit or Stream Abort that decides them. Each open one
 * spools to its own file in the journal directory (stream-<xid>.spool),
 * holding only a small buffer in memory, and remembers which subtransaction
 * wrote which records, so that a rolled-back savepoint's records are left
 * out when the transaction is journaled at its Stream Commit. */
#ifndef TM_STREAMTX_H
#define TM_STREAMTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/tm_error.h"
#include "store/journal/journal.h"

/* Rows of one relation, for the mass-change warning. */
typedef struct tm_relrows {
    uint32_t oid, rows;
} tm_relrows;

/* Adds rows to oid's entry of *a (grown as needed). -1 when out of memory. */
int tm_relrows_add(tm_relrows **a, size_t *n, size_t *cap, uint32_t oid, uint32_t rows);

typedef struct tm_streamtx tm_streamtx;
typedef struct tm_streams tm_streams;

/* dir: the journal directory; spools left there by an earlier run are
 * removed (the server streams those transactions again). buffer: bytes a
 * transaction holds in memory before writing to its spool. */
tm_streams *tm_streams_new(const char *dir, size_t buffer, tm_error *err);
void tm_streams_free(tm_streams *ss);
/* Forgets every open transaction (a new START_REPLICATION streams them
 * again from their start). */
void tm_streams_reset(tm_streams *ss);
/* The open transaction xid; made when create and it is not open yet.
 * NULL (with err when it could not be made) otherwise. */
tm_streamtx *tm_streams_get(tm_streams *ss, uint32_t xid, bool create, tm_error *err);
/* Closes xid's transaction and removes its spool (after it was journaled,
 * or aborted). */
void tm_streams_drop(tm_streams *ss, uint32_t xid);
/* How many are open. */
size_t tm_streams_open(const tm_streams *ss);

/* A record written by subtransaction subxid (the top-level xid for its own). */
int tm_streamtx_add(tm_streamtx *t, uint32_t subxid, const Tidemark__Record *rec, tm_error *err);
/* An updated or deleted row of relid, counted for the current record's
 * subtransaction. */
int tm_streamtx_count_row(tm_streamtx *t, uint32_t relid, tm_error *err);
/* Subtransaction subxid rolled back: its records are left out. */
void tm_streamtx_abort_sub(tm_streamtx *t, uint32_t subxid);
/* Records that stay (not of a rolled-back subtransaction). */
uint64_t tm_streamtx_kept(const tm_streamtx *t);
/* The rows per relation of the records that stay, in *out (malloc'd). */
int tm_streamtx_rows(const tm_streamtx *t, tm_relrows **out, size_t *n, tm_error *err);
/* Journals the records that stay as one transaction (hdr->n_records must
 * be tm_streamtx_kept). */
int tm_streamtx_write(tm_streamtx *t, tm_writer *w, const Tidemark__TxBegin *hdr, tm_error *err);

#endif
