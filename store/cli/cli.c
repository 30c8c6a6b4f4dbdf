#include "store/cli/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

int tm_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tidemark %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; run 'tidemark %s --help' for the options\n", cmd);
    va_end(ap);
    return 2;
}

int tm_usage_bad_option(const char *cmd, int c, char **argv)
{
    /* getopt_long has moved past the option it did not take */
    return c == ':' ? tm_usage_error(cmd, "%s needs a value", argv[optind - 1])
                    : tm_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}
