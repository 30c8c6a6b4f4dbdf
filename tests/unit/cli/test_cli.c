/* Usage errors of the commands (store/cli/cli.h, opts.h): exit status 2,
 * one line naming the command and the problem, pointing at --help,
 * nothing on stdout. test_cli_contract checks the same for every command. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cli/cli.h"
#include "store/common/secret.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

static void expect_usage(const char *cmd, const char *what, const char *const *args)
{
    const char *argv[16] = {cmd};
    size_t n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    tm_run_result r;
    tm_tidemarkv(&r, NULL, argv);
    char want[256];
    snprintf(want, sizeof want, "tidemark %s: %s; run 'tidemark %s --help' for the options\n", cmd,
             what, cmd);
    ck_assert_msg(r.status == 2, "%s: exit %d, stderr: %s", cmd, r.status, r.err);
    ck_assert_str_eq(r.err, want);
    ck_assert_uint_eq(r.out_len, 0);
    tm_run_result_free(&r);
}

START_TEST(usage_errors)
{
    expect_usage("replay", "unknown option '--bogus'", (const char *[]){"--bogus", NULL});
    expect_usage("replay", "--journal needs a value", (const char *[]){"--journal", NULL});
    expect_usage("replay", "give exactly one of --at TIMESTAMP and --lsn LSN",
                 (const char *[]){"--journal", "j", NULL});
    expect_usage("undo", "--xid must be a transaction id (a positive integer), not '0'",
                 (const char *[]){"--journal", "j", "--xid", "0", NULL});
    expect_usage("undo", "unexpected argument 'extra'",
                 (const char *[]){"--journal", "j", "extra", NULL});
    expect_usage("checkpoint", "--journal DIR is required", (const char *[]){NULL});
    expect_usage("checkpoint", "--every needs a positive count, not '-1'",
                 (const char *[]){"--journal", "j", "--every", "-1", NULL});
    expect_usage("checkpoint", "unknown option '-x'", (const char *[]){"-x", NULL});
    expect_usage("verify", "--journal DIR is required", (const char *[]){"--quiet", NULL});
    expect_usage("capture", "--status-interval needs a whole number from 1 to 3600, not '0'",
                 (const char *[]){"--status-interval", "0", NULL});
    expect_usage("capture", "name the source with --source CONNINFO or --source-file FILE",
                 (const char *[]){"--journal", "j", NULL});
    expect_usage("capture", "--source and --source-file exclude each other",
                 (const char *[]){"--journal", "j", "--source", "x", "--source-file", "f", NULL});
    expect_usage("replay", "--lsn needs an LSN such as 0/16B3748, not '12'",
                 (const char *[]){"--journal", "j", "--lsn", "12", NULL});
    expect_usage("replay", "--format must be csv, jsonl or sql, not 'xml'",
                 (const char *[]){"--journal", "j", "--format", "xml", NULL});
    expect_usage("replay", "--mode, --dry-run and --allow-source go with --apply",
                 (const char *[]){"--journal", "j", "--lsn", "0/1", "--dry-run", NULL});
    expect_usage("undo", "--on-conflict must be abort, skip or overwrite, not 'maybe'",
                 (const char *[]){"--journal", "j", "--xid", "1", "--on-conflict", "maybe", NULL});
    expect_usage(
        "undo", "--to is before --from",
        (const char *[]){"--journal", "j", "--from", "2026-01-02", "--to", "2026-01-01", NULL});
    expect_usage("checkpoint", "--quiet and --verbose do not go together",
                 (const char *[]){"-q", "-v", NULL});
}
END_TEST

/* A connection string from argv: the caller gets it whole, argv keeps it
 * with the password overwritten, and messages mask it from then on. */
START_TEST(conninfo_from_argv)
{
    char arg[] = "host=db user=app password=sekret-pw dbname=x";
    char *ci = tm_cli_conninfo("--apply", arg);
    ck_assert_str_eq(ci, "host=db user=app password=sekret-pw dbname=x");
    ck_assert_ptr_null(strstr(arg, "sekret-pw"));
    ck_assert_ptr_nonnull(strstr(arg, "host=db user=app password="));
    char masked[256];
    tm_secret_mask("libpq: bad value near sekret-pw", masked, sizeof masked);
    ck_assert_ptr_null(strstr(masked, "sekret-pw"));
    char uri[] = "postgresql://app:uri-secret@db/x";
    char *ci2 = tm_cli_conninfo("--source", uri);
    ck_assert_str_eq(ci2, "postgresql://app:uri-secret@db/x");
    ck_assert_ptr_null(strstr(uri, "uri-secret"));
    free(ci);
    free(ci2);
    tm_secret_forget_all();
}
END_TEST

int main(void)
{
    return tm_check_main("cli", "core", 0, TM_TESTS(usage_errors, conninfo_from_argv));
}
