/* The shared option parser (store/cli/opts.h), in process: values of each
 * kind, flags, usage errors in the one shape, --quiet/--verbose, and the
 * generated help. The binary's side is test_cli_contract. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/cli/opts.h"
#include "store/common/log.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

enum { O_JOURNAL = 1, O_COUNT, O_LSN, O_FORMAT, O_DRY, O_QUIET, O_VERBOSE, O_LONGEST };

static const char *const formats[] = {"csv", "jsonl", "sql", NULL};

static const tm_option options[] = {
    {.id = O_JOURNAL,
     .name = "journal",
     .letter = 'j',
     .kind = TM_OPT_TEXT,
     .value = "DIR",
     .help = "the journal",
     .flags = TM_OPT_REQUIRED},
    {.id = O_COUNT,
     .name = "count",
     .letter = 'n',
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "how many",
     .min = 1,
     .max = 1000},
    {.id = O_LSN, .name = "lsn", .kind = TM_OPT_LSN, .value = "LSN", .help = "where"},
    {.id = O_FORMAT,
     .name = "format",
     .kind = TM_OPT_CHOICE,
     .value = "FMT",
     .help = "which",
     .choices = formats},
    {.id = O_DRY, .name = "dry-run", .kind = TM_OPT_FLAG, .help = "change nothing"},
    {.id = O_QUIET, .name = "quiet", .letter = 'q', .help = "less", .flags = TM_OPT_QUIET},
    {.id = O_VERBOSE, .name = "verbose", .letter = 'v', .help = "more", .flags = TM_OPT_VERBOSE},
    {.id = O_LONGEST,
     .name = "a-very-long-option-name",
     .kind = TM_OPT_TEXT,
     .value = "VALUE",
     .help = "its help starts on the next line and is long enough to wrap around to a second "
             "line of its own"},
    {0},
};

static const tm_exit_code exits[] = {TM_EXIT_SUCCESS, TM_EXIT_FAILURE, TM_EXIT_USAGE, {0, NULL}};

static const tm_command cmd = {
    .name = "demo",
    .summary = "a command to test the parser",
    .synopsis = "--journal DIR [--count N] [--lsn LSN] [--format csv|jsonl|sql] [--dry-run] "
                "[--quiet | --verbose] [--a-very-long-option-name VALUE]",
    .description = "First paragraph.\n\nSecond paragraph, long enough to be wrapped at the "
                   "seventy-ninth column of the terminal by the help generator of store/cli.",
    .options = options,
    .notes = "A note after the options.",
    .exits = exits,
};

typedef struct parsed {
    const char *journal;
    uint64_t count, lsn;
    int format, dry, status, last;
    char *err;
} parsed;

/* Parses args (after "demo"), capturing stderr. */
static parsed parse(const char *const *args)
{
    char *argv[16] = {"demo"};
    int argc = 1;
    while (args[argc - 1])
        argv[argc] = (char *)args[argc - 1], argc++;
    parsed r = {.format = -1};
    tmt_capture cap;
    tmt_stderr_begin(&cap);
    tm_cli p;
    tm_cli_begin(&p, &cmd, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0) {
        r.last = id;
        if (id == O_JOURNAL)
            r.journal = p.arg;
        else if (id == O_COUNT)
            r.count = p.num;
        else if (id == O_LSN)
            r.lsn = p.num;
        else if (id == O_FORMAT)
            r.format = p.choice;
        else if (id == O_DRY)
            r.dry = 1;
    }
    r.status = id == TM_CLI_EXIT ? p.status : 0;
    r.err = tmt_stderr_end(&cap);
    return r;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_usage(const char *what, const char *const *args)
{
    parsed r = parse(args);
    char want[512];
    snprintf(want, sizeof want, "tidemark demo: %s; run 'tidemark demo --help' for the options\n",
             what);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, want);
    free(r.err);
}

START_TEST(values)
{
    parsed r = parse(ARGS("--journal", "j", "-n", "7", "--lsn", "16/B374D848", "--format", "jsonl",
                          "--dry-run"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "");
    ck_assert_str_eq(r.journal, "j");
    ck_assert_uint_eq(r.count, 7);
    ck_assert_uint_eq(r.lsn, 0x16B374D848ull);
    ck_assert_int_eq(r.format, 1);
    ck_assert_int_eq(r.dry, 1);
    free(r.err);
    r = parse(ARGS("-jj2", "--count=1000", "--jour", "j3")); /* glued, =, abbreviated */
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.journal, "j3");
    ck_assert_uint_eq(r.count, 1000);
    free(r.err);
}
END_TEST

START_TEST(usage_errors)
{
    expect_usage("unknown option '--bogus'", ARGS("--journal", "j", "--bogus"));
    expect_usage("unknown option '--bogus'", ARGS("--bogus=1", "--journal", "j"));
    expect_usage("unknown option '-x'", ARGS("-qx", "--journal", "j"));
    expect_usage("unknown option '-x'", ARGS("-xq", "--journal", "j"));
    expect_usage("--journal needs a value", ARGS("--journal"));
    expect_usage("--journal needs a value", ARGS("-j"));
    expect_usage("--count needs a value", ARGS("--journal", "j", "-qn"));
    expect_usage("--dry-run takes no value", ARGS("--journal", "j", "--dry-run=yes"));
    expect_usage("--help takes no value", ARGS("--help=yes"));
    expect_usage("unexpected argument 'extra'", ARGS("--journal", "j", "extra"));
    expect_usage("--journal DIR is required", ARGS("--dry-run"));
    expect_usage("--quiet and --verbose do not go together", ARGS("-q", "--journal", "j", "-v"));
    const char *bad_counts[] = {
        "0", "1001", "", "-1", "+5", " 5", "5x", "0x10", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_counts / sizeof *bad_counts; i++) {
        char what[128];
        snprintf(what, sizeof what, "--count needs a whole number from 1 to 1000, not '%s'",
                 bad_counts[i]);
        expect_usage(what, ARGS("--journal", "j", "--count", bad_counts[i]));
    }
    expect_usage("--lsn needs an LSN such as 0/16B3748, not '12'",
                 ARGS("--journal", "j", "--lsn", "12"));
    expect_usage("--format must be csv, jsonl or sql, not 'xml'",
                 ARGS("--journal", "j", "--format", "xml"));
    /* What the user typed is echoed inert. */
    expect_usage("unknown option '--\\x1b[31mred'", ARGS("--journal", "j", "--\x1b[31mred"));
    expect_usage("--format must be csv, jsonl or sql, not 'a\\nb'",
                 ARGS("--journal", "j", "--format", "a\nb"));
}
END_TEST

START_TEST(levels)
{
    parsed r = parse(ARGS("--journal", "j", "-v"));
    ck_assert(r.status == 0 && tm_log_enabled(TM_LOG_DEBUG));
    free(r.err);
    r = parse(ARGS("--journal", "j", "--quiet"));
    ck_assert(r.status == 0 && !tm_log_enabled(TM_LOG_INFO) && tm_log_enabled(TM_LOG_WARNING));
    ck_assert_int_eq(r.last, O_QUIET);
    free(r.err);
    r = parse(ARGS("--journal", "j"));
    ck_assert(tm_log_enabled(TM_LOG_INFO) && !tm_log_enabled(TM_LOG_DEBUG));
    free(r.err);
}
END_TEST

START_TEST(uint_parser)
{
    uint64_t v;
    ck_assert_int_eq(tm_cli_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(tm_cli_uint("18446744073709551616", 0, UINT64_MAX, &v), -1);
    ck_assert_int_eq(tm_cli_uint("007", 7, 7, &v), 0);
    ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(help_text)
{
    FILE *f = tmpfile();
    tm_cli_help(&cmd, f);
    long len = ftell(f);
    rewind(f);
    char *h = calloc(1, (size_t)len + 1);
    ck_assert_uint_eq(fread(h, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    const char *want[] = {
        "Usage: tidemark demo --journal DIR [--count N] [--lsn LSN]\n"
        "                     [--format csv|jsonl|sql] [--dry-run] [--quiet | --verbose]\n"
        "                     [--a-very-long-option-name VALUE]\n\nFirst paragraph.\n\n"
        "Second paragraph, long enough to be wrapped at the seventy-ninth column of the\n"
        "terminal by the help generator of store/cli.\n\nOptions:\n",
        "  -j, --journal DIR  the journal\n",
        "  -n, --count N      how many\n",
        "      --dry-run      change nothing\n",
        "      --a-very-long-option-name VALUE\n"
        "                     its help starts on the next line and is long enough to\n"
        "                     wrap around to a second line of its own\n",
        "  -h, --help         show this help\n  -V, --version      show the version\n\n"
        "A note after the options.\n\nExit status:\n  0  success\n  1  failure: the journal",
        "\n  2  usage error: the command line is wrong (the message says how)\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(h, want[i]), "help lacks:\n%s\n--- help:\n%s", want[i], h);
    for (char *line = h; *line;) {
        size_t n = strcspn(line, "\n");
        ck_assert_msg(n <= 79 && (n == 0 || line[n - 1] != ' '), "line of %zu: %.*s", n, (int)n,
                      line);
        line += n + (line[n] != '\0');
    }
    free(h);
}
END_TEST

int main(void)
{
    return tm_check_main("opts", "core", 0,
                         TM_TESTS(values, usage_errors, levels, uint_parser, help_text));
}
