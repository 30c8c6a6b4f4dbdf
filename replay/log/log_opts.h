/* tidemark log: the command line. */
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
    tm_qualname *tables; /* --table, as parsed (plain names folded) */
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

/* Parses argv (argv[0] is "log"). Returns 0, 1 when --help was printed to
 * stdout, or -1 with err (a usage error). */
int log_opts_parse(int argc, char **argv, log_opts *o, tm_error *err);
void log_opts_free(log_opts *o);

/* A column name as typed on the command line: plain (folded to lower
 * case, as PostgreSQL does) or "double-quoted" ("" for a quote). Returns a
 * malloc'd name, or NULL with err. */
char *log_parse_column(const char *s, tm_error *err);

void log_usage(void *out /* FILE* */);

#endif
