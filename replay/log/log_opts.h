/* tidemark log: its options, as the command line (replay/cmd_log.c, with
 * the shared parser of store/cli) fills them in. */
#ifndef TM_LOG_OPTS_H
#define TM_LOG_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/qualname.h"
#include "store/common/tm_error.h"

typedef enum log_format_kind { LOG_TEXT, LOG_JSONL } log_format_kind;

typedef struct log_opts {
    const char *journal;
    const char *cache_dir; /* --cache-dir, for an s3:// journal */
    const char *key_file;  /* --encrypt-key-file, for an s3:// journal */
    tm_qualname *tables;   /* --table, as parsed (plain names folded) */
    size_t ntables;
    const char *where; /* --where text */
    bool has_from, has_to;
    int64_t from, to; /* --from / --to, microseconds since the Unix epoch */
    uint32_t *xids;   /* --xid */
    size_t nxids;
    char **columns; /* --column, as parsed (plain names folded) */
    size_t ncolumns;
    bool transactions;
    size_t top; /* --top N; 0 = every transaction */
    bool all_messages;
    log_format_kind format;
    const char *tz; /* --tz: zone for --from/--to without an offset and for output */
    bool stats;     /* --stats: what was read, on stderr */
} log_opts;

/* Add one --table, --xid, --column; -1 with err (a bad value, or out of
 * memory). */
int log_opts_add_table(log_opts *o, const char *s, tm_error *err);
int log_opts_add_xid(log_opts *o, uint32_t xid, tm_error *err);
int log_opts_add_column(log_opts *o, const char *s, tm_error *err);
/* Checks o->tz and sets the window from --from and --to (either NULL):
 * 0, or -1 with err (a bad zone or time, or from after to). */
int log_opts_set_times(log_opts *o, const char *from, const char *to, tm_error *err);
void log_opts_free(log_opts *o);

/* A column name as typed on the command line: plain (folded to lower
 * case, as PostgreSQL does) or "double-quoted" ("" for a quote). Returns a
 * malloc'd name, or NULL with err. */
char *log_parse_column(const char *s, tm_error *err);

#endif
