/* Output files (replay/outfile.h): a regular file appears whole at commit
 * and not at all on abort; an existing FIFO or device is written to and
 * stays what it is (an --output /dev/null once replaced the device with a
 * regular file); a symbolic link stays a link; a directory is refused. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/out/outfile.h"
#include "tests/harness/tm_check.h"

static char dir[] = "/tmp/tm_test_outfile_XXXXXX";

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir, "/tmp/tm_test_outfile_XXXXXX");
}

static size_t entries(void)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = 0;
    ck_assert_int_eq(fscanf(p, "%zu", &n), 1);
    pclose(p);
    return n;
}

START_TEST(regular_file_appears_at_commit)
{
    char path[128];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    tm_outfile f;
    tm_error err;
    ck_assert_int_eq(tm_outfile_open(&f, path, &err), 0);
    ck_assert_int_eq(write(f.fd, "a,b\n", 4), 4);
    ck_assert_int_ne(access(path, F_OK), 0); /* not there before commit */
    ck_assert_int_eq(tm_outfile_commit(&f, &err), 0);
    char buf[16] = {0};
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, buf, sizeof buf), 4);
    ck_assert_str_eq(buf, "a,b\n");
    close(fd);
    ck_assert_uint_eq(entries(), 1); /* no temporary left */

    /* Abort: the old file stays as it was, nothing else is left. */
    ck_assert_int_eq(tm_outfile_open(&f, path, &err), 0);
    ck_assert_int_eq(write(f.fd, "x", 1), 1);
    tm_outfile_abort(&f);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 4);
    ck_assert_uint_eq(entries(), 1);
}
END_TEST

START_TEST(fifo_is_written_not_replaced)
{
    char path[128];
    snprintf(path, sizeof path, "%s/pipe", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK); /* a reader, so the writer's open returns */
    ck_assert_int_ge(rd, 0);
    tm_outfile f;
    tm_error err;
    ck_assert_int_eq(tm_outfile_open(&f, path, &err), 0);
    ck_assert_int_eq(write(f.fd, "row\n", 4), 4);
    ck_assert_int_eq(tm_outfile_commit(&f, &err), 0);
    char buf[16] = {0};
    ck_assert_int_eq(read(rd, buf, sizeof buf), 4);
    ck_assert_str_eq(buf, "row\n");
    close(rd);
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    ck_assert_uint_eq(entries(), 1);
}
END_TEST

START_TEST(symlink_stays_a_link)
{
    char target[128], link[128];
    snprintf(target, sizeof target, "%s/data.csv", dir);
    snprintf(link, sizeof link, "%s/out.csv", dir);
    ck_assert_int_eq(symlink("data.csv", link), 0);
    tm_outfile f;
    tm_error err;
    ck_assert_int_eq(tm_outfile_open(&f, link, &err), 0);
    ck_assert_int_eq(write(f.fd, "k\n", 2), 2);
    ck_assert_int_eq(tm_outfile_commit(&f, &err), 0);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(stat(target, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_size, 2);
    ck_assert_uint_eq(entries(), 2); /* the link and its target, no temporary */
}
END_TEST

START_TEST(directory_is_refused)
{
    tm_outfile f;
    tm_error err;
    ck_assert_int_eq(tm_outfile_open(&f, dir, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a directory"));
    ck_assert_uint_eq(entries(), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outfile");
    TCase *tc = tm_check_case(s, "core", 0,
                              TM_TESTS(regular_file_appears_at_commit, fifo_is_written_not_replaced,
                                       symlink_stays_a_link, directory_is_refused));
    tcase_add_checked_fixture(tc, setup, teardown);
    return tm_check_run(s);
}
