/* Decodes pgoutput messages recorded from a real PostgreSQL 15 running
 * tests/data/pgoutput_workload.sql (see tests/data/README.md) and checks
 * them against what the workload did: message types in order, relations,
 * values, LSN and time consistency. Also round-trips every recorded change
 * through the journal tuple encoding. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/pgo_build.h"
#include "capture/decode/pgoutput.h"
#include "capture/decode/relcache.h"
#include "store/journal/tuple.h"
#include "capture/decode/tuple_encode.h"
#include "tests/harness/tm_check.h"

#define V1_FIXTURE TM_SOURCE_DIR "/tests/data/pgoutput_v1.hex"
#define V2_FIXTURE TM_SOURCE_DIR "/tests/data/pgoutput_stream_v2.hex"

#define INT4 23
#define TEXT 25
#define BOOL 16
#define JSONB 3802
#define NUMERIC 1700

static fixture fx;
static size_t pos;
static tm_pgo_decoder dec;
static tm_pgo_msg m;
static tm_error err;
static tm_relcache *rc;
static uint32_t mood_oid;
static uint64_t last_commit_lsn;
static char big0[4001], big1[4001];

static void setup_common(const char *path)
{
    fixture_load(&fx, path);
    pos = 0;
    tm_pgo_decoder_init(&dec);
    ck_assert_int_eq(tm_relcache_create(&rc, &err), 0);
    last_commit_lsn = 0;
    for (int i = 0; i < 4000; i++) {
        big0[i] = (char)('0' + i % 10);
        big1[i] = (char)('a' + i % 10);
    }
}

static void setup_v1(void)
{
    setup_common(V1_FIXTURE);
}

static void setup_v2(void)
{
    setup_common(V2_FIXTURE);
}

static void teardown(void)
{
    tm_relcache_destroy(rc);
    tm_pgo_decoder_free(&dec);
    fixture_free(&fx);
}

/* Decodes the next recorded message and checks its type. */
static const tm_pgo_msg *next(int type)
{
    ck_assert_msg(pos < fx.n, "fixture ends after %zu messages, expected a %s", pos,
                  tm_pgo_type_name(type));
    ck_assert_msg(tm_pgo_decode(&dec, fx.msgs[pos], fx.lens[pos], &m, &err) == 0, "message %zu: %s",
                  pos + 1, err.msg);
    ck_assert_msg((int)m.type == type, "message %zu is a %s, expected a %s", pos + 1,
                  tm_pgo_type_name(m.type), tm_pgo_type_name(type));
    pos++;
    return &m;
}

static bool text_is(const tm_value *v, const char *s)
{
    return v->kind == 't' && v->len == strlen(s) && memcmp(v->ptr, s, v->len) == 0;
}

/* spec: "n", "u", or "=text" per column. */
static void tuple_is(const tm_pgo_tuple *t, const char *const *spec)
{
    uint32_t n = 0;
    while (spec[n])
        n++;
    ck_assert_msg(t->ncols == n, "message %zu: %u columns, expected %u", pos, t->ncols, n);
    for (uint32_t i = 0; i < n; i++) {
        if (spec[i][0] == '=')
            ck_assert_msg(text_is(&t->cols[i], spec[i] + 1),
                          "message %zu column %u: kind %c, %u bytes; expected '%.40s'", pos, i + 1,
                          t->cols[i].kind, t->cols[i].len, spec[i] + 1);
        else
            ck_assert_msg(t->cols[i].kind == spec[i][0], "message %zu column %u: kind %c, not %c",
                          pos, i + 1, t->cols[i].kind, spec[i][0]);
    }
}

typedef struct colspec {
    const char *name;
    uint32_t type; /* 0: the mood enum */
    int32_t typmod;
    bool key;
} colspec;

/* A Relation message: checks it and caches it; returns the oid. */
static uint32_t relation(const char *name, char ident, const colspec *cols, uint32_t ncols)
{
    const tm_pgo_msg *r = next(TM_PGO_RELATION);
    ck_assert_str_eq(r->relation.nspname, "public");
    ck_assert_str_eq(r->relation.relname, name);
    ck_assert_int_eq(r->relation.replident, ident);
    ck_assert_uint_eq(r->relation.ncols, ncols);
    for (uint32_t i = 0; i < ncols; i++) {
        const tm_pgo_relcol *c = &r->relation.cols[i];
        ck_assert_str_eq(c->name, cols[i].name);
        ck_assert_uint_eq(c->type_oid, cols[i].type ? cols[i].type : mood_oid);
        ck_assert_int_eq(c->typmod, cols[i].typmod);
        ck_assert_uint_eq(c->flags, cols[i].key ? TM_PGO_COL_KEY : 0);
    }
    tm_rel *rel;
    bool changed;
    ck_assert_int_eq(tm_relcache_put(rc, &r->relation, &rel, &changed, &err), 0);
    return r->relation.oid;
}

static void mood_type(void)
{
    const tm_pgo_msg *y = next(TM_PGO_TYPE);
    ck_assert_str_eq(y->typ.nspname, "public");
    ck_assert_str_eq(y->typ.name, "mood");
    ck_assert(mood_oid == 0 || mood_oid == y->typ.oid);
    mood_oid = y->typ.oid;
}

static uint64_t begin_lsn;
static int64_t begin_time;

static void begin(void)
{
    const tm_pgo_msg *b = next(TM_PGO_BEGIN);
    ck_assert_uint_gt(b->begin.final_lsn, last_commit_lsn);
    ck_assert_uint_ne(b->begin.xid, 0);
    begin_lsn = b->begin.final_lsn;
    begin_time = b->begin.commit_time;
    /* a commit time after the release of PostgreSQL 15 and not in the future */
    ck_assert_int_gt(begin_time, INT64_C(1664000000000000));
}

static void commit(void)
{
    const tm_pgo_msg *c = next(TM_PGO_COMMIT);
    ck_assert_uint_eq(c->commit.commit_lsn, begin_lsn);
    ck_assert_uint_gt(c->commit.end_lsn, c->commit.commit_lsn);
    ck_assert_int_eq(c->commit.commit_time, begin_time);
    last_commit_lsn = c->commit.commit_lsn;
}

static const tm_pgo_change *change(int type, uint32_t relid, char old_kind)
{
    const tm_pgo_msg *c = next(type);
    ck_assert(!c->has_xid);
    ck_assert_uint_eq(c->change.relid, relid);
    ck_assert_int_eq(c->change.old_kind, old_kind);
    ck_assert_ptr_nonnull(tm_relcache_get(rc, relid));
    return &c->change;
}

static void message(bool transactional, const char *prefix, const void *content, uint32_t len)
{
    const tm_pgo_msg *x = next(TM_PGO_MESSAGE);
    ck_assert(x->message.transactional == transactional);
    ck_assert_str_eq(x->message.prefix, prefix);
    ck_assert_uint_eq(x->message.content_len, len);
    ck_assert(memcmp(x->message.content, content, len) == 0);
    ck_assert_uint_gt(x->message.lsn, last_commit_lsn);
}

static void truncate_(uint32_t a, uint32_t b, unsigned flags)
{
    const tm_pgo_msg *t = next(TM_PGO_TRUNCATE);
    ck_assert_uint_eq(t->truncate.nrelids, 2);
    ck_assert_uint_eq(t->truncate.relids[0], a);
    ck_assert_uint_eq(t->truncate.relids[1], b);
    ck_assert_uint_eq(t->truncate.flags, flags);
}

#define SPEC(...) ((const char *const[]){__VA_ARGS__, NULL})

static const colspec prefs_cols[] = {
    {"id", INT4, -1, true},    {"email", TEXT, -1, false}, {"settings", JSONB, -1, false},
    {"note", TEXT, -1, false}, {"m", 0, -1, false},        {"extra", INT4, -1, false}};
static const colspec full_cols[] = {{"id", INT4, -1, true},
                                    {"big", TEXT, -1, true},
                                    {"flag", BOOL, -1, true},
                                    {"score", NUMERIC, (10 << 16 | 2) + 4, true}};
static const colspec t2_cols[] = {{"a", INT4, -1, false}};

START_TEST(v1_workload)
{
    char eq_big0[4002] = "=", eq_big1[4002] = "=";
    strcat(eq_big0, big0);
    strcat(eq_big1, big1);

    /* 1: two inserts; the enum's Type message precedes the Relation */
    begin();
    mood_type();
    uint32_t prefs = relation("prefs", 'd', prefs_cols, 5);
    tuple_is(&change(TM_PGO_INSERT, prefs, 0)->new_,
             SPEC("=1", "=a@example.com", "={\"theme\": \"dark\"}", "n", "=happy"));
    tuple_is(&change(TM_PGO_INSERT, prefs, 0)->new_, SPEC("=2", "=", "={}", "=héllo", "n"));
    commit();
    /* 2: no key change, DEFAULT identity: no old tuple */
    begin();
    tuple_is(&change(TM_PGO_UPDATE, prefs, 0)->new_,
             SPEC("=1", "=a@example.com", "={\"theme\": \"light\"}", "n", "=happy"));
    commit();
    /* 3: key change: old key tuple, non-key columns sent as n */
    begin();
    const tm_pgo_change *c = change(TM_PGO_UPDATE, prefs, 'K');
    tuple_is(&c->old, SPEC("=2", "n", "n", "n", "n"));
    tuple_is(&c->new_, SPEC("=20", "=", "={}", "=héllo", "n"));
    commit();
    /* 4 */
    begin();
    tuple_is(&change(TM_PGO_DELETE, prefs, 'K')->old, SPEC("=20", "n", "n", "n", "n"));
    commit();
    /* 5: a TOASTed value, then an update leaving it unchanged */
    begin();
    tuple_is(&change(TM_PGO_INSERT, prefs, 0)->new_,
             SPEC("=3", "=c@example.com", "n", eq_big0, "=sad"));
    commit();
    begin();
    tuple_is(&change(TM_PGO_UPDATE, prefs, 0)->new_,
             SPEC("=3", "=c2@example.com", "n", "u", "=sad"));
    commit();
    /* 6: the same under REPLICA IDENTITY FULL */
    begin();
    uint32_t full = relation("prefs_full", 'f', full_cols, 4);
    tuple_is(&change(TM_PGO_INSERT, full, 0)->new_, SPEC("=1", eq_big1, "=f", "=1.50"));
    commit();
    begin();
    c = change(TM_PGO_UPDATE, full, 'O');
    tuple_is(&c->old, SPEC("=1", eq_big1, "=f", "=1.50"));
    tuple_is(&c->new_, SPEC("=1", "u", "=t", "=1.50"));
    commit();
    begin();
    tuple_is(&change(TM_PGO_DELETE, full, 'O')->old, SPEC("=1", eq_big1, "=t", "=1.50"));
    commit();
    /* 7: transactional message with a change */
    begin();
    static const char ctx[] = "{\"user\": \"alice\", \"why\": \"test\"}";
    message(true, "tidemark", ctx, sizeof ctx - 1);
    uint32_t t2 = relation("t2", 'd', t2_cols, 1);
    tuple_is(&change(TM_PGO_INSERT, t2, 0)->new_, SPEC("=7"));
    commit();
    /* 8: non-transactional messages, outside any Begin/Commit */
    message(false, "audit", "not in a transaction", 20);
    message(false, "bin", "\x00\xff\x0a", 3);
    message(false, "", "", 0);
    /* 9: zero columns */
    begin();
    uint32_t nocols = relation("nocols", 'd', NULL, 0);
    tuple_is(&change(TM_PGO_INSERT, nocols, 0)->new_, (const char *const[]){NULL});
    commit();
    /* 10: TRUNCATE invalidates pgoutput's schema cache: relations re-sent */
    begin();
    mood_type();
    ck_assert_uint_eq(relation("prefs", 'd', prefs_cols, 5), prefs);
    ck_assert_uint_eq(relation("t2", 'd', t2_cols, 1), t2);
    truncate_(prefs, t2, 0);
    commit();
    begin();
    ck_assert_uint_eq(relation("t2", 'd', t2_cols, 1), t2);
    ck_assert_uint_eq(relation("nocols", 'd', NULL, 0), nocols);
    truncate_(t2, nocols, TM_PGO_TRUNCATE_CASCADE | TM_PGO_TRUNCATE_RESTART_IDENTITY);
    commit();
    /* 11: the rolled-back transaction sent nothing. 12: replication origin,
     * whose timestamp becomes the commit time */
    begin();
    ck_assert_int_eq(begin_time, INT64_C(1704164645000000));
    const tm_pgo_msg *o = next(TM_PGO_ORIGIN);
    ck_assert_str_eq(o->origin.name, "tm_origin");
    ck_assert_uint_eq(o->origin.lsn, 0xABCDEF);
    ck_assert_uint_eq(relation("t2", 'd', t2_cols, 1), t2);
    tuple_is(&change(TM_PGO_INSERT, t2, 0)->new_, SPEC("=12"));
    commit();
    /* 13: ADD COLUMN: a new Relation with the extra column; the row gets
     * the default */
    begin();
    mood_type();
    ck_assert_uint_eq(relation("prefs", 'd', prefs_cols, 6), prefs);
    tuple_is(&change(TM_PGO_INSERT, prefs, 0)->new_,
             SPEC("=4", "=d@example.com", "n", "n", "n", "=5"));
    commit();
    ck_assert_uint_eq(pos, fx.n);
    ck_assert_uint_eq(tm_relcache_count(rc), 4);
}
END_TEST

/* Checks "<prefix> <n>" and returns n. */
static long row_number(const tm_value *v, const char *prefix)
{
    size_t pl = strlen(prefix);
    ck_assert_int_eq(v->kind, 't');
    ck_assert(v->len > pl + 1 && v->len < pl + 10 && memcmp(v->ptr, prefix, pl) == 0 &&
              v->ptr[pl] == ' ');
    char buf[16];
    memcpy(buf, v->ptr + pl + 1, v->len - pl - 1);
    buf[v->len - pl - 1] = '\0';
    return strtol(buf, NULL, 10);
}

START_TEST(v2_streaming_workload)
{
    static const colspec big_cols[] = {{"id", INT4, -1, true}, {"v", TEXT, -1, false}};
    /* 14: one transaction streamed in several chunks, with a rolled-back
     * subtransaction, then committed */
    const tm_pgo_msg *s = next(TM_PGO_STREAM_START);
    ck_assert(s->stream_start.first_segment);
    uint32_t xid = s->stream_start.xid, subxid = 0;
    uint32_t big = relation("big_tx", 'd', big_cols, 2);
    long rows = 0, subrows = 0;
    int chunks = 1;
    for (;;) {
        const tm_pgo_msg *x = &m;
        ck_assert_int_eq(tm_pgo_decode(&dec, fx.msgs[pos], fx.lens[pos], &m, &err), 0);
        pos++;
        if (x->type == TM_PGO_STREAM_STOP) {
            if (tm_pgo_decode(&dec, fx.msgs[pos], fx.lens[pos], &m, &err) == 0 &&
                m.type == TM_PGO_STREAM_START) {
                ck_assert(!m.stream_start.first_segment);
                ck_assert_uint_eq(m.stream_start.xid, xid);
                pos++;
                chunks++;
                continue;
            }
            break;
        }
        ck_assert_int_eq(x->type, TM_PGO_INSERT);
        ck_assert(x->has_xid);
        ck_assert_uint_eq(x->change.relid, big);
        ck_assert_uint_eq(x->change.new_.ncols, 2);
        if (x->xid == xid) {
            /* the top-level rows, in order, all before the subtransaction */
            ck_assert_int_eq(subrows, 0);
            ck_assert_int_eq(row_number(&x->change.new_.cols[1], "row"), ++rows);
        } else {
            if (!subxid)
                subxid = x->xid;
            ck_assert_uint_eq(x->xid, subxid);
            ck_assert_int_eq(row_number(&x->change.new_.cols[1], "sub"), 1001 + subrows++);
        }
    }
    ck_assert_int_ge(chunks, 2);
    ck_assert_int_eq(rows, 500);
    ck_assert_int_gt(subrows, 0);
    /* the message after the last Stream Stop was peeked at above; it is
     * decoded again here */
    const tm_pgo_msg *a = next(TM_PGO_STREAM_ABORT);
    ck_assert_uint_eq(a->stream_abort.xid, xid);
    ck_assert_uint_eq(a->stream_abort.subxid, subxid);
    const tm_pgo_msg *sc = next(TM_PGO_STREAM_COMMIT);
    ck_assert_uint_eq(sc->stream_commit.xid, xid);
    ck_assert_uint_gt(sc->stream_commit.end_lsn, sc->stream_commit.commit_lsn);
    ck_assert_int_gt(sc->stream_commit.commit_time, INT64_C(1664000000000000));
    uint64_t commit_lsn = sc->stream_commit.commit_lsn;

    /* 15: a streamed transaction aborted as a whole: subxid == xid */
    s = next(TM_PGO_STREAM_START);
    ck_assert(s->stream_start.first_segment);
    uint32_t xid2 = s->stream_start.xid;
    ck_assert_uint_ne(xid2, xid);
    ck_assert_uint_eq(relation("big_tx", 'd', big_cols, 2), big);
    long gone = 0;
    while (pos < fx.n && fx.msgs[pos][0] == 'I') {
        const tm_pgo_msg *x = next(TM_PGO_INSERT);
        ck_assert(x->has_xid && x->xid == xid2);
        ck_assert_int_eq(row_number(&x->change.new_.cols[1], "gone"), 2001 + gone++);
    }
    ck_assert_int_gt(gone, 0);
    next(TM_PGO_STREAM_STOP);
    a = next(TM_PGO_STREAM_ABORT);
    ck_assert_uint_eq(a->stream_abort.xid, xid2);
    ck_assert_uint_eq(a->stream_abort.subxid, xid2);

    /* 16: an ordinary transaction under proto_version 2: no xids */
    last_commit_lsn = commit_lsn;
    begin();
    uint32_t t2 = relation("t2", 'd', t2_cols, 1);
    tuple_is(&change(TM_PGO_INSERT, t2, 0)->new_, SPEC("=16"));
    commit();
    ck_assert_uint_eq(pos, fx.n);
}
END_TEST

/* Every recorded change survives encode -> protobuf -> decode, with 'u'
 * resolved from the old tuple where it carries the value. */
static void round_trip_all(const char *path)
{
    fixture f;
    fixture_load(&f, path);
    tm_tuple_enc eo = {0}, en = {0};
    tm_colbuf bo = {0}, bn = {0};
    size_t changes = 0, resolved = 0, same = 0;
    for (size_t i = 0; i < f.n; i++) {
        ck_assert_int_eq(tm_pgo_decode(&dec, f.msgs[i], f.lens[i], &m, &err), 0);
        if (m.type != TM_PGO_INSERT && m.type != TM_PGO_UPDATE && m.type != TM_PGO_DELETE)
            continue;
        const tm_pgo_change *c = &m.change;
        Tidemark__Change ch;
        Tidemark__Tuple to, tn;
        tidemark__change__init(&ch);
        if (c->old_kind) {
            ck_assert_int_eq(tm_tuple_encode(&eo, c->old.cols, c->old.ncols, NULL, 0, &to, &err),
                             0);
            ch.old_tuple = &to;
        }
        if (m.type != TM_PGO_DELETE) {
            ck_assert_int_eq(tm_tuple_encode(&en, c->new_.cols, c->new_.ncols, c->old.cols,
                                             c->old.ncols, &tn, &err),
                             0);
            ch.new_tuple = &tn;
        }
        size_t n = tidemark__change__get_packed_size(&ch);
        uint8_t *buf = malloc(n);
        tidemark__change__pack(&ch, buf);
        Tidemark__Change *u = tidemark__change__unpack(NULL, n, buf);
        ck_assert_ptr_nonnull(u);
        uint32_t no = 0, nn;
        if (c->old_kind) {
            ck_assert_int_eq(tm_tuple_decode(u->old_tuple, NULL, 0, &bo, &no, &err), 0);
            ck_assert_uint_eq(no, c->old.ncols);
            for (uint32_t k = 0; k < no; k++) {
                ck_assert_int_eq(bo.v[k].kind, c->old.cols[k].kind);
                ck_assert_uint_eq(bo.v[k].len, c->old.cols[k].len);
            }
        }
        if (m.type != TM_PGO_DELETE) {
            ck_assert_int_eq(
                tm_tuple_decode(u->new_tuple, c->old_kind ? bo.v : NULL, no, &bn, &nn, &err), 0);
            ck_assert_uint_eq(nn, c->new_.ncols);
            for (uint32_t k = 0; k < nn; k++) {
                const tm_value *want = &c->new_.cols[k];
                if (want->kind == 'u' && c->old_kind && c->old.cols[k].kind == 't') {
                    want = &c->old.cols[k];
                    resolved++;
                }
                if (u->new_tuple->kinds.data[k] == 's')
                    same++;
                ck_assert_int_eq(bn.v[k].kind, want->kind);
                ck_assert_uint_eq(bn.v[k].len, want->len);
                if (want->kind == 't')
                    ck_assert(memcmp(bn.v[k].ptr, want->ptr, want->len) == 0);
            }
        }
        tidemark__change__free_unpacked(u, NULL);
        free(buf);
        changes++;
    }
    ck_assert_uint_gt(changes, 10);
    if (strstr(path, "v1")) {
        /* the FULL update: the TOASTed 'u' resolved, id and score the same */
        ck_assert_uint_eq(resolved, 1);
        ck_assert_uint_ge(same, 3);
    }
    tm_colbuf_free(&bo);
    tm_colbuf_free(&bn);
    tm_tuple_enc_free(&eo);
    tm_tuple_enc_free(&en);
    fixture_free(&f);
}

START_TEST(tuple_round_trip_v1)
{
    round_trip_all(V1_FIXTURE);
}
END_TEST

START_TEST(tuple_round_trip_v2)
{
    round_trip_all(V2_FIXTURE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pgoutput_fixture");
    TCase *v1 = tm_check_case(s, "v1", 0, TM_TESTS(v1_workload, tuple_round_trip_v1));
    tcase_add_checked_fixture(v1, setup_v1, teardown);
    TCase *v2 = tm_check_case(s, "v2", 0, TM_TESTS(v2_streaming_workload, tuple_round_trip_v2));
    tcase_add_checked_fixture(v2, setup_v2, teardown);
    return tm_check_run(s);
}
