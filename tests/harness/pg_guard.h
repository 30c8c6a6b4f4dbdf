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

#endif
