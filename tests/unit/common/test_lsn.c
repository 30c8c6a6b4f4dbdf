/* LSN text form: parse and format round trip, and rejection of non-LSNs. */
#include <check.h>
#include <stdlib.h>

#include "store/common/lsn.h"
#include "tests/harness/tm_check.h"

START_TEST(lsn_round_trip)
{
    const char *good[] = {"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF", "1/0"};
    char buf[TM_LSN_BUFLEN];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v;
        ck_assert_int_eq(tm_lsn_parse(good[i], &v), 0);
        ck_assert_str_eq(tm_lsn_format(v, buf), good[i]);
    }
    uint64_t v;
    ck_assert_int_eq(tm_lsn_parse("16/b374d848", &v), 0);
    ck_assert_uint_eq(v, 0x16B374D848ull);
}
END_TEST

START_TEST(lsn_rejects)
{
    const char *bad[] = {"", "/", "1/", "/1", "1/2/3", "x/1", "123456789/0", "1/2 ", "-1/0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        ck_assert_msg(tm_lsn_parse(bad[i], &v) == -1, "accepted '%s'", bad[i]);
    }
}
END_TEST

int main(void)
{
    return tm_check_main("lsn", "core", 0, TM_TESTS(lsn_round_trip, lsn_rejects));
}
