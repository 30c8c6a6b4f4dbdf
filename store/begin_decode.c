#include "begin_decode.h"

#include "frame.h"

/* The varint of a field whose one-byte tag is at *q, if that tag is tag:
 * 1 (read, *q past it), 0 (another field), -1 (not a valid varint). */
static inline int field(const unsigned char **q, const unsigned char *e, unsigned tag, uint64_t *v)
{
    if (*q >= e || **q != tag)
        return 0;
    size_t k = tm_varint_get(*q + 1, (size_t)(e - *q - 1), v);
    if (k == 0)
        return -1;
    *q += 1 + k;
    return 1;
}

bool tm_begin_decode(const unsigned char *p, size_t len, Tidemark__Record *rec,
                     Tidemark__TxBegin *b)
{
    uint64_t n, v;
    size_t k;
    /* Record field 1, length delimited, filling the record. */
    if (len < 2 || p[0] != ((1u << 3) | 2u) || (k = tm_varint_get(p + 1, len - 1, &n)) == 0 ||
        n != len - 1 - k)
        return false;
    const unsigned char *q = p + 1 + k, *e = p + len;
    tidemark__tx_begin__init(b);
    int rc;
    /* Varint fields: the tag is 8 * the field number. A 32-bit field with
     * a larger value goes to protobuf-c, which has rules for it. */
    if ((rc = field(&q, e, 1 << 3, &v)) < 0 || (rc && v > UINT32_MAX))
        return false;
    if (rc)
        b->has_xid = 1, b->xid = (uint32_t)v;
    if ((rc = field(&q, e, 2 << 3, &v)) < 0)
        return false;
    if (rc)
        b->has_commit_lsn = 1, b->commit_lsn = v;
    if ((rc = field(&q, e, 3 << 3, &v)) < 0)
        return false;
    if (rc)
        b->has_end_lsn = 1, b->end_lsn = v;
    if ((rc = field(&q, e, 4 << 3, &v)) < 0)
        return false;
    if (rc)
        b->has_commit_time = 1, b->commit_time = (int64_t)v;
    /* 5, origin, is a string: protobuf-c's (q stops there) */
    if ((rc = field(&q, e, 6 << 3, &v)) < 0)
        return false;
    if (rc)
        b->has_origin_lsn = 1, b->origin_lsn = v;
    if ((rc = field(&q, e, 7 << 3, &v)) < 0)
        return false;
    if (rc)
        b->has_n_records = 1, b->n_records = v;
    if ((rc = field(&q, e, 8 << 3, &v)) < 0)
        return false;
    if (rc)
        b->has_snapshot = 1, b->snapshot = v != 0;
    if ((rc = field(&q, e, 9 << 3, &v)) < 0 || (rc && v > UINT32_MAX))
        return false;
    if (rc)
        b->has_large_change_rows = 1, b->large_change_rows = (uint32_t)v;
    if (q != e)
        return false;
    tidemark__record__init(rec);
    rec->body_case = TIDEMARK__RECORD__BODY_BEGIN;
    rec->begin = b;
    return true;
}
