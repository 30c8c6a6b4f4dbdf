/* Error codes of the database writers, without a server: a target that
 * cannot be reached is TM_ERR_DB, for replay --apply (tm_apply_open) and
 * undo --apply (tm_undo_apply). */
#include <check.h>
#include <string.h>

#include "replay/out/apply_db.h"
#include "replay/undo/undo_apply.h"
#include "tests/harness/tm_check.h"

/* A Unix socket directory that does not exist: refused at once. */
#define UNREACHABLE "host=/nonexistent/tidemark port=1 dbname=x connect_timeout=2"

START_TEST(apply_unreachable_is_db)
{
    tm_error err;
    tm_apply_opts o = {.conninfo = UNREACHABLE};
    tm_meta meta = {.format_version = 1};
    tm_applier *a = NULL;
    ck_assert_int_eq(tm_apply_open(&o, &meta, &a, &err), -1);
    ck_assert_msg(tm_error_is(&err, TM_ERR_DB), "%s: %s", tm_errcode_name(err.code), err.msg);
    ck_assert_msg(strstr(err.msg, "cannot connect to the --apply target"), "%s", err.msg);
}
END_TEST

START_TEST(undo_unreachable_is_db)
{
    tm_error err;
    tm_undo_apply_opts o = {.conninfo = UNREACHABLE};
    tm_undo_result res = {.committed = true};
    ck_assert_int_eq(tm_undo_apply(&o, NULL, 0, NULL, &res, &err), -1);
    ck_assert(!res.committed);
    ck_assert_msg(tm_error_is(&err, TM_ERR_DB), "%s: %s", tm_errcode_name(err.code), err.msg);
    ck_assert_msg(strstr(err.msg, "cannot connect to the --apply database"), "%s", err.msg);
}
END_TEST

int main(void)
{
    return tm_check_main("apply_errors", "core", 0,
                         TM_TESTS(apply_unreachable_is_db, undo_unreachable_is_db));
}
