#include "replay/out/out_csv.h"

#include <string.h>

/* Bytes that force quoting (the default delimiter and quote, CR, LF). */
static const bool special[256] = {['\n'] = true, ['\r'] = true, [','] = true, ['"'] = true};

void tm_csv_field(tm_out *o, const char *p, size_t len, bool single_column)
{
    /* The empty string is quoted because unquoted it would read as NULL, and
     * a lone \. because it would read as the end-of-data marker. */
    if (len == 0) {
        tm_out_write(o, "\"\"", 2);
        return;
    }
    bool quote = (single_column && len == 2 && p[0] == '\\' && p[1] == '.');
    for (size_t i = 0; i < len && !quote; i++)
        quote = special[(unsigned char)p[i]];
    if (!quote) {
        tm_out_write(o, p, len);
        return;
    }
    tm_out_putc(o, '"');
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"') {
            tm_out_write(o, p + start, i + 1 - start); /* the quote, then once more */
            start = i;
        }
    }
    tm_out_write(o, p + start, len - start);
    tm_out_putc(o, '"');
}

void tm_csv_header(tm_out *o, const tm_coldesc *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            tm_out_putc(o, ',');
        tm_csv_field(o, cols[i].name, strlen(cols[i].name), n == 1);
    }
    tm_out_putc(o, '\n');
}

/* Room a row's fields may write past their end (whole 16-byte blocks are
 * stored, then the end moved back): the row reserves it on top. */
#define BLOCK_SLACK 16

#ifdef __SSE2__
#include <emmintrin.h>
#include <stdint.h>

/* Bit i set where block byte i is one of the special bytes (or, quotes_only,
 * is '"'). */
static inline unsigned block_mask(__m128i v, bool quotes_only)
{
    __m128i m = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    if (!quotes_only)
        m = _mm_or_si128(_mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(','))),
                         _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))));
    return (unsigned)_mm_movemask_epi8(m);
}

/* Whether the 16 bytes at p may be loaded when fewer belong to the value:
 * they lie in one page, so the load cannot fault; the bytes past the value
 * are masked off. AddressSanitizer would report such loads, so under it
 * short tails go byte by byte. */
static inline bool block_readable(const char *p)
{
#ifdef __SANITIZE_ADDRESS__
    (void)p;
    return false;
#else
    return ((uintptr_t)p & 4095) <= 4096 - 16;
#endif
}

/* The 16 bytes at p, where rem bytes of the value are left (all 16 belong
 * to it when rem >= 16); false when they cannot be loaded. */
static inline bool load_block(const char *p, size_t rem, __m128i *v)
{
    if (rem < 16 && !block_readable(p))
        return false;
    *v = _mm_loadu_si128((const __m128i *)p);
    return true;
}

/* The bits of a block's mask that are the value's bytes. */
static inline unsigned value_bits(size_t rem)
{
    return rem >= 16 ? 0xffffu : (1u << rem) - 1;
}
#endif

/* The length of the prefix of p[0, len) without a special byte. */
static inline size_t plain_prefix(const char *p, size_t len)
{
    size_t i = 0;
#ifdef __SSE2__
    __m128i v;
    for (; i < len && load_block(p + i, len - i, &v); i += 16) {
        unsigned m = block_mask(v, false) & value_bits(len - i);
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
    if (i >= len)
        return len;
#endif
    while (i < len && !special[(unsigned char)p[i]])
        i++;
    return i;
}

/* p[0, len) at d with every '"' doubled; returns the end. d has room for
 * 2 * len + BLOCK_SLACK bytes. */
static inline char *double_quotes(char *d, const char *p, size_t len)
{
    size_t i = 0;
#ifdef __SSE2__
    /* A block is stored whole; the end then moves to just after its first
     * quote (written once more) or to the end of the block's value bytes. */
    __m128i v;
    while (i < len && load_block(p + i, len - i, &v)) {
        _mm_storeu_si128((__m128i *)d, v);
        unsigned m = block_mask(v, true) & value_bits(len - i);
        if (!m) {
            size_t k = len - i < 16 ? len - i : 16;
            d += k;
            i += k;
            continue;
        }
        size_t k = (size_t)__builtin_ctz(m) + 1;
        d += k;
        *d++ = '"';
        i += k;
    }
#endif
    for (; i < len; i++) {
        char c = p[i];
        *d++ = c;
        if (c == '"')
            *d++ = '"';
    }
    return d;
}

/* Field p[0, len) formatted at d, which has room for 2 * len + 2 +
 * BLOCK_SLACK bytes; returns the end. Same rules as tm_csv_field. */
static inline char *field_into(char *d, const char *p, size_t len, bool single_column)
{
    if (len == 0) {
        d[0] = d[1] = '"';
        return d + 2;
    }
    size_t i = plain_prefix(p, len);
    if (i == len && !(single_column && len == 2 && p[0] == '\\' && p[1] == '.')) {
#ifdef __SSE2__
        __m128i v;
        if (len <= 16 && load_block(p, len, &v)) { /* d has the slack */
            _mm_storeu_si128((__m128i *)d, v);
            return d + len;
        }
#endif
        memcpy(d, p, len);
        return d + len;
    }
    *d++ = '"';
    memcpy(d, p, i);
    d = double_quotes(d + i, p + i, len - i);
    *d++ = '"';
    return d;
}

int tm_csv_row(tm_out *o, const tm_value *vals, size_t n, tm_error *err)
{
    if (tm_out_check_resolved(vals, n, "CSV", err) != 0)
        return -1;
    size_t need = n + 1 + BLOCK_SLACK; /* separators, the newline, block stores */
    for (size_t i = 0; i < n; i++)
        if (vals[i].kind == 't')
            need += 2 * vals[i].len + 2; /* the worst case: all quotes, quoted */
    /* The whole row straight into the buffer when it fits (it nearly
     * always does): no per-field calls or bounds checks. */
    char *d = tm_out_reserve(o, need);
    if (d) {
        char *start = d;
        for (size_t i = 0; i < n; i++) {
            if (i)
                *d++ = ',';
            if (vals[i].kind == 't')
                d = field_into(d, vals[i].ptr, vals[i].len, n == 1);
        }
        *d++ = '\n';
        tm_out_commit(o, (size_t)(d - start));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            tm_out_putc(o, ',');
        if (vals[i].kind == 't')
            tm_csv_field(o, vals[i].ptr, vals[i].len, n == 1);
    }
    tm_out_putc(o, '\n');
    return 0;
}
