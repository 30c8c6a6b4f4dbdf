#include "replay/keys/keysum.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/crc32c.h"
#include "store/common/fsutil.h"
#include "store/common/hex.h"
#include "store/common/le.h"
#include "store/journal/segment.h"

#define KS_MAGIC "TMKS"
/* Version 2 hashes unique and foreign-key columns too: a version 1 summary
 * lacks them, so it is stale (rebuilt by the next read), not damaged. */
#define KS_VERSION 2
#define KS_HDR 32
#define KS_FRAME 16
#define KS_MAX_BYTES (1u << 30)

typedef struct ks_frame {
    uint64_t offset;
    uint32_t crc;
    bool fresh;   /* begun since load: hashes owned, maybe unsorted */
    bool dropped; /* its reading did not finish: not saved */
    uint32_t *h;
    size_t n, cap;
} ks_frame;

struct tm_keysum {
    uint64_t segno;
    ks_frame *frames; /* sorted by offset */
    size_t nframes, frames_cap;
    uint32_t *loaded;    /* the hashes of loaded frames (a copy, or in file) */
    unsigned char *file; /* the file as read, owned */
    uint64_t *rels;      /* (oid << 32 | version), sorted */
    size_t nrels, rels_cap;
    size_t last; /* frame of the last tm_keysum_add */
    bool dirty;
};

static char *keys_name(uint64_t segno, char buf[32])
{
    snprintf(buf, 32, "%016llx.keys", (unsigned long long)segno);
    return buf;
}

tm_keysum *tm_keysum_new(uint64_t segno, tm_error *err)
{
    tm_keysum *ks = calloc(1, sizeof *ks);
    if (!ks) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    ks->segno = segno;
    return ks;
}

/* The hashes point into the file as read where its byte order is the
 * host's: a large summary is then not copied once more at every load. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define KS_IN_PLACE 1
#else
#define KS_IN_PLACE 0
#endif

static void free_loaded(tm_keysum *ks)
{
    if (!KS_IN_PLACE)
        free(ks->loaded);
    free(ks->file);
    ks->loaded = NULL;
    ks->file = NULL;
}

void tm_keysum_free(tm_keysum *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; i < ks->nframes; i++)
        if (ks->frames[i].fresh)
            free(ks->frames[i].h);
    free(ks->frames);
    free_loaded(ks);
    free(ks->rels);
    free(ks);
}

uint64_t tm_keysum_segment(const tm_keysum *ks)
{
    return ks->segno;
}

static const char ks_nomem[] = "out of memory reading it";
static const char ks_stale[] = "an older format that lacks the unique and foreign-key columns";

/* Parses a summary file into ks (empty on entry), which takes b: NULL when
 * it is a sound summary of ks->segno, else what is wrong (ks_nomem: out of
 * memory). */
static const char *parse(tm_keysum *ks, unsigned char *b, size_t len)
{
    ks->file = b;
    if (len < KS_HDR + 4 || memcmp(b, KS_MAGIC, 4) != 0)
        return "it is not a key summary (bad magic or too short)";
    if (tm_crc32c(0, b, len - 4) != tm_get32(b + len - 4))
        return "its checksum does not match";
    if (tm_get16(b + 4) == 1)
        return ks_stale;
    if (tm_get16(b + 4) != KS_VERSION)
        return "its format version is not one this tidemark reads";
    if (tm_get64(b + 8) != ks->segno)
        return "it names another segment than its file name";
    uint64_t nf = tm_get32(b + 16), nr = tm_get32(b + 20), nh = tm_get32(b + 24);
    if (KS_HDR + nf * KS_FRAME + nr * 8 + nh * 4 + 4 != len)
        return "its counts do not match its size";
    ks->frames = calloc(nf ? nf : 1, sizeof *ks->frames);
    ks->rels = malloc(nr ? nr * sizeof *ks->rels : 1);
    const unsigned char *fp = b + KS_HDR, *rp = fp + nf * KS_FRAME;
    unsigned char *hp = b + KS_HDR + nf * KS_FRAME + nr * 8;
    if (KS_IN_PLACE) /* 4-aligned: malloc'd, after 32 + 16 * nf + 8 * nr bytes */
        ks->loaded = (uint32_t *)(void *)hp;
    else
        ks->loaded = malloc(nh ? nh * sizeof *ks->loaded : 1);
    if (!ks->frames || !ks->loaded || !ks->rels)
        return ks_nomem;
    ks->frames_cap = nf ? nf : 1;
    ks->rels_cap = nr ? nr : 1;
    for (uint64_t i = 0; i < nh && !KS_IN_PLACE; i++)
        ks->loaded[i] = tm_get32(hp + 4 * i);
    for (uint64_t i = 0; i < nf; i++) {
        ks_frame *f = &ks->frames[i];
        f->offset = tm_get64(fp + i * KS_FRAME);
        f->crc = tm_get32(fp + i * KS_FRAME + 8);
        uint64_t start = tm_get32(fp + i * KS_FRAME + 12);
        uint64_t end = i + 1 < nf ? tm_get32(fp + (i + 1) * KS_FRAME + 12) : nh;
        if (start > end || end > nh || (i > 0 && f->offset <= ks->frames[i - 1].offset))
            return "its frame list is out of order";
        f->h = ks->loaded + start;
        f->n = (size_t)(end - start);
    }
    ks->nframes = (size_t)nf;
    for (uint64_t i = 0; i < nr; i++) {
        ks->rels[i] = tm_get64(rp + 8 * i);
        if (i > 0 && ks->rels[i] <= ks->rels[i - 1])
            return "its relation list is out of order";
    }
    ks->nrels = (size_t)nr;
    return NULL;
}

/* Back to empty after a parse that failed. */
static void clear(tm_keysum *ks)
{
    free(ks->frames);
    free_loaded(ks);
    free(ks->rels);
    ks->frames = NULL;
    ks->rels = NULL;
    ks->nframes = ks->nrels = ks->frames_cap = ks->rels_cap = 0;
}

int tm_keysum_verify(const char *path, tm_vresult *res, tm_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    uint64_t segno;
    unsigned char *b;
    size_t len;
    tm_error rerr;
    res->damaged = true;
    if (!tm_name_numbered(base, ".keys", &segno)) {
        snprintf(res->text, sizeof res->text, "its name is not that of a key summary");
        return 0;
    }
    if (tm_read_file(path, KS_MAX_BYTES, &b, &len, &rerr) != 0) {
        if (tm_error_is(&rerr, TM_ERR_NOMEM)) {
            *err = rerr;
            return -1;
        }
        snprintf(res->text, sizeof res->text, "%s", rerr.msg);
        return 0;
    }
    tm_keysum *ks = tm_keysum_new(segno, err);
    if (!ks)
        free(b);
    const char *why = ks ? parse(ks, b, len) : ks_nomem;
    if (why == ks_nomem) {
        tm_keysum_free(ks);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory checking %s", path);
        return -1;
    }
    if (why == ks_stale) {
        tm_keysum_free(ks);
        res->damaged = false;
        snprintf(res->text, sizeof res->text,
                 "key summary of segment %016llx.seg in %s; rebuilt by the next read",
                 (unsigned long long)segno, ks_stale);
        return 0;
    }
    tm_vresult_judge(res, why, "key summary of segment %016llx.seg, frames=%zu relations=%zu",
                     (unsigned long long)segno, ks->nframes, ks->nrels);
    tm_keysum_free(ks);
    return 0;
}

tm_keysum *tm_keysum_load(const char *dir, uint64_t segno, tm_error *err)
{
    tm_keysum *ks = tm_keysum_new(segno, err);
    if (!ks)
        return NULL;
    char name[32], path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, keys_name(segno, name)) >= (int)sizeof path)
        return ks;
    unsigned char *b;
    size_t len;
    tm_error ignored;
    if (tm_read_file(path, KS_MAX_BYTES, &b, &len, &ignored) != 0)
        return ks; /* absent or unreadable: a cache we do without */
    const char *why = parse(ks, b, len);
    if (why)
        clear(ks); /* damaged or stale: start empty (it is rebuilt by reading) */
    return ks;
}

/* Index of the first frame at or after offset. */
static size_t find_frame(const tm_keysum *ks, uint64_t offset)
{
    size_t lo = 0, hi = ks->nframes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ks->frames[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool tm_keysum_covers(const tm_keysum *ks, uint64_t offset, uint32_t crc, uint32_t *frame)
{
    size_t i = find_frame(ks, offset);
    if (i == ks->nframes || ks->frames[i].offset != offset || ks->frames[i].crc != crc ||
        ks->frames[i].fresh || ks->frames[i].dropped)
        return false;
    *frame = (uint32_t)i;
    return true;
}

bool tm_keysum_has(const tm_keysum *ks, uint32_t frame, uint32_t h)
{
    const ks_frame *f = &ks->frames[frame];
    if (f->fresh) { /* unsorted until saved */
        for (size_t i = 0; i < f->n; i++)
            if (f->h[i] == h)
                return true;
        return false;
    }
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->h[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->n && f->h[lo] == h;
}

static size_t find_rel(const tm_keysum *ks, uint64_t key)
{
    size_t lo = 0, hi = ks->nrels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ks->rels[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool tm_keysum_has_relation(const tm_keysum *ks, uint32_t oid, uint32_t version)
{
    uint64_t key = (uint64_t)oid << 32 | version;
    size_t i = find_rel(ks, key);
    return i < ks->nrels && ks->rels[i] == key;
}

size_t tm_keysum_nrelations(const tm_keysum *ks)
{
    return ks->nrels;
}

void tm_keysum_relation_at(const tm_keysum *ks, size_t i, uint32_t *oid, uint32_t *version)
{
    *oid = (uint32_t)(ks->rels[i] >> 32);
    *version = (uint32_t)ks->rels[i];
}

size_t tm_keysum_nframes(const tm_keysum *ks)
{
    size_t n = 0;
    for (size_t i = 0; i < ks->nframes; i++)
        n += !ks->frames[i].fresh && !ks->frames[i].dropped;
    return n;
}

int tm_keysum_begin_frame(tm_keysum *ks, uint64_t offset, uint32_t crc, tm_error *err)
{
    size_t i = find_frame(ks, offset);
    if (i < ks->nframes && ks->frames[i].offset == offset) {
        ks_frame *f = &ks->frames[i];
        if (f->fresh)
            free(f->h);
        *f = (ks_frame){.offset = offset, .crc = crc, .fresh = true};
    } else {
        ks_frame *v = tm_grow(ks->frames, &ks->frames_cap, ks->nframes, sizeof *v, 64,
                              "building a key summary", err);
        if (!v)
            return -1;
        ks->frames = v;
        memmove(ks->frames + i + 1, ks->frames + i, (ks->nframes - i) * sizeof *ks->frames);
        ks->frames[i] = (ks_frame){.offset = offset, .crc = crc, .fresh = true};
        ks->nframes++;
    }
    ks->last = i;
    ks->dirty = true;
    return 0;
}

void tm_keysum_drop_frame(tm_keysum *ks, uint64_t offset)
{
    size_t i = find_frame(ks, offset);
    if (i < ks->nframes && ks->frames[i].offset == offset && ks->frames[i].fresh)
        ks->frames[i].dropped = true;
}

bool tm_keysum_building(const tm_keysum *ks, uint64_t offset)
{
    size_t i = find_frame(ks, offset);
    return i < ks->nframes && ks->frames[i].offset == offset && ks->frames[i].fresh &&
           !ks->frames[i].dropped;
}

int tm_keysum_add(tm_keysum *ks, uint64_t offset, uint32_t h, tm_error *err)
{
    size_t i = ks->last;
    if (i >= ks->nframes || ks->frames[i].offset != offset) {
        i = find_frame(ks, offset);
        if (i == ks->nframes || ks->frames[i].offset != offset)
            return 0;
        ks->last = i;
    }
    ks_frame *f = &ks->frames[i];
    if (!f->fresh)
        return 0;
    /* Transactions repeat the same keys: skip the most common duplicate. */
    if (f->n && f->h[f->n - 1] == h)
        return 0;
    uint32_t *v = tm_grow(f->h, &f->cap, f->n, sizeof *v, 64, "building a key summary", err);
    if (!v)
        return -1;
    f->h = v;
    f->h[f->n++] = h;
    return 0;
}

int tm_keysum_add_relation(tm_keysum *ks, uint32_t oid, uint32_t version, tm_error *err)
{
    uint64_t key = (uint64_t)oid << 32 | version;
    size_t i = find_rel(ks, key);
    if (i < ks->nrels && ks->rels[i] == key)
        return 0;
    uint64_t *v =
        tm_grow(ks->rels, &ks->rels_cap, ks->nrels, sizeof *v, 16, "building a key summary", err);
    if (!v)
        return -1;
    ks->rels = v;
    memmove(ks->rels + i + 1, ks->rels + i, (ks->nrels - i) * sizeof *ks->rels);
    ks->rels[i] = key;
    ks->nrels++;
    ks->dirty = true;
    return 0;
}

bool tm_keysum_dirty(const tm_keysum *ks)
{
    return ks->dirty;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int tm_keysum_save(tm_keysum *ks, const char *dir, tm_error *err)
{
    size_t nf = 0, nh = 0;
    for (size_t i = 0; i < ks->nframes; i++) {
        ks_frame *f = &ks->frames[i];
        if (f->dropped)
            continue;
        if (f->fresh && f->n > 1) { /* sort and dedup */
            qsort(f->h, f->n, sizeof *f->h, cmp_u32);
            size_t k = 1;
            for (size_t j = 1; j < f->n; j++)
                if (f->h[j] != f->h[k - 1])
                    f->h[k++] = f->h[j];
            f->n = k;
        }
        nf++;
        nh += f->n;
    }
    if (nf > UINT32_MAX || nh > UINT32_MAX || ks->nrels > UINT32_MAX) {
        tm_error_set(err, "key summary of segment %016llx is too large",
                     (unsigned long long)ks->segno);
        return -1;
    }
    size_t len = KS_HDR + nf * KS_FRAME + ks->nrels * 8 + nh * 4 + 4;
    unsigned char *b = malloc(len);
    if (!b) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory saving a key summary");
        return -1;
    }
    memcpy(b, KS_MAGIC, 4);
    tm_put16(b + 4, KS_VERSION);
    tm_put16(b + 6, 0);
    tm_put64(b + 8, ks->segno);
    tm_put32(b + 16, (uint32_t)nf);
    tm_put32(b + 20, (uint32_t)ks->nrels);
    tm_put32(b + 24, (uint32_t)nh);
    tm_put32(b + 28, 0);
    unsigned char *fp = b + KS_HDR, *rp = fp + nf * KS_FRAME, *hp = rp + ks->nrels * 8;
    size_t hi = 0;
    for (size_t i = 0; i < ks->nframes; i++) {
        const ks_frame *f = &ks->frames[i];
        if (f->dropped)
            continue;
        tm_put64(fp, f->offset);
        tm_put32(fp + 8, f->crc);
        tm_put32(fp + 12, (uint32_t)hi);
        fp += KS_FRAME;
        for (size_t j = 0; j < f->n; j++, hi++)
            tm_put32(hp + 4 * hi, f->h[j]);
    }
    for (size_t i = 0; i < ks->nrels; i++)
        tm_put64(rp + 8 * i, ks->rels[i]);
    tm_put32(b + len - 4, tm_crc32c(0, b, len - 4));
    char name[32];
    int rc = tm_write_file_atomic(dir, keys_name(ks->segno, name), b, len, err);
    free(b);
    if (rc == 0)
        ks->dirty = false;
    return rc;
}

/* ---- hashing ------------------------------------------------------------ */

static uint32_t hash_tagged(char tag, uint32_t v)
{
    unsigned char b[5] = {(unsigned char)tag};
    tm_put32(b + 1, v);
    return tm_crc32c(0, b, sizeof b);
}

uint32_t tm_keysum_hash_table(uint32_t oid)
{
    return hash_tagged('T', oid);
}

uint32_t tm_keysum_hash_trunc(uint32_t oid)
{
    return hash_tagged('R', oid);
}

uint32_t tm_keysum_hash_xid(uint32_t xid)
{
    return hash_tagged('X', xid);
}

uint32_t tm_keysum_hash_snapshot(void)
{
    return hash_tagged('S', 0);
}

uint32_t tm_keysum_hash_message(void)
{
    return hash_tagged('M', 0);
}

uint32_t tm_keysum_hash_gap(void)
{
    return hash_tagged('G', 0);
}

uint32_t tm_keysum_hash_column(uint32_t oid, const char *column, const char *canon, size_t len)
{
    /* The column name is NUL-terminated in the hashed bytes, so (name,
     * value) pairs cannot run into each other. */
    uint32_t h = hash_tagged('C', oid);
    h = tm_crc32c(h, column, strlen(column) + 1);
    return tm_crc32c(h, canon, len);
}

uint32_t tm_keysum_hash_row_begin(uint32_t oid)
{
    return hash_tagged('K', oid);
}

uint32_t tm_keysum_hash_row_add(uint32_t h, const char *canon, size_t len)
{
    /* Length first, so that values cannot run into each other. */
    unsigned char n[4];
    tm_put32(n, (uint32_t)len);
    return tm_crc32c(tm_crc32c(h, n, 4), canon, len);
}

/* ---- canonical forms ----------------------------------------------------- */

bool tm_keysum_indexable(tm_tclass cls)
{
    return cls == TM_TC_TEXT || cls == TM_TC_BPCHAR || cls == TM_TC_INT || cls == TM_TC_UUID;
}

bool tm_keysum_canon(tm_tclass cls, const char *p, size_t len, char *buf, const char **out,
                     size_t *outlen)
{
    switch (cls) {
    case TM_TC_TEXT:
        *out = p;
        *outlen = len;
        return true;
    case TM_TC_BPCHAR:
        while (len > 0 && p[len - 1] == ' ')
            len--;
        *out = p;
        *outlen = len;
        return true;
    case TM_TC_INT: {
        size_t i = 0;
        bool neg = false;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            neg = p[i++] == '-';
        if (i == len)
            return false;
        for (size_t k = i; k < len; k++)
            if (p[k] < '0' || p[k] > '9')
                return false;
        while (i + 1 < len && p[i] == '0')
            i++;
        if (len - i == 1 && p[i] == '0')
            neg = false; /* -0 is 0 */
        size_t n = 0;
        if (neg)
            buf[n++] = '-';
        memcpy(buf + n, p + i, len - i);
        *out = buf;
        *outlen = n + len - i;
        return true;
    }
    case TM_TC_UUID: {
        /* PostgreSQL reads hex digits with optional hyphens (after any
         * group of four) and optional braces; the canonical form is the 32
         * digits in lower case. */
        size_t n = 0, i = 0;
        if (len >= 2 && p[0] == '{' && p[len - 1] == '}')
            i = 1, len--;
        for (; i < len; i++) {
            int v = tm_hex_value(p[i]);
            if (v >= 0) {
                if (n == 32)
                    return false;
                buf[n++] = tm_hex_digit((unsigned)v);
            } else if (p[i] != '-') {
                return false;
            }
        }
        if (n != 32)
            return false;
        *out = buf;
        *outlen = 32;
        return true;
    }
    default:
        return false;
    }
}
