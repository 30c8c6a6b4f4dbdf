/* The one logger of every command and library: a line on stderr per
 * message, in one shape,
 *   tidemark CMD: message              (errors, information, debugging)
 *   tidemark CMD: WARNING: message     (warnings)
 * ("tidemark: " before a command is set). The message is made inert
 * (inert.h): control characters in names, paths and values it echoes are
 * escaped, so a line is always one line. Passwords of connection strings
 * in it are shown as "***" (secret.h), also libpq's error texts quoting a
 * conninfo. One place sets the command's name
 * and the level (the command-line parser, store/cli/opts.c: --quiet keeps
 * warnings and errors, --verbose adds debugging). Usage text and the output
 * a command was asked for go to stdout, not here. */
#ifndef TM_LOG_H
#define TM_LOG_H

#include <stdbool.h>

typedef enum tm_log_level {
    TM_LOG_ERROR,
    TM_LOG_WARNING,
    TM_LOG_INFO, /* the default */
    TM_LOG_DEBUG,
} tm_log_level;

/* The command the lines are about ("replay"), or NULL. Keeps the pointer. */
void tm_log_set_command(const char *name);
/* Messages above level are dropped. */
void tm_log_set_level(tm_log_level level);
bool tm_log_enabled(tm_log_level level);

void tm_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tm_log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tm_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tm_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A progress line, at the info level. With rewrite (stderr is a terminal)
 * each line is written over the one before until the final one; another
 * message in between starts on a line of its own. */
void tm_log_progress(bool rewrite, bool final, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
