/* tidemark verify, the segments: reads every frame of every segment and
 * checks all that can be checked without the source database: both CRCs,
 * LZ4 decoding, every record decoding, each frame header's summary against
 * its records, TxBegin record counts, commit LSNs never going backwards,
 * contiguous segment numbers, and each index (a file of its own line)
 * against its segment. The walk over the other files is verify_walk.c. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/common/jsource.h"
#include "store/journal/arena.h"
#include "store/journal/journal.h"
#include "store/common/lsn.h"
#include "store/journal/live_index.h"
#include "store/journal/seg_index.h"
#include "store/journal/segment.h"
#include "store/journal/verify_internal.h"
#include "store/common/tm_time.h"

typedef struct vstate {
    tm_vwalk *w;
    bool have_prev;
    uint64_t prev_lsn; /* last commit LSN seen, journal-wide */
    tm_arena arena;
    tm_buf io, raw;
    bool have_mark; /* the durable mark: data at or below it was confirmed */
    tm_mark mark;
} vstate;

/* What one segment holds, and its first problem. */
typedef struct segstat {
    uint64_t frames, records, tx;
    bool have_range;
    uint64_t lsn_lo, lsn_hi;
    int64_t t_lo, t_hi;
    bool bad, no_offset;
    uint64_t bad_off;
    char why[1024];
    char note[200];
} segstat;

static void problem(segstat *s, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(segstat *s, uint64_t off, const char *fmt, ...)
{
    if (s->bad && s->bad_off <= off)
        return; /* report the first problem in the file */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    s->bad = true;
    s->bad_off = off;
}

static void range_add(bool *have, uint64_t *lo, uint64_t *hi, int64_t *tlo, int64_t *thi,
                      uint64_t lsn, int64_t t)
{
    if (!*have) {
        *have = true;
        *lo = *hi = lsn;
        *tlo = *thi = t;
        return;
    }
    if (lsn < *lo)
        *lo = lsn;
    if (lsn > *hi)
        *hi = lsn;
    if (t < *tlo)
        *tlo = t;
    if (t > *thi)
        *thi = t;
}

/* Transaction state carried from frame to frame within a segment. */
typedef struct txstate {
    uint64_t left;
    uint64_t lsn, end;
    int64_t time;
    uint64_t begin_off;
} txstate;

/* Decodes one frame and checks its records and its header's summary. */
static int check_frame(vstate *v, int fd, const tm_frame_entry *e, txstate *tx, segstat *s,
                       tm_error *err)
{
    char why[256];
    tm_frame_hdr h;
    int rc = tm_frame_read(fd, e->offset, &e->h, &h, &v->io, &v->raw, why, sizeof why, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        problem(s, e->offset, "%s", why);
        return 0;
    }
    /* The summary the header should carry, recomputed from the records. */
    tm_frame_hdr want = {0};
    want.cont_records = (uint32_t)(tx->left < h.n_records ? tx->left : h.n_records);
    size_t pos = 0, len;
    const unsigned char *p;
    uint32_t n = 0;
    while ((rc = tm_frame_next_record(v->raw.p, v->raw.len, &pos, &p, &len, why, sizeof why)) ==
           1) {
        tm_arena_reset(&v->arena);
        Tidemark__Record *rec = tidemark__record__unpack(&v->arena.alloc, len, p);
        if (!rec) {
            problem(s, e->offset, "record %u of the frame does not decode", n);
            return 0;
        }
        n++;
        bool member = false;
        if (tx->left > 0) {
            if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
                problem(s, e->offset, "a transaction begins inside the records of another one");
                return 0;
            }
            tx->left--;
            member = true;
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
            const Tidemark__TxBegin *b = rec->begin;
            if (v->have_prev && b->commit_lsn < v->prev_lsn) {
                char a[TM_LSN_BUFLEN], c[TM_LSN_BUFLEN];
                problem(s, e->offset, "commit LSN %s goes backwards (after %s)",
                        tm_lsn_format(b->commit_lsn, a), tm_lsn_format(v->prev_lsn, c));
                return 0;
            }
            v->have_prev = true;
            v->prev_lsn = b->commit_lsn;
            *tx = (txstate){b->n_records, b->commit_lsn, b->end_lsn, b->commit_time, e->offset};
            s->tx++;
            range_add(&s->have_range, &s->lsn_lo, &s->lsn_hi, &s->t_lo, &s->t_hi, tx->lsn,
                      tx->time);
            member = true;
        } else if (rec->body_case == TIDEMARK__RECORD__BODY__NOT_SET) {
            problem(s, e->offset, "record %u of the frame is empty", n - 1);
            return 0;
        }
        if (member) {
            bool have = want.flags & TM_FRAME_HAS_TX;
            range_add(&have, &want.first_lsn, &want.last_lsn, &want.min_time, &want.max_time,
                      tx->lsn, tx->time);
            want.flags |= TM_FRAME_HAS_TX;
            want.end_lsn = tx->end;
        }
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION)
            want.flags |= TM_FRAME_HAS_RELATION;
    }
    if (rc < 0) {
        problem(s, e->offset, "%s", why);
        return 0;
    }
    if (n != h.n_records) {
        problem(s, e->offset, "frame holds %u records, its header says %u", n, h.n_records);
        return 0;
    }
    uint16_t known = TM_FRAME_HAS_TX | TM_FRAME_HAS_RELATION;
    if ((h.flags & known) != want.flags || h.cont_records != want.cont_records ||
        h.first_lsn != want.first_lsn || h.last_lsn != want.last_lsn ||
        h.min_time != want.min_time || h.max_time != want.max_time || h.end_lsn != want.end_lsn) {
        problem(s, e->offset,
                "frame header's summary (ranges, flags, counts) disagrees with its "
                "records");
        return 0;
    }
    if ((h.flags & TM_FRAME_TX_END) && tx->left > 0) {
        problem(s, e->offset, "frame is marked as ending a transaction that goes on");
        return 0;
    }
    s->frames++;
    s->records += n;
    return 0;
}

static void fmt_time(int64_t t, char *buf)
{
    /* Keep absurd values (from a damaged header) away from gmtime. */
    if (t < -INT64_C(62135596800000000) || t > INT64_C(253402300799000000))
        snprintf(buf, TM_TIME_BUFLEN, "%" PRId64 "us", t);
    else
        tm_time_format(t, buf);
}

void tm_verify_fmt_ranges(char *buf, size_t len, bool have, uint64_t lo, uint64_t hi, int64_t tlo,
                          int64_t thi)
{
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN], c[TM_TIME_BUFLEN], d[TM_TIME_BUFLEN];
    if (!have) {
        snprintf(buf, len, "lsn none time none");
        return;
    }
    fmt_time(tlo, c);
    fmt_time(thi, d);
    snprintf(buf, len, "lsn %s..%s time %s..%s", tm_lsn_format(lo, a), tm_lsn_format(hi, b), c, d);
}

/* Damage where checking could not read the file (I/O): the segment is
 * reported as damaged with the error; out of memory stops the walk. */
static int io_problem(segstat *s, tm_error *err)
{
    if (tm_error_is(err, TM_ERR_NOMEM))
        return -1;
    if (!s->bad) {
        snprintf(s->why, sizeof s->why, "%s", err->msg);
        s->bad = s->no_offset = true;
    }
    return 0;
}

/* Every frame of an open segment, then its tail. */
static int check_frames(vstate *v, int fd, uint64_t segno, bool last, bool sealed, tm_seg_scan *sc,
                        segstat *s, tm_error *err)
{
    if (tm_segment_scan(fd, segno, true, sc, err) != 0)
        return io_problem(s, err);
    txstate tx = {0};
    /* After a first problem the transaction state is unreliable: stop there. */
    for (size_t i = 0; !s->bad && i < sc->frames.n; i++)
        if (check_frame(v, fd, &sc->frames.v[i], &tx, s, err) != 0)
            return io_problem(s, err);
    bool confirmed =
        v->have_mark &&
        (segno < v->mark.segment || (segno == v->mark.segment && sc->bad_offset < v->mark.offset));
    if (sc->damaged) {
        if (last && sc->tail && !sealed && !confirmed)
            problem(s, sc->bad_offset,
                    "torn tail (%" PRIu64 " bytes: %s); the next capture start cuts it off",
                    sc->file_size - sc->bad_offset, sc->why);
        else if (confirmed)
            problem(s, sc->bad_offset,
                    "%s, below the durable mark (confirmed to the server, which will not send it "
                    "again): capture refuses to start; restore the journal from a backup",
                    sc->why);
        else
            problem(s, sc->bad_offset, "%s", sc->why);
    }
    if (!s->bad && tx.left > 0) {
        if (last && !sealed)
            snprintf(s->note, sizeof s->note,
                     ", unfinished transaction at the tail from offset %" PRIu64
                     " (cut off by the next capture start)",
                     tx.begin_off);
        else
            problem(s, sc->good_end, "segment ends inside a transaction");
    }
    return 0;
}

static bool same_frames(const tm_frame_dir *a, const tm_frame_dir *b)
{
    bool same = a->n == b->n;
    for (size_t i = 0; same && i < a->n; i++)
        same =
            a->v[i].offset == b->v[i].offset && !memcmp(&a->v[i].h, &b->v[i].h, sizeof a->v[i].h);
    return same;
}

/* The index of a sealed segment: sound in itself, and the same frames as
 * the segment when that is sound. */
static int verify_index(vstate *v, uint64_t segno, uint64_t seg_size, const tm_seg_scan *sc,
                        bool seg_sound, tm_error *err)
{
    char sname[TM_SEG_NAME_LEN], iname[TM_SEG_NAME_LEN], why[256];
    tm_seg_name(segno, sname);
    tm_idx_name(segno, iname);
    tm_frame_dir d = {0};
    tm_vresult r = {0};
    int ir = tm_index_read(v->w->dir, segno, seg_size, &d, why, sizeof why, err);
    if (ir < 0 && tm_error_is(err, TM_ERR_NOMEM))
        return -1;
    if (ir < 0 || ir == TM_IDX_BAD) {
        r.damaged = true;
        snprintf(r.text, sizeof r.text, "%s", ir < 0 ? err->msg : why);
    } else if (ir == TM_IDX_OK && seg_sound && !same_frames(&d, &sc->frames)) {
        r.damaged = true;
        snprintf(r.text, sizeof r.text, "it disagrees with the frames of %s", sname);
    } else if (ir == TM_IDX_OK) {
        snprintf(r.text, sizeof r.text, "index of %s, frames=%zu%s", sname, d.n,
                 seg_sound ? "" : " (not compared: the segment is damaged)");
    }
    tm_frame_dir_free(&d);
    if (ir != TM_IDX_ABSENT)
        tm_vwalk_report(v->w, iname, &r,
                        "readers find the segment's frames without it (slower), nothing is "
                        "lost; keep the file (it marks the segment sealed) or restore it from a "
                        "backup");
    return 0;
}

/* The live index of an open segment: the frames readers would take from
 * it must be the segment's (a torn or stale end is not damage: readers
 * leave it out by themselves). */
static int verify_live_index(vstate *v, uint64_t segno, const char *path, const tm_seg_scan *sc,
                             bool seg_sound, tm_error *err)
{
    char sname[TM_SEG_NAME_LEN], lname[TM_LIDX_NAME_LEN], lpath[PATH_MAX];
    tm_seg_name(segno, sname);
    tm_lidx_name(segno, lname);
    if (tm_seg_path(v->w->dir, lname, lpath, sizeof lpath, err) != 0)
        return -1;
    if (access(lpath, F_OK) != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* the segment's own line said so */
    struct stat st;
    tm_frame_dir d = {0};
    int n =
        fstat(fd, &st) == 0 ? tm_lidx_load(v->w->dir, segno, fd, (uint64_t)st.st_size, &d, err) : 0;
    close(fd);
    if (n < 0) {
        tm_frame_dir_free(&d);
        return -1;
    }
    tm_vresult r = {0};
    bool same = !seg_sound || d.n <= sc->frames.n;
    for (size_t i = 0; same && seg_sound && i < d.n; i++)
        same = d.v[i].offset == sc->frames.v[i].offset &&
               !memcmp(&d.v[i].h, &sc->frames.v[i].h, sizeof d.v[i].h);
    if (!same) {
        r.damaged = true;
        snprintf(r.text, sizeof r.text, "it disagrees with the frames of %s", sname);
    } else {
        snprintf(r.text, sizeof r.text, "live index of %s, frames=%zu of %zu%s", sname, d.n,
                 sc->frames.n, seg_sound ? "" : " (not compared: the segment is damaged)");
    }
    tm_frame_dir_free(&d);
    tm_vwalk_report(v->w, lname, &r,
                    "readers would take frames from it that the segment does not hold; remove "
                    "it (readers then scan the segment's frame headers; capture writes it again "
                    "at its next start)");
    return 0;
}

static void add_totals(vstate *v, const segstat *s, uint64_t bytes)
{
    tm_verify_totals *t = v->w->t;
    t->segments++;
    t->frames += s->frames;
    t->records += s->records;
    t->transactions += s->tx;
    t->bytes += bytes;
    if (s->bad)
        t->bad_segments++;
    if (s->have_range) {
        range_add(&v->w->have_range, &t->first_lsn, &t->last_lsn, &t->first_time, &t->last_time,
                  s->lsn_lo, s->t_lo);
        range_add(&v->w->have_range, &t->first_lsn, &t->last_lsn, &t->first_time, &t->last_time,
                  s->lsn_hi, s->t_hi);
    }
}

static void segment_result(const segstat *s, uint64_t bytes, bool sealed, tm_vresult *r)
{
    memset(r, 0, sizeof *r);
    if (s->bad) {
        r->damaged = true;
        r->at_offset = !s->no_offset;
        r->offset = s->bad_off;
        snprintf(r->text, sizeof r->text, "%s", s->why);
        return;
    }
    char ranges[200];
    tm_verify_fmt_ranges(ranges, sizeof ranges, s->have_range, s->lsn_lo, s->lsn_hi, s->t_lo,
                         s->t_hi);
    snprintf(r->text, sizeof r->text,
             "frames=%" PRIu64 " records=%" PRIu64 " tx=%" PRIu64 " %s bytes=%" PRIu64 " %s%s",
             s->frames, s->records, s->tx, ranges, bytes, sealed ? "sealed" : "open", s->note);
}

static int verify_segment(vstate *v, uint64_t segno, bool last, tm_error *err)
{
    char name[TM_SEG_NAME_LEN], path[PATH_MAX], iname[TM_SEG_NAME_LEN], ipath[PATH_MAX];
    tm_seg_name(segno, name);
    tm_idx_name(segno, iname);
    if (tm_seg_path(v->w->dir, name, path, sizeof path, err) != 0 ||
        tm_seg_path(v->w->dir, iname, ipath, sizeof ipath, err) != 0)
        return -1;
    tm_error kerr;
    bool sealed = tm_jsrc_kind(ipath, &kerr) == 0;
    struct stat st; /* the index is checked against the size also of a segment not read */
    uint64_t size = 0;
    segstat s = {0};
    tm_seg_scan sc = {0};
    int rc = 0, fd;
    if (tm_jsrc_open(path, false, &fd, err) != 0) {
        tm_error_prefix(err, "cannot open segment %s: ", path);
        rc = io_problem(&s, err);
    } else {
        size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        rc = check_frames(v, fd, segno, last, sealed, &sc, &s, err);
        tm_jsrc_close(fd);
    }
    if (rc == 0) {
        add_totals(v, &s, size);
        tm_vresult r;
        segment_result(&s, size, sealed, &r);
        tm_vwalk_report(v->w, name, &r, NULL);
        if (sealed)
            rc = verify_index(v, segno, size, &sc, !s.bad, err);
        if (rc == 0) /* also a sealed one's (left by a crash): read when its index is bad */
            rc = verify_live_index(v, segno, path, &sc, !s.bad, err);
    }
    tm_seg_scan_free(&sc);
    return rc;
}

int tm_verify_segments(tm_vwalk *w, const uint64_t *segs, size_t n, tm_error *err)
{
    vstate v = {.w = w};
    tm_error merr;
    v.have_mark = tm_mark_read(w->dir, &v.mark, &merr) == 1; /* a bad mark: its own line */
    tm_arena_init(&v.arena);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0 && segs[i] != segs[i - 1] + 1) {
            char a[TM_SEG_NAME_LEN], b[TM_SEG_NAME_LEN], why[100];
            w->t->bad_segments++;
            snprintf(why, sizeof why, "missing (through %s; segments must be contiguous)",
                     tm_seg_name(segs[i] - 1, b));
            tm_vwalk_missing(w, tm_seg_name(segs[i - 1] + 1, a), why);
        }
        rc = verify_segment(&v, segs[i], i + 1 == n, err);
    }
    tm_arena_free(&v.arena);
    tm_buf_free(&v.io);
    tm_buf_free(&v.raw);
    return rc;
}

void tm_vresult_judge(tm_vresult *res, const char *why, const char *fmt, ...)
{
    res->damaged = why != NULL;
    if (why) {
        snprintf(res->text, sizeof res->text, "%s", why);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->text, sizeof res->text, fmt, ap);
    va_end(ap);
}
