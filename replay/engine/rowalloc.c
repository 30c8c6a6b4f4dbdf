#include "replay/engine/rowalloc.h"

#include <stdlib.h>
#include <string.h>

#include "replay/engine/bigmem.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
/* A freed block is poisoned, so AddressSanitizer still catches a row used
 * after it was freed, as it would with malloc. */
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* A slab is one huge page where the system offers them (bigmem.h): rows
 * are reached at random, and a table of 100 MB in 4 KB pages misses the TLB
 * on nearly every row. */
#define SLAB_SIZE (2u << 20)

/* A slab starts with the link to the previous one, then the blocks. */
typedef struct slab {
    struct slab *prev;
    max_align_t align[];
} slab;

void *tm_rowalloc_get(tm_rowalloc *a, size_t size, uint32_t *cap)
{
    if (size > TM_ROWALLOC_MAX) {
        void *p = malloc(size);
        *cap = (uint32_t)size;
        return p;
    }
    size_t c = (size + 15) / 16;
    *cap = (uint32_t)(c * 16);
    void *p = a->free[c];
    if (p) {
        UNPOISON(p, *cap);
        memcpy(&a->free[c], p, sizeof(void *)); /* the next free block */
        return p;
    }
    if (a->left < *cap) {
        slab *s = tm_bigmem_zalloc(SLAB_SIZE);
        if (!s)
            return NULL;
        s->prev = a->slabs;
        a->slabs = s;
        a->cur = (char *)s->align;
        a->left = SLAB_SIZE - offsetof(slab, align);
    }
    p = a->cur;
    a->cur += *cap;
    a->left -= *cap;
    return p;
}

void tm_rowalloc_put(tm_rowalloc *a, void *p, uint32_t cap)
{
    if (cap > TM_ROWALLOC_MAX) {
        free(p);
        return;
    }
    size_t c = cap / 16;
    memcpy(p, &a->free[c], sizeof(void *));
    a->free[c] = p;
    POISON(p, cap);
}

void tm_rowalloc_release(tm_rowalloc *a)
{
    for (slab *s = a->slabs, *prev; s; s = prev) {
        prev = s->prev;
        UNPOISON(s, SLAB_SIZE);
        tm_bigmem_free(s, SLAB_SIZE);
    }
    memset(a, 0, sizeof *a);
}
