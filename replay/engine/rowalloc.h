/* Memory for replay's rows: sizes rounded up to classes of 16 bytes up to
 * TM_ROWALLOC_MAX, carved from 2 MiB slabs (huge pages where offered); a freed row goes on its
 * class's list for the next row of that size. Larger rows come from malloc.
 *
 * Replay allocates and frees a row for most changes and holds hundreds of
 * thousands at once: this is cheaper than malloc for both, and releasing
 * everything is one free per slab instead of one per row (which would also
 * read every row's header from memory). */
#ifndef TM_ROWALLOC_H
#define TM_ROWALLOC_H

#include <stddef.h>
#include <stdint.h>

#define TM_ROWALLOC_MAX 1024

typedef struct tm_rowalloc {
    void *free[TM_ROWALLOC_MAX / 16 + 1]; /* free[c]: freed blocks of c * 16 bytes */
    void *slabs;                          /* list of slabs, newest first */
    char *cur;                            /* unused part of the newest slab */
    size_t left;
} tm_rowalloc;

/* A block of at least size bytes, its usable size in *cap; NULL when out of
 * memory. Blocks of more than TM_ROWALLOC_MAX bytes are malloc's. */
void *tm_rowalloc_get(tm_rowalloc *a, size_t size, uint32_t *cap);
/* Gives back a block of capacity cap (as tm_rowalloc_get set it). */
void tm_rowalloc_put(tm_rowalloc *a, void *p, uint32_t cap);
/* Releases the slabs: every block of TM_ROWALLOC_MAX bytes or less, in use
 * or not, is gone; larger ones must have been put back before. */
void tm_rowalloc_release(tm_rowalloc *a);

#endif
