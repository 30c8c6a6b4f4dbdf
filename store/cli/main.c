/* tidemark: dispatches to the commands. It lives beside the shared store
 * layer that every command uses; each command's code and its description
 * (a tm_command, opts.h) live in its layer's folder.
 *
 *   tidemark --help | help          this help, listing the commands
 *   tidemark help C | C --help      C's help (the same text)
 *   tidemark --version | C --version
 *   tidemark C [OPTIONS]            runs C */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/cli/commands.h"
#include "store/common/log.h"

static const tm_command *const commands[] = {
    &tm_cmd_capture, &tm_cmd_status,     &tm_cmd_replay, &tm_cmd_undo,    &tm_cmd_log,
    &tm_cmd_verify,  &tm_cmd_checkpoint, &tm_cmd_prune,  &tm_cmd_archive, &tm_cmd_compact,
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const tm_command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i]->name))
            return commands[i];
    return NULL;
}

/* A usage error of tidemark itself, in the shape of the commands'. */
static int usage_error(const char *what, const char *arg)
{
    tm_log_error("%s%s%s%s; run 'tidemark --help' for the list", what, arg ? " '" : "",
                 arg ? arg : "", arg ? "'" : "");
    return 2;
}

static bool is(const char *arg, const char *shortform, const char *longform)
{
    return !strcmp(arg, shortform) || !strcmp(arg, longform);
}

/* tidemark help [COMMAND] */
static int help(int argc, char **argv)
{
    if (argc > 3)
        return usage_error("unexpected argument", argv[3]);
    if (argc == 2 || is(argv[2], "-h", "--help")) {
        tm_cli_help_all(commands, NCOMMANDS, stdout);
        return 0;
    }
    const tm_command *c = find(argv[2]);
    if (!c)
        return usage_error("unknown command", argv[2]);
    tm_cli_help(c, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("no command given", NULL);
    if (is(argv[1], "-h", "--help") || !strcmp(argv[1], "help"))
        return help(argc, argv);
    if (is(argv[1], "-V", "--version")) {
        printf("tidemark %s\n", TIDEMARK_VERSION);
        return 0;
    }
    const tm_command *c = find(argv[1]);
    if (c)
        return c->run(argc - 1, argv + 1);
    return usage_error(argv[1][0] == '-' ? "unknown option" : "unknown command", argv[1]);
}
