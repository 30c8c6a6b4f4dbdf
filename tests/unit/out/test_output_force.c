/* --output through the binary (replay and undo): a file that exists is left
 * as it is and the command exits 1 naming it and --force, before any work;
 * with --force it is replaced whole; /dev/null is still written to; in a
 * directory of one file per table, one existing file refuses them all (no
 * file is written); --force without --output is a usage error. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "tests/harness/support_journal.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

#define T0 INT64_C(1767225600000000) /* 2026-01-01 00:00:00+00 */

/* Tables public.a and public.b, a snapshot of one row each, then one
 * transaction inserting into a at T0 + 1 s. */
static char *make_journal(void)
{
    char *dir = tmt_tempdir();
    tmt_jw j = {.time = T0};
    tmt_jw_open(&j, dir, NULL);
    const tmt_col cols[] = {{"id", 23, 1, false, NULL}, {"v", 25, 0, false, NULL}};
    tmt_jw_relation(j.w, 500, 1, 100, "a", 'f', cols, 2);
    tmt_jw_relation(j.w, 501, 1, 100, "b", 'f', cols, 2);
    tm_value row[2] = {{"1", 1, TM_KIND_TEXT}, {"one", 3, TM_KIND_TEXT}};
    tmt_jw_begin(&j, 4, true, T0);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, 500, 1, 0, NULL, 0, NULL, 0);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, 501, 1, 0, NULL, 0, NULL, 0);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, 500, 1, 0, NULL, 0, row, 2);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, 501, 1, 0, NULL, 0, row, 2);
    tmt_jw_end(&j);
    tm_value two[2] = {{"2", 1, TM_KIND_TEXT}, {"two", 3, TM_KIND_TEXT}};
    tmt_jw_begin(&j, 1, false, T0 + 1000000);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, 500, 1, 0, NULL, 0, two, 2);
    tmt_jw_end(&j);
    tmt_jw_close(&j);
    return dir;
}

static void put(const char *path, const char *text)
{
    tmt_spit(path, text, strlen(text));
}

static void assert_content(const char *path, const char *want)
{
    size_t len;
    unsigned char *b = tmt_slurp(path, &len);
    ck_assert_msg(len == strlen(want) && !memcmp(b, want, len), "%s holds '%.*s', not '%s'", path,
                  (int)len, (const char *)b, want);
    free(b);
}

static void assert_refused(const tm_run_result *r, const char *path)
{
    tm_assert_exit(r, 1);
    ck_assert_msg(strstr(r->err, path) && strstr(r->err, "exists") && strstr(r->err, "--force"),
                  "%s", r->err);
}

/* Runs tidemark; it must exit with code. */
#define EXPECT_EXIT(code, ...)                                                                     \
    free(tm_tidemark_expect(code, NULL, (const char *[]){__VA_ARGS__, NULL}))

/* --force without --output is a usage error. */
static void force_needs_output(const char *const *args)
{
    tm_run_result r;
    tm_tidemarkv(&r, NULL, args);
    tm_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "--force goes with --output"), "%s", r.err);
    tm_run_result_free(&r);
}

#define AT "2026-01-01 00:00:05+00"

START_TEST(replay_file)
{
    char *dir = make_journal(), *out = tmt_path(dir, "a.csv");
    put(out, "precious\n");
    tm_run_result r;
    tm_tidemark(&r, NULL, "replay", "--journal", dir, "--at", AT, "--table", "public.a", "--output",
                out, NULL);
    assert_refused(&r, out);
    tm_run_result_free(&r);
    assert_content(out, "precious\n");

    EXPECT_EXIT(0, "replay", "--journal", dir, "--at", AT, "--table", "public.a", "--output", out,
                "--force");
    assert_content(out, "id,v\n1,one\n2,two\n");

    EXPECT_EXIT(0, "replay", "--journal", dir, "--at", AT, "--table", "public.a", "--output",
                "/dev/null");
    struct stat st;
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));

    force_needs_output((const char *[]){"replay", "--journal", dir, "--at", AT, "--force", NULL});
    free(out);
    tmt_tempdir_remove(dir);
}
END_TEST

START_TEST(replay_directory)
{
    char *dir = make_journal(), *outdir = tmt_path(dir, "out");
    ck_assert_int_eq(mkdir(outdir, 0700), 0);
    char *a = tmt_path(outdir, "public.a.csv"), *b = tmt_path(outdir, "public.b.csv");
    put(b, "precious\n");
    tm_run_result r;
    tm_tidemark(&r, NULL, "replay", "--journal", dir, "--at", AT, "--output", outdir, NULL);
    assert_refused(&r, b);
    tm_run_result_free(&r);
    assert_content(b, "precious\n");
    ck_assert_msg(access(a, F_OK) != 0, "%s was written although %s was refused", a, b);

    EXPECT_EXIT(0, "replay", "--journal", dir, "--at", AT, "--output", outdir, "--force");
    assert_content(a, "id,v\n1,one\n2,two\n");
    assert_content(b, "id,v\n1,one\n");
    free(a);
    free(b);
    free(outdir);
    tmt_tempdir_remove(dir);
}
END_TEST

START_TEST(undo_file)
{
    char *dir = make_journal(), *out = tmt_path(dir, "undo.sql");
    put(out, "precious\n");
    tm_run_result r;
    const char *from = "2026-01-01 00:00:01+00", *to = "2026-01-01 00:00:02+00";
    tm_tidemark(&r, NULL, "undo", "--journal", dir, "--from", from, "--to", to, "--output", out,
                NULL);
    assert_refused(&r, out);
    tm_run_result_free(&r);
    assert_content(out, "precious\n");

    EXPECT_EXIT(0, "undo", "--journal", dir, "--from", from, "--to", to, "--output", out,
                "--force");
    size_t len;
    char *sql = (char *)tmt_slurp(out, &len);
    ck_assert_msg(strstr(sql, "DELETE FROM") && strstr(sql, "\"a\""), "%s", sql);
    free(sql);

    EXPECT_EXIT(0, "undo", "--journal", dir, "--from", from, "--to", to, "--output", "/dev/null");

    force_needs_output(
        (const char *[]){"undo", "--journal", dir, "--from", from, "--to", to, "--force", NULL});
    free(out);
    tmt_tempdir_remove(dir);
}
END_TEST

int main(void)
{
    return tm_check_main("output_force", "core", 0,
                         TM_TESTS(replay_file, replay_directory, undo_file));
}
