/* A generated journal for store tests: a fresh temp dir with a writer open
 * in it, a seeded generator and the stream that remembers what was written
 * (support_store.h); and the checks most of those tests end with: reading
 * it all back, scanning a segment, counting segments. */
#ifndef TM_SUPPORT_GEN_H
#define TM_SUPPORT_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "store/journal/journal.h"
#include "store/journal/segment.h"
#include "tests/harness/support_store.h"

/* 2026-01-01 00:00 UTC: where the streams of tmt_gen_open start. */
#define TMT_T0 INT64_C(1767225600000000)

typedef struct tmt_gen {
    char *dir;
    tmt_rng r;
    tmt_stream s;
    tm_writer *w; /* NULL once closed */
} tmt_gen;

/* Makes the temp dir and opens a writer with options o (asserted). */
void tmt_gen_open(tmt_gen *g, uint64_t seed, const tm_writer_options *o);
/* Closes the writer, which must succeed. */
void tmt_gen_close(tmt_gen *g);
/* Closes the writer if still open, frees the stream, removes the dir. */
void tmt_gen_free(tmt_gen *g);

/* A reader of dir delivers exactly s->v[0..s->n) (repeated Relations
 * aside); *st, when not NULL, receives the reader's statistics. */
void tmt_read_all(const char *dir, const tmt_stream *s, tm_reader_stats *st);
/* Segment segno of dir as tm_segment_scan sees it, payloads checked. */
tm_seg_scan tmt_scan_segment(const char *dir, uint64_t segno);
/* How many segments dir holds; they must be numbered 1..n. */
size_t tmt_count_segments(const char *dir);

/* Begins a transaction announcing n_records at commit_lsn and puts count
 * logical messages with the given content, but never ends it: what a
 * crash in the middle of a large transaction leaves. */
void tmt_put_unfinished(tm_writer *w, uint64_t commit_lsn, uint64_t n_records, int count,
                        const void *content, size_t len);

#endif
