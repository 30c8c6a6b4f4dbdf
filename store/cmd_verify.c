/* tidemark verify --journal DIR [--quiet]: the command line around tm_verify. */
#include <stdbool.h>
#include <stdio.h>

#include "store/cli/commands.h"
#include "store/common/log.h"
#include "store/journal/journal.h"

enum { OPT_JOURNAL = 1, OPT_QUIET };

static const tm_option options[] = {
    TM_OPTION_JOURNAL(OPT_JOURNAL),
    TM_OPTION_QUIET(OPT_QUIET, "print only damaged segments and the totals"),
    {0},
};

static const tm_exit_code exits[] = {
    {0, "all sound"},
    {1, "damage found, or the journal could not be read (the message says which)"},
    TM_EXIT_USAGE,
    {0, NULL},
};

static int cmd_verify(int argc, char **argv);

const tm_command tm_cmd_verify = {
    .name = "verify",
    .summary = "check every frame of a journal",
    .synopsis = "--journal DIR [--quiet]",
    .description = "Checks every frame of every segment of a journal (checksums, decoding, LSN "
                   "order, no missing segments, indexes) and prints one line per segment and a "
                   "totals line.",
    .options = options,
    .exits = exits,
    .run = cmd_verify,
};

static int cmd_verify(int argc, char **argv)
{
    const char *dir = NULL;
    bool quiet = false;
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_verify, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0) {
        if (id == OPT_JOURNAL)
            dir = p.arg;
        else if (id == OPT_QUIET)
            quiet = true;
    }
    if (id == TM_CLI_EXIT)
        return p.status;
    tm_error err;
    int rc = tm_verify_opts(dir, stdout, quiet, NULL, &err);
    if (rc < 0) {
        tm_log_error("%s", err.msg);
        return 1;
    }
    return rc;
}
