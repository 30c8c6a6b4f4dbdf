/* Command-line errors, said the same way by every command:
 *   tidemark CMD: <what>; run 'tidemark CMD --help' for the options
 * on stderr, through the logger (so what it echoes is inert), nothing on
 * stdout. It returns 2, the exit status of a usage error. The parser
 * (opts.h) says its own errors with it too. */
#ifndef TM_CLI_H
#define TM_CLI_H

int tm_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
