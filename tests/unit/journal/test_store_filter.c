/* Frame filters (tm_reader_set_frame_filter): with random answers, the
 * reader delivers exactly the transactions that begin in frames it read,
 * each whole, the standalone records of those frames, every Relation of
 * frames skipped with TM_FRAME_SKIP, in journal order; skipped frames are
 * not decompressed; and a filter combines with seeks and time limits. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/journal/journal.h"
#include "tests/harness/support_gen.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

typedef struct frame_id {
    uint64_t seg, off;
    bool has_tx;
    int64_t max_time;
} frame_id;

typedef struct fixture {
    tmt_gen g;
    frame_id *where;  /* per written record: the frame it was read from */
    frame_id *frames; /* every frame, in order */
    size_t nframes;
} fixture;

static bool same(frame_id a, frame_id b)
{
    return a.seg == b.seg && a.off == b.off;
}

static Tidemark__Record *unpack(const tmt_rec *t)
{
    Tidemark__Record *r = tidemark__record__unpack(NULL, t->len, t->packed);
    ck_assert(r != NULL);
    return r;
}

/* Whether delivered equals written record k. */
static bool equal_to(const tmt_stream *s, size_t k, const Tidemark__Record *got)
{
    Tidemark__Record *w = unpack(&s->v[k]);
    char why[256];
    bool eq = tmt_record_equal(w, got, why, sizeof why);
    tidemark__record__free_unpacked(w, NULL);
    return eq;
}

/* A Relation written before index k (segment preambles and schema catch-up
 * repeat them). */
static bool repeat_before(const tmt_stream *s, size_t k, const Tidemark__Record *got)
{
    if (got->body_case != TIDEMARK__RECORD__BODY_RELATION)
        return false;
    for (size_t i = 0; i < k && i < s->n; i++)
        if (s->v[i].body == TIDEMARK__RECORD__BODY_RELATION && equal_to(s, i, got))
            return true;
    return false;
}

static int record_frames(void *ctx, const tm_frame_info *f)
{
    fixture *fx = ctx;
    fx->frames = realloc(fx->frames, (fx->nframes + 1) * sizeof *fx->frames);
    fx->frames[fx->nframes++] = (frame_id){f->segment, f->offset, f->has_tx, f->max_time};
    return TM_FRAME_READ;
}

static void build(fixture *f, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    tm_writer_options o = {.segment_size = 40 * 1024, .frame_target = 2048};
    tmt_gen *g = &f->g;
    tmt_gen_open(g, seed, &o);
    tmt_rng *r = &g->r;
    tm_error err;
    for (int i = 0; i < 300; i++) {
        if (tmt_below(r, 6) == 0)
            tmt_put_standalone(g->w, &g->s, r);
        /* Some transactions span several frames. */
        unsigned n =
            tmt_below(r, 10) == 0 ? 30 + (unsigned)tmt_below(r, 40) : (unsigned)tmt_below(r, 8);
        tmt_put_tx(g->w, &g->s, r, n, 100);
        if (tmt_below(r, 10) == 0)
            ck_assert(tm_writer_sync(g->w, &err) == 0);
    }
    tmt_gen_close(g);

    /* Where each written record lives: read everything once. */
    f->where = calloc(g->s.n, sizeof *f->where);
    tm_reader *rd;
    ck_assert(tm_reader_open(g->dir, &rd, &err) == 0);
    tm_reader_set_frame_filter(rd, record_frames, f);
    const Tidemark__Record *rec;
    size_t k = 0;
    int rc;
    while ((rc = tm_reader_next(rd, &rec, &err)) == 1) {
        if (k < g->s.n && equal_to(&g->s, k, rec)) {
            tm_position p = tm_reader_position(rd);
            f->where[k++] = (frame_id){p.segment, p.offset, false, 0};
        } else {
            ck_assert_msg(repeat_before(&g->s, k, rec), "unexpected record before #%zu", k);
        }
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(k, g->s.n);
    ck_assert_uint_eq(tm_reader_get_stats(rd).frames_decoded, f->nframes);
    ck_assert_uint_eq(tm_reader_get_stats(rd).frames_skipped, 0);
    ck_assert_uint_gt(f->nframes, 40);
    tm_reader_close(rd);
}

static void destroy(fixture *f)
{
    tmt_gen_free(&f->g);
    free(f->where);
    free(f->frames);
}

/* A random filter that remembers what it answered and what the reader
 * did with it. */
typedef struct rfilter {
    tmt_rng r;
    bool allow_skip_all;
    frame_id *read, *rels; /* frames read / skipped with TM_FRAME_SKIP */
    size_t nread, nrels, asked, must;
    int64_t limit; /* frames past a time limit are never asked about */
} rfilter;

static int random_filter(void *ctx, const tm_frame_info *f)
{
    rfilter *rf = ctx;
    rf->asked++;
    if (rf->limit && f->has_tx && !f->must_read)
        ck_assert_msg(f->min_time <= rf->limit, "asked about a frame past the time limit");
    uint64_t k = tmt_below(&rf->r, 4);
    int want = k == 0   ? TM_FRAME_READ
               : k == 1 ? (rf->allow_skip_all ? TM_FRAME_SKIP_ALL : TM_FRAME_SKIP)
                        : TM_FRAME_SKIP;
    frame_id id = {f->segment, f->offset, f->has_tx, f->max_time};
    if (f->must_read || want == TM_FRAME_READ) {
        rf->must += f->must_read;
        rf->read = realloc(rf->read, (rf->nread + 1) * sizeof *rf->read);
        rf->read[rf->nread++] = id;
    } else if (want == TM_FRAME_SKIP && f->has_relation) {
        rf->rels = realloc(rf->rels, (rf->nrels + 1) * sizeof *rf->rels);
        rf->rels[rf->nrels++] = id;
    }
    return want;
}

static bool in(const frame_id *v, size_t n, frame_id x)
{
    for (size_t i = 0; i < n; i++)
        if (same(v[i], x))
            return true;
    return false;
}

/* The frame a record's delivery depends on: its transaction's first. */
static frame_id home(const fixture *f, size_t k)
{
    if (f->g.s.v[k].tx < 0)
        return f->where[k];
    size_t b = k;
    while (b > 0 && f->g.s.v[b - 1].tx == f->g.s.v[k].tx)
        b--;
    return f->where[b];
}

/* Whether written record k is one a reader with rf's answers delivers;
 * p, when set, is a frame read without asking (a seek's cut frame). */
static bool wanted(const fixture *f, const rfilter *rf, size_t k, const frame_id *p)
{
    frame_id h = home(f, k);
    return in(rf->read, rf->nread, h) || (p && same(h, *p)) ||
           (f->g.s.v[k].body == TIDEMARK__RECORD__BODY_RELATION && in(rf->rels, rf->nrels, h));
}

/* Reads with rf from the reader's current position to the end, then
 * checks that what came equals the wanted records from index `from` on,
 * apart from repeated Relations. With `complete`, nothing wanted may be
 * missing at the end. */
static void check_filtered(fixture *f, tm_reader *rd, rfilter *rf, size_t from, const frame_id *p,
                           bool complete)
{
    tmt_got g;
    tmt_collect(rd, &g);
    size_t k = from;
    for (size_t i = 0; i < g.n; i++) {
        while (k < f->g.s.n && !wanted(f, rf, k, p))
            k++;
        Tidemark__Record *rec = unpack(&g.v[i]);
        if (k < f->g.s.n && equal_to(&f->g.s, k, rec))
            k++;
        else
            ck_assert_msg(repeat_before(&f->g.s, k, rec),
                          "delivered record %zu is not written record #%zu of %zu (body %d)", i, k,
                          f->g.s.n, rec->body_case);
        tidemark__record__free_unpacked(rec, NULL);
    }
    tmt_got_free(&g);
    if (complete)
        for (; k < f->g.s.n; k++)
            ck_assert_msg(!wanted(f, rf, k, p), "record #%zu of a frame read was not delivered", k);
}

START_TEST(random_filters)
{
    fixture f;
    build(&f, 1000 + (uint64_t)_i);
    for (int round = 0; round < 6; round++) {
        rfilter rf = {.r = {(uint64_t)(_i * 100 + round)}, .allow_skip_all = round % 2};
        tm_reader *rd;
        tm_error err;
        ck_assert(tm_reader_open(f.g.dir, &rd, &err) == 0);
        tm_reader_set_frame_filter(rd, random_filter, &rf);
        check_filtered(&f, rd, &rf, 0, NULL, true);
        ck_assert_uint_eq(rf.asked, f.nframes);
        ck_assert_uint_gt(rf.must, 0); /* some transactions spanned frames */
        tm_reader_stats st = tm_reader_get_stats(rd);
        ck_assert_uint_eq(st.frames_decoded, rf.nread + rf.nrels);
        ck_assert_uint_eq(st.frames_skipped + st.frames_decoded, f.nframes);
        tm_reader_close(rd);
        free(rf.read);
        free(rf.rels);
    }
    destroy(&f);
}
END_TEST

/* Every Relation written reaches a reader that skips every frame with
 * TM_FRAME_SKIP: a schema-only pass. */
static int skip_everything(void *ctx, const tm_frame_info *f)
{
    (void)ctx;
    (void)f;
    return TM_FRAME_SKIP;
}

START_TEST(schema_only_pass)
{
    fixture f;
    build(&f, 77);
    tm_reader *rd;
    tm_error err;
    ck_assert(tm_reader_open(f.g.dir, &rd, &err) == 0);
    tm_reader_set_frame_filter(rd, skip_everything, NULL);
    const Tidemark__Record *rec;
    size_t rels = 0, others = 0;
    int rc;
    while ((rc = tm_reader_next(rd, &rec, &err)) == 1) {
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION)
            rels++;
        else
            others++;
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    size_t written = 0;
    for (size_t i = 0; i < f.g.s.n; i++)
        written += f.g.s.v[i].body == TIDEMARK__RECORD__BODY_RELATION;
    ck_assert_uint_ge(rels, written);
    ck_assert_uint_eq(others, 0);
    tm_reader_stats st = tm_reader_get_stats(rd);
    ck_assert_uint_lt(st.frames_decoded, f.nframes / 2);
    ck_assert_uint_eq(st.frames_decoded + st.frames_skipped, f.nframes);
    tm_reader_close(rd);
    destroy(&f);
}
END_TEST

/* After a seek by time, the filter applies from the seek target on, and a
 * time limit still ends the reading. */
START_TEST(with_seek_and_limit)
{
    fixture f;
    build(&f, 4242);
    tmt_rng r = {9};
    for (int round = 0; round < 8; round++) {
        /* A commit time from the middle of the journal. */
        size_t pick;
        do
            pick = (size_t)tmt_below(&r, f.g.s.n);
        while (f.g.s.v[pick].tx < 0);
        int64_t t = f.g.s.v[pick].time;
        size_t from = tmt_cut_time(&f.g.s, t);
        rfilter rf = {.r = {(uint64_t)round}};
        tm_reader *rd;
        tm_error err;
        ck_assert(tm_reader_open(f.g.dir, &rd, &err) == 0);
        ck_assert(tm_reader_seek_time(rd, t, &err) == 0);
        tm_reader_set_frame_filter(rd, random_filter, &rf);
        if (round % 2) {
            rf.limit = t + 20000000;
            tm_reader_set_time_limit(rd, rf.limit);
        }
        /* P, the last frame with transactions before the first frame that
         * reaches t, is where the seek cut is: records after the cut in it
         * are read without asking the filter. Records before the target
         * come only as schema catch-up (the repeat rule). */
        frame_id p = {0, 0, false, 0};
        for (size_t i = 0; i < f.nframes; i++) {
            if (!f.frames[i].has_tx)
                continue;
            if (f.frames[i].max_time >= t)
                break;
            p = f.frames[i];
        }
        check_filtered(&f, rd, &rf, from, &p, round % 2 == 0);
        tm_reader_close(rd);
        free(rf.read);
        free(rf.rels);
    }
    destroy(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_filter");
    TCase *tc = tcase_create("filter");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, random_filters, 0, 3);
    tcase_add_test(tc, schema_only_pass);
    tcase_add_test(tc, with_seek_and_limit);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
