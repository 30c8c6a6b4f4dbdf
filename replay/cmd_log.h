/* tidemark log's command line, for the tests that run log in process
 * (tests/harness/support_log.c) as well as for cmd_log. */
#ifndef TM_CMD_LOG_H
#define TM_CMD_LOG_H

#include "replay/log/log_opts.h"

/* Parses argv (argv[0] is "log") into o with the shared parser: 0, or -1
 * to stop with *status (0 after --help, 2 after a usage error, said on
 * stderr). Free o with log_opts_free either way. */
int cmd_log_parse(int argc, char **argv, log_opts *o, int *status);

#endif
