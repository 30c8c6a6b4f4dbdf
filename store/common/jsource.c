/* The journal source: local files, or the registered remote source
 * (jsource.h). */
#include "store/common/jsource.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const tm_jsrc_ops *remote;
int (*tm_jsrc_fault_hook)(int fd, uint64_t off, size_t len, tm_error *err);

void tm_jsrc_register(const tm_jsrc_ops *ops)
{
    remote = ops;
    tm_jsrc_fault_hook = ops ? ops->fault : NULL;
}

bool tm_jsrc_remote(const char *path)
{
    return remote && strncmp(path, remote->scheme, strlen(remote->scheme)) == 0;
}

int tm_jsrc_open(const char *path, bool whole, int *fd, tm_error *err)
{
    if (tm_jsrc_remote(path)) {
        *fd = remote->open(path, whole, err);
        return *fd < 0 ? -1 : 0;
    }
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        tm_error_errno(err, "cannot open %s", path);
        return -1;
    }
    return 0;
}

void tm_jsrc_close(int fd)
{
    if (fd < 0)
        return;
    if (remote)
        remote->close(fd);
    else
        close(fd);
}

int tm_jsrc_kind(const char *path, tm_error *err)
{
    if (tm_jsrc_remote(path))
        return remote->kind(path, err);
    struct stat st;
    if (stat(path, &st) != 0) {
        tm_error_errno(err, "cannot open journal %s", path);
        return -1;
    }
    return S_ISDIR(st.st_mode) ? 1 : 0;
}

int tm_jsrc_list(const char *dir, tm_jsrc_name_fn fn, void *arg, tm_error *err)
{
    if (tm_jsrc_remote(dir))
        return remote->list(dir, fn, arg, err);
    DIR *d = opendir(dir);
    if (!d) {
        tm_error_errno(err, "cannot read journal directory %s", dir);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
            rc = fn(de->d_name, arg, err);
    closedir(d);
    return rc;
}
