/* Seeking by LSN and by time and the time limit: what the reader delivers
 * equals a linear filter of what was written, frames are skipped without
 * being decoded, and a reader that seeks still has every schema it needs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/journal/journal.h"
#include "tests/harness/support_gen.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

typedef struct fixture {
    tmt_gen g;
    uint64_t total_frames;
} fixture;

/* one_unit: every transaction and standalone record gets a frame of its
 * own (a sync after each), so frame-granular seeks are exact. */
static void build(fixture *f, uint64_t seed, bool one_unit, bool jitter, int ntx)
{
    tm_writer_options o = {.segment_size = 48 * 1024, .frame_target = 4096};
    tmt_gen *g = &f->g;
    tmt_gen_open(g, seed, &o);
    g->s.jitter_time = jitter;
    tm_error err;
    for (int i = 0; i < ntx; i++) {
        if (tmt_below(&g->r, 8) == 0) {
            tmt_put_standalone(g->w, &g->s, &g->r);
            if (one_unit)
                ck_assert(tm_writer_sync(g->w, &err) == 0);
        }
        tmt_put_tx(g->w, &g->s, &g->r, (unsigned)tmt_below(&g->r, 15), 120);
        if (one_unit || tmt_below(&g->r, 20) == 0)
            ck_assert(tm_writer_sync(g->w, &err) == 0);
    }
    tmt_gen_close(g);
    ck_assert_int_eq(tm_verify(g->dir, NULL, NULL, &err), 0);
    /* Count the frames by reading everything once. */
    tm_reader_stats st;
    tmt_read_all(g->dir, &g->s, &st);
    f->total_frames = st.frames_decoded;
    ck_assert_uint_gt(st.index_loads, 2); /* sealed segments */
}

/* A record of a transaction, picked at random. */
static const tmt_rec *random_tx(const tmt_stream *s, tmt_rng *r)
{
    const tmt_rec *t;
    do
        t = &s->v[tmt_below(r, s->n)];
    while (t->tx < 0);
    return t;
}

static tm_reader *open_reader(const fixture *f)
{
    tm_reader *rd;
    tm_error err;
    ck_assert_msg(tm_reader_open(f->g.dir, &rd, &err) == 0, "%s", err.msg);
    return rd;
}

/* Commit LSNs worth seeking to: every boundary case and some random ones. */
static uint64_t pick_lsn(const tmt_stream *s, tmt_rng *r, int i)
{
    uint64_t first = 0, last = 0;
    for (size_t k = 0; k < s->n; k++)
        if (s->v[k].tx >= 0) {
            if (!first)
                first = s->v[k].lsn;
            last = s->v[k].lsn;
        }
    switch (i) {
    case 0:
        return 0;
    case 1:
        return first;
    case 2:
        return first + 1;
    case 3:
        return last;
    case 4:
        return last + 1;
    case 5:
        return UINT64_MAX;
    }
    return random_tx(s, r)->lsn + tmt_below(r, 3) - 1; /* just before, at, or just after */
}

START_TEST(seek_lsn_equals_linear_filter)
{
    fixture f;
    build(&f, 11, false, false, 700);
    tmt_rng r = {99};
    tm_reader *rd = open_reader(&f);
    tm_error err;
    for (int i = 0; i < 60; i++) {
        uint64_t lsn = pick_lsn(&f.g.s, &r, i);
        ck_assert_msg(tm_reader_seek_lsn(rd, lsn, &err) == 0, "%s", err.msg);
        tmt_check_read(rd, &f.g.s, tmt_cut_lsn(&f.g.s, lsn), f.g.s.n);
    }
    tm_reader_close(rd);

    /* A seek near the end decodes only a few frames. */
    rd = open_reader(&f);
    ck_assert(tm_reader_seek_lsn(rd, pick_lsn(&f.g.s, &r, 3), &err) == 0);
    tmt_check_read(rd, &f.g.s, tmt_cut_lsn(&f.g.s, pick_lsn(&f.g.s, &r, 3)), f.g.s.n);
    uint64_t decoded = tm_reader_get_stats(rd).frames_decoded;
    ck_assert_msg(decoded * 10 < f.total_frames, "decoded %llu of %llu frames",
                  (unsigned long long)decoded, (unsigned long long)f.total_frames);
    tm_reader_close(rd);
    tmt_gen_free(&f.g);
}
END_TEST

/* Every Change delivered after a seek refers to a schema delivered before. */
static void check_schemas(const tmt_got *g)
{
    uint64_t seen[512];
    size_t nseen = 0;
    for (size_t i = 0; i < g->n; i++) {
        Tidemark__Record *rec = tidemark__record__unpack(NULL, g->v[i].len, g->v[i].packed);
        ck_assert(rec != NULL);
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION && nseen < 512) {
            seen[nseen++] = (uint64_t)rec->relation->oid << 32 | rec->relation->version;
        } else if (rec->body_case == TIDEMARK__RECORD__BODY_CHANGE) {
            uint64_t key =
                (uint64_t)rec->change->relation_oid << 32 | rec->change->relation_version;
            bool found = false;
            for (size_t k = 0; k < nseen && !found; k++)
                found = seen[k] == key;
            ck_assert_msg(found, "change %zu uses relation %u version %u never delivered", i,
                          rec->change->relation_oid, rec->change->relation_version);
        }
        tidemark__record__free_unpacked(rec, NULL);
    }
}

START_TEST(seek_delivers_schemas)
{
    fixture f;
    build(&f, 12, false, false, 700);
    tmt_rng r = {7};
    tm_reader *rd = open_reader(&f);
    tm_error err;
    for (int i = 0; i < 30; i++) {
        ck_assert(tm_reader_seek_lsn(rd, pick_lsn(&f.g.s, &r, 6 + i), &err) == 0);
        tmt_got g;
        tmt_collect(rd, &g);
        check_schemas(&g);
        tmt_got_free(&g);
    }
    tm_reader_close(rd);
    tmt_gen_free(&f.g);
}
END_TEST

/* g->v[gi..] must be s->v[si..] in order, with only Relation repeats in
 * between; returns how far into s it got. */
static size_t follow_journal(const tmt_got *g, size_t gi, const tmt_stream *s, size_t si)
{
    for (; gi < g->n; gi++) {
        if (si < s->n && g->v[gi].len == s->v[si].len &&
            !memcmp(g->v[gi].packed, s->v[si].packed, g->v[gi].len)) {
            si++;
            continue;
        }
        ck_assert_msg(g->v[gi].body == TIDEMARK__RECORD__BODY_RELATION,
                      "record %zu differs from the journal", gi);
    }
    return si;
}

static int64_t pick_time(const tmt_stream *s, tmt_rng *r)
{
    return random_tx(s, r)->time + (int64_t)tmt_below(r, 3) - 1;
}

START_TEST(seek_time_exact_with_one_unit_frames)
{
    fixture f;
    build(&f, 13, true, false, 400);
    tmt_rng r = {8};
    tm_reader *rd = open_reader(&f);
    tm_error err;
    int64_t edge[] = {0, TMT_T0 - 1, INT64_MAX};
    for (int i = 0; i < 40; i++) {
        int64_t t = i < 3 ? edge[i] : pick_time(&f.g.s, &r);
        ck_assert(tm_reader_seek_time(rd, t, &err) == 0);
        tmt_check_read(rd, &f.g.s, tmt_cut_time(&f.g.s, t), f.g.s.n);
    }
    tm_reader_close(rd);
    tmt_gen_free(&f.g);
}
END_TEST

/* With many transactions per frame and commit times out of LSN order, a
 * time seek is frame-granular: it must deliver a suffix of the journal that
 * starts at a transaction and holds every transaction at or after t. */
START_TEST(seek_time_frames_with_jitter)
{
    fixture f;
    build(&f, 14, false, true, 700);
    tmt_rng r = {9};
    tm_reader *rd = open_reader(&f);
    tm_error err;
    for (int i = 0; i < 30; i++) {
        int64_t t = pick_time(&f.g.s, &r);
        ck_assert(tm_reader_seek_time(rd, t, &err) == 0);
        tmt_got g;
        tmt_collect(rd, &g);
        size_t gi = 0;
        while (gi < g.n && g.v[gi].body != TIDEMARK__RECORD__BODY_BEGIN)
            gi++;
        ck_assert(gi < g.n);
        size_t si = 0;
        while (
            !(f.g.s.v[si].body == TIDEMARK__RECORD__BODY_BEGIN && f.g.s.v[si].lsn == g.v[gi].lsn))
            si++;
        for (size_t k = 0; k < si; k++)
            ck_assert_msg(f.g.s.v[k].tx < 0 || f.g.s.v[k].time < t,
                          "a transaction at or after t was skipped");
        /* Before it only standalone records: the ones written just before
         * that transaction, in order, and Relation repeats. */
        size_t sk = si;
        for (size_t k = gi; k-- > 0;) {
            if (sk > 0 && f.g.s.v[sk - 1].tx < 0 && g.v[k].len == f.g.s.v[sk - 1].len &&
                !memcmp(g.v[k].packed, f.g.s.v[sk - 1].packed, g.v[k].len)) {
                sk--;
                continue;
            }
            ck_assert_msg(g.v[k].body == TIDEMARK__RECORD__BODY_RELATION,
                          "record %zu before the first transaction is not standalone", k);
        }
        /* From there on, exactly the journal (Relation repeats aside). */
        ck_assert_uint_eq(follow_journal(&g, gi, &f.g.s, si), f.g.s.n);
        check_schemas(&g);
        tmt_got_free(&g);
    }
    tm_reader_close(rd);
    tmt_gen_free(&f.g);
}
END_TEST

/* Index of the TxBegin of the first transaction with commit time > t. */
static size_t first_after(const tmt_stream *s, int64_t t)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].body == TIDEMARK__RECORD__BODY_BEGIN && s->v[i].time > t)
            return i;
    return s->n;
}

START_TEST(time_limit)
{
    fixture f;
    build(&f, 15, true, false, 400);
    tmt_rng r = {10};
    for (int i = 0; i < 30; i++) {
        int64_t t = pick_time(&f.g.s, &r);
        tm_reader *rd = open_reader(&f);
        tm_reader_set_time_limit(rd, t);
        tmt_check_read(rd, &f.g.s, 0, first_after(&f.g.s, t));
        tm_reader_close(rd);
    }
    /* Combined with a seek, as replay does: from t1 up to t2. */
    tm_reader *rd = open_reader(&f);
    tm_error err;
    for (int i = 0; i < 30; i++) {
        int64_t a = pick_time(&f.g.s, &r), b = pick_time(&f.g.s, &r);
        if (a > b) {
            int64_t x = a;
            a = b;
            b = x;
        }
        tm_reader_set_time_limit(rd, b);
        ck_assert(tm_reader_seek_time(rd, a, &err) == 0);
        tmt_check_read(rd, &f.g.s, tmt_cut_time(&f.g.s, a), first_after(&f.g.s, b));
    }
    tm_reader_close(rd);
    tmt_gen_free(&f.g);
}
END_TEST

/* A limit in the middle of frames that hold many transactions never cuts
 * a transaction in two, and stops before frames wholly past it. */
START_TEST(time_limit_multi_tx_frames)
{
    fixture f;
    build(&f, 16, false, false, 700);
    tmt_rng r = {11};
    for (int i = 0; i < 20; i++) {
        int64_t t = pick_time(&f.g.s, &r);
        tm_reader *rd = open_reader(&f);
        tm_reader_set_time_limit(rd, t);
        tmt_got g;
        tmt_collect(rd, &g);
        size_t si = follow_journal(&g, 0, &f.g.s, 0);
        ck_assert_uint_ge(si, first_after(&f.g.s, t));
        ck_assert_msg(si == f.g.s.n || f.g.s.v[si].tx < 0 ||
                          f.g.s.v[si].body == TIDEMARK__RECORD__BODY_BEGIN,
                      "the reader stopped inside a transaction");
        tmt_got_free(&g);
        tm_reader_close(rd);
    }
    tmt_gen_free(&f.g);
}
END_TEST

int main(void)
{
    return tm_check_main("store_seek", "core", 120,
                         TM_TESTS(seek_lsn_equals_linear_filter, seek_delivers_schemas,
                                  seek_time_exact_with_one_unit_frames,
                                  seek_time_frames_with_jitter, time_limit,
                                  time_limit_multi_tx_frames));
}
