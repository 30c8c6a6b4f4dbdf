/* The durable confirmed mark (DIR/confirmed.mark): a new journal gets one,
 * confirming moves it and never back, what lies above it is cut at open
 * however sound it looks, damage at or below it (a flipped bit in any byte
 * of the last confirmed frame, a segment shorter than it) refuses the open
 * with TM_ERR_CORRUPT naming segment and offset, a torn copy of the mark
 * falls back to the other copy, a journal without a mark opens as before
 * and is adopted, and the mark follows segment rollover. */
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "store/journal/mark.h"
#include "store/journal/segment.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

static const int64_t T0 = INT64_C(1767225600000000);

static tm_writer *open_w(const char *dir, const tm_writer_options *o, tm_recovery *rep)
{
    tm_writer *w;
    tm_error err;
    tm_writer_options wo = *o;
    wo.report = rep;
    ck_assert_msg(tm_writer_open(dir, &wo, &w, &err) == 0, "writer open: %s", err.msg);
    return w;
}

/* Opening must fail with TM_ERR_CORRUPT naming seg (and offset off). */
static void open_refused(const char *dir, uint64_t seg, uint64_t off, const char *says)
{
    tm_writer *w;
    tm_error err;
    tm_writer_options o = {.keep_mark = true};
    ck_assert_msg(tm_writer_open(dir, &o, &w, &err) != 0, "opened a damaged journal");
    ck_assert_msg(tm_error_is(&err, TM_ERR_CORRUPT), "code %d: %s", err.code, err.msg);
    char *p = tmt_seg_path(dir, seg);
    ck_assert_str_eq(err.file, p);
    free(p);
    ck_assert_msg(err.has_offset && err.offset == off,
                  "offset %" PRIu64 " (expected %" PRIu64 "): %s", err.offset, off, err.msg);
    ck_assert_msg(strstr(err.msg, says), "%s", err.msg);
}

/* Reading the journal must end in TM_ERR_CORRUPT naming seg and an offset
 * in [lo, hi], not stop quietly before the damage as before a torn tail. */
static void reader_refuses(const char *dir, uint64_t seg, uint64_t lo, uint64_t hi)
{
    tm_reader *rd;
    tm_error err;
    ck_assert_msg(tm_reader_open(dir, &rd, &err) == 0, "%s", err.msg);
    const Tidemark__Record *rec;
    int rc;
    while ((rc = tm_reader_next(rd, &rec, &err)) == 1)
        ;
    tm_reader_close(rd);
    ck_assert_msg(rc < 0, "the reader stopped quietly before damage below the mark");
    ck_assert_msg(tm_error_is(&err, TM_ERR_CORRUPT), "%s", err.msg);
    char *p = tmt_seg_path(dir, seg);
    ck_assert_str_eq(err.file, p);
    free(p);
    ck_assert_msg(err.offset >= lo && err.offset <= hi, "offset %" PRIu64 ": %s", err.offset,
                  err.msg);
}

static tm_mark read_mark(const char *dir)
{
    tm_mark m;
    tm_error err;
    ck_assert_msg(tm_mark_read(dir, &m, &err) == 1, "no mark: %s", err.msg);
    return m;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    ck_assert(stat(path, &st) == 0);
    return (uint64_t)st.st_size;
}

/* The reader delivers exactly s->v[0..upto). */
static void check_holds(const char *dir, const tmt_stream *s, size_t upto)
{
    tm_reader *rd;
    tm_error err;
    ck_assert_msg(tm_reader_open(dir, &rd, &err) == 0, "%s", err.msg);
    tmt_check_read(rd, s, 0, upto);
    tm_reader_close(rd);
}

static tm_writer *open_marked(const char *dir, tm_recovery *rep)
{
    tm_writer_options o = {.keep_mark = true};
    return open_w(dir, &o, rep);
}

static void close_w(tm_writer *w)
{
    tm_error err;
    ck_assert_msg(tm_writer_close(w, &err) == 0, "%s", err.msg);
}

/* Syncs and confirms everything written. */
static void sync_confirm(tm_writer *w)
{
    tm_error err;
    ck_assert_msg(tm_writer_sync(w, &err) == 0, "%s", err.msg);
    ck_assert_msg(tm_writer_confirm(w, tm_writer_durable_end_lsn(w), &err) == 0, "%s", err.msg);
}

/* Each test's journal: a temp dir, a seeded generator and what was written. */
typedef struct mark_fx {
    char *dir;
    tmt_rng r;
    tmt_stream s;
} mark_fx;

static void fx_init(mark_fx *f, uint64_t seed)
{
    f->dir = tmt_tempdir();
    f->r.s = seed;
    tmt_stream_init(&f->s, T0);
}

static void fx_free(mark_fx *f)
{
    tmt_stream_free(&f->s);
    tmt_rmtree(f->dir);
    free(f->dir);
}

/* n transactions, each synced and confirmed; returns the writer. */
static tm_writer *confirmed_journal(mark_fx *f, int n)
{
    tm_writer *w = open_marked(f->dir, NULL);
    for (int i = 0; i < n; i++) {
        tmt_put_tx(w, &f->s, &f->r, 1 + (unsigned)tmt_below(&f->r, 5), 80);
        sync_confirm(w);
    }
    return w;
}

/* The same, closed. */
static void confirmed_closed(mark_fx *f, int n)
{
    close_w(confirmed_journal(f, n));
}

START_TEST(new_journal_and_confirm)
{
    mark_fx f;
    fx_init(&f, 51);
    tm_writer *w = confirmed_journal(&f, 0);
    tm_mark m = read_mark(f.dir);
    ck_assert_uint_eq(m.segment, 1);
    ck_assert_uint_eq(m.offset, TM_SEG_HDR_SIZE);
    ck_assert_uint_eq(m.lsn, 0);
    ck_assert(!m.adopted);
    tm_error err;
    tmt_put_tx(w, &f.s, &f.r, 3, 50);
    ck_assert(tm_writer_sync(w, &err) == 0);
    uint64_t end = tm_writer_durable_end_lsn(w);
    ck_assert(tm_writer_confirm(w, end, &err) == 0);
    m = read_mark(f.dir);
    char *seg = tmt_seg_path(f.dir, 1);
    ck_assert_uint_eq(m.offset, file_size(seg));
    ck_assert_uint_eq(m.lsn, end);
    ck_assert_uint_eq(tm_writer_confirmed_lsn(w), end);
    /* Unchanged: nothing is written. Lower: the mark keeps the higher. */
    uint64_t seq = m.seq;
    ck_assert(tm_writer_confirm(w, end, &err) == 0);
    ck_assert(tm_writer_confirm(w, end - 1, &err) == 0);
    ck_assert_uint_eq(read_mark(f.dir).seq, seq);
    /* A keepalive position beyond the last commit. */
    ck_assert(tm_writer_confirm(w, end + 1000, &err) == 0);
    m = read_mark(f.dir);
    ck_assert_uint_eq(m.lsn, end + 1000);
    ck_assert_uint_eq(m.seq, seq + 1);
    close_w(w);
    /* Reopened: nothing to cut, the mark is read back. */
    tm_recovery rep;
    w = open_marked(f.dir, &rep);
    ck_assert(!rep.repaired);
    ck_assert_uint_eq(tm_writer_confirmed_lsn(w), end + 1000);
    close_w(w);
    check_holds(f.dir, &f.s, f.s.n);
    free(seg);
    fx_free(&f);
}
END_TEST

/* A sound transaction fsynced but never confirmed is cut at open, and so
 * is one only written (the page cache cannot be trusted after a failure). */
START_TEST(above_mark_is_cut)
{
    mark_fx f;
    fx_init(&f, 52);
    tm_writer *w = confirmed_journal(&f, 6);
    size_t kept = f.s.n;
    uint64_t kept_commit = tm_writer_last_commit_lsn(w);
    tm_mark m = read_mark(f.dir);
    tm_error err;
    tmt_put_tx(w, &f.s, &f.r, 4, 80);
    ck_assert(tm_writer_sync(w, &err) == 0);
    tmt_put_tx(w, &f.s, &f.r, 4, 80);
    close_w(w); /* syncs, confirms nothing */
    char *seg = tmt_seg_path(f.dir, 1);
    uint64_t size = file_size(seg);
    ck_assert_uint_gt(size, m.offset);

    tm_recovery rep;
    w = open_marked(f.dir, &rep);
    ck_assert(rep.repaired && rep.above_mark && !rep.torn_write);
    ck_assert_uint_eq(rep.offset, m.offset);
    ck_assert_uint_eq(rep.bytes_cut, size - m.offset);
    char note[1024];
    tm_recovery_describe(f.dir, &rep, note, sizeof note);
    ck_assert_msg(strstr(note, "written after the last confirmed position; the server sends it "
                               "again") &&
                      strstr(note, "everything before it is intact"),
                  "%s", note);
    ck_assert_uint_eq(tm_writer_last_commit_lsn(w), kept_commit);
    close_w(w);
    ck_assert_uint_eq(file_size(seg), m.offset);
    check_holds(f.dir, &f.s, kept);
    free(seg);
    fx_free(&f);
}
END_TEST

/* Garbage after the mark is cut as a torn write above the mark. */
START_TEST(garbage_above_mark)
{
    mark_fx f;
    fx_init(&f, 53);
    confirmed_closed(&f, 4);
    char *seg = tmt_seg_path(f.dir, 1);
    int fd = open(seg, O_WRONLY | O_APPEND);
    ck_assert(fd >= 0);
    ck_assert_int_eq(write(fd, "TMFRtorn", 8), 8);
    close(fd);
    tm_recovery rep;
    tm_writer *w = open_marked(f.dir, &rep);
    char note[1024];
    tm_recovery_describe(f.dir, &rep, note, sizeof note);
    ck_assert_msg(rep.torn_write && rep.above_mark && strstr(note, "cut 8 bytes at offset") &&
                      strstr(note, "above the durable mark"),
                  "%s", note);
    close_w(w);
    check_holds(f.dir, &f.s, f.s.n);
    free(seg);
    fx_free(&f);
}
END_TEST

/* Every byte of the last frame, which is confirmed, flipped in turn: the
 * open is refused naming the frame, and the file is left as it was. A
 * journal without a mark cuts the same damage as a torn tail (why the mark
 * exists). */
START_TEST(bit_rot_below_mark_refused)
{
    mark_fx f;
    fx_init(&f, 54);
    confirmed_closed(&f, 5);
    tm_error err;
    char *seg = tmt_seg_path(f.dir, 1);
    int fd = open(seg, O_RDONLY);
    tm_seg_scan sc;
    ck_assert(tm_segment_scan(fd, 1, true, &sc, &err) == 0);
    close(fd);
    tm_frame_entry last = sc.frames.v[sc.frames.n - 1];
    tm_seg_scan_free(&sc);
    ck_assert_uint_eq(tm_frame_end(&last), read_mark(f.dir).offset);
    size_t len;
    unsigned char *orig = tmt_slurp(seg, &len);
    for (uint64_t off = last.offset; off < tm_frame_end(&last); off++) {
        unsigned char *bad = malloc(len);
        memcpy(bad, orig, len);
        bad[off] ^= 0x10;
        tmt_spit(seg, bad, len);
        open_refused(f.dir, 1, last.offset, "below the durable mark");
        reader_refuses(f.dir, 1, last.offset, last.offset);
        size_t now;
        unsigned char *after = tmt_slurp(seg, &now);
        ck_assert_msg(now == len && memcmp(after, bad, len) == 0, "the open changed the segment");
        free(after);
        free(bad);
    }
    /* The same damage without the mark: cut as a torn tail. */
    unsigned char *bad = malloc(len);
    memcpy(bad, orig, len);
    bad[last.offset + TM_FRAME_HDR_SIZE] ^= 0x10;
    tmt_spit(seg, bad, len);
    char *mark = tmt_path(f.dir, TM_MARK_FILE);
    ck_assert(unlink(mark) == 0);
    tm_recovery rep;
    tm_writer_options plain = {0};
    tm_writer *w = open_w(f.dir, &plain, &rep);
    ck_assert(rep.repaired && rep.torn_write && !rep.above_mark);
    close_w(w);
    free(mark);
    free(bad);
    free(orig);
    free(seg);
    fx_free(&f);
}
END_TEST

START_TEST(segment_shorter_than_mark)
{
    mark_fx f;
    fx_init(&f, 55);
    confirmed_closed(&f, 5);
    tm_mark m = read_mark(f.dir);
    char *seg = tmt_seg_path(f.dir, 1);
    ck_assert(truncate(seg, (off_t)m.offset - 1) == 0);
    open_refused(f.dir, 1, m.offset - 1, "the durable mark says");
    reader_refuses(f.dir, 1, TM_SEG_HDR_SIZE, m.offset - 1);
    /* cut at a frame boundary below the mark: refused all the same */
    ck_assert(truncate(seg, TM_SEG_HDR_SIZE) == 0);
    open_refused(f.dir, 1, TM_SEG_HDR_SIZE, "the durable mark says");
    free(seg);
    fx_free(&f);
}
END_TEST

/* A torn write of the newest copy: the other copy, one mark older, counts,
 * and what it does not cover is cut. Both copies bad: refused. */
START_TEST(torn_mark_copy)
{
    mark_fx f;
    fx_init(&f, 56);
    tm_writer *w = confirmed_journal(&f, 3);
    size_t older = f.s.n;
    tm_mark before = read_mark(f.dir);
    tm_error err;
    tmt_put_tx(w, &f.s, &f.r, 2, 60);
    sync_confirm(w);
    close_w(w);
    tm_mark newest = read_mark(f.dir);
    ck_assert_uint_eq(newest.seq, before.seq + 1);
    char *mark = tmt_path(f.dir, TM_MARK_FILE);
    size_t len;
    unsigned char *m = tmt_slurp(mark, &len);
    ck_assert_uint_eq(len, TM_MARK_FILE_SIZE);
    m[(newest.seq & 1) * TM_MARK_SLOT_STRIDE + 30] ^= 1;
    tmt_spit(mark, m, len);
    tm_mark back = read_mark(f.dir);
    ck_assert_uint_eq(back.seq, before.seq);
    ck_assert_uint_eq(back.offset, before.offset);
    tm_recovery rep;
    w = open_marked(f.dir, &rep);
    ck_assert(rep.repaired && rep.above_mark);
    close_w(w);
    check_holds(f.dir, &f.s, older);

    m[(before.seq & 1) * TM_MARK_SLOT_STRIDE + 10] ^= 1;
    tmt_spit(mark, m, len);
    tm_mark none;
    ck_assert_int_eq(tm_mark_read(f.dir, &none, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_CORRUPT));
    ck_assert_str_eq(err.file, mark);
    tm_writer_options o = {.keep_mark = true};
    ck_assert(tm_writer_open(f.dir, &o, &w, &err) != 0);
    ck_assert_msg(strstr(err.msg, "confirmed.mark is damaged"), "%s", err.msg);
    free(m);
    free(mark);
    fx_free(&f);
}
END_TEST

/* A journal written without a mark opens as before and gets one at the end
 * of its last transaction, flagged adopted until the first confirmation. */
START_TEST(old_journal_adopted)
{
    mark_fx f;
    fx_init(&f, 57);
    tm_writer_options plain = {0};
    tm_writer *w = open_w(f.dir, &plain, NULL);
    tm_error err;
    for (int i = 0; i < 4; i++)
        tmt_put_tx(w, &f.s, &f.r, 3, 60);
    uint64_t end = 0;
    ck_assert(tm_writer_sync(w, &err) == 0);
    end = tm_writer_durable_end_lsn(w);
    ck_assert(tm_writer_confirm(w, end, &err) != 0); /* keeps no mark */
    close_w(w);
    char *mark = tmt_path(f.dir, TM_MARK_FILE);
    ck_assert(access(mark, F_OK) != 0);
    close_w(open_w(f.dir, &plain, NULL)); /* still none without keep_mark */
    ck_assert(access(mark, F_OK) != 0);

    w = open_marked(f.dir, NULL);
    tm_mark m = read_mark(f.dir);
    char *seg = tmt_seg_path(f.dir, 1);
    ck_assert(m.adopted);
    ck_assert_uint_eq(m.lsn, end);
    ck_assert_uint_eq(m.segment, 1);
    ck_assert_uint_eq(m.offset, file_size(seg));
    ck_assert(tm_writer_confirm(w, end, &err) == 0);
    ck_assert(!read_mark(f.dir).adopted);
    close_w(w);
    /* From now on the mark counts, also for a writer that does not ask. */
    w = open_w(f.dir, &plain, NULL);
    tmt_put_tx(w, &f.s, &f.r, 3, 60);
    close_w(w);
    tm_recovery rep;
    w = open_w(f.dir, &plain, &rep);
    ck_assert(rep.repaired && rep.above_mark);
    close_w(w);
    free(seg);
    free(mark);
    fx_free(&f);
}
END_TEST

/* Small segments: the mark follows every rollover, so a crash leaves it at
 * most one segment behind; reopening without a confirmation since cuts the
 * unconfirmed rest, also a whole segment begun after the mark. */
START_TEST(rollover_moves_mark)
{
    mark_fx f;
    fx_init(&f, 58);
    tm_writer_options o = {.keep_mark = true, .segment_size = 4096};
    tm_writer *w = open_w(f.dir, &o, NULL);
    tm_error err;
    tmt_put_relation(w, &f.s, &f.r, 0);
    for (int i = 0; i < 6; i++)
        tmt_put_tx(w, &f.s, &f.r, 3, 60);
    sync_confirm(w);
    uint64_t confirmed = tm_writer_confirmed_lsn(w);
    /* unconfirmed: enough to roll over several times */
    for (int i = 0; i < 60; i++)
        tmt_put_tx(w, &f.s, &f.r, 3, 120);
    ck_assert(tm_writer_sync(w, &err) == 0);
    tm_mark m = read_mark(f.dir);
    ck_assert_uint_ge(m.segment, 3);
    ck_assert_uint_eq(m.lsn, confirmed); /* rollover moves the extent only */
    char *ms = tmt_seg_path(f.dir, m.segment);
    ck_assert_uint_eq(m.offset, file_size(ms));
    free(ms);
    uint64_t last = m.segment + 1;
    char *ls = tmt_seg_path(f.dir, last);
    ck_assert(access(ls, F_OK) == 0);
    ck_assert_uint_gt(file_size(ls), TM_SEG_HDR_SIZE);
    close_w(w);

    tm_recovery rep;
    w = open_w(f.dir, &o, &rep);
    ck_assert(rep.repaired && rep.above_mark);
    ck_assert_uint_eq(rep.segment, last);
    ck_assert_uint_eq(rep.offset, TM_SEG_HDR_SIZE);
    close_w(w);
    /* the segments up to the mark are kept whole */
    tm_reader *rd;
    ck_assert(tm_reader_open(f.dir, &rd, &err) == 0);
    tmt_got g = {0};
    tmt_collect(rd, &g);
    tm_reader_close(rd);
    size_t tx = 0;
    for (size_t i = 0; i < g.n; i++)
        tx += g.v[i].body == TIDEMARK__RECORD__BODY_BEGIN;
    ck_assert_uint_gt(tx, 6);
    ck_assert_uint_lt(tx, 66);
    tmt_got_free(&g);
    free(ls);
    fx_free(&f);
}
END_TEST

/* Marks that do not fit the segments are refused: not at a frame boundary,
 * in a segment that is missing, with the segments gone. */
START_TEST(mark_misfits_refused)
{
    mark_fx f;
    fx_init(&f, 59);
    confirmed_closed(&f, 4);
    tm_error err;
    tm_mark m = read_mark(f.dir), bad = m;
    int fd;
    ck_assert(tm_mark_open(f.dir, &fd, &err) == 0);
    bad.seq = m.seq + 1;
    bad.offset = m.offset - 3;
    ck_assert(tm_mark_store(fd, f.dir, &bad, &err) == 0);
    open_refused(f.dir, 1, m.offset - 3, "not at the end of a frame");
    bad.seq++;
    bad.segment = 4;
    bad.offset = m.offset;
    ck_assert(tm_mark_store(fd, f.dir, &bad, &err) == 0);
    open_refused(f.dir, 1, 0, "the durable mark lies in segment 0000000000000004");
    char *seg = tmt_seg_path(f.dir, 1);
    ck_assert(unlink(seg) == 0);
    tm_writer *w;
    tm_writer_options o = {.keep_mark = true};
    ck_assert(tm_writer_open(f.dir, &o, &w, &err) != 0);
    ck_assert(tm_error_is(&err, TM_ERR_CORRUPT));
    ck_assert_msg(strstr(err.msg, "has no segments"), "%s", err.msg);
    close(fd);
    free(seg);
    fx_free(&f);
}
END_TEST

int main(void)
{
    return tm_check_main("store_mark", "core", 240,
                         TM_TESTS(new_journal_and_confirm, above_mark_is_cut, garbage_above_mark,
                                  bit_rot_below_mark_refused, segment_shorter_than_mark,
                                  torn_mark_copy, old_journal_adopted, rollover_moves_mark,
                                  mark_misfits_refused));
}
