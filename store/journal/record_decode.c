#include "store/journal/record_decode.h"

#include "store/journal/frame.h"

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
    const unsigned char *q;
    size_t blen;
    if (!tm_record_body(p, len, TIDEMARK__RECORD__BODY_BEGIN, &q, &blen))
        return false;
    const unsigned char *e = q + blen;
    /* Varint fields 1-9 in order, each at most once (the tag is 8 times
     * the field number); 5, origin, is a string: protobuf-c's. */
    uint64_t val[10] = {0};
    bool has[10] = {false};
    for (unsigned f = 1; f <= 9; f++) {
        int rc = f == 5 ? 0 : field(&q, e, f << 3, &val[f]);
        if (rc < 0)
            return false;
        has[f] = rc == 1;
    }
    /* A 32-bit field holding more goes to protobuf-c, which has rules for it. */
    if (q != e || val[1] > UINT32_MAX || val[9] > UINT32_MAX)
        return false;
    tidemark__tx_begin__init(b);
    b->has_xid = has[1], b->xid = (uint32_t)val[1];
    b->has_commit_lsn = has[2], b->commit_lsn = val[2];
    b->has_end_lsn = has[3], b->end_lsn = val[3];
    b->has_commit_time = has[4], b->commit_time = (int64_t)val[4];
    b->has_origin_lsn = has[6], b->origin_lsn = val[6];
    b->has_n_records = has[7], b->n_records = val[7];
    b->has_snapshot = has[8], b->snapshot = val[8] != 0;
    b->has_large_change_rows = has[9], b->large_change_rows = (uint32_t)val[9];
    tidemark__record__init(rec);
    rec->body_case = TIDEMARK__RECORD__BODY_BEGIN;
    rec->begin = b;
    return true;
}
