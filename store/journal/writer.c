/* Appending to a journal: records are packed into a reusable raw buffer,
 * cut into LZ4 frames at the frame target or at sync, and written to the
 * current segment, which rolls over at its size or age limit. What is
 * durable is tracked exactly: only what an fsync has covered. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/common/crc32c.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"
#include "store/journal/mark.h"
#include "store/journal/seg_index.h"
#include "store/journal/writer_internal.h"

#define DEFAULT_FRAME_TARGET (1u << 20)

/* Index of the first entry whose oid is >= oid (the table is sorted). */
static size_t rel_table_lower_bound(const tm_rel_table *t, uint32_t oid)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->v[mid].oid < oid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int tm_rel_table_put(tm_rel_table *t, uint32_t oid, const unsigned char *rec, size_t len,
                     tm_error *err)
{
    size_t lo = rel_table_lower_bound(t, oid);
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping a relation schema");
        return -1;
    }
    memcpy(copy, rec, len);
    if (lo < t->n && t->v[lo].oid == oid) {
        free(t->v[lo].rec);
        if (t->v[lo].unpacked)
            tidemark__record__free_unpacked(t->v[lo].unpacked, NULL);
    } else {
        if (t->n == t->cap) {
            size_t nc = t->cap ? t->cap * 2 : 16;
            tm_rel_entry *nv = realloc(t->v, nc * sizeof *nv);
            if (!nv) {
                free(copy);
                tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping a relation schema");
                return -1;
            }
            t->v = nv;
            t->cap = nc;
        }
        memmove(t->v + lo + 1, t->v + lo, (t->n - lo) * sizeof *t->v);
        t->n++;
        t->v[lo].oid = oid;
    }
    t->v[lo].rec = copy;
    t->v[lo].len = len;
    t->v[lo].unpacked = NULL;
    return 0;
}

void tm_rel_table_free(tm_rel_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].rec);
        if (t->v[i].unpacked)
            tidemark__record__free_unpacked(t->v[i].unpacked, NULL);
    }
    free(t->v);
    memset(t, 0, sizeof *t);
}

static int failed_error(tm_writer *w, tm_error *err)
{
    tm_error_set(err,
                 "the writer of journal %s failed earlier and wrote nothing since; close it and "
                 "open the journal again (its tail is recovered on open)",
                 w->dir);
    return -1;
}

/* A frame may end here without splitting a transaction or a preamble. */
static bool at_safe_point(const tm_writer *w)
{
    return !(w->in_tx && w->tx_left > 0) && !w->in_preamble;
}

/* Compresses and writes the pending frame, if any. */
static int flush_frame(tm_writer *w, tm_error *err)
{
    if (w->f.n_records == 0)
        return 0;
    tm_frame_hdr h = w->f;
    h.version = TM_FRAME_VERSION;
    if (at_safe_point(w))
        h.flags |= TM_FRAME_TX_END;
    h.raw_len = (uint32_t)w->raw.len;
    if (tm_frame_compress(w->raw.p, w->raw.len, &w->comp, err) != 0)
        goto fail;
    h.clen = (uint32_t)w->comp.len;
    h.payload_crc = tm_crc32c(0, w->comp.p, w->comp.len);
    unsigned char hb[TM_FRAME_HDR_SIZE];
    tm_frame_hdr_encode(&h, hb);
    char name[TM_SEG_NAME_LEN];
    if (tm_pwrite2_full(w->fd, hb, sizeof hb, w->comp.p, w->comp.len, w->seg_size,
                        tm_seg_name(w->segno, name), err) != 0)
        goto fail;
    if (tm_frame_dir_push(&w->frames, w->seg_size, &h, err) != 0)
        goto fail;
    w->seg_size += sizeof hb + w->comp.len;
    w->bytes_written += sizeof hb + w->comp.len;
    w->raw.len = 0;
    memset(&w->f, 0, sizeof w->f);
    w->f_cont_open = w->in_tx && w->tx_left > 0;
    return 0;
fail:
    w->failed = true;
    return -1;
}

/* Appends one record (varint length + packed Record) to the pending frame
 * and cuts the frame when it reached its target. member: the record belongs
 * to the open transaction (a TxBegin or one of its records). */
static int account_record(tm_writer *w, const Tidemark__Record *rec, unsigned char *packed,
                          size_t sz, bool member, tm_error *err);

static int add_record(tm_writer *w, const Tidemark__Record *rec, bool member, tm_error *err)
{
    size_t sz = protobuf_c_message_get_packed_size(&rec->base);
    if (sz > TM_FRAME_MAX_RAW - TM_VARINT_MAX) {
        tm_error_set(err, "a record of %zu bytes is larger than a frame can hold", sz);
        return -1;
    }
    /* Keep a frame within what LZ4 takes: a huge record goes into a frame of
     * its own (at_safe_point still describes the state before it). */
    if (w->raw.len > 0 && w->raw.len + TM_VARINT_MAX + sz > TM_FRAME_MAX_RAW &&
        flush_frame(w, err) != 0)
        return -1;
    if (tm_buf_reserve(&w->raw, TM_VARINT_MAX + sz, err) != 0)
        goto fail;
    w->raw.len += tm_varint_put(w->raw.p + w->raw.len, sz);
    unsigned char *packed = w->raw.p + w->raw.len;
    if (protobuf_c_message_pack(&rec->base, packed) != sz) {
        tm_error_set(err, "protobuf packing of a record gave an unexpected size");
        goto fail;
    }
    return account_record(w, rec, packed, sz, member, err);
fail:
    /* The raw buffer may hold part of a record now: nothing more can go out. */
    w->failed = true;
    return -1;
}

/* Same for a record packed by the caller (rec is NULL: it is never a
 * Relation, which the caller checked). */
static int add_packed(tm_writer *w, const uint8_t *rec, size_t sz, tm_error *err)
{
    if (sz > TM_FRAME_MAX_RAW - TM_VARINT_MAX) {
        tm_error_set(err, "a record of %zu bytes is larger than a frame can hold", sz);
        return -1;
    }
    if (tm_buf_reserve(&w->raw, TM_VARINT_MAX + sz, err) != 0) {
        w->failed = true;
        return -1;
    }
    w->raw.len += tm_varint_put(w->raw.p + w->raw.len, sz);
    unsigned char *packed = w->raw.p + w->raw.len;
    memcpy(packed, rec, sz);
    return account_record(w, NULL, packed, sz, true, err);
}

/* Book-keeping after a record was appended to the raw buffer. */
static int account_record(tm_writer *w, const Tidemark__Record *rec, unsigned char *packed,
                          size_t sz, bool member, tm_error *err)
{
    w->raw.len += sz;
    w->f.n_records++;
    w->seg_data = true;
    if (rec && rec->body_case == TIDEMARK__RECORD__BODY_RELATION) {
        w->f.flags |= TM_FRAME_HAS_RELATION;
        if (tm_rel_table_put(&w->rels, rec->relation->oid, packed, sz, err) != 0)
            goto fail;
    }
    if (member) {
        if (!(w->f.flags & TM_FRAME_HAS_TX)) {
            w->f.flags |= TM_FRAME_HAS_TX;
            w->f.first_lsn = w->f.last_lsn = w->tx_lsn;
            w->f.min_time = w->f.max_time = w->tx_time;
        } else {
            if (w->tx_lsn < w->f.first_lsn)
                w->f.first_lsn = w->tx_lsn;
            if (w->tx_lsn > w->f.last_lsn)
                w->f.last_lsn = w->tx_lsn;
            if (w->tx_time < w->f.min_time)
                w->f.min_time = w->tx_time;
            if (w->tx_time > w->f.max_time)
                w->f.max_time = w->tx_time;
        }
        w->f.end_lsn = w->tx_end;
        if (w->f_cont_open)
            w->f.cont_records++;
    }
    return 0;
fail:
    /* The raw buffer may hold part of a record now: nothing more can go out. */
    w->failed = true;
    return -1;
}

/* The oneof pointer must be there: protobuf-c would dereference it. */
static bool body_present(const Tidemark__Record *r)
{
    switch (r->body_case) {
    case TIDEMARK__RECORD__BODY_BEGIN:
        return r->begin != NULL;
    case TIDEMARK__RECORD__BODY_CHANGE:
        return r->change != NULL;
    case TIDEMARK__RECORD__BODY_RELATION:
        return r->relation != NULL;
    case TIDEMARK__RECORD__BODY_MESSAGE:
        return r->message != NULL;
    case TIDEMARK__RECORD__BODY_GAP:
        return r->gap != NULL;
    case TIDEMARK__RECORD__BODY_TABLE_REMOVED:
        return r->table_removed != NULL;
    default:
        return false;
    }
}

static int maybe_cut(tm_writer *w, tm_error *err)
{
    if (w->raw.len >= w->opt.frame_target)
        return flush_frame(w, err);
    return 0;
}

int tm_writer_create_segment(tm_writer *w, uint64_t segno, tm_error *err)
{
    char name[TM_SEG_NAME_LEN], path[PATH_MAX];
    if (tm_seg_path(w->dir, tm_seg_name(segno, name), path, sizeof path, err) != 0)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, TM_FILE_MODE);
    if (fd < 0) {
        tm_error_errno(err, "cannot create segment %s", path);
        return -1;
    }
    tm_seg_hdr sh = {.segno = segno, .created = tm_time_now()};
    unsigned char hb[TM_SEG_HDR_SIZE];
    tm_seg_hdr_encode(&sh, hb);
    /* The header is made durable before any frame follows it, so a damaged
     * header in front of frames is never mistaken for a torn creation. */
    if (tm_pwrite_full(fd, hb, sizeof hb, 0, path, err) != 0 || tm_fsync_fd(fd, path, err) != 0) {
        close(fd);
        return -1;
    }
    w->fd = fd;
    w->segno = segno;
    w->seg_size = TM_SEG_HDR_SIZE;
    w->seg_created = sh.created;
    w->frames.n = 0;
    w->dir_dirty = true;
    w->seg_data = false;
    w->bytes_written += TM_SEG_HDR_SIZE;
    return tm_writer_start_live_index(w, err);
}

int tm_writer_start_live_index(tm_writer *w, tm_error *err)
{
    if (tm_lidx_start(&w->lidx, w->dir, w->segno, w->seg_created, &w->frames, err) != 0) {
        tm_error_prefix(err, "cannot write the live index of segment %016" PRIx64 " of journal %s",
                        w->segno, w->dir);
        return -1;
    }
    if (w->segno > 0) {
        /* a sealed segment's, left by a crash before it was removed */
        char name[TM_LIDX_NAME_LEN], path[PATH_MAX];
        tm_error ignored;
        if (tm_seg_path(w->dir, tm_lidx_name(w->segno - 1, name), path, sizeof path, &ignored) == 0)
            (void)unlink(path);
    }
    return 0;
}

int tm_writer_write_preamble(tm_writer *w, tm_error *err)
{
    w->in_preamble = true;
    for (size_t i = 0; i < w->rels.n; i++) {
        const tm_rel_entry *r = &w->rels.v[i];
        if (tm_buf_reserve(&w->raw, TM_VARINT_MAX + r->len, err) != 0) {
            w->failed = true;
            return -1;
        }
        w->raw.len += tm_varint_put(w->raw.p + w->raw.len, r->len);
        memcpy(w->raw.p + w->raw.len, r->rec, r->len);
        w->raw.len += r->len;
        w->f.n_records++;
        w->f.flags |= TM_FRAME_HAS_RELATION;
        if (i + 1 == w->rels.n)
            w->in_preamble = false; /* a cut after the last one is a safe point */
        if (maybe_cut(w, err) != 0)
            return -1;
    }
    w->in_preamble = false;
    return 0;
}

/* Writes out the pending frame, fsyncs the segment (and the directory when
 * a file was created since the last sync) and records what is durable. */
static int sync_segment(tm_writer *w, tm_error *err)
{
    uint64_t commit = w->last_commit, end = w->last_end;
    bool safe = at_safe_point(w);
    char name[TM_SEG_NAME_LEN];
    if (flush_frame(w, err) != 0 || tm_fsync_fd(w->fd, tm_seg_name(w->segno, name), err) != 0)
        goto fail;
    if (w->dir_dirty) {
        if (tm_fsync_dir(w->dir, err) != 0)
            goto fail;
        w->dir_dirty = false;
    }
    /* The frames are durable now: readers may find them by the live index. */
    tm_lidx_append(&w->lidx, &w->frames);
    w->durable_commit = commit;
    w->durable_end = end;
    if (safe) {
        w->durable_seg = w->segno;
        w->durable_off = w->seg_size;
    }
    return 0;
fail:
    /* After a failed fsync the kernel may have dropped the dirty pages:
     * retrying could report data durable that is not (fsyncgate). */
    w->failed = true;
    return -1;
}

/* Stores a new mark covering the durable extent, with the confirmed LSN
 * raised to lsn; confirming clears the adopted flag. Nothing is written
 * when nothing would change. */
static int store_mark(tm_writer *w, uint64_t lsn, bool confirming, tm_error *err)
{
    tm_mark m = w->mark;
    if (lsn > m.lsn)
        m.lsn = lsn;
    m.segment = w->durable_seg;
    m.offset = w->durable_off;
    if (confirming)
        m.adopted = false;
    if (m.lsn == w->mark.lsn && m.segment == w->mark.segment && m.offset == w->mark.offset &&
        m.adopted == w->mark.adopted)
        return 0;
    m.seq = w->mark.seq + 1;
    m.time = tm_time_now();
    if (tm_mark_store(w->mark_fd, w->dir, &m, err) != 0) {
        w->failed = true; /* which copy is on disk is unknown now */
        return -1;
    }
    w->mark = m;
    return 0;
}

/* Seals the current segment (its index marks it complete) and starts the
 * next one with the schema preamble. With a mark, the mark moves to the
 * end of the sealed segment first, so that it never lies more than one
 * segment behind the last (recovery relies on it). */
static int roll_over(tm_writer *w, tm_error *err)
{
    if (sync_segment(w, err) != 0 ||
        (w->mark_fd >= 0 && store_mark(w, w->mark.lsn, false, err) != 0) ||
        tm_index_write(w->dir, w->segno, w->seg_size, &w->frames, err) != 0)
        goto fail;
    tm_lidx_stop(&w->lidx, w->dir, true);
    close(w->fd);
    w->fd = -1;
    if (tm_writer_create_segment(w, w->segno + 1, err) != 0)
        goto fail;
    return tm_writer_write_preamble(w, err);
fail:
    tm_error_prefix(err, "cannot roll over to a new segment of journal %s", w->dir);
    w->failed = true;
    return -1;
}

/* Called at transaction boundaries only: a transaction never spans
 * segments (a huge one makes its segment exceed the size limit). */
static int maybe_roll(tm_writer *w, tm_error *err)
{
    if (!w->seg_data)
        return 0; /* nothing but the schema preamble: nothing to seal yet */
    /* Pending raw bytes can only shrink when compressed: when they might
     * fill the segment, write them out to learn the real size. */
    if (w->f.n_records > 0 && w->seg_size + w->raw.len >= w->opt.segment_size &&
        flush_frame(w, err) != 0)
        return -1;
    bool full = w->seg_size >= w->opt.segment_size;
    bool old = w->opt.segment_max_age_us > 0 &&
               tm_time_now() - w->seg_created >= w->opt.segment_max_age_us;
    return full || old ? roll_over(w, err) : 0;
}

int tm_writer_open(const char *dir, const tm_writer_options *opt, tm_writer **out, tm_error *err)
{
    if (opt && opt->report)
        memset(opt->report, 0, sizeof *opt->report);
    tm_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory opening journal %s", dir);
        return -1;
    }
    if (opt)
        w->opt = *opt;
    if (w->opt.segment_size == 0)
        w->opt.segment_size = TM_DEFAULT_SEGMENT_SIZE;
    if (w->opt.frame_target == 0)
        w->opt.frame_target = DEFAULT_FRAME_TARGET;
    if (w->opt.frame_target > TM_FRAME_MAX_RAW / 2)
        w->opt.frame_target = TM_FRAME_MAX_RAW / 2;
    w->fd = -1;
    w->mark_fd = -1;
    w->lidx.fd = -1;
    tm_arena_init(&w->arena);
    int rc = tm_mkdir_p(dir, err) == 0 ? tm_writer_recover(w, err) : -1;
    if (w->opt.report)
        *w->opt.report = w->recovery;
    w->opt.report = NULL; /* the caller's, and only for now */
    if (rc != 0) {
        w->failed = true;
        tm_writer_close(w, NULL);
        return -1;
    }
    *out = w;
    return 0;
}

int tm_writer_put_standalone(tm_writer *w, const Tidemark__Record *rec, tm_error *err)
{
    if (w->failed)
        return failed_error(w, err);
    if (w->in_tx) {
        tm_error_set(err, "a standalone record cannot be written inside a transaction");
        return -1;
    }
    if ((rec->body_case != TIDEMARK__RECORD__BODY_RELATION &&
         rec->body_case != TIDEMARK__RECORD__BODY_MESSAGE &&
         rec->body_case != TIDEMARK__RECORD__BODY_GAP &&
         rec->body_case != TIDEMARK__RECORD__BODY_TABLE_REMOVED) ||
        !body_present(rec)) {
        tm_error_set(err,
                     "only Relation, LogicalMessage, Gap and TableRemoved records stand alone");
        return -1;
    }
    if (maybe_roll(w, err) != 0 || add_record(w, rec, false, err) != 0)
        return -1;
    return maybe_cut(w, err);
}

int tm_writer_begin_tx(tm_writer *w, const Tidemark__TxBegin *hdr, tm_error *err)
{
    if (w->failed)
        return failed_error(w, err);
    if (w->in_tx) {
        tm_error_set(err, "a transaction is already open; end it before beginning another");
        return -1;
    }
    if (!hdr) {
        tm_error_set(err, "a transaction needs a TxBegin header");
        return -1;
    }
    if (hdr->commit_lsn < w->last_commit) {
        char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
        tm_error_set(err,
                     "transaction with commit LSN %s comes after one with commit LSN %s; the "
                     "journal keeps commit order",
                     tm_lsn_format(hdr->commit_lsn, a), tm_lsn_format(w->last_commit, b));
        return -1;
    }
    if (maybe_roll(w, err) != 0)
        return -1;
    w->tx_lsn = hdr->commit_lsn;
    w->tx_end = hdr->end_lsn;
    w->tx_time = hdr->commit_time;
    /* What the frame headers summarise is what gets stored, presence
     * flags or not. */
    Tidemark__TxBegin b = *hdr;
    b.has_commit_lsn = b.has_end_lsn = b.has_commit_time = b.has_n_records = 1;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_BEGIN;
    rec.begin = &b;
    if (add_record(w, &rec, true, err) != 0)
        return -1;
    w->in_tx = true; /* only now: a frame cut before the TxBegin ends safely */
    w->tx_left = hdr->n_records;
    return maybe_cut(w, err);
}

/* May one more record of the open transaction be put? */
static int tx_room(tm_writer *w, tm_error *err)
{
    if (w->failed)
        return failed_error(w, err);
    if (!w->in_tx) {
        tm_error_set(err, "a transaction record was put outside a transaction");
        return -1;
    }
    if (w->tx_left == 0) {
        tm_error_set(err, "the transaction has more records than its TxBegin declared");
        return -1;
    }
    return 0;
}

/* After a record of the open transaction was added. */
static int tx_record_added(tm_writer *w, tm_error *err)
{
    if (--w->tx_left == 0)
        w->f_cont_open = false;
    return maybe_cut(w, err);
}

int tm_writer_put(tm_writer *w, const Tidemark__Record *rec, tm_error *err)
{
    if (tx_room(w, err) != 0)
        return -1;
    if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN || !body_present(rec)) {
        tm_error_set(err, "a transaction record must be a Change, LogicalMessage, Relation or Gap");
        return -1;
    }
    if (add_record(w, rec, true, err) != 0)
        return -1;
    return tx_record_added(w, err);
}

int tm_writer_put_packed(tm_writer *w, const uint8_t *rec, size_t len, tm_error *err)
{
    if (tx_room(w, err) != 0)
        return -1;
    /* A packed Record is its one oneof field: the first byte is the tag
     * (field number << 3 | wire type 2). Relations and TxBegins are kept
     * out: they need the writer's own book-keeping (tm_writer_put). */
    unsigned field = len ? rec[0] >> 3 : 0;
    if (len == 0 || (rec[0] & 7) != 2 || (field != 2 && field != 4 && field != 5)) {
        tm_error_set(err, "a packed transaction record must be a Change, LogicalMessage or Gap");
        return -1;
    }
    if (add_packed(w, rec, len, err) != 0)
        return -1;
    return tx_record_added(w, err);
}

const Tidemark__Relation *tm_writer_relation(const tm_writer *w, uint32_t oid)
{
    const tm_rel_table *t = &w->rels;
    size_t lo = rel_table_lower_bound(t, oid);
    if (lo == t->n || t->v[lo].oid != oid)
        return NULL;
    tm_rel_entry *e = &t->v[lo];
    if (!e->unpacked)
        e->unpacked = tidemark__record__unpack(NULL, e->len, e->rec);
    if (!e->unpacked || e->unpacked->body_case != TIDEMARK__RECORD__BODY_RELATION)
        return NULL;
    return e->unpacked->relation;
}

int tm_writer_end_tx(tm_writer *w, tm_error *err)
{
    if (w->failed)
        return failed_error(w, err);
    if (!w->in_tx) {
        tm_error_set(err, "no transaction is open");
        return -1;
    }
    if (w->tx_left != 0) {
        tm_error_set(err,
                     "the transaction ended with %" PRIu64 " of its declared records missing; "
                     "the writer stops here",
                     w->tx_left);
        w->failed = true; /* its records cannot be taken back */
        return -1;
    }
    w->in_tx = false;
    w->last_commit = w->tx_lsn;
    w->last_end = w->tx_end;
    return 0;
}

int tm_writer_sync(tm_writer *w, tm_error *err)
{
    if (w->failed)
        return failed_error(w, err);
    return sync_segment(w, err);
}

int tm_writer_confirm(tm_writer *w, uint64_t lsn, tm_error *err)
{
    if (w->failed)
        return failed_error(w, err);
    if (w->mark_fd < 0) {
        tm_error_set(err, "journal %s keeps no durable mark: open it with keep_mark to confirm",
                     w->dir);
        return -1;
    }
    return store_mark(w, lsn, true, err);
}

uint64_t tm_writer_confirmed_lsn(const tm_writer *w)
{
    return w->mark_fd >= 0 ? w->mark.lsn : 0;
}

bool tm_writer_mark(const tm_writer *w, tm_mark *out)
{
    if (w->mark_fd < 0)
        return false;
    *out = w->mark;
    return true;
}

uint64_t tm_writer_durable_end_lsn(const tm_writer *w)
{
    return w->durable_end;
}

uint64_t tm_writer_durable_commit_lsn(const tm_writer *w)
{
    return w->durable_commit;
}

uint64_t tm_writer_last_commit_lsn(const tm_writer *w)
{
    return w->last_commit;
}

uint64_t tm_writer_bytes_written(const tm_writer *w)
{
    return w->bytes_written;
}

int tm_writer_close(tm_writer *w, tm_error *err)
{
    int rc = w->failed ? failed_error(w, err) : tm_writer_sync(w, err);
    if (w->fd >= 0)
        close(w->fd);
    if (w->mark_fd >= 0)
        close(w->mark_fd);
    tm_lidx_stop(&w->lidx, w->dir, false);
    free(w->dir);
    tm_frame_dir_free(&w->frames);
    tm_buf_free(&w->raw);
    tm_buf_free(&w->comp);
    tm_rel_table_free(&w->rels);
    tm_arena_free(&w->arena);
    free(w);
    return rc;
}
