/* Intent records: a small file capture writes (fsynced) in the journal
 * directory before a step a crash must not leave half done (the first run,
 * a reseed), naming the slot, the source system and a position; the next
 * start that finds one completes or rolls the step back. The text: a magic
 * first line, then "slot NAME", "system ID" and "<lsn_key> LSN" lines. */
#ifndef TM_INTENT_H
#define TM_INTENT_H

#include <stdint.h>

#include "store/common/tm_error.h"

typedef struct tm_intent {
    char slot[128];
    uint64_t system_identifier;
    uint64_t lsn; /* under the kind's lsn_key; 0 when absent */
} tm_intent;

/* What one kind of record is called and what to do with a damaged one. */
typedef struct tm_intent_kind {
    const char *file;    /* in the journal directory */
    const char *magic;   /* its first line */
    const char *lsn_key; /* the name of its position */
    const char *records; /* "it records ...": for the error of a damaged one */
    const char *advice;  /* what to do then */
} tm_intent_kind;

/* Replaces the record (temporary file, fsync, rename, fsync of DIR). */
int tm_intent_save(const char *dir, const tm_intent_kind *k, const tm_intent *r, tm_error *err);
/* 1 with *r when DIR holds a record, 0 when not, -1 with err (CORRUPT,
 * naming the file and the advice, when it does not parse). */
int tm_intent_load(const char *dir, const tm_intent_kind *k, tm_intent *r, tm_error *err);
/* Removes the record and fsyncs DIR (no record is fine). */
int tm_intent_remove(const char *dir, const tm_intent_kind *k, tm_error *err);

#endif
