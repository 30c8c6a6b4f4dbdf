/* Key summaries: per segment, which frames hold the changes of which rows,
 * tables and transactions, so that a lookup by key, table or xid reads only
 * those frames (with the reader's frame filter) instead of the journal.
 *
 * A summary is a cache beside its segment, DIR/NNNNNNNNNNNNNNNN.keys, built
 * by readers as a side effect of reading (capture's maintenance child,
 * tidemark checkpoint, reads for it; capture itself never), and trusted
 * only as far as it goes: it lists the frames it covers by offset and
 * payload CRC, and a frame it does not cover, or whose CRC differs, is read.
 * A damaged file (CRC32C over the whole) counts as absent, which also
 * covers two readers saving the same summary at once. So a summary can
 * cover any subset of a segment's frames, and grows as reading goes on
 * (the open segment's new frames are added by the next read).
 *
 * Entries are 32-bit hashes (CRC32C) of what a transaction touched, filed
 * under the frame where the transaction begins (its TxBegin): the reader
 * delivers whole transactions from there. A hash collision only makes a
 * frame be read for nothing. What is hashed:
 *   table    every relation oid the transaction changed (incl. TRUNCATE)
 *   trunc    relation oids it truncated
 *   column   (oid, column name, canonical value) of each search column
 *            (tm_relver.search: the key's first column, the first column
 *            of each unique and each foreign key) of each row image (old
 *            and new) of its changes: lookups by a whole single-column
 *            key, by the leading column of a composite one ("all
 *            preferences of user 42"), by a unique column (email) or a
 *            foreign-key column (user_id)
 *   row      (oid, the canonical values of all key columns) of each row
 *            image, for composite keys: lookups of one row
 *            Only key columns whose type has a canonical text form
 *            (tm_keysum_canon) are hashed; tables without a key (whole-row
 *            identity) get their first column's.
 *   xid      its xid
 *   snapshot base snapshots, message frames with a standalone message,
 *            gap frames with a Gap (standalone records count under the
 *            frame they are in)
 *
 * File layout (version 2; version 1, which hashed only the key's first
 * column, is stale and rebuilt), little-endian:
 *   0 magic "TMKS", 4 u16 version, 6 u16 0, 8 u64 segment number,
 *   16 u32 frames, 20 u32 relations, 24 u32 hashes, 28 u32 0,
 *   32 frames: u64 offset, u32 payload CRC, u32 index of its first hash,
 *   relations: u64 oid << 32 | version (each (oid, version) with changes in
 *   a covered frame), ascending,
 *   hashes: u32 each, sorted within each frame,
 *   u32 CRC32C of everything before it. */
#ifndef TM_KEYSUM_H
#define TM_KEYSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/tm_error.h"
#include "store/journal/verify.h"
#include "replay/query/typecmp.h"

typedef struct tm_keysum tm_keysum;

/* The summary of segment segno: loaded from DIR when present and sound,
 * else empty. NULL only when out of memory (err). */
tm_keysum *tm_keysum_load(const char *dir, uint64_t segno, tm_error *err);
/* tidemark verify's check of the summary file at path (DIR/NNNN.keys):
 * sound, or what makes tm_keysum_load do without it. -1 with err only when
 * out of memory. */
int tm_keysum_verify(const char *path, tm_vresult *res, tm_error *err);

/* An empty summary (for tests and for journals that cannot hold one). */
tm_keysum *tm_keysum_new(uint64_t segno, tm_error *err);
void tm_keysum_free(tm_keysum *ks);

uint64_t tm_keysum_segment(const tm_keysum *ks);

/* Whether the frame at offset with payload CRC crc is covered; *frame
 * receives its number for tm_keysum_has. */
bool tm_keysum_covers(const tm_keysum *ks, uint64_t offset, uint32_t crc, uint32_t *frame);
/* Whether covered frame `frame` holds hash h. */
bool tm_keysum_has(const tm_keysum *ks, uint32_t frame, uint32_t h);
/* Whether a change of relation (oid, version) is in a covered frame; and
 * the list of those (oid, version) pairs, ordered. */
bool tm_keysum_has_relation(const tm_keysum *ks, uint32_t oid, uint32_t version);
size_t tm_keysum_nrelations(const tm_keysum *ks);
void tm_keysum_relation_at(const tm_keysum *ks, size_t i, uint32_t *oid, uint32_t *version);
/* Frames covered (for statistics). */
size_t tm_keysum_nframes(const tm_keysum *ks);

/* Building: a frame read whole starts being covered (replacing what the
 * summary said of that offset); its hashes and relations are added. A frame
 * whose reading did not finish is dropped before saving. */
int tm_keysum_begin_frame(tm_keysum *ks, uint64_t offset, uint32_t crc, tm_error *err);
void tm_keysum_drop_frame(tm_keysum *ks, uint64_t offset);
/* Whether the frame at offset was begun (and not dropped) since load. */
bool tm_keysum_building(const tm_keysum *ks, uint64_t offset);
/* Adds to the frame begun at offset (no-op if it was not begun). */
int tm_keysum_add(tm_keysum *ks, uint64_t offset, uint32_t h, tm_error *err);
int tm_keysum_add_relation(tm_keysum *ks, uint32_t oid, uint32_t version, tm_error *err);
/* Whether anything was begun since load. */
bool tm_keysum_dirty(const tm_keysum *ks);
/* Writes DIR/NNNN.keys atomically (temp file, fsync, rename, fsync dir). */
int tm_keysum_save(tm_keysum *ks, const char *dir, tm_error *err);

/* ---- what is hashed ---------------------------------------------------- */

uint32_t tm_keysum_hash_table(uint32_t oid);
uint32_t tm_keysum_hash_trunc(uint32_t oid);
uint32_t tm_keysum_hash_xid(uint32_t xid);
uint32_t tm_keysum_hash_snapshot(void);
uint32_t tm_keysum_hash_message(void);
uint32_t tm_keysum_hash_gap(void);
/* A key column's value, in canonical form (see tm_keysum_canon). */
uint32_t tm_keysum_hash_column(uint32_t oid, const char *column, const char *canon, size_t len);
/* A whole composite key: start with the oid, add each key column's
 * canonical value in key order. */
uint32_t tm_keysum_hash_row_begin(uint32_t oid);
uint32_t tm_keysum_hash_row_add(uint32_t h, const char *canon, size_t len);

/* The bytes two values of class cls compare equal by (tm_typecmp == 0) iff
 * they are equal, for the classes where there is such a form: text
 * (itself), character(n) (without trailing spaces), integers (no sign
 * unless negative, no leading zeros) and uuids (32 lower-case hex digits).
 * buf needs room for len + 1 bytes and at least 33. Returns false for other
 * classes and for values not in a form the class reads; callers then
 * cannot use the summary for that value (and must not index it). */
bool tm_keysum_canon(tm_tclass cls, const char *p, size_t len, char *buf, const char **out,
                     size_t *outlen);
/* Whether columns of class cls are indexed at all. */
bool tm_keysum_indexable(tm_tclass cls);

#endif
