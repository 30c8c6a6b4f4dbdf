/* The S3 test server: see s3_harness.h. */
#include "tests/harness/s3_harness.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCRIPT TM_SOURCE_DIR "/tests/harness/swift-s3.py"

static tm_s3srv shared;
static int handlers_set;

static int script(const char *cmd, const char *dir, const char *arg, tm_run_result *r)
{
    const char *argv[] = {SCRIPT, cmd, dir, arg, NULL};
    tm_run_opts o = {.timeout_ms = 90000};
    return tm_runv(argv, &o, r);
}

void tm_s3srv_stop(tm_s3srv *srv)
{
    if (!srv->running || srv->owner != getpid())
        return;
    tm_run_result r;
    script("destroy", srv->dir, NULL, &r);
    tm_run_result_free(&r);
    srv->running = 0;
}

static void stop_shared(void)
{
    tm_s3srv_stop(&shared);
}

static void on_signal(int sig)
{
    stop_shared();
    signal(sig, SIG_DFL);
    raise(sig);
}

int tm_s3srv_start(tm_s3srv *srv, char *err, size_t errlen)
{
    memset(srv, 0, sizeof *srv);
    const char *tmp = getenv("TMPDIR") && getenv("TMPDIR")[0] == '/' ? getenv("TMPDIR") : "/tmp";
    char base[200];
    snprintf(base, sizeof base, "%s/tidemark-s3-XXXXXX", tmp);
    if (!mkdtemp(base)) {
        snprintf(err, errlen, "mkdtemp %s failed", base);
        return -1;
    }
    snprintf(srv->dir, sizeof srv->dir, "%s", base);
    char owner[32];
    snprintf(owner, sizeof owner, "%ld", (long)getpid());
    tm_run_result r;
    int st = script("start", srv->dir, owner, &r);
    if (st != 0) {
        snprintf(err, errlen, "the S3 server did not start (exit %d): %s", st, r.err);
        tm_run_result_free(&r);
        tm_rmtree(base);
        return -1;
    }
    r.out[strcspn(r.out, "\n")] = '\0';
    snprintf(srv->endpoint, sizeof srv->endpoint, "%s", r.out);
    tm_run_result_free(&r);
    srv->owner = getpid();
    srv->running = 1;
    return 0;
}

void tm_s3srv_stop_proxy(const tm_s3srv *srv)
{
    tm_run_result r;
    int st = script("stop-proxy", srv->dir, NULL, &r);
    ck_assert_msg(st == 0, "stopping the S3 endpoint failed: %s", r.err);
    tm_run_result_free(&r);
}

void tm_s3srv_start_proxy(const tm_s3srv *srv)
{
    tm_run_result r;
    int st = script("start-proxy", srv->dir, NULL, &r);
    ck_assert_msg(st == 0, "starting the S3 endpoint again failed: %s", r.err);
    tm_run_result_free(&r);
}

void tm_s3srv_flip_stored_byte(const tm_s3srv *srv, long min_bytes, long offset)
{
    char objects[300], size[32];
    snprintf(objects, sizeof objects, "%s/srv/d1/objects", srv->dir);
    snprintf(size, sizeof size, "+%ldc", min_bytes);
    /* The newest such file: the shared server also holds other tests'
     * objects, and find lists them in no particular order. */
    const char *argv[] = {"find", objects,   "-name",    "*.data", "-size",
                          size,   "-printf", "%T@ %p\n", NULL};
    tm_run_result r;
    tm_runv(argv, NULL, &r);
    const char *path = NULL;
    double newest = -1;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
        char *sp = strchr(line, ' ');
        if (sp && strtod(line, NULL) > newest) {
            newest = strtod(line, NULL);
            path = sp + 1;
        }
    }
    ck_assert_msg(path, "no stored object larger than %ld bytes in %s", min_bytes, objects);
    int fd = open(path, O_RDWR);
    ck_assert_msg(fd >= 0, "cannot open %s", path);
    unsigned char b;
    ck_assert_int_eq(pread(fd, &b, 1, offset), 1);
    b ^= 1;
    ck_assert_int_eq(pwrite(fd, &b, 1, offset), 1);
    close(fd);
    tm_run_result_free(&r);
}

void tm_s3srv_config(const tm_s3srv *srv, const char *bucket, tm_s3_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", srv->endpoint);
    snprintf(cfg->region, sizeof cfg->region, "us-east-1");
    snprintf(cfg->bucket, sizeof cfg->bucket, "%s", bucket);
    snprintf(cfg->access_key, sizeof cfg->access_key, "test:tester");
    snprintf(cfg->secret_key, sizeof cfg->secret_key, "testing");
    cfg->path_style = true;
    cfg->max_attempts = 3;
    cfg->backoff_ms = 50;
    cfg->connect_timeout_ms = 2000;
    cfg->timeout_ms = 30000;
}

const char *const *tm_s3srv_env(tm_s3srv *srv)
{
    snprintf(srv->env_endpoint, sizeof srv->env_endpoint, "TIDEMARK_S3_ENDPOINT=%s", srv->endpoint);
    srv->env[0] = srv->env_endpoint;
    srv->env[1] = "AWS_ACCESS_KEY_ID=test:tester";
    srv->env[2] = "AWS_SECRET_ACCESS_KEY=testing";
    srv->env[3] = "AWS_REGION=us-east-1";
    srv->env[4] = "AWS_SESSION_TOKEN";
    srv->env[5] = NULL;
    return srv->env;
}

void tm_s3srv_bucket(const tm_s3srv *srv, const char *bucket)
{
    tm_s3_config cfg;
    tm_s3srv_config(srv, bucket, &cfg);
    tm_s3 *s3 = NULL;
    tm_error err = {0};
    ck_assert_msg(tm_s3_open(&cfg, &s3, &err) == 0, "%s", err.msg);
    ck_assert_msg(tm_s3_create_bucket(s3, &err) == 0, "creating bucket %s: %s", bucket, err.msg);
    tm_s3_close(s3);
}

tm_s3srv *tm_s3srv_shared(void)
{
    ck_assert_msg(shared.running, "no S3 server: the suite must run through tm_s3srv_check_main");
    return &shared;
}

int tm_s3srv_check_main(const char *suite, const char *tcase, double timeout,
                        const TTest *const *tests)
{
    char err[2048];
    if (!handlers_set) {
        atexit(stop_shared);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
        handlers_set = 1;
    }
    if (tm_s3srv_start(&shared, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_FAILURE;
    }
    int rc = tm_check_main(suite, tcase, timeout, tests);
    stop_shared();
    return rc;
}
