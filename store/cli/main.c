/* tidemark: dispatches to the subcommands. It lives beside the shared store
 * layer that every command uses; each command's code lives in its folder. */
#include <stdio.h>
#include <string.h>

#include "store/cli/commands.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    {"capture", cmd_capture, "consume a pgoutput slot into a journal (the sidecar)"},
    {"status", cmd_status, "show what a journal holds and how far behind its source it is"},
    {"replay", cmd_replay, "reconstruct rows as of a time or LSN, to files or a database"},
    {"undo", cmd_undo, "generate or apply inverse SQL for transactions or a time window"},
    {"log", cmd_log, "forensic history: who changed what, when, old -> new"},
    {"verify", cmd_verify, "check every frame of a journal"},
    {"checkpoint", cmd_checkpoint, "materialise replay state so late points replay fast"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "tidemark %s: point-in-time history of chosen PostgreSQL tables\n\n"
            "Usage: tidemark COMMAND [OPTIONS]\n\nCommands:\n",
            TIDEMARK_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'tidemark COMMAND --help' for a command's options.\n"
               "  --help      show this help\n  --version   show the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("tidemark %s\n", TIDEMARK_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tidemark: unknown command '%s'; run 'tidemark --help' for the list\n",
            argv[1]);
    return 2;
}
