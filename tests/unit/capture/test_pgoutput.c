/* pgoutput decoder on hand-built messages: every message type with its edge
 * cases, rejection of every truncation and of malformed input, a bounded
 * random and mutation fuzz, and reuse of the decoder's buffers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/pgo_build.h"
#include "capture/decode/pgoutput.h"
#include "store/common/tm_time.h"
#include "tests/harness/tm_check.h"

#define LSN1 UINT64_C(0x16B374D848)
#define LSN2 UINT64_C(0x16B374D900)
#define LSN3 UINT64_C(0x16B374DA00)
/* 2024-01-02 03:04:05 UTC in PostgreSQL-epoch and Unix microseconds. */
#define PGT INT64_C(757479845000000)
#define UNIXT INT64_C(1704164645000000)

static tm_pgo_decoder dec;
static tm_error err;
static tm_pgo_msg msg;

static void setup(void)
{
    tm_pgo_decoder_init(&dec);
    memset(&err, 0, sizeof err);
}

static void teardown(void)
{
    tm_pgo_decoder_free(&dec);
}

/* Decodes from an exact-size heap copy (so ASan catches overreads) and
 * frees it afterwards: only call for checks that need no pointers. Use
 * decode_keep for checks of the decoded strings and values. */
static int decode_copy(const bb *b)
{
    uint8_t *p = bb_exact(b->p, b->len);
    int rc = tm_pgo_decode(&dec, p, b->len, &msg, &err);
    free(p);
    return rc;
}

static int decode_keep(const bb *b)
{
    return tm_pgo_decode(&dec, b->p, b->len, &msg, &err);
}

static void expect_error(const bb *b, const char *needle)
{
    ck_assert_int_eq(decode_copy(b), -1);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "error '%s' lacks '%s'", err.msg, needle);
}

/* Checks a tuple against a spec: "n", "u", or "=text". */
static void tuple_is(const tm_pgo_tuple *t, const char *const *spec)
{
    uint32_t n = 0;
    while (spec[n])
        n++;
    ck_assert_uint_eq(t->ncols, n);
    for (uint32_t i = 0; i < n; i++) {
        const tm_value *v = &t->cols[i];
        if (spec[i][0] == '=') {
            ck_assert_msg(v->kind == 't', "column %u kind %c, expected t", i, v->kind);
            ck_assert_uint_eq(v->len, strlen(spec[i] + 1));
            ck_assert(memcmp(v->ptr, spec[i] + 1, v->len) == 0);
        } else {
            ck_assert_msg(v->kind == spec[i][0], "column %u kind %c, expected %c", i, v->kind,
                          spec[i][0]);
            ck_assert_ptr_null(v->ptr);
        }
    }
}

/* ---- message builders --------------------------------------------------- */

static void build_begin(bb *b)
{
    bb_u8(b, 'B');
    bb_u64(b, LSN2);
    bb_u64(b, (uint64_t)PGT);
    bb_u32(b, 777);
}

static void build_commit(bb *b)
{
    bb_u8(b, 'C');
    bb_u8(b, 0);
    bb_u64(b, LSN2);
    bb_u64(b, LSN3);
    bb_u64(b, (uint64_t)PGT);
}

static void build_origin(bb *b)
{
    bb_u8(b, 'O');
    bb_u64(b, LSN1);
    bb_str(b, "upstream");
}

/* prefs(id int4 key, email text, note text) */
static void build_relation(bb *b, const char *nsp, char ident)
{
    bb_u8(b, 'R');
    bb_u32(b, 16384);
    bb_str(b, nsp);
    bb_str(b, "prefs");
    bb_u8(b, (unsigned)ident);
    bb_u16(b, 3);
    bb_u8(b, 1);
    bb_str(b, "id");
    bb_u32(b, 23);
    bb_u32(b, 0xffffffff);
    bb_u8(b, 0);
    bb_str(b, "email");
    bb_u32(b, 1043);
    bb_u32(b, 44);
    bb_u8(b, 0);
    bb_str(b, "");
    bb_u32(b, 25);
    bb_u32(b, 0xffffffff);
}

static void build_type(bb *b)
{
    bb_u8(b, 'Y');
    bb_u32(b, 16390);
    bb_str(b, "public");
    bb_str(b, "mood");
}

static void build_insert(bb *b)
{
    bb_u8(b, 'I');
    bb_u32(b, 16384);
    bb_u8(b, 'N');
    bb_u16(b, 5);
    bb_text(b, "42");
    bb_u8(b, 'n');
    bb_text(b, "");
    bb_u8(b, 'u');
    bb_u8(b, 'b');
    bb_u32(b, 3);
    bb_raw(b, "\0\1\2", 3);
}

static void build_update(bb *b, char old_kind)
{
    bb_u8(b, 'U');
    bb_u32(b, 16384);
    if (old_kind) {
        bb_u8(b, (unsigned)old_kind);
        bb_u16(b, 3);
        bb_text(b, "1");
        if (old_kind == 'K') {
            bb_u8(b, 'n');
            bb_u8(b, 'n');
        } else {
            bb_text(b, "a@example.com");
            bb_text(b, "long note");
        }
    }
    bb_u8(b, 'N');
    bb_u16(b, 3);
    bb_text(b, "2");
    bb_text(b, "b@example.com");
    bb_u8(b, 'u');
}

static void build_delete(bb *b, char old_kind)
{
    bb_u8(b, 'D');
    bb_u32(b, 16384);
    bb_u8(b, (unsigned)old_kind);
    bb_u16(b, 2);
    bb_text(b, "9");
    bb_u8(b, 'n');
}

static void build_truncate(bb *b, uint32_t n, unsigned flags)
{
    bb_u8(b, 'T');
    bb_u32(b, n);
    bb_u8(b, flags);
    for (uint32_t i = 0; i < n; i++)
        bb_u32(b, 16384 + i);
}

static void build_message(bb *b, int transactional, const char *prefix, const void *content,
                          uint32_t len)
{
    bb_u8(b, 'M');
    bb_u8(b, transactional ? 1 : 0);
    bb_u64(b, LSN1);
    bb_str(b, prefix);
    bb_u32(b, len);
    bb_raw(b, content, len);
}

static void build_stream_start(bb *b, unsigned first)
{
    bb_u8(b, 'S');
    bb_u32(b, 900);
    bb_u8(b, first);
}

static void build_stream_commit(bb *b)
{
    bb_u8(b, 'c');
    bb_u32(b, 900);
    bb_u8(b, 0);
    bb_u64(b, LSN2);
    bb_u64(b, LSN3);
    bb_u64(b, (uint64_t)PGT);
}

static void build_stream_abort(bb *b)
{
    bb_u8(b, 'A');
    bb_u32(b, 900);
    bb_u32(b, 901);
}

/* ---- per-type decoding --------------------------------------------------- */

START_TEST(begin_commit_origin)
{
    bb b = {0};
    build_begin(&b);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_BEGIN);
    ck_assert_uint_eq(msg.begin.final_lsn, LSN2);
    ck_assert_int_eq(msg.begin.commit_time, UNIXT);
    ck_assert_uint_eq(msg.begin.xid, 777);
    ck_assert(!msg.has_xid);
    bb_free(&b);

    build_commit(&b);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_COMMIT);
    ck_assert_uint_eq(msg.commit.commit_lsn, LSN2);
    ck_assert_uint_eq(msg.commit.end_lsn, LSN3);
    ck_assert_int_eq(msg.commit.commit_time, UNIXT);
    b.p[1] = 4; /* unknown commit flag */
    expect_error(&b, "unknown commit flags 0x04");
    bb_free(&b);

    build_origin(&b);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_ORIGIN);
    ck_assert_uint_eq(msg.origin.lsn, LSN1);
    ck_assert_str_eq(msg.origin.name, "upstream");
    bb_free(&b);
}
END_TEST

START_TEST(relation_and_type)
{
    bb b = {0};
    build_relation(&b, "public", 'f');
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_RELATION);
    const tm_pgo_relation *r = &msg.relation;
    ck_assert_uint_eq(r->oid, 16384);
    ck_assert_str_eq(r->nspname, "public");
    ck_assert_str_eq(r->relname, "prefs");
    ck_assert_int_eq(r->replident, 'f');
    ck_assert_uint_eq(r->ncols, 3);
    ck_assert_str_eq(r->cols[0].name, "id");
    ck_assert_uint_eq(r->cols[0].flags, TM_PGO_COL_KEY);
    ck_assert_uint_eq(r->cols[0].type_oid, 23);
    ck_assert_int_eq(r->cols[0].typmod, -1);
    ck_assert_str_eq(r->cols[1].name, "email");
    ck_assert_uint_eq(r->cols[1].flags, 0);
    ck_assert_uint_eq(r->cols[1].type_oid, 1043);
    ck_assert_int_eq(r->cols[1].typmod, 44);
    ck_assert_str_eq(r->cols[2].name, ""); /* an empty name decodes as such */
    bb_free(&b);

    /* "" is pgoutput's short form of pg_catalog */
    build_relation(&b, "", 'd');
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_str_eq(msg.relation.nspname, "pg_catalog");
    ck_assert_int_eq(msg.relation.replident, 'd');
    bb_free(&b);

    build_relation(&b, "public", 'x');
    expect_error(&b, "unknown replica identity 0x78");
    bb_free(&b);

    /* Unknown column flag bits are refused. */
    build_relation(&b, "public", 'i');
    b.p[1 + 4 + 7 + 6 + 1 + 2] = 3;
    expect_error(&b, "column 1 has unknown flags 0x03");
    bb_free(&b);

    /* Zero columns. */
    bb_u8(&b, 'R');
    bb_u32(&b, 5);
    bb_str(&b, "s");
    bb_str(&b, "nocols");
    bb_u8(&b, 'n');
    bb_u16(&b, 0);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_uint_eq(msg.relation.ncols, 0);
    ck_assert_str_eq(msg.relation.relname, "nocols");
    bb_free(&b);

    build_type(&b);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_TYPE);
    ck_assert_uint_eq(msg.typ.oid, 16390);
    ck_assert_str_eq(msg.typ.nspname, "public");
    ck_assert_str_eq(msg.typ.name, "mood");
    bb_free(&b);
}
END_TEST

START_TEST(insert_kinds)
{
    bb b = {0};
    build_insert(&b);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_INSERT);
    ck_assert_uint_eq(msg.change.relid, 16384);
    ck_assert_int_eq(msg.change.old_kind, 0);
    ck_assert_uint_eq(msg.change.old.ncols, 0);
    const tm_pgo_tuple *t = &msg.change.new_;
    ck_assert_uint_eq(t->ncols, 5);
    ck_assert_int_eq(t->cols[0].kind, 't');
    ck_assert_uint_eq(t->cols[0].len, 2);
    ck_assert(memcmp(t->cols[0].ptr, "42", 2) == 0);
    ck_assert_int_eq(t->cols[1].kind, 'n');
    ck_assert_int_eq(t->cols[2].kind, 't'); /* empty string is not NULL */
    ck_assert_uint_eq(t->cols[2].len, 0);
    ck_assert_ptr_nonnull(t->cols[2].ptr);
    ck_assert_int_eq(t->cols[3].kind, 'u');
    ck_assert_int_eq(t->cols[4].kind, 'b');
    ck_assert_uint_eq(t->cols[4].len, 3);
    ck_assert(memcmp(t->cols[4].ptr, "\0\1\2", 3) == 0);
    /* zero-copy: values point into the message */
    ck_assert(t->cols[0].ptr > (const char *)b.p && t->cols[0].ptr < (const char *)b.p + b.len);
    bb_free(&b);

    /* zero columns */
    bb_u8(&b, 'I');
    bb_u32(&b, 1);
    bb_u8(&b, 'N');
    bb_u16(&b, 0);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_uint_eq(msg.change.new_.ncols, 0);
    bb_free(&b);

    /* unknown column kind */
    bb_u8(&b, 'I');
    bb_u32(&b, 1);
    bb_u8(&b, 'N');
    bb_u16(&b, 2);
    bb_text(&b, "x");
    bb_u8(&b, 'q');
    expect_error(&b, "column 2 of the new tuple has unknown kind 0x71");
    ck_assert(strstr(err.msg, "Insert") && strstr(err.msg, "offset 14"));
    bb_free(&b);

    /* Insert must carry N */
    bb_u8(&b, 'I');
    bb_u32(&b, 1);
    bb_u8(&b, 'K');
    bb_u16(&b, 0);
    expect_error(&b, "expected the tuple type N but found 0x4b");
    bb_free(&b);
}
END_TEST

START_TEST(insert_large_value)
{
    /* 8 MiB value: lengths are not limited by anything but the message. */
    size_t big = 8u << 20;
    char *val = malloc(big + 1);
    ck_assert_ptr_nonnull(val);
    for (size_t i = 0; i < big; i++)
        val[i] = (char)('a' + i % 26);
    val[big] = '\0';
    bb b = {0};
    bb_u8(&b, 'I');
    bb_u32(&b, 1);
    bb_u8(&b, 'N');
    bb_u16(&b, 1);
    bb_text(&b, val);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_uint_eq(msg.change.new_.cols[0].len, big);
    ck_assert(memcmp(msg.change.new_.cols[0].ptr, val, big) == 0);
    /* a length one byte beyond what is there */
    uint32_t bad = (uint32_t)big + 1;
    b.p[9] = (uint8_t)(bad >> 24); /* the length field is at offsets 9..12 */
    b.p[10] = (uint8_t)(bad >> 16);
    b.p[11] = (uint8_t)(bad >> 8);
    b.p[12] = (uint8_t)bad;
    ck_assert_int_eq(decode_keep(&b), -1);
    ck_assert(strstr(err.msg, "column 1 of the new tuple says it has 8388609 bytes but only "
                              "8388608 bytes remain"));
    free(val);
    bb_free(&b);
}
END_TEST

START_TEST(update_variants)
{
    static const char *const newspec[] = {"=2", "=b@example.com", "u", NULL};
    /* no old tuple, the key (K), the whole old row (O) */
    const struct {
        char kind;
        const char *const *old;
    } cases[] = {
        {0, (const char *const[]){NULL}},
        {'K', (const char *const[]){"=1", "n", "n", NULL}},
        {'O', (const char *const[]){"=1", "=a@example.com", "=long note", NULL}},
    };
    bb b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        build_update(&b, cases[i].kind);
        ck_assert_int_eq(decode_keep(&b), 0);
        ck_assert_int_eq(msg.type, TM_PGO_UPDATE);
        ck_assert_int_eq(msg.change.old_kind, cases[i].kind);
        tuple_is(&msg.change.old, cases[i].old);
        tuple_is(&msg.change.new_, newspec);
        bb_free(&b);
    }

    /* old tuple followed by something other than N */
    build_update(&b, 'O');
    b.p[5 + 1 + 2 + 6 + 18 + 14] = 'X'; /* after 'O', the count and 3 values */
    expect_error(&b, "expected the tuple type N but found 0x58");
    bb_free(&b);

    build_update(&b, 0);
    b.p[5] = 'Z';
    expect_error(&b, "expected the tuple type N, K or O but found 0x5a");
    bb_free(&b);
}
END_TEST

START_TEST(delete_variants)
{
    bb b = {0};
    build_delete(&b, 'K');
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_DELETE);
    ck_assert_int_eq(msg.change.old_kind, 'K');
    tuple_is(&msg.change.old, (const char *const[]){"=9", "n", NULL});
    ck_assert_uint_eq(msg.change.new_.ncols, 0);
    ck_assert_ptr_null(msg.change.new_.cols);
    bb_free(&b);

    build_delete(&b, 'O');
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.change.old_kind, 'O');
    bb_free(&b);

    build_delete(&b, 'N');
    expect_error(&b, "expected the old tuple type K or O but found 0x4e");
    bb_free(&b);
}
END_TEST

START_TEST(truncate_variants)
{
    bb b = {0};
    build_truncate(&b, 3, 0);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_TRUNCATE);
    ck_assert_uint_eq(msg.truncate.nrelids, 3);
    ck_assert_uint_eq(msg.truncate.flags, 0);
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_uint_eq(msg.truncate.relids[i], 16384 + i);
    bb_free(&b);

    build_truncate(&b, 2, TM_PGO_TRUNCATE_CASCADE | TM_PGO_TRUNCATE_RESTART_IDENTITY);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_uint_eq(msg.truncate.flags, 3);
    bb_free(&b);

    build_truncate(&b, 0, 0);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_uint_eq(msg.truncate.nrelids, 0);
    bb_free(&b);

    build_truncate(&b, 1, 4);
    expect_error(&b, "unknown truncate options 0x04");
    bb_free(&b);

    /* A huge count is refused before anything is sized by it. */
    build_truncate(&b, 2, 0);
    b.p[1] = 0x7f;
    expect_error(&b, "expected 2130706434 relation oids");
    ck_assert_uint_lt(dec.relids_cap, 1000);
    bb_free(&b);
}
END_TEST

START_TEST(logical_messages)
{
    bb b = {0};
    build_message(&b, 1, "tidemark", "{\"user\":\"alice\"}", 16);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_MESSAGE);
    ck_assert(msg.message.transactional);
    ck_assert_uint_eq(msg.message.lsn, LSN1);
    ck_assert_str_eq(msg.message.prefix, "tidemark");
    ck_assert_uint_eq(msg.message.content_len, 16);
    ck_assert(memcmp(msg.message.content, "{\"user\":\"alice\"}", 16) == 0);
    bb_free(&b);

    /* non-transactional, binary content with NULs, empty prefix */
    build_message(&b, 0, "", "\0\xff\0", 3);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert(!msg.message.transactional);
    ck_assert_str_eq(msg.message.prefix, "");
    ck_assert_uint_eq(msg.message.content_len, 3);
    ck_assert(memcmp(msg.message.content, "\0\xff\0", 3) == 0);
    bb_free(&b);

    build_message(&b, 0, "p", "", 0);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_uint_eq(msg.message.content_len, 0);
    bb_free(&b);

    build_message(&b, 0, "p", "x", 1);
    b.p[1] = 2;
    expect_error(&b, "unknown message flags 0x02");
    bb_free(&b);

    /* prefix without its NUL */
    bb_u8(&b, 'M');
    bb_u8(&b, 1);
    bb_u64(&b, 1);
    bb_raw(&b, "abc", 3);
    expect_error(&b, "expected the message prefix (a NUL-terminated string) but no NUL byte");
    bb_free(&b);
}
END_TEST

START_TEST(streaming)
{
    bb b = {0};
    build_stream_start(&b, 1);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_STREAM_START);
    ck_assert_uint_eq(msg.stream_start.xid, 900);
    ck_assert(msg.stream_start.first_segment);
    ck_assert(dec.in_stream);
    /* a second start while open is refused and leaves the state alone */
    expect_error(&b, "a stream is already open");
    ck_assert(dec.in_stream);
    bb_free(&b);

    /* inside a stream, changes carry the (sub)transaction's xid */
    bb_u8(&b, 'I');
    bb_u32(&b, 901);
    bb_u32(&b, 16384);
    bb_u8(&b, 'N');
    bb_u16(&b, 1);
    bb_text(&b, "v");
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert(msg.has_xid);
    ck_assert_uint_eq(msg.xid, 901);
    ck_assert_uint_eq(msg.change.relid, 16384);
    tuple_is(&msg.change.new_, (const char *const[]){"=v", NULL});
    bb_free(&b);

    bb_u8(&b, 'M');
    bb_u32(&b, 900);
    bb_u8(&b, 1);
    bb_u64(&b, LSN1);
    bb_str(&b, "p");
    bb_u32(&b, 0);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert(msg.has_xid && msg.xid == 900 && msg.message.transactional);
    bb_free(&b);

    bb_u8(&b, 'T');
    bb_u32(&b, 900);
    bb_u32(&b, 1);
    bb_u8(&b, 0);
    bb_u32(&b, 16384);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert(msg.has_xid && msg.xid == 900 && msg.truncate.relids[0] == 16384);
    bb_free(&b);

    bb_u8(&b, 'R');
    bb_u32(&b, 900);
    bb_u32(&b, 7);
    bb_str(&b, "");
    bb_str(&b, "r");
    bb_u8(&b, 'd');
    bb_u16(&b, 0);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert(msg.has_xid && msg.xid == 900 && msg.relation.oid == 7);
    bb_free(&b);

    bb_u8(&b, 'Y');
    bb_u32(&b, 900);
    bb_u32(&b, 8);
    bb_str(&b, "public");
    bb_str(&b, "t");
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert(msg.has_xid && msg.xid == 900 && msg.typ.oid == 8);
    bb_free(&b);

    /* commit/abort belong outside Start..Stop */
    build_stream_commit(&b);
    expect_error(&b, "a stream is still open");
    bb_free(&b);

    bb_u8(&b, 'E');
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_STREAM_STOP);
    ck_assert(!dec.in_stream);
    expect_error(&b, "no stream is open");
    bb_free(&b);

    /* outside the stream, changes have no xid */
    build_insert(&b);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert(!msg.has_xid);
    bb_free(&b);

    build_stream_commit(&b);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_STREAM_COMMIT);
    ck_assert_uint_eq(msg.stream_commit.xid, 900);
    ck_assert_uint_eq(msg.stream_commit.commit_lsn, LSN2);
    ck_assert_uint_eq(msg.stream_commit.end_lsn, LSN3);
    ck_assert_int_eq(msg.stream_commit.commit_time, UNIXT);
    bb_free(&b);

    build_stream_abort(&b);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert_int_eq(msg.type, TM_PGO_STREAM_ABORT);
    ck_assert_uint_eq(msg.stream_abort.xid, 900);
    ck_assert_uint_eq(msg.stream_abort.subxid, 901);
    bb_free(&b);

    build_stream_start(&b, 0);
    ck_assert_int_eq(decode_keep(&b), 0);
    ck_assert(!msg.stream_start.first_segment);
    tm_pgo_decoder_reset(&dec); /* a new connection starts outside any stream */
    ck_assert(!dec.in_stream);
    b.p[5] = 2;
    expect_error(&b, "first-segment flag is 2");
    bb_free(&b);
}
END_TEST

START_TEST(bad_framing)
{
    bb b = {0};
    ck_assert_int_eq(tm_pgo_decode(&dec, "", 0, &msg, &err), -1);
    ck_assert(strstr(err.msg, "empty pgoutput message"));

    bb_u8(&b, 'x');
    expect_error(&b, "unknown pgoutput message type 0x78");
    bb_free(&b);
    bb_u8(&b, 0);
    expect_error(&b, "unknown pgoutput message type 0x00");
    bb_free(&b);
    bb_u8(&b, 'P');
    expect_error(&b, "two-phase message 'P' is not supported");
    bb_free(&b);

    /* trailing bytes after a complete message */
    build_begin(&b);
    bb_u8(&b, 0);
    expect_error(&b, "1 unexpected bytes after the end of the message");
    ck_assert(strstr(err.msg, "Begin message (22 bytes) at offset 21"));
    bb_free(&b);
}
END_TEST

/* ---- truncation and fuzz over a set of valid messages ------------------- */

typedef struct sample {
    bb b;
    int in_stream; /* the decoder state the message needs */
} sample;

static size_t build_samples(sample *s)
{
    size_t n = 0;
    memset(s, 0, 32 * sizeof *s);
    build_begin(&s[n++].b);
    build_commit(&s[n++].b);
    build_origin(&s[n++].b);
    build_relation(&s[n++].b, "public", 'f');
    build_relation(&s[n++].b, "", 'd');
    build_type(&s[n++].b);
    build_insert(&s[n++].b);
    build_update(&s[n++].b, 0);
    build_update(&s[n++].b, 'K');
    build_update(&s[n++].b, 'O');
    build_delete(&s[n++].b, 'K');
    build_delete(&s[n++].b, 'O');
    build_truncate(&s[n++].b, 2, 3);
    build_message(&s[n++].b, 1, "tidemark", "ctx", 3);
    build_message(&s[n++].b, 0, "", "\0", 1);
    build_stream_start(&s[n++].b, 1);
    build_stream_commit(&s[n++].b);
    build_stream_abort(&s[n++].b);
    bb_u8(&s[n].b, 'E');
    s[n++].in_stream = 1;
    /* a streamed update */
    bb *b = &s[n].b;
    s[n++].in_stream = 1;
    bb_u8(b, 'U');
    bb_u32(b, 901);
    bb_u32(b, 16384);
    bb_u8(b, 'O');
    bb_u16(b, 1);
    bb_text(b, "old");
    bb_u8(b, 'N');
    bb_u16(b, 2);
    bb_text(b, "new");
    bb_u8(b, 'n');
    return n;
}

static void free_samples(sample *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bb_free(&s[i].b);
}

START_TEST(every_truncation_rejected)
{
    sample s[32];
    size_t n = build_samples(s);
    size_t checked = 0;
    for (size_t i = 0; i < n; i++) {
        dec.in_stream = s[i].in_stream;
        ck_assert_msg(decode_copy(&s[i].b) == 0, "sample %zu: %s", i, err.msg);
        for (size_t len = 0; len < s[i].b.len; len++) {
            dec.in_stream = s[i].in_stream;
            uint8_t *p = bb_exact(s[i].b.p, len);
            err.msg[0] = '\0';
            int rc = tm_pgo_decode(&dec, p, len, &msg, &err);
            free(p);
            ck_assert_msg(rc == -1, "sample %zu ('%c') accepted at %zu of %zu bytes", i,
                          s[i].b.p[0], len, s[i].b.len);
            ck_assert_msg(err.msg[0] != '\0', "no error message");
            if (len > 0) {
                const char *name = tm_pgo_type_name(s[i].b.p[0]);
                ck_assert_msg(strstr(err.msg, name), "error '%s' does not name %s", err.msg, name);
                ck_assert_msg(strstr(err.msg, "offset"), "error '%s' has no offset", err.msg);
            }
            checked++;
        }
    }
    ck_assert_uint_gt(checked, 500);
    free_samples(s, n);
}
END_TEST

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

START_TEST(fuzz_random_bytes)
{
    static const char types[] = "BCORYIUDTMSEcAxP";
    uint8_t buf[256];
    int ok = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = rng() % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng();
        if (len && rng() % 4)
            buf[0] = (uint8_t)types[rng() % (sizeof types - 1)];
        uint8_t *p = bb_exact(buf, len);
        dec.in_stream = rng() & 1;
        if (tm_pgo_decode(&dec, p, len, &msg, &err) == 0)
            ok++;
        else
            ck_assert(err.msg[0] != '\0');
        free(p);
    }
    /* Some random messages are valid (e.g. Stream Stop); most are not. */
    ck_assert_int_gt(ok, 0);
    ck_assert_int_lt(ok, 200000 / 2);
}
END_TEST

START_TEST(fuzz_mutations)
{
    sample s[32];
    size_t n = build_samples(s);
    for (int iter = 0; iter < 100000; iter++) {
        const sample *src = &s[rng() % n];
        uint8_t *p = bb_exact(src->b.p, src->b.len);
        size_t len = src->b.len;
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = 1 + rng() % (len - 1 ? len - 1 : 1);
            if (at < len)
                p[at] = (rng() & 1) ? (uint8_t)rng() : (uint8_t)(p[at] ^ (1u << (rng() % 8)));
        }
        dec.in_stream = src->in_stream;
        if (tm_pgo_decode(&dec, p, len, &msg, &err) == 0 &&
            (msg.type == TM_PGO_INSERT || msg.type == TM_PGO_UPDATE)) {
            /* whatever was accepted must lie inside the message */
            const tm_pgo_tuple *t = &msg.change.new_;
            for (uint32_t c = 0; c < t->ncols; c++)
                if (t->cols[c].ptr)
                    ck_assert((const uint8_t *)t->cols[c].ptr + t->cols[c].len <= p + len);
        }
        free(p);
    }
    free_samples(s, n);
}
END_TEST

START_TEST(buffers_reused)
{
    bb narrow = {0}, wide = {0};
    build_update(&narrow, 'O');
    bb_u8(&wide, 'I');
    bb_u32(&wide, 1);
    bb_u8(&wide, 'N');
    bb_u16(&wide, 1000);
    for (int i = 0; i < 1000; i++)
        bb_u8(&wide, 'n');
    ck_assert_int_eq(decode_keep(&wide), 0);
    ck_assert_uint_eq(msg.change.new_.ncols, 1000);
    const tm_value *v = dec.cols.v;
    size_t cap = dec.cols.cap;
    ck_assert_uint_ge(cap, 1000);
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(decode_keep(i % 2 ? &narrow : &wide), 0);
        ck_assert_ptr_eq(dec.cols.v, v); /* no reallocation in steady state */
        ck_assert_uint_eq(dec.cols.cap, cap);
    }
    bb_free(&narrow);
    bb_free(&wide);
}
END_TEST

int main(void)
{
    return tm_check_main_fixture("pgoutput", "core", 0,
                                 TM_TESTS(begin_commit_origin, relation_and_type, insert_kinds,
                                          insert_large_value, update_variants, delete_variants,
                                          truncate_variants, logical_messages, streaming,
                                          bad_framing, every_truncation_rejected, fuzz_random_bytes,
                                          fuzz_mutations, buffers_reused),
                                 setup, teardown);
}
