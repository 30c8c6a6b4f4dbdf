/* Row counts and the rows each TRUNCATE removed (rowcount.h): counting
 * through the journal, and the DIR/rowcounts cache. */
#include "replay/keys/rowcount.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/engine/change_decode.h"
#include "store/common/crc32c.h"
#include "store/common/fsutil.h"
#include "store/common/le.h"
#include "store/common/log.h"
#include "store/journal/horizon.h"
#include "store/journal/journal.h"

#define RC_MAGIC "TMRC"
#define RC_VERSION 1
#define RC_HDR 32
#define RC_TABLE 16
#define RC_TRUNC 24
#define RC_MAX_BYTES (256u << 20)

typedef struct rc_table {
    uint32_t oid; /* 0: a free slot */
    bool known;
    uint64_t count;
} rc_table;

typedef struct rc_trunc {
    uint64_t lsn;
    uint32_t oid;
    bool known;
    uint64_t rows;
} rc_trunc;

struct tm_rowcount {
    char *dir;
    uint64_t counted; /* every transaction with a commit LSN up to it is counted */
    rc_table *t;      /* open addressing by oid; a power of two of slots */
    size_t nt, tcap;
    rc_trunc *tr; /* in commit LSN order */
    size_t ntr, trcap;
    bool unknown_start; /* counting began at a retention horizon: tables met start unknown */
};

static int oom(tm_error *err)
{
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory counting rows");
    return -1;
}

/* ---- tables ------------------------------------------------------------- */

static size_t slot_of(const tm_rowcount *rc, uint32_t oid)
{
    size_t i = (oid * 2654435761u) & (rc->tcap - 1);
    while (rc->t[i].oid && rc->t[i].oid != oid)
        i = (i + 1) & (rc->tcap - 1);
    return i;
}

static int grow_tables(tm_rowcount *rc, tm_error *err)
{
    size_t cap = rc->tcap ? 2 * rc->tcap : 64;
    rc_table *old = rc->t, *t = calloc(cap, sizeof *t);
    if (!t)
        return oom(err);
    size_t oldcap = rc->tcap;
    rc->t = t;
    rc->tcap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].oid)
            rc->t[slot_of(rc, old[i].oid)] = old[i];
    free(old);
    return 0;
}

/* The table of oid, added when new (with no rows, as the state engine
 * starts it); NULL when out of memory. */
static rc_table *table(tm_rowcount *rc, uint32_t oid, tm_error *err)
{
    if (2 * (rc->nt + 1) > rc->tcap && grow_tables(rc, err) != 0)
        return NULL;
    rc_table *t = &rc->t[slot_of(rc, oid)];
    if (!t->oid) {
        *t = (rc_table){.oid = oid, .known = !rc->unknown_start};
        rc->nt++;
    }
    return t;
}

static int add_trunc(tm_rowcount *rc, uint64_t lsn, const rc_table *t, tm_error *err)
{
    rc_trunc *v = tm_grow(rc->tr, &rc->trcap, rc->ntr, sizeof *v, 16, "counting rows", err);
    if (!v)
        return -1;
    rc->tr = v;
    rc->tr[rc->ntr++] = (rc_trunc){lsn, t->oid, t->known, t->count};
    return 0;
}

/* ---- counting ----------------------------------------------------------- */

typedef struct counting {
    tm_rowcount *rc;
    tm_change_decoder dec;
    bool in_tx, snapshot;
    uint64_t left, lsn;
} counting;

static int on_change(counting *k, const uint8_t *p, size_t len, tm_error *err)
{
    tm_change c;
    if (tm_change_peek(&k->dec, p, len, &c, err) != 0)
        return -1;
    rc_table *t = table(k->rc, c.relation_oid, err);
    if (!t)
        return -1;
    switch (c.op) {
    case TIDEMARK__CHANGE__OP__INSERT:
        t->count++;
        break;
    case TIDEMARK__CHANGE__OP__DELETE:
        if (t->count)
            t->count--;
        break;
    case TIDEMARK__CHANGE__OP__TRUNCATE:
        /* A snapshot's TRUNCATE only says that its rows replace the table's. */
        if (!k->snapshot && add_trunc(k->rc, k->lsn, t, err) != 0)
            return -1;
        t->count = 0;
        t->known = true;
        break;
    default:
        break;
    }
    return 0;
}

static void on_begin(counting *k, const Tidemark__TxBegin *b)
{
    k->lsn = b->commit_lsn;
    k->snapshot = b->snapshot;
    k->left = b->n_records;
    k->in_tx = k->left > 0;
    if (!k->in_tx && b->commit_lsn > k->rc->counted)
        k->rc->counted = b->commit_lsn;
}

static void on_gap(tm_rowcount *rc)
{
    for (size_t i = 0; i < rc->tcap; i++)
        rc->t[i].known = false;
}

static int on_record(counting *k, const Tidemark__Record *rec, const uint8_t *raw, size_t len,
                     tm_error *err)
{
    if (k->in_tx) {
        if (!rec && on_change(k, raw, len, err) != 0)
            return -1;
        if (--k->left == 0) {
            k->in_tx = false;
            if (k->lsn > k->rc->counted)
                k->rc->counted = k->lsn;
        }
        return 0;
    }
    if (!rec) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the journal holds a change outside any transaction; it is damaged (run "
                      "tidemark verify)");
        return -1;
    }
    if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN)
        on_begin(k, rec->begin);
    else if (rec->body_case == TIDEMARK__RECORD__BODY_GAP)
        on_gap(k->rc);
    return 0;
}

/* Counts from where rc is to the end of the journal. The reader delivers
 * whole transactions only (it stops at the last frame that ends one), so
 * what is counted is always up to a commit. */
static int count_on(tm_rowcount *rc, tm_error *err)
{
    tm_reader *r;
    if (tm_reader_open(rc->dir, &r, err) != 0)
        return -1;
    counting k = {.rc = rc};
    /* Counts not carried up to a retention horizon cannot be: the rows
     * before it are gone, so they are unknown until a snapshot or
     * TRUNCATE sets them, as after a gap. */
    tm_horizon h;
    int hz = tm_horizon_read(rc->dir, &h, err);
    if (hz < 0) {
        tm_reader_close(r);
        return -1;
    }
    if (hz == 1 && rc->counted < h.lsn) {
        on_gap(rc);
        rc->unknown_start = true;
        rc->counted = h.lsn;
    }
    tm_change_decoder_init(&k.dec);
    int more = 0;
    if (rc->counted == 0 || tm_reader_seek_lsn(r, rc->counted + 1, err) == 0) {
        const Tidemark__Record *rec;
        const uint8_t *raw;
        size_t len;
        while ((more = tm_reader_next_lazy(r, &rec, &raw, &len, err)) == 1)
            if (on_record(&k, rec, raw, len, err) != 0) {
                more = -1;
                break;
            }
    } else {
        more = -1;
    }
    tm_change_decoder_free(&k.dec);
    tm_reader_close(r);
    return more;
}

/* ---- the file ------------------------------------------------------------ */

static int save(tm_rowcount *rc, tm_error *err)
{
    size_t len = RC_HDR + rc->nt * RC_TABLE + rc->ntr * RC_TRUNC + 4;
    unsigned char *b = calloc(1, len);
    if (!b)
        return oom(err);
    memcpy(b, RC_MAGIC, 4);
    tm_put16(b + 4, RC_VERSION);
    tm_put64(b + 8, rc->counted);
    tm_put32(b + 16, (uint32_t)rc->nt);
    tm_put32(b + 20, (uint32_t)rc->ntr);
    unsigned char *p = b + RC_HDR;
    for (size_t i = 0; i < rc->tcap; i++) {
        const rc_table *t = &rc->t[i];
        if (!t->oid)
            continue;
        tm_put32(p, t->oid);
        tm_put32(p + 4, t->known);
        tm_put64(p + 8, t->count);
        p += RC_TABLE;
    }
    for (size_t i = 0; i < rc->ntr; i++, p += RC_TRUNC) {
        tm_put64(p, rc->tr[i].lsn);
        tm_put32(p + 8, rc->tr[i].oid);
        tm_put32(p + 12, rc->tr[i].known);
        tm_put64(p + 16, rc->tr[i].rows);
    }
    tm_put32(p, tm_crc32c(0, b, len - 4));
    int r = tm_write_file_atomic(rc->dir, TM_ROWCOUNT_FILE, b, len, err);
    free(b);
    return r;
}

/* parse()'s answer when memory ran out (err says so). */
static const char rc_nomem[] = "out of memory";

/* Reads b[0..len) into rc (empty: as found); NULL, or what is wrong. */
static const char *parse(tm_rowcount *rc, const unsigned char *b, size_t len, tm_error *err)
{
    if (len < RC_HDR + 4 || memcmp(b, RC_MAGIC, 4) != 0)
        return "not a row count file";
    if (tm_get16(b + 4) != RC_VERSION)
        return "a version of the file this tidemark does not read";
    uint64_t nt = tm_get32(b + 16), ntr = tm_get32(b + 20);
    if (len != RC_HDR + nt * RC_TABLE + ntr * RC_TRUNC + 4)
        return "its size does not match its counts (cut short?)";
    if (tm_get32(b + len - 4) != tm_crc32c(0, b, len - 4))
        return "checksum mismatch";
    const unsigned char *p = b + RC_HDR;
    for (uint64_t i = 0; i < nt; i++, p += RC_TABLE) {
        rc_table *t = table(rc, tm_get32(p), err);
        if (!t)
            return rc_nomem;
        t->known = tm_get32(p + 4) & 1;
        t->count = tm_get64(p + 8);
    }
    for (uint64_t i = 0; i < ntr; i++, p += RC_TRUNC) {
        rc_table t = {
            .oid = tm_get32(p + 8), .known = tm_get32(p + 12) & 1, .count = tm_get64(p + 16)};
        if (i && tm_get64(p) < rc->tr[i - 1].lsn)
            return "its TRUNCATEs are out of order";
        if (add_trunc(rc, tm_get64(p), &t, err) != 0)
            return rc_nomem;
    }
    rc->counted = tm_get64(b + 8);
    return NULL;
}

static void reset(tm_rowcount *rc)
{
    free(rc->t);
    free(rc->tr);
    rc->t = NULL;
    rc->tr = NULL;
    rc->nt = rc->tcap = rc->ntr = rc->trcap = 0;
    rc->counted = 0;
}

tm_rowcount *tm_rowcount_open(const char *dir, tm_error *err)
{
    tm_rowcount *rc = calloc(1, sizeof *rc);
    if (!rc || !(rc->dir = strdup(dir))) {
        free(rc);
        oom(err);
        return NULL;
    }
    char *path;
    if (asprintf(&path, "%s/%s", dir, TM_ROWCOUNT_FILE) < 0) {
        tm_rowcount_free(rc);
        oom(err);
        return NULL;
    }
    unsigned char *b;
    size_t len;
    tm_error rerr;
    if (tm_read_file(path, RC_MAX_BYTES, &b, &len, &rerr) == 0) {
        const char *why = parse(rc, b, len, err);
        free(b);
        if (why == rc_nomem) {
            free(path);
            tm_rowcount_free(rc);
            return NULL;
        }
        if (why) {
            tm_log_debug("%s is not used (%s); counting again", path, why);
            reset(rc);
        }
    }
    free(path);
    return rc;
}

void tm_rowcount_free(tm_rowcount *rc)
{
    if (!rc)
        return;
    reset(rc);
    free(rc->dir);
    free(rc);
}

int tm_rowcount_update(tm_rowcount *rc, tm_error *err)
{
    uint64_t before = rc->counted;
    size_t ntr = rc->ntr;
    if (count_on(rc, err) < 0)
        return -1;
    if (rc->counted == before && rc->ntr == ntr)
        return 0;
    tm_error serr;
    if (save(rc, &serr) != 0) {
        if (tm_error_is(&serr, TM_ERR_NOMEM)) {
            *err = serr;
            return -1;
        }
        tm_log_debug("the row counts are not saved: %s", serr.msg);
    }
    return 0;
}

int tm_rowcount_truncated(tm_rowcount *rc, uint64_t commit_lsn, uint32_t oid, uint32_t nth,
                          uint64_t *rows, bool *known, tm_error *err)
{
    if (commit_lsn > rc->counted && tm_rowcount_update(rc, err) != 0)
        return -1;
    /* The first TRUNCATE of that transaction, then its nth of oid. */
    size_t lo = 0, hi = rc->ntr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rc->tr[mid].lsn < commit_lsn)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < rc->ntr && rc->tr[i].lsn == commit_lsn; i++) {
        if (rc->tr[i].oid != oid || nth-- > 0)
            continue;
        *rows = rc->tr[i].rows;
        *known = rc->tr[i].known;
        return 1;
    }
    return 0;
}

int tm_rowcount_verify(const char *path, tm_vresult *res, tm_error *err)
{
    unsigned char *b;
    size_t len;
    tm_error rerr;
    res->damaged = true;
    if (tm_read_file(path, RC_MAX_BYTES, &b, &len, &rerr) != 0) {
        if (tm_error_is(&rerr, TM_ERR_NOMEM)) {
            *err = rerr;
            return -1;
        }
        snprintf(res->text, sizeof res->text, "%s", rerr.msg);
        return 0;
    }
    tm_rowcount rc = {0};
    const char *why = parse(&rc, b, len, err);
    free(b);
    if (why == rc_nomem) {
        reset(&rc);
        return -1;
    }
    tm_vresult_judge(res, why, "row counts of %zu tables to commit LSN %X/%X, %zu TRUNCATEs", rc.nt,
                     (unsigned)(rc.counted >> 32), (unsigned)rc.counted, rc.ntr);
    reset(&rc);
    return 0;
}
