/* Large memory that replay fills and reaches at random (row slabs, hash
 * slots, sort items): its own mappings, aligned and marked for transparent
 * huge pages where the system offers them (madvise mode), so that filling
 * 16 MB costs a few faults instead of thousands and reaching it at random
 * misses the TLB less. Smaller blocks, and all of them under
 * AddressSanitizer (which then checks them), come from calloc. */
#ifndef TM_BIGMEM_H
#define TM_BIGMEM_H

#include <stddef.h>

/* n bytes, zeroed; NULL when out of memory. */
void *tm_bigmem_zalloc(size_t n);
/* Frees p, which tm_bigmem_zalloc(n) returned (NULL: nothing). */
void tm_bigmem_free(void *p, size_t n);

#endif
