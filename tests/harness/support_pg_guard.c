/* Cleanup guarantees of the PostgreSQL harness.
 *
 * Each cluster has a watchdog: a process forked twice (so it is nobody's
 * child and ctest's kill of a timed-out test's process tree misses it) in
 * its own session, holding one end of a socketpair whose other end stays in
 * the owner. The owner says 'S' after a normal stop and the watchdog exits;
 * anything else - 'K' from a signal handler, or EOF because every process
 * holding the owner's end is gone (crash, SIGKILL) - makes the watchdog shut
 * the server down immediately and remove its dir.
 *
 * atexit and SIGINT/SIGTERM/SIGHUP handlers in the owner send 'K' and wait
 * for the watchdog to finish, so the cluster is gone before the process is.
 * Forked test children inherit all of this but act only for clusters they
 * started themselves. */
#include "tests/harness/pg_guard.h"
#include "tests/harness/tm_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_GUARDED 16
#define WATCHDOG_WAIT_MS 30000

static struct {
    pid_t owner;
    int fd;
} guarded[MAX_GUARDED];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

pid_t tm_pg_read_postmaster_pid(const char *datadir)
{
    char path[PATH_MAX], buf[64];
    snprintf(path, sizeof path, "%s/postmaster.pid", datadir);
    if (tm_read_small_file(path, buf, sizeof buf) <= 0)
        return 0;
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? (pid_t)pid : 0;
}

/* A postmaster runs with its data dir as working directory: that tells our
 * postmaster from an unrelated process that got its pid later. */
static int serves_datadir(pid_t pid, const char *datadir)
{
    char link[64], cwd[PATH_MAX], real[PATH_MAX];
    snprintf(link, sizeof link, "/proc/%ld/cwd", (long)pid);
    ssize_t n = readlink(link, cwd, sizeof cwd - 1);
    if (n < 0 || !realpath(datadir, real))
        return 0;
    cwd[n] = '\0';
    return strcmp(cwd, real) == 0;
}

static int wait_gone(pid_t pid, long ms)
{
    for (long waited = 0; waited < ms; waited += 10) {
        if (!tm_pid_alive(pid))
            return 1;
        sleep_ms(10);
    }
    return !tm_pid_alive(pid);
}

void tm_pg_kill_postmaster(const char *datadir)
{
    pid_t pid = tm_pg_read_postmaster_pid(datadir);
    if (pid <= 0 || !tm_pid_alive(pid) || !serves_datadir(pid, datadir))
        return;
    kill(pid, SIGQUIT); /* immediate shutdown: it stops its children itself */
    if (wait_gone(pid, 10000))
        return;
    kill(pid, SIGKILL); /* its children notice the postmaster's death and exit */
    wait_gone(pid, 5000);
}

/* SIGKILLs every process working inside dir (prefix: its realpath): a
 * postmaster that has not written its pid file yet, an initdb or pg_ctl
 * whose owner died. A cwd removed under it reads "<path> (deleted)". */
static void kill_processes_in(const char *real)
{
    size_t n = strlen(real);
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid())
            continue;
        char link[64], cwd[PATH_MAX];
        snprintf(link, sizeof link, "/proc/%ld/cwd", pid);
        ssize_t len = readlink(link, cwd, sizeof cwd - 1);
        if (len < 0)
            continue;
        cwd[len] = '\0';
        if (strncmp(cwd, real, n) == 0 && (cwd[n] == '\0' || cwd[n] == '/' || cwd[n] == ' '))
            kill((pid_t)pid, SIGKILL);
    }
    closedir(d);
}

void tm_pg_destroy_dir(const char *dir, const char *datadir)
{
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return; /* already gone */
    tm_pg_kill_postmaster(datadir);
    kill_processes_in(real);
    tm_rmtree(dir);
    /* A process killed just now may have been writing: once more. */
    sleep_ms(20);
    kill_processes_in(real);
    tm_rmtree(dir);
}

static void __attribute__((noreturn)) watchdog_main(int fd, const char *dir, const char *datadir)
{
    setsid(); /* no terminal signals, not in the test's process group */
    prctl(PR_SET_NAME, "tm-pg-watchdog");
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        /* Holding ctest's output pipe would make ctest wait for us. */
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
    }
    if (fd != 3) {
        dup2(fd, 3);
    }
    close_range(4, ~0U, 0);
    char c = 0;
    ssize_t r;
    while ((r = read(3, &c, 1)) < 0 && errno == EINTR) {
    }
    if (r == 1 && c == 'S')
        _exit(0);
    tm_pg_destroy_dir(dir, datadir);
    _exit(0); /* closing fd 3 tells a waiting owner we are done */
}

/* Sends cmd and waits (bounded) until the watchdog has closed its end.
 * Async-signal-safe. */
static void tell_watchdog(int fd, char cmd)
{
    if (send(fd, &cmd, 1, MSG_NOSIGNAL) != 1)
        return; /* watchdog already gone */
    long long end = tm_now_ms() + WATCHDOG_WAIT_MS;
    for (;;) {
        long long left = end - tm_now_ms();
        if (left <= 0)
            return;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        char c;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            return;
    }
}

/* Kills every cluster this process owns, through its watchdog. */
static void kill_owned(void)
{
    pid_t me = getpid();
    for (int i = 0; i < MAX_GUARDED; i++) {
        if (guarded[i].fd >= 0 && guarded[i].owner == me) {
            tell_watchdog(guarded[i].fd, 'K');
            close(guarded[i].fd);
            guarded[i].fd = -1;
        }
    }
}

static struct sigaction previous[NSIG];
static const int handled[] = {SIGINT, SIGTERM, SIGHUP};

/* Async-signal-safe: appends s to buf at *n. */
static void put(char *buf, size_t cap, size_t *n, const char *s)
{
    while (*s && *n + 1 < cap)
        buf[(*n)++] = *s++;
}

/* Async-signal-safe: appends v in decimal. */
static void put_uint(char *buf, size_t cap, size_t *n, unsigned v)
{
    char num[16];
    int k = sizeof num - 1;
    num[k] = '\0';
    do
        num[--k] = (char)('0' + v % 10);
    while ((v /= 10) && k > 0);
    put(buf, cap, n, num + k);
}

/* Says on stderr who sent the signal (pid and command line): a test killed
 * by a stray signal otherwise shows only "Received signal 15". */
static void say_sender(int sig, const siginfo_t *si)
{
    char line[512], path[40];
    size_t n = 0, p = 0;
    unsigned sender = si ? (unsigned)si->si_pid : 0;
    put(line, sizeof line, &n, "pg guard: signal ");
    put_uint(line, sizeof line, &n, (unsigned)sig);
    put(line, sizeof line, &n, " from pid ");
    put_uint(line, sizeof line, &n, sender);
    put(line, sizeof line, &n, " (");
    put(path, sizeof path, &p, "/proc/");
    put_uint(path, sizeof path, &p, sender);
    put(path, sizeof path, &p, "/cmdline");
    path[p] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd >= 0 ? read(fd, line + n, sizeof line - n - 2) : -1;
    if (fd >= 0)
        close(fd);
    for (ssize_t i = 0; i < r; i++)
        if (line[n + (size_t)i] == '\0')
            line[n + (size_t)i] = ' ';
    if (r > 0)
        n += (size_t)r;
    else
        put(line, sizeof line, &n, "gone");
    put(line, sizeof line, &n, ")\n");
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    int saved = errno;
    say_sender(sig, si);
    kill_owned();
    /* Then whatever was there before (Check's handler, or the default):
     * the signal is blocked while we run and is delivered again on return. */
    sigaction(sig, &previous[sig], NULL);
    raise(sig);
    errno = saved;
}

static void install_handlers(void)
{
    static int atexit_done;
    if (!atexit_done) {
        atexit(kill_owned);
        atexit_done = 1;
    }
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) {
        int sig = handled[i];
        struct sigaction cur;
        sigaction(sig, NULL, &cur);
        /* Already ours, or ignored on purpose (nohup): leave it. */
        if (((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_signal) ||
            (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN))
            continue;
        struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO};
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, &previous[sig]);
    }
}

int tm_pg_guard_start(tm_pg *pg, char *err, size_t errlen)
{
    static int initialised;
    if (!initialised) {
        for (int i = 0; i < MAX_GUARDED; i++)
            guarded[i].fd = -1;
        initialised = 1;
    }
    int slot = -1;
    for (int i = 0; i < MAX_GUARDED && slot < 0; i++)
        if (guarded[i].fd < 0)
            slot = i;
    if (slot < 0) {
        snprintf(err, errlen, "more than %d clusters at once in one process", MAX_GUARDED);
        return -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "cannot create the watchdog socket: %s", strerror(errno));
        return -1;
    }
    pid_t mid = tm_fork_child(); /* not with the test's signal handlers */
    if (mid == 0) {
        close(sv[0]);
        pid_t wd = fork();
        if (wd == 0)
            watchdog_main(sv[1], pg->dir, pg->datadir);
        _exit(wd < 0 ? 1 : 0);
    }
    int fork_errno = errno;
    close(sv[1]);
    int status = 0;
    if (mid > 0)
        while (waitpid(mid, &status, 0) < 0 && errno == EINTR) {
        }
    if (mid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        close(sv[0]);
        snprintf(err, errlen, "cannot fork the watchdog: %s",
                 mid < 0 ? strerror(fork_errno) : "second fork failed");
        return -1;
    }
    guarded[slot].owner = pg->owner;
    guarded[slot].fd = sv[0];
    pg->guard_fd = sv[0];
    install_handlers();
    return 0;
}

void tm_pg_guard_release(tm_pg *pg)
{
    if (pg->guard_fd < 0)
        return;
    /* A signal handler may have used and closed it already; then the fd
     * number may belong to something else by now. */
    for (int i = 0; i < MAX_GUARDED; i++) {
        if (guarded[i].fd == pg->guard_fd && guarded[i].owner == pg->owner) {
            tell_watchdog(pg->guard_fd, 'S');
            close(pg->guard_fd);
            guarded[i].fd = -1;
        }
    }
    pg->guard_fd = -1;
}

/* A cluster dir is stale when the process named in its owner file is gone
 * (or is a different process that reused the pid). A dir without an owner
 * file is being created, unless it is old. */
static int is_stale(const char *dir)
{
    char path[PATH_MAX], buf[128];
    if (snprintf(path, sizeof path, "%s/%s", dir, TM_PG_OWNER_FILE) >= (int)sizeof path)
        return 0;
    if (tm_read_small_file(path, buf, sizeof buf) < 0) {
        struct stat st;
        if (errno != ENOENT || stat(dir, &st) < 0)
            return 0;
        return time(NULL) - st.st_mtime > 3600;
    }
    long pid = 0;
    unsigned long long start = 0;
    if (sscanf(buf, "%ld %llu", &pid, &start) < 1 || pid <= 0)
        return 0;
    if (!tm_pid_alive((pid_t)pid))
        return 1;
    unsigned long long now_start = tm_pid_starttime((pid_t)pid);
    return start && now_start && now_start != start;
}

int tm_pg_sweep_stale(void)
{
    const char *base = tm_pg_tmp_base();
    DIR *d = opendir(base);
    if (!d)
        return 0;
    int swept = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, TM_PG_DIR_PREFIX, strlen(TM_PG_DIR_PREFIX)) != 0)
            continue;
        char dir[PATH_MAX], datadir[PATH_MAX + 8];
        snprintf(dir, sizeof dir, "%s/%s", base, e->d_name);
        if (!is_stale(dir))
            continue;
        snprintf(datadir, sizeof datadir, "%s/data", dir);
        tm_pg_destroy_dir(dir, datadir);
        swept++;
    }
    closedir(d);
    return swept;
}
