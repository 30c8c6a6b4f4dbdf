/* Reading a journal in commit order: segments in order, frames in order,
 * records in order. Frames are found from a segment's index when it has a
 * valid one, else by scanning frame headers; seeking skips frames by their
 * headers without decompressing them. Records are unpacked into an arena
 * that is reset for every record, so reading costs no malloc per value.
 *
 * The last segment may end in a torn frame or an unfinished transaction
 * (a crash, or a writer at work): the reader stops before them, at the last
 * frame that ends at a safe point, as recovery would. Damage anywhere else
 * is an error naming the segment and offset, and so is damage at the tail
 * that lies below the journal's durable mark (it was fsynced and confirmed:
 * no torn write, and recovery refuses it too). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/journal/arena.h"
#include "store/journal/horizon.h"
#include "store/journal/journal.h"
#include "store/journal/live_index.h"
#include "store/journal/record_decode.h"
#include "store/journal/seg_index.h"
#include "store/journal/segment.h"

struct tm_reader {
    char *dir;
    uint64_t *segs;
    size_t nsegs;
    bool has_mark; /* the durable mark, as it was at open */
    tm_mark mark;

    /* the loaded segment */
    bool loaded;
    size_t si; /* index into segs */
    int fd;
    uint64_t seg_size;
    tm_frame_dir frames;
    size_t visible;   /* frames that may be delivered */
    bool seg_damaged; /* damage after the visible frames that is no torn tail */
    uint64_t bad_offset;
    char bad_why[256];
    size_t fi; /* next frame to enter */

    /* the frame being read */
    bool in_frame;
    tm_frame_entry cur;
    tm_buf io, raw;
    size_t pos;
    uint32_t rec_idx;

    uint64_t tx_left; /* records of the current transaction still to come */

    /* after a seek: records before (cut_frame, cut_rec) of the loaded
     * segment are skipped except Relations */
    bool rel_only;
    size_t cut_frame;
    uint32_t cut_rec;
    /* drop the leading continuation records of the next frame entered (the
     * tail of a transaction before the seek target) */
    bool drop_cont;
    uint32_t drop_left; /* continuation records of the current frame to drop */

    /* the frame filter; frame_rels_only: the current frame is read for its
     * Relation records alone */
    tm_frame_filter_fn filter;
    void *filter_ctx;
    bool frame_rels_only;

    int64_t time_limit;
    bool limit_hit; /* finish the current transaction, then end */
    bool ended;

    tm_reader_stats stats;
    tm_arena arena;
    /* a TxBegin read without protobuf-c (tm_begin_decode) */
    Tidemark__Record begin_rec;
    Tidemark__TxBegin begin;
    bool failed;
    tm_error fail_err;
};

static int fail(tm_reader *r, tm_error *err, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records a damage error (TM_ERR_CORRUPT) naming segment and offset, in
 * the message and as its context; sticky until a seek. */
static int fail(tm_reader *r, tm_error *err, uint64_t off, const char *fmt, ...)
{
    char why[512], name[TM_SEG_NAME_LEN], path[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    tm_seg_name(r->segs[r->si], name);
    tm_error_setc(&r->fail_err, TM_ERR_CORRUPT,
                  "journal %s: segment %s is damaged at offset %" PRIu64
                  ": %s; run 'tidemark verify --journal %s'",
                  r->dir, name, off, why, r->dir);
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    tm_error_at(&r->fail_err, path, off);
    r->failed = true;
    if (err)
        *err = r->fail_err;
    return -1;
}

static int io_fail(tm_reader *r, tm_error *err)
{
    r->fail_err = *err;
    r->failed = true;
    return -1;
}

static void unload(tm_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->loaded = false;
    r->in_frame = false;
    r->frame_rels_only = false;
    r->frames.n = 0;
}

/* Makes segs[si] the loaded segment and finds its frames. */
static int load_segment(tm_reader *r, size_t si, tm_error *err)
{
    unload(r);
    r->si = si;
    r->fi = 0;
    r->visible = 0;
    r->seg_damaged = false;
    char name[TM_SEG_NAME_LEN], path[PATH_MAX];
    if (si > 0 && r->segs[si] != r->segs[si - 1] + 1)
        return fail(r, err, 0, "the segment before it (%016" PRIx64 ") is missing",
                    r->segs[si] - 1);
    if (tm_seg_path(r->dir, tm_seg_name(r->segs[si], name), path, sizeof path, err) != 0)
        return io_fail(r, err);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        tm_error_errno(err, "cannot open segment %s", path);
        return io_fail(r, err);
    }
    r->seg_size = (uint64_t)st.st_size;
    r->loaded = true;
    bool last = si + 1 == r->nsegs;

    char why[256];
    int rc = tm_index_read(r->dir, r->segs[si], r->seg_size, &r->frames, why, sizeof why, err);
    if (rc < 0)
        return io_fail(r, err);
    if (rc == TM_IDX_OK) {
        r->stats.index_loads++;
        r->visible = r->frames.n;
        return 0;
    }
    r->stats.header_scans++;
    /* No sealed index: the live index's frames, then scan the headers after
     * them. */
    tm_seg_scan sc = {0};
    int known = tm_lidx_load(r->dir, r->segs[si], r->fd, r->seg_size, &r->frames, err);
    if (known < 0 || tm_segment_scan_after(r->fd, r->segs[si], false, &r->frames, &sc, err) != 0) {
        tm_seg_scan_free(&sc);
        return io_fail(r, err);
    }
    tm_frame_dir_free(&r->frames);
    r->frames = sc.frames;
    size_t vouched = sc.hdr_ok && sc.frames.n >= (size_t)known ? (size_t)known : 0;
    r->stats.live_index_frames += vouched;
    r->stats.headers_read += sc.frames.n - vouched;
    /* Up to here the segment was fsynced and confirmed: nothing is torn. */
    uint64_t marked = r->has_mark && r->mark.segment == r->segs[si] ? r->mark.offset : 0;
    bool torn_tail = last && sc.damaged && sc.tail && sc.bad_offset >= marked;
    if (sc.damaged && !torn_tail) {
        r->seg_damaged = true;
        r->bad_offset = sc.bad_offset;
        snprintf(r->bad_why, sizeof r->bad_why, "%s", sc.why);
    }
    if (!last) {
        /* a sealed segment shorter than its sound index says lost its end,
         * also when it ends at a frame boundary */
        uint64_t indexed = tm_index_seg_size(r->dir, r->segs[si]);
        if (!r->seg_damaged && indexed > r->seg_size) {
            r->seg_damaged = true;
            r->bad_offset = r->seg_size;
            snprintf(r->bad_why, sizeof r->bad_why,
                     "the segment ends at offset %" PRIu64 ", its index says %" PRIu64
                     ": its end was lost",
                     r->seg_size, indexed);
        }
        r->visible = r->frames.n;
        return 0;
    }
    /* The final frame of the last segment may be torn inside its payload
     * with an intact header: check it, and drop it if so. */
    if (r->frames.n > 0 && !r->seg_damaged) {
        tm_frame_entry *e = &r->frames.v[r->frames.n - 1];
        tm_frame_hdr h;
        rc = tm_frame_read(r->fd, e->offset, &e->h, &h, &r->io, &r->raw, why, sizeof why, err);
        if (rc < 0)
            return io_fail(r, err);
        if (rc == 1 && e->offset < marked) {
            r->seg_damaged = true;
            r->bad_offset = e->offset;
            snprintf(r->bad_why, sizeof r->bad_why, "%.200s; it lies below the durable mark", why);
        }
        if (rc == 1)
            r->frames.n--;
    }
    if (!r->seg_damaged && r->seg_size < marked) {
        r->seg_damaged = true;
        r->bad_offset = r->seg_size;
        snprintf(r->bad_why, sizeof r->bad_why,
                 "the segment ends before the durable mark (offset %" PRIu64 ")", marked);
    }
    /* Stop after the last frame that ends at a safe point. */
    for (size_t i = r->frames.n; i-- > 0;) {
        if (r->frames.v[i].h.flags & TM_FRAME_TX_END) {
            r->visible = i + 1;
            break;
        }
    }
    if (r->seg_damaged && r->visible < r->frames.n)
        r->visible = r->frames.n; /* deliver up to the damage, then report it */
    return 0;
}

int tm_reader_open(const char *dir, tm_reader **out, tm_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        tm_error_errno(err, "cannot open journal %s", dir);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        tm_error_errno(err, "cannot open journal %s", dir);
        return -1;
    }
    tm_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory opening journal %s", dir);
        return -1;
    }
    r->fd = -1;
    tm_arena_init(&r->arena);
    int hm = tm_mark_read(dir, &r->mark, err);
    r->has_mark = hm == 1;
    if (hm < 0 || tm_segment_list(dir, &r->segs, &r->nsegs, err) != 0) {
        tm_reader_close(r);
        return -1;
    }
    /* Below a retention horizon: gone, or going (a prune that was stopped). */
    tm_horizon h;
    int hz = tm_horizon_read(dir, &h, err);
    if (hz < 0) {
        tm_reader_close(r);
        return -1;
    }
    size_t skip = 0;
    while (hz == 1 && skip < r->nsegs && r->segs[skip] < h.first_segment)
        skip++;
    if (skip) {
        memmove(r->segs, r->segs + skip, (r->nsegs - skip) * sizeof *r->segs);
        r->nsegs -= skip;
    }
    *out = r;
    return 0;
}

void tm_reader_close(tm_reader *r)
{
    if (!r)
        return;
    unload(r);
    tm_frame_dir_free(&r->frames);
    tm_buf_free(&r->io);
    tm_buf_free(&r->raw);
    tm_arena_free(&r->arena);
    free(r->segs);
    free(r->dir);
    free(r);
}

tm_reader_stats tm_reader_get_stats(const tm_reader *r)
{
    return r->stats;
}

void tm_reader_set_time_limit(tm_reader *r, int64_t t)
{
    r->time_limit = t;
}

void tm_reader_set_frame_filter(tm_reader *r, tm_frame_filter_fn fn, void *ctx)
{
    r->filter = fn;
    r->filter_ctx = ctx;
}

/* Asks the filter about frame fi (after the seek cut, limit checked).
 * Returns TM_FRAME_READ, TM_FRAME_SKIP or TM_FRAME_SKIP_ALL. */
static int ask_filter(tm_reader *r, size_t fi)
{
    const tm_frame_entry *e = &r->frames.v[fi];
    tm_frame_info f = {
        .segment = r->segs[r->si],
        .offset = e->offset,
        .n_records = e->h.n_records,
        .payload_crc = e->h.payload_crc,
        .first_lsn = e->h.first_lsn,
        .last_lsn = e->h.last_lsn,
        .min_time = e->h.min_time,
        .max_time = e->h.max_time,
        .has_tx = (e->h.flags & TM_FRAME_HAS_TX) != 0,
        .has_relation = (e->h.flags & TM_FRAME_HAS_RELATION) != 0,
        .must_read = r->tx_left > 0,
    };
    int want = r->filter(r->filter_ctx, &f);
    if (f.must_read || (want != TM_FRAME_SKIP && want != TM_FRAME_SKIP_ALL))
        return TM_FRAME_READ;
    return want;
}

tm_position tm_reader_position(const tm_reader *r)
{
    tm_position p = {0, 0};
    if (!r->loaded)
        return p;
    p.segment = r->segs[r->si];
    if (r->in_frame)
        p.offset = r->cur.offset;
    else if (r->fi < r->frames.n)
        p.offset = r->frames.v[r->fi].offset;
    else
        p.offset = r->seg_size;
    return p;
}

/* Reads, checks and decompresses frame fi of the loaded segment. */
static int enter_frame(tm_reader *r, size_t fi, tm_error *err)
{
    r->cur = r->frames.v[fi];
    char why[256];
    tm_frame_hdr h;
    int rc =
        tm_frame_read(r->fd, r->cur.offset, &r->cur.h, &h, &r->io, &r->raw, why, sizeof why, err);
    if (rc < 0)
        return io_fail(r, err);
    if (rc == 1)
        return fail(r, err, r->cur.offset, "%s", why);
    r->stats.frames_decoded++;
    r->in_frame = true;
    r->pos = 0;
    r->rec_idx = 0;
    return 0;
}

/* Next record of the current frame: 1, or 0 when the frame is done, or -1.
 * *body_case says what it is. It is unpacked into the arena (*rec), except
 * a Change when lazy is set: then *rec is NULL and *raw, *raw_len hold the
 * packed Change. */
static int frame_record(tm_reader *r, bool lazy, Tidemark__Record **rec, int *body_case,
                        const unsigned char **raw, size_t *raw_len, tm_error *err)
{
    if (r->rec_idx == r->cur.h.n_records) {
        if (r->pos != r->raw.len)
            return fail(r, err, r->cur.offset, "frame has bytes after its %u records",
                        r->cur.h.n_records);
        return 0;
    }
    const unsigned char *p;
    size_t len;
    char why[256];
    int rc = tm_frame_next_record(r->raw.p, r->raw.len, &r->pos, &p, &len, why, sizeof why);
    if (rc < 0)
        return fail(r, err, r->cur.offset, "%s", why);
    if (rc == 0)
        return fail(r, err, r->cur.offset, "frame holds %u records, its header says %u", r->rec_idx,
                    r->cur.h.n_records);
    if (lazy && tm_record_body(p, len, TIDEMARK__RECORD__BODY_CHANGE, raw, raw_len)) {
        *rec = NULL;
        *body_case = TIDEMARK__RECORD__BODY_CHANGE;
        r->rec_idx++;
        return 1;
    }
    if (tm_begin_decode(p, len, &r->begin_rec, &r->begin)) {
        *rec = &r->begin_rec;
        *body_case = TIDEMARK__RECORD__BODY_BEGIN;
        r->rec_idx++;
        return 1;
    }
    tm_arena_reset(&r->arena);
    *rec = tidemark__record__unpack(&r->arena.alloc, len, p);
    if (!*rec)
        return fail(r, err, r->cur.offset, "record %u of the frame does not decode", r->rec_idx);
    *body_case = (*rec)->body_case;
    r->rec_idx++;
    return 1;
}

static bool before_cut(const tm_reader *r, size_t fi, uint32_t idx)
{
    return r->rel_only && (fi < r->cut_frame || (fi == r->cut_frame && idx < r->cut_rec));
}

/* Leaving the seek's schema catch-up: the cut point is reached. */
static void cross_cut(tm_reader *r)
{
    r->rel_only = false;
    r->tx_left = 0;
}

static int next_record(tm_reader *r, bool lazy, const Tidemark__Record **out,
                       const unsigned char **raw, size_t *raw_len, tm_error *err)
{
    for (;;) {
        if (r->failed) {
            if (err)
                *err = r->fail_err;
            return -1;
        }
        if (r->ended)
            return 0;
        if (r->limit_hit && r->tx_left == 0) {
            r->ended = true;
            return 0;
        }
        if (!r->loaded) {
            if (r->nsegs == 0)
                return 0;
            if (load_segment(r, 0, err) != 0)
                return -1;
            continue;
        }
        if (!r->in_frame) {
            if (r->fi >= r->visible) {
                if (r->seg_damaged)
                    return fail(r, err, r->bad_offset, "%s", r->bad_why);
                if (r->rel_only)
                    cross_cut(r);
                /* Transactions never span segments, and the reader stops at
                 * the end of the last complete one. */
                if (r->tx_left > 0)
                    return fail(r, err, r->seg_size,
                                "the segment ends inside a transaction (%" PRIu64
                                " of its records missing)",
                                r->tx_left);
                if (r->si + 1 >= r->nsegs)
                    return 0;
                if (load_segment(r, r->si + 1, err) != 0)
                    return -1;
                continue;
            }
            const tm_frame_hdr *h = &r->frames.v[r->fi].h;
            if (before_cut(r, r->fi, 0) && r->fi < r->cut_frame &&
                !(h->flags & TM_FRAME_HAS_RELATION)) {
                r->fi++; /* nothing wanted in it: skipped unread */
                continue;
            }
            if (!before_cut(r, r->fi, 0)) {
                if (r->rel_only)
                    cross_cut(r);
                if (r->time_limit && (h->flags & TM_FRAME_HAS_TX) && h->min_time > r->time_limit) {
                    /* Everything in it is past the limit: end, after the
                     * rest of a transaction begun in an earlier frame. */
                    r->limit_hit = true;
                    if (r->tx_left == 0) {
                        r->ended = true;
                        return 0;
                    }
                }
                int want = r->filter ? ask_filter(r, r->fi) : TM_FRAME_READ;
                if (want != TM_FRAME_READ) {
                    /* A transaction continuing into the next frame read
                     * began here: its continuation is dropped there. */
                    r->drop_cont = true;
                    if (want == TM_FRAME_SKIP_ALL || !(h->flags & TM_FRAME_HAS_RELATION)) {
                        r->stats.frames_skipped++;
                        r->fi++;
                        continue;
                    }
                    r->frame_rels_only = true;
                }
            }
            if (enter_frame(r, r->fi, err) != 0)
                return -1;
            if (!r->rel_only && !r->frame_rels_only && r->drop_cont) {
                r->drop_left = h->cont_records;
                /* After a seek this frame holds the end of that transaction
                 * (P was the last frame before the target holding it); after
                 * frames a filter skipped, it may be all continuation. */
                r->drop_cont = h->cont_records == h->n_records && !(h->flags & TM_FRAME_TX_END);
            }
        }
        Tidemark__Record *rec;
        int body;
        uint32_t idx = r->rec_idx;
        int rc = frame_record(r, lazy, &rec, &body, raw, raw_len, err);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            r->in_frame = false;
            r->frame_rels_only = false;
            r->fi++;
            continue;
        }
        if (r->frame_rels_only) {
            if (body == TIDEMARK__RECORD__BODY_RELATION) {
                *out = rec;
                return 1;
            }
            continue;
        }
        if (r->rel_only) {
            if (before_cut(r, r->fi, idx)) {
                if (body == TIDEMARK__RECORD__BODY_RELATION) {
                    *out = rec;
                    return 1;
                }
                continue;
            }
            cross_cut(r);
        }
        if (r->drop_left > 0) {
            r->drop_left--;
            continue;
        }
        bool member = r->tx_left > 0;
        if (member) {
            if (body == TIDEMARK__RECORD__BODY_BEGIN)
                return fail(r, err, r->cur.offset,
                            "a transaction begins inside the records of another one");
            r->tx_left--;
        } else if (body == TIDEMARK__RECORD__BODY_BEGIN) {
            r->tx_left = rec->begin->n_records;
        }
        *out = rec;
        return 1;
    }
}

int tm_reader_next(tm_reader *r, const Tidemark__Record **out, tm_error *err)
{
    return next_record(r, false, out, NULL, NULL, err);
}

int tm_reader_next_lazy(tm_reader *r, const Tidemark__Record **rec, const uint8_t **change,
                        size_t *change_len, tm_error *err)
{
    return next_record(r, true, rec, change, change_len, err);
}

/* ---- seeking ----------------------------------------------------------- */

typedef struct target {
    bool by_lsn;
    uint64_t lsn;
    int64_t time;
} target;

/* Whether a frame holds a transaction at or past the target. */
static bool reaches(const tm_frame_hdr *h, const target *t)
{
    return t->by_lsn ? h->last_lsn >= t->lsn : h->max_time >= t->time;
}

/* A transaction that comes before the target. In time mode the frame being
 * cut lies wholly before it. */
static bool tx_before(const target *t, uint64_t lsn)
{
    return !t->by_lsn || lsn < t->lsn;
}

/* Finds in the current frame the record index just after the last
 * transaction before the target. When that transaction goes on into later
 * frames, the cut is the end of the frame: the reader then drops the
 * continuation records that follow. */
static int find_cut(tm_reader *r, const target *t, uint32_t *cut, tm_error *err)
{
    uint64_t left = r->cur.h.cont_records;
    bool before = left > 0 && tx_before(t, r->cur.h.first_lsn);
    *cut = 0;
    for (;;) {
        Tidemark__Record *rec;
        int body;
        uint32_t idx = r->rec_idx;
        int rc = frame_record(r, false, &rec, &body, NULL, NULL, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        if (left > 0) {
            if (--left == 0 && before)
                *cut = idx + 1;
        } else if (body == TIDEMARK__RECORD__BODY_BEGIN) {
            left = rec->begin->n_records;
            before = tx_before(t, rec->begin->commit_lsn);
            if (before && left == 0)
                *cut = idx + 1;
        }
    }
    if (before && (left > 0 || !(r->cur.h.flags & TM_FRAME_TX_END)))
        *cut = r->cur.h.n_records;
    return 0;
}

static int seek(tm_reader *r, const target *t, tm_error *err)
{
    r->failed = r->ended = r->limit_hit = r->rel_only = false;
    r->in_frame = r->frame_rels_only = false;
    r->tx_left = 0;
    r->drop_cont = false;
    r->drop_left = 0;
    if (r->nsegs == 0)
        return 0;
    /* P: the last frame holding a transaction before the target. */
    bool have_p = false;
    size_t p_si = 0, p_fi = 0;
    for (size_t si = 0; si < r->nsegs; si++) {
        if (load_segment(r, si, err) != 0)
            return -1;
        bool found = false;
        for (size_t fi = 0; fi < r->visible && !found; fi++) {
            const tm_frame_hdr *h = &r->frames.v[fi].h;
            if (!(h->flags & TM_FRAME_HAS_TX))
                continue;
            if (reaches(h, t)) {
                found = true;
                if (t->by_lsn && h->first_lsn < t->lsn) {
                    have_p = true;
                    p_si = si;
                    p_fi = fi;
                }
            } else {
                have_p = true;
                p_si = si;
                p_fi = fi;
            }
        }
        if (found)
            break;
        if (r->seg_damaged)
            return fail(r, err, r->bad_offset, "%s", r->bad_why);
    }
    if (!have_p) {
        unload(r); /* start from the beginning */
        return 0;
    }
    if ((!r->loaded || r->si != p_si) && load_segment(r, p_si, err) != 0)
        return -1;
    if (enter_frame(r, p_fi, err) != 0)
        return -1;
    uint32_t cut;
    if (find_cut(r, t, &cut, err) != 0)
        return -1;
    /* Read the segment again from its start, delivering only the schemas
     * up to the cut. */
    r->in_frame = false;
    r->fi = 0;
    r->rel_only = true;
    r->cut_frame = p_fi;
    r->cut_rec = cut;
    r->drop_cont = cut == r->cur.h.n_records;
    return 0;
}

int tm_reader_seek_lsn(tm_reader *r, uint64_t lsn, tm_error *err)
{
    target t = {.by_lsn = true, .lsn = lsn};
    return seek(r, &t, err);
}

int tm_reader_seek_time(tm_reader *r, int64_t time, tm_error *err)
{
    target t = {.by_lsn = false, .time = time};
    return seek(r, &t, err);
}
