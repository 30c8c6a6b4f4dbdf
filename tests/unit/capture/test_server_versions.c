/* What capture does differently per PostgreSQL major, without a server:
 * servers before 14 are refused with a message naming their version and
 * the minimum (no PostgreSQL 13 build is available to the tests, so the
 * refusal is checked here on the version numbers libpq reports), and the
 * slot is created with the keyword syntax on 14, the parenthesised options
 * from 15 on. */
#include <check.h>
#include <string.h>

#include "capture/source/setup.h"
#include "capture/source/source.h"
#include "tests/harness/tm_check.h"

START_TEST(older_than_14_refused)
{
    tm_error err;
    const struct {
        int version;
        const char *shown;
    } old[] = {
        {130012, "PostgreSQL 13.12"}, {100023, "PostgreSQL 10.23"}, {90624, "PostgreSQL 9.6.24"}};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
        tm_error_clear(&err);
        ck_assert_int_eq(tm_source_check_version(old[i].version, &err), -1);
        ck_assert_msg(strstr(err.msg, old[i].shown) && strstr(err.msg, "PostgreSQL 14 or later"),
                      "%s", err.msg);
        ck_assert_int_eq(tm_error_exit_status(&err), 1);
    }
    const int ok[] = {140000, 140023, 150018, 160014, 170010, 180004};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_int_eq(tm_source_check_version(ok[i], &err), 0);
}
END_TEST

START_TEST(slot_syntax_per_major)
{
    tm_error err;
    char sql[256];
    ck_assert_int_eq(tm_slot_create_sql(140023, "\"s\"", false, sql, sizeof sql, &err), 0);
    ck_assert_str_eq(sql, "CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput EXPORT_SNAPSHOT");
    ck_assert_int_eq(tm_slot_create_sql(140023, "\"t\"", true, sql, sizeof sql, &err), 0);
    ck_assert_str_eq(sql,
                     "CREATE_REPLICATION_SLOT \"t\" TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT");
    for (int v = 150000; v <= 180000; v += 10000) {
        ck_assert_int_eq(tm_slot_create_sql(v, "\"s\"", false, sql, sizeof sql, &err), 0);
        ck_assert_str_eq(sql, "CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput (SNAPSHOT 'export')");
    }
    char small[16];
    ck_assert_int_eq(tm_slot_create_sql(150000, "\"s\"", false, small, sizeof small, &err), -1);
    /* A failover slot (--failover-slot): 17 on; refused before. */
    for (int v = 170000; v <= 180000; v += 10000) {
        ck_assert_int_eq(tm_slot_create_sql(v, "\"s\"", TM_SLOT_FAILOVER, sql, sizeof sql, &err),
                         0);
        ck_assert_str_eq(
            sql,
            "CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput (SNAPSHOT 'export', FAILOVER true)");
    }
    for (int v = 140000; v <= 160000; v += 10000)
        ck_assert_int_eq(tm_slot_create_sql(v, "\"s\"", TM_SLOT_FAILOVER, sql, sizeof sql, &err),
                         -1);
}
END_TEST

int main(void)
{
    return tm_check_main("server_versions", "core", 0,
                         TM_TESTS(older_than_14_refused, slot_syntax_per_major));
}
