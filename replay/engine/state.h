/* Replay's state engine: the rows of the selected tables, kept up to date
 * as journal changes are applied in commit order.
 *
 * Each table keeps its rows in a hash table keyed by its key columns (the
 * primary key, else the replica identity key, else the whole row, which
 * may then repeat: such rows carry a count). A row is one allocation: a
 * small header, the end offset of each value, then the value bytes, in the
 * layout of the schema version that wrote it (see schema.h); an update
 * rewrites the row in place when it fits. Changes of tables that are not
 * selected are dropped after reading their relation oid.
 *
 * Old-image lookups: UPDATE and DELETE find their row by the key columns of
 * the old tuple ('O' full row or 'K' key only), else (UPDATE without an old
 * tuple) of the new one. Unchanged TOAST values ('u') take the row's
 * previous value. Changes that find no row where one must exist are
 * counted as anomalies (a journal missing a table's snapshot shows them). */
#ifndef TM_STATE_H
#define TM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/engine/change_decode.h"
#include "proto/journal.pb-c.h"
#include "replay/engine/rowmap.h"
#include "replay/engine/schema.h"
#include "store/common/tm_error.h"

#define TM_ROW_NULL 0x80000000u /* in a row's end offsets: the value is NULL */

/* One row: `ncols` end offsets, then the value bytes. */
typedef struct tm_row {
    uint16_t ver;   /* schema version of its layout */
    uint16_t ncols; /* columns of that version */
    uint32_t count; /* how many identical rows (tables without a unique key), else 1 */
    uint32_t cap;   /* bytes allocated for the whole row */
    uint32_t end[]; /* end[i]: offset after value i in the data, | TM_ROW_NULL for NULL */
} tm_row;

static inline const char *tm_row_data(const tm_row *r)
{
    return (const char *)(r->end + r->ncols);
}

static inline tm_value tm_row_get(const tm_row *r, uint32_t i)
{
    uint32_t e = r->end[i];
    if (e & TM_ROW_NULL)
        return (tm_value){NULL, 0, TM_KIND_NULL};
    uint32_t s = i ? r->end[i - 1] & ~TM_ROW_NULL : 0;
    return (tm_value){tm_row_data(r) + s, e - s, TM_KIND_TEXT};
}

typedef struct tm_table_stats {
    uint64_t inserts, updates, deletes, truncates;
    uint64_t missing_rows;   /* UPDATE/DELETE whose row was not there */
    uint64_t duplicate_keys; /* INSERT of a key that was there */
    uint64_t unresolved;     /* unchanged TOAST values with no previous value (read as NULL) */
} tm_table_stats;

typedef struct tm_table {
    uint32_t oid;
    bool selected;
    bool gap;         /* a gap in the journal since its last snapshot */
    bool captured;    /* a snapshot of it was read, and no TableRemoved since */
    tm_version **ver; /* ver[n] is version n (NULL when never seen); n < nver */
    uint32_t nver;
    tm_version *cur; /* the newest version seen */

    /* the key, as column indices of cur, and for each version the index of
     * each of cur's columns in it (-1: absent) */
    uint32_t *keycols;
    uint32_t nkeys;
    bool unique;
    int32_t **to_cur; /* to_cur[n] for version n */

    tm_rowmap rows;
    struct tm_rowalloc *alloc; /* the state's: where the rows live */
    uint64_t big_rows;         /* rows larger than the allocator's classes (malloc'd) */
    uint64_t nrows;            /* counting repeats */
    uint64_t bytes;            /* bytes allocated for rows */
    uint32_t loading;          /* its rows loaded but not yet in rows (a few) */
    tm_table_stats st;
} tm_table;

typedef struct tm_state tm_state;

/* select(arg, version): whether the table a version describes is wanted
 * (called for each new version until one says yes). */
typedef bool (*tm_select_fn)(void *arg, const tm_version *v);

tm_state *tm_state_new(tm_select_fn select, void *arg, tm_error *err);
void tm_state_free(tm_state *s);
/* Forgets every table, row and counter (as new; the selection is kept). */
void tm_state_reset(tm_state *s);

/* A Relation record (a version already held is a no-op). */
int tm_state_relation(tm_state *s, const Tidemark__Relation *rel, tm_error *err);
/* A Change, packed (from tm_reader_next_lazy) or unpacked. */
int tm_state_change_packed(tm_state *s, const uint8_t *p, size_t len, tm_error *err);
int tm_state_change(tm_state *s, const Tidemark__Change *c, tm_error *err);
/* The same as tm_state_change_packed, except that the change may be held
 * back (a copy of it: p need not outlive the call) and applied during a
 * later call, so that the rows it needs are fetched from memory meanwhile.
 * An error may be that of a change queued earlier. Call tm_state_flush
 * before tm_state_gap, tm_state_in_snapshot or reading the tables; the
 * other functions here flush by themselves. */
int tm_state_queue_packed(tm_state *s, const uint8_t *p, size_t len, tm_error *err);
/* The same as tm_state_change_packed for the rows of a checkpoint or a
 * base snapshot (INSERTs of values and NULLs), faster; anything else is
 * applied the general way. Like tm_state_queue_packed, a row may go into
 * its table during a later call (tm_state_flush: all of them now). */
int tm_state_load_row_packed(tm_state *s, const uint8_t *p, size_t len, tm_error *err);
/* Applies every queued change. */
int tm_state_flush(tm_state *s, tm_error *err);
/* A Gap record: every table's rows are unreliable until its next snapshot. */
void tm_state_gap(tm_state *s);
/* A TableRemoved record: the table's rows are not known from here on,
 * until its next snapshot. */
void tm_state_table_removed(tm_state *s, uint32_t oid);
/* Entering (true) or leaving a snapshot transaction: its TRUNCATE of a
 * table ends that table's gap; any change of a table in it starts (or goes
 * on with) the table's capture. */
void tm_state_in_snapshot(tm_state *s, bool on);

/* Makes room for n distinct rows in table oid (a loader that knows how
 * many are coming sizes the table once). A table not known is ignored. */
int tm_state_reserve_rows(tm_state *s, uint32_t oid, uint64_t n, tm_error *err);

/* Changes applied and skipped (other tables) so far. */
uint64_t tm_state_applied(const tm_state *s);
uint64_t tm_state_skipped(const tm_state *s);

/* The tables known, in order of first appearance. */
size_t tm_state_ntables(const tm_state *s);
tm_table *tm_state_table(const tm_state *s, size_t i);

#endif
