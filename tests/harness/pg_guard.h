/* Internal to the PostgreSQL harness: what makes sure a cluster never
 * outlives the process that started it. */
#ifndef TM_PG_GUARD_H
#define TM_PG_GUARD_H

#include "tests/harness/pg_harness.h"

/* File in a cluster's dir naming its owner: "<pid> <starttime>\n". */
#define TM_PG_OWNER_FILE "owner"
#define TM_PG_DIR_PREFIX "tidemark-pg-"

/* Forks the watchdog for pg->dir and registers pg for the atexit and signal
 * handlers. pg->dir, pg->datadir and pg->owner must be set. */
int tm_pg_guard_start(tm_pg *pg, char *err, size_t errlen);

/* After a normal stop: the watchdog stands down and pg is unregistered. */
void tm_pg_guard_release(tm_pg *pg);

/* Immediate shutdown (SIGQUIT, then SIGKILL) of the postmaster serving
 * datadir, if one does; returns once it is gone. */
void tm_pg_kill_postmaster(const char *datadir);

/* tm_pg_kill_postmaster + remove the cluster's dir. */
void tm_pg_destroy_dir(const char *dir, const char *datadir);

/* Makes a cluster as tm_pg_start does, with the data directory filled by
 * fill (initdb for tm_pg_start, a base backup for a standby) before the
 * server is configured and started. */
typedef int (*tm_pg_fill_fn)(tm_pg *pg, void *ctx, char *err, size_t errlen);
int tm_pg_create(tm_pg *pg, const char *extra_conf, tm_pg_fill_fn fill, void *ctx, char *err,
                 size_t errlen);

/* Runs a PostgreSQL program as the cluster's OS user; its output goes to
 * err when it fails. */
int tm_pg_run(const tm_pg *pg, const char *const *argv, int timeout_ms, char *err, size_t errlen);

/* printf into err (the harness's error sentences). */
void tm_pg_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes (or appends) text to path, owned by `user` when that is set. */
int tm_pg_write_file(const char *path, const char *text, int append, const char *user);

#endif
