/* The logger (see log.h): one prefix, one level, inert lines on stderr,
 * passwords masked. */
#include "store/common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/inert.h"
#include "store/common/secret.h"

static const char *log_command;
static tm_log_level log_level = TM_LOG_INFO;
static bool progress_open; /* a rewritten progress line waits for its end */

void tm_log_set_command(const char *name)
{
    log_command = name;
}

void tm_log_set_level(tm_log_level level)
{
    log_level = level;
}

bool tm_log_enabled(tm_log_level level)
{
    return level <= log_level;
}

/* Writes lead, the prefix, the inert message and tail in one write. */
static void emit(const char *lead, tm_log_level level, const char *tail, const char *fmt,
                 va_list ap)
{
    char *raw, *msg;
    if (vasprintf(&raw, fmt, ap) < 0)
        return;
    /* Passwords never reach a log line (secret.h); "***" for a run of
     * hidden bytes at most triples the text. */
    size_t mlen = strlen(raw) * 3 + 4;
    msg = malloc(mlen);
    if (msg)
        tm_secret_mask(raw, msg, mlen);
    free(raw);
    if (!msg)
        return;
    size_t room = strlen(lead) + (log_command ? strlen(log_command) : 0) +
                  TM_INERT_SIZE(strlen(msg)) + strlen(tail) + 32;
    char *line = malloc(room);
    if (line) {
        int n =
            snprintf(line, room, "%stidemark%s%s: %s", lead, log_command ? " " : "",
                     log_command ? log_command : "", level == TM_LOG_WARNING ? "WARNING: " : "");
        tm_inert(msg, line + n, room - (size_t)n);
        strcat(line, tail);
        fwrite(line, 1, strlen(line), stderr);
        fflush(stderr);
    }
    free(line);
    free(msg);
}

static void logv(tm_log_level level, const char *fmt, va_list ap)
{
    if (!tm_log_enabled(level))
        return;
    emit(progress_open ? "\n" : "", level, "\n", fmt, ap);
    progress_open = false;
}

void tm_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(TM_LOG_ERROR, fmt, ap);
    va_end(ap);
}

void tm_log_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(TM_LOG_WARNING, fmt, ap);
    va_end(ap);
}

void tm_log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(TM_LOG_INFO, fmt, ap);
    va_end(ap);
}

void tm_log_debug(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(TM_LOG_DEBUG, fmt, ap);
    va_end(ap);
}

void tm_log_progress(bool rewrite, bool final, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!rewrite) {
        logv(TM_LOG_INFO, fmt, ap);
    } else if (tm_log_enabled(TM_LOG_INFO)) {
        /* The final line is followed by an empty one, as it always was. */
        emit("\r", TM_LOG_INFO, final ? "\n\n" : "   ", fmt, ap);
        progress_open = !final;
    }
    va_end(ap);
}
