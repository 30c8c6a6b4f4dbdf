/*
 * The capture loop: START_REPLICATION on the slot, decode pgoutput, buffer
 * each transaction until its Commit, append it to the journal, group-commit
 * fsyncs, and confirm to the server only what is durable.
 *
 * Exactly once: the server resends from its confirmed_flush_lsn after any
 * restart; transactions whose commit LSN the journal already holds are
 * skipped. The flush position sent is the end LSN of the last durable
 * commit, or a keepalive's position when nothing at all is pending, and it
 * is recorded in the journal's durable mark before it is sent (confirmed
 * <= mark <= fsynced data): at the next start everything above the mark is
 * cut and fetched again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "capture/loop/capture.h"
#include "capture/loop/sqlguard.h"
#include "capture/monitor/stats.h"
#include "capture/source/slothealth.h"
#include "capture/loop/archiver.h"
#include "capture/loop/maint.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "capture/decode/pgoutput.h"
#include "capture/decode/relcache.h"
#include "capture/decode/relversion.h"
#include "capture/source/replproto.h"
#include "capture/snapshot/rewrite.h"
#include "store/common/tm_time.h"
#include "capture/decode/tuple_encode.h"
#include "capture/decode/streamtx.h"
#include "capture/decode/txbuf.h"

/* A commit younger than this is live (the server's clock; one far behind
 * ours makes every commit a backlog's, as before). */
#define LIVE_AGE_US 1000000
#define LIVE_FSYNC_US 40000

/* Relation versions to journal before the transaction being received. */
typedef struct pending_rel {
    tm_catrel cr;
    struct pending_rel *next;
} pending_rel;

typedef struct stream {
    const tm_capture_opts *o;
    const tm_meta *meta;
    tm_writer *w;
    PGconn *conn, *sql;
    tm_pgo_decoder dec;
    tm_relcache *rels;
    tm_txbuf *tx;
    tm_tuple_enc enc_old, enc_new;

    /* the transaction being received */
    bool in_tx;
    uint32_t xid;
    uint64_t final_lsn;
    int64_t commit_time;
    char origin[128];
    uint64_t origin_lsn;
    pending_rel *pending;
    tm_relrows *counts; /* updated and deleted rows per relation, for the mass-change warning */
    size_t ncounts, counts_cap;

    /* transactions streamed while in progress (proto_version 2) */
    tm_streams *streams;
    bool in_stream;      /* between Stream Start and Stream Stop */
    tm_streamtx *cur;    /* the one of that block */
    uint32_t stream_xid; /* its top-level xid */

    /* positions */
    uint64_t received_lsn;  /* highest WAL position seen from the server */
    uint64_t keepalive_lsn; /* confirmable keepalive position (nothing pending) */
    uint64_t confirmed_lsn; /* last flush position sent */
    bool dirty;             /* journal has ended transactions not yet fsynced */
    size_t pumped;          /* bytes of messages handled since the last read */
    int64_t dirty_since;
    int64_t last_status; /* last standby status update sent */
    int64_t last_log;
    int64_t last_recv; /* last message from the server (monotonic) */
    int64_t last_ping; /* last status update that asked for a reply */
    int64_t log_due;   /* a status line waits for a reply to a ping since */

    /* table rewrites: fresh snapshots owed, one taken and waiting; the
     * snapshots journaled wait for a sync (clear_after_sync), then for the
     * mark to cover that sync (clear_after_confirm), before they are
     * forgotten: what lies above the mark is cut at the next start */
    tm_oidlist tables, owed, clear_after_sync, clear_after_confirm;
    tm_deferred_snapshot deferred;
    bool ddl_seen;

    /* the live table set (liveset.c): the tables captured (started, not
     * ended), and the TableRemoved records written, waiting like the
     * snapshots for a sync and the mark before the set forgets them */
    tm_oidlist captured, removed_after_sync, removed_after_confirm;
    int64_t last_refresh; /* publication last read (monotonic) */
    bool recheck_set;     /* a table the set does not hold sent a Relation */
    int64_t last_commit_time;

    /* counters for the status line */
    uint64_t n_tx, n_changes, n_skipped;
    bool done;

    /* what the status line, the heartbeat and /metrics show (stats.h) */
    tm_capture_stats *st;
    tm_lag_track lag;
    bool slot_query;   /* a slot query is in flight on sql (sql_settle) */
    bool tables_query; /* the publication's tables are being read on sql */
    int64_t last_wal_warning;
    tm_wal_risk wal_risk;
    bool keep_noted;
    bool live;             /* the journaled transactions not yet synced include a recent commit */
    tm_maint *maint;       /* the background checkpoint runs (maint.h); NULL: off */
    tm_archiver *archiver; /* the archive copy (archiver.h); NULL: off */
} stream;

static int64_t now_us(void)
{
    return tm_mono_us();
}

/* How far the server is (a position it reported, now). */
static void server_at(stream *s, uint64_t lsn)
{
    if (lsn > s->received_lsn)
        s->received_lsn = lsn;
    if (lsn > s->confirmed_lsn)
        tm_lag_seen(&s->lag, lsn, now_us());
    if (lsn > atomic_load_explicit(&s->st->server_lsn, memory_order_relaxed))
        atomic_store_explicit(&s->st->server_lsn, lsn, memory_order_relaxed);
    atomic_store_explicit(&s->st->behind_since, tm_lag_since(&s->lag), memory_order_relaxed);
}

/* The periodic slot query on sql (sent by maybe_log, read as it arrives,
 * so a slow server never holds up the stream) is finished before sql is
 * used for anything else. */
/* Returns whether the deadline cut the session (sqlguard.h). */
static bool sql_settle(stream *s)
{
    if (!s->slot_query && !s->tables_query)
        return false;
    PGresult *r;
    tm_sqlguard_arm(s->sql, (unsigned)s->o->receive_timeout_s);
    while ((r = PQgetResult(s->sql)))
        PQclear(r);
    s->slot_query = s->tables_query = false;
    return tm_sqlguard_disarm();
}

static void clear_pending(stream *s)
{
    while (s->pending) {
        pending_rel *n = s->pending->next;
        tm_catrel_free(&s->pending->cr);
        free(s->pending);
        s->pending = n;
    }
}

static void reset_tx(stream *s)
{
    s->in_tx = false;
    tm_txbuf_reset(s->tx);
    clear_pending(s);
    s->ncounts = 0;
    s->origin[0] = '\0';
    s->origin_lsn = 0;
}

static void oidlist_remove(tm_oidlist *l, uint32_t oid)
{
    for (int i = 0; i < l->n; i++)
        if (l->oids[i] == oid) {
            l->oids[i] = l->oids[--l->n];
            return;
        }
}

static uint64_t flush_position(const stream *s)
{
    uint64_t d = tm_writer_durable_end_lsn(s->w);
    if (!s->in_tx && !s->dirty && s->keepalive_lsn > d)
        return s->keepalive_lsn;
    return d;
}

/* Records the flush position in the journal's durable mark (an fdatasync
 * when it moved), then forgets the owed snapshots the mark now covers. */
static int confirm(stream *s, tm_error *err)
{
    if (tm_writer_confirm(s->w, flush_position(s), err) != 0)
        return -1;
    if (s->clear_after_confirm.n == 0 && s->removed_after_confirm.n == 0)
        return 0;
    /* The set changes the mark now covers. */
    bool set_changed = s->removed_after_confirm.n > 0;
    for (int k = 0; k < s->clear_after_confirm.n; k++)
        if (!tm_oidlist_has(&s->captured, s->clear_after_confirm.oids[k])) {
            if (tm_oidlist_add(&s->captured, s->clear_after_confirm.oids[k]) != 0) {
                tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
                return -1;
            }
            set_changed = true;
        }
    for (int k = 0; k < s->removed_after_confirm.n; k++)
        oidlist_remove(&s->captured, s->removed_after_confirm.oids[k]);
    tm_oidlist_free(&s->removed_after_confirm);
    if (set_changed && tm_oidfile_save(s->o->journal, TM_CAPTURED_FILE, &s->captured, err) != 0)
        return -1;
    if (s->clear_after_confirm.n == 0)
        return 0;
    tm_oidlist keep = {0};
    for (int i = 0; i < s->owed.n; i++) {
        bool done = false;
        for (int k = 0; k < s->clear_after_confirm.n; k++)
            done |= s->owed.oids[i] == s->clear_after_confirm.oids[k];
        if (!done)
            tm_oidlist_add(&keep, s->owed.oids[i]);
    }
    tm_oidlist_free(&s->owed);
    s->owed = keep;
    tm_oidlist_free(&s->clear_after_confirm);
    return tm_oidfile_save(s->o->journal, TM_OWED_FILE, &s->owed, err);
}

/* A standby status update confirming what the durable mark holds (write,
 * flush and apply alike: never more than the mark). Returns 0, -1 when the
 * connection failed, -2 when the mark could not be written (err). */
static int send_status(stream *s, bool reply_requested, tm_error *err)
{
    if (confirm(s, err) != 0)
        return -2;
    char buf[TM_REPL_STATUS_LEN];
    uint64_t flush = tm_writer_confirmed_lsn(s->w);
    size_t n = tm_repl_build_status(buf, flush, flush, flush, tm_time_now(), reply_requested);
    if (PQputCopyData(s->conn, buf, (int)n) <= 0 || PQflush(s->conn) < 0) {
        tm_error_setc(err, TM_ERR_DB, "sending a status update to the server: %s",
                      PQerrorMessage(s->conn));
        return -1;
    }
    s->confirmed_lsn = flush;
    s->last_status = now_us();
    tm_lag_confirmed(&s->lag, flush);
    atomic_store_explicit(&s->st->confirmed_lsn, flush, memory_order_relaxed);
    atomic_store_explicit(&s->st->behind_since, tm_lag_since(&s->lag), memory_order_relaxed);
    return 0;
}

static int sync_journal(stream *s, tm_error *err)
{
    if (!s->dirty)
        return 0;
    int64_t t0 = now_us();
    if (tm_writer_sync(s->w, err) != 0)
        return -1;
    tm_stats_fsync(s->st, (now_us() - t0) * 1000);
    s->live = false;
    atomic_store_explicit(&s->st->bytes, tm_writer_bytes_written(s->w), memory_order_relaxed);
    s->dirty = false;
    /* The snapshots journaled so far are durable: forgotten once the mark
     * covers them. */
    for (int i = 0; i < s->clear_after_sync.n; i++)
        if (tm_oidlist_add(&s->clear_after_confirm, s->clear_after_sync.oids[i]) != 0) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return -1;
        }
    tm_oidlist_free(&s->clear_after_sync);
    for (int i = 0; i < s->removed_after_sync.n; i++)
        if (tm_oidlist_add(&s->removed_after_confirm, s->removed_after_sync.oids[i]) != 0) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return -1;
        }
    tm_oidlist_free(&s->removed_after_sync);
    return 0;
}

static void mark_dirty(stream *s)
{
    if (!s->dirty)
        s->dirty_since = now_us();
    s->dirty = true;
}

/* A table's rows changed without row changes: it is owed a fresh snapshot.
 * Saved before anything that revealed it can become durable. */
static int owe_snapshot(stream *s, uint32_t oid, tm_error *err)
{
    for (int i = 0; i < s->owed.n; i++)
        if (s->owed.oids[i] == oid)
            return 0;
    if (tm_oidlist_add(&s->owed, oid) != 0) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    return tm_oidfile_save(s->o->journal, TM_OWED_FILE, &s->owed, err);
}

/* Takes the owed snapshots when none is waiting. */
static int take_owed(stream *s, tm_error *err)
{
    if (s->owed.n == 0 || s->deferred.ready)
        return 0;
    sql_settle(s);
    char spool[4096];
    snprintf(spool, sizeof spool, "%s/snapshot.tmp", s->o->journal);
    if (tm_deferred_take(&s->deferred, s->o->source, s->sql, s->w, &s->owed, spool,
                         s->o->tx_memory_budget, err) != 0)
        return -1;
    char l[TM_LSN_BUFLEN];
    tm_log_info("snapshot of %d table(s) that joined the capture set or were rewritten, %llu "
                "rows, to be journaled at %s",
                s->deferred.n, (unsigned long long)s->deferred.rows,
                tm_lsn_format(s->deferred.lsn, l));
    return 0;
}

/* Journals the waiting snapshot once the stream has reached its LSN. */
static int write_deferred_upto(stream *s, uint64_t lsn, tm_error *err)
{
    if (!s->deferred.ready || lsn < s->deferred.lsn)
        return 0;
    int rc = tm_deferred_write(&s->deferred, s->w, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        for (int i = 0; i < s->deferred.n; i++)
            tm_oidlist_add(&s->clear_after_sync, s->deferred.rels[i].rel.oid);
        mark_dirty(s);
    }
    /* Written, or voided by a schema change since: the owed set decides. */
    tm_deferred_clear(&s->deferred);
    return 0;
}

/* "schema.name" of a table the journal knows, else its oid. */
static const char *table_name(stream *s, uint32_t oid, char *buf, size_t len)
{
    const Tidemark__Relation *r = tm_writer_relation(s->w, oid);
    if (r)
        snprintf(buf, len, "%s.%s", r->namespace_, r->name);
    else
        snprintf(buf, len, "the table of oid %u", oid);
    return buf;
}

/* A table left the capture set: a TableRemoved record says up to where its
 * rows are known (the last commit journaled; with scripts/ddl-messages.sql
 * that is the ALTER PUBLICATION itself). */
static int record_removal(stream *s, uint32_t oid, tm_error *err)
{
    char q[300];
    if (tm_oidlist_has(&s->owed, oid)) {
        oidlist_remove(&s->owed, oid);
        if (tm_oidfile_save(s->o->journal, TM_OWED_FILE, &s->owed, err) != 0)
            return -1;
        for (int i = 0; i < s->deferred.n; i++)
            if (s->deferred.rels[i].rel.oid == oid) {
                tm_deferred_clear(&s->deferred); /* the others are taken again */
                break;
            }
    }
    if (!tm_oidlist_has(&s->captured, oid) || tm_oidlist_has(&s->removed_after_sync, oid) ||
        tm_oidlist_has(&s->removed_after_confirm, oid))
        return 0;
    const Tidemark__Relation *r = tm_writer_relation(s->w, oid);
    Tidemark__TableRemoved tr = TIDEMARK__TABLE_REMOVED__INIT;
    tr.has_oid = tr.has_lsn = tr.has_time = 1;
    tr.oid = oid;
    tr.lsn = tm_writer_last_commit_lsn(s->w);
    tr.time = s->last_commit_time ? s->last_commit_time : tm_time_now();
    tr.namespace_ = r ? r->namespace_ : NULL;
    tr.name = r ? r->name : NULL;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_TABLE_REMOVED;
    rec.table_removed = &tr;
    if (tm_writer_put_standalone(s->w, &rec, err) != 0 ||
        tm_oidlist_add(&s->removed_after_sync, oid) != 0)
        return -1;
    mark_dirty(s);
    char l[TM_LSN_BUFLEN];
    tm_log_info("%s left the capture set (publication \"%s\" no longer has it): its rows are "
                "known up to %s",
                table_name(s, oid, q, sizeof q), s->meta->publication, tm_lsn_format(tr.lsn, l));
    return 0;
}

/* A table joined the capture set: its snapshot is owed (saved before
 * anything of it can be durable), taken after the current transaction. */
static int table_joined(stream *s, uint32_t oid, tm_error *err)
{
    if (tm_oidlist_has(&s->captured, oid) || tm_oidlist_has(&s->owed, oid))
        return 0;
    char q[300];
    tm_oidlist one = {&oid, 1};
    if (s->sql &&
        tm_replica_identity_check(s->sql, &one, s->o->set_replica_identity_full, err) != 0)
        return -1;
    tm_log_info("table %u (%s) joined the capture set: taking its snapshot; its capture starts "
                "there",
                oid, table_name(s, oid, q, sizeof q));
    return owe_snapshot(s, oid, err);
}

/* Compares the publication (s->tables, read just before) with the tables
 * captured: snapshots for those that joined, TableRemoved for those that
 * left. Between transactions only. */
static int sync_table_set(stream *s, tm_error *err)
{
    for (int i = 0; i < s->tables.n; i++)
        if (table_joined(s, s->tables.oids[i], err) != 0)
            return -1;
    for (int i = 0; i < s->captured.n; i++)
        if (!tm_oidlist_has(&s->tables, s->captured.oids[i]) &&
            record_removal(s, s->captured.oids[i], err) != 0)
            return -1;
    for (int i = s->owed.n; i-- > 0;)
        if (!tm_oidlist_has(&s->tables, s->owed.oids[i]) &&
            record_removal(s, s->owed.oids[i], err) != 0)
            return -1;
    s->last_refresh = now_us();
    return 0;
}

/* Reads the publication again, then sync_table_set. */
static int refresh_table_set(stream *s, tm_error *err)
{
    bool cut = sql_settle(s);
    tm_oidlist now = {0};
    int rc = -1;
    if (!cut) {
        tm_sqlguard_arm(s->sql, (unsigned)s->o->receive_timeout_s);
        rc = tm_publication_tables(s->sql, s->meta->publication, &now, err);
        cut = tm_sqlguard_disarm();
    }
    if (cut)
        tm_error_setc(err, TM_ERR_DB,
                      "nothing came from the server for %d s (a catalog query); "
                      "taking the link for dead",
                      s->o->receive_timeout_s);
    if (rc != 0 || cut) {
        tm_oidlist_free(&now);
        return -1;
    }
    tm_oidlist_free(&s->tables);
    s->tables = now;
    return sync_table_set(s, err);
}

/* The status line. Lag is what is known, never a guess (stats.h): the
 * bytes from the confirmed position to the server's WAL position, and the
 * age of the oldest position the server reported that is not confirmed
 * yet, or the time since anything came from the server when that is
 * longer than a few seconds (a dead link never shows as no lag). The slot's
 * retained WAL is the last periodic query's. */
static void log_status(stream *s)
{
    char c[TM_LSN_BUFLEN], slot[160] = "";
    int64_t now = now_us();
    if (atomic_load(&s->st->slot_known)) {
        int ws = atomic_load(&s->st->wal_status);
        int64_t safe = atomic_load(&s->st->safe_wal_size);
        int n = snprintf(slot, sizeof slot, " retained=%lluB wal_status=%s",
                         (unsigned long long)atomic_load(&s->st->retained_wal),
                         ws > 0 && ws < TM_WAL_STATUSES ? tm_wal_statuses[ws] : "-");
        if (safe != INT64_MIN && n > 0 && (size_t)n < sizeof slot)
            snprintf(slot + n, sizeof slot - (size_t)n, " safe_wal_size=%lldMB",
                     (long long)(safe / 1048576));
    }
    tm_log_info("tx=%llu changes=%llu skipped=%llu bytes=%llu confirmed=%s lag=%lluB/%.1fs%s",
                (unsigned long long)s->n_tx, (unsigned long long)s->n_changes,
                (unsigned long long)s->n_skipped, (unsigned long long)tm_writer_bytes_written(s->w),
                tm_lsn_format(s->confirmed_lsn, c), (unsigned long long)tm_stats_lag_bytes(s->st),
                tm_stats_lag_seconds(s->st, now), slot);
    s->last_log = now;
    s->log_due = 0;
}

/* How often a slot that keeps approaching max_slot_wal_keep_size is
 * warned about again. */
#define WAL_WARNING_US (300 * INT64_C(1000000))

/* The slot query's result, when it has come: published, and a warning
 * when the slot nears losing WAL (on entering that state, then every five
 * minutes while in it). A failed query is counted and said at debug level:
 * the next start's slot check is the one that stops capture. */
static void slot_result(stream *s)
{
    if (!s->slot_query || !PQconsumeInput(s->sql) || PQisBusy(s->sql)) {
        if (s->slot_query && PQstatus(s->sql) == CONNECTION_BAD)
            s->slot_query = false;
        return;
    }
    PGresult *r = PQgetResult(s->sql);
    tm_slot_info si;
    tm_error err;
    if (tm_slot_info_parse(r, s->meta->slot, &si, &err) == 0) {
        tm_stats_slot(s->st, &si);
        server_at(s, si.server_lsn);
        char why[400];
        tm_wal_risk risk = tm_slot_wal_risk(&si, why, sizeof why);
        int64_t now = now_us();
        if (risk != TM_WAL_OK &&
            (risk != s->wal_risk || now - s->last_wal_warning >= WAL_WARNING_US)) {
            tm_log_warning("replication slot \"%s\": %s", s->meta->slot, why);
            s->last_wal_warning = now;
        }
        s->wal_risk = risk;
        if (si.max_keep_bytes < 0 && !s->keep_noted)
            tm_log_info("note: max_slot_wal_keep_size is unlimited on the server: while capture "
                        "is stopped or behind, the slot keeps WAL without bound until the "
                        "server's disk is full; set it (e.g. ALTER SYSTEM SET "
                        "max_slot_wal_keep_size = '50GB') and watch tidemark status --check");
        s->keep_noted = true;
    } else {
        tm_stats_error(s->st, TM_ERRKIND_SERVER);
        tm_log_debug("%s", err.msg);
    }
    PQclear(r);
    sql_settle(s);
}

/* An updated or deleted row, for the mass-change warning. */
static int count_row(stream *s, uint32_t oid, tm_error *err)
{
    if (s->in_stream)
        return tm_streamtx_count_row(s->cur, oid, err);
    if (tm_relrows_add(&s->counts, &s->ncounts, &s->counts_cap, oid, 1) != 0) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    return 0;
}

/* A record of the transaction being received: a plain one, or the
 * streamed one of this block (m's xid names the subtransaction). */
static int add_record(stream *s, const tm_pgo_msg *m, const Tidemark__Record *rec, tm_error *err)
{
    if (s->in_stream)
        return tm_streamtx_add(s->cur, m->has_xid ? m->xid : s->stream_xid, rec, err);
    return tm_txbuf_add(s->tx, rec, err);
}

static int on_relation(stream *s, const tm_pgo_relation *m, tm_error *err)
{
    tm_rel *r;
    bool changed;
    if (tm_relcache_put(s->rels, m, &r, &changed, err) != 0)
        return -1;
    if (!tm_oidlist_has(&s->captured, m->oid))
        s->recheck_set = true; /* it joined the publication, most likely */
    if (!changed && r->version != 0)
        return 0;
    sql_settle(s);
    pending_rel *p = calloc(1, sizeof *p);
    if (!p || tm_relversion_build(s->sql, r, &p->cr, err) != 0) {
        free(p);
        return -1;
    }
    const Tidemark__Relation *last = tm_writer_relation(s->w, m->oid);
    if (last && tm_relation_equal(last, &p->cr.rel)) {
        r->version = last->version;
        tm_catrel_free(&p->cr);
        free(p);
        return 0;
    }
    r->version = (last ? last->version : 0) + 1;
    /* A versions written for a transaction that then turns out to be a
     * resend is harmless: the next comparison finds it equal. */
    for (pending_rel *q = s->pending; q; q = q->next)
        if (q->cr.rel.oid == m->oid && q->cr.rel.version >= r->version)
            r->version = q->cr.rel.version + 1;
    p->cr.rel.has_version = p->cr.rel.has_lsn = 1;
    p->cr.rel.version = r->version;
    p->cr.rel.lsn = s->in_stream ? s->received_lsn : s->final_lsn;
    if (last && last->filenode != p->cr.rel.filenode) {
        tm_log_debug("%s.%s has a new file node (rewrite or truncate)", m->nspname, m->relname);
        if (owe_snapshot(s, m->oid, err) != 0) {
            tm_catrel_free(&p->cr);
            free(p);
            return -1;
        }
    }
    if (s->in_stream) {
        /* The streamed transaction commits later, after others perhaps: its
         * schema version is journaled now (one that is never used is
         * harmless), so that the versions numbered since build on it. */
        Tidemark__Record rec = TIDEMARK__RECORD__INIT;
        rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
        rec.relation = &p->cr.rel;
        int rc = tm_writer_put_standalone(s->w, &rec, err);
        tm_catrel_free(&p->cr);
        free(p);
        if (rc == 0)
            mark_dirty(s);
        return rc;
    }
    p->next = s->pending;
    s->pending = p;
    return 0;
}

static int on_change(stream *s, const tm_pgo_msg *m, tm_error *err)
{
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    Tidemark__Tuple oldt, newt;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    const tm_pgo_change *c = &m->change;
    tm_rel *r = tm_relcache_get(s->rels, c->relid);
    if (!r) {
        tm_error_setc(err, TM_ERR_FORMAT, "pgoutput sent a %s for relation %u before describing it",
                      tm_pgo_type_name(m->type), c->relid);
        return -1;
    }
    ch.has_op = ch.has_relation_oid = ch.has_relation_version = 1;
    ch.relation_oid = c->relid;
    ch.relation_version = r->version;
    ch.op = m->type == TM_PGO_INSERT   ? TIDEMARK__CHANGE__OP__INSERT
            : m->type == TM_PGO_UPDATE ? TIDEMARK__CHANGE__OP__UPDATE
                                       : TIDEMARK__CHANGE__OP__DELETE;
    if (c->old_kind) {
        ch.has_old_kind = 1;
        ch.old_kind = (uint32_t)(unsigned char)c->old_kind;
        if (tm_tuple_encode(&s->enc_old, c->old.cols, c->old.ncols, NULL, 0, &oldt, err) != 0)
            return -1;
        ch.old_tuple = &oldt;
    }
    if (m->type != TM_PGO_DELETE) {
        if (tm_tuple_encode(&s->enc_new, c->new_.cols, c->new_.ncols,
                            c->old_kind ? c->old.cols : NULL, c->old_kind ? c->old.ncols : 0, &newt,
                            err) != 0)
            return -1;
        ch.new_tuple = &newt;
    }
    /* After the record: in a stream, a new subtransaction's first record
     * starts the run it is counted in. */
    if (add_record(s, m, &rec, err) != 0)
        return -1;
    return m->type == TM_PGO_INSERT ? 0 : count_row(s, c->relid, err);
}

static int on_truncate(stream *s, const tm_pgo_msg *m, tm_error *err)
{
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    ch.has_op = ch.has_relation_oid = ch.has_relation_version = ch.has_truncate_flags = 1;
    ch.op = TIDEMARK__CHANGE__OP__TRUNCATE;
    ch.truncate_flags = m->truncate.flags;
    for (uint32_t i = 0; i < m->truncate.nrelids; i++) {
        tm_rel *r = tm_relcache_get(s->rels, m->truncate.relids[i]);
        ch.relation_oid = m->truncate.relids[i];
        ch.relation_version = r ? r->version : 0;
        if (add_record(s, m, &rec, err) != 0)
            return -1;
    }
    return 0;
}

static int on_message(stream *s, const tm_pgo_msg *m, tm_error *err)
{
    Tidemark__LogicalMessage lm = TIDEMARK__LOGICAL_MESSAGE__INIT;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_MESSAGE;
    rec.message = &lm;
    lm.has_transactional = lm.has_lsn = lm.has_content = 1;
    lm.transactional = m->message.transactional;
    lm.lsn = m->message.lsn;
    lm.prefix = (char *)m->message.prefix;
    lm.content.data = (uint8_t *)m->message.content;
    lm.content.len = m->message.content_len;
    if (!strcmp(m->message.prefix, "tidemark.ddl"))
        s->ddl_seen = true;
    if (m->message.transactional && (s->in_tx || s->in_stream))
        return add_record(s, m, &rec, err);
    /* Non-transactional: journaled on its own, durable with the next sync.
     * Its LSN is not a commit, so a resend after restart is not detectable;
     * such messages are context, at most once-or-twice, never row data. */
    if (tm_writer_put_standalone(s->w, &rec, err) != 0)
        return -1;
    mark_dirty(s);
    return 0;
}

/* After DDL (a tidemark.ddl message): each captured table whose schema
 * changed gets its new version now, at the DDL's commit. pgoutput sends a
 * Relation only before the table's next row change, so without this a
 * renamed column kept its old name in replay until the table changed
 * again. Rewrites are detected first (they compare file nodes with the
 * latest version). A Relation that pgoutput sends later finds this version
 * equal and reuses it. */
static int record_schema_changes(stream *s, tm_error *err)
{
    for (int i = 0; i < s->tables.n; i++) {
        uint32_t oid = s->tables.oids[i];
        const Tidemark__Relation *last = tm_writer_relation(s->w, oid);
        if (!last || !tm_oidlist_has(&s->captured, oid))
            continue;
        tm_catrel cr;
        if (tm_catalog_relation(s->sql, oid, &cr, err) != 0)
            return -1;
        int rc = 0;
        if (!tm_relation_equal(last, &cr.rel)) {
            cr.rel.has_version = cr.rel.has_lsn = 1;
            cr.rel.version = last->version + 1;
            cr.rel.lsn = tm_writer_last_commit_lsn(s->w);
            Tidemark__Record rec = TIDEMARK__RECORD__INIT;
            rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
            rec.relation = &cr.rel;
            rc = tm_writer_put_standalone(s->w, &rec, err);
            if (rc == 0)
                mark_dirty(s);
        }
        tm_catrel_free(&cr);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* After a transaction: a DDL message in it may mean a rewrite; snapshots
 * owed are taken now, right after the DDL committed. */
static int after_commit(stream *s, tm_error *err)
{
    if (s->ddl_seen || s->recheck_set) {
        s->recheck_set = false;
        if (refresh_table_set(s, err) != 0)
            return -1;
    }
    if (s->ddl_seen) {
        s->ddl_seen = false;
        sql_settle(s);
        tm_oidlist found = {0};
        if (tm_rewrites_detect(s->sql, s->w, &s->tables, &found, err) != 0)
            return -1;
        for (int i = 0; i < found.n; i++)
            if (owe_snapshot(s, found.oids[i], err) != 0) {
                tm_oidlist_free(&found);
                return -1;
            }
        tm_oidlist_free(&found);
        if (record_schema_changes(s, err) != 0)
            return -1;
    }
    return take_owed(s, err);
}

/* What Commit and Stream Commit say of a transaction. */
typedef struct commit_info {
    uint32_t xid;
    uint64_t commit_lsn, end_lsn;
    int64_t commit_time;
} commit_info;

/* Journals a transaction: hdr (origin set by the caller) completed from c
 * and the rows per relation (the mass-change warning), the records from the
 * streamed transaction st or else the plain buffer. */
static int journal_tx(stream *s, Tidemark__TxBegin *hdr, const commit_info *c,
                      const tm_relrows *counts, size_t ncounts, tm_streamtx *st, tm_error *err)
{
    hdr->has_xid = hdr->has_commit_lsn = hdr->has_end_lsn = hdr->has_commit_time = 1;
    hdr->has_n_records = 1;
    hdr->xid = c->xid;
    hdr->commit_lsn = c->commit_lsn;
    hdr->end_lsn = c->end_lsn;
    hdr->commit_time = c->commit_time;
    hdr->n_records = st ? tm_streamtx_kept(st) : tm_txbuf_count(s->tx);
    uint32_t most = 0;
    for (size_t i = 0; i < ncounts; i++) {
        if (counts[i].rows > most)
            most = counts[i].rows;
        if (s->o->warn_rows && counts[i].rows > s->o->warn_rows) {
            tm_rel *r = tm_relcache_get(s->rels, counts[i].oid);
            char l[TM_LSN_BUFLEN];
            tm_log_warning("mass change: transaction %u (commit %s) updated or deleted %u rows "
                           "of %s.%s",
                           c->xid, tm_lsn_format(c->commit_lsn, l), counts[i].rows,
                           r ? r->nspname : "?", r ? r->relname : "?");
        }
    }
    if (s->o->warn_rows && most > s->o->warn_rows) {
        hdr->has_large_change_rows = 1;
        hdr->large_change_rows = most;
    }
    if ((st ? tm_streamtx_write(st, s->w, hdr, err) : tm_txbuf_write_tx(s->tx, s->w, hdr, err)) !=
        0)
        return -1;
    s->n_tx++;
    s->n_changes += hdr->n_records;
    atomic_store_explicit(&s->st->tx, s->n_tx, memory_order_relaxed);
    atomic_store_explicit(&s->st->changes, s->n_changes, memory_order_relaxed);
    atomic_store_explicit(&s->st->last_commit_time, hdr->commit_time, memory_order_relaxed);
    mark_dirty(s);
    if (tm_time_now() - hdr->commit_time < LIVE_AGE_US)
        s->live = true;
    if (s->o->endpos && c->commit_lsn >= s->o->endpos)
        s->done = true;
    return 0;
}

static int on_commit(stream *s, const tm_pgo_msg *m, tm_error *err)
{
    uint64_t commit_lsn = m->commit.commit_lsn;
    s->last_commit_time = m->commit.commit_time;
    if (!s->in_tx) {
        tm_error_setc(err, TM_ERR_FORMAT, "pgoutput sent a Commit outside a transaction");
        return -1;
    }
    if (write_deferred_upto(s, commit_lsn, err) != 0)
        return -1;
    if (commit_lsn <= tm_writer_last_commit_lsn(s->w) || tm_txbuf_count(s->tx) == 0) {
        /* Already journaled before a restart (or nothing of ours in it). */
        if (tm_txbuf_count(s->tx))
            atomic_store_explicit(&s->st->skipped, ++s->n_skipped, memory_order_relaxed);
        for (pending_rel *p = s->pending; p; p = p->next) {
            Tidemark__Record rec = TIDEMARK__RECORD__INIT;
            rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
            rec.relation = &p->cr.rel;
            if (!tm_writer_relation(s->w, p->cr.rel.oid) ||
                !tm_relation_equal(tm_writer_relation(s->w, p->cr.rel.oid), &p->cr.rel))
                if (tm_writer_put_standalone(s->w, &rec, err) != 0)
                    return -1;
        }
        reset_tx(s);
        return after_commit(s, err);
    }
    /* Oldest version first: the list is newest first. */
    pending_rel *rev = NULL;
    while (s->pending) {
        pending_rel *n = s->pending->next;
        s->pending->next = rev;
        rev = s->pending;
        s->pending = n;
    }
    s->pending = rev;
    for (pending_rel *p = s->pending; p; p = p->next) {
        Tidemark__Record rec = TIDEMARK__RECORD__INIT;
        rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
        rec.relation = &p->cr.rel;
        if (tm_writer_put_standalone(s->w, &rec, err) != 0)
            return -1;
    }
    Tidemark__TxBegin hdr = TIDEMARK__TX_BEGIN__INIT;
    if (s->origin[0]) {
        hdr.origin = s->origin;
        hdr.has_origin_lsn = 1;
        hdr.origin_lsn = s->origin_lsn;
    }
    commit_info c = {s->xid, commit_lsn, m->commit.end_lsn, m->commit.commit_time};
    if (journal_tx(s, &hdr, &c, s->counts, s->ncounts, NULL, err) != 0)
        return -1;
    reset_tx(s);
    return after_commit(s, err);
}

/* Stream Commit: the streamed transaction is journaled (without the
 * records of its rolled-back subtransactions) unless the journal has it. */
static int on_stream_commit(stream *s, const tm_pgo_msg *m, tm_error *err)
{
    uint32_t xid = m->stream_commit.xid;
    tm_streamtx *t = tm_streams_get(s->streams, xid, false, err);
    if (!t) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "pgoutput sent a Stream Commit for transaction %u, which it never streamed",
                      xid);
        return -1;
    }
    uint64_t commit_lsn = m->stream_commit.commit_lsn;
    if (s->o->endpos && commit_lsn > s->o->endpos) {
        s->done = true;
        tm_streams_drop(s->streams, xid);
        return 0;
    }
    if (write_deferred_upto(s, commit_lsn, err) != 0)
        return -1;
    if (commit_lsn <= tm_writer_last_commit_lsn(s->w) || tm_streamtx_kept(t) == 0) {
        if (tm_streamtx_kept(t))
            atomic_store_explicit(&s->st->skipped, ++s->n_skipped, memory_order_relaxed);
        tm_streams_drop(s->streams, xid);
        return after_commit(s, err);
    }
    tm_relrows *rows;
    size_t nrows;
    if (tm_streamtx_rows(t, &rows, &nrows, err) != 0)
        return -1;
    Tidemark__TxBegin hdr = TIDEMARK__TX_BEGIN__INIT;
    commit_info c = {xid, commit_lsn, m->stream_commit.end_lsn, m->stream_commit.commit_time};
    int rc = journal_tx(s, &hdr, &c, rows, nrows, t, err);
    free(rows);
    tm_streams_drop(s->streams, xid);
    return rc == 0 ? after_commit(s, err) : -1;
}

static int on_pgoutput(stream *s, const char *data, size_t len, tm_error *err)
{
    tm_pgo_msg m;
    if (tm_pgo_decode(&s->dec, data, len, &m, err) != 0) {
        char c[TM_LSN_BUFLEN];
        tm_error_prefix(err, "malformed pgoutput message near %s",
                        tm_lsn_format(s->received_lsn, c));
        return -1;
    }
    switch (m.type) {
    case TM_PGO_BEGIN:
        if (s->o->endpos && m.begin.final_lsn > s->o->endpos) {
            s->done = true;
            return 0;
        }
        reset_tx(s);
        s->in_tx = true;
        s->xid = m.begin.xid;
        s->final_lsn = m.begin.final_lsn;
        s->commit_time = m.begin.commit_time;
        return 0;
    case TM_PGO_COMMIT:
        return on_commit(s, &m, err);
    case TM_PGO_ORIGIN:
        snprintf(s->origin, sizeof s->origin, "%s", m.origin.name);
        s->origin_lsn = m.origin.lsn;
        return 0;
    case TM_PGO_RELATION:
        return on_relation(s, &m.relation, err);
    case TM_PGO_TYPE:
        return 0; /* values are text; type names come from the catalog */
    case TM_PGO_INSERT:
    case TM_PGO_UPDATE:
    case TM_PGO_DELETE:
        return on_change(s, &m, err);
    case TM_PGO_TRUNCATE:
        return on_truncate(s, &m, err);
    case TM_PGO_MESSAGE:
        return on_message(s, &m, err);
    case TM_PGO_STREAM_START:
        if (!(s->cur = tm_streams_get(s->streams, m.stream_start.xid, true, err)))
            return -1;
        s->in_stream = true;
        s->stream_xid = m.stream_start.xid;
        return 0;
    case TM_PGO_STREAM_STOP:
        s->in_stream = false;
        s->cur = NULL;
        return 0;
    case TM_PGO_STREAM_COMMIT:
        return on_stream_commit(s, &m, err);
    case TM_PGO_STREAM_ABORT: {
        tm_streamtx *t = tm_streams_get(s->streams, m.stream_abort.xid, false, err);
        if (m.stream_abort.subxid == m.stream_abort.xid)
            tm_streams_drop(s->streams, m.stream_abort.xid);
        else if (t)
            tm_streamtx_abort_sub(t, m.stream_abort.subxid);
        return 0;
    }
    default:
        tm_error_setc(err, TM_ERR_FORMAT,
                      "pgoutput sent a %s message, which capture did not ask for",
                      tm_pgo_type_name(m.type));
        return -1;
    }
}

static int start_replication(stream *s, tm_error *err)
{
    /* Everything up to the confirmed position is in the journal. */
    uint64_t from = tm_writer_durable_end_lsn(s->w);
    if (from < s->meta->start_lsn)
        from = s->meta->start_lsn;
    if (from < tm_writer_confirmed_lsn(s->w))
        from = tm_writer_confirmed_lsn(s->w);
    char lsn[TM_LSN_BUFLEN], cmd[1024];
    char *slot = PQescapeIdentifier(s->conn, s->meta->slot, strlen(s->meta->slot));
    char *pub = PQescapeIdentifier(s->conn, s->meta->publication, strlen(s->meta->publication));
    char *publit = PQescapeLiteral(s->conn, pub ? pub : "", pub ? strlen(pub) : 0);
    snprintf(cmd, sizeof cmd,
             "START_REPLICATION SLOT %s LOGICAL %s (proto_version '2', streaming 'on', "
             "publication_names %s, messages 'true')",
             slot, tm_lsn_format(from, lsn), publit);
    PQfreemem(slot);
    PQfreemem(pub);
    PQfreemem(publit);
    PGresult *r = PQexec(s->conn, cmd);
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        tm_error_setc(err, TM_ERR_DB, "START_REPLICATION failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    tm_pgo_decoder_reset(&s->dec);
    /* Transactions streamed in part are streamed again from their start. */
    tm_streams_reset(s->streams);
    s->in_stream = false;
    s->cur = NULL;
    s->confirmed_lsn = from;
    s->last_recv = now_us();
    s->slot_query = s->tables_query = false;
    tm_lag_confirmed(&s->lag, from);
    atomic_store(&s->st->confirmed_lsn, from);
    atomic_store(&s->st->last_recv, s->last_recv);
    s->last_ping = 0;
    tm_log_debug("streaming slot \"%s\" from %s", s->meta->slot, lsn);
    return 0;
}

/* Opens both sessions, checks the slot (which may record a gap) and starts
 * streaming. Returns 0, -1 on a failure worth retrying, -2 when capture
 * must stop (err). */
static int connect_source(stream *s, tm_error *err)
{
    tm_identity id;
    if (!(s->sql = tm_source_connect(s->o->source, false, err)) ||
        !(s->conn = tm_source_connect(s->o->source, true, err)) ||
        tm_source_identify(s->conn, &id, err) != 0)
        return -1;
    if (id.system_identifier != s->meta->system_identifier) {
        tm_error_set(err,
                     "the source is now system %llu, not %llu as the journal says: it is "
                     "another cluster (restored or replaced), so the slot's history does not "
                     "continue the journal; start a new journal in an empty directory",
                     (unsigned long long)id.system_identifier,
                     (unsigned long long)s->meta->system_identifier);
        return -2;
    }
    int rc = tm_capture_check_slot(s->sql, s->o->journal, s->meta, s->w, err);
    if (rc == -3)
        atomic_fetch_add(&s->st->gaps, 1);
    if (rc != 0)
        return rc == -3 ? -2 : rc;
    tm_oidlist_free(&s->tables);
    if (tm_publication_ensure(s->sql, s->meta->publication, &s->tables, err) != 0 ||
        sync_table_set(s, err) != 0 || take_owed(s, err) != 0)
        return -1;
    return start_replication(s, err);
}

static void disconnect_source(stream *s)
{
    s->slot_query = s->tables_query = false;
    if (s->conn)
        PQfinish(s->conn);
    if (s->sql)
        PQfinish(s->sql);
    s->conn = s->sql = NULL;
}

/* A failure while the server went away (a catalog query cut short, say)
 * is a lost connection to come back from, not a fatal error. */
static bool connection_lost(stream *s)
{
    return PQstatus(s->conn) == CONNECTION_BAD || (s->sql && PQstatus(s->sql) == CONNECTION_BAD);
}

/* Handles everything available on the connection. Returns 1 when more may
 * come, 0 when the server ended the stream, -1 on a connection error, -2 on
 * a fatal error (err). */
static int pump(stream *s, tm_error *err)
{
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(s->conn, &buf, 1);
        if (n == 0)
            return 1;
        if (n == -1)
            return 0;
        if (n == -2) {
            tm_error_setc(err, TM_ERR_DB, "%s", PQerrorMessage(s->conn));
            return -1;
        }
        s->pumped += (size_t)n;
        s->last_recv = now_us();
        atomic_store_explicit(&s->st->last_recv, s->last_recv, memory_order_relaxed);
        tm_repl_msg rm;
        int rc = tm_repl_parse(buf, (size_t)n, &rm, err);
        if (rc == 0 && rm.type == TM_REPL_XLOGDATA) {
            server_at(s, rm.xlog.wal_end);
            rc = on_pgoutput(s, rm.xlog.data, rm.xlog.len, err);
        } else if (rc == 0) {
            server_at(s, rm.keepalive.wal_end);
            /* Everything before a keepalive has been sent; with nothing of
             * ours pending, its position can be confirmed. */
            if (!s->in_tx && rm.keepalive.wal_end > s->keepalive_lsn)
                s->keepalive_lsn = rm.keepalive.wal_end;
            if (!s->in_tx)
                rc = write_deferred_upto(s, rm.keepalive.wal_end, err);
            if (s->o->endpos && !s->in_tx && rm.keepalive.wal_end >= s->o->endpos)
                s->done = true;
            if (rc == 0 && rm.keepalive.reply_requested) {
                if (!s->in_tx)
                    rc = sync_journal(s, err) == 0 ? 0 : -2;
                if (rc == 0)
                    rc = send_status(s, false, err);
            }
        }
        PQfreemem(buf);
        if (rc == -2)
            return -2;
        if (rc != 0)
            return connection_lost(s) ? -1 : -2;
        if (s->done)
            return 1;
    }
}

/* Is there input on the socket now, or within wait_us microseconds? */
static bool input_ready(stream *s, int64_t wait_us)
{
    int fd = PQsocket(s->conn);
    if (fd < 0)
        return false;
    fd_set rfds;
    FD_ZERO(&rfds);
    FD_SET(fd, &rfds);
    struct timeval tv = {.tv_sec = (time_t)(wait_us / 1000000),
                         .tv_usec = (suseconds_t)(wait_us % 1000000)};
    return select(fd + 1, &rfds, NULL, NULL, &tv) > 0;
}

/* Idle means that nothing came for a moment, not merely an empty socket: a
 * walsender slower than capture (draining a backlog) leaves the socket
 * empty between its bursts, and syncing at each would fsync thousands of
 * times a second and cut the journal into tiny frames. */
#define IDLE_GRACE_US 2000

/* A walsender streaming a backlog sends a few kilobytes at a time: reading
 * each morsel as it lands costs a wakeup, a select and a recv, which add up
 * to more CPU than the work on the data. When the last read brought less
 * than READ_TRICKLE bytes (capture is ahead of the walsender), capture lets
 * the next ones gather for a moment, far less than the socket buffers hold;
 * a read of more than that means it is behind, and it does not wait. */
#define READ_TRICKLE 4096
#define READ_GATHER_NS 100000

/* The connection is gone: libpq closed the socket after a failed read or
 * write. select() on it would return at once, so the loop must not wait
 * on it (that was a busy loop until the next status update failed). */
static bool link_down(stream *s, tm_error *err)
{
    if (PQstatus(s->conn) != CONNECTION_BAD && PQsocket(s->conn) >= 0)
        return false;
    const char *m = PQerrorMessage(s->conn);
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    tm_error_setc(err, TM_ERR_DB, "the connection to the server was lost: %.*s", (int)n,
                  n ? m : "closed");
    return true;
}

/* Reads what arrived on the socket into libpq's buffer; false when the
 * connection failed (err). */
static bool consume(stream *s, tm_error *err)
{
    if (PQconsumeInput(s->conn))
        return true;
    if (!link_down(s, err))
        tm_error_setc(err, TM_ERR_DB, "%s", PQerrorMessage(s->conn));
    return false;
}

/* Waits for data or the next deadline; false when the connection failed. */
static bool wait_input(stream *s, int64_t timeout_us, tm_error *err)
{
    if (link_down(s, err))
        return false;
    if (timeout_us > 0 && input_ready(s, timeout_us))
        return consume(s, err);
    return true;
}

#define IDLE_PING_US 1000000
#define KEEPALIVE_CONFIRM_US 100000

/* Nothing from the server for half the receive timeout: ask for a reply
 * (the server answers with a keepalive at once). Nothing at all for the
 * whole timeout: the link is dead, though no error says so (a frozen
 * network drops packets without a reset). Returns 0, -1 or -2 as
 * run_session does. */
static int check_link(stream *s, int64_t now, tm_error *err)
{
    const int64_t timeout_us = (int64_t)s->o->receive_timeout_s * 1000000;
    int64_t silent = now - s->last_recv;
    if (silent >= timeout_us) {
        tm_error_setc(err, TM_ERR_DB,
                      "nothing came from the server for %d s (--receive-timeout): the "
                      "connection is taken for dead",
                      s->o->receive_timeout_s);
        return -1;
    }
    if (silent >= timeout_us / 2 && s->last_ping < s->last_recv) {
        s->last_ping = now;
        return send_status(s, true, err);
    }
    /* An idle server says nothing: asked every second, it answers with its
     * position, so the lag shown stays current and the position can be
     * confirmed. */
    if (silent >= IDLE_PING_US && now - s->last_ping >= IDLE_PING_US) {
        s->last_ping = now;
        return send_status(s, true, err);
    }
    /* A keepalive's position, with nothing pending: confirmed soon, not at
     * the next periodic update, so an idle journal shows no lag (at most
     * every KEEPALIVE_CONFIRM_US: each one moves the durable mark). */
    if (!s->in_tx && !s->dirty && s->keepalive_lsn > s->confirmed_lsn &&
        now - s->last_status >= KEEPALIVE_CONFIRM_US)
        return send_status(s, false, err);
    return 0;
}

/* The status line every --status-interval. When the server has been
 * silent for a second, a reply is asked for first and the line waits for
 * it (a second at most), so that an idle but live link shows no lag. */
static int maybe_log(stream *s, int64_t now, tm_error *err)
{
    const int64_t status_us = (int64_t)s->o->status_interval_s * 1000000;
    if (now - s->last_log < status_us)
        return 0;
    /* The slot's retained WAL for the next line, asked without waiting. */
    if (!s->slot_query && !s->tables_query && !s->log_due && s->sql) {
        if (tm_slot_info_send(s->sql, s->meta->slot) == 0)
            s->slot_query = true;
        else
            tm_stats_error(s->st, TM_ERRKIND_SERVER);
    }
    if (now - s->last_recv < 1000000 || (s->log_due && now - s->log_due >= 1000000)) {
        log_status(s);
        return 0;
    }
    if (s->log_due)
        return 0;
    s->log_due = now;
    if (s->last_ping >= s->last_recv)
        return 0; /* asked already */
    s->last_ping = now;
    return send_status(s, true, err);
}

/* The group commit window: --fsync-interval-ms, but at most LIVE_FSYNC_US
 * while live transactions wait. Under a steady load the socket is seldom
 * idle and the whole window was the commit-to-durable delay (flush_lag p99
 * 106-128 ms at 2,000 tx/s with 200 ms); fsyncs take about 1 ms here, so
 * 25 a second cost little. A backlog (commits older than LIVE_AGE_US) keeps
 * the long window: its frames stay large and its drain as fast as before. */
static int64_t window_us(const stream *s)
{
    int64_t w = (int64_t)s->o->fsync_interval_ms * 1000;
    return s->live && w > LIVE_FSYNC_US ? LIVE_FSYNC_US : w;
}

/* Group commit: sync when idle (nothing more waiting on the socket), when
 * the window is over, or when stopping; then confirm. */
static int group_commit(stream *s, bool idle, int64_t now, tm_error *err)
{
    if (!s->dirty || !(idle || s->done || now - s->dirty_since >= window_us(s)))
        return 0;
    if (sync_journal(s, err) != 0)
        return -2;
    return send_status(s, false, err);
}

/* Is more input waiting (or about to arrive)? Lets a trickle gather. */
static int more_input(stream *s, int rc, tm_error *err)
{
    bool more = rc == 1 && !s->done && input_ready(s, 0);
    if (!more && rc == 1 && !s->done && s->dirty && !s->in_tx)
        more = input_ready(s, IDLE_GRACE_US);
    if (more && s->pumped < READ_TRICKLE) {
        struct timespec gather = {0, READ_GATHER_NS};
        nanosleep(&gather, NULL);
    }
    s->pumped = 0;
    if (more && !consume(s, err))
        return -1;
    return more ? 1 : 0;
}

#define TABLESET_POLL_US 2000000

/* The publication's tables, read without waiting (a frozen network must
 * not hold up the stream: its receive timeout notices it) and taken in
 * between transactions: tables added or removed since the last read. */
static int tables_result(stream *s, tm_error *err)
{
    if (!s->tables_query || s->in_tx)
        return 0;
    if (!PQconsumeInput(s->sql) || PQisBusy(s->sql)) {
        if (PQstatus(s->sql) != CONNECTION_BAD)
            return 0;
        tm_error_setc(err, TM_ERR_DB, "reading the tables of publication %s: %s",
                      s->meta->publication, PQerrorMessage(s->sql));
        return -1;
    }
    PGresult *r = PQgetResult(s->sql);
    tm_oidlist now = {0};
    int rc = tm_publication_tables_read(r, s->meta->publication, &now, err);
    PQclear(r);
    sql_settle(s);
    if (rc != 0) {
        tm_oidlist_free(&now);
        return connection_lost(s) ? -1 : -2;
    }
    tm_oidlist_free(&s->tables);
    s->tables = now;
    if (sync_table_set(s, err) != 0 || take_owed(s, err) != 0)
        return connection_lost(s) ? -1 : -2;
    return 0;
}

/* One connected session: returns 0 on a clean stop, -1 when the connection
 * was lost (reconnect), -2 on a fatal error. */
static int run_session(stream *s, tm_error *err)
{
    const int64_t status_us = (int64_t)s->o->status_interval_s * 1000000;
    for (;;) {
        int st, rc = pump(s, err);
        if (rc < 0)
            return rc;
        int more = more_input(s, rc, err);
        if (more < 0)
            return -1;
        int64_t now = now_us();
        if ((st = group_commit(s, rc == 1 && !more && !s->in_tx, now, err)) != 0)
            return st;
        tm_maint_poll(s->maint, tm_writer_bytes_written(s->w), now);
        tm_archiver_poll(s->archiver, now);
        if (s->done || tm_capture_stop_requested) {
            if (sync_journal(s, err) != 0 || send_status(s, false, err) == -2)
                return -2;
            return 0;
        }
        if (rc == 0) {
            tm_error_setc(err, TM_ERR_DB, "the server ended the replication stream");
            return -1;
        }
        /* Standby status at least every 10 s keeps wal_sender_timeout away. */
        if (now - s->last_status >= (status_us < 10000000 ? status_us : 10000000) &&
            (st = send_status(s, false, err)) != 0)
            return st;
        slot_result(s);
        if ((st = tables_result(s, err)) != 0)
            return st;
        if ((st = check_link(s, now, err)) != 0 || (st = maybe_log(s, now, err)) != 0)
            return st;
        /* A table added to or removed from the publication shows here
         * within TABLESET_POLL_US, also when it has no changes yet. */
        if (!s->in_tx && !s->slot_query && !s->tables_query &&
            now - s->last_refresh >= TABLESET_POLL_US) {
            if (tm_publication_tables_send(s->sql, s->meta->publication) != 0) {
                tm_error_setc(err, TM_ERR_DB, "reading the tables of publication %s: %s",
                              s->meta->publication, PQerrorMessage(s->sql));
                return -1;
            }
            s->tables_query = true;
            s->last_refresh = now;
        }
        int64_t wait = 100000;
        if (s->dirty && window_us(s) - (now - s->dirty_since) < wait)
            wait = window_us(s) - (now - s->dirty_since);
        if (!more && !wait_input(s, wait, err))
            return -1;
    }
}

/* Sleeps for seconds, or until a stop is requested (a signal interrupts
 * the sleep). Returns true when stopping. */
static bool pause_for(double seconds)
{
    struct timespec t = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (!tm_capture_stop_requested && nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
    return tm_capture_stop_requested != 0;
}

#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 30.0

/* Comes back after a lost connection: exponential backoff from 0.1 s to
 * 30 s, each wait drawn between half and all of it (jitter, so that many
 * captures do not retry in step), sleeping in between (no CPU). Returns 0
 * when streaming again, 1 when a stop was requested, -2 when capture must
 * stop (err). */
static int reconnect(stream *s, unsigned *seed, tm_error *err)
{
    double delay = BACKOFF_MIN_S;
    for (;;) {
        double wait = delay * (0.5 + 0.5 * (double)rand_r(seed) / RAND_MAX);
        if (pause_for(wait))
            return 1;
        int rc = connect_source(s, err);
        if (rc == 0) {
            atomic_fetch_add(&s->st->reconnects, 1);
            char where[512];
            tm_log_info("reconnected to %s", tm_source_describe(s->sql, where, sizeof where));
            return 0;
        }
        disconnect_source(s);
        if (rc == -2)
            return -2;
        if (tm_capture_stop_requested)
            return 1;
        delay = delay * 2 < BACKOFF_MAX_S ? delay * 2 : BACKOFF_MAX_S;
        tm_log_info("reconnect failed (%s); trying again within %.1f s", err->msg, delay);
    }
}

/* The kind of error err is, for tidemark_errors_total. */
static tm_errkind kind_of(const tm_error *err)
{
    switch (err->code) {
    case TM_ERR_DB:
        return TM_ERRKIND_SERVER;
    case TM_ERR_FORMAT:
        return TM_ERRKIND_PROTOCOL;
    case TM_ERR_IO:
    case TM_ERR_NO_SPACE:
    case TM_ERR_CORRUPT:
        return TM_ERRKIND_JOURNAL;
    default:
        return TM_ERRKIND_SERVER;
    }
}

#define STREAM_BUFFER (256 * 1024)

int tm_capture_stream(const tm_capture_opts *o, const tm_meta *meta, tm_writer *w,
                      tm_capture_stats *st, tm_error *err)
{
    stream s = {0};
    s.st = st;
    s.o = o;
    s.meta = meta;
    s.w = w;
    char spool[4096];
    snprintf(spool, sizeof spool, "%s/spool.tmp", o->journal);
    tm_pgo_decoder_init(&s.dec);
    s.tx = tm_txbuf_new(spool, o->tx_memory_budget);
    int rc = tm_relcache_create(&s.rels, err);
    /* A streamed transaction keeps a small buffer: it is large by
     * definition, and several may be open at once. */
    if (rc == 0 && !(s.streams = tm_streams_new(o->journal, STREAM_BUFFER, err)))
        rc = -1;
    if (rc == 0)
        rc = tm_oidfile_load(o->journal, TM_OWED_FILE, &s.owed, err);
    if (rc == 0)
        rc = tm_liveset_load(o->journal, &s.captured, err);
    s.last_log = now_us();
    tm_maint_opts mo = {.journal = o->journal,
                        .every_bytes = o->checkpoint_every,
                        .memory_bytes = o->maint_memory,
                        .retention = o->retention,
                        .local_retention = o->local_retention,
                        .compact = o->compact};
    s.maint = tm_maint_new(&mo);
    tm_archiver_opts ao = {.journal = o->journal,
                           .url = o->archive_url,
                           .interval_s = o->archive_interval_s,
                           .keys = o->archive_keys};
    s.archiver = tm_archiver_new(&ao);
    unsigned seed = (unsigned)getpid() ^ (unsigned)s.last_log;
    if (rc == 0 && connect_source(&s, err) != 0)
        rc = -1;
    while (rc == 0) {
        rc = run_session(&s, err);
        if (rc != -1)
            break;
        /* Lost the server: keep what is safe, then come back. */
        tm_stats_error(st, TM_ERRKIND_CONNECTION);
        tm_log_info("connection lost (%s); reconnecting", err->msg);
        reset_tx(&s);
        if (sync_journal(&s, err) != 0) {
            rc = -2;
            break;
        }
        disconnect_source(&s);
        rc = reconnect(&s, &seed, err);
        if (rc == 1) {
            rc = 0;
            break;
        }
    }
    if (rc == 0)
        log_status(&s);
    else
        tm_stats_error(st, kind_of(err));
    sql_settle(&s);
    tm_maint_free(s.maint);
    tm_archiver_free(s.archiver);
    disconnect_source(&s);
    reset_tx(&s);
    free(s.counts);
    tm_deferred_clear(&s.deferred);
    tm_oidlist_free(&s.tables);
    tm_oidlist_free(&s.owed);
    tm_oidlist_free(&s.clear_after_sync);
    tm_oidlist_free(&s.clear_after_confirm);
    tm_oidlist_free(&s.captured);
    tm_oidlist_free(&s.removed_after_sync);
    tm_oidlist_free(&s.removed_after_confirm);
    tm_txbuf_free(s.tx);
    tm_streams_free(s.streams);
    tm_tuple_enc_free(&s.enc_old);
    tm_tuple_enc_free(&s.enc_new);
    tm_relcache_destroy(s.rels);
    tm_pgo_decoder_free(&s.dec);
    return rc == 0 ? 0 : -1;
}
