/* tm_inert: control characters, stray bytes and C1 controls escaped; plain
 * text and UTF-8 kept; a small buffer never ends in half an escape. */
#include <check.h>
#include <string.h>

#include "store/common/inert.h"
#include "tests/harness/tm_check.h"

static void expect(const char *in, const char *want)
{
    char buf[256];
    ck_assert_str_eq(tm_inert(in, buf, sizeof buf), want);
}

START_TEST(escapes)
{
    expect("", "");
    expect("public.users", "public.users");
    expect("a\nb\rc\td", "a\\nb\\rc\\td");
    expect("\x1b[31mred", "\\x1b[31mred");
    expect("del\x7f", "del\\x7f");
    expect("back\\slash 'quoted'", "back\\slash 'quoted'");
    expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    expect("csi\xc2\x9b", "csi\\xc2\\x9b");     /* C1 control U+009B */
    expect("nbsp\xc2\xa0", "nbsp\xc2\xa0");     /* U+00A0 is text */
    expect("stray\xff\xc3", "stray\\xff\\xc3"); /* not UTF-8 */
    expect("\xe0\x80\x80", "\\xe0\\x80\\x80");  /* overlong */
    expect("\xed\xa0\x80", "\\xed\\xa0\\x80");  /* surrogate */
}
END_TEST

START_TEST(truncates_whole)
{
    char buf[6];
    ck_assert_str_eq(tm_inert("ab\x1b", buf, sizeof buf), "ab"); /* \x1b would not fit */
    ck_assert_str_eq(tm_inert("abcdefgh", buf, sizeof buf), "abcde");
    ck_assert_str_eq(tm_inert("\xc3\xa9\xc3\xa9\xc3\xa9", buf, sizeof buf), "\xc3\xa9\xc3\xa9");
    char one[1];
    ck_assert_str_eq(tm_inert("x", one, sizeof one), "");
    char big[TM_INERT_SIZE(3)];
    ck_assert_str_eq(tm_inert("\x01\x02\x03", big, sizeof big), "\\x01\\x02\\x03");
}
END_TEST

int main(void)
{
    return tm_check_main("inert", "core", 0, TM_TESTS(escapes, truncates_whole));
}
