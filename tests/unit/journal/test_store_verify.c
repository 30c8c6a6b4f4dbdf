/* tidemark verify, run as the real binary: exit codes 0 (sound), 1 (damage,
 * unreadable or not a journal) and 2 (usage), its lines for segments and
 * indexes (an index has a line of its own, and its damage is its own) and
 * its totals line, --quiet and --help; and tm_verify's totals.
 * tests/unit/verify/ covers the other kinds of files. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "store/common/lsn.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

static const int64_t T0 = INT64_C(1767225600000000);

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static char *make_journal(tmt_stream *s, int ntx)
{
    char *dir = tmt_tempdir();
    tmt_rng r = {41};
    tmt_stream_init(s, T0);
    tm_writer_options o = {.segment_size = 16384};
    tm_writer *w;
    tm_error err;
    ck_assert(tm_writer_open(dir, &o, &w, &err) == 0);
    for (int i = 0; i < ntx; i++)
        tmt_put_tx(w, s, &r, 4, 100);
    ck_assert(tm_writer_close(w, &err) == 0);
    return dir;
}

/* Usage errors exit 2; a journal that cannot be read is a failure, 1. */
START_TEST(usage_errors)
{
    char *out;
    ck_assert_int_eq(tmt_run(&out, "verify", NULL), 2);
    ck_assert_msg(strstr(out, "--journal"), "%s", out);
    free(out);
    ck_assert_int_eq(tmt_run(&out, "verify", "--bogus", NULL), 2);
    free(out);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", "/tmp", "extra", NULL), 2);
    free(out);
    ck_assert_int_eq(tmt_run(&out, "verify", "--help", NULL), 0);
    ck_assert_msg(strstr(out, "Usage: tidemark verify --journal DIR"), "%s", out);
    free(out);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", "/nonexistent/journal", NULL), 1);
    ck_assert_msg(strstr(out, "/nonexistent/journal"), "%s", out);
    free(out);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", TM_BINARY, NULL), 1); /* a file */
    free(out);
    char *dir = tmt_tempdir();
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 1); /* empty dir */
    ck_assert_msg(strstr(out, "not a tidemark journal"), "%s", out);
    free(out);
    /* metadata and no segment yet: an empty journal, sound */
    tm_meta m = {.format_version = 1};
    tm_error err;
    ck_assert(tm_meta_write(dir, &m, &err) == 0);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 0);
    ck_assert_msg(strstr(out, "total  segments=0 bad=0"), "%s", out);
    free(out);
    tmt_tempdir_remove(dir);
}
END_TEST

START_TEST(sound_journal)
{
    tmt_stream s;
    char *dir = make_journal(&s, 120);
    tm_verify_totals t;
    tm_error err;
    ck_assert_int_eq(tm_verify(dir, NULL, &t, &err), 0);
    ck_assert_uint_eq(t.transactions, (uint64_t)s.ntx);
    ck_assert_uint_ge(t.records, s.n); /* plus the preamble repeats */
    ck_assert_uint_gt(t.segments, 3);
    ck_assert_uint_eq(t.bad_segments, 0);
    /* every segment but the open one is sealed; the open one has a live index */
    ck_assert_uint_eq(t.files, 2 * t.segments);
    ck_assert_uint_eq(t.checked, t.files);
    ck_assert_uint_eq(t.damaged, 0);
    ck_assert_uint_eq(t.unknown, 0);
    ck_assert_uint_eq(t.first_lsn, s.v[1].lsn);
    ck_assert_uint_eq(t.last_lsn, s.next_lsn);
    ck_assert_int_eq(t.first_time, s.v[1].time);
    ck_assert_int_eq(t.last_time, s.next_time);

    char *out;
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 0);
    ck_assert_int_eq(lines(out), (int)t.files + 1);
    char want[200], a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
    snprintf(want, sizeof want, "0000000000000001.seg  ok  frames=");
    ck_assert_msg(strstr(out, want), "%s", out);
    ck_assert_msg(strstr(out, " sealed\n") && strstr(out, " open\n"), "%s", out);
    ck_assert_msg(strstr(out, "\n0000000000000001.idx  ok  index of 0000000000000001.seg, frames="),
                  "%s", out);
    snprintf(want, sizeof want,
             "total  segments=%" PRIu64 " bad=0 frames=%" PRIu64 " records=%" PRIu64
             " tx=%d lsn %s..%s time 2026-01-01 ",
             t.segments, t.frames, t.records, (int)s.ntx, tm_lsn_format(t.first_lsn, a),
             tm_lsn_format(t.last_lsn, b));
    ck_assert_msg(strstr(out, want), "'%s' lacks '%s'", out, want);
    snprintf(want, sizeof want,
             " files=%" PRIu64 " checked=%" PRIu64 " damaged=0 unknown=0  sound\n", t.files,
             t.checked);
    ck_assert_msg(strstr(out, want), "'%s' lacks '%s'", out, want);
    free(out);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, "--quiet", NULL), 0);
    ck_assert_int_eq(lines(out), 1);
    free(out);
    tmt_stream_free(&s);
    tmt_tempdir_remove(dir);
}
END_TEST

START_TEST(damaged_journal)
{
    tmt_stream s;
    char *dir = make_journal(&s, 120);
    char *out;
    /* a flipped payload byte in segment 2 */
    char *p2 = tmt_seg_path(dir, 2);
    size_t len;
    unsigned char *b = tmt_slurp(p2, &len);
    b[200] ^= 1;
    tmt_spit(p2, b, len);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 1);
    ck_assert_msg(strstr(out, "0000000000000002.seg  BAD at offset 32: ") &&
                      strstr(out, "DAMAGED\n"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, "-q", NULL), 1);
    ck_assert_int_eq(lines(out), 2); /* the bad segment and the totals */
    free(out);
    b[200] ^= 1;
    tmt_spit(p2, b, len);
    free(b);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 0);
    free(out);
    /* a missing segment */
    char *moved;
    ck_assert(asprintf(&moved, "%s.away", p2) > 0);
    ck_assert(rename(p2, moved) == 0);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 1);
    ck_assert_msg(strstr(out, "0000000000000002.seg  BAD: missing"), "%s", out);
    free(out);
    ck_assert(rename(moved, p2) == 0);
    /* a damaged index is named on its own line, its segment stays sound */
    char *i3 = tmt_idx_path(dir, 3);
    unsigned char *ib = tmt_slurp(i3, &len);
    ib[40] ^= 0x10;
    tmt_spit(i3, ib, len);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 1);
    ck_assert_msg(
        strstr(out, "\n0000000000000003.idx  BAD: index checksum mismatch; readers find") &&
            strstr(out, "\n0000000000000003.seg  ok  ") && strstr(out, " damaged=1 "),
        "%s", out);
    free(out);
    ib[40] ^= 0x10;
    tmt_spit(i3, ib, len);
    free(ib);
    free(i3);
    /* a segment whose header names another segment */
    char *p3 = tmt_seg_path(dir, 3);
    unsigned char *seg2 = tmt_slurp(p2, &len);
    tmt_spit(p3, seg2, len);
    free(seg2);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 1);
    ck_assert_msg(strstr(out, "0000000000000003.seg  BAD at offset 0: segment header says segment "
                              "0000000000000002"),
                  "%s", out);
    free(out);
    /* a damaged journal.meta is damage too */
    char *meta = tmt_path(dir, "journal.meta");
    tmt_spit(meta, "garbage\n", 8);
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 1);
    ck_assert_msg(strstr(out, "journal.meta  BAD: "), "%s", out);
    free(out);
    free(meta);
    free(moved);
    free(p2);
    free(p3);
    tmt_stream_free(&s);
    tmt_tempdir_remove(dir);
}
END_TEST

int main(void)
{
    return tm_check_main("store_verify", "core", 0,
                         TM_TESTS(usage_errors, sound_journal, damaged_journal));
}
