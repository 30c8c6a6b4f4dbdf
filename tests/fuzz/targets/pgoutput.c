/* The pgoutput decoder (capture/decode/pgoutput.c) on a stream of messages,
 * as capture's streaming loop feeds it: the input is cut into messages by
 * a big-endian u16 length before each (fuzz.h), each decoded in an exact
 * copy with one decoder, so stream state carries over. What decodes is
 * used as capture uses it: Relations go into the relation cache, and row
 * images are encoded into journal tuples. Properties: a Relation put twice
 * is unchanged the second time and the cache holds what it said; every
 * tuple survives encode, pack, unpack, decode (with 'same as old' and
 * unchanged TOAST values resolved as replay resolves them). */
#include <stdlib.h>
#include <string.h>

#include "capture/decode/pgoutput.h"
#include "capture/decode/relcache.h"
#include "capture/decode/tuple_encode.h"
#include "store/journal/tuple.h"
#include "tests/fuzz/fuzz.h"

static bool value_eq(const tm_value *a, const tm_value *b)
{
    if (a->kind != b->kind || a->len != b->len)
        return false;
    return a->kind != TM_KIND_TEXT || a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* Encodes t (old: the change's old tuple or NULL), packs and unpacks the
 * journal Tuple, decodes it, and checks each column against what the
 * encoder promises. */
static void roundtrip(const tm_pgo_tuple *t, const tm_pgo_tuple *old, tm_colbuf *oldbuf,
                      uint32_t n_olddec)
{
    tm_tuple_enc enc = {0};
    Tidemark__Tuple tup;
    tm_error err;
    if (tm_tuple_encode(&enc, t->cols, t->ncols, old ? old->cols : NULL, old ? old->ncols : 0, &tup,
                        &err) != 0) {
        /* only binary values are refused (capture asks for text) */
        bool binary = false;
        for (uint32_t i = 0; i < t->ncols; i++)
            binary |= t->cols[i].kind == TM_KIND_BINARY;
        TM_FUZZ_CHECK(binary, "encoding a tuple without binary values failed: %s", err.msg);
        tm_tuple_enc_free(&enc);
        return;
    }
    size_t len = tidemark__tuple__get_packed_size(&tup);
    uint8_t *packed = malloc(len ? len : 1);
    TM_FUZZ_CHECK(packed != NULL, "out of memory");
    tidemark__tuple__pack(&tup, packed);
    Tidemark__Tuple *back = tidemark__tuple__unpack(NULL, len, packed);
    TM_FUZZ_CHECK(back != NULL, "a packed journal tuple does not unpack");
    tm_colbuf out = {0};
    uint32_t n = 0;
    int rc = tm_tuple_decode(back, old ? oldbuf->v : NULL, n_olddec, &out, &n, &err);
    TM_FUZZ_CHECK(rc == 0, "an encoded tuple does not decode: %s", err.msg);
    TM_FUZZ_CHECK(n == t->ncols, "%u columns encoded, %u decoded", t->ncols, n);
    for (uint32_t i = 0; i < n; i++) {
        const tm_value *want = &t->cols[i];
        /* an unchanged TOAST value whose old value is there reads as it */
        if (want->kind == TM_KIND_UNCHANGED && old && i < old->ncols &&
            old->cols[i].kind == TM_KIND_TEXT)
            want = &old->cols[i];
        TM_FUZZ_CHECK(value_eq(&out.v[i], want), "column %u: kind %c len %u, expected %c len %u",
                      i + 1, out.v[i].kind, out.v[i].len, want->kind, want->len);
    }
    tm_colbuf_free(&out);
    tidemark__tuple__free_unpacked(back, NULL);
    free(packed);
    tm_tuple_enc_free(&enc);
}

static void check_relation(tm_relcache *rc, const tm_pgo_relation *r)
{
    tm_rel *rel;
    bool changed;
    tm_error err;
    if (tm_relcache_put(rc, r, &rel, &changed, &err) != 0)
        return; /* out of memory */
    TM_FUZZ_CHECK(tm_relcache_put(rc, r, &rel, &changed, &err) == 0 && !changed,
                  "the same Relation put twice changed the cache");
    rel = tm_relcache_get(rc, r->oid);
    TM_FUZZ_CHECK(rel && rel->ncols == r->ncols && rel->replident == r->replident &&
                      !strcmp(rel->nspname, r->nspname) && !strcmp(rel->relname, r->relname),
                  "the cache does not hold the Relation of oid %u", r->oid);
    for (uint32_t i = 0; i < r->ncols; i++)
        TM_FUZZ_CHECK(!strcmp(rel->cols[i].name, r->cols[i].name) &&
                          rel->cols[i].type_oid == r->cols[i].type_oid &&
                          rel->cols[i].typmod == r->cols[i].typmod &&
                          rel->cols[i].flags == r->cols[i].flags,
                      "column %u of relation %u differs in the cache", i + 1, r->oid);
}

static void check_change(const tm_pgo_msg *m)
{
    const tm_pgo_change *c = &m->change;
    bool has_old = m->type == TM_PGO_DELETE || (m->type == TM_PGO_UPDATE && c->old_kind);
    bool has_new = m->type != TM_PGO_DELETE;
    tm_colbuf olddec = {0};
    uint32_t n_old = 0;
    if (has_old) {
        roundtrip(&c->old, NULL, NULL, 0);
        /* the old tuple as replay holds it (pointing into enc), for
         * resolving the new one */
        tm_tuple_enc enc = {0};
        Tidemark__Tuple tup;
        tm_error err;
        if (tm_tuple_encode(&enc, c->old.cols, c->old.ncols, NULL, 0, &tup, &err) == 0) {
            TM_FUZZ_CHECK(tm_tuple_decode(&tup, NULL, 0, &olddec, &n_old, &err) == 0,
                          "an encoded old tuple does not decode: %s", err.msg);
            if (has_new)
                roundtrip(&c->new_, &c->old, &olddec, n_old);
        }
        tm_tuple_enc_free(&enc);
    } else if (has_new) {
        roundtrip(&c->new_, NULL, NULL, 0);
    }
    tm_colbuf_free(&olddec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tm_pgo_decoder d;
    tm_pgo_decoder_init(&d);
    tm_relcache *rc;
    tm_error err;
    if (tm_relcache_create(&rc, &err) != 0)
        return 0;
    const uint8_t *part;
    size_t len;
    while (tm_fuzz_next_part(&data, &size, &part, &len)) {
        /* an exact copy: a read past the message is a read past the heap block */
        uint8_t *msg = malloc(len ? len : 1);
        TM_FUZZ_CHECK(msg != NULL, "out of memory");
        if (len)
            memcpy(msg, part, len);
        tm_pgo_msg m;
        if (tm_pgo_decode(&d, msg, len, &m, &err) == 0) {
            TM_FUZZ_CHECK(len > 0 && m.type == msg[0], "decoded a %s from a message of type 0x%02x",
                          tm_pgo_type_name(m.type), len ? msg[0] : 0);
            if (m.type == TM_PGO_RELATION)
                check_relation(rc, &m.relation);
            else if (m.type == TM_PGO_INSERT || m.type == TM_PGO_UPDATE || m.type == TM_PGO_DELETE)
                check_change(&m);
        } else {
            TM_FUZZ_CHECK(err.msg[0] != '\0', "a refused message comes without a reason");
        }
        free(msg);
    }
    tm_relcache_destroy(rc);
    tm_pgo_decoder_free(&d);
    return 0;
}
