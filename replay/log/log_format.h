/* tidemark log: writing changes, transactions, messages and gaps as text
 * or JSON Lines.
 *
 * Text is for reading and grepping, and stays unambiguous whatever the data:
 * names are written plain when they are simple lower-case identifiers and
 * as JSON strings otherwise; values as JSON (numbers and booleans bare,
 * json embedded, everything else a JSON string with \n, \" and \\ escapes),
 * SQL NULL as NULL. So a value can never break a line or pass for another
 * field. JSON Lines output is one valid JSON object per line. */
#ifndef TM_LOG_FORMAT_H
#define TM_LOG_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/journal.pb-c.h"
#include "replay/log/log_diff.h"
#include "replay/log/log_filter.h"
#include "replay/out/out.h"

/* The transaction a change belongs to, as printed. */
typedef struct log_txhdr {
    uint32_t xid;
    uint64_t lsn;
    int64_t time;
} log_txhdr;

/* Printing times: in UTC, or in zone tz (an IANA name) when given. */
void log_time_init(const char *tz);
void log_write_time(tm_out *o, int64_t t);
void log_write_lsn(tm_out *o, uint64_t lsn);

/* A name for text output: plain, or a JSON string when it is not a simple
 * lower-case identifier. */
void log_text_name(tm_out *o, const char *name);
/* A logical message prefix for text output: plain when it is made of
 * letters, digits, '_', '.' and '-', else a JSON string. */
void log_text_prefix(tm_out *o, const char *prefix);
/* schema.name for text output, each part as log_text_name writes it. */
void log_text_table(tm_out *o, const tm_relver *rv);
/* A logical message's content: embedded when it is one JSON value (on one
 * line), else a JSON string. */
void log_write_content(tm_out *o, const char *p, size_t len);

/* The rows a TRUNCATE removed (known false: not known, a gap before it). */
typedef struct log_trunc_rows {
    uint64_t rows;
    bool known;
} log_trunc_rows;

/* One row change (tr: the rows it removed, for a TRUNCATE). Text: the
 * change's lines (indented, for a transaction block). JSON Lines: the
 * change's object without its closing brace and newline (the caller
 * appends context and closes it). -1 only when out of memory (err). */
int log_write_change(tm_out *o, log_format_kind fmt, const log_txhdr *tx, const log_rel *lr,
                     const Tidemark__Change *ch, const tm_value *oldv, uint32_t nold,
                     const tm_value *newv, uint32_t nnew, const log_trunc_rows *tr, log_differ *d,
                     tm_error *err);

#endif
