#include "replay/engine/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define PAGE ((size_t)4096)

#ifdef __SANITIZE_ADDRESS__
#define USE_MMAP(n) ((void)(n), 0)
#else
#define USE_MMAP(n) ((n) >= HUGE_PAGE)
#endif

void *tm_bigmem_zalloc(size_t n)
{
    if (!USE_MMAP(n))
        return calloc(1, n ? n : 1);
    /* Mapped with a huge page's worth to spare, then trimmed to start on a
     * huge-page boundary: only whole aligned huge pages can be huge. */
    size_t len = (n + PAGE - 1) & ~(PAGE - 1);
    char *m =
        mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > m)
        munmap(m, (size_t)(p - m));
    munmap(p + len, (size_t)(m + HUGE_PAGE - p));
    (void)madvise(p, len, MADV_HUGEPAGE); /* a hint: ignored where not offered */
    return p;
}

void tm_bigmem_free(void *p, size_t n)
{
    if (!p)
        return;
    if (USE_MMAP(n))
        munmap(p, n);
    else
        free(p);
}
