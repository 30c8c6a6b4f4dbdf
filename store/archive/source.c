/* An archived journal read in place: see source.h. */
#include "store/archive/source.h"

#include "store/archive/push.h"
#include "store/archive/s3.h"
#include "store/archive/sealed.h"
#include "store/common/fsutil.h"
#include "store/common/jsource.h"
#include "store/common/le.h"
#include "store/common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Fetched in blocks; reading on in order doubles the readahead up to RA_MAX
 * blocks, so a segment read whole costs a few requests, one frame a few
 * blocks. */
#define BLK (128u * 1024)
#define RA_MAX 64u
#define HAVE_MAGIC "TMCH"

/* A file of the archive opened by a reader. */
typedef struct rfile {
    const tm_archive_file *af;
    uint64_t size; /* of the file (a sealed object's plaintext is shorter) */
    size_t nblocks;
    unsigned char *have; /* a bit per block held */
    size_t next;         /* the block after the last fetch: in-order reading */
    size_t ra;           /* blocks the next in-order fetch takes */
} rfile;

static struct {
    tm_s3 *s3;
    char root[1100];   /* "s3://BUCKET/PREFIX", no trailing slash */
    char prefix[1024]; /* key prefix, "" or with a trailing slash */
    const char *cache;
    char cache_buf[4096];
    tm_keyring *kr; /* NULL: no key file (sealed objects cannot be read) */
    tm_archive_state man;
    rfile **fds;
    size_t nfds;
    tm_archive_source_stats stats;
} src;

/* Collapses repeated slashes after the scheme and drops trailing ones. */
static void norm(const char *path, char *out, size_t len)
{
    size_t o = 0;
    const char *p = path;
    if (strncmp(p, "s3://", 5) == 0) {
        memcpy(out, p, 5);
        o = 5;
        p += 5;
    }
    for (; *p && o + 1 < len; p++)
        if (!(*p == '/' && o > 0 && out[o - 1] == '/'))
            out[o++] = *p;
    while (o > 5 && out[o - 1] == '/')
        o--;
    out[o] = '\0';
}

/* The name under the root ("" for the root itself), or NULL when path is
 * not in this archive. */
static const char *name_of(const char *path, char *buf, size_t len)
{
    norm(path, buf, len);
    size_t r = strlen(src.root);
    if (strncmp(buf, src.root, r) != 0)
        return NULL;
    if (buf[r] == '\0')
        return buf + r;
    return buf[r] == '/' ? buf + r + 1 : NULL;
}

static const tm_archive_file *lookup(const char *name)
{
    for (size_t i = 0; i < src.man.n_files; i++)
        if (strcmp(src.man.files[i].name, name) == 0)
            return &src.man.files[i];
    return NULL;
}

/* Every object body the readers get comes through here: bytes [off,
 * off+len) of f appended to out, or the whole object when whole (then
 * checked against the manifest's size and SHA-256). */
static int fetch(const tm_archive_file *f, bool whole, uint64_t off, uint64_t len, tm_buf *out,
                 tm_error *err)
{
    char key[1200];
    snprintf(key, sizeof key, "%s%s", src.prefix, f->name);
    size_t start = out->len;
    src.stats.requests++;
    tm_s3_object info;
    if (tm_s3_get(src.s3, key, whole ? 0 : off, whole ? 0 : len, out, &info, err) < 0)
        return -1;
    size_t got = out->len - start;
    src.stats.bytes += got;
    bool bad = whole ? got != f->size : got != len;
    char sha[65] = "";
    if (!bad && whole) {
        tm_sha256_hex(out->p + start, got, sha);
        bad = strcmp(sha, f->sha256) != 0;
    }
    if (bad) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "archived file %s/%s is damaged: %zu bytes came back%s%s; run 'tidemark "
                      "archive --check'",
                      src.root, f->name, got, sha[0] ? ", SHA-256 " : "", sha);
        return -1;
    }
    if (!whole)
        return 0;
    /* Sealed objects are opened here (plain ones are left as they are). */
    char url[1300];
    snprintf(url, sizeof url, "%s/%s", src.root, f->name);
    tm_buf body = {.p = out->p + start, .len = got, .cap = out->cap - start};
    if (tm_archive_decrypt(src.kr, f->name, url, &body, &info, err) < 0)
        return -1;
    out->len = start + body.len;
    return 0;
}

static bool has(const rfile *r, size_t b)
{
    return r->have[b / 8] & (1u << (b % 8));
}

static void cache_names(const rfile *r, char *data, char *have, size_t len)
{
    snprintf(data, len, "%s/%s.data", src.cache, r->af->sha256);
    snprintf(have, len, "%s.have", r->af->sha256);
}

/* The blocks a cache file holds: header "TMCH" + u64 size, then the bits. */
static void cache_load(rfile *r)
{
    char path[4096], data[4096], have[200];
    cache_names(r, data, have, sizeof have);
    snprintf(path, sizeof path, "%s/%s", src.cache, have);
    unsigned char *b;
    size_t len, bits = (r->nblocks + 7) / 8;
    tm_error ignored;
    if (tm_read_file(path, 12 + bits, &b, &len, &ignored) != 0)
        return;
    if (len == 12 + bits && memcmp(b, HAVE_MAGIC, 4) == 0 && tm_get64(b + 4) == r->size)
        memcpy(r->have, b + 12, bits);
    free(b);
}

/* After data is written: fsync it, then say it is there (atomic replace). */
static int cache_note(int fd, const rfile *r, tm_error *err)
{
    char data[4096], have[200];
    cache_names(r, data, have, sizeof have);
    size_t bits = (r->nblocks + 7) / 8;
    unsigned char *b = malloc(12 + bits);
    if (!b) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    memcpy(b, HAVE_MAGIC, 4);
    tm_put64(b + 4, r->size);
    memcpy(b + 12, r->have, bits);
    int rc = tm_fsync_fd(fd, data, err) == 0 &&
                     tm_write_file_atomic(src.cache, have, b, 12 + bits, err) == 0
                 ? 0
                 : -1;
    free(b);
    return rc;
}

/* Fetches blocks [b, e] into fd and marks them held. */
static int fill(int fd, rfile *r, size_t b, size_t e, bool whole, tm_error *err)
{
    uint64_t off = (uint64_t)b * BLK, end = (uint64_t)(e + 1) * BLK;
    if (end > r->size)
        end = r->size;
    tm_buf buf = {0};
    int rc = fetch(r->af, whole, off, end - off, &buf, err);
    if (rc == 0)
        rc = tm_pwrite_full(fd, buf.p, buf.len, off, r->af->name, err);
    tm_buf_free(&buf);
    if (rc != 0)
        return -1;
    for (size_t i = b; i <= e; i++)
        r->have[i / 8] |= (unsigned char)(1u << (i % 8));
    return src.cache && !r->af->key_id[0] ? cache_note(fd, r, err) : 0;
}

static int fault(int fd, uint64_t off, size_t len, tm_error *err)
{
    if (fd < 0 || (size_t)fd >= src.nfds || !src.fds[fd])
        return 0;
    rfile *r = src.fds[fd];
    if (len == 0 || off >= r->size)
        return 0;
    uint64_t end = off + len < r->size ? off + len : r->size;
    size_t b = (size_t)(off / BLK), last = (size_t)((end - 1) / BLK);
    while (b <= last) {
        if (has(r, b)) {
            b++;
            continue;
        }
        r->ra = b == r->next && r->ra < RA_MAX ? r->ra * 2 : 1;
        size_t e = b;
        while (e + 1 < r->nblocks && !has(r, e + 1) && (e + 1 <= last || e + 1 < b + r->ra))
            e++;
        if (fill(fd, r, b, e, false, err) != 0)
            return -1;
        r->next = e + 1;
        b = e + 1;
    }
    return 0;
}

static void drop(int fd)
{
    if (fd >= 0 && (size_t)fd < src.nfds && src.fds[fd]) {
        free(src.fds[fd]->have);
        free(src.fds[fd]);
        src.fds[fd] = NULL;
    }
}

static void src_close(int fd)
{
    if (fd < 0)
        return;
    drop(fd);
    close(fd);
}

/* A file descriptor for r's bytes: the cache file, or an anonymous one. */
static int backing_fd(rfile *r, tm_error *err)
{
    int fd;
    if (src.cache && !r->af->key_id[0]) { /* never a decrypted copy on disk */
        char data[4096], have[200];
        cache_names(r, data, have, sizeof have);
        fd = open(data, O_RDWR | O_CREAT | O_CLOEXEC, TM_FILE_MODE);
        if (fd >= 0)
            cache_load(r);
    } else {
        fd = memfd_create("tidemark-archive", MFD_CLOEXEC);
    }
    if (fd < 0 || ftruncate(fd, (off_t)r->size) != 0) {
        tm_error_errno(err, "cannot make a local copy of archived file %s/%s", src.root,
                       r->af->name);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int src_open(const char *path, bool whole, tm_error *err)
{
    char buf[4096];
    const char *name = name_of(path, buf, sizeof buf);
    const tm_archive_file *af = name ? lookup(name) : NULL;
    if (!af) {
        tm_error_setc(err, TM_ERR_NOT_FOUND, "cannot open %s: the archive has no such file", path);
        return -1;
    }
    /* A sealed object cannot be read in ranges (its tag covers all of
     * it): it comes whole, opened, at once. */
    tm_buf plain = {0};
    if (af->key_id[0] && fetch(af, true, 0, 0, &plain, err) != 0) {
        tm_buf_free(&plain);
        return -1;
    }
    rfile *r = calloc(1, sizeof *r);
    if (r) {
        r->af = af;
        r->size = af->key_id[0] ? plain.len : af->size;
        r->nblocks = (size_t)((r->size + BLK - 1) / BLK);
        r->have = calloc(1, (r->nblocks + 7) / 8 + 1);
    }
    if (!r || !r->have) {
        if (r)
            free(r);
        tm_buf_free(&plain);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory opening %s", path);
        return -1;
    }
    int fd = backing_fd(r, err);
    if (fd >= 0 && af->key_id[0]) {
        if (tm_pwrite_full(fd, plain.p, plain.len, 0, af->name, err) != 0) {
            close(fd);
            fd = -1;
        }
        memset(r->have, 0xff, (r->nblocks + 7) / 8);
    }
    tm_buf_free(&plain);
    if (fd < 0) {
        free(r->have);
        free(r);
        return -1;
    }
    if ((size_t)fd >= src.nfds) {
        size_t n = (size_t)fd + 16;
        rfile **v = realloc(src.fds, n * sizeof *v);
        if (!v) {
            free(r->have);
            free(r);
            close(fd);
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory opening %s", path);
            return -1;
        }
        memset(v + src.nfds, 0, (n - src.nfds) * sizeof *v);
        src.fds = v;
        src.nfds = n;
    }
    src.fds[fd] = r;
    if (whole && r->nblocks > 0) {
        /* One checked GET when nothing is held yet, else the missing blocks. */
        bool none = true;
        for (size_t i = 0; i < r->nblocks && none; i++)
            none = !has(r, i);
        int rc = none ? fill(fd, r, 0, r->nblocks - 1, true, err) : fault(fd, 0, r->size, err);
        if (rc != 0) {
            src_close(fd);
            return -1;
        }
    }
    return fd;
}

static int src_kind(const char *path, tm_error *err)
{
    char buf[4096];
    const char *name = name_of(path, buf, sizeof buf);
    if (name && !*name)
        return 1;
    size_t n = name ? strlen(name) : 0;
    for (size_t i = 0; name && i < src.man.n_files; i++) {
        const char *f = src.man.files[i].name;
        if (strcmp(f, name) == 0)
            return 0;
        if (strncmp(f, name, n) == 0 && f[n] == '/')
            return 1;
    }
    tm_error_setc(err, TM_ERR_NOT_FOUND, "cannot open %s: the archive has no such file", path);
    return -1;
}

static int src_list(const char *dir, tm_jsrc_name_fn fn, void *arg, tm_error *err)
{
    if (src_kind(dir, err) != 1) {
        tm_error_setc(err, TM_ERR_NOT_FOUND, "cannot read %s: the archive has no such directory",
                      dir);
        return -1;
    }
    char buf[4096];
    const char *name = name_of(dir, buf, sizeof buf);
    size_t n = strlen(name);
    for (size_t i = 0; i < src.man.n_files; i++) {
        const char *f = src.man.files[i].name;
        if (n && (strncmp(f, name, n) != 0 || f[n] != '/'))
            continue;
        const char *rest = n ? f + n + 1 : f;
        const char *slash = strchr(rest, '/');
        if (!slash) {
            if (fn(rest, arg, err) != 0)
                return -1;
            continue;
        }
        /* a subdirectory: named once, by the first file in it */
        size_t d = (size_t)(slash - f);
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strncmp(src.man.files[k].name, f, d + 1) == 0;
        char sub[128];
        snprintf(sub, sizeof sub, "%.*s", (int)(slash - rest), rest);
        if (!seen && fn(sub, arg, err) != 0)
            return -1;
    }
    return 0;
}

static const tm_jsrc_ops ops = {
    .scheme = "s3://",
    .open = src_open,
    .fault = fault,
    .close = src_close,
    .kind = src_kind,
    .list = src_list,
};

int tm_archive_source_open(const char *url, const char *cache_dir, const char *key_file,
                           tm_error *err)
{
    char bucket[256];
    tm_s3_config cfg;
    tm_archive_source_close();
    if (key_file && tm_keyring_load(key_file, &src.kr, err) != 0) {
        tm_error_prefix(err, "--encrypt-key-file: ");
        return -1;
    }
    if (tm_s3_parse_url(url, bucket, sizeof bucket, src.prefix, sizeof src.prefix, err) < 0 ||
        tm_s3_config_from_env(&cfg, bucket, err) < 0 || tm_s3_open(&cfg, &src.s3, err) < 0)
        return -1;
    norm(url, src.root, sizeof src.root);
    if (cache_dir) {
        if (tm_mkdir_p(cache_dir, err) != 0) {
            tm_archive_source_close();
            return -1;
        }
        snprintf(src.cache_buf, sizeof src.cache_buf, "%s", cache_dir);
        src.cache = src.cache_buf;
    }
    int rc = tm_archive_manifest_read(src.s3, src.prefix, &src.man, NULL, NULL, 0, err);
    if (rc == 0)
        tm_error_setc(err, TM_ERR_NOT_FOUND, "no archived journal at %s (it has no %s)", src.root,
                      TM_ARCHIVE_MANIFEST);
    if (rc != 1) {
        tm_archive_source_close();
        return -1;
    }
    src.stats.requests = 1;
    for (size_t i = 0; i < src.man.n_files; i++)
        src.stats.archived_bytes += src.man.files[i].size;
    tm_jsrc_register(&ops);
    return 0;
}

int tm_archive_source_use(const char *journal, const char *cache_dir, const char *key_file)
{
    if (!tm_s3_is_url(journal))
        return 0;
    tm_error err;
    if (tm_archive_source_open(journal, cache_dir, key_file, &err) == 0)
        return 0;
    tm_log_error("%s", err.msg);
    return tm_error_is(&err, TM_ERR_USAGE) ? 2 : 1;
}

tm_archive_source_stats tm_archive_source_get_stats(void)
{
    return src.stats;
}

void tm_archive_source_close(void)
{
    if (src.s3)
        tm_log_debug("archive %s: %" PRIu64 " requests, %" PRIu64 " bytes read of %" PRIu64
                     " archived",
                     src.root, src.stats.requests, src.stats.bytes, src.stats.archived_bytes);
    tm_jsrc_register(NULL);
    for (size_t i = 0; i < src.nfds; i++)
        drop((int)i);
    free(src.fds);
    tm_archive_state_free(&src.man);
    tm_keyring_free(src.kr);
    if (src.s3)
        tm_s3_close(src.s3);
    memset(&src, 0, sizeof src);
}
