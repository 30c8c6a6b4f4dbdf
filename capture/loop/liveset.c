/* The live table set: which tables' capture has started (their snapshot is
 * durable in the journal) and not ended. Kept in DIR/tables.captured and
 * updated only once the mark covers what changed it (the snapshot that
 * started a table, the TableRemoved that ended it), so that after a crash
 * the file never claims more than the journal holds: a table that joined
 * the publication and is not in it is owed a snapshot again (one more
 * snapshot replaces the rows, it loses and duplicates nothing). */
#include <stdio.h>
#include <unistd.h>

#include "capture/loop/capture.h"
#include "capture/snapshot/rewrite.h"
#include "capture/source/catalog.h"
#include "store/journal/tableset.h"

int tm_liveset_load(const char *dir, tm_oidlist *captured, tm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, TM_CAPTURED_FILE);
    if (access(path, F_OK) == 0)
        return tm_oidfile_load(dir, TM_CAPTURED_FILE, captured, err);
    /* A journal of an earlier tidemark (or a first run): its spans say. */
    tm_tableset ts = {0};
    if (tm_tableset_scan(dir, &ts, err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < ts.n && rc == 0; i++)
        if (!ts.v[i].ended && tm_oidlist_add(captured, ts.v[i].oid) != 0) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            rc = -1;
        }
    tm_tableset_free(&ts);
    if (rc == 0)
        rc = tm_oidfile_save(dir, TM_CAPTURED_FILE, captured, err);
    return rc;
}

int tm_capture_resolve_tables(const tm_capture_opts *o, PGconn *sql, tm_oidlist *oids,
                              tm_error *err)
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
