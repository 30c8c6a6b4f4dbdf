#include "capture/decode/streamtx.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/decode/txbuf.h"
#include "store/journal/segment.h"

/* A run of consecutive records of one subtransaction. A rolled-back
 * savepoint may own several runs (its own savepoints' records sit between
 * them). */
typedef struct run {
    uint32_t xid;
    bool aborted;
    uint64_t first, n;
    tm_relrows *rows;
    size_t nrows, rows_cap;
} run;

struct tm_streamtx {
    uint32_t xid;
    tm_txbuf *buf;
    run *runs;
    size_t nruns, runs_cap;
    uint64_t count, kept;
    size_t cursor; /* tm_streamtx_write: the run holding the next index */
    struct tm_streamtx *next;
};

struct tm_streams {
    char *dir;
    size_t buffer;
    tm_streamtx *open;
    size_t n;
};

int tm_relrows_add(tm_relrows **a, size_t *n, size_t *cap, uint32_t oid, uint32_t rows)
{
    for (size_t i = 0; i < *n; i++)
        if ((*a)[i].oid == oid) {
            (*a)[i].rows += rows;
            return 0;
        }
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        tm_relrows *g = realloc(*a, c * sizeof *g);
        if (!g)
            return -1;
        *a = g;
        *cap = c;
    }
    (*a)[(*n)++] = (tm_relrows){oid, rows};
    return 0;
}

tm_streams *tm_streams_new(const char *dir, size_t buffer, tm_error *err)
{
    tm_streams *ss = calloc(1, sizeof *ss);
    if (!ss || !(ss->dir = strdup(dir))) {
        free(ss);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    ss->buffer = buffer;
    DIR *d = opendir(dir);
    if (!d) {
        tm_error_errno(err, "cannot read journal directory %s", dir);
        tm_streams_free(ss);
        return NULL;
    }
    char path[4096];
    for (struct dirent *e; (e = readdir(d));)
        if (tm_name_stream_spool(e->d_name)) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    return ss;
}

static void free_tx(tm_streamtx *t)
{
    tm_txbuf_free(t->buf); /* removes the spool */
    for (size_t i = 0; i < t->nruns; i++)
        free(t->runs[i].rows);
    free(t->runs);
    free(t);
}

void tm_streams_reset(tm_streams *ss)
{
    while (ss->open) {
        tm_streamtx *n = ss->open->next;
        free_tx(ss->open);
        ss->open = n;
    }
    ss->n = 0;
}

void tm_streams_free(tm_streams *ss)
{
    if (!ss)
        return;
    tm_streams_reset(ss);
    free(ss->dir);
    free(ss);
}

size_t tm_streams_open(const tm_streams *ss)
{
    return ss->n;
}

tm_streamtx *tm_streams_get(tm_streams *ss, uint32_t xid, bool create, tm_error *err)
{
    for (tm_streamtx *t = ss->open; t; t = t->next)
        if (t->xid == xid)
            return t;
    if (!create)
        return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/stream-%u.spool", ss->dir, xid);
    tm_streamtx *t = calloc(1, sizeof *t);
    if (!t || !(t->buf = tm_txbuf_new(path, ss->buffer))) {
        free(t);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->xid = xid;
    t->next = ss->open;
    ss->open = t;
    ss->n++;
    return t;
}

void tm_streams_drop(tm_streams *ss, uint32_t xid)
{
    for (tm_streamtx **p = &ss->open; *p; p = &(*p)->next)
        if ((*p)->xid == xid) {
            tm_streamtx *t = *p;
            *p = t->next;
            free_tx(t);
            ss->n--;
            return;
        }
}

int tm_streamtx_add(tm_streamtx *t, uint32_t subxid, const Tidemark__Record *rec, tm_error *err)
{
    if (tm_txbuf_add(t->buf, rec, err) != 0)
        return -1;
    run *last = t->nruns ? &t->runs[t->nruns - 1] : NULL;
    if (!last || last->xid != subxid) {
        if (t->nruns == t->runs_cap) {
            size_t c = t->runs_cap ? t->runs_cap * 2 : 8;
            run *g = realloc(t->runs, c * sizeof *g);
            if (!g) {
                tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
                return -1;
            }
            t->runs = g;
            t->runs_cap = c;
        }
        last = &t->runs[t->nruns++];
        *last = (run){.xid = subxid, .first = t->count};
    }
    last->n++;
    t->count++;
    t->kept++;
    return 0;
}

int tm_streamtx_count_row(tm_streamtx *t, uint32_t relid, tm_error *err)
{
    if (!t->nruns)
        return 0;
    run *r = &t->runs[t->nruns - 1];
    if (tm_relrows_add(&r->rows, &r->nrows, &r->rows_cap, relid, 1) != 0) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    return 0;
}

void tm_streamtx_abort_sub(tm_streamtx *t, uint32_t subxid)
{
    for (size_t i = 0; i < t->nruns; i++)
        if (t->runs[i].xid == subxid && !t->runs[i].aborted) {
            t->runs[i].aborted = true;
            t->kept -= t->runs[i].n;
        }
}

uint64_t tm_streamtx_kept(const tm_streamtx *t)
{
    return t->kept;
}

int tm_streamtx_rows(const tm_streamtx *t, tm_relrows **out, size_t *n, tm_error *err)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < t->nruns; i++)
        for (size_t k = 0; !t->runs[i].aborted && k < t->runs[i].nrows; k++)
            if (tm_relrows_add(out, n, &cap, t->runs[i].rows[k].oid, t->runs[i].rows[k].rows) !=
                0) {
                free(*out);
                *out = NULL;
                tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
                return -1;
            }
    return 0;
}

/* Indexes come in order: the cursor only moves forward. */
static bool keep_index(void *arg, uint64_t index)
{
    tm_streamtx *t = arg;
    while (t->cursor < t->nruns && index >= t->runs[t->cursor].first + t->runs[t->cursor].n)
        t->cursor++;
    return t->cursor < t->nruns && !t->runs[t->cursor].aborted;
}

int tm_streamtx_write(tm_streamtx *t, tm_writer *w, const Tidemark__TxBegin *hdr, tm_error *err)
{
    t->cursor = 0;
    return tm_txbuf_write_tx_kept(t->buf, w, hdr, keep_index, t, err);
}
