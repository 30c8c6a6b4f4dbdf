/* tidemark verify: reads every frame of every segment and checks all that
 * can be checked without the source database: both CRCs, LZ4 decoding,
 * every record decoding, each frame header's summary against its records,
 * TxBegin record counts, commit LSNs never going backwards, contiguous
 * segment numbers, and each index against its segment. */
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
#include "store/journal/journal.h"
#include "store/common/lsn.h"
#include "store/journal/seg_index.h"
#include "store/journal/segment.h"
#include "store/common/tm_time.h"

typedef struct vstate {
    const char *dir;
    FILE *out;
    bool quiet;
    tm_verify_totals *tot;
    bool have_prev;
    uint64_t prev_lsn; /* last commit LSN seen, journal-wide */
    bool have_range;   /* totals' LSN/time range is set */
    tm_arena arena;
    tm_buf io, raw;
} vstate;

/* What one segment holds, and its first problem. */
typedef struct segstat {
    uint64_t frames, records, tx;
    bool have_range;
    uint64_t lsn_lo, lsn_hi;
    int64_t t_lo, t_hi;
    bool bad, no_offset;
    uint64_t bad_off;
    char why[400];
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

static void print_ranges(FILE *f, bool have, uint64_t lo, uint64_t hi, int64_t tlo, int64_t thi)
{
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN], c[TM_TIME_BUFLEN], d[TM_TIME_BUFLEN];
    if (!have) {
        fprintf(f, " lsn none time none");
        return;
    }
    fmt_time(tlo, c);
    fmt_time(thi, d);
    fprintf(f, " lsn %s..%s time %s..%s", tm_lsn_format(lo, a), tm_lsn_format(hi, b), c, d);
}

static int verify_segment(vstate *v, uint64_t segno, bool last, tm_error *err)
{
    char name[TM_SEG_NAME_LEN], path[PATH_MAX];
    tm_seg_name(segno, name);
    if (tm_seg_path(v->dir, name, path, sizeof path, err) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tm_error_errno(err, "cannot open segment %s", path);
        return -1;
    }
    segstat s = {0};
    tm_seg_scan sc;
    int rc = tm_segment_scan(fd, segno, true, &sc, err);
    char iname[TM_SEG_NAME_LEN], ipath[PATH_MAX];
    tm_idx_name(segno, iname);
    bool sealed =
        tm_seg_path(v->dir, iname, ipath, sizeof ipath, err) == 0 && access(ipath, F_OK) == 0;
    txstate tx = {0};
    /* After a first problem the transaction state is unreliable: stop there. */
    for (size_t i = 0; rc == 0 && !s.bad && i < sc.frames.n; i++)
        rc = check_frame(v, fd, &sc.frames.v[i], &tx, &s, err);
    if (rc == 0 && sc.damaged) {
        if (last && sc.tail && !sealed)
            problem(&s, sc.bad_offset,
                    "torn tail (%" PRIu64 " bytes: %s); the next capture start cuts it off",
                    sc.file_size - sc.bad_offset, sc.why);
        else
            problem(&s, sc.bad_offset, "%s", sc.why);
    }
    if (rc == 0 && !s.bad && tx.left > 0) {
        if (last && !sealed)
            snprintf(s.note, sizeof s.note,
                     ", unfinished transaction at the tail from offset %" PRIu64
                     " (cut off by the next capture start)",
                     tx.begin_off);
        else
            problem(&s, sc.good_end, "segment ends inside a transaction");
    }
    if (rc == 0 && sealed) {
        tm_frame_dir d = {0};
        char why[256];
        int ir = tm_index_read(v->dir, segno, sc.file_size, &d, why, sizeof why, err);
        if (ir < 0) {
            rc = -1;
        } else if (ir == TM_IDX_BAD && !s.bad) {
            problem(&s, 0, "index %s: %s", iname, why);
            s.no_offset = true;
        } else if (ir == TM_IDX_OK && !s.bad) {
            bool same = d.n == sc.frames.n;
            for (size_t i = 0; same && i < d.n; i++)
                same = d.v[i].offset == sc.frames.v[i].offset &&
                       !memcmp(&d.v[i].h, &sc.frames.v[i].h, sizeof d.v[i].h);
            if (!same) {
                problem(&s, 0, "index %s disagrees with the segment's frames", iname);
                s.no_offset = true;
            }
        }
        tm_frame_dir_free(&d);
    }
    close(fd);
    tm_seg_scan_free(&sc);
    if (rc != 0)
        return -1;

    tm_verify_totals *t = v->tot;
    t->segments++;
    t->frames += s.frames;
    t->records += s.records;
    t->transactions += s.tx;
    t->bytes += sc.file_size;
    if (s.have_range) {
        range_add(&v->have_range, &t->first_lsn, &t->last_lsn, &t->first_time, &t->last_time,
                  s.lsn_lo, s.t_lo);
        range_add(&v->have_range, &t->first_lsn, &t->last_lsn, &t->first_time, &t->last_time,
                  s.lsn_hi, s.t_hi);
    }
    if (s.bad) {
        t->bad_segments++;
        if (v->out && s.no_offset)
            fprintf(v->out, "%s  BAD: %s\n", name, s.why);
        else if (v->out)
            fprintf(v->out, "%s  BAD at offset %" PRIu64 ": %s\n", name, s.bad_off, s.why);
    } else if (v->out && !v->quiet) {
        fprintf(v->out, "%s  ok  frames=%" PRIu64 " records=%" PRIu64 " tx=%" PRIu64, name,
                s.frames, s.records, s.tx);
        print_ranges(v->out, s.have_range, s.lsn_lo, s.lsn_hi, s.t_lo, s.t_hi);
        fprintf(v->out, " bytes=%" PRIu64 " %s%s\n", sc.file_size, sealed ? "sealed" : "open",
                s.note);
    }
    return 0;
}

int tm_verify_opts(const char *dir, void *outp, bool quiet, tm_verify_totals *totals, tm_error *err)
{
    FILE *out = outp;
    tm_verify_totals local = {0};
    tm_verify_totals *t = totals ? totals : &local;
    memset(t, 0, sizeof *t);
    struct stat st;
    if (stat(dir, &st) != 0) {
        tm_error_errno(err, "cannot open journal %s", dir);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        tm_error_set(err, "journal %s is not a directory", dir);
        return -1;
    }
    uint64_t *segs;
    size_t n;
    if (tm_segment_list(dir, &segs, &n, err) != 0)
        return -1;
    tm_meta meta;
    tm_error merr;
    bool meta_bad = false;
    if (tm_meta_read(dir, &meta, &merr) != 0) {
        if (!tm_error_is(&merr, TM_ERR_NOT_FOUND)) {
            meta_bad = true;
            if (out)
                fprintf(out, "journal.meta  BAD: %s\n", merr.msg);
        } else if (n == 0) {
            free(segs);
            tm_error_setc(err, TM_ERR_NOT_FOUND,
                          "%s is not a tidemark journal (no journal.meta, no segments)", dir);
            return -1;
        }
    }
    vstate v = {.dir = dir, .out = out, .quiet = quiet, .tot = t};
    tm_arena_init(&v.arena);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0 && segs[i] != segs[i - 1] + 1) {
            char a[TM_SEG_NAME_LEN], b[TM_SEG_NAME_LEN];
            t->bad_segments++;
            if (out)
                fprintf(out, "%s  BAD: missing (through %s; segments must be contiguous)\n",
                        tm_seg_name(segs[i - 1] + 1, a), tm_seg_name(segs[i] - 1, b));
        }
        rc = verify_segment(&v, segs[i], i + 1 == n, err);
    }
    free(segs);
    tm_arena_free(&v.arena);
    tm_buf_free(&v.io);
    tm_buf_free(&v.raw);
    if (rc != 0)
        return -1;
    bool sound = t->bad_segments == 0 && !meta_bad;
    if (out) {
        fprintf(out,
                "total  segments=%" PRIu64 " bad=%" PRIu64 " frames=%" PRIu64 " records=%" PRIu64
                " tx=%" PRIu64,
                t->segments, t->bad_segments, t->frames, t->records, t->transactions);
        print_ranges(out, v.have_range, t->first_lsn, t->last_lsn, t->first_time, t->last_time);
        fprintf(out, " bytes=%" PRIu64 "  %s\n", t->bytes, sound ? "sound" : "DAMAGED");
    }
    return sound ? 0 : 1;
}

int tm_verify(const char *dir, void *out, tm_verify_totals *totals, tm_error *err)
{
    return tm_verify_opts(dir, out, false, totals, err);
}
