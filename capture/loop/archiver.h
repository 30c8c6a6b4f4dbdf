/* capture --archive: the archive copy runs beside capture as a child
 * process, `tidemark archive --journal DIR --to URL` (the same binary,
 * /proc/self/exe), which uploads finished files pass after pass
 * (store/archive/push.h). A process of its own keeps uploads, retries and
 * an unreachable store out of capture's loop: capture never waits for it,
 * and the slot is confirmed from the local fsync as always. The child runs
 * at nice 10 and dies with capture (PR_SET_PDEATHSIG). When it exits, it is
 * started again after a pause that doubles from 1 s to 60 s. At stop it is
 * sent SIGTERM (what it uploaded is whole, or not in the manifest). */
#ifndef TM_ARCHIVER_H
#define TM_ARCHIVER_H

#include <stdint.h>

typedef struct tm_archiver_opts {
    const char *journal;
    const char *url;     /* s3://BUCKET/PREFIX; NULL: no archive */
    unsigned interval_s; /* between passes; 0: the command's default */
    const char *keys;    /* --encrypt-key-file for the child; NULL: none */
} tm_archiver_opts;

typedef struct tm_archiver tm_archiver;

/* NULL when there is no archive (url NULL) or out of memory (said). */
tm_archiver *tm_archiver_new(const tm_archiver_opts *o);
/* From the stream loop: reaps an exited child and starts one when due.
 * Never blocks; problems are logged. */
void tm_archiver_poll(tm_archiver *a, int64_t now_us);
/* Stops the child (SIGTERM, SIGKILL after 5 s) and frees a. */
void tm_archiver_free(tm_archiver *a);

#endif
