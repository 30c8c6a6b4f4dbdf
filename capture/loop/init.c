/* The first run of a journal: publication, slot with an exported snapshot,
 * base snapshot, durable mark at the slot's consistent point, metadata.
 * The slot is announced in DIR/init.pending (fsynced) before it is
 * created, so that a first run that crashes leaves nothing a rerun cannot
 * clean up (firstrun.c); one that fails drops its slot itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/loop/capture.h"
#include "capture/loop/firstrun.h"
#include "capture/decode/relversion.h"
#include "capture/snapshot/snapshot.h"
#include "capture/source/catalog.h"
#include "capture/source/setup.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"

/* The table's schema as a Relation record: version 1 in a new journal; in
 * a journal that knows the table (a reseed) the version it has when the
 * schema is the same, else the next one. */
static int write_relation(tm_writer *w, tm_catrel *cr, uint64_t lsn, tm_error *err)
{
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    const Tidemark__Relation *last = tm_writer_relation(w, cr->rel.oid);
    cr->rel.has_version = 1;
    cr->rel.version = last ? last->version + 1 : 1;
    cr->rel.has_lsn = 1;
    cr->rel.lsn = lsn;
    if (last && tm_relation_equal(last, &cr->rel)) {
        cr->rel.version = last->version;
        return 0;
    }
    rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
    rec.relation = &cr->rel;
    return tm_writer_put_standalone(w, &rec, err);
}

/* What a first run holds while it works. */
typedef struct first_run {
    const tm_capture_opts *o;
    PGconn *sql, *repl;
    tm_writer *w;
    tm_firstrun rec;
    bool announced; /* the record names the slot: it may exist */
    tm_oidlist oids;
    tm_catrel **rels;
    int nrels;
    uint64_t rows;
} first_run;

/* The slot, announced before it exists and recorded with its consistent
 * point after; its exported snapshot name into snapname. */
static int create_slot(first_run *f, char *snapname, size_t len, tm_error *err)
{
    tm_slot_info si;
    if (tm_slot_info_get(f->sql, f->o->slot, &si, err) != 0)
        return -1;
    if (si.exists) {
        tm_error_setc(err, TM_ERR_CONFLICT,
                      "replication slot \"%s\" already exists, so its start cannot be matched "
                      "with a base snapshot; choose another --slot, or drop it "
                      "(SELECT pg_drop_replication_slot('%s')) if nothing else uses it",
                      f->o->slot, f->o->slot);
        return -1;
    }
    if (tm_firstrun_save(f->o->journal, &f->rec, err) != 0)
        return -1;
    f->announced = true;
    if (tm_slot_create(f->repl, f->o->slot, f->o->failover_slot ? TM_SLOT_FAILOVER : 0, &f->rec.lsn,
                       snapname, len, err) != 0)
        return -1;
    return tm_firstrun_save(f->o->journal, &f->rec, err);
}

/* Schemas and rows of every table under the slot's snapshot, as the
 * journal's first transaction, made durable and marked at the slot's
 * consistent point. */
static int base_snapshot(first_run *f, const char *snapname, tm_error *err)
{
    uint64_t lsn = f->rec.lsn;
    if (!(f->rels = calloc((size_t)f->oids.n, sizeof *f->rels))) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (int i = 0; i < f->oids.n; i++) {
        if (!(f->rels[i] = calloc(1, sizeof **f->rels))) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return -1;
        }
        f->nrels++;
        if (tm_catalog_relation(f->sql, f->oids.oids[i], f->rels[i], err) != 0 ||
            write_relation(f->w, f->rels[i], lsn, err) != 0)
            return -1;
    }
    char spool[4096];
    snprintf(spool, sizeof spool, "%s/snapshot.tmp", f->o->journal);
    tm_txbuf *buf = tm_txbuf_new(spool, f->o->tx_memory_budget);
    tm_snapshot_stats st = {0};
    Tidemark__TxBegin hdr;
    int rc = -1;
    if (!buf)
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
    else if (tm_snapshot_take(f->sql, snapname, f->rels, f->nrels, lsn, buf, &hdr, &st, err) == 0 &&
             tm_txbuf_write_tx(buf, f->w, &hdr, err) == 0 && tm_writer_sync(f->w, err) == 0 &&
             tm_writer_confirm(f->w, lsn, err) == 0)
        rc = 0;
    f->rows = st.rows;
    tm_txbuf_free(buf);
    return rc;
}

static int write_meta(const first_run *f, const tm_identity *id, tm_meta *meta, tm_error *err)
{
    memset(meta, 0, sizeof *meta);
    meta->format_version = TM_JOURNAL_FORMAT_VERSION;
    meta->system_identifier = id->system_identifier;
    snprintf(meta->database, sizeof meta->database, "%s", id->database);
    snprintf(meta->slot, sizeof meta->slot, "%s", f->o->slot);
    snprintf(meta->publication, sizeof meta->publication, "%s", f->o->publication);
    meta->start_lsn = f->rec.lsn;
    meta->created_at = tm_time_now();
    return tm_meta_write(f->o->journal, meta, err);
}

/* Drops the slot if it is there (it was not before the record named it):
 * 0 when it is gone, -1 when that is not known. */
static int drop_if_there(PGconn *sql, const char *slot, tm_error *err)
{
    tm_slot_info si;
    if (tm_slot_info_get(sql, slot, &si, err) != 0)
        return -1;
    return si.exists ? tm_slot_drop(sql, slot, err) : 0;
}

/* After a failure: the slot, if it was made (also when the reply to its
 * creation was lost), is dropped, on a new connection when the old one is
 * gone, and the record forgotten; when that fails the record stays, and
 * the next run drops the slot. */
static void undo_slot(first_run *f)
{
    tm_error e;
    if (!f->announced)
        return;
    int rc = drop_if_there(f->sql, f->o->slot, &e);
    if (rc != 0 && PQstatus(f->sql) == CONNECTION_BAD) {
        PGconn *fresh = tm_source_connect(f->o->source, false, &e);
        rc = fresh ? drop_if_there(fresh, f->o->slot, &e) : -1;
        if (fresh)
            PQfinish(fresh);
    }
    if (rc == 0)
        tm_firstrun_forget(f->o->journal, &e);
    else
        tm_log_warning("the first run failed and could not drop replication slot \"%s\" (%s); "
                       "the next run of capture on %s drops it",
                       f->o->slot, e.msg, f->o->journal);
}

/* The schemas and table list a first run or reseed held. */
static void first_run_free(first_run *f)
{
    for (int i = 0; i < f->nrels; i++) {
        tm_catrel_free(f->rels[i]);
        free(f->rels[i]);
    }
    free(f->rels);
    tm_oidlist_free(&f->oids);
}

int tm_capture_init_journal(const tm_capture_opts *o, PGconn *sql, PGconn *repl,
                            const tm_identity *id, tm_writer *w, tm_meta *meta, tm_error *err)
{
    first_run f = {.o = o, .sql = sql, .repl = repl, .w = w};
    snprintf(f.rec.slot, sizeof f.rec.slot, "%s", o->slot);
    f.rec.system_identifier = id->system_identifier;
    char snapname[128], lsn[TM_LSN_BUFLEN];
    int rc = -1;
    if (tm_capture_resolve_tables(o, sql, &f.oids, err) == 0 &&
        tm_publication_ensure(sql, o->publication, &f.oids, err) == 0 &&
        tm_replica_identity_check(sql, &f.oids, o->set_replica_identity_full, err) == 0 &&
        create_slot(&f, snapname, sizeof snapname, err) == 0 &&
        base_snapshot(&f, snapname, err) == 0 && write_meta(&f, id, meta, err) == 0) {
        rc = 0;
        tm_error e;
        if (tm_firstrun_forget(o->journal, &e) != 0) /* the next start removes it */
            tm_log_debug("%s", e.msg);
        tm_log_info("new journal %s: slot \"%s\" at %s, base snapshot of %d table(s), %llu rows",
                    o->journal, o->slot, tm_lsn_format(f.rec.lsn, lsn), f.nrels,
                    (unsigned long long)f.rows);
    } else {
        undo_slot(&f);
    }
    first_run_free(&f);
    return rc;
}

int tm_capture_reseed(const tm_capture_opts *o, PGconn *sql, PGconn *repl, const tm_identity *id,
                      tm_writer *w, tm_error *err)
{
    first_run f = {.o = o, .sql = sql, .repl = repl, .w = w};
    char snapname[128], lsn[TM_LSN_BUFLEN];
    tm_slot_info si;
    int rc = -1;
    bool announced = false;
    /* The old slot cannot feed the journal any more (that is the gap): a
     * new one, with an exported snapshot to copy the tables under. */
    if (tm_publication_ensure(sql, o->publication, &f.oids, err) != 0 ||
        tm_capture_wait_slot_free(sql, o->slot, &si, err) != 0)
        goto out;
    /* From here on a crash leaves the record: the next start finishes or
     * rolls back (reseed.c), as a failure does now. */
    if (tm_capture_reseed_announce(o->journal, o->slot, id->system_identifier,
                                   tm_writer_confirmed_lsn(w), err) != 0)
        goto out;
    announced = true;
    if (si.exists) {
        tm_log_warning("--reseed: dropping replication slot \"%s\", which cannot feed the journal",
                       o->slot);
        if (tm_slot_drop(sql, o->slot, err) != 0)
            goto out;
    }
    if (tm_slot_create(repl, o->slot, o->failover_slot ? TM_SLOT_FAILOVER : 0, &f.rec.lsn, snapname,
                       sizeof snapname, err) != 0 ||
        base_snapshot(&f, snapname, err) != 0 || tm_capture_reseed_done(o->journal, err) != 0)
        goto out;
    rc = 0;
    tm_log_info("reseeded journal %s after its gap: slot \"%s\" at %s, base snapshot of %d "
                "table(s), %llu rows; replay is exact again from there",
                o->journal, o->slot, tm_lsn_format(f.rec.lsn, lsn), f.nrels,
                (unsigned long long)f.rows);
out:
    if (rc != 0 && announced) {
        tm_error e;
        if (tm_capture_reseed_resume(o->journal, sql, id, tm_writer_confirmed_lsn(w), &e) != 0)
            tm_log_warning("the failed reseed could not be rolled back now (%s); the next start "
                           "of capture on %s does it",
                           e.msg, o->journal);
    }
    first_run_free(&f);
    return rc;
}
