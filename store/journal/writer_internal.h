/* The writer's state, shared by writer.c (appending) and recovery.c
 * (opening an existing journal). Not part of the public API. */
#ifndef TM_WRITER_INTERNAL_H
#define TM_WRITER_INTERNAL_H

#include "store/journal/arena.h"
#include "store/journal/frame.h"
#include "store/journal/journal.h"
#include "store/journal/live_index.h"
#include "store/journal/segment.h"

/* Latest packed Relation record per oid, sorted by oid: repeated at the
 * start of every segment so that a segment is self-describing. */
typedef struct tm_rel_entry {
    uint32_t oid;
    unsigned char *rec; /* a packed Record with the relation body */
    size_t len;
    Tidemark__Record *unpacked; /* rec unpacked on demand by tm_writer_relation */
} tm_rel_entry;

typedef struct tm_rel_table {
    tm_rel_entry *v;
    size_t n, cap;
} tm_rel_table;

int tm_rel_table_put(tm_rel_table *t, uint32_t oid, const unsigned char *rec, size_t len,
                     tm_error *err);
void tm_rel_table_free(tm_rel_table *t);

struct tm_writer {
    char *dir;
    tm_writer_options opt;
    bool failed; /* a write or fsync failed: nothing more may be written */

    /* the segment being appended to */
    uint64_t segno;
    int fd;
    uint64_t seg_size;
    int64_t seg_created;
    tm_frame_dir frames; /* its frames so far, for the index at sealing */
    tm_lidx lidx;        /* its live index, appended to at each sync */
    bool dir_dirty;      /* a file was created or renamed since the last sync */
    bool seg_data;       /* it holds more than its schema preamble */

    /* the frame being filled: raw records, and its header so far */
    tm_buf raw, comp;
    tm_frame_hdr f;
    bool f_cont_open; /* the frame started inside a transaction not yet complete */

    /* transaction / preamble state */
    bool in_tx, in_preamble;
    uint64_t tx_left; /* records the open transaction still expects */
    uint64_t tx_lsn, tx_end;
    int64_t tx_time;

    uint64_t last_commit, last_end;       /* last transaction ended */
    uint64_t durable_commit, durable_end; /* last transaction made durable by sync */
    uint64_t bytes_written;
    /* What the last sync made durable, ending at a safe point: segment
     * durable_seg up to durable_off, and every segment before it. */
    uint64_t durable_seg, durable_off;

    /* the durable confirmed mark, when the journal keeps one (mark_fd >= 0) */
    int mark_fd;
    tm_mark mark;

    tm_rel_table rels;
    tm_arena arena;       /* unpacking during recovery */
    tm_recovery recovery; /* what opening repaired */
};

/* recovery.c: finds or creates the segment to append to, cuts a torn tail
 * (with a mark: everything above the mark), restores LSNs and relation
 * schemas, sets the durable extent, and reads, creates (keep_mark) or
 * adopts the mark. Leaves w->fd open, and w->mark_fd when there is a mark. */
int tm_writer_recover(tm_writer *w, tm_error *err);

/* writer.c, used by recovery */
int tm_writer_create_segment(tm_writer *w, uint64_t segno, tm_error *err);
int tm_writer_write_preamble(tm_writer *w, tm_error *err);
/* Starts the live index of the segment appended to with its frames so far
 * (before anything more is appended), and removes the previous segment's. */
int tm_writer_start_live_index(tm_writer *w, tm_error *err);

#endif
