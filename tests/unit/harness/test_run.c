/* tm_runv, the way integration tests run programs: exit codes, separate
 * stdout/stderr, stdin, environment changes, timeouts, signals, failures. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

/* Runs argv with o: it must exit 0 and print exactly want. */
static void expect_out(const char *const *argv, const tm_run_opts *o, const char *want)
{
    tm_run_result r;
    tm_runv(argv, o, &r);
    tm_assert_exit(&r, 0);
    ck_assert_str_eq(r.out, want);
    tm_run_result_free(&r);
}

START_TEST(exit_code_and_streams)
{
    const char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    tm_run_result r;
    ck_assert_int_eq(tm_runv(argv, NULL, &r), 3);
    ck_assert_str_eq(r.out, "out\n");
    ck_assert_str_eq(r.err, "err\n");
    ck_assert_int_eq(r.signal, 0);
    ck_assert_int_eq(r.timed_out, 0);
    tm_run_result_free(&r);
}
END_TEST

START_TEST(arguments_are_not_shell_words)
{
    const char *argv[] = {"printf", "[%s]", "a b", "$HOME", "'\"", "", NULL};
    expect_out(argv, NULL, "[a b][$HOME]['\"][]");
}
END_TEST

START_TEST(stdin_is_fed)
{
    /* More than a pipe buffer, so writing and reading must interleave. */
    size_t n = 1 << 20;
    char *in = malloc(n);
    ck_assert_ptr_nonnull(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    const char *argv[] = {"cat", NULL};
    tm_run_opts o = {.input = in, .input_len = n};
    tm_run_result r;
    tm_runv(argv, &o, &r);
    tm_assert_exit(&r, 0);
    ck_assert_uint_eq(r.out_len, n);
    ck_assert(memcmp(r.out, in, n) == 0);
    tm_run_result_free(&r);
    free(in);
}
END_TEST

START_TEST(child_that_ignores_stdin)
{
    size_t n = 1 << 20;
    char *in = calloc(n, 1);
    ck_assert_ptr_nonnull(in);
    const char *argv[] = {"true", NULL};
    tm_run_opts o = {.input = in, .input_len = n};
    tm_run_result r;
    ck_assert_int_eq(tm_runv(argv, &o, &r), 0); /* no SIGPIPE for us */
    tm_run_result_free(&r);
    free(in);
}
END_TEST

START_TEST(binary_output_is_kept_whole)
{
    const char *argv[] = {"head", "-c", "300000", "/dev/zero", NULL};
    tm_run_result r;
    tm_runv(argv, NULL, &r);
    tm_assert_exit(&r, 0);
    ck_assert_uint_eq(r.out_len, 300000);
    ck_assert_int_eq(r.out[12345], 0);
    tm_run_result_free(&r);
}
END_TEST

START_TEST(environment_set_and_unset)
{
    setenv("TM_RUN_GONE", "still here", 1);
    setenv("TM_RUN_KEPT", "kept", 1);
    const char *env[] = {"TM_RUN_NEW=new value", "TM_RUN_GONE", NULL};
    const char *argv[] = {"sh", "-c", "echo \"$TM_RUN_NEW|${TM_RUN_GONE-unset}|$TM_RUN_KEPT\"",
                          NULL};
    tm_run_opts o = {.env = env};
    expect_out(argv, &o, "new value|unset|kept\n");
}
END_TEST

START_TEST(working_directory)
{
    const char *argv[] = {"pwd", NULL};
    tm_run_opts o = {.cwd = "/"};
    expect_out(argv, &o, "/\n");
}
END_TEST

START_TEST(timeout_kills_the_process_group)
{
    /* The grandchild sleep keeps stdout open: it must be killed too. */
    const char *argv[] = {"sh", "-c", "sleep 30 & sleep 30; echo never", NULL};
    tm_run_opts o = {.timeout_ms = 300};
    tm_run_result r;
    long long t0 = tm_now_ms();
    int rc = tm_runv(argv, &o, &r);
    long long took = tm_now_ms() - t0;
    ck_assert_int_eq(r.timed_out, 1);
    ck_assert_int_eq(r.signal, SIGKILL);
    ck_assert_int_eq(rc, 128 + SIGKILL);
    ck_assert_msg(took < 10000, "took %lld ms", took);
    ck_assert_str_eq(r.out, "");
    tm_run_result_free(&r);
}
END_TEST

START_TEST(killed_by_signal)
{
    const char *argv[] = {"sh", "-c", "kill -TERM $$", NULL};
    tm_run_result r;
    ck_assert_int_eq(tm_runv(argv, NULL, &r), 128 + SIGTERM);
    ck_assert_int_eq(r.signal, SIGTERM);
    ck_assert_int_eq(r.timed_out, 0);
    tm_run_result_free(&r);
}
END_TEST

START_TEST(missing_program)
{
    const char *argv[] = {"/nonexistent/tidemark-no-such-program", NULL};
    tm_run_result r;
    ck_assert_int_eq(tm_runv(argv, NULL, &r), -1);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot run /nonexistent/tidemark-no-such-program"));
    tm_run_result_free(&r);
}
END_TEST

START_TEST(missing_user)
{
    const char *argv[] = {"true", NULL};
    tm_run_opts o = {.as_user = "tidemark-no-such-user"};
    tm_run_result r;
    ck_assert_int_eq(tm_runv(argv, &o, &r), -1);
    ck_assert_ptr_nonnull(strstr(r.err, "no OS user"));
    tm_run_result_free(&r);
}
END_TEST

START_TEST(runs_the_built_binary)
{
    tm_run_result r;
    tm_tidemark(&r, NULL, "--version", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strncmp(r.out, "tidemark ", 9) == 0, "got: %s", r.out);
    tm_run_result_free(&r);

    tm_tidemark(&r, NULL, "no-such-command", NULL);
    tm_assert_exit(&r, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "unknown command"));
    tm_run_result_free(&r);
}
END_TEST

/* Check's SIGTERM handler in the test process kills the test's whole
 * process group; a child must not run it (it took fault tests down with
 * "Received signal 15" when a capture was stopped before its exec). */
START_TEST(forked_child_has_default_signal_actions)
{
    struct sigaction inherited;
    sigaction(SIGTERM, NULL, &inherited);
    ck_assert_msg(inherited.sa_handler != SIG_DFL, "the test process catches SIGTERM");
    pid_t pid = tm_fork_child();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %d", status);
}
END_TEST

int main(void)
{
    return tm_check_main("run", "core", 0,
                         TM_TESTS(exit_code_and_streams, arguments_are_not_shell_words,
                                  stdin_is_fed, child_that_ignores_stdin,
                                  binary_output_is_kept_whole, environment_set_and_unset,
                                  working_directory, timeout_kills_the_process_group,
                                  killed_by_signal, missing_program, missing_user,
                                  runs_the_built_binary, forked_child_has_default_signal_actions));
}
