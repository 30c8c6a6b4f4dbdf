#include "capture/decode/txbuf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tm_txbuf {
    uint8_t *mem; /* length-prefixed (u32, host order) packed records */
    size_t len, cap, budget;
    char *spool_path;
    FILE *spool; /* open once the budget was exceeded */
    uint64_t count, spooled;
    uint8_t *scratch; /* read-back buffer for spooled records */
    size_t scratch_cap;
};

tm_txbuf *tm_txbuf_new(const char *spool_path, size_t budget)
{
    tm_txbuf *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->spool_path = strdup(spool_path);
    b->budget = budget;
    return b;
}

static void close_spool(tm_txbuf *b)
{
    if (b->spool) {
        fclose(b->spool);
        b->spool = NULL;
        unlink(b->spool_path);
    }
}

void tm_txbuf_reset(tm_txbuf *b)
{
    close_spool(b);
    b->len = 0;
    b->count = 0;
    b->spooled = 0;
}

void tm_txbuf_free(tm_txbuf *b)
{
    if (!b)
        return;
    close_spool(b);
    free(b->mem);
    free(b->scratch);
    free(b->spool_path);
    free(b);
}

static int spill(tm_txbuf *b, tm_error *err)
{
    if (!b->spool) {
        int fd = open(b->spool_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || !(b->spool = fdopen(fd, "w+b"))) {
            tm_error_errno(err, "cannot create spool file %s for a large transaction",
                           b->spool_path);
            if (fd >= 0)
                close(fd);
            return -1;
        }
    }
    if (fwrite(b->mem, 1, b->len, b->spool) != b->len) {
        tm_error_errno(err, "writing spool file %s", b->spool_path);
        return -1;
    }
    b->spooled += b->len;
    b->len = 0;
    return 0;
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 65536;
    while (ncap < need)
        ncap *= 2;
    uint8_t *grown = realloc(*buf, ncap);
    if (!grown)
        return -1;
    *buf = grown;
    *cap = ncap;
    return 0;
}

int tm_txbuf_add(tm_txbuf *b, const Tidemark__Record *rec, tm_error *err)
{
    size_t sz = protobuf_c_message_get_packed_size(&rec->base);
    if (b->len + sz + 4 > b->budget && b->len > 0 && spill(b, err) != 0)
        return -1;
    if (reserve(&b->mem, &b->cap, b->len + sz + 4) != 0) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory buffering a transaction");
        return -1;
    }
    uint32_t n = (uint32_t)sz;
    memcpy(b->mem + b->len, &n, 4);
    protobuf_c_message_pack(&rec->base, b->mem + b->len + 4);
    b->len += sz + 4;
    b->count++;
    return 0;
}

uint64_t tm_txbuf_count(const tm_txbuf *b)
{
    return b->count;
}

uint64_t tm_txbuf_bytes(const tm_txbuf *b)
{
    return b->spooled + b->len;
}

static int drain_mem(const uint8_t *p, size_t len, tm_txbuf_fn fn, void *arg, tm_error *err)
{
    size_t off = 0;
    while (off < len) {
        uint32_t n;
        memcpy(&n, p + off, 4);
        if (fn(arg, p + off + 4, n, err) != 0)
            return -1;
        off += 4 + (size_t)n;
    }
    return 0;
}

int tm_txbuf_drain(tm_txbuf *b, tm_txbuf_fn fn, void *arg, tm_error *err)
{
    if (b->spool) {
        if (fflush(b->spool) != 0 || fseek(b->spool, 0, SEEK_SET) != 0) {
            tm_error_errno(err, "rereading spool file %s", b->spool_path);
            return -1;
        }
        for (uint64_t done = 0; done < b->spooled;) {
            uint32_t n;
            if (fread(&n, 4, 1, b->spool) != 1 || reserve(&b->scratch, &b->scratch_cap, n) != 0 ||
                fread(b->scratch, 1, n, b->spool) != n) {
                tm_error_errno(err, "rereading spool file %s", b->spool_path);
                return -1;
            }
            if (fn(arg, b->scratch, n, err) != 0)
                return -1;
            done += 4 + (uint64_t)n;
        }
    }
    return drain_mem(b->mem, b->len, fn, arg, err);
}

static int put_packed_cb(void *arg, const uint8_t *rec, size_t len, tm_error *err)
{
    return tm_writer_put_packed(arg, rec, len, err);
}

int tm_txbuf_write_tx(tm_txbuf *b, tm_writer *w, const Tidemark__TxBegin *hdr, tm_error *err)
{
    if (tm_writer_begin_tx(w, hdr, err) != 0 || tm_txbuf_drain(b, put_packed_cb, w, err) != 0)
        return -1;
    return tm_writer_end_tx(w, err);
}

typedef struct kept_ctx {
    tm_writer *w;
    tm_txbuf_keep_fn keep;
    void *arg;
    uint64_t index;
} kept_ctx;

static int put_kept_cb(void *arg, const uint8_t *rec, size_t len, tm_error *err)
{
    kept_ctx *k = arg;
    if (!k->keep(k->arg, k->index++))
        return 0;
    return tm_writer_put_packed(k->w, rec, len, err);
}

int tm_txbuf_write_tx_kept(tm_txbuf *b, tm_writer *w, const Tidemark__TxBegin *hdr,
                           tm_txbuf_keep_fn keep, void *arg, tm_error *err)
{
    kept_ctx k = {.w = w, .keep = keep, .arg = arg};
    if (tm_writer_begin_tx(w, hdr, err) != 0 || tm_txbuf_drain(b, put_kept_cb, &k, err) != 0)
        return -1;
    return tm_writer_end_tx(w, err);
}
