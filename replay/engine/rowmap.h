/* An open-addressing hash table of row pointers for replay's state: linear
 * probing, deletion by backward shift (no tombstones), 16 bytes a slot.
 * The table stores each row's 32-bit hash beside its pointer so that most
 * probes never touch the row; comparing keys is the caller's business
 * (replay compares key columns through schema versions), so lookups are
 * written out by the caller with tm_rowmap_slot/tm_rowmap_step:
 *
 *   for (size_t i = tm_rowmap_slot(m, h);; i = tm_rowmap_step(m, i)) {
 *       tm_rowslot *s = &m->slots[i];
 *       if (!s->row) -> absent; i is where it would go (tm_rowmap_put_at)
 *       if (s->hash == h && key_equal(s->row)) -> found at i
 *   }
 *
 * Call tm_rowmap_reserve(m, m->n + 1) before a lookup that may insert. */
#ifndef TM_ROWMAP_H
#define TM_ROWMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct tm_rowslot {
    uint32_t hash;
    void *row; /* NULL: empty */
} tm_rowslot;

typedef struct tm_rowmap {
    tm_rowslot *slots;
    size_t mask; /* capacity - 1 (capacity is a power of two), 0 when empty */
    size_t n;
} tm_rowmap;

/* Makes room for n rows at most 3/4 full. 0, or -1 when out of memory. */
int tm_rowmap_grow(tm_rowmap *m, size_t n);
static inline int tm_rowmap_reserve(tm_rowmap *m, size_t n)
{
    size_t cap = m->slots ? m->mask + 1 : 0;
    return n <= cap - cap / 4 ? 0 : tm_rowmap_grow(m, n);
}
void tm_rowmap_free(tm_rowmap *m);
/* Forgets every row (the rows themselves are the caller's). */
void tm_rowmap_clear(tm_rowmap *m);
/* Removes the row at slot i, moving later rows of its probe run back. */
void tm_rowmap_delete_at(tm_rowmap *m, size_t i);

static inline size_t tm_rowmap_slot(const tm_rowmap *m, uint32_t h)
{
    return h & m->mask;
}

static inline size_t tm_rowmap_step(const tm_rowmap *m, size_t i)
{
    return (i + 1) & m->mask;
}

static inline void tm_rowmap_put_at(tm_rowmap *m, size_t i, uint32_t h, void *row)
{
    m->slots[i].hash = h;
    m->slots[i].row = row;
    m->n++;
}

/* A hash of byte strings for keys: feed each part with tm_hash_part, then
 * tm_hash_final. Not cryptographic; mixes well enough for tables. */
static inline uint64_t tm_hash_part(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    h = (h ^ (len + 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0x94D049BB133111EBull;
        h ^= h >> 31;
        p += 8;
        len -= 8;
    }
    if (len) {
        /* The last 1-7 bytes by fixed-size loads that cover them all (two
         * overlapping words, or the first, middle and last byte): copying
         * them into a zeroed word byte by byte would stall the load that
         * reads the word back. */
        uint64_t v;
        if (len >= 4) {
            uint32_t a, b;
            memcpy(&a, p, 4);
            memcpy(&b, p + len - 4, 4);
            v = (uint64_t)a | (uint64_t)b << 32;
        } else {
            v = (uint64_t)p[0] | (uint64_t)p[len >> 1] << 8 | (uint64_t)p[len - 1] << 16;
        }
        h = (h ^ v) * 0x94D049BB133111EBull;
        h ^= h >> 29;
    }
    return h;
}

static inline uint32_t tm_hash_final(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 33;
    return (uint32_t)h;
}

#endif
