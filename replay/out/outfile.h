/* Output files that appear whole or not at all: written to a temporary
 * name beside the target (mode 0600), fsynced, renamed into place, and the
 * directory fsynced.
 *
 * What the target path may be:
 *   - absent: the file is created;
 *   - an existing regular file: refused (TM_ERR_CONFLICT, the message
 *     names the file and says --force) unless force is given, and then
 *     replaced atomically; without force the final rename refuses too, so a
 *     file created meanwhile is not overwritten either;
 *   - a device or a FIFO (/dev/null, a named pipe): written to directly;
 *   - /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N: written
 *     through that open descriptor (what the shell opened, a regular file
 *     included), never replaced nor refused;
 *   - a symbolic link stays one: what it points to is the target;
 *   - a directory: refused ("give a file name"). */
#ifndef TM_OUTFILE_H
#define TM_OUTFILE_H

#include <stdbool.h>

#include "store/common/tm_error.h"

typedef struct tm_outfile {
    char *path, *tmp; /* NULL when written directly */
    int fd;
    bool force;
} tm_outfile;

/* Whether path may be written as an output file (see above): 0, or -1 with
 * err (an existing regular file without force, a directory). Opens
 * nothing: callers that write several files check all of them first. */
int tm_outfile_check(const char *path, bool force, tm_error *err);
/* Checks path as tm_outfile_check does, then opens it for writing. */
int tm_outfile_open(tm_outfile *f, const char *path, bool force, tm_error *err);
/* fsync, close, rename into place, fsync the directory. The file is closed
 * either way. */
int tm_outfile_commit(tm_outfile *f, tm_error *err);
/* Closes and removes the temporary file (no-op after commit). */
void tm_outfile_abort(tm_outfile *f);

#endif
