/* DIR/capture.status, written by capture's heartbeat thread and read by
 * status. See heartbeat.h. */
#include "capture/monitor/heartbeat.h"
#include "store/archive/push.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/common/fsutil.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"
#include "store/journal/segment.h"

#define MAGIC "tidemark-capture-status 1\n"

static int write_file(const char *dir, tm_capture_stats *st, bool running, tm_error *err)
{
    char buf[2048], c[TM_LSN_BUFLEN], s[TM_LSN_BUFLEN];
    int ws = atomic_load(&st->wal_status);
    int n = snprintf(
        buf, sizeof buf,
        MAGIC "pid=%ld\nstate=%s\nstarted=%lld\nupdated=%lld\ninterval=%d\nconfirmed_lsn=%s\n"
              "server_lsn=%s\nlag_bytes=%llu\nlag_seconds=%.3f\nlast_commit_time=%lld\ntx=%llu\n"
              "changes=%llu\nbytes=%llu\nreconnects=%llu\nretained_wal_bytes=%llu\n"
              "wal_status=%s\n",
        (long)getpid(), running ? "running" : "stopped", (long long)st->started,
        (long long)tm_time_now(), st->status_interval_s,
        tm_lsn_format(atomic_load(&st->confirmed_lsn), c),
        tm_lsn_format(atomic_load(&st->server_lsn), s), (unsigned long long)tm_stats_lag_bytes(st),
        tm_stats_lag_seconds(st, tm_mono_us()), (long long)atomic_load(&st->last_commit_time),
        (unsigned long long)atomic_load(&st->tx), (unsigned long long)atomic_load(&st->changes),
        (unsigned long long)atomic_load(&st->bytes),
        (unsigned long long)atomic_load(&st->reconnects),
        (unsigned long long)atomic_load(&st->retained_wal),
        ws > 0 && ws < TM_WAL_STATUSES ? tm_wal_statuses[ws] : "");
    return tm_write_file_atomic(dir, TM_HEARTBEAT_FILE, buf, (size_t)n, err);
}

int tm_heartbeat_read(const char *dir, tm_heartbeat *hb, tm_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, TM_HEARTBEAT_FILE);
    unsigned char *data;
    size_t len;
    memset(hb, 0, sizeof *hb);
    if (tm_read_file(path, 65536, &data, &len, err) != 0)
        return tm_error_is(err, TM_ERR_NOT_FOUND) ? 0 : -1;
    data[len] = '\0';
    if (strncmp((char *)data, MAGIC, strlen(MAGIC)) != 0) {
        tm_error_setc(err, TM_ERR_FORMAT, "%s is not a capture status file", path);
        free(data);
        return -1;
    }
    for (char *save = NULL, *l = strtok_r((char *)data + strlen(MAGIC), "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char *v = strchr(l, '=');
        if (!v)
            continue;
        *v++ = '\0';
        if (!strcmp(l, "pid"))
            hb->pid = strtol(v, NULL, 10);
        else if (!strcmp(l, "state"))
            hb->running = !strcmp(v, "running");
        else if (!strcmp(l, "started"))
            hb->started = strtoll(v, NULL, 10);
        else if (!strcmp(l, "updated"))
            hb->updated = strtoll(v, NULL, 10);
        else if (!strcmp(l, "interval"))
            hb->interval_s = atoi(v);
        else if (!strcmp(l, "confirmed_lsn"))
            tm_lsn_parse(v, &hb->confirmed_lsn);
        else if (!strcmp(l, "server_lsn"))
            tm_lsn_parse(v, &hb->server_lsn);
        else if (!strcmp(l, "lag_bytes"))
            hb->lag_bytes = strtoull(v, NULL, 10);
        else if (!strcmp(l, "lag_seconds"))
            hb->lag_seconds = strtod(v, NULL);
        else if (!strcmp(l, "last_commit_time"))
            hb->last_commit_time = strtoll(v, NULL, 10);
        else if (!strcmp(l, "tx"))
            hb->tx = strtoull(v, NULL, 10);
        else if (!strcmp(l, "changes"))
            hb->changes = strtoull(v, NULL, 10);
        else if (!strcmp(l, "bytes"))
            hb->bytes = strtoull(v, NULL, 10);
        else if (!strcmp(l, "reconnects"))
            hb->reconnects = strtoull(v, NULL, 10);
        else if (!strcmp(l, "retained_wal_bytes"))
            hb->retained_wal = strtoull(v, NULL, 10);
        else if (!strcmp(l, "wal_status"))
            snprintf(hb->wal_status, sizeof hb->wal_status, "%s", v);
    }
    free(data);
    return 1;
}

bool tm_heartbeat_alive(const tm_heartbeat *hb, int64_t now, char *why, size_t len)
{
    why[0] = '\0';
    if (!hb->running) {
        snprintf(why, len, "capture stopped cleanly");
        return false;
    }
    if (hb->pid <= 0 || (kill((pid_t)hb->pid, 0) != 0 && errno == ESRCH)) {
        snprintf(why, len, "capture (pid %ld) is gone without stopping cleanly", hb->pid);
        return false;
    }
    int interval = hb->interval_s > 0 ? hb->interval_s : 10;
    int64_t age = now - hb->updated;
    if (age > (int64_t)TM_HEARTBEAT_STALE * interval * 1000000 + 2000000) {
        snprintf(why, len, "capture (pid %ld) last said it runs %.0f s ago (it says so every %d s)",
                 hb->pid, (double)age / 1e6, interval);
        return false;
    }
    return true;
}

static int by_lsn(const void *a, const void *b)
{
    const tm_ckpt_file *x = a, *y = b;
    return x->lsn < y->lsn ? -1 : x->lsn > y->lsn;
}

size_t tm_checkpoint_files(const char *dir, tm_ckpt_file **out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/checkpoints", dir);
    *out = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    uint64_t lsn;
    while ((e = readdir(d))) {
        struct stat sb;
        if (!tm_name_numbered(e->d_name, ".ckpt", &lsn) ||
            fstatat(dirfd(d), e->d_name, &sb, 0) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            tm_ckpt_file *g = realloc(*out, cap * sizeof *g);
            if (!g)
                break;
            *out = g;
        }
        (*out)[n++] =
            (tm_ckpt_file){lsn, (uint64_t)sb.st_size,
                           (int64_t)sb.st_mtim.tv_sec * 1000000 + sb.st_mtim.tv_nsec / 1000};
    }
    closedir(d);
    if (n)
        qsort(*out, n, sizeof **out, by_lsn);
    return n;
}

static void refresh(tm_heartbeat_thread *t, bool running)
{
    tm_ckpt_file *f;
    size_t n = tm_checkpoint_files(t->dir, &f);
    int64_t newest = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i].mtime > newest)
            newest = f[i].mtime;
    free(f);
    atomic_store(&t->st->checkpoints, n);
    atomic_store(&t->st->checkpoint_mtime, newest);
    tm_error err;
    tm_archive_state as = {0};
    if (tm_archive_state_read(t->dir, &as, &err) == 1) {
        atomic_store(&t->st->archive_pending_files, as.pending_files);
        atomic_store(&t->st->archive_pending_bytes, as.pending_bytes);
        atomic_store(&t->st->archive_success, as.success_us);
        atomic_store(&t->st->archive_failing, as.error[0] != '\0');
        atomic_store(&t->st->archive_known, true);
    }
    tm_archive_state_free(&as);
    /* A failed heartbeat shows as capture not running: said, not fatal. */
    if (write_file(t->dir, t->st, running, &err) != 0)
        tm_log_warning("%s", err.msg);
}

static void *run(void *arg)
{
    tm_heartbeat_thread *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += t->st->status_interval_s;
        while (!t->stop && pthread_cond_timedwait(&t->wake, &t->lock, &until) == 0)
            ;
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->lock);
        refresh(t, true);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int tm_heartbeat_start(tm_heartbeat_thread *t, const char *dir, tm_capture_stats *st, tm_error *err)
{
    memset(t, 0, sizeof *t);
    t->dir = dir;
    t->st = st;
    if (write_file(dir, st, true, err) != 0)
        return -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->lock, NULL);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        tm_error_set(err, "cannot start the heartbeat thread");
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        return -1;
    }
    t->started = true;
    return 0;
}

void tm_heartbeat_stop(tm_heartbeat_thread *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    t->started = false;
    refresh(t, false);
}
