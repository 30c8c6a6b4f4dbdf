/* store/crypt: the key file (format, permissions) and AES-256-GCM sealing:
 * round trips of buffers and files, and every way a sealed body can go
 * wrong (a flipped bit anywhere, a wrong key, an unknown key id, another
 * object's name, a cut) is an error naming the object. */
#include "store/crypt/keyring.h"
#include "store/crypt/seal.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_sys.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define K1 "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define K1_OTHER "k1 ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define K2 "k2 A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF\n"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/tm-crypt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    tm_rmtree(dir);
}

/* Writes a key file with mode and loads it: the keyring, or NULL with err. */
static tm_keyring *load(const char *text, mode_t mode, tm_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "%s/keys", dir);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
    tm_keyring *kr = NULL;
    tm_error_clear(err);
    int rc = tm_keyring_load(path, &kr, err);
    ck_assert_int_eq(rc == 0, kr != NULL);
    return kr;
}

static tm_keyring *load_ok(const char *text)
{
    tm_error err;
    tm_keyring *kr = load(text, 0600, &err);
    ck_assert_msg(kr, "%s", err.msg);
    return kr;
}

START_TEST(key_file_format)
{
    tm_keyring *kr = load_ok("# rotated 2026-12-01\n\n  " K2 K1);
    ck_assert_uint_eq(kr->n, 2);
    ck_assert_str_eq(tm_keyring_current(kr)->id, "k2");
    ck_assert_uint_eq(tm_keyring_current(kr)->key[0], 0xa0);
    ck_assert_uint_eq(tm_keyring_find(kr, "k1")->key[31], 0x1f);
    ck_assert_ptr_null(tm_keyring_find(kr, "k3"));
    tm_keyring_free(kr);

    static const struct {
        const char *text, *says;
    } bad[] = {
        {"", "holds no key"},
        {"# nothing\n", "holds no key"},
        {"k1 0001\n", "line 1: the key must be 64 hex digits"},
        {K1 "k2 zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
         "line 2: the key must be 64 hex digits"},
        {"bad/id 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
         "line 1: the key id must be"},
        {K1 K1_OTHER, "line 2: this key id is given twice"},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", "line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tm_error err;
        ck_assert_ptr_null(load(bad[i].text, 0600, &err));
        ck_assert(tm_error_is(&err, TM_ERR_FORMAT));
        ck_assert_msg(strstr(err.msg, bad[i].says) && strstr(err.msg, dir), "%zu: %s", i, err.msg);
        /* A message never shows key material. */
        ck_assert_msg(!strstr(err.msg, "0a0b0c0d"), "%s", err.msg);
    }
}
END_TEST

START_TEST(key_file_permissions)
{
    static const mode_t too_open[] = {0640, 0604, 0644, 0660, 0602};
    for (size_t i = 0; i < sizeof too_open / sizeof too_open[0]; i++) {
        tm_error err;
        ck_assert_ptr_null(load(K1, too_open[i], &err));
        ck_assert(tm_error_is(&err, TM_ERR_USAGE));
        char mode[16];
        snprintf(mode, sizeof mode, "%04o", (unsigned)too_open[i]);
        ck_assert_msg(strstr(err.msg, "too open") && strstr(err.msg, mode) &&
                          strstr(err.msg, "chmod 600"),
                      "%s", err.msg);
    }
    tm_error err;
    tm_keyring *kr = load(K1, 0400, &err);
    ck_assert_msg(kr, "%s", err.msg);
    tm_keyring_free(kr);
    kr = NULL;
    ck_assert_int_eq(tm_keyring_load("/nonexistent/keys", &kr, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_NOT_FOUND));
    ck_assert_msg(strstr(err.msg, "/nonexistent/keys"), "%s", err.msg);
    ck_assert_int_eq(tm_keyring_load(dir, &kr, &err), -1); /* a directory */
}
END_TEST

static unsigned char *pattern(size_t len)
{
    unsigned char *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(i * 7 + (i >> 9));
    return p;
}

START_TEST(round_trip)
{
    tm_keyring *kr = load_ok(K2 K1);
    static const size_t sizes[] = {0, 1, 15, 16, 4096, (256u << 10) + 3, 1u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i];
        unsigned char *plain = pattern(len);
        tm_buf b = {0};
        tm_error err = {0};
        ck_assert_msg(tm_seal_buf(tm_keyring_current(kr), "a.seg", plain, len, &b, &err) == 0, "%s",
                      err.msg);
        ck_assert_uint_eq(b.len, len + tm_seal_overhead(tm_keyring_current(kr)));
        ck_assert(tm_sealed(b.p, b.len));
        char id[TM_KEY_ID_MAX + 1];
        ck_assert_int_eq(tm_sealed_key_id(b.p, b.len, "a", id, &err), 0);
        ck_assert_str_eq(id, "k2");
        if (len >= 64) /* ciphertext, not the plaintext */
            ck_assert(!memmem(b.p, b.len, plain + 16, 32));
        size_t n = b.len;
        ck_assert_msg(tm_open_inplace(kr, "a.seg", "obj", b.p, &n, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(n, len);
        ck_assert(len == 0 || memcmp(b.p, plain, len) == 0);

        /* The same through a file, as the archive uploads it. */
        char in[128], out[128];
        snprintf(in, sizeof in, "%s/plain", dir);
        snprintf(out, sizeof out, "%s/sealed", dir);
        int fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_eq(write(fd, plain, len), (ssize_t)len);
        close(fd);
        fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
        size_t slen = 0;
        ck_assert_msg(tm_seal_file(tm_keyring_current(kr), "b.idx", in, fd, out, &slen, &err) == 0,
                      "%s", err.msg);
        close(fd);
        unsigned char *s = NULL;
        size_t got = 0;
        ck_assert_int_eq(tm_read_file(out, 1u << 24, &s, &got, &err), 0);
        ck_assert_uint_eq(got, slen);
        ck_assert_uint_eq(got, len + tm_seal_overhead(tm_keyring_current(kr)));
        ck_assert_msg(tm_open_inplace(kr, "b.idx", "obj", s, &got, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(got, len);
        ck_assert(len == 0 || memcmp(s, plain, len) == 0);
        free(s);
        tm_buf_free(&b);
        free(plain);
    }
    tm_keyring_free(kr);
}
END_TEST

START_TEST(fresh_nonce)
{
    tm_keyring *kr = load_ok(K1);
    tm_buf a = {0}, b = {0};
    tm_error err = {0};
    ck_assert_int_eq(tm_seal_buf(tm_keyring_current(kr), "x", "same", 4, &a, &err), 0);
    ck_assert_int_eq(tm_seal_buf(tm_keyring_current(kr), "x", "same", 4, &b, &err), 0);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(memcmp(a.p, b.p, a.len) != 0);
    tm_buf_free(&a);
    tm_buf_free(&b);
    tm_keyring_free(kr);
}
END_TEST

/* Every bit flipped anywhere in a sealed body is refused. */
START_TEST(tampering)
{
    tm_keyring *kr = load_ok(K1);
    const size_t len = 300;
    unsigned char *plain = pattern(len);
    tm_buf b = {0};
    tm_error err = {0};
    ck_assert_int_eq(tm_seal_buf(tm_keyring_current(kr), "n.seg", plain, len, &b, &err), 0);
    unsigned char *copy = malloc(b.len);
    for (size_t at = 0; at < b.len; at++) {
        memcpy(copy, b.p, b.len);
        copy[at] ^= (unsigned char)(1u << (at % 8));
        size_t n = b.len;
        ck_assert_msg(tm_open_inplace(kr, "n.seg", "s3://bkt/p/n.seg", copy, &n, &err) == -1,
                      "a flipped bit at %zu was not noticed", at);
        ck_assert_uint_eq(n, 0);
        ck_assert_msg(strstr(err.msg, "s3://bkt/p/n.seg"), "%s", err.msg);
        ck_assert(tm_error_is(&err, TM_ERR_CORRUPT) || tm_error_is(&err, TM_ERR_NOT_FOUND));
    }
    /* Cut short, at every length. */
    for (size_t cut = 0; cut < b.len; cut += 7) {
        memcpy(copy, b.p, b.len);
        size_t n = cut;
        ck_assert_int_eq(tm_open_inplace(kr, "n.seg", "obj", copy, &n, &err), -1);
        ck_assert(tm_error_is(&err, TM_ERR_CORRUPT));
    }
    /* Under another name: an object copied over another does not open. */
    memcpy(copy, b.p, b.len);
    size_t n = b.len;
    ck_assert_int_eq(tm_open_inplace(kr, "m.seg", "s3://bkt/p/m.seg", copy, &n, &err), -1);
    ck_assert_msg(strstr(err.msg, "s3://bkt/p/m.seg does not authenticate with key \"k1\""), "%s",
                  err.msg);
    /* Plain bytes are not a sealed body. */
    n = len;
    ck_assert_int_eq(tm_open_inplace(kr, "n.seg", "obj", plain, &n, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_CORRUPT));
    free(copy);
    free(plain);
    tm_buf_free(&b);
    tm_keyring_free(kr);
}
END_TEST

START_TEST(wrong_and_missing_keys)
{
    tm_keyring *kr = load_ok(K1);
    tm_buf b = {0};
    tm_error err = {0};
    ck_assert_int_eq(tm_seal_buf(tm_keyring_current(kr), "o", "secret row", 10, &b, &err), 0);
    tm_keyring_free(kr);

    /* The same id, other key bytes. */
    kr = load_ok(K1_OTHER);
    tm_buf c = {0};
    ck_assert_int_eq(tm_buf_reserve(&c, b.len, &err), 0);
    memcpy(c.p, b.p, b.len);
    size_t n = b.len;
    ck_assert_int_eq(tm_open_inplace(kr, "o", "s3://x/o", c.p, &n, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_CORRUPT));
    ck_assert_msg(strstr(err.msg, "s3://x/o does not authenticate with key \"k1\"") &&
                      strstr(err.msg, "not the key the object was encrypted with"),
                  "%s", err.msg);
    ck_assert(!memmem(c.p, b.len, "secret", 6));
    tm_keyring_free(kr);

    /* A key file without the object's key id. */
    kr = load_ok(K2);
    memcpy(c.p, b.p, b.len);
    n = b.len;
    ck_assert_int_eq(tm_open_inplace(kr, "o", "s3://x/o", c.p, &n, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_NOT_FOUND));
    ck_assert_msg(strstr(err.msg, "s3://x/o is encrypted with key id \"k1\", which the key file") &&
                      strstr(err.msg, "(it holds k2)"),
                  "%s", err.msg);
    tm_keyring_free(kr);

    /* Rotated: the new key first, the old one still opens its objects. */
    kr = load_ok(K2 K1);
    memcpy(c.p, b.p, b.len);
    n = b.len;
    ck_assert_msg(tm_open_inplace(kr, "o", "s3://x/o", c.p, &n, &err) == 0, "%s", err.msg);
    ck_assert(n == 10 && memcmp(c.p, "secret row", 10) == 0);
    tm_keyring_free(kr);
    tm_buf_free(&b);
    tm_buf_free(&c);
}
END_TEST

int main(void)
{
    return tm_check_main_fixture("crypt", "core", 0,
                                 TM_TESTS(key_file_format, key_file_permissions, round_trip,
                                          fresh_nonce, tampering, wrong_and_missing_keys),
                                 setup, teardown);
}
