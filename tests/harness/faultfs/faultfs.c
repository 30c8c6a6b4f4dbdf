/* faultfs: an LD_PRELOAD shim that makes file system calls on the files
 * under one directory fail on purpose, for the fault suite (see
 * tests/harness/README.md). Driven by the environment:
 *
 *   TM_FAULT_DIR     only this directory and what lies below it is touched
 *                    (an absolute path without symbolic links)
 *   TM_FAULT_OP      write (write, pwrite, writev, pwritev), fsync (fsync,
 *                    fdatasync), rename (rename, renameat), truncate
 *                    (ftruncate) or create (open with O_CREAT)
 *   TM_FAULT_NTH     the Nth such call (from 1) fails; 0 or unset: none
 *   TM_FAULT_ERR     EIO, ENOSPC, or short: a write that writes the first
 *                    half of its bytes and says so, without an error
 *   TM_FAULT_STICKY  1: every later such call fails too (a dead disk)
 *   TM_FAULT_LOG     a file that gets one line per fault injected, and the
 *                    number of such calls of each kind at exit
 *
 * The calls go on to the next definition (libc, or the sanitizers'). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE, OP_FSYNC, OP_RENAME, OP_TRUNCATE, OP_CREATE, OP_N };
static const char *const op_names[OP_N] = {"write", "fsync", "rename", "truncate", "create"};

static const char *dir;
static size_t dir_len;
static int fault_op = -1, fault_errno, sticky, is_short;
static long nth;
static long calls[OP_N];
static const char *log_path;

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    if (!log_path)
        return;
    char line[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* through the real write: our own is not for this file */
    static ssize_t (*real_write)(int, const void *, size_t);
    if (!real_write)
        real_write = NEXT(write);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (real_write(fd, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1) < 0)
            n = 0;
        close(fd);
    }
}

__attribute__((constructor)) static void faultfs_init(void)
{
    dir = getenv("TM_FAULT_DIR");
    dir_len = dir ? strlen(dir) : 0;
    log_path = getenv("TM_FAULT_LOG");
    const char *op = getenv("TM_FAULT_OP"), *e = getenv("TM_FAULT_ERR");
    const char *n = getenv("TM_FAULT_NTH"), *s = getenv("TM_FAULT_STICKY");
    for (int i = 0; op && i < OP_N; i++)
        if (!strcmp(op, op_names[i]))
            fault_op = i;
    nth = n ? atol(n) : 0;
    sticky = s && !strcmp(s, "1");
    is_short = e && !strcmp(e, "short");
    fault_errno = e && !strcmp(e, "ENOSPC") ? ENOSPC : EIO;
}

__attribute__((destructor)) static void faultfs_fini(void)
{
    say("calls write %ld fsync %ld rename %ld truncate %ld create %ld\n", calls[OP_WRITE],
        calls[OP_FSYNC], calls[OP_RENAME], calls[OP_TRUNCATE], calls[OP_CREATE]);
}

/* The directory itself or a path below it (not "DIR.log"). */
static int under_dir(const char *path)
{
    return dir_len && path && !strncmp(path, dir, dir_len) &&
           (path[dir_len] == '\0' || path[dir_len] == '/');
}

/* Counts a call of kind op on a file under the directory; returns 1 when
 * it is to fail (errno set, or is_short for a write). */
static int hit(int op, const char *path)
{
    long k = __atomic_add_fetch(&calls[op], 1, __ATOMIC_SEQ_CST);
    if (op != fault_op || nth <= 0 || !(k == nth || (sticky && k > nth)))
        return 0;
    int shortw = is_short && op == OP_WRITE;
    say("injected %s %s at call %ld on %s\n", op_names[op],
        shortw ? "short" : (fault_errno == ENOSPC ? "ENOSPC" : "EIO"), k, path);
    errno = fault_errno;
    return 1;
}

static int hit_fd(int op, int fd)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return under_dir(path) && hit(op, path);
}

/* A write that fails: -1, or (short) how many bytes of the first half it
 * wrote through real. */
#define WRITE_FAULT(fd, len, real_call)                                                            \
    do {                                                                                           \
        if (hit_fd(OP_WRITE, fd)) {                                                                \
            if (!is_short || (len) < 2)                                                            \
                return -1;                                                                         \
            size_t half = (len) / 2;                                                               \
            return real_call;                                                                      \
        }                                                                                          \
    } while (0)

ssize_t write(int fd, const void *buf, size_t len)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real)
        real = NEXT(write);
    WRITE_FAULT(fd, len, real(fd, buf, half));
    return real(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real)
        real = NEXT(pwrite);
    WRITE_FAULT(fd, len, real(fd, buf, half, off));
    return real(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    return pwrite(fd, buf, len, off);
}

static size_t iov_total(const struct iovec *iov, int n)
{
    size_t t = 0;
    for (int i = 0; i < n; i++)
        t += iov[i].iov_len;
    return t;
}

/* The first half of an iovec, for a short write. */
static int iov_half(const struct iovec *iov, int n, struct iovec *out, size_t half)
{
    int k = 0;
    for (int i = 0; i < n && half > 0 && k < 64; i++) {
        out[k] = iov[i];
        if (out[k].iov_len > half)
            out[k].iov_len = half;
        half -= out[k++].iov_len;
    }
    return k;
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    static ssize_t (*real)(int, const struct iovec *, int);
    if (!real)
        real = NEXT(writev);
    struct iovec h[64];
    WRITE_FAULT(fd, iov_total(iov, n), real(fd, h, iov_half(iov, n, h, half)));
    return real(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    static ssize_t (*real)(int, const struct iovec *, int, off_t);
    if (!real)
        real = NEXT(pwritev);
    struct iovec h[64];
    WRITE_FAULT(fd, iov_total(iov, n), real(fd, h, iov_half(iov, n, h, half), off));
    return real(fd, iov, n, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t off)
{
    return pwritev(fd, iov, n, off);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = NEXT(fsync);
    return hit_fd(OP_FSYNC, fd) ? -1 : real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = NEXT(fdatasync);
    return hit_fd(OP_FSYNC, fd) ? -1 : real(fd);
}

int ftruncate(int fd, off_t len)
{
    static int (*real)(int, off_t);
    if (!real)
        real = NEXT(ftruncate);
    return hit_fd(OP_TRUNCATE, fd) ? -1 : real(fd, len);
}

int ftruncate64(int fd, off_t len)
{
    return ftruncate(fd, len);
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (!real)
        real = NEXT(rename);
    return under_dir(to) && hit(OP_RENAME, to) ? -1 : real(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    static int (*real)(int, const char *, int, const char *);
    if (!real)
        real = NEXT(renameat);
    return under_dir(to) && hit(OP_RENAME, to) ? -1 : real(fromfd, from, tofd, to);
}

/* O_TMPFILE includes O_DIRECTORY: a directory opened to fsync it is no
 * creation. */
static int creates(int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

int open(const char *path, int flags, ...)
{
    static int (*real)(const char *, int, ...);
    if (!real)
        real = NEXT(open);
    mode_t mode = 0;
    if (creates(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
        if (under_dir(path) && hit(OP_CREATE, path))
            return -1;
    }
    return real(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));
