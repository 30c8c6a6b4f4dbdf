/* tidemark log: which transactions and rows are shown (--table, --where,
 * --xid, --from/--to, --column), per relation version. */
#ifndef TM_LOG_FILTER_H
#define TM_LOG_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/log/log_opts.h"
#include "replay/engine/relreg.h"
#include "replay/query/typecmp.h"
#include "replay/query/where.h"

/* What log knows of one relation version. */
typedef struct log_rel {
    const tm_relver *rv;
    bool selected;         /* by --table (or no --table) */
    bool possible;         /* has every --where column (or no --where) */
    tm_where_bound *where; /* --where bound to its columns, when possible */
    tm_tclass *cls;        /* per column */
    bool *colsel;          /* per column: named by --column (NULL without --column) */
    bool any_colsel;       /* some --column names one of its columns */
} log_rel;

typedef struct log_filter log_filter;

/* Parses --where; NULL with err on a syntax error. */
log_filter *log_filter_new(const log_opts *o, const tm_relreg *s, tm_error *err);
void log_filter_free(log_filter *f);

/* Checks the options against every relation version the schema holds now
 * (the journal's): tables that are not in it, --where and --column names
 * that no selected table has (the message lists the columns), literals
 * that do not fit their column's type. -1 with err. */
int log_filter_check(log_filter *f, tm_error *err);

/* The entry for rv (prepared on first use). NULL with err only when a
 * version met later does not take --where (a literal of the wrong type). */
const log_rel *log_filter_rel(log_filter *f, const tm_relver *rv, tm_error *err);

/* The parsed --where (NULL without one). */
const tm_where *log_filter_where(const log_filter *f);

/* Transaction-level filters: --xid and --from/--to. */
bool log_filter_tx(const log_filter *f, uint32_t xid, int64_t commit_time);

/* Whether a row change of lr passes --where: its old or its new image
 * matches. Values of kinds other than 't' count as NULL. */
bool log_filter_row(const log_rel *lr, const tm_value *oldv, uint32_t nold, const tm_value *newv,
                    uint32_t nnew);

#endif
