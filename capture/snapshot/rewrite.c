#include "capture/snapshot/rewrite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/common/fsutil.h"
#include "capture/decode/relversion.h"
#include "capture/snapshot/snapshot.h"
#include "capture/source/source.h"

int tm_oidfile_load(const char *dir, const char *file, tm_oidlist *owed, tm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    unsigned char *data;
    size_t len;
    if (access(path, F_OK) != 0)
        return 0;
    if (tm_read_file(path, 1 << 20, &data, &len, err) != 0)
        return -1;
    /* One oid per line. */
    char *p = (char *)data, *end = p + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        *nl = '\0';
        char *e;
        unsigned long v = strtoul(p, &e, 10);
        if (e != p && *e == '\0')
            tm_oidlist_add(owed, (uint32_t)v);
        p = nl + 1;
    }
    free(data);
    return 0;
}

int tm_oidfile_save(const char *dir, const char *file, const tm_oidlist *owed, tm_error *err)
{
    char *buf = malloc((size_t)owed->n * 12 + 1);
    size_t len = 0;
    for (int i = 0; i < owed->n; i++)
        len += (size_t)sprintf(buf + len, "%u\n", owed->oids[i]);
    if (!buf) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    int rc = tm_write_file_atomic(dir, file, buf, len, err);
    free(buf);
    return rc;
}

void tm_deferred_clear(tm_deferred_snapshot *d)
{
    for (int i = 0; i < d->n; i++)
        tm_catrel_free(&d->rels[i]);
    free(d->rels);
    free(d->rel_new);
    free(d->prev_version);
    tm_txbuf_free(d->buf);
    memset(d, 0, sizeof *d);
}

int tm_deferred_take(tm_deferred_snapshot *d, const char *conninfo, PGconn *sql, tm_writer *w,
                     const tm_oidlist *owed, const char *spool_path, uint64_t budget, tm_error *err)
{
    tm_deferred_clear(d);
    d->rels = calloc((size_t)owed->n, sizeof *d->rels);
    d->rel_new = calloc((size_t)owed->n, sizeof *d->rel_new);
    d->prev_version = calloc((size_t)owed->n, sizeof *d->prev_version);
    tm_catrel **ptrs = calloc((size_t)owed->n, sizeof *ptrs);
    d->buf = tm_txbuf_new(spool_path, budget);
    PGconn *repl = NULL;
    int rc = -1;
    if (!d->rels || !d->rel_new || !d->prev_version || !ptrs || !d->buf) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* The slot first: its exported snapshot is what the schemas and rows
     * are read under (the catalog is read in the same snapshot below only
     * for rows; schemas come from the current catalog, which DDL locks keep
     * stable for the short time this takes). */
    char slot[64], snapname[128];
    snprintf(slot, sizeof slot, "tidemark_snapshot_%d", (int)getpid());
    if (!(repl = tm_source_connect(conninfo, true, err)) ||
        tm_slot_create(repl, slot, true, &d->lsn, snapname, sizeof snapname, err) != 0)
        goto out;
    for (int i = 0; i < owed->n; i++) {
        if (tm_catalog_relation(sql, owed->oids[i], &d->rels[i], err) != 0)
            goto out;
        d->n++;
        const Tidemark__Relation *last = tm_writer_relation(w, owed->oids[i]);
        d->prev_version[i] = last ? last->version : 0;
        d->rel_new[i] = !last || !tm_relation_equal(last, &d->rels[i].rel);
        d->rels[i].rel.has_version = d->rels[i].rel.has_lsn = 1;
        d->rels[i].rel.version = d->prev_version[i] + (d->rel_new[i] ? 1 : 0);
        d->rels[i].rel.lsn = d->lsn;
        ptrs[i] = &d->rels[i];
    }
    tm_snapshot_stats st;
    if (tm_snapshot_take(sql, snapname, ptrs, d->n, d->lsn, d->buf, &d->hdr, &st, err) != 0)
        goto out;
    d->ready = true;
    d->rows = st.rows;
    rc = 0;
out:
    if (repl)
        PQfinish(repl); /* drops the temporary slot */
    free(ptrs);
    if (rc != 0)
        tm_deferred_clear(d);
    return rc;
}

int tm_deferred_write(tm_deferred_snapshot *d, tm_writer *w, tm_error *err)
{
    for (int i = 0; i < d->n; i++) {
        const Tidemark__Relation *last = tm_writer_relation(w, d->rels[i].rel.oid);
        if ((last ? last->version : 0) != d->prev_version[i])
            return 0;
    }
    for (int i = 0; i < d->n; i++) {
        if (!d->rel_new[i])
            continue;
        Tidemark__Record rec = TIDEMARK__RECORD__INIT;
        rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
        rec.relation = &d->rels[i].rel;
        if (tm_writer_put_standalone(w, &rec, err) != 0)
            return -1;
    }
    return tm_txbuf_write_tx(d->buf, w, &d->hdr, err) == 0 ? 1 : -1;
}

int tm_rewrites_detect(PGconn *sql, tm_writer *w, const tm_oidlist *tables, tm_oidlist *owed,
                       tm_error *err)
{
    for (int i = 0; i < tables->n; i++) {
        const Tidemark__Relation *last = tm_writer_relation(w, tables->oids[i]);
        if (!last)
            continue;
        char oid[16];
        snprintf(oid, sizeof oid, "%u", tables->oids[i]);
        const char *p[] = {oid};
        PGresult *r = PQexecParams(sql, "SELECT relfilenode FROM pg_class WHERE oid = $1", 1, NULL,
                                   p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            tm_error_setc(err, TM_ERR_DB, "reading file nodes: %s", PQresultErrorMessage(r));
            PQclear(r);
            return -1;
        }
        if (PQntuples(r) == 1 && strtoul(PQgetvalue(r, 0, 0), NULL, 10) != last->filenode)
            tm_oidlist_add(owed, tables->oids[i]);
        PQclear(r);
    }
    return 0;
}
