#include "replay/engine/rowmap.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "replay/engine/bigmem.h"

int tm_rowmap_grow(tm_rowmap *m, size_t n)
{
    size_t cap = m->slots ? m->mask + 1 : 0;
    if (n <= cap - cap / 4)
        return 0;
    /* No table this big fits in memory; the doubling below would wrap to
     * 0 and never end. */
    if (n > SIZE_MAX / sizeof(tm_rowslot) / 4)
        return -1;
    size_t ncap = cap ? cap : 16;
    while (n > ncap - ncap / 4)
        ncap *= 2;
    tm_rowslot *s = tm_bigmem_zalloc(ncap * sizeof *s);
    if (!s)
        return -1;
    size_t mask = ncap - 1;
    for (size_t i = 0; i < cap; i++) {
        if (!m->slots[i].row)
            continue;
        size_t j = m->slots[i].hash & mask;
        while (s[j].row)
            j = (j + 1) & mask;
        s[j] = m->slots[i];
    }
    tm_bigmem_free(m->slots, cap * sizeof *s);
    m->slots = s;
    m->mask = mask;
    return 0;
}

void tm_rowmap_free(tm_rowmap *m)
{
    if (m->slots)
        tm_bigmem_free(m->slots, (m->mask + 1) * sizeof *m->slots);
    memset(m, 0, sizeof *m);
}

void tm_rowmap_clear(tm_rowmap *m)
{
    /* Released rather than zeroed: a truncated table often stays small. */
    tm_rowmap_free(m);
}

void tm_rowmap_delete_at(tm_rowmap *m, size_t i)
{
    /* Backward shift: move up every later row of the run whose home slot
     * is not between the hole and itself. */
    size_t hole = i;
    for (size_t j = tm_rowmap_step(m, i); m->slots[j].row; j = tm_rowmap_step(m, j)) {
        size_t home = m->slots[j].hash & m->mask;
        /* Is home cyclically in (hole, j]? Then the row must stay. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].row = NULL;
    m->slots[hole].hash = 0;
    m->n--;
}
