/* Segments: rollover by size and by age, sealing with an index that the
 * reader uses (and falls back from when it is missing or bad), the schema
 * preamble at the start of every segment, transactions larger than a
 * segment, and reopening after a crash between sealing and the next
 * segment's creation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/journal/frame.h"
#include "store/journal/journal.h"
#include "store/journal/seg_index.h"
#include "store/journal/segment.h"
#include "tests/harness/support_gen.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

static bool exists(char *path)
{
    bool ok = access(path, F_OK) == 0;
    free(path);
    return ok;
}

/* Closes the writer: the journal has nseg segments, reads back as written
 * and verifies. */
static void close_and_check(tmt_gen *g, size_t nseg)
{
    tmt_gen_close(g);
    ck_assert_uint_eq(tmt_count_segments(g->dir), nseg);
    tmt_read_all(g->dir, &g->s, NULL);
    tm_error err;
    ck_assert_int_eq(tm_verify(g->dir, NULL, NULL, &err), 0);
}

START_TEST(rollover_by_size_and_sealing)
{
    tm_writer_options o = {.segment_size = 32 * 1024, .frame_target = 8192};
    tmt_gen g;
    tmt_gen_open(&g, 21, &o);
    tm_error err;
    for (unsigned i = 0; i < 5; i++)
        tmt_put_relation(g.w, &g.s, &g.r, i);
    for (int i = 0; i < 600; i++) {
        tmt_put_tx(g.w, &g.s, &g.r, (unsigned)tmt_below(&g.r, 10), 150);
        if (i % 50 == 0)
            tmt_put_relation(g.w, &g.s, &g.r, (unsigned)tmt_below(&g.r, 7));
    }
    tmt_gen_close(&g);
    size_t n = tmt_count_segments(g.dir);
    ck_assert_uint_gt(n, 5);
    for (size_t i = 1; i <= n; i++) {
        /* sealed = has an index, every one but the last */
        ck_assert_msg(exists(tmt_idx_path(g.dir, i)) == (i < n), "segment %zu", i);
        char *p = tmt_seg_path(g.dir, i);
        struct stat st;
        ck_assert(stat(p, &st) == 0);
        free(p);
        /* at most one frame plus one transaction over the limit */
        ck_assert_uint_lt(st.st_size, o.segment_size + 2 * o.frame_target);
        if (i < n)
            ck_assert_uint_ge(st.st_size, o.segment_size - o.frame_target);
    }
    /* Each segment's preamble repeats, in oid order, the schema of every
     * relation the segments before it hold. */
    uint32_t seen[16];
    size_t nseen = 0;
    tm_reader *rd;
    ck_assert(tm_reader_open(g.dir, &rd, &err) == 0);
    const Tidemark__Record *rec;
    uint64_t cur = 1;
    int rc;
    while ((rc = tm_reader_next(rd, &rec, &err)) == 1) {
        uint64_t seg = tm_reader_position(rd).segment;
        if (seg != cur) {
            uint32_t oids[16];
            size_t k = tmt_preamble_oids(g.dir, seg, oids, 16);
            ck_assert_uint_ge(k, nseen);
            for (size_t j = 1; j < nseen; j++)
                ck_assert_uint_lt(oids[j - 1], oids[j]);
            for (size_t j = 0; j < nseen; j++) {
                bool found = false;
                for (size_t q = 0; q < nseen && !found; q++)
                    found = oids[q] == seen[j];
                ck_assert_msg(found, "segment %llu lacks relation %u in its preamble",
                              (unsigned long long)seg, seen[j]);
            }
            cur = seg;
        }
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION) {
            bool found = false;
            for (size_t q = 0; q < nseen && !found; q++)
                found = seen[q] == rec->relation->oid;
            if (!found)
                seen[nseen++] = rec->relation->oid;
        }
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(cur, n);
    ck_assert_uint_ge(nseen, 5);
    tm_reader_close(rd);
    tm_reader_stats st;
    tmt_read_all(g.dir, &g.s, &st);
    ck_assert_uint_eq(st.index_loads, n - 1); /* sealed segments: from their index */
    ck_assert_uint_eq(st.header_scans, 1);    /* the open one: by its headers */
    ck_assert_int_eq(tm_verify(g.dir, NULL, NULL, &err), 0);

    /* Without an index the reader scans headers and reads the same. */
    char *idx2 = tmt_idx_path(g.dir, 2);
    unlink(idx2);
    free(idx2);
    tmt_read_all(g.dir, &g.s, &st);
    ck_assert_uint_eq(st.index_loads, n - 2);
    ck_assert_uint_eq(st.header_scans, 2);
    /* A damaged index: the reader falls back, verify reports it. */
    char *idx3 = tmt_idx_path(g.dir, 3);
    size_t len;
    unsigned char *b = tmt_slurp(idx3, &len);
    b[40] ^= 0x10;
    tmt_spit(idx3, b, len);
    free(b);
    tmt_read_all(g.dir, &g.s, &st);
    ck_assert_uint_eq(st.header_scans, 3);
    ck_assert_int_eq(tm_verify(g.dir, NULL, NULL, &err), 1);
    free(idx3);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(rollover_by_age)
{
    tmt_gen g;
    /* Wide margins: the two writes must fall within the age limit even
     * under ASan on a loaded host (30 ms was not enough there). */
    tmt_gen_open(&g, 22, &(tm_writer_options){.segment_max_age_us = 400000});
    for (int i = 0; i < 4; i++) {
        tmt_put_tx(g.w, &g.s, &g.r, 3, 50);
        tmt_put_tx(g.w, &g.s, &g.r, 3, 50); /* same segment: young enough */
        usleep(450000);
    }
    tmt_put_tx(g.w, &g.s, &g.r, 3, 50);
    close_and_check(&g, 5);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(transaction_larger_than_a_segment)
{
    tmt_gen g;
    tmt_gen_open(&g, 23, &(tm_writer_options){.segment_size = 16 * 1024, .frame_target = 4096});
    tmt_put_tx(g.w, &g.s, &g.r, 5, 50);
    tmt_put_tx(g.w, &g.s, &g.r, 2000, 100); /* hundreds of KiB: never split across segments */
    tmt_put_tx(g.w, &g.s, &g.r, 5, 50);
    close_and_check(&g, 2);
    tmt_gen_free(&g);
}
END_TEST

/* A crash after the index was written but before the next segment was
 * created leaves the last segment sealed: reopening starts the next one. */
START_TEST(reopen_after_sealing)
{
    tm_writer_options o = {0};
    tmt_gen g;
    tmt_gen_open(&g, 24, &o);
    tm_error err;
    for (int i = 0; i < 20; i++)
        tmt_put_tx(g.w, &g.s, &g.r, 4, 80);
    tmt_gen_close(&g);
    /* seal segment 1 by hand, as roll_over does */
    tm_seg_scan sc = tmt_scan_segment(g.dir, 1);
    ck_assert(tm_index_write(g.dir, 1, sc.file_size, &sc.frames, &err) == 0);
    tm_seg_scan_free(&sc);
    uint64_t last = g.s.next_lsn;
    ck_assert(tm_writer_open(g.dir, &o, &g.w, &err) == 0);
    ck_assert_uint_eq(tm_writer_last_commit_lsn(g.w), last);
    for (int i = 0; i < 5; i++)
        tmt_put_tx(g.w, &g.s, &g.r, 4, 80);
    close_and_check(&g, 2);
    uint32_t oids[8];
    ck_assert_uint_eq(tmt_preamble_oids(g.dir, 2, oids, 8), 1);
    tmt_gen_free(&g);
}
END_TEST

int main(void)
{
    return tm_check_main("store_segment", "core", 120,
                         TM_TESTS(rollover_by_size_and_sealing, rollover_by_age,
                                  transaction_larger_than_a_segment, reopen_after_sealing));
}
