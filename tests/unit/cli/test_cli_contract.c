/* The command-line contract, for every command the binary lists in
 * `tidemark --help` (so a new command cannot escape it):
 *   C --help and tidemark help C print the same help on stdout, exit 0,
 *     with "Usage:" and "Exit status:", lines of at most 79 columns;
 *   C --version (and -V) prints "tidemark VERSION", exit 0;
 *   an unknown option, a missing value, a stray argument: exit 2, one line
 *     "tidemark C: <what>; run 'tidemark C --help' for the options" on
 *     stderr, nothing on stdout;
 *   what the user typed is echoed inert (no raw control character).
 * And tidemark's own: help, --help, --version, an unknown command. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

#define MAX_COMMANDS 32

static char *commands[MAX_COMMANDS];
static size_t ncommands;

/* The first word of each line of the "Commands:" section of --help. */
static void list_commands(void)
{
    tm_run_result r;
    tm_tidemark(&r, NULL, "--help", NULL);
    tm_assert_exit(&r, 0);
    const char *p = strstr(r.out, "\nCommands:\n");
    ck_assert_msg(p != NULL, "no Commands: section in\n%s", r.out);
    p += strlen("\nCommands:\n");
    while (*p == ' ' && ncommands < MAX_COMMANDS) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " \n");
        commands[ncommands++] = strndup(p, n);
        p = strchr(p, '\n') + 1;
    }
    tm_run_result_free(&r);
    ck_assert_uint_ge(ncommands, 7);
}

static void free_commands(void)
{
    for (size_t i = 0; i < ncommands; i++)
        free(commands[i]);
    ncommands = 0;
}

static void expect_usage_error(const char *cmd, const char *arg, const char *what)
{
    tm_run_result r;
    tm_tidemark(&r, NULL, cmd, arg, NULL);
    char want[512];
    snprintf(want, sizeof want, "tidemark %s: %s; run 'tidemark %s --help' for the options\n", cmd,
             what, cmd);
    tm_assert_exit(&r, 2);
    ck_assert_str_eq(r.err, want);
    ck_assert_uint_eq(r.out_len, 0);
    tm_run_result_free(&r);
}

static void check_help(const char *cmd)
{
    tm_run_result a, b;
    tm_tidemark(&a, NULL, cmd, "--help", NULL);
    tm_tidemark(&b, NULL, "help", cmd, NULL);
    tm_assert_exit(&a, 0);
    tm_assert_exit(&b, 0);
    ck_assert_msg(a.out_len > 0 && a.err_len == 0, "%s --help: stderr %s", cmd, a.err);
    ck_assert_str_eq(a.out, b.out);
    char usage[64];
    snprintf(usage, sizeof usage, "Usage: tidemark %s ", cmd);
    ck_assert_msg(!strncmp(a.out, usage, strlen(usage)), "%s --help:\n%s", cmd, a.out);
    ck_assert_msg(strstr(a.out, "\nExit status:\n  0  "), "%s --help:\n%s", cmd, a.out);
    ck_assert_msg(strstr(a.out, "\n  2  usage error"), "%s --help:\n%s", cmd, a.out);
    for (const char *line = a.out; *line;) {
        size_t n = strcspn(line, "\n");
        ck_assert_msg(n <= 79, "%s --help: a line of %zu: %.*s", cmd, n, (int)n, line);
        line += n + (line[n] != '\0');
    }
    tm_run_result_free(&b);
    tm_tidemark(&b, NULL, cmd, "-h", NULL);
    tm_assert_exit(&b, 0);
    ck_assert_str_eq(a.out, b.out);
    tm_run_result_free(&a);
    tm_run_result_free(&b);
}

static void check_version(const char *cmd, const char *flag)
{
    tm_run_result r;
    tm_tidemark(&r, NULL, cmd, flag, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, "tidemark " TIDEMARK_VERSION "\n");
    ck_assert_uint_eq(r.err_len, 0);
    tm_run_result_free(&r);
}

static void check_inert(const char *cmd)
{
    tm_run_result r;
    tm_tidemark(&r, NULL, cmd, "--bad\x1b[2J\nname", NULL);
    tm_assert_exit(&r, 2);
    ck_assert_msg(!strchr(r.err, '\x1b'), "%s: a raw escape on stderr", cmd);
    ck_assert_msg(strstr(r.err, "unknown option '--bad\\x1b[2J\\nname'"), "%s: %s", cmd, r.err);
    ck_assert_msg(strchr(r.err, '\n') == r.err + r.err_len - 1, "%s: not one line: %s", cmd, r.err);
    tm_run_result_free(&r);
}

START_TEST(every_command)
{
    list_commands();
    for (size_t i = 0; i < ncommands; i++) {
        const char *c = commands[i];
        check_help(c);
        check_version(c, "--version");
        check_version(c, "-V");
        expect_usage_error(c, "--no-such-option", "unknown option '--no-such-option'");
        expect_usage_error(c, "--journal", "--journal needs a value");
        expect_usage_error(c, "stray", "unexpected argument 'stray'");
        check_inert(c);
    }
    free_commands();
}
END_TEST

START_TEST(tidemark_itself)
{
    tm_run_result a, b;
    tm_tidemark(&a, NULL, "--help", NULL);
    tm_tidemark(&b, NULL, "help", NULL);
    tm_assert_exit(&a, 0);
    tm_assert_exit(&b, 0);
    ck_assert_str_eq(a.out, b.out);
    ck_assert_msg(strstr(a.out, "Exit status:"), "%s", a.out);
    tm_run_result_free(&a);
    tm_run_result_free(&b);
    check_version("--version", NULL);
    tm_tidemark(&a, NULL, "help", "nosuch", NULL);
    tm_assert_exit(&a, 2);
    ck_assert_str_eq(a.err, "tidemark: unknown command 'nosuch'; run 'tidemark --help' for the "
                            "list\n");
    ck_assert_uint_eq(a.out_len, 0);
    tm_run_result_free(&a);
    tm_tidemark(&a, NULL, "nosuch\x1b", NULL);
    tm_assert_exit(&a, 2);
    ck_assert_str_eq(a.err, "tidemark: unknown command 'nosuch\\x1b'; run 'tidemark --help' for "
                            "the list\n");
    tm_run_result_free(&a);
    tm_tidemark(&a, NULL, NULL);
    tm_assert_exit(&a, 2);
    ck_assert_uint_eq(a.out_len, 0);
    tm_run_result_free(&a);
}
END_TEST

int main(void)
{
    return tm_check_main("cli_contract", "core", 0, TM_TESTS(every_command, tidemark_itself));
}
