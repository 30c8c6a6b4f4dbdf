/* Journal metadata (atomic key=value file) and the capture lock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

START_TEST(meta_round_trip)
{
    char *dir = tmt_tempdir();
    tm_meta m = {.format_version = 1,
                 .system_identifier = UINT64_C(7301234567890123456),
                 .start_lsn = UINT64_C(0x16B374D848),
                 .created_at = INT64_C(1767225600123456)};
    strcpy(m.database, "shop = \"prod\"\nline two\\ and a backslash, é");
    strcpy(m.slot, "tidemark_slot");
    strcpy(m.publication, "");
    tm_error err;
    ck_assert_msg(tm_meta_write(dir, &m, &err) == 0, "%s", err.msg);
    tm_meta back;
    ck_assert_msg(tm_meta_read(dir, &back, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(back.format_version, 1);
    ck_assert_uint_eq(back.system_identifier, m.system_identifier);
    ck_assert_uint_eq(back.start_lsn, m.start_lsn);
    ck_assert_int_eq(back.created_at, m.created_at);
    ck_assert_str_eq(back.database, m.database);
    ck_assert_str_eq(back.slot, m.slot);
    ck_assert_str_eq(back.publication, "");
    /* replaced in place, atomically: no temp file left, mode 0600 */
    strcpy(m.slot, "other");
    ck_assert(tm_meta_write(dir, &m, &err) == 0);
    ck_assert(tm_meta_read(dir, &back, &err) == 0);
    ck_assert_str_eq(back.slot, "other");
    char *tmp = tmt_path(dir, "journal.meta.tmp"), *path = tmt_path(dir, "journal.meta");
    ck_assert(access(tmp, F_OK) != 0);
    struct stat st;
    ck_assert(stat(path, &st) == 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    /* the file is plain text a person can read */
    size_t len;
    char *text = (char *)tmt_slurp(path, &len);
    text[len] = '\0';
    ck_assert_msg(strstr(text, "format_version=1\n") && strstr(text, "slot=other\n") &&
                      strstr(text, "start_lsn=16/B374D848\n"),
                  "%s", text);
    free(text);
    free(tmp);
    free(path);
    tmt_tempdir_remove(dir);
}
END_TEST

/* A flipped bit anywhere in the data lines of journal.meta (a digit of the
 * system identifier, a letter of the database name, a comment) is damage
 * (its checksum line), not another journal's identity; a file without a
 * checksum line (written before it existed) reads as before. */
START_TEST(meta_checksum)
{
    char *dir = tmt_tempdir();
    tm_meta m = {.format_version = 1, .system_identifier = 42, .start_lsn = 100};
    strcpy(m.database, "shop");
    strcpy(m.slot, "tidemark_shop");
    tm_error err;
    ck_assert(tm_meta_write(dir, &m, &err) == 0);
    char *path = tmt_path(dir, "journal.meta");
    size_t len;
    unsigned char *orig = tmt_slurp(path, &len);
    char *crc = strstr((char *)orig, "\ncrc32c=");
    ck_assert_msg(crc && (size_t)(crc + 1 - (char *)orig) + 16 == len, "no checksum line last");
    size_t data_end = (size_t)(crc + 1 - (char *)orig);
    tm_meta back;
    for (size_t at = 0; at < data_end; at++) {
        orig[at] ^= 0x01;
        tmt_spit(path, orig, len);
        ck_assert_msg(tm_meta_read(dir, &back, &err) == -1 && tm_error_is(&err, TM_ERR_CORRUPT),
                      "a flip at byte %zu was accepted", at);
        orig[at] ^= 0x01;
    }
    /* the checksum's digits too */
    orig[len - 2] ^= 0x01;
    tmt_spit(path, orig, len);
    ck_assert_int_eq(tm_meta_read(dir, &back, &err), -1);
    /* an older file: no checksum line */
    tmt_spit(path, orig, data_end);
    ck_assert_msg(tm_meta_read(dir, &back, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(back.system_identifier, 42);
    free(orig);
    free(path);
    tmt_tempdir_remove(dir);
}
END_TEST

START_TEST(meta_missing_and_bad)
{
    char *dir = tmt_tempdir();
    tm_meta m;
    tm_error err;
    ck_assert_int_eq(tm_meta_read(dir, &m, &err), -1);
    ck_assert_msg(tm_error_is(&err, TM_ERR_NOT_FOUND), "%s", tm_errcode_name(err.code));
    ck_assert_msg(strstr(err.msg, "journal.meta"), "%s", err.msg);
    char *meta_path = tmt_path(dir, "journal.meta");
    ck_assert_str_eq(err.file, meta_path); /* the context names the file */
    free(meta_path);
    char *path = tmt_path(dir, "journal.meta");
    const char *bad[] = {
        "format_version=1\nthis line has no equals sign\n",
        "format_version=one\n",
        "slot=x\n",                            /* no format_version */
        "format_version=1\nstart_lsn=16-B3\n", /* not an LSN */
        "format_version=1\ndatabase=bad\\escape\n",
        "format_version=99\n", /* written by a newer tidemark */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tmt_spit(path, bad[i], strlen(bad[i]));
        ck_assert_msg(tm_meta_read(dir, &m, &err) == -1, "accepted: %s", bad[i]);
        /* damaged (CORRUPT), or from a newer tidemark (FORMAT): never NOT_FOUND */
        ck_assert_int_eq(err.code,
                         i + 1 < sizeof bad / sizeof bad[0] ? TM_ERR_CORRUPT : TM_ERR_FORMAT);
    }
    ck_assert_msg(strstr(err.msg, "newer"), "%s", err.msg);
    const char *ok = "# comment\nformat_version=1\nsome_future_key=whatever\nslot=s\n";
    tmt_spit(path, ok, strlen(ok));
    ck_assert_msg(tm_meta_read(dir, &m, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(m.slot, "s");
    /* the longest name that fits round-trips; an unterminated one is refused */
    tm_meta big = {.format_version = 1};
    memset(big.database, '\n', sizeof big.database - 1);
    ck_assert(tm_meta_write(dir, &big, &err) == 0);
    ck_assert(tm_meta_read(dir, &m, &err) == 0);
    ck_assert_str_eq(m.database, big.database);
    memset(big.slot, 'x', sizeof big.slot);
    ck_assert_int_eq(tm_meta_write(dir, &big, &err), -1);
    /* and a value too long in the file is refused on read */
    char longline[400] = "format_version=1\nslot=";
    memset(longline + strlen(longline), 'y', 200);
    tmt_spit(path, longline, strlen(longline));
    ck_assert_int_eq(tm_meta_read(dir, &m, &err), -1);
    free(path);
    tmt_tempdir_remove(dir);
}
END_TEST

START_TEST(lock_refused_while_held)
{
    char *dir = tmt_tempdir();
    int go[2], done[2];
    ck_assert(pipe(go) == 0 && pipe(done) == 0);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        tm_error err;
        int fd;
        char c = tm_journal_lock(dir, &fd, &err) == 0 ? 'y' : 'n';
        (void)!write(go[1], &c, 1);
        (void)!read(done[0], &c, 1); /* hold it until told */
        tm_journal_unlock(fd);
        _exit(0);
    }
    char c;
    ck_assert(read(go[0], &c, 1) == 1);
    ck_assert_int_eq(c, 'y');
    tm_error err;
    int fd;
    ck_assert_int_eq(tm_journal_lock(dir, &fd, &err), -1);
    char want[300];
    snprintf(want, sizeof want, "journal %s is in use by another capture (pid %ld)", dir,
             (long)pid);
    ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
    ck_assert(tm_error_is(&err, TM_ERR_CONFLICT));
    ck_assert(write(done[1], "x", 1) == 1);
    int st;
    waitpid(pid, &st, 0);
    /* released (also when a holder dies): ours now */
    ck_assert_msg(tm_journal_lock(dir, &fd, &err) == 0, "%s", err.msg);
    char *path = tmt_path(dir, "capture.lock");
    size_t len;
    char *text = (char *)tmt_slurp(path, &len);
    text[len] = '\0';
    ck_assert_int_eq(atol(text), (long)getpid());
    free(text);
    free(path);
    tm_journal_unlock(fd);
    tmt_tempdir_remove(dir);
}
END_TEST

int main(void)
{
    return tm_check_main(
        "store_meta", "core", 0,
        TM_TESTS(meta_round_trip, meta_checksum, meta_missing_and_bad, lock_refused_while_held));
}
