/* Helpers for tests of tidemark capture against a real PostgreSQL: a
 * workload that records what it committed, the exactly-once check of a
 * journal against it, capture run in the background with its log, waiting
 * for the slot, and the CPU time a process used.
 *
 *   PGconn *c;
 *   char *ci = tmc_setup_db(pg, "db", &c);      (tables events, expected)
 *   pid_t pid = tmc_spawn(j, ci, NULL);          (capture --table events)
 *   tmc_wait_slot_active(c, "tidemark_db", true);
 *   tmc_commit(c, 5);                            (5 recorded transactions)
 *   tmc_wait_confirmed(c, "tidemark_db", lsn, 30000);
 *   tmc_stop(pid);                               (SIGTERM, expects exit 0)
 *   tmc_check_exactly_once(c, j);
 */
#ifndef TM_SUPPORT_CAPTURE_H
#define TM_SUPPORT_CAPTURE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/harness/pg_harness.h"

/* Creates database name with table events (id, v) under REPLICA IDENTITY
 * FULL and table expected (xid) that is not captured; returns its conninfo
 * (malloc'd) and a connection in *conn. */
char *tmc_setup_db(tm_pg *pg, const char *name, PGconn **conn);

/* Commits n transactions of one insert into events each, recording their
 * xids in expected; returns the number of events rows after them. */
void tmc_commit(PGconn *c, int n);

/* pg_current_wal_lsn() (malloc'd text). */
char *tmc_current_lsn(PGconn *c);

/* Runs capture of public.events to the current WAL position in the
 * foreground and asserts its exit status; returns its stderr (malloc'd). */
char *tmc_capture_to_now(PGconn *c, const char *journal, const char *conninfo, int expect);

/* Starts `tidemark capture --journal J --source CI --table events
 * --fsync-interval-ms 20` plus the NULL-terminated extra arguments (at most
 * 16) in the background, stdout and stderr appended to J.log. */
pid_t tmc_spawn(const char *journal, const char *conninfo, ...) __attribute__((sentinel));
/* Starts argv (argv[0] the program, NULL-terminated) in the background with
 * env ("NAME=value", NULL-terminated, may be NULL) added to its environment,
 * stdout and stderr appended to J.log, no descriptor of ours but those. */
pid_t tmc_spawnv(const char *journal, const char *const *env, const char *const *argv);
/* What the background captures of journal printed so far (static buffer). */
const char *tmc_log(const char *journal);
/* SIGTERM, then waits; fails the test unless it exits 0 within 60 s. */
void tmc_stop(pid_t pid, const char *journal);
/* Waits up to timeout_ms for pid to exit; returns its wait status, or -1
 * (still running). */
int tmc_wait_exit(pid_t pid, int timeout_ms);

/* Waits up to 30 s until the slot is active (or not); fails otherwise. */
void tmc_wait_slot_active(PGconn *c, const char *slot, bool active);
/* Waits up to timeout_ms until the slot's confirmed_flush_lsn >= lsn. */
bool tmc_wait_confirmed(PGconn *c, const char *slot, const char *lsn, int timeout_ms);

/* Every xid in expected is in the journal exactly once (one change each),
 * commit LSNs strictly increase, the journal starts with a base snapshot,
 * and it holds no other transaction. */
void tmc_check_exactly_once(PGconn *c, const char *journal);

/* The last Gap record of the journal, if any: returns true and its fields
 * (reason malloc'd). */
bool tmc_last_gap(const char *journal, uint64_t *lsn, uint64_t *end_lsn, char **reason);

/* User plus system CPU time of a live process in milliseconds
 * (/proc/PID/stat), or -1. */
long tmc_cpu_ms(pid_t pid);

/* Stops the server of pg (pg_ctl stop -m mode) without removing it, and
 * starts it again: for tests that keep a server down for a while. */
void tmc_server_down(tm_pg *pg, const char *mode);
void tmc_server_up(tm_pg *pg);

#endif
