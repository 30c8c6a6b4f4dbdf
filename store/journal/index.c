#include "store/journal/seg_index.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/crc32c.h"
#include "store/common/fsutil.h"
#include "store/common/le.h"

#define IDX_MAGIC "TMIX"
#define IDX_VERSION 1
#define IDX_HDR 32
#define IDX_ENTRY (8 + TM_FRAME_HDR_SIZE)
#define IDX_MAX_BYTES (256u << 20)

int tm_index_write(const char *dir, uint64_t segno, uint64_t seg_size, const tm_frame_dir *d,
                   tm_error *err)
{
    size_t len = IDX_HDR + d->n * IDX_ENTRY + 4;
    unsigned char *buf = malloc(len);
    if (!buf) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory writing a segment index");
        return -1;
    }
    memcpy(buf, IDX_MAGIC, 4);
    tm_put16(buf + 4, IDX_VERSION);
    tm_put16(buf + 6, IDX_ENTRY);
    tm_put64(buf + 8, segno);
    tm_put64(buf + 16, seg_size);
    tm_put32(buf + 24, (uint32_t)d->n);
    tm_put32(buf + 28, 0);
    unsigned char *p = buf + IDX_HDR;
    for (size_t i = 0; i < d->n; i++, p += IDX_ENTRY) {
        tm_put64(p, d->v[i].offset);
        tm_frame_hdr_encode(&d->v[i].h, p + 8);
    }
    tm_put32(p, tm_crc32c(0, buf, len - 4));
    char name[TM_SEG_NAME_LEN];
    int rc = tm_write_file_atomic(dir, tm_idx_name(segno, name), buf, len, err);
    free(buf);
    return rc;
}

static int bad(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    return TM_IDX_BAD;
}

/* Reads DIR/NNNN.idx into *buf (malloc'd) and checks what does not depend
 * on the segment: magic, checksum, version, length, segment number. */
static int load_checked(const char *dir, uint64_t segno, unsigned char **buf, size_t *len,
                        char *why, size_t whylen, tm_error *err)
{
    char name[TM_SEG_NAME_LEN], path[PATH_MAX];
    *buf = NULL;
    if (tm_seg_path(dir, tm_idx_name(segno, name), path, sizeof path, err) != 0)
        return -1;
    tm_error rerr;
    if (tm_read_file(path, IDX_MAX_BYTES, buf, len, &rerr) != 0) {
        *buf = NULL;
        if (tm_error_is(&rerr, TM_ERR_NOT_FOUND))
            return TM_IDX_ABSENT;
        if (tm_error_is(&rerr, TM_ERR_FORMAT))
            return bad(why, whylen, "index file is too large");
        if (err)
            *err = rerr;
        return -1;
    }
    const unsigned char *b = *buf;
    if (*len < IDX_HDR + 4 || memcmp(b, IDX_MAGIC, 4) != 0)
        return bad(why, whylen, "not a segment index (bad magic or too short)");
    if (tm_get32(b + *len - 4) != tm_crc32c(0, b, *len - 4))
        return bad(why, whylen, "index checksum mismatch");
    uint32_t n = tm_get32(b + 24);
    if (tm_get16(b + 4) != IDX_VERSION || tm_get16(b + 6) != IDX_ENTRY ||
        (*len - IDX_HDR - 4) % IDX_ENTRY != 0 || (*len - IDX_HDR - 4) / IDX_ENTRY != n)
        return bad(why, whylen, "index has an unknown version or a wrong length");
    if (tm_get64(b + 8) != segno)
        return bad(why, whylen, "index belongs to another segment");
    return TM_IDX_OK;
}

uint64_t tm_index_seg_size(const char *dir, uint64_t segno)
{
    unsigned char *buf;
    size_t len;
    char why[160];
    uint64_t size = 0;
    if (load_checked(dir, segno, &buf, &len, why, sizeof why, NULL) == TM_IDX_OK)
        size = tm_get64(buf + 16);
    free(buf);
    return size;
}

int tm_index_read(const char *dir, uint64_t segno, uint64_t seg_size, tm_frame_dir *out, char *why,
                  size_t whylen, tm_error *err)
{
    out->n = 0;
    unsigned char *buf;
    size_t len;
    int rc = load_checked(dir, segno, &buf, &len, why, whylen, err);
    if (rc != TM_IDX_OK)
        goto out;
    uint32_t n = tm_get32(buf + 24);
    if (tm_get64(buf + 16) != seg_size) {
        snprintf(why, whylen, "index describes %" PRIu64 " segment bytes, the segment has %" PRIu64,
                 tm_get64(buf + 16), seg_size);
        rc = TM_IDX_BAD;
        goto out;
    }
    /* Frames must tile the segment exactly, header to end. */
    uint64_t expect = TM_SEG_HDR_SIZE;
    const unsigned char *p = buf + IDX_HDR;
    for (uint32_t i = 0; i < n; i++, p += IDX_ENTRY) {
        tm_frame_hdr h;
        char w[160];
        if (tm_get64(p) != expect || !tm_frame_hdr_decode(p + 8, &h, w, sizeof w)) {
            snprintf(why, whylen, "index entry %u is inconsistent", i);
            rc = TM_IDX_BAD;
            goto out;
        }
        if (tm_frame_dir_push(out, expect, &h, err) != 0) {
            rc = -1;
            goto out;
        }
        expect += TM_FRAME_HDR_SIZE + h.clen;
    }
    if (expect != seg_size)
        rc = bad(why, whylen, "index frames do not cover the whole segment");
out:
    if (rc != TM_IDX_OK)
        out->n = 0;
    free(buf);
    return rc;
}
