#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/loop/capture.h"
#include "capture/source/catalog.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "capture/source/setup.h"
#include "capture/snapshot/snapshot.h"
#include "store/common/tm_time.h"

static int resolve_tables(const tm_capture_opts *o, PGconn *sql, tm_oidlist *oids, tm_error *err)
{
    for (int i = 0; i < o->n_tables; i++) {
        tm_qualname qn;
        uint32_t oid;
        if (tm_qualname_parse(o->tables[i], &qn, err) != 0 ||
            tm_catalog_table_oid(sql, &qn, &oid, err) != 0)
            return -1;
        if (tm_oidlist_add(oids, oid) != 0) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return -1;
        }
    }
    return 0;
}

static int write_relation(tm_writer *w, tm_catrel *cr, uint64_t lsn, tm_error *err)
{
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    cr->rel.has_version = 1;
    cr->rel.version = 1;
    cr->rel.has_lsn = 1;
    cr->rel.lsn = lsn;
    rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
    rec.relation = &cr->rel;
    return tm_writer_put_standalone(w, &rec, err);
}

int tm_capture_init_journal(const tm_capture_opts *o, PGconn *sql, PGconn *repl,
                            const tm_identity *id, tm_writer *w, tm_meta *meta, tm_error *err)
{
    tm_oidlist oids = {0};
    tm_catrel **rels = NULL;
    int nrels = 0, rc = -1;
    bool slot_created = false;
    tm_txbuf *buf = NULL;

    if (resolve_tables(o, sql, &oids, err) != 0 ||
        tm_publication_ensure(sql, o->publication, &oids, err) != 0 ||
        tm_replica_identity_check(sql, &oids, o->set_replica_identity_full, err) != 0)
        goto out;

    tm_slot_info si;
    if (tm_slot_info_get(sql, o->slot, &si, err) != 0)
        goto out;
    if (si.exists) {
        tm_error_setc(err, TM_ERR_CONFLICT,
                      "replication slot \"%s\" already exists, so its start cannot be matched "
                      "with a base snapshot; choose another --slot, or drop it "
                      "(SELECT pg_drop_replication_slot('%s')) if nothing else uses it",
                      o->slot, o->slot);
        goto out;
    }
    uint64_t consistent;
    char snapname[128];
    if (tm_slot_create(repl, o->slot, false, &consistent, snapname, sizeof snapname, err) != 0)
        goto out;
    slot_created = true;

    rels = calloc((size_t)oids.n, sizeof *rels);
    for (int i = 0; i < oids.n; i++) {
        rels[i] = calloc(1, sizeof **rels);
        nrels++;
        if (tm_catalog_relation(sql, oids.oids[i], rels[i], err) != 0 ||
            write_relation(w, rels[i], consistent, err) != 0)
            goto out;
    }
    tm_snapshot_stats st;
    Tidemark__TxBegin hdr;
    char spool[4096];
    snprintf(spool, sizeof spool, "%s/snapshot.tmp", o->journal);
    buf = tm_txbuf_new(spool, o->tx_memory_budget);
    if (!buf ||
        tm_snapshot_take(sql, snapname, rels, nrels, consistent, buf, &hdr, &st, err) != 0 ||
        tm_txbuf_write_tx(buf, w, &hdr, err) != 0 || tm_writer_sync(w, err) != 0)
        goto out;

    memset(meta, 0, sizeof *meta);
    meta->format_version = TM_JOURNAL_FORMAT_VERSION;
    meta->system_identifier = id->system_identifier;
    snprintf(meta->database, sizeof meta->database, "%s", id->database);
    snprintf(meta->slot, sizeof meta->slot, "%s", o->slot);
    snprintf(meta->publication, sizeof meta->publication, "%s", o->publication);
    meta->start_lsn = consistent;
    meta->created_at = tm_time_now();
    if (tm_meta_write(o->journal, meta, err) != 0)
        goto out;
    char lsnbuf[TM_LSN_BUFLEN];
    tm_log_info("new journal %s: slot \"%s\" at %s, base snapshot of %d table(s), %llu rows",
                o->journal, o->slot, tm_lsn_format(consistent, lsnbuf), nrels,
                (unsigned long long)st.rows);
    rc = 0;
out:
    if (rc != 0 && slot_created) {
        /* Leave nothing half-made on the server: the journal never started. */
        const char *p[] = {o->slot};
        PQclear(
            PQexecParams(sql, "SELECT pg_drop_replication_slot($1)", 1, NULL, p, NULL, NULL, 0));
    }
    for (int i = 0; i < nrels; i++) {
        tm_catrel_free(rels[i]);
        free(rels[i]);
    }
    free(rels);
    tm_txbuf_free(buf);
    tm_oidlist_free(&oids);
    return rc;
}

static bool ours(const char *name)
{
    static const char *const exact[] = {"capture.lock", "spool.tmp", "snapshot.tmp",
                                        "rewrites.pending"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!strcmp(name, exact[i]))
            return true;
    size_t n = strlen(name);
    return n == 20 && strspn(name, "0123456789abcdef") == 16 &&
           (!strcmp(name + 16, ".seg") || !strcmp(name + 16, ".idx"));
}

void tm_capture_discard_fresh(const char *dir, bool created_dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (ours(e->d_name)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    if (created_dir)
        rmdir(dir);
}
