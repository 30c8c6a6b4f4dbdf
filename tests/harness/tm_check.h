/* Running a Check suite the same way in every test binary, and building
 * the usual one: a suite of test cases, each a list of tests. */
#ifndef TM_CHECK_H
#define TM_CHECK_H

#include <check.h>

/* Runs the suite (CK_VERBOSITY chooses the output, default: Check's summary
 * line "100%: Checks: N, Failures: 0, Errors: 0" plus every failure), stops
 * the binary's shared PostgreSQL cluster if one was started, and returns
 * the exit status for main. */
int tm_check_run(Suite *s);

/* The tests of a test case, in order: TM_TESTS(a, b, c). */
#define TM_TESTS(...) ((const TTest *const[]){__VA_ARGS__, NULL})

/* Adds to s a test case called name holding tests (TM_TESTS), with that
 * timeout in seconds when timeout > 0 (else CK_DEFAULT_TIMEOUT), and
 * returns it, for fixtures. */
TCase *tm_check_case(Suite *s, const char *name, double timeout, const TTest *const *tests);

/* main() of a suite of one test case: runs suite `suite` holding the test
 * case `tcase` (as tm_check_case makes it) with tm_check_run. */
int tm_check_main(const char *suite, const char *tcase, double timeout, const TTest *const *tests);

/* The same, with setup and teardown run around each test (a checked
 * fixture). */
int tm_check_main_fixture(const char *suite, const char *tcase, double timeout,
                          const TTest *const *tests, SFun setup, SFun teardown);

#endif
