/* Writer -> reader round trips: many random transactions (random sizes,
 * tuples with empty strings, NULL, 'u' and 's' kinds, transactions spanning
 * frames, standalone records) compared field by field; reopening and
 * appending; misuse of the writer API; durable LSNs; file modes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "store/journal/segment.h"
#include "tests/harness/support_gen.h"
#include "tests/harness/support_store.h"
#include "store/common/tm_time.h"
#include "tests/harness/tm_check.h"

static void write_random(tm_writer *w, tmt_stream *s, tmt_rng *r, int ntx, size_t max_value)
{
    tm_error err;
    for (int i = 0; i < ntx; i++) {
        if (tmt_below(r, 10) == 0)
            tmt_put_standalone(w, s, r);
        unsigned n = (unsigned)(tmt_below(r, 50) == 0 ? 200 + tmt_below(r, 800) : tmt_below(r, 12));
        tmt_put_tx(w, s, r, n, max_value);
        if (tmt_below(r, 7) == 0)
            ck_assert_msg(tm_writer_sync(w, &err) == 0, "sync: %s", err.msg);
    }
}

START_TEST(round_trip_small_frames)
{
    tmt_gen g;
    tmt_gen_open(&g, 1, &(tm_writer_options){.frame_target = 4096});
    write_random(g.w, &g.s, &g.r, 1500, 300);
    tmt_gen_close(&g);
    tmt_read_all(g.dir, &g.s, NULL);

    /* Transactions did span frames, and frames of standalone records exist. */
    tm_seg_scan sc = tmt_scan_segment(g.dir, 1);
    ck_assert(!sc.damaged);
    size_t cont = 0, open_end = 0;
    for (size_t i = 0; i < sc.frames.n; i++) {
        cont += sc.frames.v[i].h.cont_records > 0;
        open_end += !(sc.frames.v[i].h.flags & TM_FRAME_TX_END);
    }
    ck_assert_msg(sc.frames.n > 100 && cont > 10 && open_end > 10,
                  "frames %zu, with continuation %zu, ending mid-transaction %zu", sc.frames.n,
                  cont, open_end);
    tm_seg_scan_free(&sc);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(round_trip_big_transactions)
{
    tmt_gen g;
    tmt_gen_open(&g, 2, &(tm_writer_options){0});
    tmt_put_tx(g.w, &g.s, &g.r, 0, 10);     /* empty transaction */
    tmt_put_tx(g.w, &g.s, &g.r, 1, 0);      /* values all empty or NULL */
    tmt_put_tx(g.w, &g.s, &g.r, 6000, 700); /* several MiB raw: spans default 1 MiB frames */
    tmt_put_standalone(g.w, &g.s, &g.r);
    tmt_put_tx(g.w, &g.s, &g.r, 3, 5000);
    tmt_gen_close(&g);
    tmt_read_all(g.dir, &g.s, NULL);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(reopen_and_append)
{
    tm_writer_options o = {.frame_target = 8192};
    tmt_gen g;
    tmt_gen_open(&g, 3, &o);
    tm_error err;
    for (int round = 0; round < 4; round++) {
        if (round > 0)
            ck_assert_msg(tm_writer_open(g.dir, &o, &g.w, &err) == 0, "%s", err.msg);
        uint64_t want = 0;
        for (size_t i = 0; i < g.s.n; i++)
            if (g.s.v[i].tx >= 0)
                want = g.s.v[i].lsn;
        ck_assert_uint_eq(tm_writer_last_commit_lsn(g.w), want);
        ck_assert_uint_eq(tm_writer_durable_commit_lsn(g.w), want);
        write_random(g.w, &g.s, &g.r, 200, 100);
        tmt_gen_close(&g);
        tmt_read_all(g.dir, &g.s, NULL);
    }
    ck_assert_int_eq(tm_verify(g.dir, NULL, NULL, &err), 0);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(api_misuse)
{
    char *dir = tmt_tempdir();
    tm_writer *w;
    tm_error err;
    tm_writer_options o = {0};
    ck_assert(tm_writer_open(dir, &o, &w, &err) == 0);
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    ck_assert_int_eq(tm_writer_put(w, &rec, &err), -1);            /* outside a transaction */
    ck_assert_int_eq(tm_writer_put_standalone(w, &rec, &err), -1); /* a Change is no standalone */
    ck_assert_int_eq(tm_writer_end_tx(w, &err), -1);
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    b.commit_lsn = 1000;
    b.end_lsn = 1010;
    b.n_records = 1;
    ck_assert(tm_writer_begin_tx(w, &b, &err) == 0);
    ck_assert_int_eq(tm_writer_begin_tx(w, &b, &err), -1); /* nested */
    ck_assert(tm_writer_put(w, &rec, &err) == 0);
    ck_assert_int_eq(tm_writer_put(w, &rec, &err), -1); /* one more than declared */
    ck_assert(tm_writer_end_tx(w, &err) == 0);
    b.commit_lsn = 999;
    ck_assert_int_eq(tm_writer_begin_tx(w, &b, &err), -1); /* LSN going backwards */
    ck_assert_msg(strstr(err.msg, "commit LSN") != NULL, "%s", err.msg);
    /* Ending with records missing stops the writer for good. */
    b.commit_lsn = 2000;
    b.n_records = 2;
    ck_assert(tm_writer_begin_tx(w, &b, &err) == 0);
    ck_assert(tm_writer_put(w, &rec, &err) == 0);
    ck_assert_int_eq(tm_writer_end_tx(w, &err), -1);
    ck_assert_int_eq(tm_writer_sync(w, &err), -1);
    ck_assert_msg(strstr(err.msg, "failed earlier") != NULL, "%s", err.msg);
    ck_assert_int_eq(tm_writer_close(w, &err), -1);
    /* Reopening recovers: the first transaction survives (it was written out
     * when the failed one's frame... was never written: the journal holds
     * what was synced, here nothing, or the first transaction). */
    ck_assert(tm_writer_open(dir, &o, &w, &err) == 0);
    ck_assert(tm_writer_last_commit_lsn(w) == 0 || tm_writer_last_commit_lsn(w) == 1000);
    ck_assert(tm_writer_close(w, &err) == 0);
    ck_assert_int_eq(tm_verify(dir, NULL, NULL, &err), 0);
    tmt_tempdir_remove(dir);
}
END_TEST

START_TEST(durable_only_after_sync)
{
    tm_writer_options o = {.frame_target = 512};
    tmt_gen g;
    tmt_gen_open(&g, 5, &o);
    tm_error err;
    ck_assert_uint_eq(tm_writer_durable_end_lsn(g.w), 0);
    tmt_put_tx(g.w, &g.s, &g.r, 40, 100); /* frames were cut and written: still not durable */
    uint64_t lsn1 = g.s.next_lsn;
    ck_assert_uint_eq(tm_writer_last_commit_lsn(g.w), lsn1);
    ck_assert_uint_eq(tm_writer_durable_commit_lsn(g.w), 0);
    ck_assert_uint_eq(tm_writer_durable_end_lsn(g.w), 0);
    ck_assert(tm_writer_sync(g.w, &err) == 0);
    ck_assert_uint_eq(tm_writer_durable_commit_lsn(g.w), lsn1);
    ck_assert_uint_gt(tm_writer_durable_end_lsn(g.w), lsn1);
    uint64_t end1 = tm_writer_durable_end_lsn(g.w);
    tmt_put_tx(g.w, &g.s, &g.r, 3, 10);
    ck_assert_uint_eq(tm_writer_durable_commit_lsn(g.w), lsn1);
    ck_assert_uint_eq(tm_writer_durable_end_lsn(g.w), end1);
    /* A sync in the middle of a transaction makes only ended ones durable. */
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    b.commit_lsn = g.s.next_lsn + 100;
    b.end_lsn = b.commit_lsn + 8;
    b.n_records = 0;
    ck_assert(tm_writer_begin_tx(g.w, &b, &err) == 0);
    ck_assert(tm_writer_sync(g.w, &err) == 0);
    ck_assert_uint_eq(tm_writer_durable_commit_lsn(g.w), g.s.next_lsn);
    ck_assert(tm_writer_end_tx(g.w, &err) == 0);
    ck_assert_uint_eq(tm_writer_durable_commit_lsn(g.w), g.s.next_lsn);
    ck_assert(tm_writer_sync(g.w, &err) == 0);
    ck_assert_uint_eq(tm_writer_durable_commit_lsn(g.w), b.commit_lsn);
    ck_assert_uint_eq(tm_writer_durable_end_lsn(g.w), b.end_lsn);
    tmt_gen_close(&g);
    /* Reopened, the end LSN of the last transaction is known again. */
    ck_assert(tm_writer_open(g.dir, &o, &g.w, &err) == 0);
    ck_assert_uint_eq(tm_writer_durable_end_lsn(g.w), b.end_lsn);
    ck_assert_uint_eq(tm_writer_last_commit_lsn(g.w), b.commit_lsn);
    tmt_gen_close(&g);
    tmt_gen_free(&g);
}
END_TEST

START_TEST(file_modes)
{
    char *base = tmt_tempdir();
    char *dir = tmt_path(base, "a/b/journal");
    tmt_rng r = {6};
    tmt_stream s;
    tmt_stream_init(&s, TMT_T0);
    tm_writer *w;
    tm_error err;
    tm_writer_options o = {.segment_size = 4096};
    ck_assert_msg(tm_writer_open(dir, &o, &w, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 30; i++)
        tmt_put_tx(w, &s, &r, 10, 100);
    ck_assert(tm_writer_close(w, &err) == 0);
    tm_meta m = {.format_version = 1};
    ck_assert(tm_meta_write(dir, &m, &err) == 0);
    int lock;
    ck_assert(tm_journal_lock(dir, &lock, &err) == 0);
    tm_journal_unlock(lock);
    struct stat st;
    ck_assert(stat(dir, &st) == 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0700);
    DIR *d = opendir(dir);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = tmt_path(dir, de->d_name);
        ck_assert(stat(p, &st) == 0);
        ck_assert_msg((st.st_mode & 0777) == 0600, "%s has mode %o", de->d_name, st.st_mode & 0777);
        files++;
        free(p);
    }
    closedir(d);
    ck_assert_int_gt(files, 4); /* segments, indexes, meta, lock */
    tmt_stream_free(&s);
    tmt_rmtree(base);
    free(dir);
    free(base);
}
END_TEST

int main(void)
{
    return tm_check_main("store_roundtrip", "core", 120,
                         TM_TESTS(round_trip_small_frames, round_trip_big_transactions,
                                  reopen_and_append, api_misuse, durable_only_after_sync,
                                  file_modes));
}
