#include "replay/engine/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/common/crc32c.h"
#include "store/common/filehdr.h"
#include "store/journal/frame.h"
#include "store/common/fsutil.h"
#include "store/common/jsource.h"
#include "store/common/le.h"
#include "store/common/lsn.h"
#include "store/journal/record_decode.h"
#include "store/journal/segment.h"

#define CK_MAGIC "TMCK"
#define CK_VERSION 1
#define CK_HDR_SIZE 56
#define CK_FRAME_TARGET (1u << 20)
#define CK_NSTATS 7

typedef struct ck_hdr {
    uint64_t lsn;
    int64_t max_time, last_time;
    uint64_t frames, records;
} ck_hdr;

static const tm_filehdr_kind ck_kind = {
    CK_MAGIC,
    CK_VERSION,
    CK_HDR_SIZE,
    {"it is not a tidemark checkpoint (bad magic)", "its header checksum does not match", "its"}};

static void hdr_encode(const ck_hdr *h, unsigned char out[CK_HDR_SIZE])
{
    tm_filehdr_start(out, &ck_kind);
    tm_put64(out + 8, h->lsn);
    tm_put64(out + 16, (uint64_t)h->max_time);
    tm_put64(out + 24, (uint64_t)h->last_time);
    tm_put64(out + 32, h->frames);
    tm_put64(out + 40, h->records);
    tm_filehdr_seal(out, &ck_kind);
}

static bool hdr_decode(const unsigned char in[CK_HDR_SIZE], ck_hdr *h, char *why, size_t wl)
{
    if (!tm_filehdr_check(in, &ck_kind, why, wl))
        return false;
    h->lsn = tm_get64(in + 8);
    h->max_time = (int64_t)tm_get64(in + 16);
    h->last_time = (int64_t)tm_get64(in + 24);
    h->frames = tm_get64(in + 32);
    h->records = tm_get64(in + 40);
    return true;
}

/* ---- listing --------------------------------------------------------------- */

static int cmp_ckpt(const void *a, const void *b)
{
    const tm_ckpt *x = a, *y = b;
    return x->lsn < y->lsn ? -1 : x->lsn > y->lsn;
}

/* "%016llx.ckpt" -> lsn */
static bool parse_name(const char *name, uint64_t *lsn)
{
    return tm_name_numbered(name, ".ckpt", lsn);
}

static void read_header(tm_ckpt *c)
{
    c->ok = false;
    int fd;
    tm_error oerr;
    if (tm_jsrc_open(c->path, false, &fd, &oerr) != 0) {
        snprintf(c->why, sizeof c->why, "it cannot be opened (%.200s)", oerr.msg);
        return;
    }
    unsigned char b[CK_HDR_SIZE];
    ssize_t r = tm_pread_full(fd, b, sizeof b, 0, c->path, &oerr);
    tm_jsrc_close(fd);
    ck_hdr h;
    if (r != (ssize_t)sizeof b) {
        snprintf(c->why, sizeof c->why, "its header is cut short");
        return;
    }
    if (!hdr_decode(b, &h, c->why, sizeof c->why))
        return;
    if (h.lsn != c->lsn) {
        snprintf(c->why, sizeof c->why, "its header names another LSN than its file name");
        return;
    }
    c->max_time = h.max_time;
    c->last_time = h.last_time;
    c->ok = true;
}

typedef struct ck_list {
    const char *cdir;
    tm_ckpt *v;
    size_t n, cap;
} ck_list;

static int add_ckpt(const char *name, void *arg, tm_error *err)
{
    ck_list *l = arg;
    uint64_t lsn;
    if (!parse_name(name, &lsn))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        tm_ckpt *a = realloc(l->v, cap * sizeof *a);
        if (!a) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory listing checkpoints");
            return -1;
        }
        l->v = a;
        l->cap = cap;
    }
    tm_ckpt *c = &l->v[l->n];
    memset(c, 0, sizeof *c);
    c->lsn = lsn;
    if (snprintf(c->path, sizeof c->path, "%s/%.21s", l->cdir, name) >= (int)sizeof c->path)
        return 0;
    l->n++;
    read_header(c);
    return 0;
}

int tm_ckpt_list(const char *dir, tm_ckpt **out, size_t *n, tm_error *err)
{
    *out = NULL;
    *n = 0;
    char cdir[PATH_MAX];
    if (snprintf(cdir, sizeof cdir, "%s/%s", dir, TM_CKPT_DIR) >= (int)sizeof cdir) {
        tm_error_set(err, "path %s/%s is too long", dir, TM_CKPT_DIR);
        return -1;
    }
    ck_list l = {.cdir = cdir};
    tm_error lerr;
    if (tm_jsrc_list(cdir, add_ckpt, &l, &lerr) != 0) {
        free(l.v);
        if (tm_error_is(&lerr, TM_ERR_NOT_FOUND))
            return 0;
        *err = lerr;
        return -1;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof *l.v, cmp_ckpt);
    *out = l.v;
    *n = l.n;
    return 0;
}

bool tm_ckpt_state_has_gap(const tm_state *s)
{
    for (size_t i = 0; i < tm_state_ntables(s); i++)
        if (tm_state_table(s, i)->gap)
            return true;
    return false;
}

/* ---- writing --------------------------------------------------------------- */

typedef struct ck_writer {
    int fd;
    const char *path;
    uint64_t off;
    ck_hdr h;
    uint32_t frame_records;
    tm_buf raw, comp;
} ck_writer;

static int cw_flush(ck_writer *w, tm_error *err)
{
    if (!w->frame_records)
        return 0;
    if (tm_frame_compress(w->raw.p, w->raw.len, &w->comp, err) != 0)
        return -1;
    tm_frame_hdr fh = {.version = TM_FRAME_VERSION,
                       .flags = TM_FRAME_HAS_TX | TM_FRAME_TX_END,
                       .clen = (uint32_t)w->comp.len,
                       .raw_len = (uint32_t)w->raw.len,
                       .n_records = w->frame_records,
                       .first_lsn = w->h.lsn,
                       .last_lsn = w->h.lsn,
                       .min_time = w->h.max_time,
                       .max_time = w->h.max_time,
                       .end_lsn = w->h.lsn};
    fh.payload_crc = tm_crc32c(0, w->comp.p, w->comp.len);
    unsigned char hb[TM_FRAME_HDR_SIZE];
    tm_frame_hdr_encode(&fh, hb);
    if (tm_pwrite2_full(w->fd, hb, sizeof hb, w->comp.p, w->comp.len, w->off, w->path, err) != 0)
        return -1;
    w->off += sizeof hb + w->comp.len;
    w->h.frames++;
    w->raw.len = 0;
    w->frame_records = 0;
    return 0;
}

static int cw_put(ck_writer *w, const Tidemark__Record *rec, tm_error *err)
{
    size_t n = tidemark__record__get_packed_size(rec);
    if (tm_buf_reserve(&w->raw, TM_VARINT_MAX + n, err) != 0)
        return -1;
    w->raw.len += tm_varint_put(w->raw.p + w->raw.len, n);
    w->raw.len += tidemark__record__pack(rec, w->raw.p + w->raw.len);
    w->frame_records++;
    w->h.records++;
    return w->raw.len >= CK_FRAME_TARGET ? cw_flush(w, err) : 0;
}

static int put_message(ck_writer *w, const char *prefix, unsigned char *data, size_t len,
                       tm_error *err)
{
    Tidemark__LogicalMessage m = TIDEMARK__LOGICAL_MESSAGE__INIT;
    m.has_transactional = 1;
    m.prefix = (char *)prefix;
    m.has_content = 1;
    m.content.data = data;
    m.content.len = len;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_MESSAGE;
    rec.message = &m;
    return cw_put(w, &rec, err);
}

static int put_stats(ck_writer *w, const tm_table *t, tm_error *err)
{
    unsigned char b[4 + 8 * CK_NSTATS];
    const uint64_t st[CK_NSTATS] = {t->st.inserts,   t->st.updates,      t->st.deletes,
                                    t->st.truncates, t->st.missing_rows, t->st.duplicate_keys,
                                    t->st.unresolved};
    tm_put32(b, t->oid);
    for (int i = 0; i < CK_NSTATS; i++)
        tm_put64(b + 4 + 8 * i, st[i]);
    unsigned char rows[12];
    tm_put32(rows, t->oid);
    tm_put64(rows + 4, t->rows.n);
    return put_message(w, TM_CKPT_STATS_PREFIX, b, sizeof b, err) != 0 ||
                   put_message(w, TM_CKPT_ROWS_PREFIX, rows, sizeof rows, err) != 0
               ? -1
               : 0;
}

/* TRUNCATE, then one INSERT per row (per repeat of a row). */
static int put_rows(ck_writer *w, const tm_table *t, uint8_t *kinds, uint32_t *lens, tm_error *err)
{
    Tidemark__Change c = TIDEMARK__CHANGE__INIT;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &c;
    c.has_op = c.has_relation_oid = c.has_relation_version = 1;
    c.op = TIDEMARK__CHANGE__OP__TRUNCATE;
    c.relation_oid = t->oid;
    c.relation_version = t->cur->version;
    if (cw_put(w, &rec, err) != 0)
        return -1;
    Tidemark__Tuple tu = TIDEMARK__TUPLE__INIT;
    tu.has_kinds = tu.has_data = 1;
    tu.kinds.data = kinds;
    tu.lengths = lens;
    c.op = TIDEMARK__CHANGE__OP__INSERT;
    c.new_tuple = &tu;
    for (size_t i = 0; t->rows.slots && i <= t->rows.mask; i++) {
        const tm_row *r = t->rows.slots[i].row;
        if (!r)
            continue;
        uint32_t nl = 0, start = 0;
        for (uint32_t k = 0; k < r->ncols; k++) {
            uint32_t e = r->end[k];
            if (e & TM_ROW_NULL) {
                kinds[k] = 'n';
            } else {
                kinds[k] = 't';
                lens[nl++] = e - start;
                start = e;
            }
        }
        tu.kinds.len = r->ncols;
        tu.n_lengths = nl;
        tu.data.data = (uint8_t *)tm_row_data(r);
        tu.data.len = start;
        c.relation_version = r->ver;
        for (uint32_t k = 0; k < r->count; k++)
            if (cw_put(w, &rec, err) != 0)
                return -1;
    }
    return 0;
}

static int write_body(ck_writer *w, const tm_state *s, tm_error *err)
{
    size_t nt = tm_state_ntables(s);
    uint64_t nrec = 0;
    for (size_t i = 0; i < nt; i++) {
        const tm_table *t = tm_state_table(s, i);
        for (uint32_t v = 0; v < t->nver; v++) {
            if (!t->ver[v])
                continue;
            Tidemark__Record rec = TIDEMARK__RECORD__INIT;
            rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
            rec.relation = t->ver[v]->rel;
            if (cw_put(w, &rec, err) != 0)
                return -1;
        }
        if (put_stats(w, t, err) != 0)
            return -1;
        /* Rows of a table not captured then are not known: it goes in
         * without them, so that a replay from here refuses it too. */
        if (t->captured)
            nrec += 1 + t->nrows;
    }
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    b.has_commit_lsn = b.has_end_lsn = b.has_commit_time = b.has_n_records = b.has_snapshot = 1;
    b.commit_lsn = b.end_lsn = w->h.lsn;
    b.commit_time = w->h.max_time;
    b.n_records = nrec;
    b.snapshot = 1;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_BEGIN;
    rec.begin = &b;
    if (cw_put(w, &rec, err) != 0)
        return -1;
    uint8_t *kinds = malloc(UINT16_MAX + 1);
    uint32_t *lens = malloc((UINT16_MAX + 1) * sizeof *lens);
    int rc = kinds && lens ? 0 : -1;
    if (rc)
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory writing a checkpoint");
    for (size_t i = 0; i < nt && rc == 0; i++)
        if (tm_state_table(s, i)->captured)
            rc = put_rows(w, tm_state_table(s, i), kinds, lens, err);
    free(kinds);
    free(lens);
    if (rc == 0)
        rc = cw_flush(w, err);
    if (rc == 0) {
        unsigned char hb[CK_HDR_SIZE];
        hdr_encode(&w->h, hb);
        rc = tm_pwrite_full(w->fd, hb, sizeof hb, 0, w->path, err);
    }
    return rc;
}

int tm_ckpt_write(const char *dir, const tm_state *s, uint64_t lsn, int64_t last_time,
                  int64_t max_time, bool *written, tm_error *err)
{
    *written = false;
    char cdir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
    if (snprintf(cdir, sizeof cdir, "%s/%s", dir, TM_CKPT_DIR) >= (int)sizeof cdir ||
        snprintf(path, sizeof path, "%s/%016llx.ckpt", cdir, (unsigned long long)lsn) >=
            (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        tm_error_set(err, "journal path %s is too long", dir);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0)
        return 0; /* kept: checkpoints are immutable */
    ck_writer w = {.path = tmp,
                   .off = CK_HDR_SIZE,
                   .h = {.lsn = lsn, .max_time = max_time, .last_time = last_time}};
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, TM_FILE_MODE);
    if (w.fd < 0) {
        tm_error_errno(err, "cannot create checkpoint %s", tmp);
        return -1;
    }
    int rc = write_body(&w, s, err);
    if (rc == 0)
        rc = tm_fsync_fd(w.fd, tmp, err);
    if (close(w.fd) != 0 && rc == 0) {
        tm_error_errno(err, "cannot close %s", tmp);
        rc = -1;
    }
    tm_buf_free(&w.raw);
    tm_buf_free(&w.comp);
    if (rc == 0 && rename(tmp, path) != 0) {
        tm_error_errno(err, "cannot rename %s to %s", tmp, path);
        rc = -1;
    }
    if (rc != 0) {
        unlink(tmp);
        return -1;
    }
    if (tm_fsync_dir(cdir, err) != 0)
        return -1;
    *written = true;
    return 0;
}

/* ---- loading --------------------------------------------------------------- */

typedef struct ck_load {
    const tm_ckpt *c;
    tm_state *s;
    uint64_t off;  /* of the frame being read (or of the end, after the last) */
    char why[256]; /* damage: what is wrong ("" when no damage was found) */
    ck_hdr h;
    bool in_tx;
    uint64_t tx_left, records;
    unsigned char (*stats)[4 + 8 * CK_NSTATS];
    size_t nstats, stats_cap;
} ck_load;

static int damaged(ck_load *l, tm_error *err, const char *why)
{
    snprintf(l->why, sizeof l->why, "%s", why);
    tm_error_setc(err, TM_ERR_CORRUPT, "checkpoint %s is damaged at offset %llu: %s", l->c->path,
                  (unsigned long long)l->off, why);
    tm_error_at(err, l->c->path, l->off);
    return -1;
}

/* A LogicalMessage before the rows: a table's row count or its counters. */
static int on_message(ck_load *l, const Tidemark__LogicalMessage *m, tm_error *err)
{
    if (m->prefix && !strcmp(m->prefix, TM_CKPT_ROWS_PREFIX)) {
        if (m->content.len != 12)
            return damaged(l, err, "a table's row count has the wrong size");
        uint64_t rows = tm_get64(m->content.data + 4);
        /* each row is a record of the file: a count beyond them would size
         * the table for nothing (or for more than memory holds) */
        if (rows > l->h.records)
            return damaged(l, err, "a table's row count exceeds the records of the checkpoint");
        return tm_state_reserve_rows(l->s, tm_get32(m->content.data), rows, err);
    }
    if (!m->prefix || strcmp(m->prefix, TM_CKPT_STATS_PREFIX) != 0)
        return 0;
    if (m->content.len != sizeof *l->stats)
        return damaged(l, err, "a table's counters have the wrong size");
    if (l->nstats == l->stats_cap) {
        size_t cap = l->stats_cap ? l->stats_cap * 2 : 16;
        void *a = realloc(l->stats, cap * sizeof *l->stats);
        if (!a) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory loading a checkpoint");
            return -1;
        }
        l->stats = a;
        l->stats_cap = cap;
    }
    memcpy(l->stats[l->nstats++], m->content.data, sizeof *l->stats);
    return 0;
}

static int load_record(ck_load *l, const unsigned char *p, size_t len, tm_error *err)
{
    const unsigned char *ch;
    size_t chlen;
    l->records++;
    if (l->in_tx && tm_record_body(p, len, TIDEMARK__RECORD__BODY_CHANGE, &ch, &chlen)) {
        if (l->tx_left == 0)
            return damaged(l, err, "it holds more rows than its snapshot header says");
        l->tx_left--;
        if (tm_state_load_row_packed(l->s, ch, chlen, err) != 0) {
            tm_error_prefix(err, "checkpoint %s: ", l->c->path);
            return -1;
        }
        return 0;
    }
    Tidemark__Record *rec = tidemark__record__unpack(NULL, len, p);
    if (!rec)
        return damaged(l, err, "a record does not decode");
    int rc = 0;
    if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION && !l->in_tx) {
        rc = tm_state_relation(l->s, rec->relation, err);
    } else if (rec->body_case == TIDEMARK__RECORD__BODY_MESSAGE && !l->in_tx) {
        rc = on_message(l, rec->message, err);
    } else if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN && !l->in_tx) {
        const Tidemark__TxBegin *b = rec->begin;
        if (!b->snapshot || b->commit_lsn != l->h.lsn || b->commit_time != l->h.max_time)
            rc = damaged(l, err, "its snapshot header does not match the file header");
        l->in_tx = true;
        l->tx_left = b->n_records;
        tm_state_in_snapshot(l->s, true);
    } else {
        rc = damaged(l, err, "it holds a record out of place");
    }
    tidemark__record__free_unpacked(rec, NULL);
    return rc;
}

static void restore_stats(ck_load *l)
{
    for (size_t i = 0; i < l->nstats; i++) {
        uint32_t oid = tm_get32(l->stats[i]);
        for (size_t k = 0; k < tm_state_ntables(l->s); k++) {
            tm_table *t = tm_state_table(l->s, k);
            if (t->oid != oid)
                continue;
            uint64_t *st[CK_NSTATS] = {&t->st.inserts,   &t->st.updates,      &t->st.deletes,
                                       &t->st.truncates, &t->st.missing_rows, &t->st.duplicate_keys,
                                       &t->st.unresolved};
            for (int j = 0; j < CK_NSTATS; j++)
                *st[j] = tm_get64(l->stats[i] + 4 + 8 * j);
        }
    }
}

/* Loads checkpoint c into s; what damage it found stays in *lp. */
static int load(const tm_ckpt *c, tm_state *s, ck_load *lp, tm_error *err)
{
    ck_load l = {.c = c, .s = s};
    int fd;
    if (tm_jsrc_open(c->path, false, &fd, err) != 0)
        return -1;
    tm_buf io = {0}, raw = {0};
    int rc = -1;
    unsigned char hb[CK_HDR_SIZE];
    char why[256];
    struct stat st;
    if (fstat(fd, &st) != 0) {
        tm_error_errno(err, "cannot stat checkpoint %s", c->path);
        goto out;
    }
    ssize_t got = tm_pread_full(fd, hb, sizeof hb, 0, c->path, err);
    if (got < 0)
        goto out;
    if (got != (ssize_t)sizeof hb) {
        damaged(&l, err, "its header is cut short");
        goto out;
    }
    if (!hdr_decode(hb, &l.h, why, sizeof why)) {
        damaged(&l, err, why);
        goto out;
    }
    if (l.h.lsn != c->lsn) {
        damaged(&l, err, "its header names another LSN than its file name");
        goto out;
    }
    uint64_t off = CK_HDR_SIZE;
    for (uint64_t f = 0; f < l.h.frames; f++) {
        tm_frame_hdr fh;
        l.off = off;
        int r = tm_frame_read(fd, off, NULL, &fh, &io, &raw, why, sizeof why, err);
        if (r < 0)
            goto out;
        if (r > 0) {
            damaged(&l, err, why);
            goto out;
        }
        off += TM_FRAME_HDR_SIZE + fh.clen;
        size_t pos = 0;
        const unsigned char *rec;
        size_t rlen;
        while ((r = tm_frame_next_record(raw.p, raw.len, &pos, &rec, &rlen, why, sizeof why)) == 1)
            if (load_record(&l, rec, rlen, err) != 0)
                goto out;
        if (r < 0) {
            damaged(&l, err, why);
            goto out;
        }
    }
    l.off = off;
    if (off != (uint64_t)st.st_size)
        damaged(&l, err, "its size does not match its frames");
    else if (!l.in_tx || l.tx_left != 0 || l.records != l.h.records)
        damaged(&l, err, "it holds fewer records than its header says");
    else
        rc = 0;
    if (rc == 0 && tm_state_flush(s, err) != 0) {
        tm_error_prefix(err, "checkpoint %s: ", c->path);
        rc = -1;
    }
    if (rc == 0)
        restore_stats(&l);
out:
    tm_state_in_snapshot(s, false);
    free(l.stats);
    tm_buf_free(&io);
    tm_buf_free(&raw);
    tm_jsrc_close(fd);
    *lp = l;
    lp->stats = NULL;
    return rc;
}

int tm_ckpt_load(const tm_ckpt *c, tm_state *s, tm_error *err)
{
    ck_load l;
    return load(c, s, &l, err);
}

/* ---- verify ------------------------------------------------------------- */

static bool select_all(void *arg, const tm_version *v)
{
    (void)arg;
    (void)v;
    return true;
}

/* What a checkpoint that loads holds. */
static void describe(const tm_ckpt *c, const tm_state *s, tm_vresult *res)
{
    char l[TM_LSN_BUFLEN];
    uint64_t rows = 0;
    for (size_t i = 0; i < tm_state_ntables(s); i++)
        rows += tm_state_table(s, i)->nrows;
    snprintf(res->text, sizeof res->text, "checkpoint at LSN %s, tables=%zu rows=%llu",
             tm_lsn_format(c->lsn, l), tm_state_ntables(s), (unsigned long long)rows);
}

int tm_ckpt_verify(const char *path, tm_vresult *res, tm_error *err)
{
    tm_ckpt c = {0};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    res->damaged = true;
    if (!parse_name(base, &c.lsn) ||
        snprintf(c.path, sizeof c.path, "%s", path) >= (int)sizeof c.path) {
        snprintf(res->text, sizeof res->text, "its name is not that of a checkpoint");
        return 0;
    }
    tm_state *s = tm_state_new(select_all, NULL, err);
    if (!s)
        return -1;
    ck_load l;
    tm_error lerr;
    int rc = load(&c, s, &l, &lerr);
    if (rc == 0)
        describe(&c, s, res);
    tm_state_free(s);
    if (rc != 0 && tm_error_is(&lerr, TM_ERR_NOMEM)) {
        *err = lerr;
        return -1;
    }
    res->damaged = rc != 0;
    res->at_offset = rc != 0 && l.why[0];
    res->offset = l.off;
    if (rc != 0)
        snprintf(res->text, sizeof res->text, "%s", l.why[0] ? l.why : lerr.msg);
    return 0;
}
