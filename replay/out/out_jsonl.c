#include "replay/out/out_jsonl.h"

#include <stdlib.h>
#include <string.h>

#include "replay/query/jsonscan.h"
#include "store/common/hex.h"
#include "store/common/utf8.h"

void tm_json_string(tm_out *o, const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    tm_out_putc(o, '"');
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        char esc[7];
        size_t elen = 2;
        if (c >= 0x80) {
            size_t n = tm_utf8_len(s + i, len - i);
            if (n) {
                i += n - 1;
                continue;
            }
            memcpy(esc, "\\ufffd", 6);
            elen = 6;
        } else if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        } else {
            esc[0] = '\\';
            switch (c) {
            case '"':
            case '\\':
                esc[1] = (char)c;
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = tm_hex_digit(c >> 4);
                esc[5] = tm_hex_digit(c);
                elen = 6;
            }
        }
        tm_out_write(o, p + start, i - start);
        tm_out_write(o, esc, elen);
        start = i + 1;
    }
    tm_out_write(o, p + start, len - start);
    tm_out_putc(o, '"');
}

/* Whether p is exactly one JSON number. */
static bool json_number(const char *p, size_t len)
{
    return len > 0 && tm_json_number_end(p, p + len) == p + len;
}

void tm_json_embed(tm_out *o, const char *p, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n' || p[i] == '\r') {
            tm_out_write(o, p + start, i - start);
            start = i + 1;
        }
    }
    tm_out_write(o, p + start, len - start);
}

int tm_jsonl_init(tm_jsonl *j, const tm_coldesc *cols, size_t n, tm_error *err)
{
    memset(j, 0, sizeof *j);
    tm_out keys;
    if (tm_out_init_mem(&keys, err) < 0)
        return -1;
    j->cls = malloc((n ? n : 1) * sizeof *j->cls);
    j->key_off = malloc((n + 1) * sizeof *j->key_off);
    if (!j->cls || !j->key_off)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        j->cls[i] = tm_type_class(cols[i].type_oid, cols[i].type_name);
        j->key_off[i] = keys.len;
        tm_json_string(&keys, cols[i].name, strlen(cols[i].name));
        tm_out_putc(&keys, ':');
    }
    j->key_off[n] = keys.len;
    if (keys.err)
        goto oom;
    j->keys = keys.buf; /* taken over */
    j->n = n;
    return 0;
oom:
    tm_out_free(&keys);
    tm_jsonl_free(j);
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory preparing JSON output");
    return -1;
}

void tm_jsonl_free(tm_jsonl *j)
{
    free(j->cls);
    free(j->keys);
    free(j->key_off);
    memset(j, 0, sizeof *j);
}

void tm_jsonl_value(tm_out *o, tm_tclass cls, const tm_value *v)
{
    if (v->kind != 't') {
        tm_out_write(o, "null", 4);
        return;
    }
    switch (cls) {
    case TM_TC_INT:
    case TM_TC_NUMERIC:
    case TM_TC_FLOAT4:
    case TM_TC_FLOAT8:
        if (json_number(v->ptr, v->len))
            tm_out_write(o, v->ptr, v->len);
        else
            tm_json_string(o, v->ptr, v->len);
        break;
    case TM_TC_BOOL:
        if (v->len == 1 && (v->ptr[0] == 't' || v->ptr[0] == 'f'))
            tm_out_puts(o, v->ptr[0] == 't' ? "true" : "false");
        else
            tm_json_string(o, v->ptr, v->len);
        break;
    case TM_TC_JSON:
    case TM_TC_JSONB:
        if (v->len)
            tm_json_embed(o, v->ptr, v->len);
        else /* not valid json; keep the line valid */
            tm_json_string(o, v->ptr, v->len);
        break;
    default:
        tm_json_string(o, v->ptr, v->len);
    }
}

int tm_jsonl_row(const tm_jsonl *j, tm_out *o, const tm_value *vals, tm_error *err)
{
    if (tm_out_check_resolved(vals, j->n, "JSON", err) != 0)
        return -1;
    tm_out_putc(o, '{');
    for (size_t i = 0; i < j->n; i++) {
        if (i)
            tm_out_putc(o, ',');
        tm_out_write(o, j->keys + j->key_off[i], j->key_off[i + 1] - j->key_off[i]);
        tm_jsonl_value(o, j->cls[i], &vals[i]);
    }
    tm_out_write(o, "}\n", 2);
    return 0;
}
