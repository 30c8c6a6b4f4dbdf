/* Error codes of the capture layers, without a server: a connection string
 * that does not parse is TM_ERR_FORMAT, a server that cannot be reached is
 * TM_ERR_DB, and replication or pgoutput data that does not parse is
 * TM_ERR_FORMAT. */
#include <check.h>
#include <string.h>

#include "capture/decode/pgoutput.h"
#include "capture/source/replproto.h"
#include "capture/source/source.h"
#include "tests/harness/tm_check.h"

START_TEST(connect_codes)
{
    tm_error err;
    ck_assert_ptr_null(tm_source_connect("host=x bogus_keyword=1", false, &err));
    ck_assert_msg(tm_error_is(&err, TM_ERR_FORMAT), "%s: %s", tm_errcode_name(err.code), err.msg);
    ck_assert_msg(strstr(err.msg, "invalid connection string"), "%s", err.msg);
    /* a Unix socket directory that does not exist: refused at once */
    ck_assert_ptr_null(tm_source_connect(
        "host=/nonexistent/tidemark port=1 dbname=x connect_timeout=2", false, &err));
    ck_assert_msg(tm_error_is(&err, TM_ERR_DB), "%s: %s", tm_errcode_name(err.code), err.msg);
    ck_assert_msg(strstr(err.msg, "cannot connect to the source database"), "%s", err.msg);
    ck_assert_int_eq(tm_error_exit_status(&err), 1);
}
END_TEST

START_TEST(protocol_codes)
{
    tm_error err;
    tm_repl_msg m;
    ck_assert_int_eq(tm_repl_parse("", 0, &m, &err), -1);
    ck_assert_msg(tm_error_is(&err, TM_ERR_FORMAT), "%s", err.msg);
    ck_assert_int_eq(tm_repl_parse("z", 1, &m, &err), -1);
    ck_assert_msg(tm_error_is(&err, TM_ERR_FORMAT), "%s", err.msg);

    tm_pgo_decoder d;
    tm_pgo_decoder_init(&d);
    tm_pgo_msg out;
    ck_assert_int_eq(tm_pgo_decode(&d, "", 0, &out, &err), -1);
    ck_assert_msg(tm_error_is(&err, TM_ERR_FORMAT), "%s", err.msg);
    ck_assert_int_eq(tm_pgo_decode(&d, "U\x01", 2, &out, &err), -1); /* an Update cut short */
    ck_assert_msg(tm_error_is(&err, TM_ERR_FORMAT), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "malformed pgoutput"), "%s", err.msg);
    tm_pgo_decoder_free(&d);
}
END_TEST

int main(void)
{
    return tm_check_main("capture_errors", "core", 0, TM_TESTS(connect_codes, protocol_codes));
}
