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
