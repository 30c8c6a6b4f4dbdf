#include "capture/snapshot/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/journal/copy_text.h"
#include "capture/source/source.h"
#include "store/common/tm_time.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

void tm_copyrow_free(tm_copyrow *row)
{
    free(row->kinds);
    free(row->data);
    free(row->lengths);
    free(row->vals);
    memset(row, 0, sizeof *row);
}

int tm_copy_decode(char *line, size_t len, size_t n, tm_copyrow *row, Tidemark__Tuple *out)
{
    if (grow((void **)&row->vals, &row->vals_cap, n + 1, sizeof(tm_value)) != 0 ||
        grow((void **)&row->kinds, &row->kinds_cap, n + 1, 1) != 0 ||
        grow((void **)&row->lengths, &row->lengths_cap, n + 1, sizeof(uint32_t)) != 0 ||
        grow((void **)&row->data, &row->data_cap, len + 1, 1) != 0)
        return -1;
    if (tm_copy_text_split(line, len, row->vals, n) != 0)
        return -1;
    /* The journal keeps a row's text values back to back. */
    size_t dlen = 0, tvals = 0;
    for (size_t i = 0; i < n; i++) {
        const tm_value *v = &row->vals[i];
        row->kinds[i] = v->kind == TM_KIND_NULL ? TM_KIND_NULL : TM_KIND_TEXT;
        if (v->kind != TM_KIND_NULL) {
            memcpy(row->data + dlen, v->ptr, v->len);
            dlen += v->len;
            row->lengths[tvals++] = v->len;
        }
    }
    tidemark__tuple__init(out);
    out->has_kinds = out->has_data = 1;
    out->kinds.data = row->kinds;
    out->kinds.len = n;
    out->n_lengths = tvals;
    out->lengths = row->lengths;
    out->data.data = row->data;
    out->data.len = dlen;
    return 0;
}

/* "schema"."name" ("c1", "c2", ...) for COPY; caller frees. COPY refuses
 * generated columns in its list, so a table whose stored generated columns
 * are published (18) is read through a query: (SELECT "c1", ... FROM ONLY
 * "schema"."name"), the same rows in the same text form. */
static char *copy_target(PGconn *sql, const Tidemark__Relation *rel)
{
    bool query = false;
    for (size_t i = 0; i < rel->n_columns; i++)
        query |= rel->columns[i]->generated != 0;
    char *ns = PQescapeIdentifier(sql, rel->namespace_, strlen(rel->namespace_));
    char *nm = PQescapeIdentifier(sql, rel->name, strlen(rel->name));
    size_t cap = strlen(ns) + strlen(nm) + 32, len;
    for (size_t i = 0; i < rel->n_columns; i++)
        cap += 2 * strlen(rel->columns[i]->name) + 6;
    char *out = malloc(cap);
    len = query ? (size_t)snprintf(out, cap, "(SELECT ")
                : (size_t)snprintf(out, cap, "%s.%s (", ns, nm);
    for (size_t i = 0; i < rel->n_columns; i++) {
        char *c = PQescapeIdentifier(sql, rel->columns[i]->name, strlen(rel->columns[i]->name));
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", c);
        PQfreemem(c);
    }
    if (query)
        snprintf(out + len, cap - len, " FROM ONLY %s.%s)", ns, nm);
    else
        snprintf(out + len, cap - len, ")");
    PQfreemem(ns);
    PQfreemem(nm);
    return out;
}

static int copy_table(PGconn *sql, const Tidemark__Relation *rel, tm_txbuf *out,
                      tm_snapshot_stats *stats, tm_error *err)
{
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    ch.has_op = ch.has_relation_oid = ch.has_relation_version = 1;
    ch.relation_oid = rel->oid;
    ch.relation_version = rel->version;
    ch.op = TIDEMARK__CHANGE__OP__TRUNCATE;
    if (tm_txbuf_add(out, &rec, err) != 0)
        return -1;

    char *target = copy_target(sql, rel);
    size_t slen = strlen(target) + 32;
    char *stmt = malloc(slen);
    snprintf(stmt, slen, "COPY %s TO STDOUT", target);
    PGresult *r = PQexec(sql, stmt);
    free(stmt);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        tm_error_setc(err, TM_ERR_DB, "COPY %s failed: %s", target, PQresultErrorMessage(r));
        PQclear(r);
        free(target);
        return -1;
    }
    PQclear(r);

    tm_copyrow row = {0};
    Tidemark__Tuple tup;
    ch.op = TIDEMARK__CHANGE__OP__INSERT;
    ch.new_tuple = &tup;
    uint64_t rows = 0;
    int rc = 0;
    char *line;
    int n;
    while ((n = PQgetCopyData(sql, &line, 0)) > 0) {
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        int bad = tm_copy_decode(line, len, rel->n_columns, &row, &tup);
        PQfreemem(line);
        if (bad) {
            tm_error_setc(err, TM_ERR_FORMAT,
                          "COPY of %s returned a row that is not %zu fields of COPY text", target,
                          rel->n_columns);
            rc = -1;
            break;
        }
        rows++;
        stats->bytes += len;
        if (tm_txbuf_add(out, &rec, err) != 0) {
            rc = -1;
            break;
        }
    }
    tm_copyrow_free(&row);
    if (rc == 0 && n == -2) {
        tm_error_setc(err, TM_ERR_DB, "COPY of %s failed: %s", target, PQerrorMessage(sql));
        rc = -1;
    }
    /* Drain the final result, whatever happened. */
    while (n > 0 && (n = PQgetCopyData(sql, &line, 0)) > 0)
        PQfreemem(line);
    while ((r = PQgetResult(sql)) != NULL) {
        if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
            tm_error_setc(err, TM_ERR_DB, "COPY of %s failed: %s", target, PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    stats->rows += rows;
    free(target);
    return rc;
}

int tm_snapshot_take(PGconn *sql, const char *snapshot_name, tm_catrel *const *rels, int n,
                     uint64_t lsn, tm_txbuf *out, Tidemark__TxBegin *hdr, tm_snapshot_stats *stats,
                     tm_error *err)
{
    memset(stats, 0, sizeof *stats);
    tm_txbuf_reset(out);
    if (tm_source_exec(sql, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) != 0)
        return -1;
    int rc = -1;
    if (snapshot_name) {
        char stmt[200];
        char *lit = PQescapeLiteral(sql, snapshot_name, strlen(snapshot_name));
        snprintf(stmt, sizeof stmt, "SET TRANSACTION SNAPSHOT %s", lit);
        PQfreemem(lit);
        if (tm_source_exec(sql, stmt, err) != 0)
            goto out;
    }
    PGresult *now = PQexec(sql, "SELECT (extract(epoch FROM now()) * 1000000)::int8");
    int64_t t = PQresultStatus(now) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(now, 0, 0), NULL, 10)
                                                       : tm_time_now();
    PQclear(now);
    for (int i = 0; i < n; i++)
        if (copy_table(sql, &rels[i]->rel, out, stats, err) != 0)
            goto out;
    tidemark__tx_begin__init(hdr);
    hdr->has_commit_lsn = hdr->has_end_lsn = hdr->has_commit_time = hdr->has_n_records = 1;
    hdr->has_snapshot = 1;
    hdr->snapshot = 1;
    hdr->commit_lsn = hdr->end_lsn = lsn;
    hdr->commit_time = t;
    hdr->n_records = tm_txbuf_count(out);
    rc = 0;
out:
    tm_source_exec(sql, rc == 0 ? "COMMIT" : "ROLLBACK", NULL);
    return rc;
}
