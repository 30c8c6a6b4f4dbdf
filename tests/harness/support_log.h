/* Test helpers for tidemark log: journals with known content written
 * through the real writer (relations from a short column spec, row changes
 * from value lists), and running log in-process or as the binary. */
#ifndef TM_SUPPORT_LOG_H
#define TM_SUPPORT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/journal/journal.h"
#include "replay/log/log_run.h"

/* A value list entry: a string is a text value, NULL is SQL NULL, TLJ_U is
 * an unchanged TOAST value ('u'). */
extern const char TLJ_U[];

typedef struct tlj {
    char *dir;
    tm_writer *w;
    uint64_t lsn;
    int64_t time;
    /* the transaction being built */
    Tidemark__TxBegin hdr;
    unsigned char **recs;
    size_t *lens;
    size_t n, cap;
} tlj;

/* A new journal (journal.meta included) in a temp dir; frame_target 0 =
 * default. Each transaction is synced (a frame of its own) when sync_each. */
void tlj_open(tlj *j, uint32_t frame_target);
/* Same with a segment size (0 = default) and an existing directory (NULL:
 * a new temp dir); reopening appends. */
void tlj_open2(tlj *j, uint32_t frame_target, uint64_t segment_size, const char *dir);
void tlj_close(tlj *j); /* closes the writer (the dir stays) */
void tlj_destroy(tlj *j);

/* A Relation: spec is "name:type[:pk|:key][,...]" with type one of int4,
 * int8, text, jsonb, json, bool, uuid, timestamptz, numeric, bpchar;
 * ":pk" marks primary key columns (in order), ":key" replica identity key
 * columns without a primary key, ":uniq" a single-column unique key, ":fk"
 * a single-column foreign key to public.users (id). */
void tlj_relation(tlj *j, uint32_t oid, uint32_t version, const char *schema, const char *name,
                  const char *spec);

/* A transaction: begin, records, commit (commit time = j->time, then
 * advanced by step_us; commit LSN advanced too). */
void tlj_begin(tlj *j, uint32_t xid);
void tlj_large(tlj *j, uint32_t rows); /* marks it a mass change */
void tlj_snapshot(tlj *j);             /* marks it a base snapshot */
void tlj_insert(tlj *j, uint32_t oid, uint32_t version, size_t n, const char *const *vals);
/* old_kind 'O' (vals of the whole old row), 'K' (key columns; others NULL)
 * or 0 (no old tuple: oldv ignored). */
void tlj_update(tlj *j, uint32_t oid, uint32_t version, char old_kind, size_t n,
                const char *const *oldv, const char *const *newv);
void tlj_delete(tlj *j, uint32_t oid, uint32_t version, char old_kind, size_t n,
                const char *const *oldv);
void tlj_truncate(tlj *j, uint32_t oid, uint32_t version, uint32_t flags);
void tlj_message(tlj *j, const char *prefix, const char *content);
void tlj_commit(tlj *j, int64_t step_us);
/* A logical message outside transactions. */
void tlj_standalone_message(tlj *j, const char *prefix, const char *content);
void tlj_sync(tlj *j);

/* Runs `tidemark log --journal DIR ARGS...` in-process (NULL-terminated
 * args); returns 0/-1 as log_run, the output (malloc'd) in *out and the
 * error in err. Usage errors count as -1 too. */
int tlj_log(tlj *j, char **out, log_run_stats *st, char *err, size_t errlen, ...)
    __attribute__((sentinel));

/* Counts occurrences of needle in hay. */
size_t tlj_count(const char *hay, const char *needle);

/* Checks that every line of s is one valid JSON value, using the project's
 * own scanner; returns the number of lines. */
size_t tlj_check_jsonl(const char *s);

#endif
