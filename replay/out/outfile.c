#include "replay/out/outfile.h"

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

int tm_outfile_open(tm_outfile *f, const char *path, tm_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    struct stat st;
    /* A symbolic link (out.csv -> data/out.csv, /dev/stdout -> a file the
     * shell opened) stays one: its target is what is replaced. */
    char *target = link_target(path);
    if (target)
        path = target;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written
         * to, never replaced by a file. */
        if (S_ISDIR(st.st_mode))
            tm_error_set(err, "%s is a directory; give a file name", path);
        else if ((f->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
            tm_error_errno(err, "cannot open %s", path);
        free(target);
        return f->fd < 0 ? -1 : 0;
    }
    if (!(f->path = strdup(path)) || asprintf(&f->tmp, "%s.tmp-%d", path, (int)getpid()) < 0) {
        free(f->path);
        free(target);
        f->path = f->tmp = NULL;
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    free(target);
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

int tm_outfile_commit(tm_outfile *f, tm_error *err)
{
    if (!f->tmp) { /* not a file: nothing to make durable or to rename */
        int rc = close(f->fd) == 0 ? 0 : (tm_error_errno(err, "cannot write the output"), -1);
        f->fd = -1;
        return rc;
    }
    int rc = tm_fsync_fd(f->fd, f->tmp, err);
    if (close(f->fd) != 0 && rc == 0) {
        tm_error_errno(err, "cannot write %s", f->tmp);
        rc = -1;
    }
    f->fd = -1;
    if (rc == 0 && rename(f->tmp, f->path) != 0) {
        tm_error_errno(err, "cannot rename %s to %s", f->tmp, f->path);
        rc = -1;
    }
    if (rc == 0) {
        char *copy = strdup(f->path);
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
