/* tm_writer_put_packed (records packed by the caller, as capture buffers
 * them) and tm_writer_relation (the latest schema per table). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/journal/journal.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

static size_t pack(const Tidemark__Record *rec, uint8_t *buf)
{
    return protobuf_c_message_pack(&rec->base, buf);
}

START_TEST(packed_round_trip_and_rejects)
{
    char *dir = tmt_tempdir();
    tm_writer *w;
    tm_error err;
    ck_assert_msg(tm_writer_open(dir, NULL, &w, &err) == 0, "%s", err.msg);

    Tidemark__Relation rel = TIDEMARK__RELATION__INIT;
    rel.has_oid = rel.has_version = 1;
    rel.oid = 42;
    rel.version = 3;
    rel.name = "prefs";
    Tidemark__Record rrec = TIDEMARK__RECORD__INIT;
    rrec.body_case = TIDEMARK__RECORD__BODY_RELATION;
    rrec.relation = &rel;
    ck_assert_ptr_null(tm_writer_relation(w, 42));
    ck_assert_int_eq(tm_writer_put_standalone(w, &rrec, &err), 0);
    const Tidemark__Relation *got = tm_writer_relation(w, 42);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got->version, 3);
    ck_assert_str_eq(got->name, "prefs");

    Tidemark__TxBegin hdr = TIDEMARK__TX_BEGIN__INIT;
    hdr.has_commit_lsn = hdr.has_end_lsn = hdr.has_n_records = 1;
    hdr.commit_lsn = 100;
    hdr.end_lsn = 120;
    hdr.n_records = 2;
    ck_assert_int_eq(tm_writer_begin_tx(w, &hdr, &err), 0);

    uint8_t buf[256];
    /* A packed Relation or TxBegin is refused: the writer must see those. */
    ck_assert_int_eq(tm_writer_put_packed(w, buf, pack(&rrec, buf), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "Change, LogicalMessage or Gap"));
    ck_assert_int_eq(tm_writer_put_packed(w, buf, 0, &err), -1);

    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    ch.has_op = ch.has_relation_oid = 1;
    ch.op = TIDEMARK__CHANGE__OP__DELETE;
    ch.relation_oid = 42;
    Tidemark__Record crec = TIDEMARK__RECORD__INIT;
    crec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    crec.change = &ch;
    ck_assert_int_eq(tm_writer_put_packed(w, buf, pack(&crec, buf), &err), 0);
    ck_assert_int_eq(tm_writer_put_packed(w, buf, pack(&crec, buf), &err), 0);
    /* One more than declared. */
    ck_assert_int_eq(tm_writer_put_packed(w, buf, pack(&crec, buf), &err), -1);
    ck_assert_int_eq(tm_writer_end_tx(w, &err), 0);
    ck_assert_int_eq(tm_writer_close(w, &err), 0);

    /* Reopened: the relation is recovered, the changes read back. */
    ck_assert_int_eq(tm_writer_open(dir, NULL, &w, &err), 0);
    got = tm_writer_relation(w, 42);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got->version, 3);
    ck_assert_uint_eq(tm_writer_last_commit_lsn(w), 100);
    ck_assert_int_eq(tm_writer_close(w, &err), 0);
    tm_reader *r;
    ck_assert_int_eq(tm_reader_open(dir, &r, &err), 0);
    const Tidemark__Record *rec;
    int changes = 0, rc;
    while ((rc = tm_reader_next(r, &rec, &err)) == 1)
        if (rec->body_case == TIDEMARK__RECORD__BODY_CHANGE) {
            ck_assert_uint_eq(rec->change->relation_oid, 42);
            ck_assert_int_eq(rec->change->op, TIDEMARK__CHANGE__OP__DELETE);
            changes++;
        }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(changes, 2);
    tm_reader_close(r);
    tmt_tempdir_remove(dir);
}
END_TEST

int main(void)
{
    return tm_check_main("store_packed", "core", 0, TM_TESTS(packed_round_trip_and_rejects));
}
