/*
 * Network byte order (big-endian) integers as the PostgreSQL protocol sends
 * them, read and written byte by byte (no alignment assumptions), and the
 * conversion between PostgreSQL's epoch (2000-01-01) and the Unix epoch.
 */
#ifndef TM_NETBYTES_H
#define TM_NETBYTES_H

#include <stdint.h>

#include "store/common/tm_time.h"

static inline uint16_t tm_get_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t tm_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t tm_get_u64(const uint8_t *p)
{
    return (uint64_t)tm_get_u32(p) << 32 | tm_get_u32(p + 4);
}

static inline void tm_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void tm_put_u64(uint8_t *p, uint64_t v)
{
    tm_put_u32(p, (uint32_t)(v >> 32));
    tm_put_u32(p + 4, (uint32_t)v);
}

/* PostgreSQL timestamps (microseconds since 2000-01-01) to Unix microseconds
 * and back. Saturate instead of overflowing: a garbage time from a broken
 * peer must not be undefined behaviour. */
static inline int64_t tm_pg_time_to_unix(int64_t pg_us)
{
    if (pg_us > INT64_MAX - TM_PG_EPOCH_US)
        return INT64_MAX;
    return pg_us + TM_PG_EPOCH_US;
}

static inline int64_t tm_unix_time_to_pg(int64_t unix_us)
{
    if (unix_us < INT64_MIN + TM_PG_EPOCH_US)
        return INT64_MIN;
    return unix_us - TM_PG_EPOCH_US;
}

#endif
