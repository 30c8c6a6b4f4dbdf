/* DIR/capture.lock: one writer per journal. flock is released by the kernel
 * when the holder dies, so a crashed capture never leaves a stale lock; the
 * file holds the holder's pid only to name it in the refusal. The file is
 * never removed (removing lock files races with the next locker). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store/common/fsutil.h"
#include "store/journal/journal.h"

int tm_journal_lock(const char *dir, int *lock_fd, tm_error *err)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/capture.lock", dir) >= sizeof path) {
        tm_error_set(err, "journal path %s is too long", dir);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, TM_FILE_MODE);
    if (fd < 0) {
        tm_error_errno(err, "cannot open lock file %s", path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            tm_error_errno(err, "cannot lock %s", path);
            close(fd);
            return -1;
        }
        char buf[32] = "";
        ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
        long pid = r > 0 ? strtol(buf, NULL, 10) : 0;
        if (pid > 0)
            tm_error_setc(err, TM_ERR_CONFLICT, "journal %s is in use by another capture (pid %ld)",
                          dir, pid);
        else
            tm_error_setc(err, TM_ERR_CONFLICT,
                          "journal %s is in use by another capture (pid unknown)", dir);
        tm_error_in(err, path);
        close(fd);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0) {
        tm_error_errno(err, "cannot write lock file %s", path);
        close(fd);
        return -1;
    }
    if (tm_pwrite_full(fd, buf, (size_t)n, 0, path, err) != 0) {
        close(fd);
        return -1;
    }
    *lock_fd = fd;
    return 0;
}

void tm_journal_unlock(int lock_fd)
{
    if (lock_fd >= 0)
        close(lock_fd); /* releases the flock */
}
