/* A throwaway S3 server for the archive tests: OpenStack Swift with s3api
 * on loopback (tests/harness/swift-s3.py does the work), with the tempauth
 * user "test:tester" / "testing".
 *
 * tm_s3srv_check_main starts one server for a test binary in the runner
 * process, runs the suite (tests run in forked children and share it; each
 * uses its own bucket) and always removes it: at the end, at exit, on
 * SIGINT/SIGTERM/SIGHUP, and through a watchdog when the runner dies any
 * other way. A test may stop the S3 endpoint (tm_s3srv_stop_proxy) for an
 * outage and start it again on the same port.
 *
 *   tm_s3srv *srv = tm_s3srv_shared();
 *   tm_s3_config cfg; tm_s3srv_config(srv, "b1", &cfg);   (client side)
 *   tm_tidemark(&r, &(tm_run_opts){.env = tm_s3srv_env(srv)}, ...);   (the binary) */
#ifndef TM_S3_HARNESS_H
#define TM_S3_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

#include "store/archive/s3.h"

typedef struct tm_s3srv {
    char dir[256];      /* configuration, data, logs; removed by tm_s3srv_stop */
    char endpoint[128]; /* http://127.0.0.1:PORT */
    char env_endpoint[160];
    const char *env[6]; /* for tm_run_opts.env */
    pid_t owner;
    int running;
} tm_s3srv;

/* Starts a server in a new temp dir. 0, or -1 with err (nothing left behind). */
int tm_s3srv_start(tm_s3srv *srv, char *err, size_t errlen);
/* Stops every server and removes the dir; only in the process that started it. */
void tm_s3srv_stop(tm_s3srv *srv);
/* An outage of the S3 endpoint, and its end (fails the test on error). */
void tm_s3srv_stop_proxy(const tm_s3srv *srv);
void tm_s3srv_start_proxy(const tm_s3srv *srv);

/* Client configuration for bucket on this server (few retries, short
 * backoff, so that outages show quickly). */
void tm_s3srv_config(const tm_s3srv *srv, const char *bucket, tm_s3_config *cfg);
/* Environment for running the binary against this server: endpoint and
 * credentials, NULL-terminated. */
const char *const *tm_s3srv_env(tm_s3srv *srv);
/* Creates bucket (fails the test on error). */
void tm_s3srv_bucket(const tm_s3srv *srv, const char *bucket);

/* The server of this test binary (started by tm_s3srv_check_main). */
tm_s3srv *tm_s3srv_shared(void);
/* main() of a suite of one test case using the shared server. */
int tm_s3srv_check_main(const char *suite, const char *tcase, double timeout,
                        const TTest *const *tests);

#endif
