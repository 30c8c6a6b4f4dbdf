/* Passwords in connection strings: found in key=value conninfos (quoted,
 * escaped, spaces around '=', sslpassword) and URIs (user information,
 * query parameters, percent-encoding, malformed ones), masked in any text
 * (also libpq's messages quoting pieces of a malformed URI, through the
 * registered passwords), scrubbed in place at the same length, and masked
 * in every line of the logger. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/log.h"
#include "store/common/secret.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

static void expect_mask(const char *in, const char *want)
{
    char out[512];
    tm_secret_mask(in, out, sizeof out);
    ck_assert_msg(!strcmp(out, want), "mask(%s)\n  got  %s\n  want %s", in, out, want);
}

START_TEST(key_value_forms)
{
    tm_secret_forget_all();
    expect_mask("host=h password=sekret dbname=x", "host=h password=*** dbname=x");
    expect_mask("password = 'se cret' port=1", "password = *** port=1");
    expect_mask("password='a\\'b c' user=u", "password=*** user=u");
    expect_mask("PASSWORD=Upper", "PASSWORD=***");
    expect_mask("sslpassword=keyphrase host=h", "sslpassword=*** host=h");
    expect_mask("password=a\\ b host=h", "password=*** host=h");
    expect_mask("host=h password=", "host=h password=");
    expect_mask("the password is wrong; password: none", "the password is wrong; password: none");
    expect_mask("password=one host=h password=two", "password=*** host=h password=***");
}
END_TEST

START_TEST(uri_forms)
{
    tm_secret_forget_all();
    expect_mask("postgresql://alice:s3cr%40t@db.example.com:5432/app?sslmode=require",
                "postgresql://alice:***@db.example.com:5432/app?sslmode=require");
    expect_mask("postgres://:pw@h/db", "postgres://:***@h/db");
    expect_mask("postgresql://alice@h/db", "postgresql://alice@h/db");
    expect_mask("postgresql://h:5432/db", "postgresql://h:5432/db");
    expect_mask("postgresql://h/db?user=a&password=xyz&sslmode=require",
                "postgresql://h/db?user=a&password=***&sslmode=require");
    /* a message quoting a malformed URI */
    expect_mask("invalid URI propagated to internal parser routine: "
                "\"postgresql://u:TopSecret@[::1/db\"",
                "invalid URI propagated to internal parser routine: "
                "\"postgresql://u:***@[::1/db\"");
    expect_mask("postgresql://u:p@ss@h/db", "postgresql://u:***@ss@h/db");
}
END_TEST

/* libpq quotes the bad token alone: only the registered password finds it. */
START_TEST(registered_passwords)
{
    tm_secret_forget_all();
    const char *uri = "postgresql://u:Pa%zzword@host/db";
    tm_secret_register(uri);
    expect_mask("invalid percent-encoded token: \"Pa%zzword\"",
                "invalid percent-encoded token: \"***\"");
    tm_secret_register("host=h password='it''s' user=u");
    tm_secret_register("postgresql://u:caf%C3%A9bar@h/db");
    expect_mask("got caf\xc3\xa9"
                "bar back",
                "got *** back");
    expect_mask("got caf%C3%A9bar back", "got *** back");
    /* too short to hunt for everywhere; its password= form is still masked */
    tm_secret_forget_all();
    tm_secret_register("password=ab");
    expect_mask("about ab", "about ab");
    expect_mask("password=ab", "password=***");
    tm_secret_forget_all();
    expect_mask("invalid percent-encoded token: \"Pa%zzword\"",
                "invalid percent-encoded token: \"Pa%zzword\"");
}
END_TEST

START_TEST(scrub_in_place)
{
    char a[] = "host=h password=sekret dbname=x";
    ck_assert_int_eq(tm_secret_scrub(a), 1);
    ck_assert_str_eq(a, "host=h password=****** dbname=x");
    char b[] = "postgresql://alice:s3cret@h/db?password=two";
    ck_assert_int_eq(tm_secret_scrub(b), 2);
    ck_assert_str_eq(b, "postgresql://alice:******@h/db?password=***");
    char c[] = "host=h dbname=x";
    ck_assert_int_eq(tm_secret_scrub(c), 0);
    ck_assert_str_eq(c, "host=h dbname=x");
}
END_TEST

START_TEST(small_output)
{
    tm_secret_forget_all();
    char out[8];
    memset(out, 'X', sizeof out);
    tm_secret_mask("password=sekret host=h", out, sizeof out);
    ck_assert_str_eq(out, "passwor");
    tm_secret_mask("x password=sekret", out, 1);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(logger_masks)
{
    tm_secret_forget_all();
    tm_secret_register("postgresql://u:Pa%zzword@host/db");
    tm_log_set_command("capture");
    tmt_capture cap;
    tmt_stderr_begin(&cap);
    tm_log_error("cannot connect: password=sekret host=h");
    tm_log_warning("invalid percent-encoded token: \"Pa%%zzword\"");
    tm_log_info("uri postgresql://x:other@h");
    char *got = tmt_stderr_end(&cap);
    ck_assert_msg(!strstr(got, "sekret") && !strstr(got, "Pa%zz") && !strstr(got, "other"), "%s",
                  got);
    ck_assert_msg(strstr(got, "tidemark capture: cannot connect: password=*** host=h\n") &&
                      strstr(got, "WARNING: invalid percent-encoded token: \"***\"\n") &&
                      strstr(got, "uri postgresql://x:***@h\n"),
                  "%s", got);
    free(got);
    tm_secret_forget_all();
}
END_TEST

int main(void)
{
    return tm_check_main("secret", "core", 0,
                         TM_TESTS(key_value_forms, uri_forms, registered_passwords, scrub_in_place,
                                  small_output, logger_masks));
}
