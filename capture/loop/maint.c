#include "capture/loop/maint.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/common/log.h"

/* Linux's ioprio_set(2) has no glibc wrapper. */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13

#define POLL_US 100000                /* reap/decide at most this often */
#define RETRY_MIN_US (60LL * 1000000) /* after a failed run */
#define RETRY_MAX_US (60LL * 60 * 1000000)

#if defined(__SANITIZE_ADDRESS__)
#define TM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TM_ASAN 1
#endif
#endif

struct tm_maint {
    tm_maint_opts o;
    pid_t child;         /* running, or 0 */
    uint64_t started_at; /* durable bytes when the last run started */
    int64_t last_poll;
    int64_t not_before; /* after a failure: no new run before this */
    int64_t retry_us;   /* the next pause after a failure */
    uint64_t runs, failures;
};

tm_maint *tm_maint_new(const tm_maint_opts *o)
{
    if (o->every_bytes == 0)
        return NULL;
    tm_maint *m = calloc(1, sizeof *m);
    if (!m) {
        tm_log_warning("out of memory: capture runs without self-maintenance");
        return NULL;
    }
    m->o = *o;
    m->retry_us = RETRY_MIN_US;
    return m;
}

/* In the child, between fork and exec: lowest CPU and I/O priority, the
 * memory bound, no descriptor of capture's (the replication socket, the
 * journal lock), then the checkpoint command. Only async-signal-safe calls. */
static void exec_child(const tm_maint *m)
{
    if (setpriority(PRIO_PROCESS, 0, 19) != 0) {
        /* best effort: it only lowers priority */
    }
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) !=
        0) {
        /* not every scheduler knows the idle class; nice still applies */
    }
#ifndef TM_ASAN
    /* (ASan reserves terabytes of address space up front: no bound then.) */
    if (m->o.memory_bytes) {
        struct rlimit rl = {m->o.memory_bytes, m->o.memory_bytes};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(126);
    }
#endif
    syscall(SYS_close_range, 3U, ~0U, 0U);
    char *argv[11];
    int n = 0;
    argv[n++] = (char *)"tidemark";
    argv[n++] = (char *)"checkpoint";
    argv[n++] = (char *)"--journal";
    argv[n++] = (char *)m->o.journal;
    argv[n++] = (char *)"--quiet";
    if (m->o.retention) {
        argv[n++] = (char *)"--retention";
        argv[n++] = (char *)m->o.retention;
    }
    if (m->o.local_retention) {
        argv[n++] = (char *)"--local-retention";
        argv[n++] = (char *)m->o.local_retention;
    }
    if (m->o.compact)
        argv[n++] = (char *)"--compact";
    argv[n] = NULL;
    execv("/proc/self/exe", argv);
    _exit(127);
}

static void start(tm_maint *m, uint64_t journal_bytes)
{
    pid_t pid = fork();
    if (pid < 0) {
        tm_log_warning("cannot start the maintenance run (checkpoint): %s; trying again later",
                       strerror(errno));
        return;
    }
    if (pid == 0)
        exec_child(m);
    m->child = pid;
    m->started_at = journal_bytes;
    m->runs++;
    tm_log_debug("maintenance run %" PRIu64 " started (tidemark checkpoint, pid %ld)", m->runs,
                 (long)pid);
}

/* A finished child: 0 is success; anything else is logged and retried
 * after a pause. */
static void finished(tm_maint *m, int status, int64_t now)
{
    m->child = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        m->retry_us = RETRY_MIN_US;
        m->not_before = 0;
        tm_log_debug("maintenance run %" PRIu64 " done", m->runs);
        return;
    }
    m->failures++;
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof how, "status %d", status);
    tm_log_warning("the maintenance run (tidemark checkpoint --journal %s) failed (%s); the "
                   "journal is intact, replay just reads more of it; trying again in %" PRId64 " s",
                   m->o.journal, how, m->retry_us / 1000000);
    m->not_before = now + m->retry_us;
    m->retry_us = m->retry_us * 2 < RETRY_MAX_US ? m->retry_us * 2 : RETRY_MAX_US;
}

void tm_maint_poll(tm_maint *m, uint64_t journal_bytes, int64_t now_us)
{
    if (!m || now_us - m->last_poll < POLL_US)
        return;
    m->last_poll = now_us;
    if (m->child) {
        int status;
        pid_t r = waitpid(m->child, &status, WNOHANG);
        if (r == 0)
            return;
        if (r < 0) { /* not ours any more (reaped elsewhere): forget it */
            m->child = 0;
            return;
        }
        finished(m, status, now_us);
    }
    if (now_us < m->not_before || journal_bytes - m->started_at < m->o.every_bytes)
        return;
    start(m, journal_bytes);
}

void tm_maint_free(tm_maint *m)
{
    if (!m)
        return;
    if (m->child) {
        kill(m->child, SIGTERM);
        int status;
        while (waitpid(m->child, &status, 0) < 0 && errno == EINTR)
            ;
    }
    free(m);
}
