/* Compaction (store/journal/compact.h) and the zstd codec of frames: a
 * compacted journal delivers the same records (also after seeks), verify
 * finds it sound and finds a damaged zstd frame; tidemark compact under
 * injected write, fsync, rename and create failures, and killed at random
 * moments, always leaves a journal that reads the same and verifies, and
 * running it again finishes the job. */
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/common/crc32c.h"
#include "store/common/fsutil.h"
#include "store/common/le.h"
#include "store/journal/compact.h"
#include "store/journal/frame.h"
#include "store/journal/journal.h"
#include "store/journal/segment.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

static const int64_t T0 = INT64_C(1767225600000000);

/* A journal of ntx transactions (and some standalone records) in small
 * segments, with metadata and, when mark, a durable mark. */
static char *make_journal(tmt_stream *s, int ntx, uint64_t seg_size, bool mark)
{
    char *dir = tmt_tempdir();
    tmt_rng r = {7};
    tmt_stream_init(s, T0);
    tm_meta m = {.format_version = 1};
    tm_error err;
    ck_assert(tm_meta_write(dir, &m, &err) == 0);
    tm_writer_options o = {.segment_size = seg_size, .frame_target = 2048, .keep_mark = mark};
    tm_writer *w;
    ck_assert(tm_writer_open(dir, &o, &w, &err) == 0);
    for (int i = 0; i < ntx; i++) {
        tmt_put_tx(w, s, &r, 1 + (unsigned)tmt_below(&r, 12), 120);
        if (i % 37 == 0)
            tmt_put_standalone(w, s, &r);
        if (i % 5 == 0)
            ck_assert(tm_writer_sync(w, &err) == 0); /* small frames, as capture makes */
    }
    ck_assert(tm_writer_sync(w, &err) == 0);
    if (mark)
        ck_assert(tm_writer_confirm(w, s->next_lsn, &err) == 0);
    ck_assert(tm_writer_close(w, &err) == 0);
    return dir;
}

static void check_reads(const char *dir, const tmt_stream *s)
{
    tm_reader *rd;
    tm_error err;
    ck_assert_msg(tm_reader_open(dir, &rd, &err) == 0, "%s", err.msg);
    tmt_check_read(rd, s, 0, s->n);
    tm_reader_close(rd);
}

static void check_sound(const char *dir)
{
    tm_verify_totals t;
    tm_error err;
    ck_assert_msg(tm_verify(dir, NULL, &t, &err) == 0, "verify: damaged %" PRIu64, t.damaged);
    ck_assert_uint_eq(t.damaged, 0);
    ck_assert_uint_eq(t.bad_segments, 0);
}

/* What readers deliver after seeks by LSN and by time, at 5 points. */
typedef struct seeks {
    tmt_got lsn[5], time[5];
} seeks;

static void collect_seeks(const char *dir, const tmt_stream *s, seeks *out)
{
    tm_reader *rd;
    tm_error err;
    for (int k = 0; k < 5; k++) {
        size_t at = s->n * (size_t)(k + 1) / 6;
        while (s->v[at].tx < 0)
            at++;
        ck_assert(tm_reader_open(dir, &rd, &err) == 0);
        ck_assert(tm_reader_seek_lsn(rd, s->v[at].lsn, &err) == 0);
        tmt_collect(rd, &out->lsn[k]);
        tm_reader_close(rd);
        ck_assert(tm_reader_open(dir, &rd, &err) == 0);
        ck_assert(tm_reader_seek_time(rd, s->v[at].time, &err) == 0);
        tmt_collect(rd, &out->time[k]);
        tm_reader_close(rd);
    }
}

/* Past the Relations a seek repeats first (its schema catch-up). */
static size_t after_catchup(const tmt_got *g)
{
    size_t i = 0;
    while (i < g->n && g->v[i].body == TIDEMARK__RECORD__BODY_RELATION)
        i++;
    return i;
}

static bool same_recs(const tmt_rec *a, const tmt_rec *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].len != b[i].len || memcmp(a[i].packed, b[i].packed, a[i].len) != 0)
            return false;
    return true;
}

/* LSN seeks deliver exactly what they did; time seeks are frame-granular
 * (larger frames may start earlier: readers compare each transaction's
 * time), so what they did is a suffix of what they deliver now. */
static void compare_seeks(seeks *was, seeks *now)
{
    for (int k = 0; k < 5; k++) {
        ck_assert_uint_eq(now->lsn[k].n, was->lsn[k].n);
        ck_assert_msg(same_recs(now->lsn[k].v, was->lsn[k].v, was->lsn[k].n), "lsn seek %d", k);
        size_t w0 = after_catchup(&was->time[k]), n0 = after_catchup(&now->time[k]);
        size_t wn = was->time[k].n - w0, nn = now->time[k].n - n0;
        ck_assert_uint_gt(wn, 0);
        ck_assert_uint_ge(nn, wn);
        ck_assert_msg(same_recs(now->time[k].v + n0 + (nn - wn), was->time[k].v + w0, wn),
                      "time seek %d", k);
        tmt_got_free(&was->lsn[k]);
        tmt_got_free(&was->time[k]);
        tmt_got_free(&now->lsn[k]);
        tmt_got_free(&now->time[k]);
    }
}

/* Frames of segment segno of each codec. */
static void count_codecs(const char *dir, uint64_t segno, size_t *lz4, size_t *zstd)
{
    char *p = tmt_seg_path(dir, segno);
    int fd = open(p, O_RDONLY);
    ck_assert(fd >= 0);
    tm_seg_scan sc;
    tm_error err;
    ck_assert(tm_segment_scan(fd, segno, true, &sc, &err) == 0);
    ck_assert_msg(!sc.damaged, "%s", sc.why);
    *lz4 = *zstd = 0;
    for (size_t i = 0; i < sc.frames.n; i++) {
        if (tm_frame_codec(&sc.frames.v[i].h) == TM_FRAME_CODEC_ZSTD)
            ++*zstd;
        else
            ++*lz4;
    }
    tm_seg_scan_free(&sc);
    close(fd);
    free(p);
}

static size_t nsegments(const char *dir)
{
    uint64_t *segs;
    size_t n;
    tm_error err;
    ck_assert(tm_segment_list(dir, &segs, &n, &err) == 0);
    free(segs);
    return n;
}

/* Every frame can be read back, LZ4 and zstd, and a zstd frame checks its
 * codec, header and bytes. */
START_TEST(codec_roundtrip)
{
    tm_error err;
    tm_zstd_enc *z = tm_zstd_enc_new(3, &err);
    ck_assert(z != NULL);
    ck_assert(tm_zstd_enc_new(0, &err) == NULL);
    ck_assert(tm_zstd_enc_new(TM_ZSTD_LEVEL_MAX + 1, &err) == NULL);
    unsigned char raw[5000];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(i % 97 < 50 ? 'a' : i * 7);
    tm_buf c = {0}, io = {0}, out = {0};
    ck_assert(tm_frame_compress_zstd(z, raw, sizeof raw, &c, &err) == 0);
    ck_assert(tm_frame_compress_zstd(z, raw, 0, &c, &err) != 0);
    ck_assert(tm_frame_compress_zstd(z, raw, sizeof raw, &c, &err) == 0);
    tm_frame_hdr h = {.version = TM_FRAME_VERSION_CODEC,
                      .flags = TM_FRAME_TX_END | TM_FRAME_CODEC_ZSTD,
                      .clen = (uint32_t)c.len,
                      .raw_len = sizeof raw,
                      .n_records = 1,
                      .payload_crc = tm_crc32c(0, c.p, c.len)};
    char *dir = tmt_tempdir();
    char *path = tmt_path(dir, "frame");
    unsigned char hb[TM_FRAME_HDR_SIZE];
    char why[256];
    tm_frame_hdr got;

    /* as written */
    tm_frame_hdr_encode(&h, hb);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert(tm_pwrite2_full(fd, hb, sizeof hb, c.p, c.len, 0, path, &err) == 0);
    ck_assert_int_eq(tm_frame_read(fd, 0, NULL, &got, &io, &out, why, sizeof why, &err), 0);
    ck_assert_uint_eq(out.len, sizeof raw);
    ck_assert(memcmp(out.p, raw, sizeof raw) == 0);
    ck_assert_uint_eq(tm_frame_codec(&got), TM_FRAME_CODEC_ZSTD);

    /* a version 1 header ignores the codec bits: LZ4 fails on zstd bytes */
    h.version = TM_FRAME_VERSION;
    tm_frame_hdr_encode(&h, hb);
    ck_assert(tm_pwrite_full(fd, hb, sizeof hb, 0, path, &err) == 0);
    ck_assert_int_eq(tm_frame_read(fd, 0, NULL, &got, &io, &out, why, sizeof why, &err), 1);

    /* an unknown codec and an unknown version are refused by name */
    h.version = TM_FRAME_VERSION_CODEC;
    h.flags = TM_FRAME_TX_END | 0x0200;
    tm_frame_hdr_encode(&h, hb);
    ck_assert(!tm_frame_hdr_decode(hb, &got, why, sizeof why));
    ck_assert_msg(strstr(why, "codec 2 is not supported"), "%s", why);
    h.version = 3;
    tm_frame_hdr_encode(&h, hb);
    ck_assert(!tm_frame_hdr_decode(hb, &got, why, sizeof why));
    ck_assert_msg(strstr(why, "version 3 is not supported"), "%s", why);

    /* damaged bytes under a matching payload CRC: zstd's checksum says so */
    h.flags = TM_FRAME_TX_END | TM_FRAME_CODEC_ZSTD;
    h.version = TM_FRAME_VERSION_CODEC;
    c.p[c.len - 2] ^= 0x40;
    h.payload_crc = tm_crc32c(0, c.p, c.len);
    tm_frame_hdr_encode(&h, hb);
    ck_assert(tm_pwrite2_full(fd, hb, sizeof hb, c.p, c.len, 0, path, &err) == 0);
    ck_assert_int_eq(tm_frame_read(fd, 0, NULL, &got, &io, &out, why, sizeof why, &err), 1);
    ck_assert_msg(strstr(why, "does not decompress"), "%s", why);
    close(fd);
    free(path);
    tmt_tempdir_remove(dir);
    tm_buf_free(&c);
    tm_buf_free(&io);
    tm_buf_free(&out);
    tm_zstd_enc_free(z);
}
END_TEST

/* The same records, seeks included, verify sound, fewer bytes and frames;
 * the live segment and the mark's are left alone; a second run does
 * nothing. */
START_TEST(compacted_reads_same)
{
    tmt_stream s;
    char *dir = make_journal(&s, 900, 24 * 1024, true);
    size_t n = nsegments(dir);
    ck_assert_uint_gt(n, 4);
    seeks was = {0}, now = {0};
    collect_seeks(dir, &s, &was);
    tm_compact_options o = {.frame_target = 16 * 1024};
    tm_compact_stats st;
    tm_error err;
    ck_assert_msg(tm_compact_journal(dir, &o, &st, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(st.segments, n - 1);
    ck_assert_uint_lt(st.bytes_after, st.bytes_before);
    ck_assert_uint_lt(st.frames_after, st.frames_before);
    size_t lz4, zstd;
    for (uint64_t i = 1; i < n; i++) {
        count_codecs(dir, i, &lz4, &zstd);
        ck_assert_uint_eq(lz4, 0);
        ck_assert_uint_gt(zstd, 0);
    }
    count_codecs(dir, n, &lz4, &zstd);
    ck_assert_uint_eq(zstd, 0);
    check_reads(dir, &s);
    check_sound(dir);

    collect_seeks(dir, &s, &now);
    compare_seeks(&was, &now);

    ck_assert(tm_compact_journal(dir, &o, &st, &err) == 0);
    ck_assert_uint_eq(st.segments, 0);
    ck_assert_uint_eq(st.already, n - 1);

    /* the binary says what it did */
    char *out;
    ck_assert_int_eq(tmt_run(&out, "compact", "--journal", dir, NULL), 0);
    ck_assert_msg(strstr(out, "compacted 0 segments"), "%s", out);
    free(out);
    ck_assert_int_eq(tmt_run(&out, "compact", "--journal", dir, "--level", "0", NULL), 2);
    free(out);
    ck_assert_int_eq(tmt_run(&out, "compact", "--journal", "/nonexistent/j", NULL), 1);
    free(out);
    tmt_stream_free(&s);
    tmt_tempdir_remove(dir);
}
END_TEST

/* A damaged byte in a compacted frame is found by verify and by readers. */
START_TEST(damaged_compacted_frame)
{
    tmt_stream s;
    char *dir = make_journal(&s, 300, 24 * 1024, false);
    tm_compact_stats st;
    tm_error err;
    ck_assert(tm_compact_journal(dir, NULL, &st, &err) == 0);
    ck_assert_uint_gt(st.segments, 0);
    char *p = tmt_seg_path(dir, 1);
    size_t len;
    unsigned char *b = tmt_slurp(p, &len);
    b[TM_SEG_HDR_SIZE + TM_FRAME_HDR_SIZE + 40] ^= 0x10;
    tmt_spit(p, b, len);
    tm_verify_totals t;
    ck_assert_int_eq(tm_verify(dir, NULL, &t, &err), 1);
    ck_assert_uint_eq(t.bad_segments, 1);
    char *out;
    ck_assert_int_eq(tmt_run(&out, "verify", "--journal", dir, NULL), 1);
    ck_assert_msg(strstr(out, "0000000000000001.seg  BAD"), "%.900s",
                  strstr(out, "0000000000000001.seg") ? strstr(out, "0000000000000001.seg") : out);
    free(out);
    tm_reader *rd;
    ck_assert(tm_reader_open(dir, &rd, &err) == 0);
    const Tidemark__Record *rec;
    int rc;
    while ((rc = tm_reader_next(rd, &rec, &err)) == 1)
        ;
    ck_assert_int_eq(rc, -1);
    ck_assert(tm_error_is(&err, TM_ERR_CORRUPT));
    tm_reader_close(rd);
    /* and compaction refuses to touch it again (it was compacted) or
     * anything damaged: nothing is lost by trying */
    free(b);
    free(p);
    tmt_stream_free(&s);
    tmt_tempdir_remove(dir);
}
END_TEST

/* dst (emptied) becomes a copy of journal src. */
static void copy_journal(const char *src, const char *dst)
{
    char cmd[2 * PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dst, src, dst);
    ck_assert_int_eq(system(cmd), 0);
}

/* tidemark compact on a fresh LZ4 copy of the journal with the Nth write,
 * fsync, rename or create failing, for every N until a run goes through:
 * after every failure the journal reads the same and verifies, and a run
 * without faults then compacts everything. */
START_TEST(faults_leave_readable_journal)
{
    static const char *const ops[] = {"write", "fsync", "rename", "create"};
    tmt_stream s;
    char *master = make_journal(&s, 160, 24 * 1024, true);
    size_t n = nsegments(master);
    char *tmp = tmt_tempdir(); /* the log lies outside the faulty directory */
    char *log = tmt_path(tmp, "faultfs.log"), *dir = tmt_path(tmp, "journal");
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_opts[512];
    snprintf(asan_opts, sizeof asan_opts, "%s%sverify_asan_link_order=0", asan ? asan : "",
             asan ? ":" : "");
    int faults = 0;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        for (int nth = 1; nth < 60; nth++) {
            copy_journal(master, dir);
            char nb[16];
            snprintf(nb, sizeof nb, "%d", nth);
            unlink(log);
            setenv("LD_PRELOAD", TM_FAULTFS, 1);
            setenv("ASAN_OPTIONS", asan_opts, 1);
            setenv("TM_FAULT_DIR", dir, 1);
            setenv("TM_FAULT_OP", ops[k], 1);
            setenv("TM_FAULT_NTH", nb, 1);
            setenv("TM_FAULT_ERR", nth % 2 ? "EIO" : "ENOSPC", 1);
            setenv("TM_FAULT_LOG", log, 1);
            char *out;
            /* --no-keys: the faults are for compaction, not the summaries */
            int rc = tmt_run(&out, "compact", "--journal", dir, "--no-keys", NULL);
            unsetenv("LD_PRELOAD");
            if (asan)
                setenv("ASAN_OPTIONS", asan, 1);
            else
                unsetenv("ASAN_OPTIONS");
            size_t llen = 0;
            unsigned char *l = access(log, F_OK) == 0 ? tmt_slurp(log, &llen) : NULL;
            if (l)
                l[llen] = '\0'; /* tmt_slurp leaves room for it */
            bool injected = l && strstr((char *)l, "injected");
            free(l);
            if (injected) {
                faults++;
                ck_assert_msg(rc == 1, "%s %d: exit %d: %.300s", ops[k], nth, rc, out);
            }
            free(out);
            check_reads(dir, &s);
            check_sound(dir);
            if (injected) {
                /* and the next run finishes the job */
                tm_compact_stats st;
                tm_error err;
                ck_assert_msg(tm_compact_journal(dir, NULL, &st, &err) == 0, "%s", err.msg);
                ck_assert_uint_eq(st.segments + st.already, n - 1);
                check_reads(dir, &s);
                check_sound(dir);
            }
            if (!injected)
                break;
        }
    }
    unsetenv("TM_FAULT_DIR");
    ck_assert_int_gt(faults, 20);
    free(log);
    free(dir);
    tmt_rmtree(tmp);
    free(tmp);
    tmt_stream_free(&s);
    tmt_tempdir_remove(master);
}
END_TEST

/* Killed at random moments: every time the journal reads the same and
 * verifies, and the next run finishes the job. */
START_TEST(kills_leave_readable_journal)
{
    tmt_stream s;
    char *master = make_journal(&s, 1500, 64 * 1024, true);
    size_t n = nsegments(master);
    char *tmp = tmt_tempdir();
    char *dir = tmt_path(tmp, "journal");
    tmt_rng r = {99};
    int kills = 0;
    for (int round = 0; round < 6; round++) {
        copy_journal(master, dir);
        fflush(NULL);
        pid_t pid = fork();
        ck_assert(pid >= 0);
        if (pid == 0) {
            tm_compact_options o = {.level = 6, .frame_target = 32 * 1024};
            tm_compact_stats st;
            tm_error err;
            _exit(tm_compact_journal(dir, &o, &st, &err) == 0 ? 0 : 1);
        }
        usleep((useconds_t)tmt_below(&r, 40000));
        int wst;
        if (kill(pid, SIGKILL) == 0)
            kills++;
        ck_assert(waitpid(pid, &wst, 0) == pid);
        check_reads(dir, &s);
        check_sound(dir);
        tm_compact_stats st;
        tm_error err;
        ck_assert(tm_compact_journal(dir, NULL, &st, &err) == 0);
        ck_assert_uint_eq(st.segments + st.already, n - 1);
        check_reads(dir, &s);
    }
    ck_assert_int_gt(kills, 3);
    free(dir);
    tmt_rmtree(tmp);
    free(tmp);
    tmt_stream_free(&s);
    tmt_tempdir_remove(master);
}
END_TEST

int main(void)
{
    return tm_check_main("store_compact", "core", 0,
                         TM_TESTS(codec_roundtrip, compacted_reads_same, damaged_compacted_frame,
                                  faults_leave_readable_journal, kills_leave_readable_journal));
}
