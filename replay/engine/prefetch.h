/* Asking for memory ahead of its use. GCC may drop __builtin_prefetch
 * together with the loads that compute its address when nothing else uses
 * them (it did for replay's row prefetch, which then never ran), so on x86
 * the instruction is written out; elsewhere the builtin is the best there
 * is. */
#ifndef TM_PREFETCH_H
#define TM_PREFETCH_H

static inline void tm_prefetch(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p);
#endif
}

#endif
