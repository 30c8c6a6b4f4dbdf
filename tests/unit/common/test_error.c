/* Typed errors: codes from errno, tm_error_set's general code, context
 * (file and offset) kept by tm_error_prefix and cleared by a new error,
 * and the table of names and exit statuses (usage 2, the rest 1). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/common/tm_error.h"
#include "tests/harness/tm_check.h"

START_TEST(codes_from_errno)
{
    struct {
        int e;
        tm_errcode code;
    } cases[] = {
        {ENOENT, TM_ERR_NOT_FOUND}, {ENOTDIR, TM_ERR_IO},   {ENOSPC, TM_ERR_NO_SPACE},
        {EDQUOT, TM_ERR_NO_SPACE},  {ENOMEM, TM_ERR_NOMEM}, {EIO, TM_ERR_IO},
        {EACCES, TM_ERR_IO},        {EROFS, TM_ERR_IO},     {0, TM_ERR_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_int_eq(tm_errcode_from_errno(cases[i].e), cases[i].code);

    tm_error err;
    errno = ENOSPC;
    tm_error_errno(&err, "cannot write %s", "x.seg");
    ck_assert_int_eq(errno, ENOSPC); /* kept */
    ck_assert(tm_error_is(&err, TM_ERR_NO_SPACE));
    ck_assert_str_eq(err.msg, "cannot write x.seg: No space left on device");
    errno = ENOENT;
    tm_error_errno(&err, "cannot open %s", "journal.meta");
    ck_assert(tm_error_is(&err, TM_ERR_NOT_FOUND));
    ck_assert(!tm_error_is(&err, TM_ERR_IO));
    ck_assert(!tm_error_is(NULL, TM_ERR_NOT_FOUND));
}
END_TEST

START_TEST(set_and_setc)
{
    tm_error err = {0};
    ck_assert(tm_error_is(&err, TM_ERR_NONE));
    tm_error_set(&err, "something %d", 1);
    ck_assert(tm_error_is(&err, TM_ERR_FAILED));
    ck_assert_str_eq(err.msg, "something 1");
    tm_error_setc(&err, TM_ERR_DB, "query failed: %s", "boom");
    ck_assert(tm_error_is(&err, TM_ERR_DB));
    ck_assert_str_eq(err.msg, "query failed: boom");
    tm_error_set(NULL, "nothing recorded"); /* a NULL err is allowed */
    tm_error_setc(NULL, TM_ERR_IO, "nothing recorded");
    tm_error_clear(&err);
    ck_assert(tm_error_is(&err, TM_ERR_NONE));
    ck_assert_str_eq(err.msg, "");
}
END_TEST

START_TEST(prefix_keeps_code_and_context)
{
    tm_error err;
    tm_error_setc(&err, TM_ERR_CORRUPT, "frame payload checksum mismatch");
    tm_error_at(&err, "/j/0000000000000002.seg", 4136);
    tm_error_prefix(&err, "reading %s", "/j");
    ck_assert_str_eq(err.msg, "reading /j: frame payload checksum mismatch");
    ck_assert(tm_error_is(&err, TM_ERR_CORRUPT));
    ck_assert_str_eq(err.file, "/j/0000000000000002.seg");
    ck_assert(err.has_offset);
    ck_assert_uint_eq(err.offset, 4136);

    tm_error_in(&err, "/j/journal.meta"); /* a file, no offset */
    ck_assert_str_eq(err.file, "/j/journal.meta");
    ck_assert(!err.has_offset);

    tm_error_set(&err, "a new error"); /* starts without context */
    ck_assert_str_eq(err.file, "");
    ck_assert(!err.has_offset);

    /* a long prefix still leaves a terminated message */
    char big[2000];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tm_error_setc(&err, TM_ERR_IO, "short");
    tm_error_prefix(&err, "%s", big);
    ck_assert_uint_lt(strlen(err.msg), sizeof err.msg);
    ck_assert(tm_error_is(&err, TM_ERR_IO));
}
END_TEST

START_TEST(exit_status_table)
{
    tm_error err;
    for (int c = TM_ERR_FAILED; c < TM_ERR_COUNT_; c++) {
        tm_error_setc(&err, (tm_errcode)c, "x");
        ck_assert_int_eq(tm_error_exit_status(&err), c == TM_ERR_USAGE ? 2 : 1);
        ck_assert_str_ne(tm_errcode_name((tm_errcode)c), "unknown");
    }
    tm_error_clear(&err);
    ck_assert_int_eq(tm_error_exit_status(&err), 0);
    ck_assert_int_eq(tm_error_exit_status(NULL), 1);
    ck_assert_str_eq(tm_errcode_name(TM_ERR_NOT_FOUND), "not-found");
    ck_assert_str_eq(tm_errcode_name(TM_ERR_CORRUPT), "corrupt");
    ck_assert_str_eq(tm_errcode_name((tm_errcode)999), "unknown");
}
END_TEST

int main(void)
{
    return tm_check_main(
        "error", "core", 0,
        TM_TESTS(codes_from_errno, set_and_setc, prefix_keeps_code_and_context, exit_status_table));
}
