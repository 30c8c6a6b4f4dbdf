#include "capture/source/replproto.h"

#include "store/common/netbytes.h"

#define XLOGDATA_HDR (1 + 8 + 8 + 8)
#define KEEPALIVE_LEN (1 + 8 + 8 + 1)

int tm_repl_parse(const void *buf, size_t len, tm_repl_msg *out, tm_error *err)
{
    const uint8_t *p = buf;
    if (len == 0) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "empty replication message: expected at least the type byte");
        return -1;
    }
    switch (p[0]) {
    case TM_REPL_XLOGDATA:
        if (len < XLOGDATA_HDR) {
            tm_error_setc(err, TM_ERR_FORMAT,
                          "truncated XLogData message: %zu bytes, the header alone has %d "
                          "(type, WAL start, WAL end, send time)",
                          len, XLOGDATA_HDR);
            return -1;
        }
        out->type = TM_REPL_XLOGDATA;
        out->xlog.wal_start = tm_get_u64(p + 1);
        out->xlog.wal_end = tm_get_u64(p + 9);
        out->xlog.send_time = tm_pg_time_to_unix((int64_t)tm_get_u64(p + 17));
        out->xlog.data = (const char *)p + XLOGDATA_HDR;
        out->xlog.len = len - XLOGDATA_HDR;
        return 0;
    case TM_REPL_KEEPALIVE:
        if (len != KEEPALIVE_LEN) {
            tm_error_setc(err, TM_ERR_FORMAT,
                          "malformed primary keepalive message: %zu bytes, expected %d (type, WAL "
                          "end, send time, reply flag)",
                          len, KEEPALIVE_LEN);
            return -1;
        }
        if (p[17] > 1) {
            tm_error_setc(err, TM_ERR_FORMAT,
                          "malformed primary keepalive message: reply flag is %u, expected 0 or 1",
                          p[17]);
            return -1;
        }
        out->type = TM_REPL_KEEPALIVE;
        out->keepalive.wal_end = tm_get_u64(p + 1);
        out->keepalive.send_time = tm_pg_time_to_unix((int64_t)tm_get_u64(p + 9));
        out->keepalive.reply_requested = p[17] == 1;
        return 0;
    default:
        tm_error_setc(err, TM_ERR_FORMAT,
                      "unknown replication message type 0x%02x (%zu bytes): expected XLogData 'w' "
                      "or primary keepalive 'k'",
                      p[0], len);
        return -1;
    }
}

size_t tm_repl_build_status(void *buf, uint64_t write_lsn, uint64_t flush_lsn, uint64_t apply_lsn,
                            int64_t now, bool reply_requested)
{
    uint8_t *p = buf;
    p[0] = TM_REPL_STATUS;
    tm_put_u64(p + 1, write_lsn);
    tm_put_u64(p + 9, flush_lsn);
    tm_put_u64(p + 17, apply_lsn);
    tm_put_u64(p + 25, (uint64_t)tm_unix_time_to_pg(now));
    p[33] = reply_requested ? 1 : 0;
    return TM_REPL_STATUS_LEN;
}
