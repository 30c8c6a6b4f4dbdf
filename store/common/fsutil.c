#include "store/common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int tm_pwrite_full(int fd, const void *buf, size_t len, uint64_t off, const char *what,
                   tm_error *err)
{
    return tm_pwrite2_full(fd, buf, len, NULL, 0, off, what, err);
}

int tm_pwrite2_full(int fd, const void *a, size_t alen, const void *b, size_t blen, uint64_t off,
                    const char *what, tm_error *err)
{
    struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
    int i = 0, n = blen ? 2 : 1;
    while (i < n) {
        ssize_t w = pwritev(fd, iov + i, n - i, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            tm_error_errno(err, "cannot write %s", what);
            return -1;
        }
        off += (uint64_t)w;
        size_t left = (size_t)w;
        while (i < n && left >= iov[i].iov_len)
            left -= iov[i++].iov_len;
        if (i < n) {
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
        }
    }
    return 0;
}

ssize_t tm_pread_full(int fd, void *buf, size_t len, uint64_t off, const char *what, tm_error *err)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            tm_error_errno(err, "cannot read %s", what);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int tm_fsync_fd(int fd, const char *what, tm_error *err)
{
    if (fsync(fd) != 0) {
        tm_error_errno(err, "cannot fsync %s", what);
        return -1;
    }
    return 0;
}

int tm_fsync_dir(const char *dir, tm_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        tm_error_errno(err, "cannot open directory %s to fsync it", dir);
        return -1;
    }
    int rc = 0;
    if (fsync(fd) != 0) {
        tm_error_errno(err, "cannot fsync directory %s", dir);
        rc = -1;
    }
    close(fd);
    return rc;
}

int tm_mkdir_p(const char *dir, tm_error *err)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        tm_error_set(err, "journal directory path '%s' is empty or too long", dir);
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, TM_DIR_MODE) != 0 && errno != EEXIST) {
            tm_error_errno(err, "cannot create directory %s", path);
            return -1;
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        tm_error_errno(err, "%s is not a directory", dir);
        return -1;
    }
    return 0;
}

int tm_write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                         tm_error *err)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= (int)sizeof tmp ||
        snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final) {
        tm_error_set(err, "path %s/%s is too long", dir, name);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, TM_FILE_MODE);
    if (fd < 0) {
        tm_error_errno(err, "cannot create %s", tmp);
        return -1;
    }
    if (tm_pwrite_full(fd, data, len, 0, tmp, err) != 0 || tm_fsync_fd(fd, tmp, err) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0) {
        tm_error_errno(err, "cannot close %s", tmp);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, final) != 0) {
        tm_error_errno(err, "cannot rename %s to %s", tmp, final);
        unlink(tmp);
        return -1;
    }
    return tm_fsync_dir(dir, err);
}

int tm_read_file(const char *path, size_t max, unsigned char **data, size_t *len, tm_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tm_error_errno(err, "cannot open %s", path);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        tm_error_errno(err, "cannot stat %s", path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > max) {
        tm_error_setc(err, TM_ERR_FORMAT, "%s is too large (%lld bytes, at most %zu expected)",
                      path, (long long)st.st_size, max);
        tm_error_in(err, path);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *p = malloc(n + 1);
    if (!p) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory reading %s", path);
        close(fd);
        return -1;
    }
    ssize_t r = tm_pread_full(fd, p, n, 0, path, err);
    close(fd);
    if (r < 0) {
        free(p);
        return -1;
    }
    p[r] = '\0';
    *data = p;
    *len = (size_t)r;
    return 0;
}

void *tm_grow(void *p, size_t *cap, size_t n, size_t elem, size_t first, const char *doing,
              tm_error *err)
{
    if (n < *cap)
        return p;
    size_t c = *cap ? 2 * *cap : first;
    void *v = c <= SIZE_MAX / elem ? realloc(p, c * elem) : NULL;
    if (!v) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory%s%s", *doing ? " " : "", doing);
        return NULL;
    }
    *cap = c;
    return v;
}

int tm_buf_reserve(tm_buf *b, size_t extra, tm_error *err)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        tm_error_setc(err, TM_ERR_NOMEM, "buffer size overflow");
        return -1;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory growing a buffer to %zu bytes", cap);
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void tm_buf_free(tm_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
