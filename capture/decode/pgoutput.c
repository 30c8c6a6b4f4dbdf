/* pgoutput message decoding; see pgoutput.h and PostgreSQL's "Logical
 * Replication Message Formats". */
#include "capture/decode/pgoutput.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/netbytes.h"

/* A bounded cursor over one message. Every read checks the remaining length
 * first; on failure it fills err with the message type, the offset and
 * what was expected, and returns -1. */
typedef struct rd {
    const uint8_t *p;
    size_t len;
    size_t off;
    tm_error *err;
} rd;

const char *tm_pgo_type_name(int type)
{
    switch (type) {
    case TM_PGO_BEGIN:
        return "Begin";
    case TM_PGO_COMMIT:
        return "Commit";
    case TM_PGO_ORIGIN:
        return "Origin";
    case TM_PGO_RELATION:
        return "Relation";
    case TM_PGO_TYPE:
        return "Type";
    case TM_PGO_INSERT:
        return "Insert";
    case TM_PGO_UPDATE:
        return "Update";
    case TM_PGO_DELETE:
        return "Delete";
    case TM_PGO_TRUNCATE:
        return "Truncate";
    case TM_PGO_MESSAGE:
        return "Message";
    case TM_PGO_STREAM_START:
        return "Stream Start";
    case TM_PGO_STREAM_STOP:
        return "Stream Stop";
    case TM_PGO_STREAM_COMMIT:
        return "Stream Commit";
    case TM_PGO_STREAM_ABORT:
        return "Stream Abort";
    default:
        return "unknown";
    }
}

static int fail_at(rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3), cold));

/* "malformed pgoutput Update message (45 bytes) at offset 17: <what>" */
static int fail_at(rd *r, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    tm_error_setc(r->err, TM_ERR_FORMAT,
                  "malformed pgoutput %s message (%zu bytes) at offset %zu: %s",
                  tm_pgo_type_name(r->p[0]), r->len, r->off, what);
    return -1;
}

static int short_read(rd *r, size_t need, const char *what)
{
    fail_at(r, "expected %s (%zu bytes) but only %zu bytes remain", what, need, r->len - r->off);
    return -1;
}

static inline int get_u8(rd *r, uint8_t *v, const char *what)
{
    if (r->off >= r->len) {
        *v = 0;
        return short_read(r, 1, what);
    }
    *v = r->p[r->off++];
    return 0;
}

static inline int get_u16(rd *r, uint16_t *v, const char *what)
{
    if (r->len - r->off < 2) {
        *v = 0;
        return short_read(r, 2, what);
    }
    *v = tm_get_u16(r->p + r->off);
    r->off += 2;
    return 0;
}

static inline int get_u32(rd *r, uint32_t *v, const char *what)
{
    if (r->len - r->off < 4) {
        *v = 0;
        return short_read(r, 4, what);
    }
    *v = tm_get_u32(r->p + r->off);
    r->off += 4;
    return 0;
}

static inline int get_u64(rd *r, uint64_t *v, const char *what)
{
    if (r->len - r->off < 8) {
        *v = 0;
        return short_read(r, 8, what);
    }
    *v = tm_get_u64(r->p + r->off);
    r->off += 8;
    return 0;
}

static inline int get_time(rd *r, int64_t *v, const char *what)
{
    uint64_t u = 0;
    if (get_u64(r, &u, what) < 0)
        return -1;
    *v = tm_pg_time_to_unix((int64_t)u);
    return 0;
}

/* A NUL-terminated string inside the message: returned in place. */
static int get_str(rd *r, const char **s, const char *what)
{
    const uint8_t *start = r->p + r->off;
    const uint8_t *nul = memchr(start, '\0', r->len - r->off);
    if (!nul) {
        *s = "";
        return fail_at(r, "expected %s (a NUL-terminated string) but no NUL byte follows", what);
    }
    *s = (const char *)start;
    r->off += (size_t)(nul - start) + 1;
    return 0;
}

static int get_namespace(rd *r, const char **s)
{
    if (get_str(r, s, "the namespace name") < 0)
        return -1;
    /* pgoutput abbreviates pg_catalog as "". */
    if (**s == '\0')
        *s = "pg_catalog";
    return 0;
}

/* Reads a tuple ('n'/'u'/'t'/'b' columns) into d->cols from index base on.
 * Only base and counts are kept: d->cols.v may move when the next tuple of
 * the same message grows it, so the caller sets pointers at the end. */
static int read_tuple(rd *r, tm_pgo_decoder *d, size_t base, uint32_t *ncols, const char *which)
{
    if (r->len - r->off < 2)
        return fail_at(r, "expected the 2-byte column count of the %s but only %zu bytes remain",
                       which, r->len - r->off);
    uint16_t n = tm_get_u16(r->p + r->off);
    r->off += 2;
    /* Each column takes at least its kind byte: check before sizing by n. */
    if (n > r->len - r->off)
        return fail_at(r, "expected %u columns of the %s but only %zu bytes remain", n, which,
                       r->len - r->off);
    if (tm_colbuf_reserve(&d->cols, base + n, r->err) < 0)
        return -1;
    /* The hot loop works on locals: stores into v (which holds a char) may
     * alias *r as far as the compiler knows, which would reload r's fields
     * for every column. r->off is written back before any error. */
    tm_value *v = d->cols.v + base;
    const uint8_t *p = r->p;
    size_t len = r->len, off = r->off;
    for (uint32_t i = 0; i < n; i++) {
        if (off >= len) {
            r->off = off;
            return fail_at(r, "expected the kind of column %u of %u of the %s but the message ends",
                           i + 1, n, which);
        }
        uint8_t kind = p[off];
        switch (kind) {
        case TM_KIND_NULL:
        case TM_KIND_UNCHANGED:
            v[i] = (tm_value){NULL, 0, (char)kind};
            off++;
            break;
        case TM_KIND_TEXT:
        case TM_KIND_BINARY: {
            if (len - off < 5) {
                r->off = off + 1;
                return fail_at(r,
                               "expected the 4-byte length of column %u of the %s but only %zu "
                               "bytes remain",
                               i + 1, which, len - off - 1);
            }
            uint32_t vlen = tm_get_u32(p + off + 1);
            off += 5;
            if (vlen > len - off) {
                r->off = off;
                return fail_at(r,
                               "column %u of the %s says it has %u bytes but only %zu bytes remain",
                               i + 1, which, vlen, len - off);
            }
            v[i] = (tm_value){(const char *)p + off, vlen, (char)kind};
            off += vlen;
            break;
        }
        default:
            r->off = off;
            return fail_at(r, "column %u of the %s has unknown kind 0x%02x (expected n, u, t or b)",
                           i + 1, which, kind);
        }
    }
    r->off = off;
    *ncols = n;
    return 0;
}

static int col_short(rd *r, uint32_t col, const char *what, size_t need)
{
    return fail_at(r, "expected the %s of column %u (%zu bytes) but only %zu bytes remain", what,
                   col + 1, need, r->len - r->off);
}

/* The xid that changes carry inside a stream (proto_version 2). */
static int get_stream_xid(rd *r, const tm_pgo_decoder *d, tm_pgo_msg *m)
{
    m->has_xid = d->in_stream;
    if (!d->in_stream)
        return 0;
    return get_u32(r, &m->xid, "the xid of the streamed transaction");
}

static int decode_relation(rd *r, tm_pgo_decoder *d, tm_pgo_msg *m)
{
    tm_pgo_relation *rel = &m->relation;
    uint8_t ident;
    uint16_t n;
    if (get_stream_xid(r, d, m) < 0 || get_u32(r, &rel->oid, "the relation oid") < 0 ||
        get_namespace(r, &rel->nspname) < 0 || get_str(r, &rel->relname, "the relation name") < 0)
        return -1;
    if (get_u8(r, &ident, "the replica identity") < 0)
        return -1;
    if (ident != 'd' && ident != 'n' && ident != 'f' && ident != 'i') {
        r->off--;
        return fail_at(r, "unknown replica identity 0x%02x (expected d, n, f or i)", ident);
    }
    rel->replident = (char)ident;
    if (get_u16(r, &n, "the column count") < 0)
        return -1;
    /* Each column takes at least 10 bytes: check before sizing by n. */
    if ((size_t)n * 10 > r->len - r->off)
        return fail_at(r, "expected %u columns (at least %zu bytes) but only %zu bytes remain", n,
                       (size_t)n * 10, r->len - r->off);
    if (n > d->relcols_cap) {
        tm_pgo_relcol *c = realloc(d->relcols, n * sizeof *c);
        if (!c) {
            tm_error_setc(r->err, TM_ERR_NOMEM, "out of memory for a relation of %u columns", n);
            return -1;
        }
        d->relcols = c;
        d->relcols_cap = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        tm_pgo_relcol *c = &d->relcols[i];
        if (r->off >= r->len)
            return col_short(r, i, "flags", 1);
        c->flags = r->p[r->off];
        if (c->flags & ~TM_PGO_COL_KEY)
            return fail_at(r, "column %u has unknown flags 0x%02x", i + 1, c->flags);
        r->off++;
        const uint8_t *name = r->p + r->off;
        const uint8_t *nul = memchr(name, '\0', r->len - r->off);
        if (!nul)
            return fail_at(r,
                           "expected the name of column %u (a NUL-terminated string) but no NUL "
                           "byte follows",
                           i + 1);
        c->name = (const char *)name;
        r->off += (size_t)(nul - name) + 1;
        if (r->len - r->off < 8)
            return col_short(r, i, "type oid and type modifier", 8);
        c->type_oid = tm_get_u32(r->p + r->off);
        c->typmod = (int32_t)tm_get_u32(r->p + r->off + 4);
        r->off += 8;
    }
    rel->ncols = n;
    rel->cols = d->relcols;
    return 0;
}

static int decode_change(rd *r, tm_pgo_decoder *d, tm_pgo_msg *m)
{
    tm_pgo_change *c = &m->change;
    uint8_t action;
    uint32_t n_old = 0, n_new = 0;
    c->old_kind = 0;
    if (get_stream_xid(r, d, m) < 0 || get_u32(r, &c->relid, "the relation oid") < 0 ||
        get_u8(r, &action, "the tuple type (N, K or O)") < 0)
        return -1;
    bool wants_old = m->type != TM_PGO_INSERT;
    bool wants_new = m->type != TM_PGO_DELETE;
    if (wants_old && (action == 'K' || action == 'O')) {
        c->old_kind = (char)action;
        if (read_tuple(r, d, 0, &n_old, action == 'K' ? "old key tuple" : "old tuple") < 0)
            return -1;
        if (wants_new && get_u8(r, &action, "the new tuple marker N") < 0)
            return -1;
    } else if (m->type == TM_PGO_DELETE) {
        r->off--;
        return fail_at(r, "expected the old tuple type K or O but found 0x%02x", action);
    }
    if (wants_new) {
        if (action != 'N') {
            r->off--;
            return fail_at(r, "expected the tuple type %s but found 0x%02x",
                           m->type == TM_PGO_UPDATE && !c->old_kind ? "N, K or O" : "N", action);
        }
        if (read_tuple(r, d, n_old, &n_new, "new tuple") < 0)
            return -1;
    }
    /* Both tuples are read: d->cols.v no longer moves. */
    c->old = (tm_pgo_tuple){n_old, c->old_kind ? d->cols.v : NULL};
    c->new_ = (tm_pgo_tuple){n_new, wants_new ? d->cols.v + n_old : NULL};
    return 0;
}

static int decode_truncate(rd *r, tm_pgo_decoder *d, tm_pgo_msg *m)
{
    uint32_t n;
    uint8_t flags;
    if (get_stream_xid(r, d, m) < 0 || get_u32(r, &n, "the number of relations") < 0 ||
        get_u8(r, &flags, "the truncate options") < 0)
        return -1;
    if (flags & ~(TM_PGO_TRUNCATE_CASCADE | TM_PGO_TRUNCATE_RESTART_IDENTITY)) {
        r->off--;
        return fail_at(r, "unknown truncate options 0x%02x", flags);
    }
    /* Check the count against the bytes present before sizing anything by it. */
    if (n > (r->len - r->off) / 4)
        return fail_at(r, "expected %u relation oids (%zu bytes) but only %zu bytes remain", n,
                       (size_t)n * 4, r->len - r->off);
    if (n > d->relids_cap) {
        uint32_t *ids = realloc(d->relids, n * sizeof *ids);
        if (!ids) {
            tm_error_setc(r->err, TM_ERR_NOMEM, "out of memory for a truncate of %u relations", n);
            return -1;
        }
        d->relids = ids;
        d->relids_cap = n;
    }
    for (uint32_t i = 0; i < n; i++, r->off += 4)
        d->relids[i] = tm_get_u32(r->p + r->off);
    m->truncate.nrelids = n;
    m->truncate.flags = flags;
    m->truncate.relids = d->relids;
    return 0;
}

static int decode_message(rd *r, tm_pgo_decoder *d, tm_pgo_msg *m)
{
    uint8_t flags;
    uint32_t len;
    if (get_stream_xid(r, d, m) < 0 || get_u8(r, &flags, "the message flags") < 0)
        return -1;
    if (flags & ~1u) {
        r->off--;
        return fail_at(r, "unknown message flags 0x%02x", flags);
    }
    m->message.transactional = flags & 1u;
    if (get_u64(r, &m->message.lsn, "the message LSN") < 0 ||
        get_str(r, &m->message.prefix, "the message prefix") < 0 ||
        get_u32(r, &len, "the content length") < 0)
        return -1;
    if (len > r->len - r->off)
        return fail_at(r, "the content says it has %u bytes but only %zu bytes remain", len,
                       r->len - r->off);
    m->message.content_len = len;
    m->message.content = (const char *)r->p + r->off;
    r->off += len;
    return 0;
}

static int get_commit_fields(rd *r, uint64_t *commit_lsn, uint64_t *end_lsn, int64_t *time)
{
    uint8_t flags;
    if (get_u8(r, &flags, "the commit flags") < 0)
        return -1;
    if (flags != 0) {
        r->off--;
        return fail_at(r, "unknown commit flags 0x%02x (expected 0)", flags);
    }
    if (get_u64(r, commit_lsn, "the commit LSN") < 0 || get_u64(r, end_lsn, "the end LSN") < 0 ||
        get_time(r, time, "the commit time") < 0)
        return -1;
    return 0;
}

static int decode_body(rd *r, tm_pgo_decoder *d, tm_pgo_msg *m)
{
    switch (m->type) {
    case TM_PGO_BEGIN:
        return get_u64(r, &m->begin.final_lsn, "the final LSN") < 0 ||
                       get_time(r, &m->begin.commit_time, "the commit time") < 0 ||
                       get_u32(r, &m->begin.xid, "the xid") < 0
                   ? -1
                   : 0;
    case TM_PGO_COMMIT:
        return get_commit_fields(r, &m->commit.commit_lsn, &m->commit.end_lsn,
                                 &m->commit.commit_time);
    case TM_PGO_ORIGIN:
        return get_u64(r, &m->origin.lsn, "the origin LSN") < 0 ||
                       get_str(r, &m->origin.name, "the origin name") < 0
                   ? -1
                   : 0;
    case TM_PGO_RELATION:
        return decode_relation(r, d, m);
    case TM_PGO_TYPE:
        return get_stream_xid(r, d, m) < 0 || get_u32(r, &m->typ.oid, "the type oid") < 0 ||
                       get_namespace(r, &m->typ.nspname) < 0 ||
                       get_str(r, &m->typ.name, "the type name") < 0
                   ? -1
                   : 0;
    case TM_PGO_INSERT:
    case TM_PGO_UPDATE:
    case TM_PGO_DELETE:
        return decode_change(r, d, m);
    case TM_PGO_TRUNCATE:
        return decode_truncate(r, d, m);
    case TM_PGO_MESSAGE:
        return decode_message(r, d, m);
    case TM_PGO_STREAM_START: {
        uint8_t first;
        if (d->in_stream)
            return fail_at(r, "a stream is already open (Stream Stop missing)");
        if (get_u32(r, &m->stream_start.xid, "the xid") < 0 ||
            get_u8(r, &first, "the first-segment flag") < 0)
            return -1;
        if (first > 1) {
            r->off--;
            return fail_at(r, "first-segment flag is %u (expected 0 or 1)", first);
        }
        m->stream_start.first_segment = first == 1;
        return 0;
    }
    case TM_PGO_STREAM_STOP:
        if (!d->in_stream)
            return fail_at(r, "no stream is open (Stream Start missing)");
        return 0;
    case TM_PGO_STREAM_COMMIT:
        if (d->in_stream)
            return fail_at(r, "a stream is still open (Stream Stop missing)");
        if (get_u32(r, &m->stream_commit.xid, "the xid") < 0)
            return -1;
        return get_commit_fields(r, &m->stream_commit.commit_lsn, &m->stream_commit.end_lsn,
                                 &m->stream_commit.commit_time);
    case TM_PGO_STREAM_ABORT:
        if (d->in_stream)
            return fail_at(r, "a stream is still open (Stream Stop missing)");
        return get_u32(r, &m->stream_abort.xid, "the xid") < 0 ||
                       get_u32(r, &m->stream_abort.subxid, "the subtransaction xid") < 0
                   ? -1
                   : 0;
    }
    return -1; /* not reached: the type was checked by the caller */
}

static bool known_type(uint8_t t)
{
    switch (t) {
    case TM_PGO_BEGIN:
    case TM_PGO_COMMIT:
    case TM_PGO_ORIGIN:
    case TM_PGO_RELATION:
    case TM_PGO_TYPE:
    case TM_PGO_INSERT:
    case TM_PGO_UPDATE:
    case TM_PGO_DELETE:
    case TM_PGO_TRUNCATE:
    case TM_PGO_MESSAGE:
    case TM_PGO_STREAM_START:
    case TM_PGO_STREAM_STOP:
    case TM_PGO_STREAM_COMMIT:
    case TM_PGO_STREAM_ABORT:
        return true;
    default:
        return false;
    }
}

int tm_pgo_decode(tm_pgo_decoder *d, const void *buf, size_t len, tm_pgo_msg *out, tm_error *err)
{
    rd r = {buf, len, 1, err};
    if (len == 0) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "empty pgoutput message: expected at least the message type byte");
        return -1;
    }
    uint8_t type = r.p[0];
    if (!known_type(type)) {
        if (type != '\0' && strchr("bPKrp", type))
            tm_error_setc(err, TM_ERR_FORMAT,
                          "pgoutput two-phase message '%c' is not supported: tidemark does not "
                          "request two_phase (proto_version 3)",
                          type);
        else
            tm_error_setc(err, TM_ERR_FORMAT,
                          "unknown pgoutput message type 0x%02x (%zu bytes): not a message that "
                          "PostgreSQL 15 sends for proto_version 1 or 2",
                          type, len);
        return -1;
    }
    out->type = (tm_pgo_type)type;
    out->has_xid = false;
    out->xid = 0;
    if (decode_body(&r, d, out) < 0)
        return -1;
    if (r.off != len)
        return fail_at(&r, "%zu unexpected bytes after the end of the message", len - r.off);
    /* The stream state changes only once the message is known good. */
    if (type == TM_PGO_STREAM_START)
        d->in_stream = true;
    else if (type == TM_PGO_STREAM_STOP)
        d->in_stream = false;
    return 0;
}

void tm_pgo_decoder_init(tm_pgo_decoder *d)
{
    memset(d, 0, sizeof *d);
}

void tm_pgo_decoder_reset(tm_pgo_decoder *d)
{
    d->in_stream = false;
}

void tm_pgo_decoder_free(tm_pgo_decoder *d)
{
    tm_colbuf_free(&d->cols);
    free(d->relcols);
    free(d->relids);
    tm_pgo_decoder_init(d);
}
