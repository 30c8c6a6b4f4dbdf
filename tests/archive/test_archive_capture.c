/* capture --archive against a real PostgreSQL and a real S3 server: sealed
 * files reach the archive and are checked; an outage of the store never
 * stops capture, shows as archive lag in status, and the archive catches up
 * afterwards with nothing lost; a damaged archived object is detected. */
#include "store/archive/push.h"
#include "tests/harness/support_net.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/s3_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define URL "s3://cap/src1"

/* About 3 MB of journal in ten transactions (segments roll over between
 * transactions; hex digits of distinct hashes compress little). */
static void bulk(PGconn *c, int from)
{
    for (int i = 0; i < 10; i++)
        tm_pg_exec(c,
                   "INSERT INTO events SELECT g, md5(g::text) || md5((g * 3)::text) || md5((g * "
                   "7)::text) || "
                   "md5((g * 11)::text) "
                   "FROM generate_series(%d, %d) g",
                   from + i * 4000, from + i * 4000 + 3999);
}

/* The value of metric name in /metrics of port (-1 when absent). */
static double metric(int port, const char *name)
{
    char *m = tm_http_get(port, "/metrics"), key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(m, key);
    double v = p ? strtod(p + strlen(key), NULL) : -1;
    free(m);
    return v;
}

/* Waits until the archive state says nothing finished waits any more and
 * at least min_files are archived; returns the state's file count. */
static size_t wait_caught_up(const char *j, size_t min_files, int timeout_ms)
{
    long long end = tm_now_ms() + timeout_ms;
    for (;;) {
        tm_archive_state st;
        tm_error err = {0};
        int rc = tm_archive_state_read(j, &st, &err);
        ck_assert_msg(rc >= 0, "%s", err.msg);
        size_t n = st.n_files;
        bool done = rc == 1 && st.pending_files == 0 && n >= min_files && !st.error[0];
        tm_archive_state_free(&st);
        if (done)
            return n;
        ck_assert_msg(tm_now_ms() < end, "the archive did not catch up in %d ms; capture log:\n%s",
                      timeout_ms, tmc_log(j));
        usleep(200000);
    }
}

static int count_sealed(const char *j)
{
    DIR *d = opendir(j);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strlen(e->d_name) == 20 && strcmp(e->d_name + 16, ".idx") == 0;
    closedir(d);
    return n;
}

/* Every archived file equals its local copy byte for byte, and every
 * sealed segment and index is archived. */
static void check_archive_equals_local(tm_s3 *s3, const char *j)
{
    tm_archive_state man = {0};
    tm_error err = {0};
    ck_assert_int_eq(tm_archive_manifest_read(s3, "src1/", &man, NULL, NULL, 0, &err), 1);
    int segs = 0, idxs = 0;
    tm_buf got = {0};
    for (size_t i = 0; i < man.n_files; i++) {
        const char *n = man.files[i].name;
        char key[300], path[4096];
        snprintf(key, sizeof key, "src1/%s", n);
        snprintf(path, sizeof path, "%s/%s", j, n);
        got.len = 0;
        ck_assert_msg(tm_s3_get(s3, key, 0, 0, &got, NULL, &err) == 0, "%s", err.msg);
        unsigned char *local = NULL;
        size_t len = 0;
        if (strstr(n, ".seg") || strstr(n, ".idx")) {
            ck_assert_msg(tm_read_file(path, 1u << 30, &local, &len, &err) == 0, "%s", err.msg);
            ck_assert_msg(len == got.len && memcmp(local, got.p, len) == 0,
                          "archived %s differs from the local file", n);
            segs += strstr(n, ".seg") != NULL;
            idxs += strstr(n, ".idx") != NULL;
            free(local);
        }
    }
    ck_assert_int_eq(idxs, count_sealed(j));
    ck_assert_int_eq(segs, idxs);
    tm_buf_free(&got);
    tm_archive_state_free(&man);
}

START_TEST(capture_archive_outage_catch_up)
{
    tm_s3srv *srv = tm_s3srv_shared();
    tm_s3srv_bucket(srv, "cap");
    tm_pg pg;
    char perr[1024];
    ck_assert_msg(tm_pg_start(&pg, NULL, perr, sizeof perr) == 0, "%s", perr);
    PGconn *c;
    char *ci = tmc_setup_db(&pg, "arch", &c);
    char j[512];
    snprintf(j, sizeof j, "%s/journal", pg.dir);
    int port = tm_free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    const char *argv[] = {TM_BINARY,
                          "capture",
                          "--journal",
                          j,
                          "--source",
                          ci,
                          "--table",
                          "public.events",
                          "--fsync-interval-ms",
                          "20",
                          "--segment-size",
                          "1",
                          "--archive",
                          URL,
                          "--archive-interval",
                          "1",
                          "--metrics-listen",
                          listen,
                          NULL};
    pid_t pid = tmc_spawnv(j, tm_s3srv_env(srv), argv);
    tmc_wait_slot_active(c, "tidemark_arch", true);
    bulk(c, 1000001);
    char *lsn = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_arch", lsn, 60000));
    free(lsn);
    if (count_sealed(j) < 2) {
        const char *ls[] = {"ls", "-la", j, NULL};
        tm_run_result l;
        tm_runv(ls, NULL, &l);
        ck_abort_msg("no sealed segments:\n%s\n%s", l.out, tmc_log(j));
    }
    size_t before = wait_caught_up(j, 4, 60000);

    /* The store goes away: capture goes on and confirms from its fsync. */
    tm_s3srv_stop_proxy(srv);
    bulk(c, 1100001);
    tmc_commit(c, 3);
    lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, "tidemark_arch", lsn, 60000),
                  "capture stopped confirming while the archive was down:\n%s", tmc_log(j));
    free(lsn);
    ck_assert_int_eq(tmc_wait_exit(pid, 0), -1);
    /* status shows the lag and why. */
    long long end = tm_now_ms() + 30000;
    tm_run_result r;
    for (;;) {
        tm_tidemark(&r, NULL, "status", "--journal", j, NULL);
        if (strstr(r.out, "archive error:") && !strstr(r.out, "lag 0 files"))
            break;
        ck_assert_msg(tm_now_ms() < end, "status shows no archive lag:\n%s\n%s", r.out, r.err);
        tm_run_result_free(&r);
        usleep(300000);
    }
    ck_assert_msg(strstr(r.out, "archive:       " URL), "%s", r.out);
    tm_run_result_free(&r);
    /* and so does /metrics */
    end = tm_now_ms() + 30000;
    while (metric(port, "tidemark_archive_up") != 0 ||
           metric(port, "tidemark_archive_lag_bytes") <= 0) {
        ck_assert_msg(tm_now_ms() < end, "/metrics shows no archive lag");
        usleep(200000);
    }
    ck_assert(metric(port, "tidemark_archive_lag_seconds") > 0);

    /* It comes back: the archive catches up, nothing lost. */
    tm_s3srv_start_proxy(srv);
    size_t after = wait_caught_up(j, before + 4, 90000);
    ck_assert_uint_gt(after, before);
    tm_tidemark(&r, NULL, "status", "--journal", j, NULL);
    ck_assert_msg(strstr(r.out, "lag 0 files") && !strstr(r.out, "archive error:"), "%s", r.out);
    tm_run_result_free(&r);
    end = tm_now_ms() + 30000;
    while (metric(port, "tidemark_archive_up") != 1 ||
           metric(port, "tidemark_archive_lag_files") != 0) {
        ck_assert_msg(tm_now_ms() < end, "/metrics shows archive lag after catching up");
        usleep(200000);
    }

    tm_s3_config cfg;
    tm_s3srv_config(srv, "cap", &cfg);
    tm_s3 *s3 = NULL;
    tm_error err = {0};
    ck_assert_msg(tm_s3_open(&cfg, &s3, &err) == 0, "%s", err.msg);
    check_archive_equals_local(s3, j);
    tmc_stop(pid, j);
    ck_assert_msg(!strstr(tmc_log(j), "stopped (exit status"), "%s", tmc_log(j));

    /* The bucket as a fleet: the source under its prefix, with its range. */
    tm_run_opts o = {.env = tm_s3srv_env(srv)};
    tm_tidemark(&r, &o, "status", "--journal", "s3://cap/", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "s3://cap/src1/  system ") && strstr(r.out, "database \"arch\"") &&
                      strstr(r.out, ", commits ") && !strstr(r.out, "\n\n"),
                  "%s", r.out);
    tm_run_result_free(&r);
    tm_tidemark(&r, &o, "status", "--journal", "s3://cap/nothing", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "no archived journal under s3://cap/nothing"), "%s", r.err);
    tm_run_result_free(&r);

    /* Read back: sound, then a damaged object is named. */
    tm_tidemark(&r, &o, "archive", "--journal", j, "--to", URL, "--check", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    tm_s3srv_flip_stored_byte(srv, 100000, 5000); /* a segment */
    tm_tidemark(&r, &o, "archive", "--journal", j, "--to", URL, "--check", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.out, "BAD:") && strstr(r.out, ".seg") && strstr(r.out, "s3://cap/src1/"),
                  "%s", r.out);
    ck_assert_msg(strstr(r.err, "1 archived file is damaged"), "%s", r.err);
    tm_run_result_free(&r);

    tm_s3_close(s3);
    PQfinish(c);
    free(ci);
    tm_pg_stop(&pg);
}
END_TEST

START_TEST(archive_usage)
{
    tm_run_result r;
    /* No credentials: a usage error before anything starts. */
    const char *env[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                         "TIDEMARK_S3_CREDENTIALS_FILE=/nonexistent", "HOME=/nonexistent", NULL};
    tm_run_opts o = {.env = env};
    tm_tidemark(&r, &o, "capture", "--journal", "/tmp/x", "--source", "dbname=x", "--table", "t",
                "--archive", URL, NULL);
    tm_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "--archive: no S3 credentials"), "%s", r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "capture", "--journal", "/tmp/x", "--source", "dbname=x", "--table", "t",
                "--local-retention", "1d", NULL);
    tm_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "--local-retention goes with --archive"), "%s", r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "archive", "--journal", "/tmp/x", "--to", "/not/s3", NULL);
    tm_assert_exit(&r, 2);
    tm_run_result_free(&r);
}
END_TEST

int main(void)
{
    return tm_s3srv_check_main("archive_capture", "archive_capture", 600,
                               TM_TESTS(archive_usage, capture_archive_outage_catch_up));
}
