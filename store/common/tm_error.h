/* Error reporting shared by every layer: a function that fails fills a
 * tm_error with one human sentence (what went wrong and, where we can tell,
 * what to do) and returns -1. Callers add context with tm_error_prefix. */
#ifndef TM_ERROR_H
#define TM_ERROR_H

#include <stdarg.h>

typedef struct tm_error {
    char msg[1024];
} tm_error;

void tm_error_set(tm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* errno-based variant: appends ": strerror(errno)". */
void tm_error_errno(tm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tm_error_prefix(tm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
