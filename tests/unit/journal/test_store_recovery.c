/* Crash recovery: a torn tail at every byte offset of the last frame (and
 * of a freshly created last segment) is cut back to the previous safe frame
 * with a notice, nothing before it is lost, appending goes on and verify
 * passes; garbage after the last frame; an unfinished transaction at the
 * tail; a flipped bit in a middle frame is reported, with its segment and
 * offset, by the reader, the writer and verify, and never cut (reader and
 * writer: TM_ERR_CORRUPT with the segment file and offset as context). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "store/journal/segment.h"
#include "tests/harness/support_gen.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

/* Appends a small transaction with a known LSN. */
static void append_marker(tm_writer *w, uint64_t lsn)
{
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    b.has_commit_lsn = b.has_end_lsn = b.has_n_records = 1;
    b.commit_lsn = lsn;
    b.end_lsn = lsn + 40;
    b.n_records = 1;
    tm_error err;
    ck_assert_msg(tm_writer_begin_tx(w, &b, &err) == 0, "%s", err.msg);
    tmt_put_message(w, "marker", NULL, 0);
    ck_assert_msg(tm_writer_end_tx(w, &err) == 0, "%s", err.msg);
}

/* The journal holds s->v[0..prefix) and then the marker transaction. */
static void check_prefix_and_marker(const char *dir, const tmt_stream *s, size_t prefix,
                                    uint64_t lsn)
{
    tm_reader *rd;
    tm_error err;
    ck_assert(tm_reader_open(dir, &rd, &err) == 0);
    tmt_check_prefix(rd, s, 0, prefix);
    const Tidemark__Record *rec;
    int rc;
    while ((rc = tm_reader_next(rd, &rec, &err)) == 1 &&
           rec->body_case == TIDEMARK__RECORD__BODY_RELATION)
        ; /* preamble repeats */
    ck_assert_msg(rc == 1, "marker missing: %s", rc < 0 ? err.msg : "end of journal");
    ck_assert_int_eq(rec->body_case, TIDEMARK__RECORD__BODY_BEGIN);
    ck_assert_uint_eq(rec->begin->commit_lsn, lsn);
    ck_assert_int_eq(tm_reader_next(rd, &rec, &err), 1);
    ck_assert_str_eq(rec->message->prefix, "marker");
    ck_assert_int_eq(tm_reader_next(rd, &rec, &err), 0);
    tm_reader_close(rd);
}

/* Opens the writer and returns the notice for what it repaired (malloc'd,
 * "" when nothing), as capture prints it; rep (when set) gets the report. */
static tm_writer *open_reporting(const char *dir, const tm_writer_options *o, char **notice,
                                 tm_recovery *rep)
{
    tm_writer *w;
    tm_error err;
    tm_recovery local = {0};
    tm_writer_options wo = *o;
    wo.report = rep ? rep : &local;
    int rc = tm_writer_open(dir, &wo, &w, &err);
    ck_assert_msg(rc == 0, "writer open: %s", err.msg);
    char buf[1024];
    tm_recovery_describe(dir, wo.report, buf, sizeof buf);
    *notice = strdup(buf);
    return w;
}

static tm_writer *open_capturing(const char *dir, const tm_writer_options *o, char **notice)
{
    return open_reporting(dir, o, notice, NULL);
}

static uint64_t lsn_of_tx(const tmt_stream *s, long tx)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].tx == tx)
            return s->v[i].lsn;
    return 0;
}

/* Truncates segment segno at every offset in [from, to) and checks the
 * recovery each time. keep_tx: the last transaction expected to survive. */
static void torn_sweep(const char *dir, const tmt_stream *s, uint64_t segno, uint64_t from,
                       uint64_t to, uint64_t step, long keep_tx, uint64_t clean_at, size_t preamble)
{
    char *path = tmt_seg_path(dir, segno);
    size_t len;
    unsigned char *orig = tmt_slurp(path, &len);
    tm_writer_options o = {0};
    size_t prefix = keep_tx >= 0 ? tmt_tx_end_index(s, keep_tx) : 0;
    uint64_t marker = s->next_lsn + 1000;
    for (uint64_t off = from; off < to; off += step) {
        tmt_spit(path, orig, off);
        char *notice;
        tm_writer *w = open_capturing(dir, &o, &notice);
        if (off == clean_at) {
            ck_assert_msg(notice[0] == '\0', "notice for a clean cut: %s", notice);
        } else if (off < TM_SEG_HDR_SIZE) {
            ck_assert_msg(strstr(notice, "header was torn"), "truncated at %" PRIu64 ": '%s'", off,
                          notice);
        } else {
            char want[128], seg[TM_SEG_NAME_LEN];
            snprintf(want, sizeof want, "cut %" PRIu64 " bytes at offset %" PRIu64,
                     off - (off < TM_SEG_HDR_SIZE ? 0 : clean_at),
                     off < TM_SEG_HDR_SIZE ? 0 : clean_at);
            ck_assert_msg(strstr(notice, want) && strstr(notice, tm_seg_name(segno, seg)),
                          "truncated at %" PRIu64 ": notice '%s' lacks '%s'", off, notice, want);
        }
        free(notice);
        ck_assert_uint_eq(tm_writer_last_commit_lsn(w), keep_tx >= 0 ? lsn_of_tx(s, keep_tx) : 0);
        append_marker(w, marker);
        tm_error err;
        ck_assert(tm_writer_close(w, &err) == 0);
        check_prefix_and_marker(dir, s, prefix, marker);
        if (preamble) {
            uint32_t oids[8];
            ck_assert_uint_eq(tmt_preamble_oids(dir, segno, oids, 8), preamble);
        }
        ck_assert_msg(tm_verify(dir, NULL, NULL, &err) == 0, "verify after cut at %" PRIu64, off);
    }
    free(orig);
    free(path);
}

START_TEST(torn_tail_every_offset)
{
    tmt_gen g;
    tmt_gen_open(&g, 31, &(tm_writer_options){0});
    tm_error err;
    for (int i = 0; i < 25; i++) {
        if (i % 5 == 0)
            tmt_put_standalone(g.w, &g.s, &g.r);
        tmt_put_tx(g.w, &g.s, &g.r, 1 + (unsigned)tmt_below(&g.r, 6), 90);
        ck_assert(tm_writer_sync(g.w, &err) == 0); /* one frame per transaction */
    }
    tmt_gen_close(&g);
    tm_seg_scan sc = tmt_scan_segment(g.dir, 1);
    tm_frame_entry last = sc.frames.v[sc.frames.n - 1];
    tm_seg_scan_free(&sc);
    torn_sweep(g.dir, &g.s, 1, last.offset, tm_frame_end(&last), 1, g.s.ntx - 2, last.offset, 0);
    tmt_gen_free(&g);
}
END_TEST

/* The last transaction spans several frames: a tear in any of them takes
 * the whole transaction away. */
START_TEST(torn_tail_transaction_spanning_frames)
{
    tmt_gen g;
    tmt_gen_open(&g, 32, &(tm_writer_options){.frame_target = 1024});
    tm_error err;
    for (int i = 0; i < 5; i++)
        tmt_put_tx(g.w, &g.s, &g.r, 3, 50);
    ck_assert(tm_writer_sync(g.w, &err) == 0);
    tm_seg_scan sc = tmt_scan_segment(g.dir, 1);
    uint64_t before = sc.good_end;
    tm_seg_scan_free(&sc);
    tmt_put_tx(g.w, &g.s, &g.r, 40, 100);
    tmt_gen_close(&g);
    sc = tmt_scan_segment(g.dir, 1);
    ck_assert_uint_gt(sc.frames.n, 3);
    ck_assert_uint_eq(sc.safe_end, sc.good_end);
    uint64_t end = sc.good_end;
    tm_seg_scan_free(&sc);
    /* every 3rd offset keeps the run short; the tear can hit any frame */
    torn_sweep(g.dir, &g.s, 1, before, end, 3, g.s.ntx - 2, before, 0);
    tmt_gen_free(&g);
}
END_TEST

/* A segment created just before the crash: torn header, torn preamble or
 * torn first transaction. */
START_TEST(torn_fresh_segment)
{
    tmt_gen g;
    tmt_gen_open(&g, 33, &(tm_writer_options){.segment_size = 8192});
    tm_error err;
    for (unsigned i = 0; i < 3; i++)
        tmt_put_relation(g.w, &g.s, &g.r, i);
    char *p = tmt_seg_path(g.dir, 2);
    while (access(p, F_OK) != 0) {
        tmt_put_tx(g.w, &g.s, &g.r, 4, 120);
        ck_assert(tm_writer_sync(g.w, &err) == 0);
    }
    tmt_gen_close(&g);
    struct stat st;
    ck_assert(stat(p, &st) == 0);
    free(p);
    /* segment 2 = header + preamble and the one transaction */
    torn_sweep(g.dir, &g.s, 2, 0, (uint64_t)st.st_size, 1, g.s.ntx - 2, TM_SEG_HDR_SIZE, 3);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(garbage_after_last_frame)
{
    tmt_gen g;
    tmt_gen_open(&g, 34, &(tm_writer_options){0});
    tm_error err;
    for (int i = 0; i < 10; i++)
        tmt_put_tx(g.w, &g.s, &g.r, 5, 100);
    tmt_gen_close(&g);
    char *path = tmt_seg_path(g.dir, 1);
    size_t len;
    unsigned char *orig = tmt_slurp(path, &len);
    size_t sizes[] = {1, 7, 71, 72, 73, 500, 4096, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int zero = 0; zero < 2; zero++) {
            unsigned char *b = malloc(len + sizes[k]);
            memcpy(b, orig, len);
            for (size_t i = 0; i < sizes[k]; i++)
                b[len + i] = zero ? 0 : (unsigned char)tmt_rand(&g.r);
            if (!zero && sizes[k] >= 4)
                memcpy(b + len, "TMFR", 4); /* looks like a frame header */
            tmt_spit(path, b, len + sizes[k]);
            free(b);
            ck_assert_int_eq(tm_verify(g.dir, NULL, NULL, &err), 1); /* a torn tail is damage */
            char *notice;
            tm_writer_options loud = {0};
            g.w = open_capturing(g.dir, &loud, &notice);
            char want[64];
            snprintf(want, sizeof want, "cut %zu bytes at offset %zu", sizes[k], len);
            ck_assert_msg(strstr(notice, want), "'%s' lacks '%s'", notice, want);
            free(notice);
            ck_assert_uint_eq(tm_writer_last_commit_lsn(g.w), g.s.next_lsn);
            tmt_gen_close(&g);
            tmt_read_all(g.dir, &g.s, NULL);
            ck_assert_int_eq(tm_verify(g.dir, NULL, NULL, &err), 0);
        }
    }
    free(orig);
    free(path);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(unfinished_transaction_at_tail)
{
    tm_writer_options o = {.frame_target = 512};
    tmt_gen g;
    tmt_gen_open(&g, 35, &o);
    tm_error err;
    for (int i = 0; i < 6; i++)
        tmt_put_tx(g.w, &g.s, &g.r, 4, 60);
    /* a transaction whose frames reach the disk, but never its end */
    unsigned char junk[200] = {0};
    tmt_put_unfinished(g.w, g.s.next_lsn + 10, 100, 20, junk, sizeof junk);
    ck_assert(tm_writer_sync(g.w, &err) == 0);
    ck_assert_uint_eq(tm_writer_durable_commit_lsn(g.w), g.s.next_lsn);
    tmt_gen_close(&g);
    /* Readers stop before it; verify notes it without calling it damage. */
    tmt_read_all(g.dir, &g.s, NULL);
    char *out;
    int vrc = tmt_run(&out, "verify", "--journal", g.dir, NULL);
    ck_assert_msg(vrc == 0 && strstr(out, "unfinished transaction"), "%s", out);
    free(out);
    char *notice;
    g.w = open_capturing(g.dir, &o, &notice);
    ck_assert_msg(strstr(notice, "unfinished transaction"), "%s", notice);
    free(notice);
    ck_assert_uint_eq(tm_writer_last_commit_lsn(g.w), g.s.next_lsn);
    append_marker(g.w, g.s.next_lsn + 20);
    tmt_gen_close(&g);
    check_prefix_and_marker(g.dir, &g.s, g.s.n, g.s.next_lsn + 20);
    ck_assert_int_eq(tm_verify(g.dir, NULL, NULL, &err), 0);
    tmt_gen_free(&g);
}
END_TEST

/* err is damage (TM_ERR_CORRUPT) whose context is the segment file and
 * the offset of the damaged frame. */
static void check_corrupt(const tm_error *err, const char *seg_path, uint64_t frame_off)
{
    ck_assert_msg(tm_error_is(err, TM_ERR_CORRUPT), "code %s: %s", tm_errcode_name(err->code),
                  err->msg);
    ck_assert_str_eq(err->file, seg_path);
    ck_assert(err->has_offset);
    ck_assert_uint_eq(err->offset, frame_off);
}

/* Flips one bit at byte `at` of segment 1 and checks that reader, writer
 * and verify all report segment 1 at frame offset `frame_off`, and that the
 * writer cut nothing. */
static void check_flip(const char *dir, const tmt_stream *s, uint64_t segno, uint64_t at,
                       uint64_t frame_off, bool writer_sees)
{
    char *path = tmt_seg_path(dir, segno);
    size_t len;
    unsigned char *orig = tmt_slurp(path, &len);
    orig[at] ^= 0x04;
    tmt_spit(path, orig, len);
    char seg[TM_SEG_NAME_LEN], where[64];
    tm_seg_name(segno, seg);
    snprintf(where, sizeof where, "offset %" PRIu64, frame_off);

    tm_reader *rd;
    tm_error err;
    ck_assert(tm_reader_open(dir, &rd, &err) == 0);
    const Tidemark__Record *rec;
    int rc;
    size_t n = 0;
    while ((rc = tm_reader_next(rd, &rec, &err)) == 1)
        n++;
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err.msg, seg) && strstr(err.msg, where), "reader: %s", err.msg);
    check_corrupt(&err, path, frame_off);
    ck_assert_uint_gt(n, 0); /* what comes before the damage was delivered */
    ck_assert_uint_lt(n, s->n);
    ck_assert_int_eq(tm_reader_next(rd, &rec, &err), -1); /* and it stays failed */
    tm_reader_close(rd);

    tm_writer *w;
    tm_writer_options o = {0};
    rc = tm_writer_open(dir, &o, &w, &err);
    if (writer_sees) {
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err.msg, seg) && strstr(err.msg, where), "writer: %s", err.msg);
        check_corrupt(&err, path, frame_off);
    } else {
        ck_assert(rc == 0);
        ck_assert(tm_writer_close(w, &err) == 0);
    }
    size_t len2;
    unsigned char *now = tmt_slurp(path, &len2);
    ck_assert_uint_eq(len2, len); /* nothing was cut */
    ck_assert(memcmp(now, orig, len) == 0);
    free(now);

    char *out, line[128];
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 1);
    snprintf(line, sizeof line, "%s  BAD at %s", seg, where);
    ck_assert_msg(strstr(out, line), "verify output lacks '%s':\n%s", line, out);
    free(out);

    orig[at] ^= 0x04; /* repair */
    tmt_spit(path, orig, len);
    free(orig);
    free(path);
}

START_TEST(flipped_bit_in_middle_frame)
{
    tmt_gen g;
    tmt_gen_open(&g, 36, &(tm_writer_options){.segment_size = 16384});
    tm_error err;
    for (int i = 0; i < 60; i++) {
        tmt_put_tx(g.w, &g.s, &g.r, 3, 100);
        ck_assert(tm_writer_sync(g.w, &err) == 0);
    }
    tmt_gen_close(&g);
    uint64_t nseg = tmt_count_segments(g.dir);
    ck_assert_uint_ge(nseg, 3);
    /* last (open) segment: the writer scans it too */
    tm_seg_scan sc = tmt_scan_segment(g.dir, nseg);
    ck_assert_uint_ge(sc.frames.n, 4);
    tm_frame_entry mid = sc.frames.v[sc.frames.n / 2];
    tm_seg_scan_free(&sc);
    for (uint64_t k = 0; k < TM_FRAME_HDR_SIZE; k += 5) /* header bits */
        check_flip(g.dir, &g.s, nseg, mid.offset + k, mid.offset, true);
    for (uint64_t k = 0; k < mid.h.clen; k += 1 + mid.h.clen / 7) /* payload bits */
        check_flip(g.dir, &g.s, nseg, mid.offset + TM_FRAME_HDR_SIZE + k, mid.offset, true);
    /* a sealed segment: reader and verify see it (through its index), the
     * writer does not read it */
    sc = tmt_scan_segment(g.dir, 2);
    mid = sc.frames.v[sc.frames.n / 2];
    tm_seg_scan_free(&sc);
    check_flip(g.dir, &g.s, 2, mid.offset + 20, mid.offset, false);
    check_flip(g.dir, &g.s, 2, mid.offset + TM_FRAME_HDR_SIZE + 3, mid.offset, false);
    ck_assert_int_eq(tm_verify(g.dir, NULL, NULL, &err), 0); /* all repaired */
    tmt_gen_free(&g);
}
END_TEST

/* A segment that is not the last and ends inside a transaction (its tail
 * lost, a later segment present) is damage for the reader and verify. */
START_TEST(segment_ending_inside_transaction)
{
    /* a: segment 1 ends with the first frames of an unfinished transaction */
    tm_writer_options o = {.frame_target = 512};
    tmt_gen ga;
    tmt_gen_open(&ga, 37, &o);
    tmt_put_tx(ga.w, &ga.s, &ga.r, 3, 50);
    unsigned char junk[300] = {1};
    tmt_put_unfinished(ga.w, ga.s.next_lsn + 1, 50, 10, junk, sizeof junk);
    tmt_gen_close(&ga);
    /* b: a journal of two segments; its segment 2 follows a's segment 1 */
    tm_writer_options o2 = {.segment_size = 2048};
    tmt_gen gb;
    tmt_gen_open(&gb, 37, &o2);
    gb.r = ga.r; /* the generator goes on where a's left off */
    for (int i = 0; i < 10; i++)
        tmt_put_tx(gb.w, &gb.s, &gb.r, 3, 100);
    tmt_gen_close(&gb);
    const char *a = ga.dir;
    char *from = tmt_seg_path(gb.dir, 2), *to = tmt_seg_path(a, 2);
    size_t len;
    unsigned char *seg = tmt_slurp(from, &len);
    tmt_spit(to, seg, len);
    free(seg);

    tm_reader *rd;
    tm_error err;
    ck_assert(tm_reader_open(a, &rd, &err) == 0);
    const Tidemark__Record *got;
    int rc;
    while ((rc = tm_reader_next(rd, &got, &err)) == 1)
        ;
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err.msg, "0000000000000001.seg") &&
                      strstr(err.msg, "ends inside a transaction"),
                  "%s", err.msg);
    tm_reader_close(rd);
    char *out;
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", a, NULL), 1);
    ck_assert_msg(strstr(out, "0000000000000001.seg  BAD at offset") &&
                      strstr(out, "segment ends inside a transaction"),
                  "%s", out);
    free(out);
    free(from);
    free(to);
    tmt_gen_free(&ga);
    tmt_gen_free(&gb);
}
END_TEST

int main(void)
{
    return tm_check_main("store_recovery", "core", 240,
                         TM_TESTS(torn_tail_every_offset, torn_tail_transaction_spanning_frames,
                                  torn_fresh_segment, garbage_after_last_frame,
                                  unfinished_transaction_at_tail, flipped_bit_in_middle_frame,
                                  segment_ending_inside_transaction));
}
