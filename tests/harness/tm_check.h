/* Running a Check suite the same way in every test binary. */
#ifndef TM_CHECK_H
#define TM_CHECK_H

#include <check.h>

/* Runs the suite (CK_VERBOSITY chooses the output, default: Check's summary
 * line "100%: Checks: N, Failures: 0, Errors: 0" plus every failure), stops
 * the binary's shared PostgreSQL cluster if one was started, and returns
 * the exit status for main. */
int tm_check_run(Suite *s);

#endif
