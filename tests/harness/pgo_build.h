/* Test helpers (header-only): building protocol messages byte by byte, and
 * loading hex fixtures. */
#ifndef TM_TEST_PGO_BUILD_H
#define TM_TEST_PGO_BUILD_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/hex.h"

typedef struct bb {
    uint8_t *p;
    size_t len, cap;
} bb;

static inline void bb_raw(bb *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

static inline void bb_u8(bb *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    bb_raw(b, &c, 1);
}

static inline void bb_u16(bb *b, unsigned v)
{
    bb_u8(b, (v >> 8) & 0xff);
    bb_u8(b, v & 0xff);
}

static inline void bb_u32(bb *b, uint32_t v)
{
    bb_u16(b, v >> 16);
    bb_u16(b, v & 0xffff);
}

static inline void bb_u64(bb *b, uint64_t v)
{
    bb_u32(b, (uint32_t)(v >> 32));
    bb_u32(b, (uint32_t)v);
}

/* A NUL-terminated string. */
static inline void bb_str(bb *b, const char *s)
{
    bb_raw(b, s, strlen(s) + 1);
}

/* Tuple columns. */
static inline void bb_text(bb *b, const char *s)
{
    bb_u8(b, 't');
    bb_u32(b, (uint32_t)strlen(s));
    bb_raw(b, s, strlen(s));
}

static inline void bb_free(bb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* An exact-size heap copy, so that ASan sees any read past the end. */
static inline uint8_t *bb_exact(const void *src, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    if (n)
        memcpy(p, src, n);
    return p;
}

/* Loads a hex fixture: one message per line. Returns the number of lines;
 * msgs[i]/lens[i] are heap copies (free with fixture_free). */
typedef struct fixture {
    uint8_t **msgs;
    size_t *lens;
    size_t n;
} fixture;

static inline void fixture_load(fixture *f, const char *path)
{
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open fixture %s", path);
    memset(f, 0, sizeof *f);
    size_t cap = 0;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t n;
    while ((n = getline(&line, &linecap, fp)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        ck_assert_msg(n % 2 == 0, "odd hex length on fixture line %zu", f->n + 1);
        if (f->n == cap) {
            cap = cap ? cap * 2 : 64;
            f->msgs = realloc(f->msgs, cap * sizeof *f->msgs);
            f->lens = realloc(f->lens, cap * sizeof *f->lens);
            ck_assert(f->msgs && f->lens);
        }
        uint8_t *m = malloc((size_t)n / 2);
        ck_assert_ptr_nonnull(m);
        for (ssize_t i = 0; i < n; i += 2) {
            int hi = tm_hex_value(line[i]), lo = tm_hex_value(line[i + 1]);
            ck_assert_msg(hi >= 0 && lo >= 0, "bad hex on fixture line %zu", f->n + 1);
            m[i / 2] = (uint8_t)(hi << 4 | lo);
        }
        f->msgs[f->n] = m;
        f->lens[f->n] = (size_t)n / 2;
        f->n++;
    }
    free(line);
    fclose(fp);
}

static inline void fixture_free(fixture *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->msgs[i]);
    free(f->msgs);
    free(f->lens);
    memset(f, 0, sizeof *f);
}

#endif
