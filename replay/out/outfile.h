/* Output files that appear whole or not at all: written to a temporary
 * name beside the target (mode 0600), fsynced, renamed over the target,
 * and the directory fsynced. A target that exists and is not a regular
 * file (a device such as /dev/null, a FIFO) is written to directly; a
 * symbolic link stays one (what it points to is replaced). */
#ifndef TM_OUTFILE_H
#define TM_OUTFILE_H

#include "store/common/tm_error.h"

typedef struct tm_outfile {
    char *path, *tmp;
    int fd;
} tm_outfile;

int tm_outfile_open(tm_outfile *f, const char *path, tm_error *err);
/* fsync, close, rename into place, fsync the directory. The file is closed
 * either way. */
int tm_outfile_commit(tm_outfile *f, tm_error *err);
/* Closes and removes the temporary file (no-op after commit). */
void tm_outfile_abort(tm_outfile *f);

#endif
