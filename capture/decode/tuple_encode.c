#include "capture/decode/tuple_encode.h"

#include <stdlib.h>
#include <string.h>

/* Grows *buf to hold at least need elements of size elem (doubling). */
static int grow(void **buf, size_t *cap, size_t need, size_t elem, tm_error *err)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *p = realloc(*buf, n * elem);
    if (!p) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory encoding a row (%zu bytes needed)",
                      need * elem);
        return -1;
    }
    *buf = p;
    *cap = n;
    return 0;
}

static inline int same_text(const tm_value *a, const tm_value *b)
{
    return b->kind == TM_KIND_TEXT && a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

int tm_tuple_encode(tm_tuple_enc *e, const tm_value *cols, uint32_t ncols, const tm_value *old,
                    uint32_t n_old, Tidemark__Tuple *out, tm_error *err)
{
    /* First pass: sizes, so that each buffer grows at most once per row. */
    size_t n_text = 0, bytes = 0;
    for (uint32_t i = 0; i < ncols; i++) {
        if (cols[i].kind == TM_KIND_TEXT) {
            n_text++;
            bytes += cols[i].len;
        }
    }
    if (grow((void **)&e->kinds, &e->kinds_cap, ncols, 1, err) < 0 ||
        grow((void **)&e->lengths, &e->lengths_cap, n_text, sizeof(uint32_t), err) < 0 ||
        grow((void **)&e->data, &e->data_cap, bytes, 1, err) < 0)
        return -1;

    size_t li = 0, off = 0;
    for (uint32_t i = 0; i < ncols; i++) {
        const tm_value *v = &cols[i];
        const tm_value *o = old && i < n_old ? &old[i] : NULL;
        switch (v->kind) {
        case TM_KIND_NULL:
            e->kinds[i] = TM_KIND_NULL;
            break;
        case TM_KIND_UNCHANGED:
            e->kinds[i] = o && o->kind == TM_KIND_TEXT ? TM_KIND_SAME : TM_KIND_UNCHANGED;
            break;
        case TM_KIND_TEXT:
            if (o && same_text(v, o)) {
                e->kinds[i] = TM_KIND_SAME;
                break;
            }
            e->kinds[i] = TM_KIND_TEXT;
            e->lengths[li++] = v->len;
            if (v->len) { /* an empty value may come with no buffer at all */
                memcpy(e->data + off, v->ptr, v->len);
                off += v->len;
            }
            break;
        case TM_KIND_BINARY:
            tm_error_setc(err, TM_ERR_FORMAT,
                          "column %u is a binary value: tidemark journals values in text form and "
                          "must not request binary mode from pgoutput",
                          i + 1);
            return -1;
        default:
            tm_error_setc(err, TM_ERR_FORMAT,
                          "column %u has kind 0x%02x, which is not a pgoutput column kind", i + 1,
                          (unsigned char)v->kind);
            return -1;
        }
    }
    tidemark__tuple__init(out);
    out->has_kinds = 1;
    out->kinds.len = ncols;
    out->kinds.data = e->kinds;
    out->n_lengths = li;
    out->lengths = e->lengths;
    out->has_data = 1;
    out->data.len = off;
    out->data.data = e->data;
    return 0;
}

void tm_tuple_enc_free(tm_tuple_enc *e)
{
    free(e->kinds);
    free(e->lengths);
    free(e->data);
    memset(e, 0, sizeof *e);
}
