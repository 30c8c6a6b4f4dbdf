/* What the benchmark programs share: a seeded pseudo-random generator
 * (splitmix64, the same sequence for the same seed on every machine) and
 * a monotonic clock in seconds. */
#ifndef TM_BENCH_UTIL_H
#define TM_BENCH_UTIL_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
