#include "tests/harness/tm_check.h"
#include "tests/harness/pg_harness.h"

#include <stdlib.h>

int tm_check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tm_pg_shared_stop();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

TCase *tm_check_case(Suite *s, const char *name, double timeout, const TTest *const *tests)
{
    TCase *tc = tcase_create(name);
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    for (; *tests; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    return tc;
}

int tm_check_main(const char *suite, const char *tcase, double timeout, const TTest *const *tests)
{
    Suite *s = suite_create(suite);
    tm_check_case(s, tcase, timeout, tests);
    return tm_check_run(s);
}

int tm_check_main_fixture(const char *suite, const char *tcase, double timeout,
                          const TTest *const *tests, SFun setup, SFun teardown)
{
    Suite *s = suite_create(suite);
    tcase_add_checked_fixture(tm_check_case(s, tcase, timeout, tests), setup, teardown);
    return tm_check_run(s);
}
