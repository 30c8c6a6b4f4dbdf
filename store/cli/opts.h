/* One command-line contract for every command: a declarative description
 * of each (tm_command: name, summary, synopsis, description, options, exit
 * codes, run function), and the one parser of argv built from it.
 *
 * The parser handles -h/--help (the help generated from the description,
 * on stdout, exit 0) and -V/--version for every command, parses values
 * (whole numbers in a range, LSNs, one of a list), sets the logger's
 * command name and level (--quiet, --verbose), and says every usage error
 * in one shape (cli.h), exit 2:
 *   tidemark CMD: <what>; run 'tidemark CMD --help' for the options
 *
 *   tm_cli p;
 *   tm_cli_begin(&p, &tm_cmd_verify, argc, argv);
 *   int id;
 *   while ((id = tm_cli_next(&p)) > 0)
 *       switch (id) { case OPT_JOURNAL: dir = p.arg; break; ... }
 *   if (id == TM_CLI_EXIT)
 *       return p.status;
 */
#ifndef TM_OPTS_H
#define TM_OPTS_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

typedef enum tm_opt_kind {
    TM_OPT_FLAG,   /* no value */
    TM_OPT_TEXT,   /* any text: p.arg */
    TM_OPT_UINT,   /* a whole number in [min, max]: p.num */
    TM_OPT_LSN,    /* a WAL position such as 0/16B3748: p.num */
    TM_OPT_CHOICE, /* one of choices: p.choice, its index */
} tm_opt_kind;

/* tm_option.flags */
enum {
    TM_OPT_REQUIRED = 1, /* missing: "--journal DIR is required" */
    TM_OPT_QUIET = 2,    /* sets the log level to warnings and errors */
    TM_OPT_VERBOSE = 4,  /* sets the log level to debugging */
};

typedef struct tm_option {
    int id;           /* what tm_cli_next returns for it, > 0 */
    const char *name; /* long name, without "--" */
    char letter;      /* short form, or 0 */
    tm_opt_kind kind;
    const char *value; /* the value's name in help ("DIR"); NULL for a flag */
    const char *help;  /* wrapped when printed; '\n' breaks a line */
    unsigned flags;
    uint64_t min, max;          /* TM_OPT_UINT */
    const char *expect;         /* TM_OPT_UINT, TM_OPT_LSN: what a bad value is told,
                                   e.g. "needs a positive count"; NULL: the range */
    const char *const *choices; /* TM_OPT_CHOICE: NULL-terminated */
} tm_option;

typedef struct tm_exit_code {
    int code;
    const char *meaning;
} tm_exit_code;

/* The exit codes every command shares; a command lists them with its own. */
#define TM_EXIT_SUCCESS                                                                            \
    {                                                                                              \
        0, "success"                                                                               \
    }
#define TM_EXIT_FAILURE                                                                            \
    {                                                                                              \
        1, "failure: the journal could not be read or written, the database refused, or another "  \
           "error while working (the message says which)"                                          \
    }
#define TM_EXIT_USAGE                                                                              \
    {                                                                                              \
        2, "usage error: the command line is wrong (the message says how)"                         \
    }

typedef struct tm_command {
    const char *name;
    const char *summary;               /* one line, listed by tidemark --help */
    const char *synopsis;              /* what follows "Usage: tidemark NAME " */
    const char *description;           /* paragraphs separated by blank lines */
    const tm_option *options;          /* ends with {0}; -h/--help and -V/--version are added */
    const char *notes;                 /* paragraphs after the options, or NULL */
    const tm_exit_code *exits;         /* ends with {0, NULL} */
    int (*run)(int argc, char **argv); /* argv[0] is the command's name */
} tm_command;

#define TM_CLI_MAX_OPTIONS 32
#define TM_CLI_EXIT (-1)

/* A parse in progress; the fields above "private" are for the command. */
typedef struct tm_cli {
    const tm_command *cmd;
    const tm_option *opt; /* the option tm_cli_next returned */
    const char *arg;      /* its value as given; NULL for a flag */
    uint64_t num;         /* TM_OPT_UINT, TM_OPT_LSN */
    int choice;           /* TM_OPT_CHOICE */
    int status;           /* after TM_CLI_EXIT: the command's exit status */
    /* private */
    int argc;
    char **argv;
    struct option longopts[TM_CLI_MAX_OPTIONS + 3];
    char shortopts[3 * TM_CLI_MAX_OPTIONS + 8];
    unsigned char seen[TM_CLI_MAX_OPTIONS];
} tm_cli;

/* Starts parsing argv (argv[0] is the command's name) for cmd; sets the
 * logger's command name and the default level. */
void tm_cli_begin(tm_cli *p, const tm_command *cmd, int argc, char **argv);

/* The next option: its id (> 0, with p->opt, p->arg and its parsed
 * value); 0 when all were read and are sound (no argument left over,
 * every required option given); or TM_CLI_EXIT: stop and return
 * p->status (0 after --help or --version, 2 after a usage error, said). */
int tm_cli_next(tm_cli *p);

/* The options every command spells the same way. */
#define TM_OPTION_JOURNAL(ident)                                                                   \
    {                                                                                              \
        .id = (ident), .name = "journal", .letter = 'j', .kind = TM_OPT_TEXT, .value = "DIR",      \
        .help = "the journal directory (required)", .flags = TM_OPT_REQUIRED                       \
    }
/* --journal of a reader that also reads an archived journal in place
 * (store/archive/source.h), and where it may keep what it fetched. */
#define TM_OPTION_JOURNAL_READ(ident)                                                              \
    {                                                                                              \
        .id = (ident), .name = "journal", .letter = 'j', .kind = TM_OPT_TEXT, .value = "DIR",      \
        .help = "the journal directory, or s3://BUCKET/PREFIX: an archived journal (tidemark "     \
                "archive) read in place with ranged GETs, S3 settings from the environment as "    \
                "for archive (required)",                                                          \
        .flags = TM_OPT_REQUIRED                                                                   \
    }
#define TM_OPTION_CACHE_DIR(ident)                                                                 \
    {                                                                                              \
        .id = (ident), .name = "cache-dir", .kind = TM_OPT_TEXT, .value = "DIR",                   \
        .help = "with an s3:// journal: keep the parts fetched in DIR and read them from there "   \
                "next time"                                                                        \
    }
#define TM_OPTION_ARCHIVE_KEY(ident)                                                               \
    {                                                                                              \
        .id = (ident), .name = "encrypt-key-file", .kind = TM_OPT_TEXT, .value = "FILE",           \
        .help = "with an s3:// journal archived with encryption: the key file (tidemark archive "  \
                "--help)"                                                                          \
    }
#define TM_OPTION_QUIET(ident, text)                                                               \
    {                                                                                              \
        .id = (ident), .name = "quiet", .letter = 'q', .help = (text), .flags = TM_OPT_QUIET       \
    }
#define TM_OPTION_VERBOSE(ident, text)                                                             \
    {                                                                                              \
        .id = (ident), .name = "verbose", .letter = 'v', .help = (text), .flags = TM_OPT_VERBOSE   \
    }
/* An option that takes any text: --NAME VALUE. */
#define TM_OPTION_TEXT(ident, long_name, value_name, text)                                         \
    {                                                                                              \
        .id = (ident), .name = (long_name), .kind = TM_OPT_TEXT, .value = (value_name),            \
        .help = (text)                                                                             \
    }

/* The whole command line at once: take(ctx, p, id) for each option (0 to
 * go on, or the exit status to stop with, the error said), then check(ctx)
 * when given (likewise). Returns 0 to run the command, or -1 to stop with
 * *status (0 after --help or --version). */
typedef int (*tm_cli_take_fn)(void *ctx, const tm_cli *p, int id);
typedef int (*tm_cli_check_fn)(void *ctx);
int tm_cli_parse(const tm_command *cmd, int argc, char **argv, tm_cli_take_fn take,
                 tm_cli_check_fn check, void *ctx, int *status);

/* s as a whole number in [min, max] (decimal digits only): 0, or -1. */
int tm_cli_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* The help of cmd (Usage:, the description, Options:, Exit status:). */
void tm_cli_help(const tm_command *cmd, FILE *f);
/* The help of tidemark itself, listing the commands. */
void tm_cli_help_all(const tm_command *const *cmds, size_t n, FILE *f);

#endif
