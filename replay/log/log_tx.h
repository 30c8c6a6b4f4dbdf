/* tidemark log: one transaction while it is being read. Its changes are
 * formatted as they come but held back (in memory, spilled to a temporary
 * file past a limit) until the transaction ends, because the context that
 * goes with every one of them may be emitted anywhere in it. Also the
 * per-table counts of --transactions, and the --top selection. */
#ifndef TM_LOG_TX_H
#define TM_LOG_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/journal.pb-c.h"
#include "replay/log/log_format.h"
#include "replay/out/out.h"
#include "replay/engine/relreg.h"

typedef struct log_msg {
    char *prefix;
    char *content;
    size_t len;
} log_msg;

typedef struct log_count {
    const tm_relver *rv;
    uint64_t n[4];      /* rows inserted, updated, deleted, and removed by TRUNCATE */
    uint32_t truncates; /* TRUNCATEs (n[3] their rows) */
    bool rows_unknown;  /* a TRUNCATE's rows are not known (a gap before it) */
} log_count;

/* The TRUNCATEs of one table seen so far in the transaction. */
typedef struct log_trunc_seen {
    uint32_t oid, n;
} log_trunc_seen;

typedef struct log_tx {
    log_txhdr hdr;
    bool snapshot;
    uint32_t large; /* TxBegin.large_change_rows */
    uint64_t left;  /* records still to come */
    bool wanted;    /* passes --xid and --from/--to and is no snapshot */

    log_msg *msgs; /* its logical messages, in order */
    size_t nmsgs, msgs_cap;

    /* formatted changes: mem, after what was spilled to `spill` */
    tm_out mem;
    FILE *spill;
    uint64_t spilled;
    uint64_t *ends; /* end offset of each change (JSON Lines) */
    size_t nchanges, ends_cap;

    log_count *counts; /* --transactions */
    size_t ncounts, counts_cap;
    uint64_t rows;
    uint32_t truncates; /* counted TRUNCATEs (also of empty tables) */

    log_trunc_seen *truncs;
    size_t ntruncs, truncs_cap;
} log_tx;

/* Bytes of formatted changes held in memory before a transaction's are
 * spilled to a temporary file (32 MiB; tests lower it). */
extern size_t log_tx_spill_at;

int log_tx_init(log_tx *tx, tm_error *err);
void log_tx_free(log_tx *tx);

/* Starts the transaction of b (forgetting the previous one). */
void log_tx_begin(log_tx *tx, const Tidemark__TxBegin *b);
/* Keeps a logical message of it. */
int log_tx_message(log_tx *tx, const Tidemark__LogicalMessage *m, tm_error *err);

/* Where to format the next change; then log_tx_change_done. */
tm_out *log_tx_change_out(log_tx *tx);
int log_tx_change_done(log_tx *tx, tm_error *err);
/* Counts a change for --transactions: rows (1 but for a TRUNCATE: the rows
 * it removed, with known false when that is not known). */
int log_tx_count(log_tx *tx, const tm_relver *rv, int op, uint64_t rows, bool known, tm_error *err);
/* How many TRUNCATEs of oid came before this one in the transaction (the
 * first is 0); -1 with err when out of memory. */
int64_t log_tx_truncate_nth(log_tx *tx, uint32_t oid, tm_error *err);

/* The transaction's block: a header, its context and (all_messages) other
 * messages, then its changes (none: the header and messages alone). */
int log_tx_flush(log_tx *tx, tm_out *o, log_format_kind fmt, bool all_messages, tm_error *err);
/* Its --transactions line (also with no counted row, for snapshots see
 * log_write_snapshot_note). */
void log_tx_summary(const log_tx *tx, tm_out *o, log_format_kind fmt, bool all_messages);

/* "base snapshot of N tables" for --transactions. */
void log_write_snapshot_note(tm_out *o, log_format_kind fmt, const log_tx *tx, size_t ntables);

/* A logical message outside any transaction (--all-messages), and a gap. */
void log_write_standalone_message(tm_out *o, log_format_kind fmt,
                                  const Tidemark__LogicalMessage *m);
void log_write_gap(tm_out *o, log_format_kind fmt, const Tidemark__Gap *g);

/* --top N: the N transactions with most rows. */
typedef struct log_top_entry {
    uint64_t rows, lsn;
    char *line;
    size_t len;
} log_top_entry;

typedef struct log_top {
    size_t max;
    log_top_entry *v; /* a min-heap by (rows, later lsn first) */
    size_t n;
} log_top;

int log_top_init(log_top *t, size_t max, tm_error *err);
/* Offers a transaction (its summary line is formatted only if it ranks). */
int log_top_offer(log_top *t, const log_tx *tx, log_format_kind fmt, bool all_messages,
                  tm_error *err);
/* Writes the kept lines, most rows first (then in commit order). */
void log_top_write(log_top *t, tm_out *o);
void log_top_free(log_top *t);

#endif
