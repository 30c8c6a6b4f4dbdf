/* Test helpers for the journal store: temp dirs, a seeded generator of
 * realistic journal content that remembers what it wrote, field-by-field
 * comparison of what a reader delivers, and running the real binary. */
#ifndef TM_SUPPORT_STORE_H
#define TM_SUPPORT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/journal/journal.h"

/* ---- randomness (deterministic per seed) --------------------------------- */

typedef struct tmt_rng {
    uint64_t s;
} tmt_rng;

uint64_t tmt_rand(tmt_rng *r);
uint64_t tmt_below(tmt_rng *r, uint64_t n); /* uniform in [0, n) */

/* ---- files ---------------------------------------------------------------- */

char *tmt_tempdir(void); /* malloc'd; the test fails if it cannot be made */
/* "<new temp dir>/journal" (not created: capture creates it); malloc'd. */
char *tmt_journal_path(void);
/* Removes the temp dir of a tmt_journal_path and frees the name. */
void tmt_journal_remove(char *journal);
void tmt_rmtree(const char *path);
/* Removes a tmt_tempdir and frees its name. */
void tmt_tempdir_remove(char *dir);
/* Whole file into malloc'd memory / replace a file's content. */
unsigned char *tmt_slurp(const char *path, size_t *len);
void tmt_spit(const char *path, const void *data, size_t len);
char *tmt_path(const char *dir, const char *name); /* malloc'd dir/name */
char *tmt_seg_path(const char *dir, uint64_t segno);
char *tmt_idx_path(const char *dir, uint64_t segno);

/* ---- what was written ------------------------------------------------------ */

typedef struct tmt_rec {
    unsigned char *packed; /* the Record as written */
    size_t len;
    int body;     /* Tidemark__Record__BodyCase */
    long tx;      /* index of its transaction, -1 when standalone */
    uint64_t lsn; /* commit LSN of its transaction */
    int64_t time; /* commit time of its transaction */
} tmt_rec;

typedef struct tmt_stream {
    tmt_rec *v;
    size_t n, cap;
    long ntx;
    uint64_t next_lsn;
    int64_t next_time;
    bool jitter_time;        /* commit times not monotonic in LSN order */
    uint32_t rel_version[8]; /* current version per generated relation (0 = none yet) */
    uint32_t rel_ncols[8];
} tmt_stream;

void tmt_stream_init(tmt_stream *s, int64_t start_time);
void tmt_stream_free(tmt_stream *s);

/* Writes a transaction of n records with values up to max_value bytes
 * (random kinds incl. empty strings, NULL, 'u' and 's') and records it. */
void tmt_put_tx(tm_writer *w, tmt_stream *s, tmt_rng *r, unsigned n, size_t max_value);
/* Writes a standalone Relation (new version), Gap or non-transactional
 * LogicalMessage, and records it. */
void tmt_put_standalone(tm_writer *w, tmt_stream *s, tmt_rng *r);
void tmt_put_relation(tm_writer *w, tmt_stream *s, tmt_rng *r, unsigned which);

/* Puts rel as a standalone Relation record with w (asserted). */
void tmt_put_relation_record(tm_writer *w, Tidemark__Relation *rel);

/* Puts a transactional logical message (content NULL: none) with w. */
void tmt_put_message(tm_writer *w, const char *prefix, const void *content, size_t len);

/* Index just after the last record of the last transaction with commit LSN
 * below lsn (or commit time below t): where an exact seek starts. */
size_t tmt_cut_lsn(const tmt_stream *s, uint64_t lsn);
size_t tmt_cut_time(const tmt_stream *s, int64_t t);
/* Index just after transaction tx's last record. */
size_t tmt_tx_end_index(const tmt_stream *s, long tx);

/* ---- checking what a reader delivers ------------------------------------- */

bool tmt_record_equal(const Tidemark__Record *a, const Tidemark__Record *b, char *why,
                      size_t whylen);

/* Reads rd to its end and checks that it delivers exactly s->v[from..to),
 * field by field, allowing only repeats of Relations written earlier
 * (segment preambles, schema catch-up after a seek). Returns the number of
 * repeated Relations seen. */
size_t tmt_check_read(tm_reader *rd, const tmt_stream *s, size_t from, size_t to);
/* Same, but stops once s->v[to - 1] was delivered, leaving the rest. */
void tmt_check_prefix(tm_reader *rd, const tmt_stream *s, size_t from, size_t to);

/* Records delivered by a reader, packed again, for comparing suffixes. */
typedef struct tmt_got {
    tmt_rec *v;
    size_t n, cap;
} tmt_got;
void tmt_collect(tm_reader *rd, tmt_got *g);
void tmt_got_free(tmt_got *g);

/* The oids of the Relation records that open segment segno (its preamble,
 * and any standalone Relations right after it), in order. */
size_t tmt_preamble_oids(const char *dir, uint64_t segno, uint32_t *oids, size_t max);

/* ---- processes ------------------------------------------------------------ */

/* Runs the tidemark binary with the NULL-terminated arguments; returns its
 * exit status (or -1 when killed by a signal) and its stdout+stderr in *out
 * (malloc'd). */
int tmt_run(char **out, const char *arg, ...) __attribute__((sentinel));

/* Captures what is written to fd 2 between begin and end (malloc'd text). */
typedef struct tmt_capture {
    int saved, fd;
    char path[64];
} tmt_capture;
void tmt_stderr_begin(tmt_capture *c);
char *tmt_stderr_end(tmt_capture *c);

#endif
