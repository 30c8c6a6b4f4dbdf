#include "store/journal/segment.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/common/crc32c.h"
#include "store/common/filehdr.h"
#include "store/common/le.h"

static const tm_filehdr_kind seg_kind = {
    TM_SEG_MAGIC,
    TM_SEG_VERSION,
    TM_SEG_HDR_SIZE,
    {"not a segment header (bad magic)", "segment header checksum mismatch", "segment"}};

void tm_seg_hdr_encode(const tm_seg_hdr *h, unsigned char out[TM_SEG_HDR_SIZE])
{
    tm_filehdr_start(out, &seg_kind);
    tm_put64(out + 8, h->segno);
    tm_put64(out + 16, (uint64_t)h->created);
    tm_filehdr_seal(out, &seg_kind);
}

bool tm_seg_hdr_decode(const unsigned char in[TM_SEG_HDR_SIZE], tm_seg_hdr *h, char *why,
                       size_t whylen)
{
    if (!tm_filehdr_check(in, &seg_kind, why, whylen))
        return false;
    h->segno = tm_get64(in + 8);
    h->created = (int64_t)tm_get64(in + 16);
    return true;
}

char *tm_seg_name(uint64_t segno, char buf[TM_SEG_NAME_LEN])
{
    snprintf(buf, TM_SEG_NAME_LEN, "%016" PRIx64 ".seg", segno);
    return buf;
}

char *tm_idx_name(uint64_t segno, char buf[TM_SEG_NAME_LEN])
{
    snprintf(buf, TM_SEG_NAME_LEN, "%016" PRIx64 ".idx", segno);
    return buf;
}

int tm_seg_path(const char *dir, const char *name, char *buf, size_t len, tm_error *err)
{
    if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) {
        tm_error_set(err, "path %s/%s is too long", dir, name);
        return -1;
    }
    return 0;
}

bool tm_name_stream_spool(const char *name)
{
    if (strncmp(name, "stream-", 7) != 0)
        return false;
    size_t digits = strspn(name + 7, "0123456789");
    return digits > 0 && digits <= 10 && !strcmp(name + 7 + digits, ".spool");
}

bool tm_name_numbered(const char *name, const char *suffix, uint64_t *n)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return false;
    }
    if (strcmp(name + 16, suffix) != 0)
        return false;
    if (n)
        *n = v;
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int tm_segment_list(const char *dir, uint64_t **segs, size_t *n, tm_error *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        tm_error_errno(err, "cannot read journal directory %s", dir);
        return -1;
    }
    uint64_t *v = NULL;
    size_t len = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t s;
        if (!tm_name_numbered(de->d_name, ".seg", &s))
            continue;
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                free(v);
                closedir(d);
                tm_error_setc(err, TM_ERR_NOMEM, "out of memory listing %s", dir);
                return -1;
            }
            v = nv;
            cap = nc;
        }
        v[len++] = s;
    }
    closedir(d);
    if (len > 1)
        qsort(v, len, sizeof *v, cmp_u64);
    *segs = v;
    *n = len;
    return 0;
}

int tm_frame_dir_push(tm_frame_dir *d, uint64_t offset, const tm_frame_hdr *h, tm_error *err)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 64;
        tm_frame_entry *nv = realloc(d->v, nc * sizeof *nv);
        if (!nv) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory growing a frame directory");
            return -1;
        }
        d->v = nv;
        d->cap = nc;
    }
    d->v[d->n].offset = offset;
    d->v[d->n].h = *h;
    d->n++;
    return 0;
}

void tm_frame_dir_free(tm_frame_dir *d)
{
    free(d->v);
    memset(d, 0, sizeof *d);
}

void tm_seg_scan_free(tm_seg_scan *s)
{
    tm_frame_dir_free(&s->frames);
}

int tm_segment_valid_header_after(int fd, uint64_t from, uint64_t size, bool *found, tm_error *err)
{
    /* Chunks overlap by a header so that none straddling a boundary is missed. */
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory scanning a segment");
        return -1;
    }
    *found = false;
    for (uint64_t pos = from + 1; pos + TM_FRAME_HDR_SIZE <= size && !*found;) {
        ssize_t r = tm_pread_full(fd, buf, CHUNK, pos, "segment", err);
        if (r < 0) {
            free(buf);
            return -1;
        }
        if (r < TM_FRAME_HDR_SIZE)
            break;
        size_t last = (size_t)r - TM_FRAME_HDR_SIZE;
        for (size_t i = 0; i <= last; i++) {
            unsigned char *p = memchr(buf + i, TM_FRAME_MAGIC[0], last + 1 - i);
            if (!p)
                break;
            i = (size_t)(p - buf);
            tm_frame_hdr h;
            char why[128];
            if (tm_frame_has_magic(p) && tm_frame_hdr_decode(p, &h, why, sizeof why)) {
                *found = true;
                break;
            }
        }
        pos += last + 1;
    }
    free(buf);
    return 0;
}

static int damage(tm_seg_scan *s, int fd, uint64_t off, tm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int damage(tm_seg_scan *s, int fd, uint64_t off, tm_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    s->damaged = true;
    s->bad_offset = off;
    bool found;
    if (tm_segment_valid_header_after(fd, off, s->file_size, &found, err) != 0)
        return -1;
    s->tail = !found;
    return 0;
}

int tm_segment_scan(int fd, uint64_t segno, bool check_payloads, tm_seg_scan *s, tm_error *err)
{
    tm_frame_dir none = {0};
    return tm_segment_scan_after(fd, segno, check_payloads, &none, s, err);
}

int tm_segment_scan_after(int fd, uint64_t segno, bool check_payloads, tm_frame_dir *known,
                          tm_seg_scan *s, tm_error *err)
{
    memset(s, 0, sizeof *s);
    /* Kept (emptied) whatever the header says: the caller frees s. */
    s->frames = *known;
    *known = (tm_frame_dir){0};
    size_t nknown = check_payloads ? 0 : s->frames.n;
    s->frames.n = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        tm_error_errno(err, "cannot stat segment");
        return -1;
    }
    s->file_size = (uint64_t)st.st_size;

    unsigned char hb[TM_FRAME_HDR_SIZE];
    ssize_t r = tm_pread_full(fd, hb, TM_SEG_HDR_SIZE, 0, "segment header", err);
    if (r < 0)
        return -1;
    if (r < TM_SEG_HDR_SIZE)
        return damage(s, fd, 0, err, "segment header cut short (%zd of %d bytes)", r,
                      TM_SEG_HDR_SIZE);
    char why[200];
    if (!tm_seg_hdr_decode(hb, &s->hdr, why, sizeof why))
        return damage(s, fd, 0, err, "%s", why);
    if (s->hdr.segno != segno) {
        s->damaged = true; /* a valid header of another segment: never a torn tail */
        snprintf(s->why, sizeof s->why, "segment header says segment %016" PRIx64, s->hdr.segno);
        return 0;
    }
    s->hdr_ok = true;
    s->good_end = s->safe_end = TM_SEG_HDR_SIZE;
    /* Frames vouched for by a live index: taken as read (the payload check,
     * for recovery and verify, never passes any). */
    s->frames.n = nknown;
    for (size_t i = 0; i < s->frames.n; i++) {
        s->good_end = tm_frame_end(&s->frames.v[i]);
        if (s->frames.v[i].h.flags & TM_FRAME_TX_END) {
            s->n_safe = i + 1;
            s->safe_end = s->good_end;
        }
    }

    tm_buf io = {0};
    uint64_t off = s->good_end;
    int rc = 0;
    while (off < s->file_size) {
        tm_frame_hdr h;
        r = tm_pread_full(fd, hb, TM_FRAME_HDR_SIZE, off, "segment", err);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r < TM_FRAME_HDR_SIZE) {
            rc = damage(s, fd, off, err, "frame header cut short (%zd of %d bytes)", r,
                        TM_FRAME_HDR_SIZE);
            break;
        }
        if (!tm_frame_hdr_decode(hb, &h, why, sizeof why)) {
            rc = damage(s, fd, off, err, "%s", why);
            break;
        }
        uint64_t end = off + TM_FRAME_HDR_SIZE + h.clen;
        if (end > s->file_size) {
            rc = damage(s, fd, off, err, "frame payload cut short (%" PRIu64 " of %u bytes)",
                        s->file_size - off - TM_FRAME_HDR_SIZE, h.clen);
            break;
        }
        if (check_payloads) {
            /* A CRC check only: decoding is the business of whoever reads. */
            io.len = 0;
            if (tm_buf_reserve(&io, h.clen, err) != 0 ||
                (r = tm_pread_full(fd, io.p, h.clen, off + TM_FRAME_HDR_SIZE, "segment", err)) <
                    0) {
                rc = -1;
                break;
            }
            if ((size_t)r < h.clen) { /* the file shrank under us */
                rc = damage(s, fd, off, err, "frame payload cut short");
                break;
            }
            if (tm_crc32c(0, io.p, h.clen) != h.payload_crc) {
                rc = damage(s, fd, off, err, "frame payload checksum mismatch");
                break;
            }
        }
        if (tm_frame_dir_push(&s->frames, off, &h, err) != 0) {
            rc = -1;
            break;
        }
        off = s->good_end = end;
        if (h.flags & TM_FRAME_TX_END) {
            s->n_safe = s->frames.n;
            s->safe_end = end;
        }
    }
    tm_buf_free(&io);
    return rc;
}
