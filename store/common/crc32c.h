/* CRC32C (Castagnoli), the checksum of journal frames, segment headers and
 * indexes. Debian 12 packages no C library for it, hence this small one:
 * SSE4.2 crc32 instructions when the CPU has them, slice-by-8 tables
 * otherwise. Both compute the same standard CRC-32C
 * (crc32c("123456789") == 0xE3069283). */
#ifndef TM_CRC32C_H
#define TM_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0; tm_crc32c(tm_crc32c(0, a), b) equals
 * the CRC of a followed by b. */
uint32_t tm_crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations, exposed so that tests can compare them. The
 * hardware one must only be called when tm_crc32c_hw_available(). */
uint32_t tm_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t tm_crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool tm_crc32c_hw_available(void);

#endif
