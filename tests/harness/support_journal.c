#include "tests/harness/support_journal.h"
#include "tests/harness/support_store.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

void tmt_jw_relation(tm_writer *w, uint32_t oid, uint32_t version, uint64_t lsn, const char *name,
                     char replica_identity, const tmt_col *cols, uint32_t n)
{
    tmt_jw_relation_in(w, "public", oid, version, lsn, name, replica_identity, cols, n);
}

void tmt_jw_relation_in(tm_writer *w, const char *nsp, uint32_t oid, uint32_t version, uint64_t lsn,
                        const char *name, char replica_identity, const tmt_col *cols, uint32_t n)
{
    Tidemark__Relation rel = TIDEMARK__RELATION__INIT;
    Tidemark__Column c[16], *cp[16];
    ck_assert_uint_le(n, 16);
    bool has_pk = false;
    for (uint32_t i = 0; i < n; i++)
        has_pk = has_pk || cols[i].pk;
    for (uint32_t i = 0; i < n; i++) {
        tidemark__column__init(&c[i]);
        c[i].name = (char *)cols[i].name;
        c[i].has_type_oid = c[i].has_pk_position = c[i].has_replica_key = 1;
        c[i].type_oid = cols[i].type_oid;
        c[i].type_name = cols[i].type_name        ? (char *)cols[i].type_name
                         : cols[i].type_oid == 23 ? "integer"
                                                  : "text";
        c[i].pk_position = cols[i].pk;
        c[i].replica_key = !has_pk || cols[i].pk;
        if (cols[i].missing) {
            c[i].has_has_missing = c[i].has_missing = c[i].has_missing_value = 1;
            c[i].missing_value.data = (uint8_t *)"7";
            c[i].missing_value.len = 1;
        }
        cp[i] = &c[i];
    }
    rel.has_oid = rel.has_version = rel.has_lsn = rel.has_replica_identity = 1;
    rel.oid = oid;
    rel.version = version;
    rel.lsn = lsn;
    rel.namespace_ = (char *)nsp;
    rel.name = (char *)name;
    rel.replica_identity = (uint32_t)replica_identity;
    rel.n_columns = n;
    rel.columns = cp;
    tmt_put_relation_record(w, &rel);
}

void tmt_jw_versioned_relation(tm_writer *w, uint32_t oid, uint32_t version, uint64_t lsn,
                               const char *name, char replica_identity, const tmt_col *key,
                               uint32_t nkey)
{
    tmt_col c[8];
    uint32_t n = 0;
    ck_assert_uint_le(nkey, 6);
    for (; n < nkey; n++)
        c[n] = key[n];
    if (nkey) {
        if (version < 3)
            c[n++] = (tmt_col){"c", 25, 0, false, NULL};
        if (version >= 2)
            c[n++] = (tmt_col){"d", 23, 0, true, NULL};
    } else {
        c[n++] = (tmt_col){"x", 25, 0, false, NULL};
        c[n++] = (tmt_col){"y", 23, 0, false, NULL};
    }
    tmt_jw_relation(w, oid, version, lsn, name, replica_identity, c, n);
}

void tmt_jw_begin(tmt_jw *j, uint64_t n, bool snapshot, int64_t time)
{
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    b.has_commit_lsn = b.has_end_lsn = b.has_commit_time = b.has_n_records = 1;
    b.has_xid = j->xid != 0;
    b.xid = j->xid;
    b.has_snapshot = snapshot;
    b.snapshot = snapshot;
    j->lsn += 100;
    b.commit_lsn = j->lsn;
    b.end_lsn = j->lsn + 10;
    b.commit_time = j->time = time;
    b.n_records = n;
    tm_error err;
    ck_assert_msg(tm_writer_begin_tx(j->w, &b, &err) == 0, "%s", err.msg);
}

void tmt_jw_end(tmt_jw *j)
{
    tm_error err;
    ck_assert_msg(tm_writer_end_tx(j->w, &err) == 0, "%s", err.msg);
}

void tmt_jw_change(tmt_jw *j, int op, uint32_t oid, uint32_t version, char old_kind,
                   const tm_value *ov, uint32_t no, const tm_value *nv, uint32_t nn)
{
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    Tidemark__Tuple ot, nt;
    ch.has_op = ch.has_relation_oid = ch.has_relation_version = 1;
    ch.op = op;
    ch.relation_oid = oid;
    ch.relation_version = version;
    tm_error err;
    if (old_kind) {
        ch.has_old_kind = 1;
        ch.old_kind = (uint32_t)old_kind;
        ck_assert_int_eq(tm_tuple_encode(&j->eo, ov, no, NULL, 0, &ot, &err), 0);
        ch.old_tuple = &ot;
    }
    if (nv) {
        bool with_old = old_kind && !j->keep_unchanged;
        ck_assert_int_eq(
            tm_tuple_encode(&j->en, nv, nn, with_old ? ov : NULL, with_old ? no : 0, &nt, &err), 0);
        ch.new_tuple = &nt;
    }
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    ck_assert_msg(tm_writer_put(j->w, &rec, &err) == 0, "%s", err.msg);
}

void tmt_jw_meta(const char *dir)
{
    tm_meta meta = {.format_version = TM_JOURNAL_FORMAT_VERSION, .system_identifier = 42};
    snprintf(meta.database, sizeof meta.database, "db");
    tm_error err;
    ck_assert_int_eq(tm_meta_write(dir, &meta, &err), 0);
}

void tmt_jw_open(tmt_jw *j, const char *dir, const tm_writer_options *o)
{
    tm_error err;
    ck_assert_msg(tm_writer_open(dir, o, &j->w, &err) == 0, "%s", err.msg);
    tmt_jw_meta(dir);
}

void tmt_jw_close(tmt_jw *j)
{
    tm_error err;
    ck_assert_msg(tm_writer_close(j->w, &err) == 0, "%s", err.msg);
    j->w = NULL;
    tm_tuple_enc_free(&j->eo);
    tm_tuple_enc_free(&j->en);
}

const char TMT_TOAST[] = "(unchanged toast)";

/* The values of a row of C strings (see TMT_ROW), pointing into them. */
static void row_values(const char *const *s, uint32_t n, tm_value *v)
{
    ck_assert_uint_le(n, 16);
    for (uint32_t i = 0; i < n; i++)
        if (!s[i])
            v[i] = (tm_value){NULL, 0, TM_KIND_NULL};
        else if (s[i] == TMT_TOAST)
            v[i] = (tm_value){NULL, 0, TM_KIND_UNCHANGED};
        else
            v[i] = (tm_value){s[i], (uint32_t)strlen(s[i]), TM_KIND_TEXT};
}

static void put_rows(tmt_jw *j, int op, uint32_t oid, uint32_t version, char old_kind,
                     const char *const *ov, uint32_t no, const char *const *nv, uint32_t nn)
{
    tm_value o[16], n[16];
    row_values(ov, old_kind ? no : 0, o);
    row_values(nv, nn, n);
    tmt_jw_change(j, op, oid, version, old_kind, o, no, nv ? n : NULL, nn);
}

void tmt_jw_insert(tmt_jw *j, uint32_t oid, uint32_t version, const char *const *nv, uint32_t nn)
{
    put_rows(j, TIDEMARK__CHANGE__OP__INSERT, oid, version, 0, NULL, 0, nv, nn);
}

void tmt_jw_update(tmt_jw *j, uint32_t oid, uint32_t version, char old_kind, const char *const *ov,
                   uint32_t no, const char *const *nv, uint32_t nn)
{
    put_rows(j, TIDEMARK__CHANGE__OP__UPDATE, oid, version, old_kind, ov, no, nv, nn);
}

void tmt_jw_delete(tmt_jw *j, uint32_t oid, uint32_t version, char old_kind, const char *const *ov,
                   uint32_t no)
{
    put_rows(j, TIDEMARK__CHANGE__OP__DELETE, oid, version, old_kind, ov, no, NULL, 0);
}

void tmt_jw_truncate(tmt_jw *j, uint32_t oid, uint32_t version)
{
    tmt_jw_change(j, TIDEMARK__CHANGE__OP__TRUNCATE, oid, version, 0, NULL, 0, NULL, 0);
}
