/* tidemark undo: what to reverse, read from the journal in one pass.
 *
 * The journal is read in commit order while replay's state engine follows
 * the selected tables (so that a TRUNCATE can be expanded into the rows it
 * removed). Every change of a selected transaction is folded into one entry
 * per row, keyed by table and key columns: the row's image before the first
 * change of the set (or absent) and after the last one (or absent). An
 * UPDATE that changes the key leaves one key and arrives at another: two
 * entries. Tables without a unique key get one entry per change.
 *
 * Changes of other transactions to an entry's row after it was first
 * touched are recorded as "later touches": one that falls between two
 * changes of the set makes the entry interleaved (undoing it would wipe
 * that other transaction's change, so it is a conflict); later ones explain
 * conflicts found against the target. */
#ifndef TM_UNDO_PLAN_H
#define TM_UNDO_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/qualname.h"
#include "replay/engine/rowmap.h"
#include "replay/engine/state.h"
#include "store/common/tm_error.h"
#include "replay/query/where.h"

/* An owned copy of a row image in the layout of schema version ver. */
typedef struct tm_undo_img {
    const tm_version *ver;
    tm_value *v; /* ver->ncols values ('t' or 'n'), pointing into the same allocation */
} tm_undo_img;

typedef struct tm_undo_touch {
    uint32_t xid;
    int64_t time;
    char op; /* 'I', 'U', 'D', 'T' */
} tm_undo_touch;

typedef struct tm_undo_entry {
    tm_table *t;
    uint32_t hash;
    char *key; /* serialised key values (map lookups) */
    size_t keylen;
    bool has_before, has_after;
    tm_undo_img before, after;
    uint64_t first_seq, last_seq; /* positions of its first and last change in the journal */
    uint32_t first_xid, last_xid;
    bool interleaved;
    tm_undo_touch *later;
    uint32_t nlater, caplater;
} tm_undo_entry;

/* Changes that cannot be undone: no old row image was captured. */
typedef struct tm_undo_cannot {
    const tm_table *t;
    char replica_identity; /* of the version the change was written with */
    uint32_t first_xid;
    uint64_t changes;
} tm_undo_cannot;

typedef struct tm_undo_tx {
    uint32_t xid;
    uint64_t commit_lsn;
    int64_t commit_time;
} tm_undo_tx;

typedef struct tm_undo_select {
    const uint32_t *xids; /* --xid list (by_time false) */
    size_t nxids;
    bool by_time;
    int64_t from, to; /* commit time window, inclusive */
    const tm_qualname *tables;
    size_t ntables;        /* 0: every captured table */
    const tm_where *where; /* NULL: every row */
    const char *tz;
} tm_undo_select;

typedef struct tm_undo_plan {
    tm_state *state;
    tm_undo_entry **e; /* in order of first change */
    size_t n, cap;
    tm_rowmap map;
    tm_undo_tx *tx; /* the selected transactions, in commit order */
    size_t ntx, captx;
    tm_undo_cannot *cannot;
    size_t ncannot;
    uint64_t changes; /* changes of the set folded into entries */
    /* private */
    const tm_undo_select *sel;
    void *binds; /* --where bound per schema version */
    size_t nbinds;
} tm_undo_plan;

/* Reads the journal and fills p (zero it first). 0, or -1 with err. */
int tm_undo_plan_build(tm_undo_plan *p, const char *journal, const tm_undo_select *sel,
                       tm_error *err);
void tm_undo_plan_free(tm_undo_plan *p);

/* Whether a later touch of e is an INSERT (the key was reused). */
bool tm_undo_entry_reused(const tm_undo_entry *e);

#endif
