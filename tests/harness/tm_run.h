/* Running programs from tests: argv arrays (never a shell), stdout and stderr
 * captured separately, optional stdin bytes, environment changes, a timeout
 * that kills the whole process group, and an exit status you can assert on.
 * Integration tests run the built tidemark binary (TM_BINARY) through it. */
#ifndef TM_RUN_H
#define TM_RUN_H

#include <stdarg.h>
#include <stddef.h>

#define TM_RUN_DEFAULT_TIMEOUT_MS 60000

typedef struct tm_run_opts {
    /* NULL-terminated; "NAME=value" sets or replaces, "NAME" unsets. */
    const char *const *env;
    /* Bytes fed to stdin (then closed); NULL: stdin is /dev/null. */
    const char *input;
    size_t input_len;    /* 0 with input set: strlen(input) */
    int timeout_ms;      /* 0: TM_RUN_DEFAULT_TIMEOUT_MS */
    const char *cwd;     /* NULL: the caller's */
    const char *as_user; /* run as this OS user (needs root); NULL: as the caller */
} tm_run_opts;

typedef struct tm_run_result {
    int status;    /* exit code; 128+N if killed by signal N; -1 if it could not run */
    int signal;    /* the signal that ended it, or 0 */
    int timed_out; /* 1 if we killed it at the timeout */
    char *out;     /* stdout, NUL-terminated (may hold NULs itself) */
    size_t out_len;
    char *err; /* stderr, NUL-terminated; says why when status is -1 */
    size_t err_len;
} tm_run_result;

/* Runs argv[0] (searched in PATH when it has no '/') and waits for it.
 * Fills *res (free it with tm_run_result_free) and returns res->status. */
int tm_runv(const char *const *argv, const tm_run_opts *opts, tm_run_result *res);

/* tm_runv of the built tidemark binary with the given arguments, NULL-terminated:
 *   tm_tidemark(&r, NULL, "verify", "--journal", dir, NULL); */
int tm_tidemark(tm_run_result *res, const tm_run_opts *opts, ...) __attribute__((sentinel));
/* Same with an argument array (without the program), NULL-terminated. */
int tm_tidemarkv(tm_run_result *res, const tm_run_opts *opts, const char *const *args);
/* Same with the arguments lead (NULL-terminated) first, then those of ap up
 * to a NULL: for a suite's own wrapper, undo(&r, "--xid", x, NULL). */
int tm_tidemark_ap(tm_run_result *res, const tm_run_opts *opts, const char *const *lead,
                   va_list ap);

void tm_run_result_free(tm_run_result *res);

/* tm_tidemarkv that fails the current test unless tidemark exits with
 * code; returns its stdout (malloc'd). */
char *tm_tidemark_expect(int code, const tm_run_opts *opts, const char *const *args);
/* Fails the current test unless tidemark verify calls the journal sound
 * (exit status 0). */
void tm_verify_sound(const char *journal);

/* Fails the current test unless the run exited with `code`, showing its
 * stdout and stderr in the failure message. */
#define tm_assert_exit(res, code)                                                                  \
    ck_assert_msg((res)->status == (code),                                                         \
                  "exit status %d (expected %d)%s\n--- stdout:\n%s\n--- stderr:\n%s",              \
                  (res)->status, (code), (res)->timed_out ? ", killed at timeout" : "",            \
                  (res)->out ? (res)->out : "", (res)->err ? (res)->err : "")

#endif
