/* Where the readers' journal files come from: a local directory, or a
 * remote journal (an archive prefix, "s3://BUCKET/PREFIX") that a higher
 * layer registers (store/archive/source.h). The readers keep naming files
 * by path ("DIR/NAME"); for a remote path they get a file descriptor of a
 * sparse local copy (in memory, or in a cache directory) whose bytes are
 * fetched on demand, in ranges, the first time tm_pread_full reads them.
 * fstat on it gives the object's size. So a reader that reads one frame
 * fetches that frame's range, not the object.
 *
 * The local path costs one test of a pointer per tm_pread_full. */
#ifndef TM_JSOURCE_H
#define TM_JSOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/tm_error.h"

/* Called with each name in a directory (no "." or ".."); 0 to go on, -1
 * with err to stop. */
typedef int (*tm_jsrc_name_fn)(const char *name, void *arg, tm_error *err);

typedef struct tm_jsrc_ops {
    const char *scheme; /* "s3://" */
    /* An fd of the file at path (TM_ERR_NOT_FOUND when there is none);
     * whole: fetch all of it now (a small file read whole: one request,
     * checked against its recorded checksum). */
    int (*open)(const char *path, bool whole, tm_error *err);
    /* Makes bytes [off, off+len) of fd present (0 for an fd not its own). */
    int (*fault)(int fd, uint64_t off, size_t len, tm_error *err);
    void (*close)(int fd);
    /* 1 when path is a directory, 0 a file, TM_ERR_NOT_FOUND neither. */
    int (*kind)(const char *path, tm_error *err);
    int (*list)(const char *dir, tm_jsrc_name_fn fn, void *arg, tm_error *err);
} tm_jsrc_ops;

/* Registers the remote source (one per process; NULL removes it). */
void tm_jsrc_register(const tm_jsrc_ops *ops);

/* Whether path names a file of the registered remote source. */
bool tm_jsrc_remote(const char *path);

/* Opens path read-only: 0 on success with *fd (close it with
 * tm_jsrc_close), -1 with err (TM_ERR_NOT_FOUND when it does not exist). */
int tm_jsrc_open(const char *path, bool whole, int *fd, tm_error *err);
void tm_jsrc_close(int fd);

/* 1 when path is a directory, 0 another file, -1 with err (TM_ERR_NOT_FOUND
 * when there is nothing there). */
int tm_jsrc_kind(const char *path, tm_error *err);

/* Calls fn for every name in dir, in no particular order. A missing dir is
 * TM_ERR_NOT_FOUND. */
int tm_jsrc_list(const char *dir, tm_jsrc_name_fn fn, void *arg, tm_error *err);

/* For tm_pread_full: makes the range present when fd is remote. */
extern int (*tm_jsrc_fault_hook)(int fd, uint64_t off, size_t len, tm_error *err);

#endif
