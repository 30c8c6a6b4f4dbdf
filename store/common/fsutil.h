/* Small crash-safe file helpers shared by the journal code. Every function
 * that fails sets err naming the path and returns -1; the code comes from
 * errno (tm_error_errno: NOT_FOUND, NO_SPACE, IO, ...). */
#ifndef TM_FSUTIL_H
#define TM_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/common/tm_error.h"

#define TM_FILE_MODE 0600
#define TM_DIR_MODE 0700

/* Writes all of buf at off (retrying short writes and EINTR). */
int tm_pwrite_full(int fd, const void *buf, size_t len, uint64_t off, const char *what,
                   tm_error *err);
/* Same for two buffers back to back (a frame header and its payload). */
int tm_pwrite2_full(int fd, const void *a, size_t alen, const void *b, size_t blen, uint64_t off,
                    const char *what, tm_error *err);
/* Reads up to len bytes at off; returns the count (less than len only at end
 * of file) or -1. */
ssize_t tm_pread_full(int fd, void *buf, size_t len, uint64_t off, const char *what, tm_error *err);

int tm_fsync_fd(int fd, const char *what, tm_error *err);
/* fsyncs a directory so that created, renamed or removed entries persist. */
int tm_fsync_dir(const char *dir, tm_error *err);
/* mkdir -p, creating missing components with mode 0700. */
int tm_mkdir_p(const char *dir, tm_error *err);

/* Replaces DIR/NAME atomically: writes DIR/NAME.tmp (0600), fsyncs it,
 * renames it over NAME and fsyncs DIR. */
int tm_write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                         tm_error *err);

/* Reads a whole file (at most max bytes) into a malloc'd buffer. Returns 0,
 * or -1 with err: TM_ERR_NOT_FOUND for a missing file, TM_ERR_FORMAT (with
 * the file as context) for one larger than max. */
int tm_read_file(const char *path, size_t max, unsigned char **data, size_t *len, tm_error *err);

/* Growable byte buffer: the append paths reuse one instead of allocating. */
typedef struct tm_buf {
    unsigned char *p;
    size_t len, cap;
} tm_buf;

int tm_buf_reserve(tm_buf *b, size_t extra, tm_error *err);
void tm_buf_free(tm_buf *b);

/* Room for element n of the array p of *cap elements of elem bytes: when
 * n == *cap, p is grown (to first elements, then doubling) and *cap
 * updated. Returns the array, or NULL with p unchanged and err "out of
 * memory <doing>" (doing "": "out of memory"). */
void *tm_grow(void *p, size_t *cap, size_t n, size_t elem, size_t first, const char *doing,
              tm_error *err);

#endif
