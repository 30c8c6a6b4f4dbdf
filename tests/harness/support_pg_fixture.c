/* One cluster per test binary, shared by its test cases: started by an
 * unchecked fixture, which Check runs in the runner process before a test
 * case's first test, so the forked tests inherit a running cluster. */
#include "tests/harness/pg_harness.h"
#include "tests/harness/tm_check.h"

static tm_pg shared;

static void shared_setup(void)
{
    if (shared.running)
        return;
    char err[2048];
    if (tm_pg_start(&shared, NULL, err, sizeof err) < 0)
        ck_abort_msg("cannot start the test PostgreSQL cluster: %s", err);
}

void tm_pg_fixture_add(TCase *tc)
{
    tcase_add_unchecked_fixture(tc, shared_setup, NULL);
}

tm_pg *tm_pg_shared(void)
{
    ck_assert_msg(shared.running, "no shared cluster: call tm_pg_fixture_add on this test case");
    return &shared;
}

void tm_pg_shared_stop(void)
{
    tm_pg_stop(&shared);
}

int tm_pg_check_main(const char *suite, const char *tcase, double timeout,
                     const TTest *const *tests)
{
    Suite *s = suite_create(suite);
    tm_pg_fixture_add(tm_check_case(s, tcase, timeout, tests));
    return tm_check_run(s);
}
