/* Readers read the archive in place: replay and log of s3://BUCKET/PREFIX
 * give the same bytes as of the local journal, with the local journal gone;
 * a replay at an early time fetches only a part of the archive with ranged
 * GETs; a cache directory serves a second run without fetching again.
 * Against a real PostgreSQL and a real S3 server. */
#include "store/archive/push.h"
#include "store/journal/horizon.h"
#include "store/journal/segment.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/s3_harness.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The journal of database name at ci, captured up to now. */
static void capture_now(PGconn *c, const char *j, const char *ci)
{
    char *lsn = tm_pg_query_value(c, "SELECT pg_current_wal_lsn()");
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 120000};
    tm_tidemark(&r, &o, "capture", "--journal", j, "--source", ci, "--table", "public.events",
                "--table", "public.prefs", "--segment-size", "1", "--checkpoint-every", "0",
                "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(lsn);
}

/* About 3 MB of events in ten transactions (segments of 1 MB roll over
 * between them). */
static void bulk(PGconn *c, int from)
{
    for (int i = 0; i < 10; i++)
        tm_pg_exec(c,
                   "INSERT INTO events SELECT g, md5(g::text) || md5((g * 3)::text) || "
                   "md5((g * 7)::text) || md5((g * 11)::text) FROM generate_series(%d, %d) g",
                   from + i * 4000, from + i * 4000 + 3999);
}

/* A journal with prefs changed early (before at) and events in bulk after
 * it, prefs changed again before end, then more bulk (the live segment,
 * which is not archived, holds only what follows end); checkpointed and
 * archived at url. */
static void make_archived(tm_pg *pg, tm_s3srv *srv, const char *j, const char *url, char *at,
                          char *end, size_t len)
{
    tm_pg_createdb(pg, "rd");
    PGconn *c = tm_pg_connect(pg, "rd");
    tm_pg_exec(c, "CREATE TABLE events (id int PRIMARY KEY, v text);"
                  "ALTER TABLE events REPLICA IDENTITY FULL;"
                  "CREATE TABLE prefs (id int PRIMARY KEY, theme text, n int);"
                  "ALTER TABLE prefs REPLICA IDENTITY FULL;"
                  "INSERT INTO prefs SELECT g, 'light', g FROM generate_series(1, 50) g");
    char *ci = tm_pg_conninfo(pg, "rd");
    capture_now(c, j, ci);
    tm_pg_exec(c, "UPDATE prefs SET theme = 'dark' WHERE id %% 3 = 0");
    tm_pg_exec(c, "DELETE FROM prefs WHERE id > 45");
    tm_pg_exec(c, "INSERT INTO prefs VALUES (100, 'blue', 7)");
    char *t = tm_pg_query_value(c, "SELECT clock_timestamp()::text");
    snprintf(at, len, "%s", t);
    free(t);
    usleep(20000);
    tm_pg_exec(c, "UPDATE prefs SET n = n + 1000");
    bulk(c, 1000001);
    tm_pg_exec(c, "UPDATE prefs SET theme = 'late'");
    t = tm_pg_query_value(c, "SELECT clock_timestamp()::text");
    snprintf(end, len, "%s", t);
    free(t);
    usleep(20000);
    bulk(c, 2000001);
    capture_now(c, j, ci);
    tm_run_result r;
    tm_tidemark(&r, NULL, "checkpoint", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    tm_run_opts o = {.env = tm_s3srv_env(srv), .timeout_ms = 120000};
    tm_tidemark(&r, &o, "archive", "--journal", j, "--to", url, "--once", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    /* and again, encrypted (the state file is of the first archive) */
    char key[600], st[600], saved[700];
    snprintf(key, sizeof key, "%s/archive.key", pg->dir);
    FILE *f = fopen(key, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
    fclose(f);
    chmod(key, 0600);
    snprintf(st, sizeof st, "%s/archive.state", j);
    snprintf(saved, sizeof saved, "%s.saved", st);
    ck_assert_int_eq(rename(st, saved), 0);
    tm_tidemark(&r, &o, "archive", "--journal", j, "--to", "s3://arcread/enc", "--once",
                "--encrypt-key-file", key, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    ck_assert_int_eq(rename(saved, st), 0);
    PQfinish(c);
    free(ci);
}

/* Runs tidemark with args (NULL-terminated) against the S3 server, expects
 * exit 0 and returns its stdout (malloc'd); its stderr in *err_out when
 * not NULL. */
static char *run_ok(tm_s3srv *srv, char **err_out, const char *const *args)
{
    tm_run_result r;
    tm_run_opts o = {.env = tm_s3srv_env(srv), .timeout_ms = 120000};
    tm_tidemarkv(&r, &o, args);
    ck_assert_msg(r.status == 0, "tidemark %s %s exited %d:\n%s", args[0], args[2], r.status,
                  r.err);
    char *out = strdup(r.out);
    if (err_out)
        *err_out = strdup(r.err);
    tm_run_result_free(&r);
    return out;
}

/* a and b are the same bytes; else the first difference is shown. */
static void same(const char *a, const char *b, const char *what)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    size_t from = i > 80 ? i - 80 : 0;
    ck_assert_msg(
        a[i] == b[i],
        "%s from the archive differs at byte %zu:\nlocal:   ...%.200s\narchive: ...%.200s", what, i,
        a + from, b + from);
}

/* "archive URL: N requests, B bytes read of A archived" from --verbose. */
static void read_cost(const char *err, uint64_t *req, uint64_t *bytes, uint64_t *archived)
{
    const char *p = strstr(err, " requests, ");
    ck_assert_msg(p, "no read statistics in:\n%s", err);
    while (p > err && p[-1] >= '0' && p[-1] <= '9')
        p--;
    ck_assert_int_eq(
        sscanf(p, "%" SCNu64 " requests, %" SCNu64 " bytes read of %" SCNu64, req, bytes, archived),
        3);
}

static int count_below(const tm_s3_entry *e, void *arg, tm_error *err)
{
    (void)err;
    uint64_t *v = arg, n; /* v[0]: the first segment kept; v[1]: found below it */
    const char *name = strrchr(e->key, '/') ? strrchr(e->key, '/') + 1 : e->key;
    if ((tm_name_numbered(name, ".seg", &n) || tm_name_numbered(name, ".idx", &n)) && n < v[0])
        v[1]++;
    return 0;
}

/* After a prune and a pass: neither the manifest nor the store holds a
 * segment below the retention horizon of journal j, and the horizon is
 * archived. */
static void check_trimmed(tm_s3srv *srv, const char *j)
{
    tm_horizon h;
    tm_error err = {0};
    ck_assert_int_eq(tm_horizon_read_file(j, TM_HORIZON_FILE, &h, &err), 1);
    ck_assert_uint_gt(h.first_segment, 2);
    tm_s3_config cfg;
    tm_s3srv_config(srv, "arcread", &cfg);
    tm_s3 *s3 = NULL;
    ck_assert_msg(tm_s3_open(&cfg, &s3, &err) == 0, "%s", err.msg);
    tm_archive_state man = {0};
    ck_assert_int_eq(tm_archive_manifest_read(s3, "j1/", &man, NULL, NULL, 0, &err), 1);
    bool has_horizon = false;
    for (size_t i = 0; i < man.n_files; i++) {
        uint64_t n;
        const char *f = man.files[i].name;
        ck_assert_msg(!(tm_name_numbered(f, ".seg", &n) && n < h.first_segment),
                      "the manifest still names %s", f);
        has_horizon = has_horizon || !strcmp(f, TM_HORIZON_FILE);
    }
    ck_assert(has_horizon);
    uint64_t v[2] = {h.first_segment, 0};
    ck_assert_msg(tm_s3_list(s3, "j1/", NULL, 0, count_below, v, &err) == 0, "%s", err.msg);
    ck_assert_msg(v[1] == 0, "%llu objects below the horizon are still stored",
                  (unsigned long long)v[1]);
    tm_archive_state_free(&man);
    tm_s3_close(s3);
}

START_TEST(replay_and_log_from_archive)
{
    tm_s3srv *srv = tm_s3srv_shared();
    tm_s3srv_bucket(srv, "arcread");
    tm_pg pg;
    char perr[1024];
    ck_assert_msg(tm_pg_start(&pg, NULL, perr, sizeof perr) == 0, "%s", perr);
    char j[512], gone[600], cache[600], at[128], end[128];
    snprintf(j, sizeof j, "%s/journal", pg.dir);
    snprintf(gone, sizeof gone, "%s/journal.gone", pg.dir);
    snprintf(cache, sizeof cache, "%s/cache", pg.dir);
    const char *url = "s3://arcread/j1";
    make_archived(&pg, srv, j, url, at, end, sizeof at);

    /* The local results first. */
    const char *rp[] = {"replay", "--journal", j, "--at", at, "--table", "public.prefs", NULL};
    const char *ra[] = {"replay", "--journal", j, "--at", end, "--format", "sql", NULL};
    const char *lg[] = {"log", "--journal", j, "--table", "public.prefs", "--to", end, NULL};
    char *l_prefs = run_ok(srv, NULL, rp), *l_all = run_ok(srv, NULL, ra);
    char *l_log = run_ok(srv, NULL, lg);
    ck_assert_msg(strstr(l_prefs, "dark") && !strstr(l_prefs, "late"), "%s", l_prefs);
    ck_assert_msg(strstr(l_all, "late") && strstr(l_log, "late"), "%s", l_log);

    /* The local journal is gone: the archive alone answers, the same. */
    ck_assert_int_eq(rename(j, gone), 0);
    const char *rp3[] = {"replay",  "--journal",    url,         "--at", at,
                         "--table", "public.prefs", "--verbose", NULL};
    char *err;
    char *s_prefs = run_ok(srv, &err, rp3);
    same(l_prefs, s_prefs, "replay of prefs");
    uint64_t req, bytes, archived;
    read_cost(err, &req, &bytes, &archived);
    /* An early time: the segments after it are never fetched. */
    ck_assert_msg(bytes * 3 < archived, "replay at %s read %" PRIu64 " of %" PRIu64 " bytes", at,
                  bytes, archived);
    free(err);
    const char *ra3[] = {"replay", "--journal", url, "--at", end, "--format", "sql", NULL};
    char *s_all = run_ok(srv, NULL, ra3);
    same(l_all, s_all, "replay of all tables");
    const char *lg3[] = {"log", "--journal", url, "--table", "public.prefs", "--to", end, NULL};
    char *s_log = run_ok(srv, NULL, lg3);
    same(l_log, s_log, "log");

    /* Encrypted: opened with the key file, the same bytes; refused without. */
    char key[600];
    snprintf(key, sizeof key, "%s/archive.key", pg.dir);
    const char *re[] = {"replay",  "--journal",    "s3://arcread/enc",   "--at", at,
                        "--table", "public.prefs", "--encrypt-key-file", key,    NULL};
    char *e_prefs = run_ok(srv, NULL, re);
    same(l_prefs, e_prefs, "replay of prefs (encrypted)");
    free(e_prefs);
    tm_run_result r;
    tm_run_opts o = {.env = tm_s3srv_env(srv)};
    tm_tidemark(&r, &o, "replay", "--journal", "s3://arcread/enc", "--at", at, "--table",
                "public.prefs", NULL);
    tm_assert_exit(&r, 1);
    tm_run_result_free(&r);

    /* verify of the archive: every archived file sound. */
    const char *vf3[] = {"verify", "--journal", url, NULL};
    char *vout = run_ok(srv, NULL, vf3);
    ck_assert_msg(strstr(vout, "0000000000000001.seg") && strstr(vout, "journal.meta") &&
                      strstr(vout, ".ckpt"),
                  "%s", vout + (strlen(vout) > 1500 ? strlen(vout) - 1500 : 0));
    free(vout);

    /* With a cache directory, the second run fetches nothing but the
     * manifest. */
    const char *rc3[] = {"replay",       "--journal",   url,   "--at",      at,  "--table",
                         "public.prefs", "--cache-dir", cache, "--verbose", NULL};
    for (int i = 0; i < 2; i++) {
        char *out = run_ok(srv, &err, rc3);
        same(l_prefs, out, "cached replay");
        read_cost(err, &req, &bytes, &archived);
        if (i == 1)
            ck_assert_msg(req == 1, "the cached run made %" PRIu64 " requests:\n%s", req, err);
        free(out);
        free(err);
    }

    /* Local retention: the local journal back, one sealed segment changed
     * since it was archived (its mtime), then prune --local. */
    ck_assert_int_eq(rename(gone, j), 0);
    char seg3[700], seg1[700], seg2[700];
    snprintf(seg1, sizeof seg1, "%s/0000000000000001.seg", j);
    snprintf(seg2, sizeof seg2, "%s/0000000000000002.idx", j);
    snprintf(seg3, sizeof seg3, "%s/0000000000000003.seg", j);
    struct timespec ts[2] = {{.tv_nsec = UTIME_NOW}, {.tv_nsec = UTIME_NOW}};
    ck_assert_int_eq(utimensat(AT_FDCWD, seg3, ts, 0), 0);
    const char *pl[] = {"prune", "--journal", j, "--local", "--before", "2100-01-01 00:00:00+00",
                        NULL};
    char *pout = run_ok(srv, &err, pl);
    free(pout);
    ck_assert_msg(access(seg1, F_OK) != 0 && access(seg2, F_OK) != 0,
                  "archived segments 1 and 2 are still here:\n%s", err);
    ck_assert_msg(access(seg3, F_OK) == 0, "segment 3 (changed since archived) was removed");
    free(err);
    /* The local journal now starts at its local horizon: older times refused
     * (naming it), the end still replays, verify is clean. */
    tm_tidemark(&r, &o, "replay", "--journal", j, "--at", at, "--table", "public.prefs", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "horizon"), "%s", r.err);
    tm_run_result_free(&r);
    const char *rl[] = {"replay",  "--journal",    j,   "--lsn", "FFFF/0",
                        "--table", "public.prefs", NULL};
    free(run_ok(srv, NULL, rl));
    const char *vf[] = {"verify", "--journal", j, "--quiet", NULL};
    free(run_ok(srv, NULL, vf));
    /* The archive still has it all. */
    char *a_prefs = run_ok(srv, NULL, rp3);
    same(l_prefs, a_prefs, "replay of prefs after local retention");
    free(a_prefs);

    /* Retention reaches the archive: a prune, then a pass. */
    const char *pr[] = {"prune", "--journal", j, "--before", "2100-01-01 00:00:00+00", NULL};
    free(run_ok(srv, NULL, pr));
    const char *ap[] = {"archive", "--journal", j, "--to", url, "--once", NULL};
    free(run_ok(srv, NULL, ap));
    check_trimmed(srv, j);
    tm_tidemark(&r, &o, "replay", "--journal", url, "--at", at, "--table", "public.prefs", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "retention horizon"), "%s", r.err);
    tm_run_result_free(&r);
    const char *rz[] = {"replay", "--journal", j, "--lsn", "FFFF/0", "--format", "sql", NULL};
    const char *rz3[] = {"replay", "--journal", url, "--lsn", "FFFF/0", "--format", "sql", NULL};
    char *lz = run_ok(srv, NULL, rz), *sz = run_ok(srv, NULL, rz3);
    same(lz, sz, "replay after the prune");
    free(lz);
    free(sz);
    const char *ck[] = {"archive", "--journal", j, "--to", url, "--check", NULL};
    free(run_ok(srv, NULL, ck));

    /* Not an archive: said, exit 1. */
    tm_tidemark(&r, &o, "replay", "--journal", "s3://arcread/none", "--lsn", "0/1", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "no archived journal at s3://arcread/none"), "%s", r.err);
    tm_run_result_free(&r);

    free(l_prefs);
    free(l_all);
    free(l_log);
    free(s_prefs);
    free(s_all);
    free(s_log);
    tm_pg_stop(&pg);
}
END_TEST

int main(void)
{
    return tm_s3srv_check_main("archive_read", "archive_read", 600,
                               TM_TESTS(replay_and_log_from_archive));
}
