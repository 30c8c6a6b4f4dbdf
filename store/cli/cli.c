/* tm_usage_error: the one shape of a usage error (see cli.h). */
#include "store/cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/common/log.h"

int tm_usage_error(const char *cmd, const char *fmt, ...)
{
    char *what;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&what, fmt, ap);
    va_end(ap);
    if (n < 0)
        what = NULL;
    tm_log_error("%s; run 'tidemark %s --help' for the options", what ? what : "usage error", cmd);
    free(what);
    return 2;
}
