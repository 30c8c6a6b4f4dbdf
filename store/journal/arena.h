/* A bump allocator behind a ProtobufCAllocator: unpacking a Record takes its
 * memory from a few reused chunks instead of one malloc per value, and
 * tm_arena_reset frees everything at once (protobuf-c's free calls are
 * no-ops). */
#ifndef TM_ARENA_H
#define TM_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct tm_arena_chunk tm_arena_chunk;

typedef struct tm_arena {
    tm_arena_chunk *head;     /* chunk being filled */
    tm_arena_chunk *first;    /* all chunks, in order of creation */
    ProtobufCAllocator alloc; /* pass &arena.alloc to protobuf-c */
} tm_arena;

void tm_arena_init(tm_arena *a);
/* Forget every allocation; the chunks are kept for reuse. */
void tm_arena_reset(tm_arena *a);
void tm_arena_free(tm_arena *a);

#endif
