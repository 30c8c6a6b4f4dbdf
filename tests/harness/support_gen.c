#include "tests/harness/support_gen.h"

#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

void tmt_gen_open(tmt_gen *g, uint64_t seed, const tm_writer_options *o)
{
    g->dir = tmt_tempdir();
    g->r = (tmt_rng){seed};
    tmt_stream_init(&g->s, TMT_T0);
    tm_error err;
    ck_assert_msg(tm_writer_open(g->dir, o, &g->w, &err) == 0, "%s", err.msg);
}

void tmt_gen_close(tmt_gen *g)
{
    tm_error err;
    int rc = tm_writer_close(g->w, &err);
    g->w = NULL;
    ck_assert_msg(rc == 0, "%s", err.msg);
}

void tmt_gen_free(tmt_gen *g)
{
    if (g->w)
        tmt_gen_close(g);
    tmt_stream_free(&g->s);
    tmt_tempdir_remove(g->dir);
    g->dir = NULL;
}

void tmt_read_all(const char *dir, const tmt_stream *s, tm_reader_stats *st)
{
    tm_reader *rd;
    tm_error err;
    ck_assert_msg(tm_reader_open(dir, &rd, &err) == 0, "%s", err.msg);
    tmt_check_read(rd, s, 0, s->n);
    if (st)
        *st = tm_reader_get_stats(rd);
    tm_reader_close(rd);
}

tm_seg_scan tmt_scan_segment(const char *dir, uint64_t segno)
{
    char *p = tmt_seg_path(dir, segno);
    int fd = open(p, O_RDONLY);
    ck_assert_msg(fd >= 0, "cannot open %s", p);
    free(p);
    tm_seg_scan sc;
    tm_error err;
    ck_assert_msg(tm_segment_scan(fd, segno, true, &sc, &err) == 0, "%s", err.msg);
    close(fd);
    return sc;
}

size_t tmt_count_segments(const char *dir)
{
    uint64_t *segs;
    size_t n;
    tm_error err;
    ck_assert(tm_segment_list(dir, &segs, &n, &err) == 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(segs[i], i + 1);
    free(segs);
    return n;
}

void tmt_put_unfinished(tm_writer *w, uint64_t commit_lsn, uint64_t n_records, int count,
                        const void *content, size_t len)
{
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    b.commit_lsn = commit_lsn;
    b.n_records = n_records;
    tm_error err;
    ck_assert_msg(tm_writer_begin_tx(w, &b, &err) == 0, "%s", err.msg);
    for (int i = 0; i < count; i++)
        tmt_put_message(w, NULL, content, len);
}
