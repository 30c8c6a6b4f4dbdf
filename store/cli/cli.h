/* Command-line errors, said the same way by every command:
 *   tidemark CMD: <what>; run 'tidemark CMD --help' for the options
 * on stderr. Both return 2, the exit status of a usage error. */
#ifndef TM_CLI_H
#define TM_CLI_H

int tm_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For what getopt_long returned when no case of the command took it: ':'
 * (an option's value is missing) or anything else (an unknown option). */
int tm_usage_bad_option(const char *cmd, int c, char **argv);

#endif
