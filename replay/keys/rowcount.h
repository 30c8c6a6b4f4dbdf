/* Row counts: how many rows each captured table holds as the journal goes,
 * kept only as far as a reader needs them, so that tidemark log can say how
 * many rows a TRUNCATE removed without rebuilding the tables' state.
 *
 * A table's count follows its changes in journal order: a snapshot sets it
 * (its TRUNCATE, then its rows), an INSERT adds a row, a DELETE takes one
 * away, an UPDATE leaves it, and a TRUNCATE empties it, after recording
 * how many rows it removed (the rows the state engine holds for the table
 * just before it, for a journal without anomalies: replay's warnings say
 * when there are any). A table starts with no rows, as in the state
 * engine; a Gap makes every count unknown until the table's next snapshot
 * or TRUNCATE. Only the relation oid and operation of each change are
 * read, never its rows.
 *
 * The result is a cache beside the journal, DIR/rowcounts, like the key
 * summaries: it says up to which commit LSN it has counted, the counts
 * there, and every TRUNCATE until then with the rows it removed. A reader
 * that needs a TRUNCATE past that point counts on from there to the end of
 * the journal (reading each frame once, ever) and saves the file again
 * (written to a temporary name, fsynced, renamed). A damaged or unreadable
 * file counts as absent; one that cannot be saved (a read-only journal) is
 * not an error.
 *
 * File layout (version 1), little-endian:
 *   0 magic "TMRC", 4 u16 version, 6 u16 0, 8 u64 commit LSN counted to,
 *   16 u32 tables, 20 u32 truncates, 24 u64 0,
 *   32 tables: u32 oid, u32 flags (1: count known), u64 count,
 *   truncates: u64 commit LSN, u32 oid, u32 flags (1: rows known), u64 rows,
 *   u32 CRC32C of everything before it. */
#ifndef TM_ROWCOUNT_H
#define TM_ROWCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/common/tm_error.h"
#include "store/journal/verify.h"

#define TM_ROWCOUNT_FILE "rowcounts"

typedef struct tm_rowcount tm_rowcount;

/* The counts of journal dir, loaded from DIR/rowcounts when it is there
 * and sound (else nothing counted yet). NULL only when out of memory. */
tm_rowcount *tm_rowcount_open(const char *dir, tm_error *err);
void tm_rowcount_free(tm_rowcount *rc);

/* The rows that the nth (0-based) TRUNCATE of table oid in the transaction
 * committed at commit_lsn removed: 1 with *rows (*known false when the
 * table's count was not known then), 0 when the journal holds no such
 * TRUNCATE, -1 with err when the journal cannot be read. Counts on (and
 * saves) when commit_lsn is past what is counted. */
int tm_rowcount_truncated(tm_rowcount *rc, uint64_t commit_lsn, uint32_t oid, uint32_t nth,
                          uint64_t *rows, bool *known, tm_error *err);

/* Counts to the end of the journal and saves (tidemark checkpoint, the
 * background job, does it so that log never has to). */
int tm_rowcount_update(tm_rowcount *rc, tm_error *err);

/* tidemark verify's check of DIR/rowcounts. */
int tm_rowcount_verify(const char *path, tm_vresult *res, tm_error *err);

#endif
