#include "store/journal/live_index.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/common/crc32c.h"
#include "store/common/le.h"
#include "store/common/log.h"

#define LX_MAGIC "TMLX"
#define LX_VERSION 1
#define LX_HDR 32
#define LX_ENTRY (8 + TM_FRAME_HDR_SIZE + 4)
#define LX_MAX_BYTES (256u << 20)

char *tm_lidx_name(uint64_t segno, char buf[TM_LIDX_NAME_LEN])
{
    snprintf(buf, TM_LIDX_NAME_LEN, "%016" PRIx64 ".lidx", segno);
    return buf;
}

static void put_entry(unsigned char *p, const tm_frame_entry *e)
{
    tm_put64(p, e->offset);
    tm_frame_hdr_encode(&e->h, p + 8);
    tm_put32(p + 8 + TM_FRAME_HDR_SIZE, tm_crc32c(0, p, 8 + TM_FRAME_HDR_SIZE));
}

/* The entries of d from `from` on, into li->buf. */
static int encode_entries(tm_lidx *li, const tm_frame_dir *d, size_t from, tm_error *err)
{
    size_t k = d->n - from;
    if (tm_buf_reserve(&li->buf, k * LX_ENTRY, err) != 0)
        return -1;
    for (size_t i = 0; i < k; i++)
        put_entry(li->buf.p + li->buf.len + i * LX_ENTRY, &d->v[from + i]);
    li->buf.len += k * LX_ENTRY;
    return 0;
}

int tm_lidx_start(tm_lidx *li, const char *dir, uint64_t segno, int64_t created,
                  const tm_frame_dir *d, tm_error *err)
{
    tm_lidx_stop(li, dir, false);
    li->buf.len = 0;
    if (tm_buf_reserve(&li->buf, LX_HDR, err) != 0)
        return -1;
    unsigned char *h = li->buf.p;
    memcpy(h, LX_MAGIC, 4);
    tm_put16(h + 4, LX_VERSION);
    tm_put16(h + 6, LX_ENTRY);
    tm_put64(h + 8, segno);
    tm_put64(h + 16, (uint64_t)created);
    tm_put32(h + 24, 0);
    tm_put32(h + 28, tm_crc32c(0, h, 28));
    li->buf.len = LX_HDR;
    char name[TM_LIDX_NAME_LEN], path[PATH_MAX];
    if (encode_entries(li, d, 0, err) != 0 ||
        tm_write_file_atomic(dir, tm_lidx_name(segno, name), li->buf.p, li->buf.len, err) != 0 ||
        tm_seg_path(dir, name, path, sizeof path, err) != 0)
        return -1;
    li->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (li->fd < 0) {
        tm_error_errno(err, "cannot open %s", path);
        return -1;
    }
    li->segno = segno;
    li->active = true;
    li->n = d->n;
    return 0;
}

void tm_lidx_append(tm_lidx *li, const tm_frame_dir *d)
{
    if (li->fd < 0 || d->n <= li->n)
        return;
    tm_error ignored;
    li->buf.len = 0;
    errno = 0;
    if (encode_entries(li, d, li->n, &ignored) != 0 ||
        write(li->fd, li->buf.p, li->buf.len) != (ssize_t)li->buf.len) {
        /* Whatever got out is checked by readers; nothing more is added.
         * Capture goes on (the index only saves readers time), but a
         * failing disk is said. */
        char name[TM_LIDX_NAME_LEN];
        tm_log_warning("cannot write the live index %s (%s): readers scan the rest of segment "
                       "%016" PRIx64 "; the next segment gets a new one",
                       tm_lidx_name(li->segno, name), errno ? strerror(errno) : "short write",
                       li->segno);
        close(li->fd);
        li->fd = -1;
        return;
    }
    li->n = d->n;
}

void tm_lidx_stop(tm_lidx *li, const char *dir, bool remove)
{
    if (li->fd >= 0)
        close(li->fd);
    li->fd = -1;
    if (remove && li->active) {
        char name[TM_LIDX_NAME_LEN], path[PATH_MAX];
        tm_error ignored;
        /* best effort: a leftover is never used beside a sealed index, and
         * the next open removes it */
        if (tm_seg_path(dir, tm_lidx_name(li->segno, name), path, sizeof path, &ignored) == 0)
            (void)unlink(path);
    }
    li->active = false;
    li->n = 0;
    tm_buf_free(&li->buf);
}

/* Whether the segment's header names segno and created. */
static int header_matches(int fd, uint64_t segno, int64_t created, bool *ok, tm_error *err)
{
    unsigned char hb[TM_SEG_HDR_SIZE];
    *ok = false;
    ssize_t r = tm_pread_full(fd, hb, sizeof hb, 0, "segment header", err);
    if (r < 0)
        return -1;
    tm_seg_hdr sh;
    char why[160];
    *ok = r == TM_SEG_HDR_SIZE && tm_seg_hdr_decode(hb, &sh, why, sizeof why) &&
          sh.segno == segno && sh.created == created;
    return 0;
}

int tm_lidx_load(const char *dir, uint64_t segno, int seg_fd, uint64_t seg_size, tm_frame_dir *out,
                 tm_error *err)
{
    out->n = 0;
    char name[TM_LIDX_NAME_LEN], path[PATH_MAX];
    unsigned char *b;
    size_t len;
    tm_error rerr;
    if (tm_seg_path(dir, tm_lidx_name(segno, name), path, sizeof path, &rerr) != 0 ||
        tm_read_file(path, LX_MAX_BYTES, &b, &len, &rerr) != 0) {
        if (tm_error_is(&rerr, TM_ERR_NOMEM)) {
            *err = rerr;
            return -1;
        }
        return 0; /* absent or unreadable: scan */
    }
    int rc = 0;
    bool ok = len >= LX_HDR && memcmp(b, LX_MAGIC, 4) == 0 && tm_get16(b + 4) == LX_VERSION &&
              tm_get16(b + 6) == LX_ENTRY && tm_get64(b + 8) == segno &&
              tm_get32(b + 28) == tm_crc32c(0, b, 28);
    if (ok && (rc = header_matches(seg_fd, segno, (int64_t)tm_get64(b + 16), &ok, err)) != 0)
        goto out;
    /* Entries while they check out and tile the segment from its header on. */
    uint64_t expect = TM_SEG_HDR_SIZE;
    const unsigned char *last = NULL;
    for (size_t at = LX_HDR; ok && at + LX_ENTRY <= len; at += LX_ENTRY) {
        const unsigned char *p = b + at;
        tm_frame_hdr h;
        char why[160];
        if (tm_get32(p + 8 + TM_FRAME_HDR_SIZE) != tm_crc32c(0, p, 8 + TM_FRAME_HDR_SIZE) ||
            tm_get64(p) != expect || !tm_frame_hdr_decode(p + 8, &h, why, sizeof why) ||
            expect + TM_FRAME_HDR_SIZE + h.clen > seg_size)
            break;
        if ((rc = tm_frame_dir_push(out, expect, &h, err)) != 0)
            goto out;
        expect += TM_FRAME_HDR_SIZE + h.clen;
        last = p + 8;
    }
    /* The last frame used must be on disk as described: a file that
     * outlived a cut and rewrite of the segment is not used at all. */
    if (ok && out->n > 0) {
        const tm_frame_entry *e = &out->v[out->n - 1];
        unsigned char disk[TM_FRAME_HDR_SIZE];
        ssize_t r = tm_pread_full(seg_fd, disk, sizeof disk, e->offset, "segment", err);
        if (r < 0) {
            rc = -1;
            goto out;
        }
        ok = r == TM_FRAME_HDR_SIZE && memcmp(disk, last, sizeof disk) == 0;
    }
    if (!ok)
        out->n = 0;
    rc = (int)out->n;
out:
    if (rc < 0)
        out->n = 0;
    free(b);
    return rc;
}
