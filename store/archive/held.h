/* What local retention may remove: whether the archive holds a checked
 * copy of a journal file as it is now (capture --local-retention, prune
 * --local). DIR/archive.state (push.h) must name the file with the local
 * file's size and mtime (each file is recorded there only after its upload
 * was checked by a HEAD), and the last archive pass must have finished, so
 * that the manifest, written last in a pass, names it too. */
#ifndef TM_ARCHIVE_HELD_H
#define TM_ARCHIVE_HELD_H

#include <stdbool.h>

#include "store/archive/push.h"

typedef struct tm_archive_held {
    const char *dir;
    tm_archive_state st;
    bool complete; /* the last pass finished: st is what the manifest says */
} tm_archive_held;

/* Reads DIR/archive.state (none: nothing is held). 0, or -1 with err. */
int tm_archive_held_load(tm_archive_held *h, const char *dir, tm_error *err);
/* Whether h (a tm_archive_held) holds DIR/name as it is now. */
bool tm_archive_held_has(void *h, const char *name);
void tm_archive_held_free(tm_archive_held *h);

#endif
