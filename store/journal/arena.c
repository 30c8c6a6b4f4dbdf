#include "store/journal/arena.h"

#include <stdint.h>
#include <stdlib.h>

#define MIN_CHUNK ((size_t)64 * 1024)
#define MAX_GROWTH ((size_t)16 << 20)

struct tm_arena_chunk {
    tm_arena_chunk *next;
    size_t size, used;
    max_align_t data[]; /* aligned for anything protobuf-c stores */
};

static void *arena_alloc(void *data, size_t size)
{
    tm_arena *a = data;
    const size_t al = _Alignof(max_align_t);
    if (size > SIZE_MAX - sizeof(tm_arena_chunk) - MIN_CHUNK - al)
        return NULL;
    size = (size + al - 1) & ~(al - 1);
    if (size == 0)
        size = al;
    /* Fill the current chunk, then move on to chunks kept from before the
     * last reset, and only then ask malloc for a new one. */
    tm_arena_chunk *c = a->head, *last = NULL;
    while (c) {
        if (c->size - c->used >= size) {
            void *p = (char *)c->data + c->used;
            c->used += size;
            a->head = c;
            return p;
        }
        last = c;
        c = c->next;
        if (c)
            c->used = 0;
    }
    size_t want = MIN_CHUNK;
    if (last && last->size < MAX_GROWTH)
        want = last->size * 2; /* grow geometrically: few chunks in all */
    if (want < size)
        want = size;
    c = malloc(sizeof *c + want);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = want;
    c->used = size;
    if (last)
        last->next = c;
    else
        a->first = c;
    a->head = c;
    return c->data;
}

static void arena_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

void tm_arena_init(tm_arena *a)
{
    a->head = a->first = NULL;
    a->alloc.alloc = arena_alloc;
    a->alloc.free = arena_free;
    a->alloc.allocator_data = a;
}

void tm_arena_reset(tm_arena *a)
{
    a->head = a->first;
    if (a->first)
        a->first->used = 0;
}

void tm_arena_free(tm_arena *a)
{
    tm_arena_chunk *c = a->first;
    while (c) {
        tm_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = a->first = NULL;
}
