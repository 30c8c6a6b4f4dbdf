/* The recorded schema versions of a table, as replay uses them.
 *
 * Every Relation record of the journal is one version of one table (oid,
 * version). Rows keep the layout of the version they were written with;
 * values move between versions by column name: a column a version lacks
 * reads as the newer version's missing value (ADD COLUMN ... DEFAULT), or
 * NULL. A renamed column therefore reads as a dropped one plus a new one. */
#ifndef TM_SCHEMA_H
#define TM_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/journal.pb-c.h"
#include "store/common/tm_error.h"
#include "replay/query/typecmp.h"
#include "replay/query/value.h"

typedef struct tm_col {
    const char *name;
    uint32_t type_oid;
    const char *type_name; /* format_type() text; "text" when not recorded */
    tm_tclass cls;
    uint32_t pk_position; /* 1-based position in the primary key, 0 = not in it */
    bool replica_key, not_null;
    tm_value missing; /* what rows written before the column existed read ('n' or 't') */
} tm_col;

typedef struct tm_version {
    uint32_t version;
    bool has_lsn;
    uint64_t lsn; /* where capture first saw it (the commit LSN of the transaction) */
    const char *nspname, *relname;
    uint32_t ncols;
    tm_col *cols;
    tm_coldesc *desc;        /* the same columns for sinks and --where */
    Tidemark__Relation *rel; /* owned copy the strings point into */
} tm_version;

/* A copy of rel (which may live in the reader's arena). NULL with err. */
tm_version *tm_version_new(const Tidemark__Relation *rel, tm_error *err);
void tm_version_free(tm_version *v);

/* Index of column name in v, or -1. */
int tm_version_find(const tm_version *v, const char *name);

/* The key of a table in version v, as column indices of v: the primary key
 * in its order, else the replica identity key columns, else all columns
 * (then *unique is false: equal rows may repeat). Writes up to v->ncols
 * indices into keys and returns their count. */
uint32_t tm_version_key(const tm_version *v, uint32_t *keys, bool *unique);

/* For each column of to, its index in from or -1: map[0 .. to->ncols). */
void tm_version_map(const tm_version *from, const tm_version *to, int32_t *map);

/* Whether two versions have the same key (same column names, in order,
 * and the same uniqueness). */
bool tm_version_same_key(const tm_version *a, const tm_version *b);

#endif
