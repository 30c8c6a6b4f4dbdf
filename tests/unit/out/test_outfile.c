/* Output files (replay/outfile.h): a regular file appears whole at commit
 * and not at all on abort; an existing regular file is refused without
 * force (untouched, also when it appears while the output is written) and
 * replaced atomically with it; an existing FIFO or device is written to and
 * stays what it is (an --output /dev/null once replaced the device with a
 * regular file); /dev/fd/N writes through that descriptor, even to a
 * regular file; a symbolic link stays a link; a directory is refused. */
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
static char out_csv[128]; /* dir/out.csv, the output most tests write */

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(out_csv, sizeof out_csv, "%s/out.csv", dir);
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

/* Opens path (without force) as an output and writes text into it. */
static void open_and_write(tm_outfile *f, const char *path, const char *text)
{
    tm_error err;
    ck_assert_msg(tm_outfile_open(f, path, false, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(write(f->fd, text, strlen(text)), (ssize_t)strlen(text));
}

START_TEST(regular_file_appears_at_commit)
{
    const char *path = out_csv;
    tm_outfile f;
    tm_error err;
    open_and_write(&f, path, "a,b\n");
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
    ck_assert_int_eq(tm_outfile_open(&f, path, true, &err), 0);
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
    open_and_write(&f, path, "row\n");
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
    ck_assert_int_eq(tm_outfile_open(&f, link, false, &err), 0);
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
    ck_assert_int_eq(tm_outfile_open(&f, dir, true, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a directory"));
    ck_assert_int_eq(tm_outfile_check(dir, false, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a directory"));
    ck_assert_uint_eq(entries(), 0);
}
END_TEST

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void assert_content(const char *path, const char *want)
{
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(read(fd, buf, sizeof buf - 1), 0);
    close(fd);
    ck_assert_str_eq(buf, want);
}

START_TEST(existing_file_is_refused_without_force)
{
    const char *path = out_csv;
    put_file(path, "precious\n");
    tm_outfile f;
    tm_error err;
    ck_assert_int_eq(tm_outfile_check(path, false, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_CONFLICT));
    ck_assert_int_eq(tm_outfile_open(&f, path, false, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_CONFLICT));
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "--force"), "%s", err.msg);
    ck_assert_int_eq(f.fd, -1);
    tm_outfile_abort(&f); /* harmless after a refusal */
    assert_content(path, "precious\n");
    ck_assert_uint_eq(entries(), 1);

    /* A symbolic link to an existing file is refused the same way. */
    char link[128];
    snprintf(link, sizeof link, "%s/link.csv", dir);
    ck_assert_int_eq(symlink("out.csv", link), 0);
    ck_assert_int_eq(tm_outfile_open(&f, link, false, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_CONFLICT));
    assert_content(path, "precious\n");
}
END_TEST

START_TEST(force_replaces_atomically)
{
    const char *path = out_csv;
    put_file(path, "old\n");
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    tm_outfile f;
    tm_error err;
    ck_assert_int_eq(tm_outfile_check(path, true, &err), 0);
    ck_assert_int_eq(tm_outfile_open(&f, path, true, &err), 0);
    ck_assert_int_eq(write(f.fd, "new,rows\n", 9), 9);
    assert_content(path, "old\n"); /* the old file is whole until commit */
    ck_assert_uint_eq(entries(), 2);
    ck_assert_int_eq(tm_outfile_commit(&f, &err), 0);
    assert_content(path, "new,rows\n");
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert(before.st_ino != after.st_ino); /* renamed over, not rewritten in place */
    ck_assert_uint_eq(entries(), 1);
}
END_TEST

/* Checked at open, and again at the rename: a file that appeared while the
 * output was written is not overwritten either. */
START_TEST(file_appearing_meanwhile_is_kept)
{
    const char *path = out_csv;
    tm_outfile f;
    tm_error err;
    open_and_write(&f, path, "mine\n");
    put_file(path, "theirs\n");
    ck_assert_int_eq(tm_outfile_commit(&f, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_CONFLICT));
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "--force"), "%s", err.msg);
    assert_content(path, "theirs\n");
    ck_assert_uint_eq(entries(), 1); /* no temporary left */
}
END_TEST

START_TEST(dev_null_is_still_fine)
{
    tm_outfile f;
    tm_error err;
    ck_assert_int_eq(tm_outfile_check("/dev/null", false, &err), 0);
    ck_assert_int_eq(tm_outfile_open(&f, "/dev/null", false, &err), 0);
    ck_assert_int_eq(write(f.fd, "gone\n", 5), 5);
    ck_assert_int_eq(tm_outfile_commit(&f, &err), 0);
    struct stat st;
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
}
END_TEST

/* /dev/fd/N (and /dev/stdout) write through the open descriptor, as
 * `--output /dev/stdout > file` means: the file the shell opened is written,
 * neither refused nor replaced. */
START_TEST(descriptor_is_written_through)
{
    char path[128], named[64];
    snprintf(path, sizeof path, "%s/shell.out", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    struct stat before, after;
    ck_assert_int_eq(fstat(fd, &before), 0);
    snprintf(named, sizeof named, "/dev/fd/%d", fd);
    tm_outfile f;
    tm_error err;
    ck_assert_int_eq(tm_outfile_open(&f, named, false, &err), 0);
    ck_assert_int_eq(write(f.fd, "through\n", 8), 8);
    ck_assert_int_eq(tm_outfile_commit(&f, &err), 0);
    ck_assert_int_eq(fcntl(fd, F_GETFD), 0); /* the caller's descriptor stays open */
    close(fd);
    assert_content(path, "through\n");
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert(before.st_ino == after.st_ino);
    ck_assert_uint_eq(entries(), 1);
    /* a closed descriptor is an error, not a crash */
    ck_assert_int_eq(tm_outfile_open(&f, "/dev/fd/987654", false, &err), -1);
    ck_assert_msg(strstr(err.msg, "/dev/fd/987654"), "%s", err.msg);
}
END_TEST

int main(void)
{
    return tm_check_main_fixture(
        "outfile", "core", 0,
        TM_TESTS(regular_file_appears_at_commit, fifo_is_written_not_replaced, symlink_stays_a_link,
                 directory_is_refused, existing_file_is_refused_without_force,
                 force_replaces_atomically, file_appearing_meanwhile_is_kept,
                 dev_null_is_still_fine, descriptor_is_written_through),
        setup, teardown);
}
