/* scripts/pg-throwaway.sh, which the demo and the benchmarks use: start,
 * env, status, stop, and the same rules as the C harness (127.0.0.1 only,
 * socket in DIR, wal_level=logical, postgres OS user when root). */
#include <check.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness/pg_harness.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#define SCRIPT TM_SOURCE_DIR "/scripts/pg-throwaway.sh"

static char parent[200]; /* made by the unchecked fixture */
static char dir[sizeof parent + 4];

static int script(const char *cmd, const char *d, tm_run_result *r)
{
    const char *argv[] = {SCRIPT, cmd, d, NULL};
    tm_run_opts o = {.timeout_ms = 120000};
    return tm_runv(argv, &o, r);
}

/* Runs in the runner process: the cluster goes even if a test crashed. */
static void setup(void)
{
    int n = snprintf(parent, sizeof parent, "%s/tidemark-throwaway-XXXXXX", tm_pg_tmp_base());
    ck_assert_int_lt(n, (int)sizeof parent);
    ck_assert_ptr_nonnull(mkdtemp(parent));
    ck_assert_int_eq(chmod(parent, 0711), 0); /* postgres must reach DIR */
    snprintf(dir, sizeof dir, "%s/pg", parent);
}

static void teardown(void)
{
    char marker[PATH_MAX + 32];
    snprintf(marker, sizeof marker, "%s/.tidemark-throwaway", dir);
    if (access(marker, F_OK) == 0) {
        tm_run_result r;
        script("stop", dir, &r);
        tm_run_result_free(&r);
    }
    tm_rmtree(parent);
}

START_TEST(start_env_status_stop)
{
    tm_run_result r;
    script("start", dir, &r);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);

    script("env", dir, &r);
    tm_assert_exit(&r, 0);
    int port = 0;
    char *p = strstr(r.out, "PGPORT=");
    ck_assert_msg(p && sscanf(p, "PGPORT=%d", &port) == 1, "env printed: %s", r.out);
    ck_assert_ptr_nonnull(strstr(r.out, "PGHOST="));
    ck_assert_ptr_nonnull(strstr(r.out, dir));
    tm_run_result_free(&r);

    tm_pg pg = {.port = port};
    snprintf(pg.socket_dir, sizeof pg.socket_dir, "%s", dir);
    PGconn *c = tm_pg_connect(&pg, NULL);
    char *v = tm_pg_query_value(c, "SELECT current_setting('wal_level') || ' ' || "
                                   "current_setting('listen_addresses') || ' ' || "
                                   "current_setting('unix_socket_directories')");
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "logical 127.0.0.1 %s", dir);
    ck_assert_str_eq(v, want);
    free(v);
    PQfinish(c);

    char datadir[PATH_MAX + 16];
    snprintf(datadir, sizeof datadir, "%s/data", dir);
    pid_t postmaster = tm_pg_read_postmaster_pid(datadir);
    ck_assert(tm_pid_alive(postmaster));
    if (geteuid() == 0) {
        char proc[64];
        struct stat st;
        snprintf(proc, sizeof proc, "/proc/%ld", (long)postmaster);
        ck_assert_int_eq(stat(proc, &st), 0);
        ck_assert_uint_eq(st.st_uid, getpwnam("postgres")->pw_uid);
    }

    ck_assert_int_eq(script("status", dir, &r), 0);
    tm_run_result_free(&r);
    script("start", dir, &r); /* idempotent */
    tm_assert_exit(&r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "already running"));
    tm_run_result_free(&r);

    script("stop", dir, &r);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    ck_assert(!tm_pid_alive(postmaster));
    ck_assert_int_eq(access(dir, F_OK), -1);
    ck_assert_int_ne(script("status", dir, &r), 0);
    tm_run_result_free(&r);
}
END_TEST

START_TEST(refuses_foreign_dirs)
{
    /* parent holds no marker: neither stop nor start may touch it. */
    char keep[PATH_MAX + 16];
    snprintf(keep, sizeof keep, "%s/keep", parent);
    FILE *f = fopen(keep, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    tm_run_result r;
    script("stop", parent, &r);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "not a pg-throwaway cluster"));
    tm_run_result_free(&r);
    script("start", parent, &r);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "not an empty dir"));
    tm_run_result_free(&r);
    ck_assert_int_eq(access(keep, F_OK), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_throwaway");
    TCase *tc =
        tm_check_case(s, "script", 300, TM_TESTS(start_env_status_stop, refuses_foreign_dirs));
    tcase_add_unchecked_fixture(tc, setup, teardown);
    return tm_check_run(s);
}
