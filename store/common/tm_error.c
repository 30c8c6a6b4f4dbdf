/* Typed errors: setting code, message and context, and the one table of
 * codes, their names and the exit status each gives (see tm_error.h). */
#include "store/common/tm_error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int exit_status;
} codes[TM_ERR_COUNT_] = {
    [TM_ERR_NONE] = {"ok", 0},
    [TM_ERR_FAILED] = {"failed", 1},
    [TM_ERR_USAGE] = {"usage", 2},
    [TM_ERR_NOT_FOUND] = {"not-found", 1},
    [TM_ERR_IO] = {"io", 1},
    [TM_ERR_NO_SPACE] = {"no-space", 1},
    [TM_ERR_NOMEM] = {"no-memory", 1},
    [TM_ERR_CORRUPT] = {"corrupt", 1},
    [TM_ERR_FORMAT] = {"format", 1},
    [TM_ERR_DB] = {"db", 1},
    [TM_ERR_CONFLICT] = {"conflict", 1},
};

static bool known(tm_errcode code)
{
    return (unsigned)code < TM_ERR_COUNT_;
}

const char *tm_errcode_name(tm_errcode code)
{
    return known(code) ? codes[code].name : "unknown";
}

int tm_error_exit_status(const tm_error *err)
{
    if (!err || !known(err->code))
        return 1;
    return codes[err->code].exit_status;
}

bool tm_error_is(const tm_error *err, tm_errcode code)
{
    return err && err->code == code;
}

tm_errcode tm_errcode_from_errno(int e)
{
    switch (e) {
    case 0:
        return TM_ERR_NONE;
    case ENOENT:
        return TM_ERR_NOT_FOUND;
    case ENOSPC:
    case EDQUOT:
        return TM_ERR_NO_SPACE;
    case ENOMEM:
        return TM_ERR_NOMEM;
    default:
        return TM_ERR_IO;
    }
}

/* A new error: the code, the message, no context. */
static void start(tm_error *err, tm_errcode code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void start(tm_error *err, tm_errcode code, const char *fmt, va_list ap)
{
    err->code = code;
    err->file[0] = '\0';
    err->has_offset = false;
    err->offset = 0;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

void tm_error_set(tm_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    start(err, TM_ERR_FAILED, fmt, ap);
    va_end(ap);
}

void tm_error_setc(tm_error *err, tm_errcode code, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    start(err, code, fmt, ap);
    va_end(ap);
}

void tm_error_errno(tm_error *err, const char *fmt, ...)
{
    int saved = errno;
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    start(err, tm_errcode_from_errno(saved), fmt, ap);
    va_end(ap);
    size_t n = strlen(err->msg);
    if (n < sizeof err->msg - 1)
        snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(saved));
    errno = saved;
}

void tm_error_prefix(tm_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is fine here: the message stays a readable sentence. */
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3, len = strnlen(old, sizeof old - 1);
    if (len > room)
        len = room;
    memcpy(err->msg + n + 2, old, len);
    err->msg[n + 2 + len] = '\0';
}

void tm_error_in(tm_error *err, const char *file)
{
    if (!err)
        return;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->has_offset = false;
    err->offset = 0;
}

void tm_error_at(tm_error *err, const char *file, uint64_t offset)
{
    if (!err)
        return;
    tm_error_in(err, file);
    err->has_offset = true;
    err->offset = offset;
}

void tm_error_clear(tm_error *err)
{
    if (!err)
        return;
    err->msg[0] = '\0';
    tm_error_in(err, NULL);
    err->code = TM_ERR_NONE;
}
