/* Typed errors, shared by every layer. A function that fails fills a
 * tm_error and returns -1 (or NULL):
 *   code     what kind of failure it is (tm_errcode below), for callers to
 *            test with tm_error_is instead of reading errno after the fact;
 *   msg      one human sentence: what went wrong and, where we can tell,
 *            what to do;
 *   context  optionally, the file the error is about and the byte offset
 *            in it (a damaged frame names its segment and offset).
 * Library layers never print: they return a tm_error and the command says
 * it. Callers add context to the sentence with tm_error_prefix, which
 * keeps code and file. Commands turn the code into the process exit status
 * with tm_error_exit_status, the one place that maps the two.
 *
 * The codes, their names and exit statuses (the table in tm_error.c):
 *
 *   code              name       exit  what failed
 *   TM_ERR_NONE       ok         0     nothing (a cleared tm_error)
 *   TM_ERR_FAILED     failed     1     anything not named below
 *   TM_ERR_USAGE      usage      2     the command line: an option, a value, an argument
 *   TM_ERR_NOT_FOUND  not-found  1     a file, directory, journal or object that is not there
 *   TM_ERR_IO         io         1     reading, writing or syncing a file (EIO, EACCES, ...)
 *   TM_ERR_NO_SPACE   no-space   1     the file system or a quota is full (ENOSPC, EDQUOT)
 *   TM_ERR_NOMEM      no-memory  1     memory allocation
 *   TM_ERR_CORRUPT    corrupt    1     damaged journal or checkpoint data (a CRC, a frame or
 *                                      record that does not decode, a segment missing)
 *   TM_ERR_FORMAT     format     1     input tidemark cannot take: a value or file that does
 *                                      not parse, protocol data, an unsupported version
 *   TM_ERR_DB         db         1     PostgreSQL or libpq (connecting, a query, replication)
 *   TM_ERR_CONFLICT   conflict   1     something held or changed by someone else (a journal
 *                                      locked by another capture, a row changed since)
 *
 * Only a usage error exits 2; every other failure exits 1. */
#ifndef TM_ERROR_H
#define TM_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum tm_errcode {
    TM_ERR_NONE = 0,
    TM_ERR_FAILED,
    TM_ERR_USAGE,
    TM_ERR_NOT_FOUND,
    TM_ERR_IO,
    TM_ERR_NO_SPACE,
    TM_ERR_NOMEM,
    TM_ERR_CORRUPT,
    TM_ERR_FORMAT,
    TM_ERR_DB,
    TM_ERR_CONFLICT,
    TM_ERR_COUNT_ /* number of codes; not a code */
} tm_errcode;

/* "tm_error err = {0};" is a cleared error (TM_ERR_NONE). */
typedef struct tm_error {
    char msg[1024];
    tm_errcode code;
    char file[1024]; /* context: the file concerned, "" when none (truncated when longer) */
    bool has_offset; /* context: offset is a byte offset in file */
    uint64_t offset;
} tm_error;

/* A new error: code TM_ERR_FAILED (tm_error_set) or the given code
 * (tm_error_setc), and no context. err may be NULL (nothing is recorded). */
void tm_error_set(tm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tm_error_setc(tm_error *err, tm_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A new error from errno: appends ": strerror(errno)" and takes the code
 * tm_errcode_from_errno gives. errno is left as it was. */
void tm_error_errno(tm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Puts "PREFIX: " before the message; code and context are kept. */
void tm_error_prefix(tm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Attaches context to the error already set: the file, and a byte offset
 * in it (tm_error_at) or none (tm_error_in). */
void tm_error_at(tm_error *err, const char *file, uint64_t offset);
void tm_error_in(tm_error *err, const char *file);
/* Back to no error (TM_ERR_NONE, empty message, no context). */
void tm_error_clear(tm_error *err);

/* ENOENT: NOT_FOUND; ENOSPC, EDQUOT: NO_SPACE; ENOMEM: NOMEM; 0: NONE;
 * anything else (ENOTDIR and EACCES too): IO, a system call on a file
 * failed. */
tm_errcode tm_errcode_from_errno(int e);
/* Whether err holds an error of that code (false for a NULL err). */
bool tm_error_is(const tm_error *err, tm_errcode code);
/* The code's short name ("not-found"; "unknown" for a value outside the enum). */
const char *tm_errcode_name(tm_errcode code);
/* The exit status for a command that fails with err: 2 for a usage error,
 * 0 for TM_ERR_NONE, 1 for everything else (and for a NULL err). */
int tm_error_exit_status(const tm_error *err);

#endif
