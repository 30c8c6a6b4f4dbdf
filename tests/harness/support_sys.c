#include "tests/harness/tm_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long long tm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long tm_read_small_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < len) {
        ssize_t r = read(fd, buf + n, len - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fd);
    return (long)n;
}

/* /proc/PID/stat: "pid (comm) S ppid ..."; comm may hold spaces and parens,
 * so fields are counted from the last ')'. Returns a pointer to field number
 * `field` (>= 3; 3 is the state), or NULL. */
static const char *stat_field(pid_t pid, int field, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (tm_read_small_file(path, buf, len) < 0)
        return NULL;
    char *p = strrchr(buf, ')');
    if (!p)
        return NULL;
    p++; /* the space before field 3 */
    for (int f = 3; f < field && p; f++)
        p = strchr(p + 1, ' ');
    return p ? p + 1 : NULL;
}

int tm_pid_alive(pid_t pid)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 0;
    char buf[1024];
    const char *state = stat_field(pid, 3, buf, sizeof buf);
    if (!state) /* no /proc entry: gone (or no /proc: trust kill) */
        return access("/proc/self/stat", F_OK) == 0 ? 0 : 1;
    return *state != 'Z' && *state != 'X';
}

pid_t tm_fork_child(void)
{
    sigset_t all, old;
    sigfillset(&all);
    fflush(NULL); /* nothing buffered gets written twice */
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP)
                signal(s, SIG_DFL);
    }
    int saved = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return pid;
}

int tm_pid_catches(pid_t pid, int sig)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    if (!tm_pid_alive(pid) || tm_read_small_file(path, buf, sizeof buf) < 0)
        return -1;
    const char *line = strstr(buf, "\nSigCgt:");
    if (!line)
        return -1;
    unsigned long long mask = strtoull(line + 8, NULL, 16);
    return (mask >> (sig - 1)) & 1ULL ? 1 : 0;
}

unsigned long long tm_pid_starttime(pid_t pid)
{
    char buf[1024];
    const char *f = stat_field(pid, 22, buf, sizeof buf);
    return f ? strtoull(f, NULL, 10) : 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

int tm_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) < 0)
        return errno == ENOENT ? 0 : -1;
    return 0;
}

void tm_cloexec_from(int lowfd)
{
    if (close_range((unsigned)lowfd, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    /* Older kernels: walk the descriptor table. */
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = lowfd; fd < max; fd++)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
}
