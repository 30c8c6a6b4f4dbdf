/* Command-line errors, said the same way by every command:
 *   tidemark CMD: <what>; run 'tidemark CMD --help' for the options
 * on stderr, through the logger (so what it echoes is inert), nothing on
 * stdout. It returns 2, the exit status of a usage error. The parser
 * (opts.h) says its own errors with it too. */
#ifndef TM_CLI_H
#define TM_CLI_H

int tm_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A connection string given on the command line as option opt, value in
 * argv's own storage: its passwords are remembered so that no message
 * shows them, and overwritten in argv at once (ps and /proc show argv),
 * with a warning that says how to give them instead. Returns a malloc'd
 * copy to connect with (the caller frees it), or NULL when out of memory
 * (said). */
char *tm_cli_conninfo(const char *opt, char *value);

#endif
