/* Writing small synthetic journals for replay, checkpoint and undo tests:
 * schema versions from a column list, transactions, changes encoded as
 * capture encodes them (from tm_values, or from C strings), and journal
 * metadata. Every step asserts its own success. */
#ifndef TM_SUPPORT_JOURNAL_H
#define TM_SUPPORT_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/journal/journal.h"
#include "store/journal/tuple.h"
#include "capture/decode/tuple_encode.h"

typedef struct tmt_jw {
    tm_writer *w;
    tm_tuple_enc eo, en;
    uint64_t lsn; /* commit LSN of the last transaction begun (+100 each) */
    int64_t time; /* its commit time */
    uint32_t xid; /* the xid of the next transaction begun (0: none recorded) */
    /* new tuples keep their unchanged TOAST values ('u') even beside a
     * whole old row, which capture stores as 's' (same as old) */
    bool keep_unchanged;
} tmt_jw;

/* A column of a test relation: integer (23) or text (25), its position in
 * the primary key (0: none), and whether it has a missing value ("7");
 * type_name, when set, names another type (type_oid then its oid). */
typedef struct tmt_col {
    const char *name;
    uint32_t type_oid;
    uint32_t pk;
    bool missing;
    const char *type_name;
} tmt_col;

/* A standalone Relation record: public.<name>, version, first seen at lsn.
 * Columns are flagged as replica key when in the primary key, or all of
 * them when the relation has none. */
void tmt_jw_relation(tm_writer *w, uint32_t oid, uint32_t version, uint64_t lsn, const char *name,
                     char replica_identity, const tmt_col *cols, uint32_t n);
/* The same in schema nsp. */
void tmt_jw_relation_in(tm_writer *w, const char *nsp, uint32_t oid, uint32_t version, uint64_t lsn,
                        const char *name, char replica_identity, const tmt_col *cols, uint32_t n);
/* Begins a transaction of n records committed at time (LSNs advance). */
/* The versioned table of the replay tests, public.<name>: the key columns
 * key[0..nkey), then c text before version 3 and d int (DEFAULT 7, a
 * missing value) from version 2; with nkey 0, keyless (x text, y int). */
void tmt_jw_versioned_relation(tm_writer *w, uint32_t oid, uint32_t version, uint64_t lsn,
                               const char *name, char replica_identity, const tmt_col *key,
                               uint32_t nkey);
void tmt_jw_begin(tmt_jw *j, uint64_t n, bool snapshot, int64_t time);
void tmt_jw_end(tmt_jw *j);
/* A Change; old_kind 0: no old tuple (ov ignored). */
void tmt_jw_change(tmt_jw *j, int op, uint32_t oid, uint32_t version, char old_kind,
                   const tm_value *ov, uint32_t no, const tm_value *nv, uint32_t nn);

/* Changes whose rows are C strings: NULL is SQL NULL and TMT_TOAST an
 * unchanged TOAST value; TMT_ROW("1", NULL) is such a row and its width,
 * as two arguments. old_kind is 'O' (the whole old row), 'K' (its key) or
 * 0 (no old row: pass NULL, 0). */
extern const char TMT_TOAST[];
#define TMT_ROW(...)                                                                               \
    (const char *const[]){__VA_ARGS__},                                                            \
        (uint32_t)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
void tmt_jw_insert(tmt_jw *j, uint32_t oid, uint32_t version, const char *const *nv, uint32_t nn);
void tmt_jw_update(tmt_jw *j, uint32_t oid, uint32_t version, char old_kind, const char *const *ov,
                   uint32_t no, const char *const *nv, uint32_t nn);
void tmt_jw_delete(tmt_jw *j, uint32_t oid, uint32_t version, char old_kind, const char *const *ov,
                   uint32_t no);
void tmt_jw_truncate(tmt_jw *j, uint32_t oid, uint32_t version);
/* journal.meta of a test source (system identifier 42, database "db"). */
void tmt_jw_meta(const char *dir);
/* Opens j->w on dir (options o; NULL: the writer's defaults) and writes
 * its journal.meta; j's LSN and time stay as the caller set them. */
void tmt_jw_open(tmt_jw *j, const char *dir, const tm_writer_options *o);
/* Closes the writer (asserted) and frees the tuple encoders. */
void tmt_jw_close(tmt_jw *j);

#endif
