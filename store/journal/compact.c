/* Compaction of sealed segments into zstd frames (the order of the steps,
 * and why, is in compact.h). */
#include "store/journal/compact.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/common/crc32c.h"
#include "store/common/fsutil.h"
#include "store/journal/horizon.h"
#include "store/journal/journal.h"
#include "store/journal/live_index.h"
#include "store/journal/seg_index.h"
#include "store/journal/segment.h"

/* One compaction's buffers, reused from segment to segment. */
typedef struct compactor {
    const char *dir;
    tm_compact_options o;
    tm_zstd_enc *z;
    tm_buf io, raw, acc, comp;
    tm_frame_hdr nh; /* the compacted frame being gathered (acc holds its payload) */
    bool cont_open;  /* every record gathered so far continues an earlier transaction */
    tm_frame_dir out;
    uint32_t *crcs; /* CRC32C of each compacted frame's raw payload, for the read-back */
    size_t ncrcs, capcrcs;
    uint64_t out_off;
    int tfd;
    char tmp[PATH_MAX];
} compactor;

/* Adds old frame h (its raw payload in c->raw) to the frame being gathered. */
static int gather(compactor *c, const tm_frame_hdr *h, tm_error *err)
{
    tm_frame_hdr *n = &c->nh;
    if (c->acc.len == 0) {
        memset(n, 0, sizeof *n);
        c->cont_open = true;
    }
    if (tm_buf_reserve(&c->acc, c->raw.len, err) != 0)
        return -1;
    memcpy(c->acc.p + c->acc.len, c->raw.p, c->raw.len);
    c->acc.len += c->raw.len;
    if (c->cont_open) {
        n->cont_records += h->cont_records;
        c->cont_open = h->cont_records == h->n_records;
    }
    n->n_records += h->n_records;
    if (h->flags & TM_FRAME_HAS_TX) {
        if (!(n->flags & TM_FRAME_HAS_TX)) {
            n->first_lsn = h->first_lsn;
            n->last_lsn = h->last_lsn;
            n->min_time = h->min_time;
            n->max_time = h->max_time;
        } else {
            n->first_lsn = h->first_lsn < n->first_lsn ? h->first_lsn : n->first_lsn;
            n->last_lsn = h->last_lsn > n->last_lsn ? h->last_lsn : n->last_lsn;
            n->min_time = h->min_time < n->min_time ? h->min_time : n->min_time;
            n->max_time = h->max_time > n->max_time ? h->max_time : n->max_time;
        }
        n->end_lsn = h->end_lsn; /* of the last transaction with a record in it */
    }
    /* The flags of the merged frames, codec aside; TX_END is the last one's. */
    uint16_t keep = (uint16_t)(h->flags & ~(TM_FRAME_CODEC_MASK | TM_FRAME_TX_END));
    n->flags = (uint16_t)((n->flags & ~TM_FRAME_TX_END) | keep | (h->flags & TM_FRAME_TX_END));
    return 0;
}

/* Compresses and appends the gathered frame to the temporary segment. */
static int flush(compactor *c, tm_error *err)
{
    if (c->acc.len == 0)
        return 0;
    if (tm_frame_compress_zstd(c->z, c->acc.p, c->acc.len, &c->comp, err) != 0)
        return -1;
    tm_frame_hdr *n = &c->nh;
    n->version = TM_FRAME_VERSION_CODEC;
    n->flags = (uint16_t)((n->flags & ~TM_FRAME_CODEC_MASK) | TM_FRAME_CODEC_ZSTD);
    n->raw_len = (uint32_t)c->acc.len;
    n->clen = (uint32_t)c->comp.len;
    n->payload_crc = tm_crc32c(0, c->comp.p, c->comp.len);
    unsigned char hb[TM_FRAME_HDR_SIZE];
    tm_frame_hdr_encode(n, hb);
    if (tm_pwrite2_full(c->tfd, hb, sizeof hb, c->comp.p, c->comp.len, c->out_off, c->tmp, err) !=
            0 ||
        tm_frame_dir_push(&c->out, c->out_off, n, err) != 0)
        return -1;
    if (c->ncrcs == c->capcrcs) {
        size_t cap = c->capcrcs ? 2 * c->capcrcs : 64;
        uint32_t *p = realloc(c->crcs, cap * sizeof *p);
        if (!p) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory compacting a segment");
            return -1;
        }
        c->crcs = p;
        c->capcrcs = cap;
    }
    c->crcs[c->ncrcs++] = tm_crc32c(0, c->acc.p, c->acc.len);
    c->out_off += TM_FRAME_HDR_SIZE + c->comp.len;
    c->acc.len = 0;
    return 0;
}

static int corrupt(const char *path, uint64_t off, const char *why, tm_error *err)
{
    tm_error_setc(err, TM_ERR_CORRUPT,
                  "segment %s is damaged at offset %" PRIu64
                  ": %s; it was not compacted: run 'tidemark verify'",
                  path, off, why);
    tm_error_at(err, path, off);
    return -1;
}

/* Reads the temporary segment back: every frame whole, decoding to the
 * bytes that went in. */
static int read_back(compactor *c, tm_error *err)
{
    char why[256];
    for (size_t i = 0; i < c->out.n; i++) {
        const tm_frame_entry *e = &c->out.v[i];
        tm_frame_hdr h;
        int rc = tm_frame_read(c->tfd, e->offset, &e->h, &h, &c->io, &c->raw, why, sizeof why, err);
        if (rc < 0)
            return -1;
        if (rc == 0 && tm_crc32c(0, c->raw.p, c->raw.len) != c->crcs[i])
            snprintf(why, sizeof why, "it decodes to other bytes than were written");
        if (rc != 0 || tm_crc32c(0, c->raw.p, c->raw.len) != c->crcs[i]) {
            tm_error_setc(err, TM_ERR_IO,
                          "the compacted copy %s does not read back at offset %" PRIu64
                          " (%s); the segment was left as it was",
                          c->tmp, e->offset, why);
            return -1;
        }
    }
    return 0;
}

static int remove_file(const char *dir, const char *name, tm_error *err)
{
    char path[PATH_MAX];
    if (tm_seg_path(dir, name, path, sizeof path, err) != 0)
        return -1;
    if (unlink(path) != 0 && errno != ENOENT) {
        tm_error_errno(err, "cannot remove %s", path);
        return -1;
    }
    return 0;
}

/* Writes the compacted copy of the segment open as fd, with frames d, to
 * c->tmp, fsyncs and reads it back. */
static int write_copy(compactor *c, int fd, const char *path, const tm_frame_dir *d, tm_error *err)
{
    unsigned char sh[TM_SEG_HDR_SIZE];
    ssize_t r = tm_pread_full(fd, sh, sizeof sh, 0, path, err);
    if (r < 0)
        return -1;
    if (r < TM_SEG_HDR_SIZE)
        return corrupt(path, 0, "segment header cut short", err);
    c->tfd = open(c->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, TM_FILE_MODE);
    if (c->tfd < 0) {
        tm_error_errno(err, "cannot create %s", c->tmp);
        return -1;
    }
    if (tm_pwrite_full(c->tfd, sh, sizeof sh, 0, c->tmp, err) != 0)
        return -1;
    c->out_off = TM_SEG_HDR_SIZE;
    c->out.n = 0;
    c->ncrcs = 0;
    c->acc.len = 0;
    char why[256];
    for (size_t i = 0; i < d->n; i++) {
        const tm_frame_entry *e = &d->v[i];
        tm_frame_hdr h;
        int rc = tm_frame_read(fd, e->offset, &e->h, &h, &c->io, &c->raw, why, sizeof why, err);
        if (rc < 0)
            return -1;
        if (rc == 1)
            return corrupt(path, e->offset, why, err);
        /* Cut before a frame that would take the payload past the limit. */
        if (c->acc.len > 0 && c->acc.len + c->raw.len > TM_FRAME_MAX_RAW && flush(c, err) != 0)
            return -1;
        if (gather(c, &h, err) != 0)
            return -1;
        /* Cut at the target where a transaction ends (a reader seeking to a
         * frame then starts cleanly), or anywhere once far past it. */
        bool full = c->acc.len >= c->o.frame_target;
        if (full &&
            ((h.flags & TM_FRAME_TX_END) || c->acc.len >= 4 * (uint64_t)c->o.frame_target) &&
            flush(c, err) != 0)
            return -1;
    }
    if (flush(c, err) != 0 || tm_fsync_fd(c->tfd, c->tmp, err) != 0)
        return -1;
    return read_back(c, err);
}

static bool all_zstd(const tm_frame_dir *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (tm_frame_codec(&d->v[i].h) != TM_FRAME_CODEC_ZSTD)
            return false;
    return d->n > 0;
}

static int compact_segment(compactor *c, uint64_t segno, tm_compact_stats *st, tm_error *err)
{
    char name[TM_SEG_NAME_LEN], iname[TM_SEG_NAME_LEN], kname[32], lname[TM_LIDX_NAME_LEN];
    char path[PATH_MAX], why[256];
    tm_seg_name(segno, name);
    tm_idx_name(segno, iname);
    snprintf(kname, sizeof kname, "%016" PRIx64 ".keys", segno);
    tm_lidx_name(segno, lname);
    if (tm_seg_path(c->dir, name, path, sizeof path, err) != 0)
        return -1;
    if ((size_t)snprintf(c->tmp, sizeof c->tmp, "%s.tmp", path) >= sizeof c->tmp) {
        tm_error_set(err, "path %s.tmp is too long", path);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        tm_error_errno(err, "cannot open segment %s", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint64_t size = (uint64_t)sb.st_size;
    tm_frame_dir d = {0};
    int rc = -1;
    c->tfd = -1;
    int ir = tm_index_read(c->dir, segno, size, &d, why, sizeof why, err);
    if (ir < 0)
        goto out;
    if (ir == TM_IDX_BAD) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the index of segment %s is damaged (%s); it was not compacted: run "
                      "'tidemark verify'",
                      path, why);
        tm_error_in(err, path);
        goto out;
    }
    if (ir == TM_IDX_ABSENT) {
        /* A compaction stopped between its steps 2 and 4: find the frames. */
        tm_seg_scan sc;
        if (tm_segment_scan(fd, segno, false, &sc, err) != 0) {
            tm_seg_scan_free(&sc);
            goto out;
        }
        bool bad = sc.damaged || !sc.hdr_ok;
        if (bad)
            corrupt(path, sc.bad_offset, sc.why, err);
        d = sc.frames;
        sc.frames = (tm_frame_dir){0};
        tm_seg_scan_free(&sc);
        if (bad)
            goto out;
    }
    if (all_zstd(&d)) {
        st->already++;
        rc = ir == TM_IDX_ABSENT ? tm_index_write(c->dir, segno, size, &d, err) : 0;
        goto out;
    }
    if (d.n == 0) { /* nothing to recompress */
        rc = 0;
        goto out;
    }
    if (write_copy(c, fd, path, &d, err) != 0)
        goto out;
    /* Steps 2-5 (compact.h). */
    if ((ir == TM_IDX_OK &&
         (remove_file(c->dir, iname, err) != 0 || tm_fsync_dir(c->dir, err) != 0)))
        goto out;
    if (rename(c->tmp, path) != 0) {
        tm_error_errno(err, "cannot rename %s to %s", c->tmp, path);
        goto out;
    }
    c->tmp[0] = '\0'; /* nothing to remove now */
    if (tm_fsync_dir(c->dir, err) != 0 ||
        tm_index_write(c->dir, segno, c->out_off, &c->out, err) != 0 ||
        remove_file(c->dir, kname, err) != 0 || remove_file(c->dir, lname, err) != 0)
        goto out;
    st->segments++;
    st->bytes_before += size;
    st->bytes_after += c->out_off;
    st->frames_before += d.n;
    st->frames_after += c->out.n;
    for (size_t i = 0; i < c->out.n; i++)
        st->raw_bytes += c->out.v[i].h.raw_len;
    rc = 0;
out:
    if (c->tfd >= 0)
        close(c->tfd);
    c->tfd = -1;
    if (c->tmp[0] && rc != 0)
        unlink(c->tmp); /* a copy that did not make it: leave the journal as it was */
    close(fd);
    tm_frame_dir_free(&d);
    return rc;
}

/* DIR/compact.lock, held for the whole run. */
static int lock_journal(const char *dir, int *fd, tm_error *err)
{
    char path[PATH_MAX];
    if (tm_seg_path(dir, TM_COMPACT_LOCK, path, sizeof path, err) != 0)
        return -1;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, TM_FILE_MODE);
    if (*fd < 0) {
        tm_error_errno(err, "cannot open %s", path);
        return -1;
    }
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            tm_error_setc(err, TM_ERR_CONFLICT, "another compaction of journal %s is running", dir);
        else
            tm_error_errno(err, "cannot lock %s", path);
        tm_error_in(err, path);
        close(*fd);
        *fd = -1;
        return -1;
    }
    return 0;
}

int tm_compact_journal(const char *dir, const tm_compact_options *o, tm_compact_stats *st,
                       tm_error *err)
{
    memset(st, 0, sizeof *st);
    compactor c = {.dir = dir, .tfd = -1};
    if (o)
        c.o = *o;
    if (c.o.level == 0)
        c.o.level = TM_COMPACT_LEVEL;
    if (c.o.frame_target == 0)
        c.o.frame_target = TM_COMPACT_FRAME;
    tm_meta meta;
    if (tm_meta_read(dir, &meta, err) != 0)
        return -1;
    int lock_fd;
    if (lock_journal(dir, &lock_fd, err) != 0)
        return -1;
    uint64_t *segs = NULL;
    size_t n = 0;
    int rc = -1;
    tm_mark m;
    tm_horizon h;
    int has_mark = tm_mark_read(dir, &m, err);
    int has_horizon = has_mark < 0 ? -1 : tm_horizon_read(dir, &h, err);
    if (has_horizon < 0 || tm_segment_list(dir, &segs, &n, err) != 0)
        goto out;
    c.z = tm_zstd_enc_new(c.o.level, err);
    if (!c.z)
        goto out;
    rc = 0;
    for (size_t i = 0; i + 1 < n && rc == 0; i++) {
        if (has_mark == 1 && segs[i] >= m.segment)
            break;
        if (has_horizon == 1 && segs[i] < h.first_segment)
            continue;
        rc = compact_segment(&c, segs[i], st, err);
    }
out:
    tm_zstd_enc_free(c.z);
    tm_buf_free(&c.io);
    tm_buf_free(&c.raw);
    tm_buf_free(&c.acc);
    tm_buf_free(&c.comp);
    tm_frame_dir_free(&c.out);
    free(c.crcs);
    free(segs);
    close(lock_fd);
    return rc;
}
