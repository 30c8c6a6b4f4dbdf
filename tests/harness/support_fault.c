/* The fault suite's oracle and workload; see support_fault.h. */
#include "tests/harness/support_fault.h"

#include <check.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/common/lsn.h"
#include "store/journal/journal.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

char *tmf_setup_db(tm_pg *pg, const char *name, int ballast_rows, PGconn **conn)
{
    tm_pg_createdb(pg, name);
    *conn = tm_pg_connect(pg, name);
    tm_pg_exec(*conn, "CREATE TABLE events (id bigint PRIMARY KEY, v text);"
                      "ALTER TABLE events REPLICA IDENTITY FULL;"
                      "CREATE TABLE expected (xid bigint PRIMARY KEY, changes int NOT NULL);"
                      "ALTER TABLE expected REPLICA IDENTITY FULL;"
                      "INSERT INTO events SELECT g, 'seed' FROM generate_series(1, 100) g");
    if (ballast_rows > 0)
        tm_pg_exec(*conn,
                   "CREATE TABLE ballast (id int PRIMARY KEY, v text);"
                   "ALTER TABLE ballast REPLICA IDENTITY FULL;"
                   "INSERT INTO ballast SELECT g, repeat(md5(g::text), 256) FROM "
                   "generate_series(1, %d) g",
                   ballast_rows);
    return tm_pg_conninfo(pg, name);
}

/* Runs one statement; returns the rows it affected, or -1 on an error. */
static long run_sql(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    long n = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? atol(PQcmdTuples(r)) : -1;
    PQclear(r);
    return n;
}

static int64_t next_free_id(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT coalesce(max(id), 0) + 1 FROM events");
    int64_t id = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return id;
}

int tmf_tx(PGconn *c, tmt_rng *rng, int64_t *next_id)
{
    if (*next_id == 0 && (*next_id = next_free_id(c)) == 0)
        return -1;
    int64_t id = *next_id, used = 0;
    char sql[256];
    unsigned kind = (unsigned)tmt_below(rng, 20);
    long changes;
    if (run_sql(c, "BEGIN") < 0)
        goto failed;
    if (kind < 10) {
        snprintf(sql, sizeof sql, "INSERT INTO events VALUES (%" PRId64 ", md5(random()::text))",
                 id);
        used = 1;
    } else if (kind < 12) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO events SELECT g, repeat('m', 200) FROM generate_series(%" PRId64
                 ", %" PRId64 ") g",
                 id, id + 2);
        used = 3;
    } else if (kind < 15) {
        snprintf(sql, sizeof sql, "UPDATE events SET v = v || 'u' WHERE id = %" PRIu64,
                 1 + tmt_below(rng, (uint64_t)id));
    } else if (kind < 17) {
        snprintf(sql, sizeof sql, "DELETE FROM events WHERE id = %" PRIu64,
                 1 + tmt_below(rng, (uint64_t)id));
    } else if (kind < 18) {
        /* a larger transaction: spans frames, takes longer to write */
        snprintf(sql, sizeof sql, "UPDATE events SET v = left(md5(v), 12) WHERE id %% 23 = %u",
                 (unsigned)tmt_below(rng, 23));
    } else if (kind < 19) {
        snprintf(sql, sizeof sql,
                 "SELECT pg_logical_emit_message(true, 'tidemark', '{\"by\": \"workload\"}');"
                 "INSERT INTO events VALUES (%" PRId64 ", 'with a message')",
                 id);
        used = 1;
    } else {
        /* rolled back: must never reach the journal */
        snprintf(sql, sizeof sql, "INSERT INTO events VALUES (%" PRId64 ", 'rolled back')", id);
        if (run_sql(c, sql) < 0 || run_sql(c, "ROLLBACK") < 0)
            goto failed;
        return 0;
    }
    if ((changes = run_sql(c, sql)) < 0)
        goto failed;
    if (changes == 0) /* nothing captured changed: nothing to journal or expect */
        return run_sql(c, "ROLLBACK") < 0 ? -1 : 0;
    snprintf(sql, sizeof sql, "INSERT INTO expected VALUES (txid_current(), %ld)", changes);
    if (run_sql(c, sql) < 0 || run_sql(c, "COMMIT") < 0)
        goto failed;
    *next_id = id + used;
    return 0;
failed:
    /* after a reconnect the next id is read again: the COMMIT may have gone through */
    *next_id = 0;
    if (PQstatus(c) == CONNECTION_OK)
        run_sql(c, "ROLLBACK");
    return -1;
}

void tmf_commit(PGconn *c, int n, tmt_rng *rng)
{
    int64_t next = 0;
    for (int i = 0; i < n; i++)
        ck_assert_msg(tmf_tx(c, rng, &next) == 0, "workload transaction: %s", PQerrorMessage(c));
}

/* ---- the workload process -------------------------------------------------- */

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "terminating connection due to immediate shutdown" is expected */
}

static int pause_max_us = 2000;

void tmf_workload_pace(int max_pause_us)
{
    pause_max_us = max_pause_us;
}

static void __attribute__((noreturn)) workload_main(int ctl, const char *conninfo, uint64_t seed)
{
    PGconn *c = NULL;
    tmt_rng rng = {seed};
    int64_t next = 0;
    long done = 0;
    bool paused = false;
    for (;;) {
        struct pollfd p = {.fd = ctl, .events = POLLIN};
        if (poll(&p, 1, paused ? -1 : 0) > 0) {
            char cmd;
            if (read(ctl, &cmd, 1) != 1)
                _exit(0);
            if (cmd == 'q') {
                PQfinish(c);
                _exit(write(ctl, &done, sizeof done) == sizeof done ? 0 : 1);
            }
            paused = cmd == 'p';
            if (paused && write(ctl, "k", 1) != 1)
                _exit(1);
            continue;
        }
        if (!c || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = PQconnectdb(conninfo);
            if (PQstatus(c) != CONNECTION_OK)
                usleep(100000); /* the server is away */
            else
                PQsetNoticeProcessor(c, quiet, NULL);
            continue;
        }
        done++;
        if (tmf_tx(c, &rng, &next) != 0) {
            PQfinish(c);
            c = NULL;
            continue;
        }
        usleep((useconds_t)tmt_below(&rng, (uint64_t)pause_max_us));
    }
}

void tmf_workload_start(tmf_workload *w, const char *conninfo, uint64_t seed)
{
    int sv[2];
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    w->pid = tm_fork_child();
    ck_assert_int_ge(w->pid, 0);
    if (w->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        workload_main(sv[1], conninfo, seed);
    }
    close(sv[1]);
    w->ctl = sv[0];
}

static void ctl_send(tmf_workload *w, char cmd)
{
    ck_assert_msg(write(w->ctl, &cmd, 1) == 1, "workload process gone");
}

static void ctl_recv(tmf_workload *w, void *buf, size_t len)
{
    struct pollfd p = {.fd = w->ctl, .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 120000) == 1, "the workload did not answer in 120 s");
    ck_assert_msg(read(w->ctl, buf, len) == (ssize_t)len, "workload process gone");
}

void tmf_workload_pause(tmf_workload *w)
{
    char ack;
    ctl_send(w, 'p');
    ctl_recv(w, &ack, 1);
}

void tmf_workload_resume(tmf_workload *w)
{
    ctl_send(w, 'r');
}

long tmf_workload_stop(tmf_workload *w)
{
    long done = 0;
    ctl_send(w, 'q');
    ctl_recv(w, &done, sizeof done);
    waitpid(w->pid, NULL, 0);
    close(w->ctl);
    return done;
}

/* ---- capture ------------------------------------------------------------- */

static bool with_ballast;

void tmf_capture_ballast(bool on)
{
    with_ballast = on;
}

pid_t tmf_spawn(const char *journal, const char *conninfo, const char *const *env,
                const char *const *extra)
{
    const char *argv[48] = {TM_BINARY,
                            "capture",
                            "--journal",
                            journal,
                            "--source",
                            conninfo,
                            "--table",
                            "public.events",
                            "--table",
                            "public.expected",
                            "--fsync-interval-ms",
                            "20"};
    int n = 12;
    if (with_ballast) {
        argv[n++] = "--table";
        argv[n++] = "public.ballast";
    }
    for (int i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return tmc_spawnv(journal, env, argv);
}

void tmf_catch_up(PGconn *c, const char *journal, const char *conninfo)
{
    char *lsn = tmc_current_lsn(c);
    const char *extra[] = {"--endpos", lsn, NULL};
    pid_t pid = tmf_spawn(journal, conninfo, NULL, extra);
    int status = tmc_wait_exit(pid, 180000);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "capture to %s: status %d; its log:\n%s", lsn, status, tmf_log_tail(journal));
    free(lsn);
}

const char *tmf_log_tail(const char *journal)
{
    const char *log = tmc_log(journal);
    size_t n = strlen(log);
    return n > 3000 ? log + n - 3000 : log;
}

/* ---- the audit ------------------------------------------------------------- */

typedef struct jtx {
    uint32_t xid;
    uint64_t commit_lsn;
    long events, expected; /* changes per table */
} jtx;

typedef struct xidlist {
    uint32_t *v;
    size_t n, cap;
} xidlist;

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 256;
    void *q = realloc(p, *cap * size);
    ck_assert_msg(q != NULL, "out of memory");
    return q;
}

static void xid_push(xidlist *l, uint32_t x)
{
    l->v = grow(l->v, &l->cap, l->n, sizeof *l->v);
    l->v[l->n++] = x;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* How often x is in the sorted list. */
static long count_in(const xidlist *l, uint32_t x)
{
    uint32_t *p = l->n ? bsearch(&x, l->v, l->n, sizeof *l->v, cmp_u32) : NULL;
    if (!p)
        return 0;
    uint32_t *lo = p, *hi = p;
    while (lo > l->v && lo[-1] == x)
        lo--;
    while (hi + 1 < l->v + l->n && hi[1] == x)
        hi++;
    return hi - lo + 1;
}

/* The first column of a tuple as a number (the xid of an expected row). */
static uint32_t tuple_first_u32(const Tidemark__Tuple *t)
{
    if (!t || t->kinds.len < 1 || t->kinds.data[0] != 't' || t->n_lengths < 1)
        return 0;
    char num[32];
    size_t len = t->lengths[0] < sizeof num - 1 ? t->lengths[0] : sizeof num - 1;
    memcpy(num, t->data.data, len);
    num[len] = '\0';
    return (uint32_t)(strtoull(num, NULL, 10) % 4294967296ull);
}

enum { REL_OTHER, REL_EVENTS, REL_EXPECTED };

/* The journal's transactions (sorted by xid in *byxid) and the xids of the
 * expected rows its base snapshots hold. */
static jtx *scan_journal(const char *dir, size_t *n, xidlist *snap, tmf_audit *a)
{
    tm_reader *r;
    tm_error err;
    ck_assert_msg(tm_reader_open(dir, &r, &err) == 0, "reader: %s", err.msg);
    uint32_t rel_oid[64];
    int rel_kind[64], nrel = 0;
    jtx *v = NULL;
    size_t len = 0, cap = 0;
    bool in_snapshot = false;
    const Tidemark__Record *rec;
    int rc;
    while ((rc = tm_reader_next(r, &rec, &err)) == 1) {
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION && nrel < 64) {
            const char *name = rec->relation->name ? rec->relation->name : "";
            rel_oid[nrel] = rec->relation->oid;
            rel_kind[nrel++] = !strcmp(name, "events")     ? REL_EVENTS
                               : !strcmp(name, "expected") ? REL_EXPECTED
                                                           : REL_OTHER;
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
            in_snapshot = rec->begin->snapshot;
            if (in_snapshot)
                continue;
            if (len > 0 && rec->begin->commit_lsn <= v[len - 1].commit_lsn)
                a->disorder++;
            v = grow(v, &cap, len, sizeof *v);
            v[len++] = (jtx){.xid = rec->begin->xid, .commit_lsn = rec->begin->commit_lsn};
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_CHANGE) {
            int kind = REL_OTHER;
            for (int i = nrel - 1; i >= 0; i--)
                if (rel_oid[i] == rec->change->relation_oid) {
                    kind = rel_kind[i];
                    break;
                }
            if (in_snapshot) {
                if (kind == REL_EXPECTED && rec->change->op == TIDEMARK__CHANGE__OP__INSERT)
                    xid_push(snap, tuple_first_u32(rec->change->new_tuple));
            } else {
                ck_assert_msg(len > 0, "a change outside a transaction");
                v[len - 1].events += kind == REL_EVENTS;
                v[len - 1].expected += kind == REL_EXPECTED;
            }
        }
    }
    ck_assert_msg(rc == 0, "reading journal %s: %s", dir, err.msg);
    tm_reader_close(r);
    *n = len;
    return v;
}

static int cmp_jtx(const void *a, const void *b)
{
    return cmp_u32(&((const jtx *)a)->xid, &((const jtx *)b)->xid);
}

void tmf_audit_journal(PGconn *c, const char *journal, tmf_audit *a)
{
    memset(a, 0, sizeof *a);
    xidlist snap = {0}, live = {0}, jx = {0};
    size_t n;
    jtx *v = scan_journal(journal, &n, &snap, a);
    if (n) /* (qsort and bsearch take no NULL, even for nothing) */
        qsort(v, n, sizeof *v, cmp_jtx);
    for (size_t i = 0; i < n; i++)
        xid_push(&jx, v[i].xid);
    if (snap.n)
        qsort(snap.v, snap.n, sizeof *snap.v, cmp_u32);

    PGresult *r = tm_pg_query(c, "SELECT xid %% 4294967296, changes FROM expected ORDER BY 1");
    a->checked = PQntuples(r);
    for (int i = 0; i < PQntuples(r); i++) {
        uint32_t xid = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        long changes = atol(PQgetvalue(r, i, 1));
        xid_push(&live, xid);
        long in_journal = count_in(&jx, xid), in_snap = count_in(&snap, xid);
        if (in_journal + in_snap == 0)
            a->lost++;
        else if (in_journal + in_snap > 1)
            a->duplicated++;
        if (in_journal == 1) {
            jtx key = {.xid = xid};
            const jtx *t = bsearch(&key, v, n, sizeof *v, cmp_jtx);
            a->wrong += t->events != changes || t->expected != 1;
        }
    }
    PQclear(r);
    for (size_t i = 0; i < n; i++)
        a->extra += count_in(&live, v[i].xid) == 0;
    if (getenv("TMF_DEBUG"))
        fprintf(stderr, "audit %s: %zu journal transactions, %zu snapshot rows, %ld live\n",
                journal, n, snap.n, a->checked);
    free(v);
    free(snap.v);
    free(live.v);
    free(jx.v);
}

void tmf_audit_add(tmf_audit *a, const tmf_audit *b)
{
    if (b->checked > a->checked)
        a->checked = b->checked;
    a->lost += b->lost;
    a->duplicated += b->duplicated;
    a->extra += b->extra;
    a->wrong += b->wrong;
    a->disorder += b->disorder;
}

bool tmf_audit_clean(const tmf_audit *a)
{
    return !a->lost && !a->duplicated && !a->extra && !a->wrong && !a->disorder;
}

void tmf_matrix(const char *kind, long injected, const tmf_audit *a)
{
    printf("fault-matrix: %-44s injected %5ld | transactions checked %7ld | lost %ld | "
           "duplicated %ld",
           kind, injected, a->checked, a->lost, a->duplicated);
    if (a->extra || a->wrong || a->disorder)
        printf(" | never committed %ld | wrong changes %ld | out of order %ld", a->extra, a->wrong,
               a->disorder);
    printf("\n");
    fflush(stdout);
}

void tmf_matrix_check(const char *kind, long injected, const tmf_audit *a)
{
    tmf_matrix(kind, injected, a);
    ck_assert_msg(tmf_audit_clean(a),
                  "%s: lost %ld, duplicated %ld, never committed %ld, wrong changes %ld, out of "
                  "order %ld",
                  kind, a->lost, a->duplicated, a->extra, a->wrong, a->disorder);
}

void tmf_wait_streaming(const char *journal, pid_t pid)
{
    char path[4096], want[64], text[1024];
    snprintf(path, sizeof path, "%s/capture.status", journal);
    snprintf(want, sizeof want, "pid=%ld\nstate=running\n", (long)pid);
    for (long long until = tm_now_ms() + 120000; tm_now_ms() < until; usleep(20000))
        if (tm_read_small_file(path, text, sizeof text) > 0 && strstr(text, want))
            return;
    ck_abort_msg("capture %ld never reported that it streams; its log:\n%s", (long)pid,
                 tmf_log_tail(journal));
}

void tmf_check_caught_up(PGconn *c, const char *journal, pid_t pid, const char *slot,
                         const char *kind, tmf_audit *sum)
{
    /* the slot may be past the LSN from the capture before: this one must
     * be streaming too (and handle SIGTERM) */
    tmf_wait_streaming(journal, pid);
    char *lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, slot, lsn, 120000),
                  "%s: capture did not catch up; its log:\n%s", kind, tmf_log_tail(journal));
    free(lsn);
    ck_assert_msg(tmc_wait_exit(pid, 0) == -1, "%s: capture exited; its log:\n%s", kind,
                  tmf_log_tail(journal));
    tmf_audit a;
    tmf_audit_journal(c, journal, &a);
    if (!tmf_audit_clean(&a))
        tmf_matrix_check(kind, 0, &a);
    tmf_audit_add(sum, &a);
}

void tmf_oracle(PGconn *c, const char *journal, const char *kind, tmf_audit *a)
{
    tmf_audit_journal(c, journal, a);
    if (!tmf_audit_clean(a))
        tmf_matrix_check(kind, 0, a);
    char *lsn = tmc_current_lsn(c);
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 120000};
    tm_tidemark(&r, &o, "replay", "--journal", journal, "--lsn", lsn, "--table", "public.events",
                NULL);
    tm_assert_exit(&r, 0);
    char *live = tm_pg_copy_csv(c, "SELECT * FROM events ORDER BY id");
    ck_assert_msg(r.out_len == strlen(live) && memcmp(r.out, live, r.out_len) == 0,
                  "%s: replay at %s differs from the live table (%zu bytes, live %zu)", kind, lsn,
                  r.out_len, strlen(live));
    tm_run_result_free(&r);
    free(live);
    free(lsn);
    tm_tidemark(&r, &o, "verify", "--journal", journal, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
}

void tmf_shim_env(tmf_shim *s, const char *journal, const char *op, const char *err, long nth)
{
    char real[PATH_MAX], *parent = strdup(journal);
    *strrchr(parent, '/') = '\0';
    ck_assert_msg(realpath(parent, real) != NULL, "%s", parent);
    free(parent);
    snprintf(s->log, sizeof s->log, "%s/faultfs.log", real);
    unlink(s->log);
    const char *a = getenv("ASAN_OPTIONS");
    snprintf(s->v[0], sizeof s->v[0], "TM_FAULT_DIR=%s/journal", real);
    snprintf(s->v[1], sizeof s->v[1], "TM_FAULT_LOG=%s", s->log);
    snprintf(s->v[2], sizeof s->v[2], "TM_FAULT_OP=%s", op);
    snprintf(s->v[3], sizeof s->v[3], "TM_FAULT_ERR=%s", err);
    snprintf(s->v[4], sizeof s->v[4], "TM_FAULT_NTH=%ld", nth);
    /* the shim comes before the sanitizer's runtime */
    snprintf(s->v[5], sizeof s->v[5], "ASAN_OPTIONS=%s%sverify_asan_link_order=0", a ? a : "",
             a ? ":" : "");
    s->env[0] = "LD_PRELOAD=" TM_FAULTFS;
    for (int i = 0; i < 6; i++)
        s->env[1 + i] = s->v[i];
    s->env[7] = NULL;
}

uint64_t tmf_slot_confirmed(PGconn *c, const char *slot)
{
    char *v = tm_pg_query_value(c,
                                "SELECT coalesce((SELECT confirmed_flush_lsn::text FROM "
                                "pg_replication_slots WHERE slot_name = '%s'), '0/0')",
                                slot);
    uint64_t lsn = 0;
    ck_assert_msg(v && tm_lsn_parse(v, &lsn) == 0, "confirmed_flush_lsn %s", v ? v : "NULL");
    free(v);
    return lsn;
}

uint64_t tmf_mark_confirmed(const char *journal)
{
    tm_mark m;
    tm_error err;
    int rc = tm_mark_read(journal, &m, &err);
    ck_assert_msg(rc >= 0, "mark of %s: %s", journal, err.msg);
    return rc == 1 ? m.lsn : 0;
}
