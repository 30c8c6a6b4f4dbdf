/* Table rewrites: DDL that changes rows without sending row changes through
 * the slot (ALTER COLUMN ... TYPE ... USING, a volatile default, ...). When
 * a relation's file node changes, the table is owed a fresh base snapshot,
 * taken under a temporary slot's exported snapshot and journaled when the
 * stream reaches that slot's consistent point, so replay after it is exact.
 *
 * The same snapshot starts the capture of a table that joins the capture
 * set (capture/loop/liveset.c).
 *
 * The owed set lives in DIR/rewrites.pending (replaced atomically) and is
 * saved before the relation version that revealed the rewrite can become
 * durable, so a crash never forgets a snapshot it owes. */
#ifndef TM_REWRITE_H
#define TM_REWRITE_H

#include <libpq-fe.h>

#include "capture/source/catalog.h"
#include "capture/source/setup.h"
#include "capture/decode/txbuf.h"

#define TM_OWED_FILE "rewrites.pending"
/* A set of oids in DIR/file, one per line (absent: nothing added); saved
 * by write, fsync, rename, fsync of the directory. */
int tm_oidfile_load(const char *dir, const char *file, tm_oidlist *owed, tm_error *err);
int tm_oidfile_save(const char *dir, const char *file, const tm_oidlist *owed, tm_error *err);

/* A snapshot taken, waiting for the stream to reach its LSN. */
typedef struct tm_deferred_snapshot {
    bool ready;
    uint64_t lsn;
    Tidemark__TxBegin hdr;
    tm_txbuf *buf;
    tm_catrel *rels;        /* schema each table was copied with (version set) */
    bool *rel_new;          /* that schema is a new version to journal first */
    uint32_t *prev_version; /* journal's version when taken: a change since voids it */
    int n;
    uint64_t rows; /* rows copied */
} tm_deferred_snapshot;

/* Takes the snapshot of the owed tables now (their schemas from the
 * catalog, versions matched against the journal's) into d. */
int tm_deferred_take(tm_deferred_snapshot *d, const char *conninfo, PGconn *sql, tm_writer *w,
                     const tm_oidlist *owed, const char *spool_path, uint64_t budget,
                     tm_error *err);
/* Journals it (new relation versions, then the snapshot transaction).
 * Returns 1 when written, 0 when voided by a schema change since (retake),
 * -1 on error. */
int tm_deferred_write(tm_deferred_snapshot *d, tm_writer *w, tm_error *err);
void tm_deferred_clear(tm_deferred_snapshot *d);

/* Captured tables whose file node differs from the journal's latest version
 * of them (after a DDL message says something may have been rewritten). */
int tm_rewrites_detect(PGconn *sql, tm_writer *w, const tm_oidlist *tables, tm_oidlist *owed,
                       tm_error *err);

#endif
