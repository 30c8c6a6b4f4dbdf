/* Journal tuple representation: encoding from pgoutput values (with the
 * 's' same-as-old optimisation), decoding (resolving 's'), round trips
 * through protobuf packing, and rejection of inconsistent tuples. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/journal/tuple.h"
#include "capture/decode/tuple_encode.h"
#include "tests/harness/tm_check.h"

static tm_error err;

static tm_value T(const char *s)
{
    return (tm_value){s, (uint32_t)strlen(s), 't'};
}

static const tm_value N = {NULL, 0, 'n'};
static const tm_value U = {NULL, 0, 'u'};

static void same_values(const tm_value *a, const tm_value *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_msg(a[i].kind == b[i].kind, "column %u: kind %c vs %c", i, a[i].kind, b[i].kind);
        ck_assert_uint_eq(a[i].len, b[i].len);
        if (a[i].kind == 't')
            ck_assert(memcmp(a[i].ptr, b[i].ptr, a[i].len) == 0);
    }
}

/* Packs t with protobuf and unpacks it, as writing to and reading from the
 * journal does. Free with tidemark__tuple__free_unpacked. */
static Tidemark__Tuple *through_protobuf(const Tidemark__Tuple *t)
{
    size_t n = tidemark__tuple__get_packed_size(t);
    uint8_t *buf = malloc(n ? n : 1);
    ck_assert_uint_eq(tidemark__tuple__pack(t, buf), n);
    Tidemark__Tuple *u = tidemark__tuple__unpack(NULL, n, buf);
    ck_assert_ptr_nonnull(u);
    free(buf);
    return u;
}

START_TEST(encode_plain)
{
    tm_tuple_enc e = {0};
    Tidemark__Tuple t;
    tm_value cols[] = {T("42"), N, T(""), U, T("héllo")};
    ck_assert_int_eq(tm_tuple_encode(&e, cols, 5, NULL, 0, &t, &err), 0);
    ck_assert_uint_eq(t.kinds.len, 5);
    ck_assert(memcmp(t.kinds.data, "tntut", 5) == 0);
    ck_assert_uint_eq(t.n_lengths, 3);
    ck_assert_uint_eq(t.lengths[0], 2);
    ck_assert_uint_eq(t.lengths[1], 0);
    ck_assert_uint_eq(t.lengths[2], 6);
    ck_assert_uint_eq(t.data.len, 8);
    ck_assert(memcmp(t.data.data, "42héllo", 8) == 0);

    tm_colbuf out = {0};
    uint32_t n;
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &out, &n, &err), 0);
    ck_assert_uint_eq(n, 5);
    same_values(out.v, cols, 5);
    ck_assert_ptr_nonnull(out.v[2].ptr); /* empty text is not NULL */

    /* only empty strings, into a fresh encoder that has no data buffer yet */
    tm_tuple_enc fresh = {0};
    tm_value empties[] = {T(""), {NULL, 0, 't'}, N};
    ck_assert_int_eq(tm_tuple_encode(&fresh, empties, 3, NULL, 0, &t, &err), 0);
    ck_assert_uint_eq(t.n_lengths, 2);
    ck_assert_uint_eq(t.data.len, 0);
    Tidemark__Tuple *ue = through_protobuf(&t);
    ck_assert_int_eq(tm_tuple_decode(ue, NULL, 0, &out, &n, &err), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(out.v[0].kind == 't' && out.v[0].len == 0 && out.v[1].kind == 't');
    ck_assert_int_eq(out.v[2].kind, 'n');
    tidemark__tuple__free_unpacked(ue, NULL);
    tm_tuple_enc_free(&fresh);

    /* zero columns */
    ck_assert_int_eq(tm_tuple_encode(&e, NULL, 0, NULL, 0, &t, &err), 0);
    ck_assert_uint_eq(t.kinds.len, 0);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &out, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    Tidemark__Tuple *u = through_protobuf(&t);
    ck_assert_int_eq(tm_tuple_decode(u, NULL, 0, &out, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    tidemark__tuple__free_unpacked(u, NULL);

    tm_colbuf_free(&out);
    tm_tuple_enc_free(&e);
}
END_TEST

START_TEST(same_as_old)
{
    tm_tuple_enc eo = {0}, en = {0};
    Tidemark__Tuple to, tn;
    /* REPLICA IDENTITY FULL update: id and email unchanged, note TOASTed
     * and unchanged ('u'), flag changed, a NULL in both */
    tm_value old[] = {T("1"), T("a@example.com"), T("a long toasted note"), T("f"), N};
    tm_value new_[] = {T("1"), T("a@example.com"), U, T("t"), N};
    ck_assert_int_eq(tm_tuple_encode(&eo, old, 5, NULL, 0, &to, &err), 0);
    ck_assert_int_eq(tm_tuple_encode(&en, new_, 5, old, 5, &tn, &err), 0);
    ck_assert(memcmp(tn.kinds.data, "ssstn", 5) == 0);
    ck_assert_uint_eq(tn.n_lengths, 1);
    ck_assert_uint_eq(tn.data.len, 1);

    tm_colbuf bo = {0}, bn = {0};
    uint32_t no, nn;
    Tidemark__Tuple *uo = through_protobuf(&to), *un = through_protobuf(&tn);
    ck_assert_int_eq(tm_tuple_decode(uo, NULL, 0, &bo, &no, &err), 0);
    ck_assert_int_eq(tm_tuple_decode(un, bo.v, no, &bn, &nn, &err), 0);
    ck_assert_uint_eq(nn, 5);
    same_values(bo.v, old, 5);
    /* 'u' came back as the old value it stands for */
    tm_value want[] = {T("1"), T("a@example.com"), T("a long toasted note"), T("t"), N};
    same_values(bn.v, want, 5);
    tidemark__tuple__free_unpacked(uo, NULL);
    tidemark__tuple__free_unpacked(un, NULL);

    /* key-only old tuple: non-key columns are 'n' there, so a 'u' stays 'u'
     * and a text equal to nothing stays text; a NULL stays 'n' */
    tm_value oldk[] = {T("1"), N, N};
    tm_value newk[] = {T("2"), U, N};
    ck_assert_int_eq(tm_tuple_encode(&en, newk, 3, oldk, 3, &tn, &err), 0);
    ck_assert(memcmp(tn.kinds.data, "tun", 3) == 0);
    ck_assert_int_eq(tm_tuple_decode(&tn, oldk, 3, &bn, &nn, &err), 0);
    same_values(bn.v, newk, 3);

    /* no old tuple: 'u' stays 'u', equal texts are not looked for */
    ck_assert_int_eq(tm_tuple_encode(&en, new_, 5, NULL, 0, &tn, &err), 0);
    ck_assert(memcmp(tn.kinds.data, "ttutn", 5) == 0);

    /* same length, different bytes: not 's' */
    tm_value o1[] = {T("abc")}, n1[] = {T("abd")};
    ck_assert_int_eq(tm_tuple_encode(&en, n1, 1, o1, 1, &tn, &err), 0);
    ck_assert_int_eq(tn.kinds.data[0], 't');

    tm_colbuf_free(&bo);
    tm_colbuf_free(&bn);
    tm_tuple_enc_free(&eo);
    tm_tuple_enc_free(&en);
}
END_TEST

START_TEST(encode_rejects)
{
    tm_tuple_enc e = {0};
    Tidemark__Tuple t;
    tm_value bin[] = {T("x"), {"\0\1", 2, 'b'}};
    ck_assert_int_eq(tm_tuple_encode(&e, bin, 2, NULL, 0, &t, &err), -1);
    ck_assert(strstr(err.msg, "column 2 is a binary value"));
    tm_value s[] = {{NULL, 0, 's'}};
    ck_assert_int_eq(tm_tuple_encode(&e, s, 1, NULL, 0, &t, &err), -1);
    ck_assert(strstr(err.msg, "column 1 has kind 0x73"));
    tm_tuple_enc_free(&e);
}
END_TEST

static Tidemark__Tuple raw(const char *kinds, uint32_t *lengths, size_t nl, const char *data,
                           size_t dl)
{
    Tidemark__Tuple t;
    tidemark__tuple__init(&t);
    t.has_kinds = 1;
    t.kinds.data = (uint8_t *)kinds;
    t.kinds.len = strlen(kinds);
    t.lengths = lengths;
    t.n_lengths = nl;
    t.has_data = dl > 0;
    t.data.data = (uint8_t *)data;
    t.data.len = dl;
    return t;
}

START_TEST(decode_rejects)
{
    tm_colbuf b = {0};
    uint32_t n, l2[] = {2, 3}, l1[] = {4};
    Tidemark__Tuple t;

    t = raw("tt", l2, 2, "abcde", 5);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), 0);
    ck_assert_uint_eq(n, 2);

    t = raw("ttt", l2, 2, "abcde", 5);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), -1);
    ck_assert(strstr(err.msg, "column 3 is a text value but only 2 lengths"));

    t = raw("t", l2, 2, "abcde", 5);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), -1);
    ck_assert(
        strstr(err.msg, "2 lengths and 5 data bytes stored but the text columns use 1 and 2"));

    t = raw("t", l1, 1, "abc", 3);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), -1);
    ck_assert(strstr(err.msg, "column 1 has 4 bytes but only 3 data bytes remain"));

    t = raw("n", NULL, 0, "abc", 3);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), -1);

    t = raw("ns", NULL, 0, NULL, 0);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), -1);
    ck_assert(strstr(err.msg, "column 2 says 'same as the old value'"));
    tm_value old1[] = {{"a", 1, 't'}};
    ck_assert_int_eq(tm_tuple_decode(&t, old1, 1, &b, &n, &err), -1); /* old too narrow */

    t = raw("b", NULL, 0, NULL, 0);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), -1);
    ck_assert(strstr(err.msg, "unknown column kind 0x62 in column 1"));

    /* empty text without any data field */
    uint32_t l0[] = {0};
    t = raw("t", l0, 1, NULL, 0);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), 0);
    ck_assert_ptr_nonnull(b.v[0].ptr);
    ck_assert_uint_eq(b.v[0].len, 0);

    tm_colbuf_free(&b);
}
END_TEST

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random rows and random updates of them: decode(encode(x)) == x, with
 * 'u' resolved to the old value when the old tuple has it. */
START_TEST(random_round_trips)
{
    static char pool[4096], copy[4096];
    for (size_t i = 0; i < sizeof pool; i++)
        pool[i] = (char)(rng() & 0xff); /* any bytes, NULs included */
    memcpy(copy, pool, sizeof pool);
    tm_tuple_enc eo = {0}, en = {0};
    tm_colbuf bo = {0}, bn = {0};
    tm_value old[64], new_[64], want[64];
    for (int iter = 0; iter < 3000; iter++) {
        uint32_t n = (uint32_t)(rng() % 64);
        bool has_old = rng() % 3;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t len = (uint32_t)(rng() % 40), at = (uint32_t)(rng() % (sizeof pool - 40));
            int k = (int)(rng() % 6);
            old[i] = k == 0 ? N : (tm_value){pool + at, len, 't'};
            switch (rng() % 5) {
            case 0:
                new_[i] = N;
                break;
            case 1:
                new_[i] = U;
                break;
            case 2:
                new_[i] = old[i];
                break;
            case 3: /* equal bytes at another address */
                new_[i] = old[i];
                if (old[i].kind == 't')
                    new_[i].ptr = copy + (old[i].ptr - pool);
                break;
            default:
                new_[i] =
                    (tm_value){pool + (rng() % (sizeof pool - 40)), (uint32_t)(rng() % 40), 't'};
            }
            want[i] = new_[i].kind == 'u' && has_old && old[i].kind == 't' ? old[i] : new_[i];
        }
        Tidemark__Tuple to, tn;
        ck_assert_int_eq(tm_tuple_encode(&eo, old, n, NULL, 0, &to, &err), 0);
        ck_assert_int_eq(
            tm_tuple_encode(&en, new_, n, has_old ? old : NULL, has_old ? n : 0, &tn, &err), 0);
        Tidemark__Tuple *uo = through_protobuf(&to), *un = through_protobuf(&tn);
        uint32_t no, nn;
        ck_assert_int_eq(tm_tuple_decode(uo, NULL, 0, &bo, &no, &err), 0);
        ck_assert_int_eq(
            tm_tuple_decode(un, has_old ? bo.v : NULL, has_old ? no : 0, &bn, &nn, &err), 0);
        ck_assert_uint_eq(no, n);
        ck_assert_uint_eq(nn, n);
        same_values(bo.v, old, n);
        same_values(bn.v, want, n);
        tidemark__tuple__free_unpacked(uo, NULL);
        tidemark__tuple__free_unpacked(un, NULL);
    }
    tm_colbuf_free(&bo);
    tm_colbuf_free(&bn);
    tm_tuple_enc_free(&eo);
    tm_tuple_enc_free(&en);
}
END_TEST

START_TEST(buffers_reused)
{
    tm_tuple_enc e = {0};
    tm_colbuf b = {0};
    Tidemark__Tuple t;
    uint32_t n;
    tm_value cols[] = {T("some value"), N, T("another")};
    ck_assert_int_eq(tm_tuple_encode(&e, cols, 3, NULL, 0, &t, &err), 0);
    ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), 0);
    void *k = e.kinds, *l = e.lengths, *d = e.data, *v = b.v;
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(tm_tuple_encode(&e, cols, 3, NULL, 0, &t, &err), 0);
        ck_assert_int_eq(tm_tuple_decode(&t, NULL, 0, &b, &n, &err), 0);
    }
    ck_assert(e.kinds == k && e.lengths == l && e.data == d && b.v == v);
    tm_colbuf_free(&b);
    tm_tuple_enc_free(&e);
}
END_TEST

int main(void)
{
    return tm_check_main("tuple", "core", 0,
                         TM_TESTS(encode_plain, same_as_old, encode_rejects, decode_rejects,
                                  random_round_trips, buffers_reused));
}
