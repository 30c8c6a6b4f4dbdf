/* DIR/capture.status: what a running capture says of itself, for `tidemark
 * status`. A thread of capture's own rewrites it every status interval
 * (write, fsync, rename, fsync the directory: whole or absent), and once
 * more with state=stopped when capture stops; the stream never waits for
 * it. Capture runs when the file says running, its pid is alive, and it is
 * fresh (rewritten within TM_HEARTBEAT_STALE intervals): a crash, a kill
 * or a hang all show as not running.
 *
 * The file is text, one "key=value" a line after the first line
 * "tidemark-capture-status 1"; times are Unix microseconds, LSNs as
 * PostgreSQL prints them. Unknown keys are ignored (newer writers). */
#ifndef TM_HEARTBEAT_H
#define TM_HEARTBEAT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/monitor/stats.h"
#include "store/common/tm_error.h"

#define TM_HEARTBEAT_FILE "capture.status"
#define TM_HEARTBEAT_STALE 3

typedef struct tm_heartbeat {
    long pid;
    bool running;    /* state=running (not stopped) */
    int64_t started; /* Unix us */
    int64_t updated; /* Unix us */
    int interval_s;  /* between rewrites */
    uint64_t confirmed_lsn, server_lsn, lag_bytes;
    double lag_seconds;
    int64_t last_commit_time; /* 0: none yet */
    uint64_t tx, changes, bytes, reconnects;
    uint64_t retained_wal; /* 0 when the slot was not seen */
    char wal_status[16];
} tm_heartbeat;

/* Reads DIR/capture.status: 1 with *hb, 0 when there is none, -1 with err
 * when it cannot be read or parsed. */
int tm_heartbeat_read(const char *dir, tm_heartbeat *hb, tm_error *err);

/* Whether the capture it describes runs now (Unix us): running, fresh and
 * its pid alive; else why not in why. */
bool tm_heartbeat_alive(const tm_heartbeat *hb, int64_t now, char *why, size_t len);

/* The thread that rewrites DIR/capture.status from st every
 * st->status_interval_s seconds and refreshes the checkpoint figures in st. */
typedef struct tm_heartbeat_thread {
    const char *dir;
    tm_capture_stats *st;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, started;
} tm_heartbeat_thread;

/* Writes the file once (say, before streaming starts), then starts the
 * thread. -1 with err when the file cannot be written. */
int tm_heartbeat_start(tm_heartbeat_thread *t, const char *dir, tm_capture_stats *st,
                       tm_error *err);
/* Stops the thread and writes the file a last time, state=stopped. */
void tm_heartbeat_stop(tm_heartbeat_thread *t);

/* The files of DIR/checkpoints (<LSN>.ckpt, written by tidemark checkpoint
 * or capture): LSN, size and when written (Unix us), ascending by LSN;
 * *out malloc'd (NULL and 0 when none or unreadable). */
typedef struct tm_ckpt_file {
    uint64_t lsn, bytes;
    int64_t mtime;
} tm_ckpt_file;
size_t tm_checkpoint_files(const char *dir, tm_ckpt_file **out);

#endif
