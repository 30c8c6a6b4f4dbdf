/* The live segment's frame index (live_index.h): the writer appends an entry
 * per durable frame, readers take the frames from it instead of reading
 * every header, and a torn, damaged or stale index is used only as far as
 * it agrees with the segment, or not at all: what is read is always the
 * journal as written. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "store/journal/live_index.h"
#include "store/journal/segment.h"
#include "tests/harness/support_gen.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

static char *lidx_path(const char *dir, uint64_t segno)
{
    char name[TM_LIDX_NAME_LEN];
    return tmt_path(dir, tm_lidx_name(segno, name));
}

static size_t frames_of(const char *dir, uint64_t segno)
{
    tm_seg_scan sc = tmt_scan_segment(dir, segno);
    size_t n = sc.frames.n;
    tm_seg_scan_free(&sc);
    return n;
}

/* Writes n transactions with a sync after every few of them. */
static void put_synced(tmt_gen *g, int n)
{
    tm_error err;
    for (int i = 0; i < n; i++) {
        tmt_put_tx(g->w, &g->s, &g->r, 1 + (unsigned)tmt_below(&g->r, 6), 120);
        if (i % 4 == 3)
            ck_assert_msg(tm_writer_sync(g->w, &err) == 0, "%s", err.msg);
    }
    ck_assert_msg(tm_writer_sync(g->w, &err) == 0, "%s", err.msg);
}

START_TEST(synced_frames_come_from_the_index)
{
    tm_writer_options o = {.frame_target = 2048};
    tmt_gen g;
    tmt_gen_open(&g, 41, &o);
    tmt_put_relation(g.w, &g.s, &g.r, 0);
    tmt_put_relation(g.w, &g.s, &g.r, 1);
    put_synced(&g, 80);
    /* while the writer is open: every frame from the index, no header read */
    tm_reader_stats st;
    tmt_read_all(g.dir, &g.s, &st);
    size_t n = frames_of(g.dir, 1);
    ck_assert_uint_gt(n, 20);
    ck_assert_uint_eq(st.live_index_frames, n);
    ck_assert_uint_eq(st.headers_read, 0);
    tmt_gen_close(&g);
    /* reopened, the writer starts the index again from what it holds */
    tm_error err;
    ck_assert(tm_writer_open(g.dir, &o, &g.w, &err) == 0);
    put_synced(&g, 30);
    tmt_gen_close(&g);
    tmt_read_all(g.dir, &g.s, &st);
    n = frames_of(g.dir, 1);
    ck_assert_uint_eq(st.live_index_frames, n);
    ck_assert_uint_eq(st.headers_read, 0);
    ck_assert_int_eq(tm_verify(g.dir, NULL, NULL, &err), 0);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(torn_or_damaged_index_used_up_to_the_damage)
{
    tmt_gen g;
    tmt_gen_open(&g, 42, &(tm_writer_options){.frame_target = 2048});
    tmt_put_relation(g.w, &g.s, &g.r, 0);
    put_synced(&g, 60);
    tmt_gen_close(&g);
    size_t n = frames_of(g.dir, 1);
    char *p = lidx_path(g.dir, 1);
    size_t len;
    unsigned char *b = tmt_slurp(p, &len);
    /* a torn last append: that frame is found by its header */
    tmt_spit(p, b, len - 30);
    tm_reader_stats st;
    tmt_read_all(g.dir, &g.s, &st);
    ck_assert_uint_eq(st.live_index_frames, n - 1);
    ck_assert_uint_eq(st.headers_read, 1);
    /* a flipped byte in entry 5: entries 0-4 are used, the rest scanned */
    b[32 + 5 * 84 + 20] ^= 0x04;
    tmt_spit(p, b, len);
    tmt_read_all(g.dir, &g.s, &st);
    ck_assert_uint_eq(st.live_index_frames, 5);
    ck_assert_uint_eq(st.headers_read, n - 5);
    /* a damaged file header: not used */
    b[32 + 5 * 84 + 20] ^= 0x04;
    b[10] ^= 0x01;
    tmt_spit(p, b, len);
    tmt_read_all(g.dir, &g.s, &st);
    ck_assert_uint_eq(st.live_index_frames, 0);
    ck_assert_uint_eq(st.headers_read, n);
    free(b);
    free(p);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(stale_index_of_another_incarnation_not_used)
{
    tm_writer_options o = {.frame_target = 2048};
    tmt_gen a, b;
    tmt_gen_open(&a, 43, &o);
    tmt_gen_open(&b, 44, &o);
    tmt_put_relation(a.w, &a.s, &a.r, 0);
    tmt_put_relation(b.w, &b.s, &b.r, 0);
    put_synced(&a, 60);
    put_synced(&b, 40);
    tmt_gen_close(&a);
    tmt_gen_close(&b);
    char *pa = lidx_path(a.dir, 1), *pb = lidx_path(b.dir, 1);
    size_t la, lb;
    unsigned char *ia = tmt_slurp(pa, &la), *ib = tmt_slurp(pb, &lb);
    /* another segment's index (its creation time differs) */
    tmt_spit(pb, ia, la);
    tm_reader_stats st;
    tmt_read_all(b.dir, &b.s, &st);
    ck_assert_uint_eq(st.live_index_frames, 0);
    /* the same, with the segment's header made to agree: what a cut and
     * rewrite of the segment under an old index looks like; the frames
     * disagree, so none is used */
    char *sa = tmt_seg_path(a.dir, 1), *sb = tmt_seg_path(b.dir, 1);
    size_t lsa, lsb;
    unsigned char *ba = tmt_slurp(sa, &lsa), *bb = tmt_slurp(sb, &lsb);
    memcpy(bb, ba, TM_SEG_HDR_SIZE);
    tmt_spit(sb, bb, lsb);
    tmt_read_all(b.dir, &b.s, &st);
    ck_assert_uint_eq(st.live_index_frames, 0);
    ck_assert_uint_eq(st.headers_read, frames_of(b.dir, 1));
    /* its own index, shorter than the segment (an append lost in a crash):
     * the prefix is used, the rest scanned */
    memcpy(ib, ia, 32); /* its file header: segment 1, created when a's was */
    size_t keep = 32 + 10 * 84;
    tmt_spit(pb, ib, keep);
    tmt_read_all(b.dir, &b.s, &st);
    ck_assert_uint_eq(st.live_index_frames, 10);
    ck_assert_uint_eq(st.headers_read, frames_of(b.dir, 1) - 10);
    free(ia);
    free(ib);
    free(ba);
    free(bb);
    free(sa);
    free(sb);
    free(pa);
    free(pb);
    tmt_gen_free(&a);
    tmt_gen_free(&b);
}
END_TEST

START_TEST(sealing_removes_it)
{
    tmt_gen g;
    tmt_gen_open(&g, 45, &(tm_writer_options){.segment_size = 24 * 1024, .frame_target = 4096});
    tmt_put_relation(g.w, &g.s, &g.r, 0);
    put_synced(&g, 300);
    tmt_gen_close(&g);
    size_t n = tmt_count_segments(g.dir);
    ck_assert_uint_gt(n, 2);
    for (size_t i = 1; i <= n; i++) {
        char *p = lidx_path(g.dir, i);
        ck_assert_msg((access(p, F_OK) == 0) == (i == n), "segment %zu", i);
        free(p);
    }
    tm_reader_stats st;
    tmt_read_all(g.dir, &g.s, &st);
    ck_assert_uint_eq(st.index_loads, n - 1);
    ck_assert_uint_eq(st.headers_read, 0);
    tmt_gen_free(&g);
}
END_TEST

int main(void)
{
    return tm_check_main("live_index", "core", 120,
                         TM_TESTS(synced_frames_come_from_the_index,
                                  torn_or_damaged_index_used_up_to_the_damage,
                                  stale_index_of_another_incarnation_not_used, sealing_removes_it));
}
