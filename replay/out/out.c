#include "replay/out/out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int init(tm_out *o, int fd, FILE *fp, size_t cap, tm_error *err)
{
    memset(o, 0, sizeof *o);
    o->fd = fd;
    o->fp = fp;
    o->buf = malloc(cap);
    if (!o->buf) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory allocating an output buffer of %zu bytes",
                      cap);
        return -1;
    }
    o->cap = cap;
    return 0;
}

int tm_out_init_fd(tm_out *o, int fd, tm_error *err)
{
    if (fd < 0) {
        memset(o, 0, sizeof *o);
        tm_error_set(err, "no output file descriptor (internal error)");
        return -1;
    }
    return init(o, fd, NULL, TM_OUT_BUFSIZE, err);
}

int tm_out_init_file(tm_out *o, FILE *fp, tm_error *err)
{
    if (!fp) {
        memset(o, 0, sizeof *o);
        tm_error_set(err, "no output file (internal error)");
        return -1;
    }
    return init(o, -1, fp, TM_OUT_BUFSIZE, err);
}

int tm_out_init_mem(tm_out *o, tm_error *err)
{
    return init(o, -1, NULL, 4096, err);
}

void tm_out_free(tm_out *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
}

/* Writeback is asked for in steps of this many bytes. */
#define WRITE_BEHIND_STEP (4u << 20)

void tm_out_write_behind(tm_out *o)
{
    o->write_behind = o->fd >= 0;
}

static void kick_writeback(tm_out *o)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (o->written - o->kicked < WRITE_BEHIND_STEP)
        return;
    /* Advisory: an error here (not a file, not supported) changes nothing
     * the fsync will not see. */
    (void)sync_file_range(o->fd, (off_t)o->kicked, (off_t)(o->written - o->kicked),
                          SYNC_FILE_RANGE_WRITE);
    o->kicked = o->written;
#else
    (void)o;
#endif
}

static bool is_mem(const tm_out *o)
{
    return o->fd < 0 && !o->fp;
}

static void drain(tm_out *o, const char *p, size_t n)
{
    if (o->err)
        return;
    if (o->fp) {
        errno = 0;
        if (n && fwrite(p, 1, n, o->fp) != n)
            o->err = errno ? errno : EIO;
        return;
    }
    while (n) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            o->err = errno;
            return;
        }
        p += w;
        n -= (size_t)w;
        o->written += (uint64_t)w;
    }
    if (o->write_behind)
        kick_writeback(o);
}

void tm_out_write_slow(tm_out *o, const void *p, size_t n)
{
    if (o->err || !n)
        return;
    if (is_mem(o)) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap - o->len < n) {
            if (cap > SIZE_MAX / 2) {
                o->err = ENOMEM;
                return;
            }
            cap *= 2;
        }
        char *nb = realloc(o->buf, cap);
        if (!nb) {
            o->err = ENOMEM;
            return;
        }
        o->buf = nb;
        o->cap = cap;
    } else {
        drain(o, o->buf, o->len);
        o->len = 0;
        if (n >= o->cap) { /* large writes bypass the buffer */
            drain(o, p, n);
            o->total += n;
            return;
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->total += n;
}

char *tm_out_reserve_slow(tm_out *o, size_t n)
{
    if (o->err)
        return NULL;
    if (!is_mem(o)) {
        drain(o, o->buf, o->len);
        o->len = 0;
        return !o->err && n <= o->cap ? o->buf : NULL;
    }
    size_t cap = o->cap ? o->cap : 4096;
    while (cap - o->len < n) {
        if (cap > SIZE_MAX / 2) {
            o->err = ENOMEM;
            return NULL;
        }
        cap *= 2;
    }
    char *nb = realloc(o->buf, cap);
    if (!nb) {
        o->err = ENOMEM;
        return NULL;
    }
    o->buf = nb;
    o->cap = cap;
    return o->buf + o->len;
}

void tm_out_puts(tm_out *o, const char *s)
{
    tm_out_write(o, s, strlen(s));
}

static int report(const tm_out *o, tm_error *err)
{
    if (!o->err)
        return 0;
    errno = o->err;
    tm_error_errno(err, "could not write output");
    return -1;
}

int tm_out_flush(tm_out *o, tm_error *err)
{
    if (!is_mem(o)) {
        drain(o, o->buf, o->len);
        o->len = 0;
        errno = 0;
        if (o->fp && !o->err && fflush(o->fp) != 0)
            o->err = errno ? errno : EIO;
    }
    return report(o, err);
}

int tm_out_sync(tm_out *o, tm_error *err)
{
    if (tm_out_flush(o, err) < 0)
        return -1;
    if (is_mem(o))
        return 0;
    int fd = o->fp ? fileno(o->fp) : o->fd;
    if (fd >= 0 && fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS) {
        o->err = errno;
        return report(o, err);
    }
    return 0;
}

const char *tm_out_data(const tm_out *o, size_t *len)
{
    *len = o->len;
    return o->buf;
}

void tm_out_reset(tm_out *o)
{
    o->len = 0;
    o->total = 0;
    o->err = 0;
}

int tm_out_check_resolved(const tm_value *vals, size_t n, const char *format, tm_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (vals[i].kind != 't' && vals[i].kind != 'n') {
            tm_error_set(err,
                         "internal error: %s output got an unresolved value (kind '%c') in "
                         "column %zu",
                         format, vals[i].kind, i + 1);
            return -1;
        }
    return 0;
}
