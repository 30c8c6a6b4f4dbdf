/* The fault suite's oracle and workload (tests/fault): a workload process
 * that commits mixed transactions concurrently with capture and records
 * each in the uncaptured-by-default table expected (xid, changes); the
 * audit of a journal against it that counts what is lost and duplicated
 * (base snapshot included, so a capture killed during its first run is
 * checked too); replay versus the live table; verify; and the fault-matrix
 * line each test prints.
 *
 *   char *ci = tmf_setup_db(pg, "db", &c);          (events, expected, ballast)
 *   tmf_workload w;
 *   tmf_workload_start(&w, ci, 7);
 *   pid_t pid = tmf_spawn(j, ci, NULL, NULL);       (capture events + expected)
 *   ... faults ...
 *   tmf_workload_pause(&w);
 *   tmf_catch_up(c, j, ci);                         (capture to now, exit 0)
 *   tmf_audit a;
 *   tmf_audit_journal(c, j, &a);
 *   tmf_matrix_check("kill -9", kills, &a);         (prints, then asserts)
 */
#ifndef TM_SUPPORT_FAULT_H
#define TM_SUPPORT_FAULT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/support_store.h"

/* Creates database name with events (id, v; REPLICA IDENTITY FULL),
 * expected (xid, changes) and, when ballast_rows > 0, ballast (that many
 * rows of 8 kB each: a base snapshot that takes a while). Returns its
 * conninfo (malloc'd) and a connection in *conn. */
char *tmf_setup_db(tm_pg *pg, const char *name, int ballast_rows, PGconn **conn);

/* One workload transaction on c: inserts, updates or deletes in events (or
 * a rolled-back one), recorded with its change count in expected. *next_id
 * is the next free id of events (0: read it first). Returns 0, or -1 when
 * the connection failed (the transaction may or may not have committed). */
int tmf_tx(PGconn *c, tmt_rng *rng, int64_t *next_id);

/* tmf_tx n times; fails the test on an error. */
void tmf_commit(PGconn *c, int n, tmt_rng *rng);

/* A workload in a child process: transactions back to back (a random
 * pause of up to 2 ms between them, tmf_workload_pace), reconnecting (every 100 ms) while the
 * server is away. */
typedef struct tmf_workload {
    pid_t pid;
    int ctl; /* our end of the control socket pair */
} tmf_workload;

void tmf_workload_start(tmf_workload *w, const char *conninfo, uint64_t seed);
/* The longest pause between two transactions of workloads started from
 * now on (default 2000 us). */
void tmf_workload_pace(int max_pause_us);
/* Returns once no transaction of the workload is open (it waits then). */
void tmf_workload_pause(tmf_workload *w);
void tmf_workload_resume(tmf_workload *w);
/* Ends it; returns how many transactions it committed (or tried to, when
 * the connection died during COMMIT). */
long tmf_workload_stop(tmf_workload *w);

/* Starts `tidemark capture --journal J --source CI --table public.events
 * --table public.expected [--table public.ballast] --fsync-interval-ms 20`
 * plus extra (NULL-terminated array, may be NULL) in the background, with
 * env (NULL-terminated "NAME=value" array, may be NULL) added to its
 * environment; output appended to J.log as tmc_spawn does. */
pid_t tmf_spawn(const char *journal, const char *conninfo, const char *const *env,
                const char *const *extra);
/* Whether tmf_spawn captures ballast too (set before the first spawn). */
void tmf_capture_ballast(bool on);

/* The last 3000 bytes of what capture printed (tmc_log), for failure
 * messages (Check refuses long ones). */
const char *tmf_log_tail(const char *journal);

/* Runs capture in the foreground up to the current WAL position (exit 0
 * expected; waits for a slot still held by a killed capture). */
void tmf_catch_up(PGconn *c, const char *journal, const char *conninfo);

/* What a journal holds against what the workload committed. */
typedef struct tmf_audit {
    long checked;    /* committed workload transactions (rows of expected) */
    long lost;       /* in neither the base snapshot nor the journal */
    long duplicated; /* more than once (journal twice, or snapshot and journal) */
    long extra;      /* journal transactions the workload never committed */
    long wrong;      /* journaled with another number of changes */
    long disorder;   /* commit LSNs not strictly increasing */
} tmf_audit;

/* Fills a (no assertion: the caller prints the matrix line first). */
void tmf_audit_journal(PGconn *c, const char *journal, tmf_audit *a);
/* Adds b's faults to a; checked becomes the larger (audits of one
 * database: the later one checks every transaction the earlier did). */
void tmf_audit_add(tmf_audit *a, const tmf_audit *b);
bool tmf_audit_clean(const tmf_audit *a);

/* Prints "fault-matrix: <kind>: injected N, transactions checked T, lost L,
 * duplicated D[, ...]" on stdout (flushed). */
void tmf_matrix(const char *kind, long injected, const tmf_audit *a);
/* tmf_matrix, then fails the test unless a is clean. */
void tmf_matrix_check(const char *kind, long injected, const tmf_audit *a);

/* Waits (up to 120 s) until capture pid streams (DIR/capture.status names
 * it running): past its start-up, where SIGTERM ends it by default. */
void tmf_wait_streaming(const char *journal, pid_t pid);

/* With the workload paused: the running capture pid streams, confirms everything
 * committed to slot (within 120 s) and is still running, and the audit is
 * clean (else the matrix line and a failure); adds the audit to sum. */
void tmf_check_caught_up(PGconn *c, const char *journal, pid_t pid, const char *slot,
                         const char *kind, tmf_audit *sum);

/* The whole oracle with the workload paused and the journal caught up:
 * the audit (asserted clean, with kind in the message), replay of events
 * at the current LSN equal to the live table, tidemark verify clean. */
void tmf_oracle(PGconn *c, const char *journal, const char *kind, tmf_audit *a);

/* The environment that loads the faultfs shim (tests/harness/faultfs)
 * into a capture of journal, failing call nth (0: none, counting only) of
 * op (write, fsync, rename, truncate, create) with err (EIO, ENOSPC,
 * short); the shim's log is the file log (removed here), next to journal. */
typedef struct tmf_shim {
    char v[6][4300];
    const char *env[8]; /* for tmf_spawn */
    char log[4200];
} tmf_shim;
void tmf_shim_env(tmf_shim *s, const char *journal, const char *op, const char *err, long nth);

/* The slot's confirmed_flush_lsn (0 when there is no slot) and the
 * journal's durable mark (its confirmed LSN; 0 when there is none). */
uint64_t tmf_slot_confirmed(PGconn *c, const char *slot);
uint64_t tmf_mark_confirmed(const char *journal);

#endif
