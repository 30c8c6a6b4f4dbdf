#include "bigmem.h"

#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

#ifdef __SANITIZE_ADDRESS__
#define USE_MMAP(n) ((void)(n), 0)
#else
#define USE_MMAP(n) ((n) >= HUGE_PAGE)
#endif

void *tm_bigmem_zalloc(size_t n)
{
    if (!USE_MMAP(n))
        return calloc(1, n ? n : 1);
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, n, MADV_HUGEPAGE); /* a hint: ignored where not offered */
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
