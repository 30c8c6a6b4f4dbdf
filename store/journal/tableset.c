/* The live table set (tableset.h). */
#include "store/journal/tableset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/lsn.h"
#include "store/common/tm_time.h"
#include "store/journal/frame.h"
#include "store/journal/journal.h"

static int oom(tm_error *err)
{
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory reading the table set");
    return -1;
}

void tm_tableset_free(tm_tableset *ts)
{
    free(ts->v);
    free(ts->seen);
    memset(ts, 0, sizeof *ts);
}

static tm_tablespan *push(tm_tablespan **v, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        tm_tablespan *g = realloc(*v, c * sizeof *g);
        if (!g)
            return NULL;
        *v = g;
        *cap = c;
    }
    tm_tablespan *sp = &(*v)[(*n)++];
    memset(sp, 0, sizeof *sp);
    return sp;
}

static tm_tablespan *open_span(tm_tableset *ts, uint32_t oid)
{
    for (size_t i = ts->n; i-- > 0;)
        if (ts->v[i].oid == oid)
            return ts->v[i].ended ? NULL : &ts->v[i];
    return NULL;
}

static tm_tablespan *seen_entry(const tm_tableset *ts, uint32_t oid)
{
    for (size_t i = 0; i < ts->nseen; i++)
        if (ts->seen[i].oid == oid)
            return &ts->seen[i];
    return NULL;
}

bool tm_tableset_known(const tm_tableset *ts, uint32_t oid)
{
    return seen_entry(ts, oid) != NULL;
}

int tm_tableset_relation(tm_tableset *ts, uint32_t oid, const char *nsp, const char *rel,
                         tm_error *err)
{
    /* Every table seen has a name entry; spans copy it when they start. */
    tm_tablespan *u = seen_entry(ts, oid);
    if (!u && !(u = push(&ts->seen, &ts->nseen, &ts->capseen)))
        return oom(err);
    u->oid = oid;
    snprintf(u->nspname, sizeof u->nspname, "%s", nsp ? nsp : "");
    snprintf(u->relname, sizeof u->relname, "%s", rel ? rel : "");
    for (size_t i = 0; i < ts->n; i++)
        if (ts->v[i].oid == oid) {
            memcpy(ts->v[i].nspname, u->nspname, sizeof u->nspname);
            memcpy(ts->v[i].relname, u->relname, sizeof u->relname);
        }
    return 0;
}

int tm_tableset_snapshot(tm_tableset *ts, uint32_t oid, uint64_t lsn, int64_t time, tm_error *err)
{
    if (open_span(ts, oid))
        return 0;
    tm_tablespan *sp = push(&ts->v, &ts->n, &ts->cap);
    if (!sp)
        return oom(err);
    const tm_tablespan *u = seen_entry(ts, oid);
    if (u)
        *sp = *u;
    sp->oid = oid;
    sp->start_lsn = lsn;
    sp->start_time = time;
    sp->ended = false;
    return 0;
}

void tm_tableset_removed(tm_tableset *ts, uint32_t oid, uint64_t lsn, int64_t time)
{
    tm_tablespan *sp = open_span(ts, oid);
    if (!sp)
        return; /* noticed twice (a restart before the first was durable): one end */
    sp->ended = true;
    sp->end_lsn = lsn;
    sp->end_time = time;
}

static bool starts_by(const tm_tablespan *sp, bool by_lsn, uint64_t lsn, int64_t time)
{
    return by_lsn ? sp->start_lsn <= lsn : sp->start_time <= time;
}

const tm_tablespan *tm_tableset_at(const tm_tableset *ts, uint32_t oid, bool by_lsn, uint64_t lsn,
                                   int64_t time)
{
    const tm_tablespan *sp = tm_tableset_prev(ts, oid, by_lsn, lsn, time);
    if (!sp || !sp->ended)
        return sp;
    bool within = by_lsn ? lsn <= sp->end_lsn : time <= sp->end_time;
    return within ? sp : NULL;
}

const tm_tablespan *tm_tableset_prev(const tm_tableset *ts, uint32_t oid, bool by_lsn, uint64_t lsn,
                                     int64_t time)
{
    for (size_t i = ts->n; i-- > 0;)
        if (ts->v[i].oid == oid && starts_by(&ts->v[i], by_lsn, lsn, time))
            return &ts->v[i];
    return NULL;
}

const tm_tablespan *tm_tableset_next(const tm_tableset *ts, uint32_t oid, bool by_lsn, uint64_t lsn,
                                     int64_t time)
{
    for (size_t i = 0; i < ts->n; i++)
        if (ts->v[i].oid == oid && !starts_by(&ts->v[i], by_lsn, lsn, time))
            return &ts->v[i];
    return NULL;
}

/* The relation oid of a packed Change: the writer puts fields 1 (op) and
 * 2 first, as varints; anything else is unpacked the general way. */
static bool change_oid(const uint8_t *p, size_t len, uint32_t *oid)
{
    uint64_t a, b;
    size_t k, m;
    if (len < 4 || p[0] != 0x08 || (k = tm_varint_get(p + 1, len - 1, &a)) == 0 || 1 + k >= len ||
        p[1 + k] != 0x10 || (m = tm_varint_get(p + 2 + k, len - 2 - k, &b)) == 0) {
        Tidemark__Change *c = tidemark__change__unpack(NULL, len, p);
        if (!c)
            return false;
        *oid = c->relation_oid;
        tidemark__change__free_unpacked(c, NULL);
        return true;
    }
    (void)a;
    *oid = (uint32_t)b;
    return true;
}

int tm_tableset_scan(const char *dir, tm_tableset *ts, tm_error *err)
{
    tm_tableset_free(ts);
    tm_reader *r;
    if (tm_reader_open(dir, &r, err) != 0)
        return -1;
    const Tidemark__Record *rec;
    const uint8_t *raw;
    size_t len;
    uint64_t left = 0, lsn = 0;
    int64_t time = 0;
    bool snapshot = false;
    int rc;
    while ((rc = tm_reader_next_lazy(r, &rec, &raw, &len, err)) == 1) {
        if (!rec) {
            uint32_t oid;
            if (left)
                left--;
            if (!snapshot)
                continue;
            if (!change_oid(raw, len, &oid)) {
                tm_error_setc(err, TM_ERR_CORRUPT,
                              "a change of the journal does not decode; run tidemark verify");
                rc = -1;
                break;
            }
            if (tm_tableset_snapshot(ts, oid, lsn, time, err) != 0) {
                rc = -1;
                break;
            }
            continue;
        }
        if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
            left = rec->begin->n_records;
            snapshot = rec->begin->snapshot && left;
            lsn = rec->begin->commit_lsn;
            time = rec->begin->commit_time;
            continue;
        }
        if (left)
            left--;
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION &&
            tm_tableset_relation(ts, rec->relation->oid, rec->relation->namespace_,
                                 rec->relation->name, err) != 0) {
            rc = -1;
            break;
        }
        if (rec->body_case == TIDEMARK__RECORD__BODY_TABLE_REMOVED)
            tm_tableset_removed(ts, rec->table_removed->oid, rec->table_removed->lsn,
                                rec->table_removed->time);
    }
    tm_reader_close(r);
    return rc < 0 ? -1 : 0;
}

const char *tm_tablespan_describe(const tm_tablespan *sp, char *buf, size_t len)
{
    char t1[TM_TIME_BUFLEN], l1[TM_LSN_BUFLEN], t2[TM_TIME_BUFLEN], l2[TM_LSN_BUFLEN];
    int n = snprintf(buf, len, "captured from %s (LSN %s)", tm_time_format(sp->start_time, t1),
                     tm_lsn_format(sp->start_lsn, l1));
    if (sp->ended && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " to %s (LSN %s)", tm_time_format(sp->end_time, t2),
                 tm_lsn_format(sp->end_lsn, l2));
    return buf;
}
