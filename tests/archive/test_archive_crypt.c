/* Encrypted archives (--encrypt-key-file) against a real S3 server: every
 * object goes up sealed with AES-256-GCM (key id in its metadata and in the
 * manifest) and opens to the local file; a flipped byte, a wrong key, an
 * object copied over another and a key id the key file lacks are clear
 * errors naming the object; rotation keeps old objects readable by id; a
 * key file others may read, and a pass without a key over an encrypted
 * archive, are refused. A synthetic journal (no PostgreSQL) keeps it quick. */
#include "store/archive/push.h"
#include "store/archive/sealed.h"
#include "store/crypt/seal.h"
#include "store/journal/segment.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/s3_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_journal.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OID 16384
#define K1 "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define K1_WRONG "k1 ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define K2 "k2 a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\n"

/* Appends n transactions of one row each (about 300 bytes) to the journal
 * in dir, in segments of 4 kB: every one but the last is sealed. */
static void grow(tmt_jw *j, const char *dir, int from, int n)
{
    tm_writer_options wo = {.segment_size = 4096, .frame_target = 1024};
    bool first = j->lsn == 0;
    if (first) {
        j->lsn = 0x1000000;
        j->time = 1767225600000000;
    }
    tmt_jw_open(j, dir, &wo);
    if (first) {
        static const tmt_col cols[] = {{.name = "id", .type_oid = 23, .pk = 1},
                                       {.name = "v", .type_oid = 25}};
        tmt_jw_relation(j->w, OID, 1, j->lsn, "prefs", 'd', cols, 2);
    }
    for (int i = from; i < from + n; i++) {
        char id[16], v[400];
        snprintf(id, sizeof id, "%d", i);
        int k = snprintf(v, sizeof v, "row %d:", i);
        for (int x = 0; k < 300; x++)
            k += snprintf(v + k, sizeof v - (size_t)k, " %08x", (unsigned)(i * 2654435761u + x));
        tmt_jw_begin(j, 1, false, j->time + 1000000);
        tmt_jw_insert(j, OID, 1, TMT_ROW(id, v));
        tmt_jw_end(j);
    }
    tmt_jw_close(j);
}

static void write_keys(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
}

static tm_s3 *client(const char *bucket)
{
    tm_s3_config cfg;
    tm_s3srv_config(tm_s3srv_shared(), bucket, &cfg);
    tm_s3 *s3 = NULL;
    tm_error err = {0};
    ck_assert_msg(tm_s3_open(&cfg, &s3, &err) == 0, "%s", err.msg);
    return s3;
}

/* tidemark archive ... with the test server's environment. */
static int archive(tm_run_result *r, const char *dir, const char *url, const char *keys,
                   const char *mode)
{
    tm_run_opts o = {.env = tm_s3srv_env(tm_s3srv_shared())};
    const char *args[] = {
        "archive", "--journal", dir, "--to", url, mode, keys ? "--encrypt-key-file" : NULL,
        keys,      NULL};
    return tm_tidemarkv(r, &o, args);
}

static void archive_ok(const char *dir, const char *url, const char *keys, const char *mode)
{
    tm_run_result r;
    archive(&r, dir, url, keys, mode);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
}

static tm_keyring *keyring(const char *path)
{
    tm_keyring *kr = NULL;
    tm_error err = {0};
    ck_assert_msg(tm_keyring_load(path, &kr, &err) == 0, "%s", err.msg);
    return kr;
}

/* Every file of the manifest is sealed with the key named in want (by
 * file: want_old for segments up to old_segs, want_new after them), its
 * metadata says so, and it opens to the local file byte for byte. Returns
 * the number of files. */
static size_t check_sealed(tm_s3 *s3, const char *prefix, const char *dir, const tm_keyring *kr,
                           uint64_t old_segs, const char *want_old, const char *want_new)
{
    tm_archive_state man = {0};
    tm_error err = {0};
    ck_assert_int_eq(tm_archive_manifest_read(s3, prefix, &man, NULL, NULL, 0, &err), 1);
    ck_assert_uint_gt(man.n_files, 4);
    tm_buf got = {0};
    int segs = 0;
    for (size_t i = 0; i < man.n_files; i++) {
        const tm_archive_file *f = &man.files[i];
        uint64_t no = 0;
        bool seg = tm_name_numbered(f->name, ".seg", &no);
        bool numbered = seg || tm_name_numbered(f->name, ".idx", &no);
        segs += seg;
        /* Files rewritten since (metadata, row counts) may have either key. */
        const char *want = !numbered ? f->key_id : no <= old_segs ? want_old : want_new;
        ck_assert_msg(!strcmp(f->key_id, want) &&
                          (!strcmp(want, want_old) || !strcmp(want, want_new)),
                      "%s: key id \"%s\" in the manifest, not \"%s\"", f->name, f->key_id, want);
        char key[300], path[4096], url[400];
        snprintf(key, sizeof key, "%s%s", prefix, f->name);
        snprintf(path, sizeof path, "%s/%s", dir, f->name);
        snprintf(url, sizeof url, "s3://x/%s", key);
        got.len = 0;
        tm_s3_object info;
        ck_assert_msg(tm_s3_get(s3, key, 0, 0, &got, &info, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(tm_s3_object_meta(&info, TM_ARCHIVE_KEY_META), f->key_id);
        ck_assert(tm_sealed(got.p, got.len));
        size_t len = 0;
        unsigned char *local = tmt_slurp(path, &len);
        ck_assert_uint_eq(got.len, len + TM_SEAL_MAGIC_LEN + 1 + strlen(f->key_id) + TM_SEAL_NONCE +
                                       TM_SEAL_TAG);
        /* Nothing of the plaintext shows. */
        if (len > 64)
            ck_assert(!memmem(got.p, got.len, local + len / 2, 24));
        ck_assert_msg(tm_archive_decrypt(kr, f->name, url, &got, &info, &err) == 0, "%s", err.msg);
        ck_assert_msg(got.len == len && memcmp(got.p, local, len) == 0,
                      "%s does not open to the local file", f->name);
        free(local);
    }
    ck_assert_int_ge(segs, 2);
    size_t n = man.n_files;
    tm_buf_free(&got);
    tm_archive_state_free(&man);
    return n;
}

START_TEST(encrypted_round_trip_and_damage)
{
    tm_s3srv *srv = tm_s3srv_shared();
    tm_s3srv_bucket(srv, "enc");
    char *dir = tmt_tempdir(), *kdir = tmt_tempdir();
    char keys[512], wrong[512], other[512];
    snprintf(keys, sizeof keys, "%s/keys", kdir);
    snprintf(wrong, sizeof wrong, "%s/wrong", kdir);
    snprintf(other, sizeof other, "%s/other", kdir);
    write_keys(keys, K1, 0600);
    write_keys(wrong, K1_WRONG, 0600);
    write_keys(other, K2, 0600);
    tmt_jw j = {0};
    grow(&j, dir, 1, 100);
    archive_ok(dir, "s3://enc/a", keys, "--once");

    tm_s3 *s3 = client("enc");
    tm_keyring *kr = keyring(keys);
    check_sealed(s3, "a/", dir, kr, 0, "k1", "k1");
    /* The manifest names the key of every file. */
    tm_buf b = {0};
    tm_error err = {0};
    ck_assert_int_eq(tm_s3_get(s3, "a/MANIFEST", 0, 0, &b, NULL, &err), 0);
    ck_assert_int_eq(tm_buf_reserve(&b, 1, &err), 0);
    b.p[b.len] = '\0';
    ck_assert_msg(strstr((char *)b.p, ".seg ") && strstr((char *)b.p, " k1\n"), "%s", b.p);

    /* --check: with the key every object is opened; without, only hashed. */
    tm_run_result r;
    archive(&r, dir, "s3://enc/a", keys, "--check");
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "0000000000000001.seg  ok") &&
                      strstr(r.out, "encrypted with key k1"),
                  "%s", r.out);
    ck_assert_msg(!strstr(r.out, "not decrypted"), "%s", r.out);
    tm_run_result_free(&r);
    archive(&r, dir, "s3://enc/a", NULL, "--check");
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "not decrypted: no key file") &&
                      strstr(r.out, "give "
                                    "--encrypt-key-file"),
                  "%s", r.out);
    tm_run_result_free(&r);

    /* A wrong key (the same id, other bytes): every object is refused, by name. */
    archive(&r, dir, "s3://enc/a", wrong, "--check");
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.out, "s3://enc/a/0000000000000001.seg does not authenticate with key "
                                "\"k1\"") &&
                      strstr(r.err, "9 archived files are damaged, missing or unreadable"),
                  "%s\n%s", r.out, r.err);
    ck_assert_msg(!strstr(r.out, "  ok  "), "%s", r.out);
    tm_run_result_free(&r);
    /* A key file without the objects' key id. */
    archive(&r, dir, "s3://enc/a", other, "--check");
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.out, "s3://enc/a/0000000000000001.seg is encrypted with key id \"k1\", "
                                "which the key file") &&
                      strstr(r.out, "(it holds k2)"),
                  "%s", r.out);
    tm_run_result_free(&r);

    /* A byte flipped on the server's disk: --check names the object. */
    tm_s3srv_flip_stored_byte(srv, 4000, 3000);
    archive(&r, dir, "s3://enc/a", keys, "--check");
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.out, ".seg  BAD: object s3://enc/a/00000000000000") &&
                      strstr(r.err, "1 archived file is damaged"),
                  "%s\n%s", r.out, r.err);
    ck_assert_msg(!strstr(r.out, "0000000000000002.seg  BAD"), "%s", r.out);
    tm_run_result_free(&r);

    /* Someone who can write to the store alters a sealed object and fixes
     * up its SHA-256 (the metadata the client checks): the tag still says no. */
    tm_s3_object info;
    b.len = 0;
    ck_assert_int_eq(tm_s3_get(s3, "a/0000000000000002.seg", 0, 0, &b, &info, &err), 0);
    size_t n = b.len;
    b.p[n / 2] ^= 0x01;
    const char *meta[] = {"tm-kind", "segment", TM_ARCHIVE_KEY_META, "k1", NULL};
    ck_assert_msg(tm_s3_put(s3, "a/0000000000000002.seg", b.p, n, meta, &err) == 0, "%s", err.msg);
    b.len = 0;
    ck_assert_msg(tm_s3_get(s3, "a/0000000000000002.seg", 0, 0, &b, &info, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(tm_archive_decrypt(kr, "0000000000000002.seg",
                                        "s3://enc/a/0000000000000002.seg", &b, &info, &err),
                     -1);
    ck_assert(tm_error_is(&err, TM_ERR_CORRUPT));
    ck_assert_msg(strstr(err.msg, "s3://enc/a/0000000000000002.seg does not authenticate"), "%s",
                  err.msg);
    ck_assert_uint_eq(b.len, 0);
    /* An object copied over another (a whole sealed segment 1 as segment 2). */
    b.len = 0;
    ck_assert_int_eq(tm_s3_get(s3, "a/0000000000000001.seg", 0, 0, &b, &info, &err), 0);
    ck_assert_int_eq(tm_archive_decrypt(kr, "0000000000000002.seg", NULL, &b, &info, &err), -1);
    ck_assert_msg(strstr(err.msg, "0000000000000002.seg does not authenticate"), "%s", err.msg);
    /* A sealed object without a key file to open it. */
    b.len = 0;
    ck_assert_int_eq(tm_s3_get(s3, "a/0000000000000001.seg", 0, 0, &b, &info, &err), 0);
    ck_assert_int_eq(
        tm_archive_decrypt(NULL, "0000000000000001.seg", "s3://enc/a/1", &b, &info, &err), -1);
    ck_assert_msg(strstr(err.msg, "s3://enc/a/1 is encrypted (key id \"k1\"): give the key file"),
                  "%s", err.msg);
    /* Plain bytes whose metadata claims a key. */
    b.len = 0;
    ck_assert_int_eq(tm_buf_reserve(&b, 100, &err), 0);
    memset(b.p, 'x', 100);
    b.len = 100;
    ck_assert_int_eq(tm_archive_decrypt(kr, "0000000000000001.seg", "s3://o", &b, &info, &err), -1);
    ck_assert_msg(strstr(err.msg, "s3://o is damaged: its metadata says it is encrypted"), "%s",
                  err.msg);

    /* The altered segment is named by --check, beside the flipped one. */
    archive(&r, dir, "s3://enc/a", keys, "--check");
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.out, "0000000000000002.seg  BAD: ") &&
                      strstr(r.err, "2 archived files are damaged"),
                  "%s\n%s", r.out, r.err);
    tm_run_result_free(&r);

    tm_buf_free(&b);
    tm_keyring_free(kr);
    tm_s3_close(s3);
    tmt_tempdir_remove(dir);
    tmt_tempdir_remove(kdir);
}
END_TEST

START_TEST(rotation_and_refusals)
{
    tm_s3srv *srv = tm_s3srv_shared();
    tm_s3srv_bucket(srv, "rot");
    char *dir = tmt_tempdir(), *kdir = tmt_tempdir();
    char k1[512], k21[512], k2[512];
    snprintf(k1, sizeof k1, "%s/k1", kdir);
    snprintf(k21, sizeof k21, "%s/k21", kdir);
    snprintf(k2, sizeof k2, "%s/k2", kdir);
    write_keys(k1, K1, 0600);
    write_keys(k21, "# rotated: k2 is current\n" K2 K1, 0600);
    write_keys(k2, K2, 0600);

    /* Plain first; the key file turns encryption on: everything goes up again sealed. */
    tmt_jw j = {0};
    grow(&j, dir, 1, 100);
    archive_ok(dir, "s3://rot/p", NULL, "--once");
    tm_s3 *s3 = client("rot");
    tm_buf b = {0};
    tm_error err = {0};
    ck_assert_int_eq(tm_s3_get(s3, "p/0000000000000001.seg", 0, 0, &b, NULL, &err), 0);
    ck_assert(!tm_sealed(b.p, b.len));
    archive_ok(dir, "s3://rot/p", k1, "--once");
    tm_keyring *kr = keyring(k1);
    check_sealed(s3, "p/", dir, kr, 0, "k1", "k1");
    tm_keyring_free(kr);
    uint64_t old_segs = 0;
    while (1) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%016llx.idx", dir, (unsigned long long)old_segs + 1);
        if (access(p, F_OK) != 0)
            break;
        old_segs++;
    }
    ck_assert_uint_ge(old_segs, 2);

    /* No key file now: refused, nothing goes up unencrypted. */
    grow(&j, dir, 101, 100);
    tm_run_result r;
    archive(&r, dir, "s3://rot/p", NULL, "--once");
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "holds encrypted objects") &&
                      strstr(r.err, "--encrypt-key-file, so that nothing goes up unencrypted"),
                  "%s", r.err);
    tm_run_result_free(&r);

    /* Rotation: k2 first, k1 below it. New files get k2, old ones keep k1. */
    archive_ok(dir, "s3://rot/p", k21, "--once");
    kr = keyring(k21);
    check_sealed(s3, "p/", dir, kr, old_segs, "k1", "k2");
    tm_keyring_free(kr);
    archive(&r, dir, "s3://rot/p", k21, "--check");
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, "encrypted with key k1") && strstr(r.out, "encrypted with key k2"),
                  "%s", r.out);
    tm_run_result_free(&r);
    /* k1 dropped from the key file too early: its objects are named. */
    archive(&r, dir, "s3://rot/p", k2, "--check");
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.out, "0000000000000001.seg  BAD: s3://rot/p/0000000000000001.seg is "
                                "encrypted with key id \"k1\", which the key file") &&
                      strstr(r.out, "add that key to it"),
                  "%s", r.out);
    tm_run_result_free(&r);

    /* Key files: too open, malformed, missing: usage errors before anything. */
    chmod(k1, 0644);
    archive(&r, dir, "s3://rot/p", k1, "--once");
    tm_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "permissions 0644 for the key file") && strstr(r.err, "chmod 600"),
                  "%s", r.err);
    tm_run_result_free(&r);
    write_keys(k1, "k1 0011\n", 0600);
    archive(&r, dir, "s3://rot/p", k1, "--check");
    tm_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "line 1: the key must be 64 hex digits"), "%s", r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "capture", "--journal", dir, "--source", "dbname=x", "--table", "t",
                "--encrypt-key-file", k2, NULL);
    tm_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "--encrypt-key-file needs --archive"), "%s", r.err);
    tm_run_result_free(&r);
    chmod(k2, 0640);
    tm_run_opts o = {.env = tm_s3srv_env(srv)};
    tm_tidemark(&r, &o, "capture", "--journal", dir, "--source", "dbname=x", "--table", "t",
                "--archive", "s3://rot/p", "--encrypt-key-file", k2, NULL);
    tm_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "--encrypt-key-file: permissions 0640"), "%s", r.err);
    tm_run_result_free(&r);

    tm_buf_free(&b);
    tm_s3_close(s3);
    tmt_tempdir_remove(dir);
    tmt_tempdir_remove(kdir);
}
END_TEST

/* capture --archive --encrypt-key-file: the archive child gets the key
 * file, and what capture archives is sealed and opens. */
START_TEST(capture_encrypted_archive)
{
    tm_s3srv *srv = tm_s3srv_shared();
    tm_s3srv_bucket(srv, "capenc");
    tm_pg pg;
    char perr[1024];
    ck_assert_msg(tm_pg_start(&pg, NULL, perr, sizeof perr) == 0, "%s", perr);
    PGconn *c;
    char *ci = tmc_setup_db(&pg, "encdb", &c);
    char j[512], keys[600];
    snprintf(j, sizeof j, "%s/journal", pg.dir);
    snprintf(keys, sizeof keys, "%s/archive.keys", pg.dir);
    write_keys(keys, K2 K1, 0600);
    const char *argv[] = {TM_BINARY,
                          "capture",
                          "--journal",
                          j,
                          "--source",
                          ci,
                          "--table",
                          "public.events",
                          "--segment-size",
                          "1",
                          "--fsync-interval-ms",
                          "20",
                          "--archive",
                          "s3://capenc/s",
                          "--archive-interval",
                          "1",
                          "--encrypt-key-file",
                          keys,
                          NULL};
    pid_t pid = tmc_spawnv(j, tm_s3srv_env(srv), argv);
    tmc_wait_slot_active(c, "tidemark_encdb", true);
    for (int i = 0; i < 8; i++)
        tm_pg_exec(c,
                   "INSERT INTO events SELECT g, md5(g::text) || md5((g * 3)::text) || md5((g * "
                   "7)::text) FROM generate_series(%d, %d) g",
                   1000000 + i * 5000, 1000000 + i * 5000 + 4999);
    char *lsn = tmc_current_lsn(c);
    ck_assert(tmc_wait_confirmed(c, "tidemark_encdb", lsn, 60000));
    free(lsn);
    /* Until two sealed segments and their indexes are archived. */
    tm_s3 *s3 = client("capenc");
    long long end = tm_now_ms() + 60000;
    for (;;) {
        tm_archive_state st = {0};
        tm_error err = {0};
        int m = tm_archive_manifest_read(s3, "s/", &st, NULL, NULL, 0, &err);
        ck_assert_msg(m >= 0, "%s", err.msg);
        size_t n = st.n_files;
        for (size_t i = 0; i < st.n_files; i++)
            ck_assert_msg(!strcmp(st.files[i].key_id, "k2"), "%s: key id \"%s\"", st.files[i].name,
                          st.files[i].key_id);
        tm_archive_state_free(&st);
        if (n >= 5)
            break;
        ck_assert_msg(tm_now_ms() < end, "nothing archived in 60 s:\n%s", tmc_log(j));
        usleep(300000);
    }
    tm_run_result r;
    archive(&r, j, "s3://capenc/s", keys, "--check");
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.out, ".seg  ok") && strstr(r.out, "encrypted with key k2") &&
                      !strstr(r.out, "BAD"),
                  "%s", r.out);
    tm_run_result_free(&r);
    tmc_stop(pid, j);
    ck_assert_msg(!strstr(tmc_log(j), "stopped (exit status"), "%s", tmc_log(j));
    tm_s3_close(s3);
    PQfinish(c);
    free(ci);
    tm_pg_stop(&pg);
}
END_TEST

int main(void)
{
    return tm_s3srv_check_main("archive_crypt", "archive_crypt", 300,
                               TM_TESTS(encrypted_round_trip_and_damage, rotation_and_refusals,
                                        capture_encrypted_archive));
}
