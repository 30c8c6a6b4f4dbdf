/* Replay's state engine without PostgreSQL: the fast Change decoder
 * against protobuf-c (random and damaged records), the row hash table's
 * deletion, and a model check: random journals (composite keys, key
 * changes, old images 'O' and 'K' and none, unchanged TOAST values, a
 * column added with a missing value and one dropped, TRUNCATE, a table
 * without a key holding duplicates, other tables' changes to skip) are
 * replayed to random LSNs and must give the CSV the model gives. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/engine/change_decode.h"
#include "replay/out/emit.h"
#include "store/journal/journal.h"
#include "replay/out/out_csv.h"
#include "replay/engine/rowmap.h"
#include "replay/engine/runner.h"
#include "tests/harness/support_store.h"
#include "store/common/tm_time.h"
#include "tests/harness/tm_check.h"
#include "capture/decode/tuple_encode.h"
#include "tests/harness/support_journal.h"

/* ---- the decoder ----------------------------------------------------------- */

static void random_tuple(tmt_rng *r, Tidemark__Tuple *t, uint8_t *kinds, uint32_t *lens,
                         uint8_t *data, bool allow_same)
{
    tidemark__tuple__init(t);
    size_t n = tmt_below(r, 6), nl = 0, dl = 0;
    for (size_t i = 0; i < n; i++) {
        static const char k[] = "nuts";
        kinds[i] = (uint8_t)k[tmt_below(r, allow_same ? 4 : 3)];
        if (kinds[i] == 't') {
            lens[nl] = (uint32_t)tmt_below(r, 300);
            for (uint32_t j = 0; j < lens[nl]; j++)
                data[dl++] = (uint8_t)tmt_rand(r);
            nl++;
        }
    }
    t->has_kinds = t->has_data = 1;
    t->kinds.data = kinds;
    t->kinds.len = n;
    t->lengths = lens;
    t->n_lengths = nl;
    t->data.data = data;
    t->data.len = dl;
}

static void assert_tuple_eq(const Tidemark__Tuple *a, const Tidemark__Tuple *b)
{
    ck_assert_uint_eq(a->kinds.len, b->kinds.len);
    ck_assert(a->kinds.len == 0 || !memcmp(a->kinds.data, b->kinds.data, a->kinds.len));
    ck_assert_uint_eq(a->n_lengths, b->n_lengths);
    ck_assert(a->n_lengths == 0 || !memcmp(a->lengths, b->lengths, a->n_lengths * 4));
    ck_assert_uint_eq(a->data.len, b->data.len);
    ck_assert(a->data.len == 0 || !memcmp(a->data.data, b->data.data, a->data.len));
}

/* Our decoding of buf must equal protobuf-c's (or both fail). */
static void check_same(tm_change_decoder *d, const uint8_t *buf, size_t len)
{
    Tidemark__Change *ref = tidemark__change__unpack(NULL, len, buf);
    tm_change c;
    tm_error err;
    int rc = tm_change_peek(d, buf, len, &c, &err);
    if (!ref) {
        /* Damage inside a tuple shows when the tuple is decoded (changes of
         * skipped tables never decode theirs). */
        Tidemark__Tuple t;
        ck_assert_msg(rc == -1 || tm_change_tuple(d, &c, 0, &t, &err) < 0 ||
                          tm_change_tuple(d, &c, 1, &t, &err) < 0,
                      "protobuf-c rejects a change that decodes here (%zu bytes: %02x %02x %02x "
                      "%02x %02x %02x ...)",
                      len, len > 0 ? buf[0] : 0, len > 1 ? buf[1] : 0, len > 2 ? buf[2] : 0,
                      len > 3 ? buf[3] : 0, len > 4 ? buf[4] : 0, len > 5 ? buf[5] : 0);
        return;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(c.op, ref->has_op ? (uint32_t)ref->op : 0);
    ck_assert_uint_eq(c.relation_oid, ref->relation_oid);
    ck_assert_uint_eq(c.relation_version, ref->relation_version);
    ck_assert_uint_eq(c.old_kind, ref->old_kind);
    ck_assert_uint_eq(c.truncate_flags, ref->truncate_flags);
    for (int which = 0; which < 2; which++) {
        const Tidemark__Tuple *rt = which ? ref->new_tuple : ref->old_tuple;
        Tidemark__Tuple t;
        int has = tm_change_tuple(d, &c, which, &t, &err);
        ck_assert_int_eq(has, rt != NULL);
        if (rt)
            assert_tuple_eq(&t, rt);
    }
    tidemark__change__free_unpacked(ref, NULL);
}

static void assert_values_eq(const tm_value *a, const tm_value *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_int_eq(a[i].kind, b[i].kind);
        ck_assert_uint_eq(a[i].len, b[i].len);
        ck_assert(a[i].len == 0 || !memcmp(a[i].ptr, b[i].ptr, a[i].len));
    }
}

/* tm_change_values (one pass) must give what tm_change_tuple then
 * tm_tuple_decode give, values and failures alike. one and two: the
 * caller's value arrays (old and new tuple) for each way. */
static void check_values(tm_change_decoder *d, const uint8_t *buf, size_t len, tm_colbuf one[2],
                         tm_colbuf two[2])
{
    tm_change c;
    tm_error err;
    if (tm_change_peek(d, buf, len, &c, &err) != 0)
        return;
    uint32_t n1[2] = {0, 0}, n2[2] = {0, 0};
    int rc1[2] = {0, 0}, rc2[2] = {0, 0};
    for (int w = 0; w < 2; w++) {
        const tm_value *old = w && rc1[0] == 1 ? one[0].v : NULL;
        rc1[w] = tm_change_values(d, &c, w, old, w ? n1[0] : 0, &one[w], &n1[w], &err);
        Tidemark__Tuple t;
        rc2[w] = tm_change_tuple(d, &c, w, &t, &err);
        const tm_value *old2 = w && rc2[0] == 1 ? two[0].v : NULL;
        if (rc2[w] == 1 && tm_tuple_decode(&t, old2, w ? n2[0] : 0, &two[w], &n2[w], &err) != 0)
            rc2[w] = -1;
        ck_assert_int_eq(rc1[w], rc2[w]);
        if (rc1[w] == 1) {
            ck_assert_uint_eq(n1[w], n2[w]);
            assert_values_eq(one[w].v, two[w].v, n1[w]);
        }
        if (rc1[w] < 0)
            break;
    }
}

START_TEST(decoder_matches_protobuf)
{
    tmt_rng r = {7};
    tm_change_decoder d;
    tm_change_decoder_init(&d);
    static uint8_t k[2][8], data[2][2000], buf[8000];
    static uint32_t lens[2][8];
    tm_colbuf one[2] = {{0}}, two[2] = {{0}}; /* check_values: old and new tuple, each way */
    for (int it = 0; it < 20000; it++) {
        Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
        Tidemark__Tuple ot, nt;
        ch.has_op = tmt_below(&r, 8) != 0;
        ch.op = (int)(1 + tmt_below(&r, 4));
        ch.has_relation_oid = ch.has_relation_version = 1;
        ch.relation_oid = (uint32_t)tmt_rand(&r);
        ch.relation_version = (uint32_t)tmt_below(&r, 300);
        if (tmt_below(&r, 2)) {
            ch.has_old_kind = 1;
            ch.old_kind = tmt_below(&r, 2) ? 'O' : 'K';
            random_tuple(&r, &ot, k[0], lens[0], data[0], false);
            ch.old_tuple = &ot;
        }
        if (tmt_below(&r, 4)) {
            random_tuple(&r, &nt, k[1], lens[1], data[1], true);
            ch.new_tuple = &nt;
        }
        ch.has_truncate_flags = tmt_below(&r, 5) == 0;
        ch.truncate_flags = (uint32_t)tmt_below(&r, 4);
        size_t len = tidemark__change__pack(&ch, buf);
        check_same(&d, buf, len);
        check_values(&d, buf, len, one, two);
        /* Non-canonical: a field repeated (last wins, tuples merge), an
         * unknown field, truncation, a flipped byte. */
        size_t l2 = len;
        switch (it % 5) {
        case 0:
            buf[l2++] = (2 << 3) | 0;
            buf[l2++] = 0x2a;
            break;
        case 1:
            buf[l2++] = (15 << 3) | 2;
            buf[l2++] = 1;
            buf[l2++] = 'x';
            break;
        case 2:
            l2 = len ? tmt_below(&r, len) : 0;
            break;
        case 3:
            if (len)
                buf[tmt_below(&r, len)] ^= (uint8_t)(1 + tmt_below(&r, 255));
            break;
        default:
            if (ch.new_tuple) { /* the new tuple twice: protobuf merges them */
                size_t extra = tidemark__tuple__get_packed_size(ch.new_tuple);
                buf[l2++] = (6 << 3) | 2;
                buf[l2++] = (uint8_t)(extra < 128 ? extra : 0);
                if (extra < 128)
                    l2 += tidemark__tuple__pack(ch.new_tuple, buf + l2);
            }
            break;
        }
        check_same(&d, buf, l2);
        check_values(&d, buf, l2, one, two);
    }
    for (int w = 0; w < 2; w++) {
        tm_colbuf_free(&one[w]);
        tm_colbuf_free(&two[w]);
    }
    tm_change_decoder_free(&d);
}
END_TEST

/* ---- the hash table -------------------------------------------------------- */

START_TEST(rowmap_deletes_keep_runs)
{
    /* Few distinct hashes: long probe runs that wrap around. */
    tmt_rng r = {11};
    tm_rowmap m = {0};
    enum { N = 3000 };
    static int ids[N];
    static bool present[N];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) {
            int id = (int)tmt_below(&r, N);
            uint32_t h = (uint32_t)(id % 37) * 2654435761u;
            ck_assert_int_eq(tm_rowmap_reserve(&m, m.n + 1), 0);
            size_t s = tm_rowmap_slot(&m, h);
            bool found = false;
            for (; m.slots[s].row; s = tm_rowmap_step(&m, s))
                if (m.slots[s].row == &ids[id]) {
                    found = true;
                    break;
                }
            ck_assert_int_eq(found, present[id]);
            if (found && tmt_below(&r, 2)) {
                tm_rowmap_delete_at(&m, s);
                present[id] = false;
            } else if (!found) {
                tm_rowmap_put_at(&m, s, h, &ids[id]);
                present[id] = true;
            }
        }
    }
    size_t n = 0;
    for (int i = 0; i < N; i++)
        n += present[i];
    ck_assert_uint_eq(n, m.n);
    tm_rowmap_free(&m);
}
END_TEST

/* ---- the model check ------------------------------------------------------- */

#define PREFS 100u /* (a int, b text) primary key; c text (dropped in v3); d (added in v2) */
#define BAG 200u   /* (x text, y int) no key: duplicates */
#define OTHER 300u /* not replayed */
#define NA 12
#define NB 3
#define BAGVALS 4

typedef struct mrow {
    bool live;
    char c[32], d[16]; /* d "" with d_null: NULL */
    bool c_null, d_set;
    int a;
    int b;
} mrow;

typedef struct model {
    mrow p[NA * NB];
    int bag[BAGVALS]; /* multiplicity of ('v<i>', i) */
    int version;      /* of PREFS: 1 (a,b,c), 2 (a,b,c,d DEFAULT 7), 3 (a,b,d) */
} model;

static const char *bname[NB] = {"k", "a", "Z"};

/* A temp dir with a journal open on it (options wo) in j; returns the dir. */
static char *open_journal(tmt_jw *j, tm_writer_options wo)
{
    char *dir = tmt_tempdir();
    *j = (tmt_jw){.lsn = 1000, .time = 1700000000000000};
    tmt_jw_open(j, dir, &wo);
    return dir;
}

static void put_rel(tm_writer *w, uint32_t oid, uint32_t version, uint64_t lsn)
{
    static const tmt_col key[] = {{"a", 23, 1, false, NULL}, {"b", 25, 2, false, NULL}};
    tmt_jw_versioned_relation(w, oid, version, lsn,
                              oid == PREFS ? "prefs"
                              : oid == BAG ? "bag"
                                           : "other",
                              oid == BAG ? 'f' : 'd', key, oid == PREFS ? 2 : 0);
}

/* The values of model row i in version ver's layout. */
static uint32_t prefs_vals(const mrow *m, int ver, char bufs[4][32], tm_value *v)
{
    uint32_t n = 0;
    snprintf(bufs[0], 32, "%d", m->a);
    v[n] = (tm_value){bufs[0], (uint32_t)strlen(bufs[0]), 't'}, n++;
    v[n] = (tm_value){bname[m->b], (uint32_t)strlen(bname[m->b]), 't'}, n++;
    if (ver < 3) {
        v[n] = m->c_null ? (tm_value){NULL, 0, 'n'} : (tm_value){m->c, (uint32_t)strlen(m->c), 't'};
        n++;
    }
    if (ver >= 2) {
        const char *d = m->d_set ? m->d : "7";
        v[n] = m->d_set && !m->d[0] ? (tm_value){NULL, 0, 'n'}
                                    : (tm_value){d, (uint32_t)strlen(d), 't'};
        n++;
    }
    return n;
}

/* A transaction committed 1 ms after the previous one. */
static void begin(tmt_jw *j, uint64_t n, bool snapshot)
{
    tmt_jw_begin(j, n, snapshot, j->time + 1000);
}

/* The CSV the model holds (rows by a, then b bytewise; bag by x, y). */
static char *model_csv(const model *m, uint32_t oid, size_t *len)
{
    tm_out o;
    tm_error err;
    ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
    if (oid == PREFS) {
        tm_coldesc cols[4];
        uint32_t n = 0;
        cols[n++] = (tm_coldesc){"a", 23, "integer"};
        cols[n++] = (tm_coldesc){"b", 25, "text"};
        if (m->version < 3)
            cols[n++] = (tm_coldesc){"c", 25, "text"};
        if (m->version >= 2)
            cols[n++] = (tm_coldesc){"d", 23, "integer"};
        tm_csv_header(&o, cols, n);
        int border[NB] = {2, 1, 0}; /* "Z" < "a" < "k" */
        for (int a = 0; a < NA; a++)
            for (int bi = 0; bi < NB; bi++) {
                const mrow *r = &m->p[a * NB + border[bi]];
                if (!r->live)
                    continue;
                char bufs[4][32];
                tm_value v[4];
                uint32_t nv = prefs_vals(r, m->version, bufs, v);
                ck_assert_int_eq(tm_csv_row(&o, v, nv, &err), 0);
            }
    } else {
        tm_coldesc cols[2] = {{"x", 25, "text"}, {"y", 23, "integer"}};
        tm_csv_header(&o, cols, 2);
        for (int i = 0; i < BAGVALS; i++)
            for (int k = 0; k < m->bag[i]; k++) {
                char x[8], y[8];
                snprintf(x, sizeof x, "v%d", i);
                snprintf(y, sizeof y, "%d", i);
                tm_value v[2] = {{x, (uint32_t)strlen(x), 't'}, {y, (uint32_t)strlen(y), 't'}};
                ck_assert_int_eq(tm_csv_row(&o, v, 2, &err), 0);
            }
    }
    const char *d = tm_out_data(&o, len);
    char *copy = malloc(*len + 1);
    memcpy(copy, d, *len);
    copy[*len] = '\0';
    tm_out_free(&o);
    return copy;
}

static bool select_prefs_bag(void *arg, const tm_version *v)
{
    (void)arg;
    return strcmp(v->relname, "other") != 0;
}

/* Replays dir to lsn and compares each table with the expected CSV. */
static void check_replay(const char *dir, uint64_t lsn, char *const want[2], const size_t wlen[2])
{
    tm_error err;
    tm_state *s = tm_state_new(select_prefs_bag, NULL, &err);
    ck_assert_ptr_nonnull(s);
    tm_target t = {.by_lsn = true, .lsn = lsn};
    tm_run_info info;
    ck_assert_msg(tm_run_to(dir, s, &t, NULL, &info, &err) == 0, "%s", err.msg);
    for (int k = 0; k < 2; k++) {
        uint32_t oid = k ? BAG : PREFS;
        tm_table *tab = NULL;
        for (size_t i = 0; i < tm_state_ntables(s); i++)
            if (tm_state_table(s, i)->oid == oid)
                tab = tm_state_table(s, i);
        ck_assert_ptr_nonnull(tab);
        ck_assert_uint_eq(tab->st.missing_rows + tab->st.duplicate_keys + tab->st.unresolved, 0);
        const tm_version *v = tm_table_version_at(tab, lsn + 1);
        tm_rowset rs;
        ck_assert_int_eq(tm_rowset_build(&rs, tab, v, NULL, &err), 0);
        tm_out o;
        ck_assert_int_eq(tm_out_init_mem(&o, &err), 0);
        ck_assert_int_eq(tm_emit_table(&o, TM_FMT_CSV, &rs, false, &err), 0);
        size_t len;
        const char *got = tm_out_data(&o, &len);
        ck_assert_msg(len == wlen[k] && !memcmp(got, want[k], len),
                      "table %u at LSN %llu:\n--- want:\n%s\n--- got:\n%.*s", oid,
                      (unsigned long long)lsn, want[k], (int)len, got);
        tm_out_free(&o);
        tm_rowset_free(&rs);
    }
    ck_assert_uint_gt(tm_state_skipped(s), 0);
    tm_state_free(s);
}

START_TEST(random_journals_match_model)
{
    for (uint64_t seed = 1; seed <= 6; seed++) {
        tmt_rng r = {seed};
        char *dir = tmt_tempdir();
        tmt_jw j = {.lsn = 1000, .time = 1700000000000000};
        tm_error err;
        tm_writer_options wo = {.frame_target = 4096};
        ck_assert_int_eq(tm_writer_open(dir, &wo, &j.w, &err), 0);
        model m = {.version = 1};
        put_rel(j.w, PREFS, 1, j.lsn + 100);
        put_rel(j.w, BAG, 1, j.lsn + 100);
        put_rel(j.w, OTHER, 1, j.lsn + 100);
        /* Base snapshot: a few rows. */
        for (int i = 0; i < NA * NB; i += 3) {
            mrow *p = &m.p[i];
            *p = (mrow){.live = true, .a = i / NB, .b = i % NB};
            snprintf(p->c, sizeof p->c, "s%d", i);
        }
        m.bag[1] = 2;
        int nsnap = 0;
        for (int i = 0; i < NA * NB; i++)
            nsnap += m.p[i].live;
        begin(&j, (uint64_t)nsnap + 2 + 2, true);
        tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, PREFS, 1, 0, NULL, 0, NULL, 0);
        tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, BAG, 1, 0, NULL, 0, NULL, 0);
        for (int i = 0; i < NA * NB; i++) {
            if (!m.p[i].live)
                continue;
            char bufs[4][32];
            tm_value v[4];
            uint32_t n = prefs_vals(&m.p[i], 1, bufs, v);
            tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, PREFS, 1, 0, NULL, 0, v, n);
        }
        for (int k = 0; k < 2; k++) {
            tm_value v[2] = {{"v1", 2, 't'}, {"1", 1, 't'}};
            tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, BAG, 1, 0, NULL, 0, v, 2);
        }
        tmt_jw_end(&j);

        /* Expected states at chosen LSNs. */
        enum { NCHECK = 8 };
        uint64_t at[NCHECK];
        char *want[NCHECK][2];
        size_t wlen[NCHECK][2];
        int nchecks = 0;
        for (int tx = 0; tx < 160; tx++) {
            if (tx == 50 || tx == 110) { /* schema change before this transaction */
                m.version++;
                put_rel(j.w, PREFS, (uint32_t)m.version, j.lsn + 100);
            }
            int nch = 1 + (int)tmt_below(&r, 4);
            begin(&j, (uint64_t)nch + 2, false);
            for (int c = 0; c < nch; c++) {
                int i = (int)tmt_below(&r, NA * NB);
                mrow *p = &m.p[i];
                char ob[4][32], nb[4][32];
                tm_value ov[4], nv[4];
                uint32_t no = prefs_vals(p, m.version, ob, ov);
                int what = (int)tmt_below(&r, 20);
                int dst = (int)tmt_below(&r, NA * NB);
                if (what >= 4 && what < 7 && m.p[dst].live)
                    what = 8; /* no free key to move to: an update instead */
                if (what == 0 && tx % 40 == 39) {
                    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, PREFS, (uint32_t)m.version, 0,
                                  NULL, 0, NULL, 0);
                    for (int q = 0; q < NA * NB; q++)
                        m.p[q].live = false;
                } else if (!p->live) {
                    *p = (mrow){.live = true, .a = i / NB, .b = i % NB, .c_null = what % 3 == 0};
                    snprintf(p->c, sizeof p->c, "i%d,\"%d", tx, c);
                    if (m.version >= 2) {
                        p->d_set = true;
                        snprintf(p->d, sizeof p->d, "%d", tx);
                    }
                    uint32_t nn = prefs_vals(p, m.version, nb, nv);
                    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, PREFS, (uint32_t)m.version, 0,
                                  NULL, 0, nv, nn);
                } else if (what < 4) {
                    char kind = what % 2 ? 'O' : 'K';
                    if (kind == 'K')
                        for (uint32_t q = 2; q < no; q++)
                            ov[q] = (tm_value){NULL, 0, 'n'};
                    p->live = false;
                    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__DELETE, PREFS, (uint32_t)m.version,
                                  kind, ov, no, NULL, 0);
                } else if (what < 7) {
                    /* Key change to a free key. */
                    mrow moved = *p;
                    moved.a = dst / NB;
                    moved.b = dst % NB;
                    p->live = false;
                    m.p[dst] = moved;
                    uint32_t nn = prefs_vals(&moved, m.version, nb, nv);
                    char kind = what == 4 ? 'K' : 'O';
                    if (kind == 'K')
                        for (uint32_t q = 2; q < no; q++)
                            ov[q] = (tm_value){NULL, 0, 'n'};
                    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__UPDATE, PREFS, (uint32_t)m.version,
                                  kind, ov, no, nv, nn);
                } else {
                    /* Update of c (or d); without an old image, c may be 'u'. */
                    bool no_old = what >= 14, touch_c = what % 2 == 0 && m.version < 3;
                    if (touch_c) {
                        p->c_null = false;
                        snprintf(p->c, sizeof p->c, "u%d.%d", tx, c);
                    } else if (m.version >= 2) {
                        p->d_set = true;
                        if (what % 3)
                            snprintf(p->d, sizeof p->d, "%d", tx * 10 + c);
                        else
                            p->d[0] = '\0'; /* NULL */
                    }
                    uint32_t nn = prefs_vals(p, m.version, nb, nv);
                    if (no_old && !touch_c && m.version < 3 && !p->c_null)
                        nv[2] = (tm_value){NULL, 0, 'u'};
                    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__UPDATE, PREFS, (uint32_t)m.version,
                                  no_old ? 0 : 'O', ov, no, nv, nn);
                }
            }
            /* The bag: add or remove one of identical rows. */
            int b = (int)tmt_below(&r, BAGVALS);
            char x[8], y[8];
            snprintf(x, sizeof x, "v%d", b);
            snprintf(y, sizeof y, "%d", b);
            tm_value v[2] = {{x, (uint32_t)strlen(x), 't'}, {y, (uint32_t)strlen(y), 't'}};
            if (m.bag[b] > 0 && tmt_below(&r, 2)) {
                m.bag[b]--;
                tmt_jw_change(&j, TIDEMARK__CHANGE__OP__DELETE, BAG, 1, 'O', v, 2, NULL, 0);
            } else {
                m.bag[b]++;
                tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, BAG, 1, 0, NULL, 0, v, 2);
            }
            /* A change of a table replay skips. */
            tm_value ot[2] = {{"o", 1, 't'}, {"1", 1, 't'}};
            tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, OTHER, 1, 0, NULL, 0, ot, 2);
            tmt_jw_end(&j);
            if (tx % 20 == 19 && nchecks < NCHECK) {
                at[nchecks] = j.lsn;
                for (int k = 0; k < 2; k++)
                    want[nchecks][k] = model_csv(&m, k ? BAG : PREFS, &wlen[nchecks][k]);
                nchecks++;
            }
        }
        tmt_jw_close(&j);
        for (int k = 0; k < nchecks; k++) {
            check_replay(dir, at[k], want[k], wlen[k]);
            free(want[k][0]);
            free(want[k][1]);
        }
        tmt_tempdir_remove(dir);
    }
}
END_TEST

/* ---- gaps and damage, through the command ---------------------------------- */

static void insert_prefs(tmt_jw *j, int a, const char *c)
{
    char ab[16];
    snprintf(ab, sizeof ab, "%d", a);
    tm_value v[3] = {{ab, (uint32_t)strlen(ab), 't'}, {"k", 1, 't'}, {c, (uint32_t)strlen(c), 't'}};
    tmt_jw_change(j, TIDEMARK__CHANGE__OP__INSERT, PREFS, 1, 0, NULL, 0, v, 3);
}

static int replay_lsn(const char *dir, uint64_t lsn, char **out)
{
    char l[32];
    snprintf(l, sizeof l, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
    return tmt_run(out, "replay", "--journal", dir, "--lsn", l, "--table", "prefs", NULL);
}

START_TEST(gaps_and_damage)
{
    tm_error err;
    tmt_jw j;
    /* a frame per transaction */
    char *dir = open_journal(&j, (tm_writer_options){.frame_target = 64});
    put_rel(j.w, PREFS, 1, j.lsn + 100);
    begin(&j, 2, true);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, PREFS, 1, 0, NULL, 0, NULL, 0);
    insert_prefs(&j, 1, "base");
    tmt_jw_end(&j);
    begin(&j, 1, false);
    insert_prefs(&j, 2, "before the gap");
    tmt_jw_end(&j);
    uint64_t before_gap = j.lsn;
    Tidemark__Gap gap = TIDEMARK__GAP__INIT;
    gap.has_lsn = 1;
    gap.lsn = j.lsn + 50;
    gap.reason = "slot lost";
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_GAP;
    rec.gap = &gap;
    ck_assert_int_eq(tm_writer_put_standalone(j.w, &rec, &err), 0);
    begin(&j, 1, false);
    insert_prefs(&j, 3, "after the gap");
    tmt_jw_end(&j);
    uint64_t after_gap = j.lsn;
    begin(&j, 3, true); /* a fresh snapshot */
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, PREFS, 1, 0, NULL, 0, NULL, 0);
    insert_prefs(&j, 1, "snap");
    insert_prefs(&j, 5, "snap");
    tmt_jw_end(&j);
    begin(&j, 1, false);
    insert_prefs(&j, 6, "later");
    tmt_jw_end(&j);
    uint64_t later = j.lsn;
    tmt_jw_close(&j);

    char *out;
    ck_assert_msg(replay_lsn(dir, before_gap, &out) == 0, "%s", out);
    ck_assert_str_eq(out, "a,b,c\n1,k,base\n2,k,before the gap\n");
    free(out);
    ck_assert_int_eq(replay_lsn(dir, after_gap, &out), 1);
    ck_assert_msg(strstr(out, "gap") && strstr(out, "slot lost"), "%s", out);
    free(out);
    ck_assert_int_eq(replay_lsn(dir, later, &out), 0);
    ck_assert_str_eq(out, "a,b,c\n1,k,snap\n5,k,snap\n6,k,later\n");
    free(out);

    /* A damaged byte in an early frame (not a torn tail): a clear error. */
    char *seg = tmt_seg_path(dir, 1);
    size_t len;
    unsigned char *data = tmt_slurp(seg, &len);
    data[len / 3] ^= 0x55;
    tmt_spit(seg, data, len);
    free(data);
    char *idx = tmt_idx_path(dir, 1);
    remove(idx);
    ck_assert_int_eq(replay_lsn(dir, later, &out), 1);
    ck_assert_msg(strstr(out, "damaged"), "%s", out);
    free(out);
    free(idx);
    free(seg);
    tmt_tempdir_remove(dir);
}
END_TEST

/* A keyless table gains a column (with a missing value): its key (the whole
 * row) changes, rows are re-indexed, and a later delete of an old row
 * (old image with the missing value filled in) finds it. */
START_TEST(rekey_on_schema_change)
{
    tmt_jw j;
    char *dir = open_journal(&j, (tm_writer_options){0});
    put_rel(j.w, BAG, 1, j.lsn + 100);
    begin(&j, 4, true);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, BAG, 1, 0, NULL, 0, NULL, 0);
    tm_value r1[2] = {{"p", 1, 't'}, {"1", 1, 't'}}, r2[2] = {{"q", 1, 't'}, {"2", 1, 't'}};
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, BAG, 1, 0, NULL, 0, r1, 2);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, BAG, 1, 0, NULL, 0, r1, 2);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, BAG, 1, 0, NULL, 0, r2, 2);
    tmt_jw_end(&j);
    /* Version 2: (x, y, z DEFAULT 'm'). */
    Tidemark__Relation rel = TIDEMARK__RELATION__INIT;
    Tidemark__Column cols[3], *cp[3] = {&cols[0], &cols[1], &cols[2]};
    const char *names[3] = {"x", "y", "z"};
    for (int i = 0; i < 3; i++) {
        tidemark__column__init(&cols[i]);
        cols[i].name = (char *)names[i];
        cols[i].has_type_oid = cols[i].has_replica_key = 1;
        cols[i].type_oid = i == 1 ? 23 : 25;
        cols[i].type_name = i == 1 ? "integer" : "text";
        cols[i].replica_key = 1;
    }
    cols[2].has_has_missing = cols[2].has_missing = cols[2].has_missing_value = 1;
    cols[2].missing_value.data = (uint8_t *)"m";
    cols[2].missing_value.len = 1;
    rel.has_oid = rel.has_version = rel.has_lsn = rel.has_replica_identity = 1;
    rel.oid = BAG;
    rel.version = 2;
    rel.lsn = j.lsn + 100;
    rel.namespace_ = "public";
    rel.name = "bag";
    rel.replica_identity = 'f';
    rel.n_columns = 3;
    rel.columns = cp;
    tmt_put_relation_record(j.w, &rel);
    begin(&j, 2, false);
    tm_value d1[3] = {{"p", 1, 't'}, {"1", 1, 't'}, {"m", 1, 't'}};
    tm_value n1[3] = {{"r", 1, 't'}, {"3", 1, 't'}, {NULL, 0, 'n'}};
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__DELETE, BAG, 2, 'O', d1, 3, NULL, 0);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, BAG, 2, 0, NULL, 0, n1, 3);
    tmt_jw_end(&j);
    tmt_jw_close(&j);
    char *out, l[32];
    snprintf(l, sizeof l, "0/%X", (unsigned)j.lsn);
    ck_assert_int_eq(tmt_run(&out, "replay", "--journal", dir, "--lsn", l, NULL), 0);
    ck_assert_str_eq(out, "x,y,z\np,1,m\nq,2,m\nr,3,\n");
    free(out);
    tmt_tempdir_remove(dir);
}
END_TEST

/* Commit times out of LSN order (concurrent commits): the state at T ends
 * before the first transaction committed after T, as recovery stops, even
 * when a later one committed before T. */
START_TEST(time_target_stops_at_first_later_commit)
{
    tmt_jw j;
    char *dir = open_journal(&j, (tm_writer_options){0});
    put_rel(j.w, PREFS, 1, j.lsn + 100);
    begin(&j, 1, true);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, PREFS, 1, 0, NULL, 0, NULL, 0);
    tmt_jw_end(&j);
    int64_t base = j.time;
    /* Commit times +10, +30, +20, +40 (ms) in LSN order. */
    int64_t at[4] = {10000, 30000, 20000, 40000};
    for (int i = 0; i < 4; i++) {
        j.time = base + at[i] - 1000; /* begin() adds 1000 */
        begin(&j, 1, false);
        char c[8];
        snprintf(c, sizeof c, "tx%d", i + 1);
        insert_prefs(&j, i + 1, c);
        tmt_jw_end(&j);
    }
    tmt_jw_close(&j);
    struct {
        int64_t t;
        const char *want;
    } cases[] = {
        {base + 10000, "a,b,c\n1,k,tx1\n"},
        {base + 20000, "a,b,c\n1,k,tx1\n"}, /* tx3 (at +20) comes after tx2 (+30) */
        {base + 29999, "a,b,c\n1,k,tx1\n"},
        {base + 30000, "a,b,c\n1,k,tx1\n2,k,tx2\n3,k,tx3\n"},
        {base + 9999, "a,b,c\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char t[TM_TIME_BUFLEN], *out;
        tm_time_format(cases[i].t, t);
        int rc = tmt_run(&out, "replay", "--journal", dir, "--at", t, NULL);
        ck_assert_msg(rc == 0 && !strcmp(out, cases[i].want), "at %s: exit %d\n%s", t, rc, out);
        free(out);
    }
    tmt_tempdir_remove(dir);
}
END_TEST

int main(void)
{
    return tm_check_main("replay_state", "state", 120,
                         TM_TESTS(decoder_matches_protobuf, rowmap_deletes_keep_runs,
                                  random_journals_match_model, gaps_and_damage,
                                  rekey_on_schema_change, time_target_stops_at_first_later_commit));
}
