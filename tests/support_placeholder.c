/* Test support library; real helpers live in tests/support_*.c. */
int tm_testsupport_linked;
