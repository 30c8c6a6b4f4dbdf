/* tidemark verify's walk over every file of a journal directory.
 *
 * Each entry of DIR (and of the subdirectories a kind names, such as
 * checkpoints/) is one of:
 *   - checked: segments and their indexes (by the journal, together: LSN
 *     order across segments, no missing segment, each index against its
 *     segment), journal.meta, and what the caller adds (the readers'
 *     caches: checkpoints, key summaries), each by its kind's check;
 *   - known but not checked: the capture lock, capture's own state files;
 *   - temporary: spools and the temporary names of atomic replaces, which
 *     an interrupted run leaves behind (never damage);
 *   - unknown: anything else (reported as such, never as damage).
 * One line per file ("NAME  ok  ...", "NAME  BAD at offset N: WHY; WHAT
 * TO DO", "NAME  known  ...", "NAME  temporary  ...", "NAME  unknown  ...")
 * and a totals line counting files, checked, damaged and unknown ones.
 *
 * A new kind of file is one more tm_vkind: in the journal's own table
 * (verify_walk.c) when the journal layer can check it, else in the
 * caller's list (the command's, for formats above this layer). */
#ifndef TM_VERIFY_H
#define TM_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/journal/journal.h"

/* What checking one file found. */
typedef struct tm_vresult {
    bool damaged;
    bool at_offset; /* damaged: offset is where the damage begins */
    uint64_t offset;
    char text[1024]; /* damaged: what is wrong; sound: what it holds (may be "") */
} tm_vresult;

/* Fills res from a check's verdict: damaged, saying why, when why is not
 * NULL; else sound, saying what the file holds (fmt). */
void tm_vresult_judge(tm_vresult *res, const char *why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks the file at path into res (damage, also a file that cannot be
 * read, is a result, not an error). -1 with err only when checking cannot
 * go on (out of memory). */
typedef int (*tm_vcheck_fn)(const char *path, tm_vresult *res, tm_error *err);

/* A kind of file a journal holds. */
typedef struct tm_vkind {
    const char *subdir;              /* NULL: in DIR itself; else in DIR/subdir */
    bool (*match)(const char *name); /* whether a name (without subdir) is of this kind */
    const char *what;                /* what such a file is, said on its line */
    tm_vcheck_fn check;              /* NULL: known, not checked */
    const char *if_damaged;          /* said after the damage: what it means, what to do */
    bool temporary;                  /* left by an interrupted run: reported, not damage */
} tm_vkind;

typedef struct tm_verify_opts {
    FILE *out;             /* where the lines go; NULL: nowhere */
    bool quiet;            /* only damaged files and the totals line */
    const tm_vkind *kinds; /* the caller's kinds, tried after the journal's own */
    size_t nkinds;
} tm_verify_opts;

/* Walks and checks every file of journal dir. Returns 0 when nothing is
 * damaged, 1 when something is, -1 with err when the journal cannot be
 * read at all (not a directory, not a journal, out of memory). */
int tm_verify_run(const char *dir, const tm_verify_opts *o, tm_verify_totals *totals,
                  tm_error *err);

#endif
