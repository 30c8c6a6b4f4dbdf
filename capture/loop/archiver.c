#include "capture/loop/archiver.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/common/log.h"

#define POLL_US 100000
#define RESTART_MIN_US 1000000LL
#define RESTART_MAX_US (60LL * 1000000)
#define STOP_WAIT_MS 5000

struct tm_archiver {
    tm_archiver_opts o;
    pid_t child;
    pid_t parent;
    int64_t last_poll, not_before, pause_us;
    char interval[16];
};

tm_archiver *tm_archiver_new(const tm_archiver_opts *o)
{
    if (!o->url)
        return NULL;
    tm_archiver *a = calloc(1, sizeof *a);
    if (!a) {
        tm_log_warning("out of memory: capture runs without its archive copy");
        return NULL;
    }
    a->o = *o;
    a->pause_us = RESTART_MIN_US;
    a->parent = getpid();
    snprintf(a->interval, sizeof a->interval, "%u", o->interval_s ? o->interval_s : 10);
    return a;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void exec_child(const tm_archiver *a)
{
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != a->parent)
        _exit(126);
    if (setpriority(PRIO_PROCESS, 0, 10) != 0) {
        /* best effort */
    }
    syscall(SYS_close_range, 3U, ~0U, 0U);
    char *argv[11] = {(char *)"tidemark",   (char *)"archive",   (char *)"--journal",
                      (char *)a->o.journal, (char *)"--to",      (char *)a->o.url,
                      (char *)"--interval", (char *)a->interval, NULL};
    if (a->o.keys) { /* the archive is encrypted */
        argv[8] = (char *)"--encrypt-key-file";
        argv[9] = (char *)a->o.keys;
    }
    execv("/proc/self/exe", argv);
    _exit(127);
}

static void start(tm_archiver *a)
{
    pid_t pid = fork();
    if (pid < 0) {
        tm_log_warning("cannot start the archive copy: %s; trying again later", strerror(errno));
        return;
    }
    if (pid == 0)
        exec_child(a);
    a->child = pid;
    tm_log_debug("archive copy to %s started (pid %ld)", a->o.url, (long)pid);
}

void tm_archiver_poll(tm_archiver *a, int64_t now_us)
{
    if (!a || now_us - a->last_poll < POLL_US)
        return;
    a->last_poll = now_us;
    if (a->child) {
        int status;
        pid_t r = waitpid(a->child, &status, WNOHANG);
        if (r == 0)
            return;
        a->child = 0;
        if (r > 0) {
            tm_log_warning("the archive copy to %s stopped (%s %d); starting it again in %lld s",
                           a->o.url, WIFEXITED(status) ? "exit status" : "signal",
                           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                           (long long)(a->pause_us / 1000000));
            a->not_before = now_us + a->pause_us;
            a->pause_us = a->pause_us * 2 < RESTART_MAX_US ? a->pause_us * 2 : RESTART_MAX_US;
        }
        return;
    }
    if (now_us >= a->not_before)
        start(a);
}

void tm_archiver_free(tm_archiver *a)
{
    if (!a)
        return;
    if (a->child) {
        kill(a->child, SIGTERM);
        int status;
        for (int ms = 0;; ms += 10) {
            pid_t r = waitpid(a->child, &status, WNOHANG);
            if (r != 0 && !(r < 0 && errno == EINTR))
                break;
            if (ms == STOP_WAIT_MS)
                kill(a->child, SIGKILL);
            struct timespec ts = {0, 10000000L};
            nanosleep(&ts, NULL);
        }
    }
    free(a);
}
