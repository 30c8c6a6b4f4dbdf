/*
 * The journal: a directory of append-only segment files of self-checking
 * frames, plus a metadata file. See DESIGN.md "The journal".
 *
 * On disk:
 *   DIR/journal.meta            metadata (tm_meta), replaced atomically
 *   DIR/NNNNNNNNNNNNNNNN.seg    segments, NNNN = 16 hex digits, 1, 2, 3, ...
 *   DIR/NNNNNNNNNNNNNNNN.idx    index of a sealed segment (frame directory)
 *   DIR/capture.lock            held (flock) by a running writer, holds its pid
 *   DIR/confirmed.mark          the durable confirmed mark (below), when kept
 *
 * A frame holds a run of Records (proto/journal.proto), each a varint length
 * plus the packed Record, LZ4-compressed and CRC32C-checked, behind a fixed
 * header carrying the frame's commit-LSN range, commit-time range and record
 * count so that readers can skip frames without decompressing them. A
 * transaction (TxBegin and its n_records records) may span frames; a frame
 * whose last record completes a transaction (or is a standalone record) has
 * TM_FRAME_TX_END set. Standalone records (Relation, non-transactional
 * LogicalMessage, Gap) stand between transactions.
 *
 * Files are created 0600, directories 0700.
 */
#ifndef TM_JOURNAL_H
#define TM_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/journal.pb-c.h"
#include "store/common/tm_error.h"

#define TM_JOURNAL_FORMAT_VERSION 1
#define TM_DEFAULT_SEGMENT_SIZE (64u * 1024 * 1024)

/* ---- metadata ---------------------------------------------------------- */

typedef struct tm_meta {
    int format_version;
    uint64_t system_identifier; /* of the source cluster */
    char database[128];
    char slot[128];
    char publication[128];
    uint64_t start_lsn; /* the base snapshot's consistent point */
    int64_t created_at; /* microseconds since the Unix epoch */
} tm_meta;

/* Writes DIR/journal.meta atomically: temp file, fsync, rename, fsync dir. */
int tm_meta_write(const char *dir, const tm_meta *meta, tm_error *err);
/* Returns 0, or -1 with err naming the file: TM_ERR_NOT_FOUND when DIR has
 * no journal.meta (not a journal, or not created yet), TM_ERR_CORRUPT when
 * it does not parse, TM_ERR_FORMAT when a newer tidemark wrote it, or the
 * code of an I/O error. */
int tm_meta_read(const char *dir, tm_meta *meta, tm_error *err);

/* ---- lock -------------------------------------------------------------- */

/* Takes DIR/capture.lock (flock, exclusive, non-blocking) and writes the
 * caller's pid into it. When another process holds it, fails with err
 * "journal DIR is in use by another capture (pid N)" (TM_ERR_CONFLICT).
 * The writer does not lock by itself: whoever appends (capture) holds the
 * lock for as long as it may open writers. */
int tm_journal_lock(const char *dir, int *lock_fd, tm_error *err);
void tm_journal_unlock(int lock_fd);

/* ---- durable confirmed mark --------------------------------------------- */

/* How far the journal is durable and protected, and what was confirmed to
 * the server (store/journal/mark.h has the file format). Everything up to
 * offset in segment (and every segment before it) was fsynced before the
 * mark was written, and the mark is written before lsn is confirmed to the
 * server: confirmed <= mark <= fsynced data. On open, a writer cuts only
 * what lies above the mark (the server sends it again); damage at or below
 * it is corruption and the open fails. */
typedef struct tm_mark {
    uint64_t seq;     /* sequence number, from 1 */
    uint64_t segment; /* segment number */
    uint64_t offset;  /* end of the last durable frame in it */
    uint64_t lsn;     /* the confirmed position (a commit's end or a keepalive's) */
    int64_t time;     /* when it was written, us since the Unix epoch */
    /* Made for a journal written before marks existed: lsn is the end of
     * its last transaction, and the server may have been confirmed a
     * keepalive position beyond it. Cleared by the first confirmation. */
    bool adopted;
} tm_mark;

/* Returns 1 with *m when DIR has a mark, 0 when it has none, or -1 with err
 * (TM_ERR_CORRUPT, the file as context, when neither copy is valid). */
int tm_mark_read(const char *dir, tm_mark *m, tm_error *err);

/* ---- writer ------------------------------------------------------------ */

/* What tm_writer_open repaired in the last segment. */
typedef struct tm_recovery {
    bool repaired;          /* false: nothing was cut, the rest is unset */
    uint64_t segment;       /* the segment repaired */
    bool header_torn;       /* its header was torn: it was started again */
    uint64_t offset;        /* where it was cut: the end of its last safe frame */
    uint64_t bytes_cut;     /* bytes removed (header_torn: the size it had) */
    bool torn_write;        /* damage was cut (else only an unfinished transaction) */
    uint64_t damage_offset; /* where the damage began (torn_write) */
    char why[256];          /* what the damage was (torn_write, header_torn) */
    /* The cut was at the durable mark: what it removed was never
     * confirmed to the server, which sends it again. */
    bool above_mark;
} tm_recovery;

/* The notice that says it, one line without a newline ("journal
 * DIR: segment S: cut N bytes at offset O (REASON); everything before it is
 * intact"), or "" when nothing was repaired. */
void tm_recovery_describe(const char *dir, const tm_recovery *rep, char *buf, size_t len);

typedef struct tm_writer_options {
    uint64_t segment_size;      /* roll over after this many bytes; 0 = default 64 MiB */
    int64_t segment_max_age_us; /* roll over after this age; 0 = no limit */
    uint32_t frame_target;      /* raw bytes per frame before it is cut; 0 = 1 MiB */
    /* When set, tm_writer_open fills it with what it repaired, also when
     * it fails after cutting. */
    tm_recovery *report;
    /* Keep the durable confirmed mark (capture): a new journal gets one,
     * and so does a journal written before marks existed (adopted, at the
     * end of its last transaction). A journal that has a mark keeps it
     * whatever this says. */
    bool keep_mark;
} tm_writer_options;

typedef struct tm_writer tm_writer;

/* Opens (creating if needed, mode 0700) the journal directory for appending.
 * With a durable mark, everything above the mark is cut, sound or not (it
 * was never confirmed, and after a failed write or fsync the page cache
 * cannot be trusted), and damage at or below it, or a segment shorter than
 * it, is an error (TM_ERR_CORRUPT). Without one, a torn tail of the last
 * segment is cut back to the end of the last good frame that ends a
 * transaction. opt->report says what was cut; nothing is printed. A bad
 * frame anywhere else is an error (TM_ERR_CORRUPT) naming the segment and
 * offset, in its message and as its context. */
int tm_writer_open(const char *dir, const tm_writer_options *opt, tm_writer **out, tm_error *err);

/* Standalone record, outside any transaction (Relation, Gap, or a
 * non-transactional LogicalMessage). */
int tm_writer_put_standalone(tm_writer *w, const Tidemark__Record *rec, tm_error *err);

/* A transaction: begin (hdr->n_records must be the number of records that
 * follow), put each record, end. */
int tm_writer_begin_tx(tm_writer *w, const Tidemark__TxBegin *hdr, tm_error *err);
int tm_writer_put(tm_writer *w, const Tidemark__Record *rec, tm_error *err);
int tm_writer_end_tx(tm_writer *w, tm_error *err);

/* Same as tm_writer_put for a record the caller packed already (capture
 * buffers whole transactions packed, so it need not unpack them again). */
int tm_writer_put_packed(tm_writer *w, const uint8_t *rec, size_t len, tm_error *err);

/* The latest Relation the journal holds for oid (found at open or put
 * since), or NULL. Valid until the next Relation put for that oid. */
const Tidemark__Relation *tm_writer_relation(const tm_writer *w, uint32_t oid);

/* Writes out the pending frame and fsyncs (file, and the directory when a
 * segment was created or sealed since the last sync). After it returns 0,
 * everything ended so far is durable. */
int tm_writer_sync(tm_writer *w, tm_error *err);

/* End LSN / commit LSN of the last transaction made durable by sync (0 if none). */
uint64_t tm_writer_durable_end_lsn(const tm_writer *w);
uint64_t tm_writer_durable_commit_lsn(const tm_writer *w);
/* Commit LSN of the last transaction in the journal as found at open (after
 * recovery) or ended since, durable or not: capture skips resent
 * transactions whose commit LSN is <= this. */
uint64_t tm_writer_last_commit_lsn(const tm_writer *w);
/* Bytes written to segments since open (for status lines). */
uint64_t tm_writer_bytes_written(const tm_writer *w);

/* Records in the durable mark that lsn may be confirmed to the server, with
 * everything the last tm_writer_sync made durable: call it after
 * tm_writer_sync and before sending lsn. The mark's LSN never goes back (a
 * lower lsn keeps the higher one). Writes and fdatasyncs the mark only when
 * it changes. Fails on a writer that keeps no mark, or one that failed. */
int tm_writer_confirm(tm_writer *w, uint64_t lsn, tm_error *err);
/* The mark's confirmed LSN (0 without a mark). */
uint64_t tm_writer_confirmed_lsn(const tm_writer *w);
/* The mark, when the journal keeps one (false otherwise). */
bool tm_writer_mark(const tm_writer *w, tm_mark *out);

/* Syncs, then closes. Returns the sync result; w is freed either way. */
int tm_writer_close(tm_writer *w, tm_error *err);

/* ---- reader ------------------------------------------------------------ */

typedef struct tm_reader tm_reader;

/* Where the reader is, for error messages and forensics. */
typedef struct tm_position {
    uint64_t segment; /* segment number */
    uint64_t offset;  /* byte offset of the current frame in it */
} tm_position;

/* The reader sees the segments present at open; it stops before a torn or
 * unfinished tail of the last segment, as recovery would cut it. */
int tm_reader_open(const char *dir, tm_reader **out, tm_error *err);
void tm_reader_close(tm_reader *r);

/* Position before the first transaction whose commit LSN is >= lsn: exactly
 * after the last transaction with a lower commit LSN, so standalone records
 * between the two (a Gap, say) are delivered too. Frames wholly below lsn are
 * skipped by their headers or the segment index, except that the Relation
 * records of the target's segment that precede the position are delivered
 * first (schema catch-up; see tm_reader_next on repeats). */
int tm_reader_seek_lsn(tm_reader *r, uint64_t lsn, tm_error *err);
/* Position at the first frame whose commit-time range reaches t (frames
 * wholly before t are skipped): after the last transaction of the last frame
 * before it that holds any, with the same schema catch-up. Commit times are
 * not strictly monotonic in LSN order, so callers still compare each
 * transaction's time. */
int tm_reader_seek_time(tm_reader *r, int64_t t, tm_error *err);
/* Stop after frames whose min commit time is > t (0 = no limit). */
void tm_reader_set_time_limit(tm_reader *r, int64_t t);

/* Next record. Returns 1 and sets *rec (valid until the next call), 0 at the
 * end of the journal, -1 on error (a corrupt frame: TM_ERR_CORRUPT, err
 * names segment and offset in its message and as its context). Standalone
 * Relation records at the start of each segment repeat the schemas in
 * effect, so a reader that seeks has every schema it needs; readers treat a
 * Relation they already hold (same oid and version) as a no-op. */
int tm_reader_next(tm_reader *r, const Tidemark__Record **rec, tm_error *err);
tm_position tm_reader_position(const tm_reader *r);

/* Same as tm_reader_next, except that a Change record is not unpacked (the
 * replay hot path decodes Changes itself, or skips them by relation oid
 * without decoding their tuples): then *rec is NULL and *change,
 * *change_len hold the packed Change message, valid until the next call.
 * Every other record is delivered unpacked in *rec. */
int tm_reader_next_lazy(tm_reader *r, const Tidemark__Record **rec, const uint8_t **change,
                        size_t *change_len, tm_error *err);

/* What the reader knows of a frame before reading it, for frame filters. */
typedef struct tm_frame_info {
    uint64_t segment, offset; /* segment number, byte offset of the frame in it */
    uint32_t n_records;
    uint32_t payload_crc;         /* with segment and offset, identifies the frame's content */
    uint64_t first_lsn, last_lsn; /* commit LSN range of its transactions (when has_tx) */
    int64_t min_time, max_time;   /* commit time range of its transactions (when has_tx) */
    bool has_tx, has_relation;
    /* It continues a transaction being delivered: it is read whatever the
     * filter answers. */
    bool must_read;
} tm_frame_info;

enum {
    TM_FRAME_READ = 0,    /* read the frame */
    TM_FRAME_SKIP = 1,    /* leave out its transactions; still deliver its Relations */
    TM_FRAME_SKIP_ALL = 2 /* leave out everything in it */
};
typedef int (*tm_frame_filter_fn)(void *ctx, const tm_frame_info *f);

/* Lets a caller that knows where its records are (a per-segment summary)
 * skip the other frames without decompressing them. fn is called for every
 * frame the reader comes to, in order, except those a seek's schema
 * catch-up passes over. Transactions are delivered whole or not at all: one
 * that begins in a frame the filter skips is left out, also its records in
 * later frames; one that begins in a frame that is read is read to its end
 * (fn is still told of the frames it continues into, with must_read set).
 * Standalone records of a frame that is read are delivered. With
 * TM_FRAME_SKIP a frame holding Relation records is decompressed for them
 * alone, so that schemas are never missed; TM_FRAME_SKIP_ALL drops those too
 * (safe when no later frame of the segment will be read: every segment
 * starts with the schemas in effect). fn NULL removes the filter. */
void tm_reader_set_frame_filter(tm_reader *r, tm_frame_filter_fn fn, void *ctx);

/* What reading has cost so far (for tests, benchmarks and status output). */
typedef struct tm_reader_stats {
    uint64_t frames_decoded; /* frames read, checked and decompressed */
    uint64_t index_loads;    /* segments whose frames came from their index */
    uint64_t header_scans;   /* segments whose frames were found by scanning headers */
    uint64_t frames_skipped; /* frames a frame filter had skipped unread */
    /* of the scanned segments' frames: those a live index vouched for, and
     * those whose header was read to find them */
    uint64_t live_index_frames, headers_read;
} tm_reader_stats;
tm_reader_stats tm_reader_get_stats(const tm_reader *r);

/* ---- verify ------------------------------------------------------------ */

typedef struct tm_verify_totals {
    uint64_t segments, frames, records, transactions, bytes, bad_segments;
    uint64_t first_lsn, last_lsn;
    int64_t first_time, last_time;
    /* Every file walked; those checked; those damaged (and missing
     * segments); those verify does not know. */
    uint64_t files, checked, damaged, unknown;
} tm_verify_totals;

/* Checks every file of the journal that the journal layer knows: every
 * frame of every segment (CRCs, decoding, LSN order, no gaps between
 * segments), each index, journal.meta; other files are reported as known,
 * temporary or unknown (verify.h: tm_verify_run, which also takes the
 * readers' kinds of files). Prints one line per file and a totals line to
 * out. Returns 0 when all is sound, 1 when something is damaged, -1 when
 * the journal cannot be read at all (err set). */
int tm_verify(const char *dir, void *out /* FILE* */, tm_verify_totals *totals, tm_error *err);

#endif
