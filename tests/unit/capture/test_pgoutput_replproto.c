/* Streaming replication framing: XLogData and keepalive parsing (every
 * truncation rejected), the standby status update's exact bytes, and the
 * PostgreSQL-epoch conversions. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/netbytes.h"
#include "tests/harness/pgo_build.h"
#include "capture/source/replproto.h"
#include "tests/harness/tm_check.h"

/* 2024-01-02 03:04:05.000006 UTC */
#define PGT INT64_C(757479845000006)
#define UNIXT INT64_C(1704164645000006)

START_TEST(xlogdata)
{
    bb b = {0};
    bb_u8(&b, 'w');
    bb_u64(&b, UINT64_C(0x100000028));
    bb_u64(&b, UINT64_C(0x2000000FF));
    bb_u64(&b, (uint64_t)PGT);
    bb_raw(&b, "B\0\1", 3);
    tm_repl_msg m;
    tm_error err = {0};
    uint8_t *p = bb_exact(b.p, b.len);
    ck_assert_int_eq(tm_repl_parse(p, b.len, &m, &err), 0);
    ck_assert_int_eq(m.type, 'w');
    ck_assert_uint_eq(m.xlog.wal_start, UINT64_C(0x100000028));
    ck_assert_uint_eq(m.xlog.wal_end, UINT64_C(0x2000000FF));
    ck_assert_int_eq(m.xlog.send_time, UNIXT);
    ck_assert_uint_eq(m.xlog.len, 3);
    ck_assert_ptr_eq(m.xlog.data, (const char *)p + 25);
    /* empty payload is framing-valid (the pgoutput decoder rejects it) */
    ck_assert_int_eq(tm_repl_parse(p, 25, &m, &err), 0);
    ck_assert_uint_eq(m.xlog.len, 0);
    for (size_t len = 0; len < 25; len++) {
        uint8_t *q = bb_exact(b.p, len);
        ck_assert_int_eq(tm_repl_parse(q, len, &m, &err), -1);
        ck_assert(strstr(err.msg, len ? "truncated XLogData" : "empty replication message"));
        free(q);
    }
    free(p);
    bb_free(&b);
}
END_TEST

START_TEST(keepalive)
{
    bb b = {0};
    bb_u8(&b, 'k');
    bb_u64(&b, UINT64_C(0xABCDEF0123));
    bb_u64(&b, (uint64_t)PGT);
    bb_u8(&b, 1);
    tm_repl_msg m;
    tm_error err = {0};
    ck_assert_int_eq(tm_repl_parse(b.p, b.len, &m, &err), 0);
    ck_assert_int_eq(m.type, 'k');
    ck_assert_uint_eq(m.keepalive.wal_end, UINT64_C(0xABCDEF0123));
    ck_assert_int_eq(m.keepalive.send_time, UNIXT);
    ck_assert(m.keepalive.reply_requested);
    b.p[17] = 0;
    ck_assert_int_eq(tm_repl_parse(b.p, b.len, &m, &err), 0);
    ck_assert(!m.keepalive.reply_requested);
    b.p[17] = 2;
    ck_assert_int_eq(tm_repl_parse(b.p, b.len, &m, &err), -1);
    ck_assert(strstr(err.msg, "reply flag is 2"));
    b.p[17] = 0;
    for (size_t len = 1; len < b.len; len++) {
        uint8_t *q = bb_exact(b.p, len);
        ck_assert_int_eq(tm_repl_parse(q, len, &m, &err), -1);
        ck_assert(strstr(err.msg, "malformed primary keepalive"));
        free(q);
    }
    bb_u8(&b, 0); /* trailing byte */
    ck_assert_int_eq(tm_repl_parse(b.p, b.len, &m, &err), -1);
    ck_assert(strstr(err.msg, "19 bytes, expected 18"));
    bb_free(&b);

    ck_assert_int_eq(tm_repl_parse("r", 1, &m, &err), -1);
    ck_assert(strstr(err.msg, "unknown replication message type 0x72"));
}
END_TEST

START_TEST(status_update)
{
    uint8_t buf[TM_REPL_STATUS_LEN + 8];
    memset(buf, 0xAA, sizeof buf);
    size_t n = tm_repl_build_status(buf, UINT64_C(0x0102030405060708), UINT64_C(0x1112131415161718),
                                    UINT64_C(0x2122232425262728), UNIXT, true);
    ck_assert_uint_eq(n, 34);
    static const uint8_t expect[34] = {'r',  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                       0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21,
                                       0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0,    0x02,
                                       0xB0, 0xEC, 0x85, 0x15, 0xF3, 0x46, 1};
    /* 757479845000006 = 0x0002B0EC8515F346 */
    ck_assert_mem_eq(buf, expect, 34);
    ck_assert_uint_eq(buf[34], 0xAA); /* nothing written past the message */
    tm_repl_build_status(buf, 0, 0, 0, TM_PG_EPOCH_US, false);
    for (int i = 1; i < 34; i++)
        ck_assert_uint_eq(buf[i], 0);
}
END_TEST

START_TEST(epoch_conversions)
{
    ck_assert_int_eq(tm_pg_time_to_unix(0), TM_PG_EPOCH_US);
    ck_assert_int_eq(tm_pg_time_to_unix(PGT), UNIXT);
    ck_assert_int_eq(tm_unix_time_to_pg(UNIXT), PGT);
    ck_assert_int_eq(tm_unix_time_to_pg(0), -TM_PG_EPOCH_US);
    /* garbage saturates instead of overflowing */
    ck_assert_int_eq(tm_pg_time_to_unix(INT64_MAX), INT64_MAX);
    ck_assert_int_eq(tm_unix_time_to_pg(INT64_MIN), INT64_MIN);
    ck_assert_int_eq(tm_pg_time_to_unix(INT64_MIN), INT64_MIN + TM_PG_EPOCH_US);
}
END_TEST

int main(void)
{
    return tm_check_main("replproto", "core", 0,
                         TM_TESTS(xlogdata, keepalive, status_update, epoch_conversions));
}
