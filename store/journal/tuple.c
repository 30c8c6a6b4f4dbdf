#include "store/journal/tuple.h"

#include <stdlib.h>

int tm_colbuf_reserve(tm_colbuf *b, size_t n, tm_error *err)
{
    /* Allocates also for n == 0: callers index b->v + base with base 0
     * (a table without columns), and NULL + 0 is undefined. */
    if (n <= b->cap && b->v)
        return 0;
    /* Double so that a slowly widening stream reallocates rarely. */
    size_t cap = b->cap ? b->cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    tm_value *v = realloc(b->v, cap * sizeof *v);
    if (!v) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory for a row of %zu columns", n);
        return -1;
    }
    b->v = v;
    b->cap = cap;
    return 0;
}

void tm_colbuf_free(tm_colbuf *b)
{
    free(b->v);
    b->v = NULL;
    b->cap = 0;
}

int tm_tuple_decode(const Tidemark__Tuple *t, const tm_value *old, uint32_t n_old, tm_colbuf *out,
                    uint32_t *ncols, tm_error *err)
{
    size_t n = t->has_kinds ? t->kinds.len : 0;
    if (n > UINT32_MAX) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "journal tuple has %zu columns, more than any table can have", n);
        return -1;
    }
    if (tm_colbuf_reserve(out, n, err) < 0)
        return -1;
    const uint8_t *kinds = t->kinds.data;
    const char *data = t->has_data ? (const char *)t->data.data : NULL;
    size_t data_len = t->has_data ? t->data.len : 0;
    size_t li = 0, off = 0;
    tm_value *v = out->v;

    for (size_t i = 0; i < n; i++) {
        switch (kinds[i]) {
        case TM_KIND_NULL:
        case TM_KIND_UNCHANGED:
            v[i] = (tm_value){NULL, 0, (char)kinds[i]};
            break;
        case TM_KIND_TEXT: {
            if (li >= t->n_lengths) {
                tm_error_setc(err, TM_ERR_CORRUPT,
                              "journal tuple is inconsistent: column %zu is a text value but only "
                              "%zu lengths are stored; the journal is damaged (run verify)",
                              i + 1, t->n_lengths);
                return -1;
            }
            uint32_t len = t->lengths[li++];
            if (len > data_len - off) {
                tm_error_setc(err, TM_ERR_CORRUPT,
                              "journal tuple is inconsistent: text value of column %zu has %u "
                              "bytes but only %zu data bytes remain; the journal is damaged "
                              "(run verify)",
                              i + 1, len, data_len - off);
                return -1;
            }
            /* A zero-length value still gets a valid pointer. */
            v[i] = (tm_value){data ? data + off : "", len, TM_KIND_TEXT};
            off += len;
            break;
        }
        case TM_KIND_SAME:
            if (!old || i >= n_old || old[i].kind == TM_KIND_SAME) {
                tm_error_setc(err, TM_ERR_CORRUPT,
                              "journal tuple is inconsistent: column %zu says 'same as the old "
                              "value' but the change has no old value for it; the journal is "
                              "damaged (run verify)",
                              i + 1);
                return -1;
            }
            v[i] = old[i];
            break;
        default:
            tm_error_setc(err, TM_ERR_CORRUPT,
                          "journal tuple has unknown column kind 0x%02x in column %zu; the journal "
                          "is damaged or was written by a newer tidemark",
                          kinds[i], i + 1);
            return -1;
        }
    }
    if (li != t->n_lengths || off != data_len) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "journal tuple is inconsistent: %zu lengths and %zu data bytes stored but "
                      "the text columns use %zu and %zu; the journal is damaged (run verify)",
                      t->n_lengths, data_len, li, off);
        return -1;
    }
    *ncols = (uint32_t)n;
    return 0;
}
