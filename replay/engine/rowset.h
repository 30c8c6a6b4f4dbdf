/* The rows of one replayed table as output sees them: in the layout of the
 * table's schema version at the target point, filtered by --where, sorted
 * by the key columns as ORDER BY sorts them (typecmp.h; NULLs last). */
#ifndef TM_ROWSET_H
#define TM_ROWSET_H

#include <stddef.h>
#include <stdint.h>

#include "replay/engine/state.h"
#include "replay/query/where.h"

typedef struct tm_rowset_item tm_rowset_item;

typedef struct tm_rowset {
    const tm_table *t;
    const tm_version *v; /* the output columns */
    int32_t **map;       /* map[n]: for each output column, its index in version n or -1 */
    uint32_t *keys;      /* key columns of v */
    uint32_t nkeys;
    bool unique;
    bool pfx[2]; /* the items' prefixes of the first two keys are in use */
    tm_rowset_item *items;
    size_t n;
    size_t items_bytes; /* allocated for items */
    tm_value *vals;     /* the current row's values (v->ncols) */
} tm_rowset;

/* The version of t in effect at the target: the newest whose recorded LSN
 * is below limit_lsn (UINT64_MAX: any). NULL when none is. */
const tm_version *tm_table_version_at(const tm_table *t, uint64_t limit_lsn);

/* Collects t's rows in version v's layout, keeps those matching where (NULL:
 * all; bound to v's columns), sorts them. 0, or -1 with err. */
int tm_rowset_build(tm_rowset *rs, const tm_table *t, const tm_version *v,
                    const tm_where_bound *where, tm_error *err);
void tm_rowset_free(tm_rowset *rs);

/* The values of row i (0 <= i < rs->n), valid until the next call. */
const tm_value *tm_rowset_row(tm_rowset *rs, size_t i);

#endif
