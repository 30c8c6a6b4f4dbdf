/* tidemark verify --journal DIR [--quiet]: the command line around tm_verify. */
#include <getopt.h>
#include <stdio.h>

#include "store/cli/commands.h"
#include "store/journal/journal.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: tidemark verify --journal DIR [--quiet]\n\n"
               "Checks every frame of every segment of a journal (checksums, decoding, LSN\n"
               "order, no missing segments, indexes) and prints one line per segment and a\n"
               "totals line.\n\n"
               "  -j, --journal DIR   the journal directory\n"
               "  -q, --quiet         print only damaged segments and the totals\n"
               "  -h, --help          show this help\n\n"
               "Exit status: 0 all sound, 1 damage found, 2 usage error or unreadable journal.\n");
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"journal", required_argument, NULL, 'j'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            dir = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!dir || optind != argc) {
        fprintf(stderr, "tidemark verify: %s\n",
                dir ? "unexpected argument" : "--journal DIR is required");
        usage(stderr);
        return 2;
    }
    tm_error err;
    int rc = tm_verify_opts(dir, stdout, quiet, NULL, &err);
    if (rc < 0) {
        fprintf(stderr, "tidemark verify: %s\n", err.msg);
        return 2;
    }
    return rc;
}
