/* tm_usage_error: the one shape of a usage error; tm_cli_conninfo: a
 * connection string taken from argv (see cli.h). */
#include "store/cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/log.h"
#include "store/common/secret.h"

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

char *tm_cli_conninfo(const char *opt, char *value)
{
    char *copy = strdup(value);
    if (!copy) {
        tm_log_error("out of memory");
        return NULL;
    }
    tm_secret_register(copy);
    if (tm_secret_scrub(value) > 0)
        tm_log_warning("a password was given in %s: every user of this machine could see it in the "
                       "process list until now (it is hidden there from here on), and it may be "
                       "in your shell history. Give it with PGPASSWORD, ~/.pgpass, a service file "
                       "(or capture's --source-file) instead",
                       opt);
    return copy;
}
