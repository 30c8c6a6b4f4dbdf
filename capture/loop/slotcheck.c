/* Before capture streams from its slot, at every start and reconnect: the
 * journal must not end with an unhealed gap, and the slot must be able to
 * continue the journal (it exists, is the journal's pgoutput slot, holds
 * its WAL, and is not ahead of the journal's durable mark). A slot that
 * cannot is a gap: recorded in the journal, fsynced under the mark, and
 * nothing is appended after it. A slot still held by another walsender
 * (the one of a capture just killed, which the server has not noticed yet)
 * is waited for. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/loop/capture.h"
#include "capture/source/setup.h"
#include "capture/source/slothealth.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"

/* What to do about a gap, said the same way when it is found and at every
 * start after. */
#define GAP_ADVICE                                                                                 \
    "the transactions committed in that range are not in the journal, and nothing is appended "    \
    "across a gap. Start a new journal in an empty directory (it takes a fresh base snapshot); "   \
    "keep %s for the history it holds. Or go on in it with capture --reseed (a fresh slot and "    \
    "base snapshot after the gap)"

/* How long past wal_sender_timeout a held slot is waited for. */
#define HELD_MARGIN_MS 10000
#define HELD_POLL_NS 500000000L

int tm_capture_check_gap(const char *dir, tm_writer *w, tm_error *err)
{
    tm_reader *r;
    if (tm_reader_open(dir, &r, err) != 0)
        return -1;
    /* Right after the last transaction: a gap healed by a base snapshot
     * lies before it. */
    int rc = tm_reader_seek_lsn(r, tm_writer_last_commit_lsn(w) + 1, err) == 0 ? 1 : -1;
    const Tidemark__Record *rec;
    uint64_t from = 0, to = 0;
    char reason[512] = "";
    bool gap = false;
    while (rc == 1 && (rc = tm_reader_next(r, &rec, err)) == 1) {
        if (rec->body_case != TIDEMARK__RECORD__BODY_GAP)
            continue;
        gap = true;
        from = rec->gap->lsn;
        to = rec->gap->end_lsn;
        snprintf(reason, sizeof reason, "%s", rec->gap->reason ? rec->gap->reason : "no reason");
    }
    tm_reader_close(r);
    if (rc < 0)
        return -1;
    if (!gap)
        return 0;
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
    tm_error_setc(err, TM_ERR_CONFLICT, "journal %s ends with a gap from %s to %s: %s; " GAP_ADVICE,
                  dir, tm_lsn_format(from, a), to ? tm_lsn_format(to, b) : "an unknown position",
                  reason, dir);
    return -1;
}

/* Journals the gap, fsyncs it and moves the mark over it (what lies above
 * the mark is cut at the next start), then says it in err. */
static int record_gap(const char *dir, tm_writer *w, uint64_t from, uint64_t to, const char *reason,
                      tm_error *err)
{
    Tidemark__Gap g = TIDEMARK__GAP__INIT;
    g.has_lsn = g.has_end_lsn = g.has_time = 1;
    g.lsn = from;
    g.end_lsn = to;
    g.time = tm_time_now();
    g.reason = (char *)reason;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_GAP;
    rec.gap = &g;
    if (tm_writer_put_standalone(w, &rec, err) != 0 || tm_writer_sync(w, err) != 0 ||
        tm_writer_confirm(w, tm_writer_confirmed_lsn(w), err) != 0) {
        tm_error_prefix(err, "recording a gap in journal %s (%s)", dir, reason);
        return -1;
    }
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
    tm_error_setc(err, TM_ERR_CONFLICT,
                  "journal %s: a gap from %s to %s: %s; it is recorded in the journal: " GAP_ADVICE,
                  dir, tm_lsn_format(from, a), tm_lsn_format(to, b), reason, dir);
    return -1;
}

enum { SLOT_OK, SLOT_GONE, SLOT_AHEAD };

/* Whether the slot can continue the journal, and why not (into why). */
static int slot_trouble(const tm_slot_info *si, const char *slot, const char *database,
                        uint64_t mark, char *why, size_t len)
{
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
    why[0] = '\0';
    switch (tm_slot_judge(si, database)) {
    case TM_SLOT_SOUND:
        if (si->confirmed_flush_lsn <= mark)
            return SLOT_OK;
        snprintf(why, len,
                 "replication slot \"%s\" is ahead of the journal: the server's confirmed "
                 "position %s is past the journal's durable mark %s, so the slot was dropped "
                 "and created again, or advanced by someone else (pg_replication_slot_advance, "
                 "another consumer)",
                 slot, tm_lsn_format(si->confirmed_flush_lsn, a), tm_lsn_format(mark, b));
        return SLOT_AHEAD;
    case TM_SLOT_MISSING:
        snprintf(why, len,
                 "replication slot \"%s\" no longer exists: it was dropped, or this server is a "
                 "standby promoted by a failover and the slot stayed on the old primary (slots "
                 "follow a failover only from PostgreSQL 17 on, created with --failover-slot), "
                 "so the server kept nothing for the journal since",
                 slot);
        break;
    case TM_SLOT_FOREIGN:
        snprintf(why, len,
                 "the replication slot named \"%s\" is not the journal's (it is a %s slot%s%s%s "
                 "of database \"%s\"): the journal's slot was dropped and the name used again",
                 slot, si->type, si->plugin[0] ? " with plugin \"" : "", si->plugin,
                 si->plugin[0] ? "\"" : "", si->database);
        break;
    case TM_SLOT_LOST:
        snprintf(why, len,
                 "replication slot \"%s\" has lost WAL it needed (wal_status = lost): the "
                 "server removed it before capture read it (max_slot_wal_keep_size)",
                 slot);
        break;
    case TM_SLOT_INVALIDATED:
        snprintf(why, len, "replication slot \"%s\" was invalidated by the server (%s)", slot,
                 si->invalidated);
        break;
    }
    return SLOT_GONE;
}

/* -1 (retry) when the connection is gone, else -2 (stop). */
static int db_failure(PGconn *sql)
{
    return PQstatus(sql) == CONNECTION_BAD ? -1 : -2;
}

static void nap(long ns)
{
    struct timespec t = {ns / 1000000000L, ns % 1000000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR && !tm_capture_stop_requested)
        ;
}

int tm_capture_wait_slot_free(PGconn *sql, const char *slot, tm_slot_info *si, tm_error *err)
{
    if (tm_slot_info_get(sql, slot, si, err) != 0)
        return db_failure(sql);
    if (!si->exists || si->active_pid == 0)
        return 0;
    int64_t timeout_ms = 0;
    if (tm_server_setting_ms(sql, "wal_sender_timeout", &timeout_ms, err) != 0)
        return db_failure(sql);
    /* 0 disables the timeout: such a walsender lingers until TCP gives up. */
    int64_t budget = (timeout_ms > 0 ? timeout_ms : 60000) + HELD_MARGIN_MS;
    int pid = si->active_pid;
    tm_log_info("replication slot \"%s\" is in use by process %d, the walsender of another "
                "connection; the one of a capture that was just killed lets go once the server "
                "notices (within wal_sender_timeout = %lld ms): waiting up to %lld s",
                slot, pid, (long long)timeout_ms, (long long)budget / 1000);
    int64_t until = tm_time_now() + budget * 1000;
    while (si->exists && si->active_pid != 0) {
        if (tm_capture_stop_requested) {
            tm_error_set(err, "stopped while waiting for replication slot \"%s\"", slot);
            return -1;
        }
        if (tm_time_now() >= until) {
            tm_error_setc(err, TM_ERR_CONFLICT,
                          "replication slot \"%s\" is still in use by process %d after %lld s: "
                          "another capture is streaming from it. Stop that one; if it is a "
                          "leftover, end it with SELECT pg_terminate_backend(%d)",
                          slot, si->active_pid, (long long)budget / 1000, si->active_pid);
            return -2;
        }
        nap(HELD_POLL_NS);
        if (tm_slot_info_get(sql, slot, si, err) != 0)
            return db_failure(sql);
    }
    tm_log_info("replication slot \"%s\" was released; going on", slot);
    return 0;
}

int tm_capture_check_slot(PGconn *sql, const char *dir, const tm_meta *meta, tm_writer *w,
                          tm_error *err)
{
    tm_slot_info si;
    int rc = tm_capture_wait_slot_free(sql, meta->slot, &si, err);
    if (rc != 0)
        return rc;
    tm_mark mark;
    if (!tm_writer_mark(w, &mark)) {
        tm_error_set(err, "journal %s keeps no durable mark", dir);
        return -2;
    }
    char why[600];
    int trouble = slot_trouble(&si, meta->slot, meta->database, mark.lsn, why, sizeof why);
    if (trouble == SLOT_OK)
        return 0;
    if (trouble == SLOT_AHEAD && mark.adopted) {
        /* Written before the mark existed: a confirmed keepalive explains a
         * slot ahead of the journal's end as well as a recreated slot. */
        char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
        tm_log_warning("journal %s was written before capture kept a durable mark: the slot's "
                       "confirmed position %s is past the journal's end %s, which a confirmed "
                       "keepalive explains (nothing lost), but so would a slot dropped and "
                       "created again; going on from %s",
                       dir, tm_lsn_format(si.confirmed_flush_lsn, a), tm_lsn_format(mark.lsn, b),
                       a);
        return 0;
    }
    /* Lost: what the slot confirmed, or (gone) everything up to now. */
    uint64_t to = si.confirmed_flush_lsn;
    if (trouble == SLOT_GONE && tm_server_wal_lsn(sql, &to, err) != 0)
        return db_failure(sql);
    /* -3: a gap, recorded (or its recording failed, said in err). */
    record_gap(dir, w, mark.lsn, to, why, err);
    return -3;
}
