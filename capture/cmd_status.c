/* Placeholder until the command lands (see the open issues). */
#include <stdio.h>

#include "commands.h"

int cmd_status(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tidemark status: not implemented yet\n");
    return 2;
}
