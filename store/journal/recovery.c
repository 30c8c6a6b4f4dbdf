/* Opening a journal for appending: find the segment to append to, cut what
 * may be cut, and restore what the writer must remember (LSNs of the last
 * transaction, the latest schema of every relation, the durable mark).
 *
 * With a durable mark (mark.h), everything above the mark is cut, sound or
 * not: it was never confirmed to the server, which sends it again, and
 * after a failed write or fsync the page cache cannot be trusted. Damage
 * at or below the mark, or a segment shorter than it, is corruption.
 * Without a mark (a journal written before marks existed, or a writer that
 * keeps none), a torn or unfinished tail of the last segment is cut back
 * to the last frame that ends at a safe point. Damage anywhere else is an
 * error: it is never skipped or cut. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/common/tm_time.h"
#include "store/journal/mark.h"
#include "store/journal/seg_index.h"
#include "store/journal/writer_internal.h"

static int open_segment(const tm_writer *w, uint64_t segno, int flags, int *fd, tm_error *err)
{
    char name[TM_SEG_NAME_LEN], path[PATH_MAX];
    if (tm_seg_path(w->dir, tm_seg_name(segno, name), path, sizeof path, err) != 0)
        return -1;
    *fd = open(path, flags | O_CLOEXEC);
    if (*fd < 0) {
        tm_error_errno(err, "cannot open segment %s", path);
        return -1;
    }
    return 0;
}

static int damaged_error(const tm_writer *w, uint64_t segno, uint64_t off, const char *why,
                         tm_error *err)
{
    char name[TM_SEG_NAME_LEN], path[PATH_MAX];
    tm_seg_name(segno, name);
    tm_error_setc(err, TM_ERR_CORRUPT,
                  "journal %s: segment %s is damaged at offset %" PRIu64
                  ": %s; it is not at the tail, so nothing is cut: run 'tidemark verify --journal "
                  "%s' and restore the segment from a backup",
                  w->dir, name, off, why, w->dir);
    snprintf(path, sizeof path, "%s/%s", w->dir, name);
    tm_error_at(err, path, off);
    return -1;
}

/* Frame directory of a segment that is complete (not the one appended to):
 * from its index when valid, else by scanning its headers. */
static int complete_dir(const tm_writer *w, uint64_t segno, int fd, tm_frame_dir *out,
                        tm_error *err)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        tm_error_errno(err, "cannot size a segment");
        return -1;
    }
    char why[256];
    int rc = tm_index_read(w->dir, segno, (uint64_t)size, out, why, sizeof why, err);
    if (rc == TM_IDX_OK)
        return 0;
    if (rc < 0)
        return -1;
    tm_seg_scan sc;
    if (tm_segment_scan(fd, segno, false, &sc, err) != 0) {
        tm_seg_scan_free(&sc);
        return -1;
    }
    if (sc.damaged) {
        damaged_error(w, segno, sc.bad_offset, sc.why, err);
        tm_seg_scan_free(&sc);
        return -1;
    }
    tm_frame_dir_free(out);
    *out = sc.frames;
    return 0;
}

/* Keeps every Relation record of the frames flagged as holding some. */
static int load_relations(tm_writer *w, uint64_t segno, int fd, const tm_frame_dir *d, size_t n,
                          tm_error *err)
{
    tm_buf io = {0}, raw = {0};
    int rc = 0;
    char why[256];
    for (size_t i = 0; i < n && rc == 0; i++) {
        const tm_frame_entry *e = &d->v[i];
        if (!(e->h.flags & TM_FRAME_HAS_RELATION))
            continue;
        tm_frame_hdr h;
        int r = tm_frame_read(fd, e->offset, &e->h, &h, &io, &raw, why, sizeof why, err);
        if (r != 0) {
            rc = r < 0 ? -1 : damaged_error(w, segno, e->offset, why, err);
            break;
        }
        size_t pos = 0, len;
        const unsigned char *p;
        while ((r = tm_frame_next_record(raw.p, raw.len, &pos, &p, &len, why, sizeof why)) == 1) {
            tm_arena_reset(&w->arena);
            Tidemark__Record *rec = tidemark__record__unpack(&w->arena.alloc, len, p);
            if (!rec) {
                snprintf(why, sizeof why, "a record does not decode");
                r = -1;
                break;
            }
            if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION &&
                tm_rel_table_put(&w->rels, rec->relation->oid, p, len, err) != 0) {
                rc = -1;
                break;
            }
        }
        if (r < 0 && rc == 0)
            rc = damaged_error(w, segno, e->offset, why, err);
    }
    tm_buf_free(&io);
    tm_buf_free(&raw);
    return rc;
}

/* LSNs of the last transaction in the first n frames of d, if any. */
static bool last_tx(const tm_frame_dir *d, size_t n, tm_writer *w)
{
    for (size_t i = n; i-- > 0;) {
        if (d->v[i].h.flags & TM_FRAME_HAS_TX) {
            w->last_commit = d->v[i].h.last_lsn;
            w->last_end = d->v[i].h.end_lsn;
            return true;
        }
    }
    return false;
}

/* Relations (when want_rels) and last-transaction LSNs from the complete
 * segments before index k of segs, newest first, as far back as needed. */
static int from_earlier(tm_writer *w, const uint64_t *segs, size_t k, bool want_rels, bool want_lsn,
                        tm_error *err)
{
    for (size_t i = k; i-- > 0 && (want_rels || want_lsn);) {
        int fd;
        tm_frame_dir d = {0};
        if (open_segment(w, segs[i], O_RDONLY, &fd, err) != 0)
            return -1;
        int rc = complete_dir(w, segs[i], fd, &d, err);
        if (rc == 0 && want_rels) {
            /* Its preamble and later Relations hold every schema in effect. */
            rc = load_relations(w, segs[i], fd, &d, d.n, err);
            want_rels = false;
        }
        if (rc == 0 && want_lsn && last_tx(&d, d.n, w))
            want_lsn = false;
        close(fd);
        tm_frame_dir_free(&d);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Records in rep what recover_last repairs in segment segno: a tail cut
 * at cut, or a torn header (the segment is started again). */
static void note_repair(tm_recovery *rep, uint64_t segno, const tm_seg_scan *sc, uint64_t cut)
{
    memset(rep, 0, sizeof *rep);
    if (sc->hdr_ok && sc->file_size <= cut)
        return;
    rep->repaired = true;
    rep->segment = segno;
    rep->header_torn = !sc->hdr_ok;
    rep->offset = cut;
    rep->bytes_cut = sc->file_size - cut;
    rep->torn_write = sc->damaged;
    rep->damage_offset = sc->bad_offset;
    snprintf(rep->why, sizeof rep->why, "%s", sc->why);
}

void tm_recovery_describe(const char *dir, const tm_recovery *rep, char *buf, size_t len)
{
    char name[TM_SEG_NAME_LEN], reason[400];
    if (!rep->repaired) {
        snprintf(buf, len, "%s", "");
        return;
    }
    tm_seg_name(rep->segment, name);
    if (rep->header_torn) {
        snprintf(buf, len,
                 "journal %s: segment %s: its header was torn (%" PRIu64
                 " bytes: %s); the segment is started again",
                 dir, name, rep->bytes_cut, rep->why);
        return;
    }
    if (rep->torn_write)
        snprintf(reason, sizeof reason, "torn write at offset %" PRIu64 ": %s%s",
                 rep->damage_offset, rep->why,
                 rep->above_mark ? "; above the durable mark, so never confirmed" : "");
    else if (rep->above_mark)
        snprintf(reason, sizeof reason,
                 "written after the last confirmed position; the server sends it again");
    else
        snprintf(reason, sizeof reason, "an unfinished transaction");
    snprintf(buf, len,
             "journal %s: segment %s: cut %" PRIu64 " bytes at offset %" PRIu64
             " (%s); everything before it is intact",
             dir, name, rep->bytes_cut, rep->offset, reason);
}

/* Makes the last segment (open as fd, scanned in sc) the one appended to,
 * cut at cut with its first nframes frames kept; rep says what was cut.
 * Takes fd and sc's frames. */
static int take_last(tm_writer *w, const uint64_t *segs, size_t nsegs, int fd, tm_seg_scan *sc,
                     uint64_t cut, size_t nframes, tm_error *err)
{
    uint64_t last = segs[nsegs - 1];
    char name[TM_SEG_NAME_LEN];
    tm_seg_name(last, name);
    if (sc->file_size > cut && ftruncate(fd, (off_t)cut) != 0) {
        tm_error_errno(err, "cannot cut the tail of segment %s", name);
        goto fail;
    }
    if (!sc->hdr_ok) {
        /* Torn while being created: write its header again. */
        sc->hdr.segno = last;
        sc->hdr.created = tm_time_now();
        unsigned char hb[TM_SEG_HDR_SIZE];
        tm_seg_hdr_encode(&sc->hdr, hb);
        if (tm_pwrite_full(fd, hb, sizeof hb, 0, name, err) != 0)
            goto fail;
        cut = TM_SEG_HDR_SIZE;
    }
    if (tm_fsync_fd(fd, name, err) != 0 || tm_fsync_dir(w->dir, err) != 0)
        goto fail;

    w->fd = fd;
    w->segno = last;
    w->seg_size = cut;
    w->seg_created = sc->hdr.created;
    w->durable_seg = last;
    w->durable_off = cut;
    sc->frames.n = nframes;
    w->frames = sc->frames; /* ownership moves to the writer */
    sc->frames = (tm_frame_dir){0};
    w->seg_data = w->frames.n > 0;
    if (tm_writer_start_live_index(w, err) != 0)
        return -1;
    bool have_rels = w->frames.n > 0;
    if (have_rels && load_relations(w, last, fd, &w->frames, w->frames.n, err) != 0)
        return -1;
    bool have_lsn = last_tx(&w->frames, w->frames.n, w);
    if (from_earlier(w, segs, nsegs - 1, !have_rels, !have_lsn, err) != 0)
        return -1;
    /* An empty segment (fresh, or cut back to its header) gets its preamble. */
    return have_rels ? 0 : tm_writer_write_preamble(w, err);
fail:
    close(fd);
    tm_seg_scan_free(sc);
    return -1;
}

/* A sealed last segment (fd, scanned in sc): it stays as it is, and a new
 * segment after it is the one appended to. Takes fd and sc. */
static int after_sealed(tm_writer *w, const uint64_t *segs, size_t nsegs, int fd, tm_seg_scan *sc,
                        tm_error *err)
{
    uint64_t last = segs[nsegs - 1];
    if (load_relations(w, last, fd, &sc->frames, sc->frames.n, err) != 0 ||
        (!last_tx(&sc->frames, sc->frames.n, w) &&
         from_earlier(w, segs, nsegs - 1, false, true, err) != 0)) {
        close(fd);
        tm_seg_scan_free(sc);
        return -1;
    }
    w->durable_seg = last;
    w->durable_off = sc->file_size;
    close(fd);
    tm_seg_scan_free(sc);
    if (tm_writer_create_segment(w, last + 1, err) != 0)
        return -1;
    return tm_writer_write_preamble(w, err);
}

/* Opens and scans the last segment, and tells whether it is sealed. */
static int scan_last(tm_writer *w, uint64_t last, int *fd, tm_seg_scan *sc, bool *sealed,
                     tm_error *err)
{
    char iname[TM_SEG_NAME_LEN], idx[PATH_MAX];
    memset(sc, 0, sizeof *sc);
    if (open_segment(w, last, O_RDWR, fd, err) != 0)
        return -1;
    if (tm_segment_scan(*fd, last, true, sc, err) != 0 ||
        tm_seg_path(w->dir, tm_idx_name(last, iname), idx, sizeof idx, err) != 0) {
        close(*fd);
        tm_seg_scan_free(sc);
        return -1;
    }
    *sealed = access(idx, F_OK) == 0;
    return 0;
}

/* Without a mark: cut a torn or unfinished tail back to the last frame
 * that ends at a safe point. */
static int recover_last(tm_writer *w, const uint64_t *segs, size_t nsegs, tm_error *err)
{
    uint64_t last = segs[nsegs - 1];
    int fd;
    tm_seg_scan sc;
    bool sealed;
    if (scan_last(w, last, &fd, &sc, &sealed, err) != 0)
        return -1;
    if (sc.damaged && (!sc.tail || sealed)) {
        damaged_error(w, last, sc.bad_offset, sc.why, err);
        goto fail;
    }
    if (sealed) {
        /* Sealed before a crash that came before the next segment existed. */
        if (sc.n_safe != sc.frames.n) {
            damaged_error(w, last, tm_frame_end(&sc.frames.v[sc.n_safe]),
                          "the sealed segment ends inside a transaction", err);
            goto fail;
        }
        return after_sealed(w, segs, nsegs, fd, &sc, err);
    }
    /* Cut what follows the last frame that ends at a safe point. */
    uint64_t cut = sc.hdr_ok ? sc.safe_end : 0;
    note_repair(&w->recovery, last, &sc, cut);
    return take_last(w, segs, nsegs, fd, &sc, cut, sc.n_safe, err);
fail:
    close(fd);
    tm_seg_scan_free(&sc);
    return -1;
}

/* The durable mark does not fit the segments: TM_ERR_CORRUPT. */
static int mark_error(const tm_writer *w, uint64_t segno, uint64_t off, tm_error *err,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int mark_error(const tm_writer *w, uint64_t segno, uint64_t off, tm_error *err,
                      const char *fmt, ...)
{
    char why[600], name[TM_SEG_NAME_LEN], path[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    tm_seg_name(segno, name);
    tm_error_setc(err, TM_ERR_CORRUPT,
                  "journal %s: segment %s: %s; what was confirmed to the server is no longer "
                  "intact, so nothing is cut: run 'tidemark verify --journal %s' and restore "
                  "the journal from a backup",
                  w->dir, name, why, w->dir);
    snprintf(path, sizeof path, "%s/%s", w->dir, name);
    tm_error_at(err, path, off);
    return -1;
}

/* Frames of sc that end at or before the mark's offset, checked to end
 * exactly there at a safe point. -1 with err when they do not. */
static int frames_to_mark(const tm_writer *w, uint64_t segno, const tm_seg_scan *sc,
                          const tm_mark *m, size_t *nframes, tm_error *err)
{
    size_t k = 0;
    while (k < sc->frames.n && tm_frame_end(&sc->frames.v[k]) <= m->offset)
        k++;
    uint64_t end = k ? tm_frame_end(&sc->frames.v[k - 1]) : TM_SEG_HDR_SIZE;
    if (end != m->offset)
        return mark_error(w, segno, m->offset, err,
                          "the durable mark (offset %" PRIu64 ") is not at the end of a frame",
                          m->offset);
    if (k && !(sc->frames.v[k - 1].h.flags & TM_FRAME_TX_END))
        return mark_error(w, segno, m->offset, err,
                          "the durable mark (offset %" PRIu64 ") lies inside a transaction",
                          m->offset);
    *nframes = k;
    return 0;
}

/* Removes the index of a segment that is cut: it described what is gone. */
static int unseal(tm_writer *w, uint64_t segno, tm_error *err)
{
    char iname[TM_SEG_NAME_LEN], idx[PATH_MAX];
    if (tm_seg_path(w->dir, tm_idx_name(segno, iname), idx, sizeof idx, err) != 0)
        return -1;
    if (unlink(idx) != 0 && errno != ENOENT) {
        tm_error_errno(err, "cannot remove %s", idx);
        return -1;
    }
    return 0;
}

/* With the mark in the last segment: everything above the mark is cut,
 * sound or not; damage below it is corruption. */
static int recover_at_mark(tm_writer *w, const uint64_t *segs, size_t nsegs, const tm_mark *m,
                           tm_error *err)
{
    uint64_t last = segs[nsegs - 1];
    int fd;
    tm_seg_scan sc;
    bool sealed;
    size_t nframes = 0;
    if (scan_last(w, last, &fd, &sc, &sealed, err) != 0)
        return -1;
    if (sc.file_size < m->offset) {
        mark_error(w, last, sc.file_size, err,
                   "it is %" PRIu64 " bytes long, but the durable mark says %" PRIu64
                   " bytes of it were fsynced",
                   sc.file_size, m->offset);
        goto fail;
    }
    bool fresh = m->offset == TM_SEG_HDR_SIZE; /* nothing of it was ever confirmed */
    if (sc.damaged && sc.bad_offset < m->offset && !(fresh && !sc.hdr_ok)) {
        mark_error(w, last, sc.bad_offset, err,
                   "damaged at offset %" PRIu64 ": %s; it lies below the durable mark (offset "
                   "%" PRIu64 "), so it was fsynced and confirmed: this is no torn write",
                   sc.bad_offset, sc.why, m->offset);
        goto fail;
    }
    if (sc.hdr_ok && frames_to_mark(w, last, &sc, m, &nframes, err) != 0)
        goto fail;
    if (sealed && sc.file_size == m->offset)
        return after_sealed(w, segs, nsegs, fd, &sc, err);
    if (sealed && unseal(w, last, err) != 0)
        goto fail;
    note_repair(&w->recovery, last, &sc, sc.hdr_ok ? m->offset : 0);
    w->recovery.above_mark = w->recovery.repaired;
    return take_last(w, segs, nsegs, fd, &sc, sc.hdr_ok ? m->offset : 0, nframes, err);
fail:
    close(fd);
    tm_seg_scan_free(&sc);
    return -1;
}

/* With the mark at the end of the segment before the last (sealed there):
 * the last segment lies wholly above the mark and is started again. */
static int recover_after_mark(tm_writer *w, const uint64_t *segs, size_t nsegs, const tm_mark *m,
                              tm_error *err)
{
    uint64_t last = segs[nsegs - 1];
    int fd;
    if (open_segment(w, m->segment, O_RDONLY, &fd, err) != 0)
        return -1;
    off_t size = lseek(fd, 0, SEEK_END);
    close(fd);
    if (size < 0 || (uint64_t)size != m->offset)
        return mark_error(w, m->segment, (uint64_t)(size < 0 ? 0 : size), err,
                          "it is %lld bytes long, but the durable mark says it was sealed at "
                          "%" PRIu64 " bytes",
                          (long long)size, m->offset);
    tm_seg_scan sc;
    bool sealed;
    if (scan_last(w, last, &fd, &sc, &sealed, err) != 0)
        return -1;
    if (unseal(w, last, err) != 0) {
        close(fd);
        tm_seg_scan_free(&sc);
        return -1;
    }
    /* A torn header, or one that is not this segment's own, is written again. */
    note_repair(&w->recovery, last, &sc, sc.hdr_ok ? TM_SEG_HDR_SIZE : 0);
    w->recovery.above_mark = w->recovery.repaired;
    return take_last(w, segs, nsegs, fd, &sc, sc.hdr_ok ? TM_SEG_HDR_SIZE : 0, 0, err);
}

static int recover_with_mark(tm_writer *w, const uint64_t *segs, size_t nsegs, const tm_mark *m,
                             tm_error *err)
{
    uint64_t last = segs[nsegs - 1];
    if (m->segment == last)
        return recover_at_mark(w, segs, nsegs, m, err);
    if (m->segment + 1 == last && m->segment >= segs[0])
        return recover_after_mark(w, segs, nsegs, m, err);
    char a[TM_SEG_NAME_LEN];
    return mark_error(w, last, 0, err,
                      "it is the last segment, but the durable mark lies in segment %s (offset "
                      "%" PRIu64 ")",
                      tm_seg_name(m->segment, a), m->offset);
}

/* A journal without segments: a new one (its mark, when kept, is made
 * first), or one whose mark was made before its first segment. */
static int start_new(tm_writer *w, int has_mark, tm_mark *m, tm_error *err)
{
    if (has_mark && (m->segment != 1 || m->offset != TM_SEG_HDR_SIZE)) {
        char a[TM_SEG_NAME_LEN];
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "journal %s has no segments, but its durable mark lies in segment %s "
                      "(offset %" PRIu64 "): its segments were removed; restore them from a "
                      "backup",
                      w->dir, tm_seg_name(m->segment, a), m->offset);
        return -1;
    }
    if (!has_mark && w->opt.keep_mark) {
        *m = (tm_mark){.seq = 1, .segment = 1, .offset = TM_SEG_HDR_SIZE, .time = tm_time_now()};
        if (tm_mark_create(w->dir, m, &w->mark_fd, err) != 0)
            return -1;
    }
    w->durable_seg = 1;
    w->durable_off = TM_SEG_HDR_SIZE;
    return tm_writer_create_segment(w, 1, err);
}

/* A journal written before marks existed gets one where its durable data
 * ends, at the end of its last transaction. */
static int adopt(tm_writer *w, tm_mark *m, tm_error *err)
{
    *m = (tm_mark){.seq = 1,
                   .segment = w->durable_seg,
                   .offset = w->durable_off,
                   .lsn = w->last_end,
                   .time = tm_time_now(),
                   .adopted = true};
    return tm_mark_create(w->dir, m, &w->mark_fd, err);
}

/* The segments of DIR, checked to be contiguous. */
static int list_segments(tm_writer *w, uint64_t **segs, size_t *n, tm_error *err)
{
    if (tm_segment_list(w->dir, segs, n, err) != 0)
        return -1;
    for (size_t i = 1; i < *n; i++) {
        if ((*segs)[i] != (*segs)[i - 1] + 1) {
            char a[TM_SEG_NAME_LEN];
            tm_error_setc(err, TM_ERR_CORRUPT,
                          "journal %s: segment %s is missing (segments must be contiguous); "
                          "run 'tidemark verify --journal %s'",
                          w->dir, tm_seg_name((*segs)[i - 1] + 1, a), w->dir);
            free(*segs);
            return -1;
        }
    }
    return 0;
}

int tm_writer_recover(tm_writer *w, tm_error *err)
{
    tm_mark m;
    int has_mark = tm_mark_read(w->dir, &m, err);
    uint64_t *segs;
    size_t n;
    if (has_mark < 0 || list_segments(w, &segs, &n, err) != 0)
        return -1;
    int rc;
    if (n == 0)
        rc = start_new(w, has_mark, &m, err);
    else if (has_mark)
        rc = recover_with_mark(w, segs, n, &m, err);
    else
        rc = recover_last(w, segs, n, err);
    free(segs);
    if (rc != 0)
        return -1;
    w->durable_commit = w->last_commit;
    w->durable_end = w->last_end;
    if (has_mark && w->mark_fd < 0 && tm_mark_open(w->dir, &w->mark_fd, err) != 0)
        return -1;
    if (!has_mark && n > 0 && w->opt.keep_mark) {
        /* The new segment of a sealed last one must be in the directory
         * before a mark may name it. */
        if (w->dir_dirty && tm_fsync_dir(w->dir, err) != 0)
            return -1;
        w->dir_dirty = false;
        if (adopt(w, &m, err) != 0)
            return -1;
    }
    if (w->mark_fd >= 0)
        w->mark = m;
    return 0;
}
