/* Output files of replay and undo (--output): see outfile.h for what a
 * target may be and how each kind is written. */
#include "replay/out/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/common/fsutil.h"

/* What the symbolic link at path points to, as a path (malloc'd), also
 * when that does not exist yet; NULL when path is no link. */
static char *link_target(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
        return NULL;
    char *t = realpath(path, NULL);
    if (t)
        return t;
    char text[4096];
    ssize_t n = readlink(path, text, sizeof text - 1);
    if (n <= 0)
        return NULL;
    text[n] = '\0';
    if (text[0] == '/')
        return strdup(text);
    char *copy = strdup(path), *out = NULL;
    if (copy && asprintf(&out, "%s/%s", dirname(copy), text) < 0)
        out = NULL;
    free(copy);
    return out;
}

/* The descriptor a path names (/dev/stdout, /dev/stderr, /dev/fd/N,
 * /proc/self/fd/N), or -1 for any other path. */
static int named_fd(const char *path)
{
    if (!strcmp(path, "/dev/stdout"))
        return STDOUT_FILENO;
    if (!strcmp(path, "/dev/stderr"))
        return STDERR_FILENO;
    const char *n = !strncmp(path, "/dev/fd/", 8)          ? path + 8
                    : !strncmp(path, "/proc/self/fd/", 14) ? path + 14
                                                           : NULL;
    if (!n || !*n || strlen(n) > 9 || strspn(n, "0123456789") != strlen(n))
        return -1;
    return atoi(n);
}

typedef enum target_kind {
    TARGET_NEW,        /* nothing there (or a dangling link): created */
    TARGET_FILE,       /* a regular file: replaced with force, else refused */
    TARGET_SPECIAL,    /* a device or FIFO: written to */
    TARGET_DIRECTORY,  /* refused */
    TARGET_DESCRIPTOR, /* an open descriptor named by path: written through it */
} target_kind;

/* What path is, and the path to write (*real: path, or what the link at
 * path points to, malloc'd in *owned). */
static target_kind classify(const char *path, const char **real, char **owned)
{
    *owned = NULL;
    *real = path;
    if (named_fd(path) >= 0)
        return TARGET_DESCRIPTOR;
    if ((*owned = link_target(path)))
        *real = *owned;
    struct stat st;
    if (stat(*real, &st) != 0)
        return TARGET_NEW;
    return S_ISREG(st.st_mode)   ? TARGET_FILE
           : S_ISDIR(st.st_mode) ? TARGET_DIRECTORY
                                 : TARGET_SPECIAL;
}

static int refuse(target_kind k, const char *path, bool force, tm_error *err)
{
    if (k == TARGET_DIRECTORY) {
        tm_error_set(err, "%s is a directory; give a file name", path);
        return -1;
    }
    if (k == TARGET_FILE && !force) {
        tm_error_setc(err, TM_ERR_CONFLICT,
                      "output file %s exists; it was left as it is: give --force to replace it, "
                      "or choose another --output",
                      path);
        tm_error_in(err, path);
        return -1;
    }
    return 0;
}

int tm_outfile_check(const char *path, bool force, tm_error *err)
{
    const char *real;
    char *owned;
    int rc = refuse(classify(path, &real, &owned), path, force, err);
    free(owned);
    return rc;
}

/* A descriptor path names: a copy of it, closed at commit. */
static int open_descriptor(tm_outfile *f, const char *path, tm_error *err)
{
    f->fd = fcntl(named_fd(path), F_DUPFD_CLOEXEC, 0);
    if (f->fd < 0)
        tm_error_errno(err, "cannot write to %s", path);
    return f->fd < 0 ? -1 : 0;
}

/* A new file: written under a temporary name beside it. */
static int open_temp(tm_outfile *f, const char *real, tm_error *err)
{
    if (!(f->path = strdup(real)) || asprintf(&f->tmp, "%s.tmp-%d", real, (int)getpid()) < 0) {
        free(f->path);
        f->path = f->tmp = NULL;
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, TM_FILE_MODE);
    if (f->fd < 0) {
        tm_error_errno(err, "cannot create %s", f->tmp);
        free(f->path);
        free(f->tmp);
        f->path = f->tmp = NULL;
        return -1;
    }
    return 0;
}

int tm_outfile_open(tm_outfile *f, const char *path, bool force, tm_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->force = force;
    const char *real;
    char *owned;
    target_kind k = classify(path, &real, &owned);
    int rc = refuse(k, path, force, err);
    if (rc == 0 && k == TARGET_DESCRIPTOR) {
        rc = open_descriptor(f, path, err);
    } else if (rc == 0 && k == TARGET_SPECIAL) {
        if ((f->fd = open(real, O_WRONLY | O_CLOEXEC)) < 0) {
            tm_error_errno(err, "cannot open %s", real);
            rc = -1;
        }
    } else if (rc == 0) {
        rc = open_temp(f, real, err);
    }
    free(owned);
    return rc;
}

/* Renames tmp to path; without force, only if path does not exist (a file
 * that appeared since the check is not overwritten either). */
static int place(const char *tmp, const char *path, bool force, tm_error *err)
{
    if (force) {
        if (rename(tmp, path) == 0)
            return 0;
    } else {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
            return 0;
        /* A file system without it: link() refuses an existing name too. */
        if ((errno == EINVAL || errno == ENOSYS) && link(tmp, path) == 0) {
            unlink(tmp);
            return 0;
        }
        if (errno == EEXIST) {
            tm_error_setc(err, TM_ERR_CONFLICT,
                          "output file %s appeared while it was being written; it was left as "
                          "it is: give --force to replace it, or choose another --output",
                          path);
            return -1;
        }
    }
    tm_error_errno(err, "cannot rename %s to %s", tmp, path);
    return -1;
}

/* A device, FIFO or descriptor: made durable where that means anything. */
static int commit_direct(tm_outfile *f, tm_error *err)
{
    int rc = 0;
    if (fsync(f->fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS) {
        tm_error_errno(err, "cannot sync the output");
        rc = -1;
    }
    if (close(f->fd) != 0 && rc == 0) {
        tm_error_errno(err, "cannot write the output");
        rc = -1;
    }
    f->fd = -1;
    return rc;
}

int tm_outfile_commit(tm_outfile *f, tm_error *err)
{
    if (!f->tmp)
        return commit_direct(f, err);
    int rc = tm_fsync_fd(f->fd, f->tmp, err);
    if (close(f->fd) != 0 && rc == 0) {
        tm_error_errno(err, "cannot write %s", f->tmp);
        rc = -1;
    }
    f->fd = -1;
    if (rc == 0)
        rc = place(f->tmp, f->path, f->force, err);
    if (rc == 0) {
        char *copy = strdup(f->path);
        if (!copy)
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        rc = copy ? tm_fsync_dir(dirname(copy), err) : -1;
        free(copy);
    } else {
        unlink(f->tmp);
    }
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    return rc;
}

void tm_outfile_abort(tm_outfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp)
        unlink(f->tmp);
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    f->fd = -1;
}
