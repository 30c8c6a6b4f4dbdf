/* Command-line errors, said the same way by every command:
 *   tidemark CMD: <what>; run 'tidemark CMD --help' for the options
 * on stderr, through the logger (so what it echoes is inert), nothing on
 * stdout. It returns 2, the exit status of a usage error. The parser
 * (opts.h) says its own errors with it too. */
#ifndef TM_CLI_H
#define TM_CLI_H

int tm_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For what getopt_long returned when no case of the command took it (for
 * the commands not yet described by opts.h). */
int tm_usage_bad_option(const char *cmd, int c, char **argv);

#endif
