/* The S3 client against a real S3 server (Swift + s3api on loopback):
 * objects round trip byte for byte, ranges, listings page by page,
 * multipart, refused credentials, an outage and its end, a damaged object. */
#include "store/archive/s3.h"
#include "tests/harness/s3_harness.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tm_s3 *client(const char *bucket, tm_s3_config *cfg_out)
{
    tm_s3_config cfg;
    tm_s3srv_config(tm_s3srv_shared(), bucket, &cfg);
    if (cfg_out)
        *cfg_out = cfg;
    tm_s3 *s3 = NULL;
    tm_error err = {0};
    ck_assert_msg(tm_s3_open(&cfg, &s3, &err) == 0, "%s", err.msg);
    return s3;
}

static unsigned char *pattern(size_t len, unsigned seed)
{
    unsigned char *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
    return p;
}

START_TEST(put_get_head_delete)
{
    tm_s3srv_bucket(tm_s3srv_shared(), "basic");
    tm_s3 *s3 = client("basic", NULL);
    tm_error err = {0};
    size_t len = 100000;
    unsigned char *data = pattern(len, 1);
    const char *meta[] = {"tm-kind", "segment", NULL};
    ck_assert_msg(tm_s3_put(s3, "j/0001.seg", data, len, meta, &err) == 0, "%s", err.msg);

    tm_buf got = {0};
    tm_s3_object info;
    ck_assert_msg(tm_s3_get(s3, "j/0001.seg", 0, 0, &got, &info, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(got.len, len);
    ck_assert(memcmp(got.p, data, len) == 0);
    ck_assert_str_eq(tm_s3_object_meta(&info, "tm-kind"), "segment");

    /* A range: exactly those bytes, and the object's whole size. */
    got.len = 0;
    ck_assert_msg(tm_s3_get(s3, "j/0001.seg", 4096, 1000, &got, &info, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(got.len, 1000);
    ck_assert(memcmp(got.p, data + 4096, 1000) == 0);
    ck_assert_uint_eq(info.size, len);

    ck_assert_msg(tm_s3_head(s3, "j/0001.seg", &info, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(info.size, len);
    char sha[65];
    tm_sha256_hex(data, len, sha);
    ck_assert_str_eq(info.sha256, sha);

    ck_assert_msg(tm_s3_delete(s3, "j/0001.seg", &err) == 0, "%s", err.msg);
    ck_assert_int_eq(tm_s3_head(s3, "j/0001.seg", &info, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_NOT_FOUND));
    got.len = 0;
    ck_assert_int_eq(tm_s3_get(s3, "j/0001.seg", 0, 0, &got, NULL, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_NOT_FOUND));
    ck_assert_msg(strstr(err.msg, "s3://basic/j/0001.seg") && strstr(err.msg, "404"), "%s",
                  err.msg);
    /* An empty object is an object. */
    ck_assert_msg(tm_s3_put(s3, "j/empty", NULL, 0, NULL, &err) == 0, "%s", err.msg);
    got.len = 0;
    ck_assert_msg(tm_s3_get(s3, "j/empty", 0, 0, &got, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(got.len, 0);
    tm_buf_free(&got);
    free(data);
    tm_s3_close(s3);
}
END_TEST

typedef struct seen {
    char keys[32][128];
    uint64_t sizes[32];
    int n, prefixes;
} seen;

static int collect(const tm_s3_entry *e, void *arg, tm_error *err)
{
    (void)err;
    seen *s = arg;
    ck_assert_int_lt(s->n, 32);
    snprintf(s->keys[s->n], sizeof s->keys[0], "%s", e->key);
    s->sizes[s->n++] = e->size;
    s->prefixes += e->is_prefix;
    return 0;
}

START_TEST(list_pages_and_prefixes)
{
    tm_s3srv_bucket(tm_s3srv_shared(), "listing");
    tm_s3 *s3 = client("listing", NULL);
    tm_error err = {0};
    /* Keys that need encoding in the query (space, plus, unicode) too. */
    const char *keys[] = {"a/1", "a/2 x", "a/3+y", "a/4\xc3\xa9", "a/5", "b/1", "ab", NULL};
    for (int i = 0; keys[i]; i++)
        ck_assert_msg(tm_s3_put(s3, keys[i], keys[i], strlen(keys[i]), NULL, &err) == 0, "%s: %s",
                      keys[i], err.msg);
    seen s = {0};
    ck_assert_msg(tm_s3_list(s3, "a/", NULL, 2, collect, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n, 5); /* three pages of at most 2 */
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(s.keys[i], keys[i]);
        ck_assert_uint_eq(s.sizes[i], strlen(keys[i]));
    }
    /* With a delimiter: the sources of a fleet. */
    memset(&s, 0, sizeof s);
    ck_assert_msg(tm_s3_list(s3, "", "/", 1, collect, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n, 3);
    ck_assert_int_eq(s.prefixes, 2);
    ck_assert_str_eq(s.keys[0], "a/");
    ck_assert_str_eq(s.keys[1], "ab");
    ck_assert_str_eq(s.keys[2], "b/");
    memset(&s, 0, sizeof s);
    ck_assert_msg(tm_s3_list(s3, "nothing/", NULL, 0, collect, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n, 0);
    tm_s3_close(s3);
}
END_TEST

START_TEST(multipart_upload)
{
    tm_s3srv_bucket(tm_s3srv_shared(), "multi");
    tm_s3_config cfg;
    tm_s3srv_config(tm_s3srv_shared(), "multi", &cfg);
    cfg.multipart_bytes = 6u * 1024 * 1024;
    cfg.part_bytes = 5u * 1024 * 1024;
    tm_s3 *s3 = NULL;
    tm_error err = {0};
    ck_assert_msg(tm_s3_open(&cfg, &s3, &err) == 0, "%s", err.msg);
    size_t len = 11u * 1024 * 1024 + 12345; /* three parts, the last short */
    unsigned char *data = pattern(len, 7);
    char path[] = "/tmp/tm-s3-multi-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    ck_assert_msg(tm_s3_put_file(s3, "big.seg", path, NULL, &err) == 0, "%s", err.msg);
    unlink(path);
    tm_buf got = {0};
    tm_s3_object info;
    ck_assert_msg(tm_s3_get(s3, "big.seg", 0, 0, &got, &info, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(got.len, len);
    ck_assert(memcmp(got.p, data, len) == 0);
    /* A multipart ETag is "md5-N": it was really sent in parts. */
    ck_assert_msg(strstr(info.etag, "-3"), "etag %s", info.etag);
    char sha[65];
    tm_sha256_hex(data, len, sha);
    ck_assert_str_eq(info.sha256, sha);
    tm_buf_free(&got);
    free(data);
    tm_s3_close(s3);
}
END_TEST

START_TEST(credentials_refused)
{
    tm_s3srv_bucket(tm_s3srv_shared(), "creds");
    tm_s3_config cfg;
    tm_s3srv_config(tm_s3srv_shared(), "creds", &cfg);
    snprintf(cfg.secret_key, sizeof cfg.secret_key, "wrong");
    tm_s3 *s3 = NULL;
    tm_error err = {0};
    ck_assert_msg(tm_s3_open(&cfg, &s3, &err) == 0, "%s", err.msg);
    long long t0 = tm_now_ms();
    ck_assert_int_eq(tm_s3_put(s3, "x", "x", 1, NULL, &err), -1);
    /* Not retried: a refusal does not go away by waiting. */
    ck_assert_int_lt(tm_now_ms() - t0, 2000);
    ck_assert_msg(strstr(err.msg, "403") && strstr(err.msg, "SignatureDoesNotMatch") &&
                      strstr(err.msg, "credentials"),
                  "%s", err.msg);
    ck_assert(!strstr(err.msg, "wrong"));
    tm_s3_close(s3);
    snprintf(cfg.access_key, sizeof cfg.access_key, "nobody:none");
    ck_assert_msg(tm_s3_open(&cfg, &s3, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(tm_s3_put(s3, "x", "x", 1, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "403"), "%s", err.msg);
    tm_s3_close(s3);
}
END_TEST

START_TEST(outage_and_back)
{
    tm_s3srv *srv = tm_s3srv_shared();
    tm_s3srv_bucket(srv, "outage");
    tm_s3 *s3 = client("outage", NULL);
    tm_error err = {0};
    tm_s3srv_stop_proxy(srv);
    ck_assert_int_eq(tm_s3_put(s3, "k", "v", 1, NULL, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_IO));
    ck_assert_msg(strstr(err.msg, "after 3 attempts") && strstr(err.msg, "s3://outage/k"), "%s",
                  err.msg);
    tm_s3srv_start_proxy(srv);
    ck_assert_msg(tm_s3_put(s3, "k", "v", 1, NULL, &err) == 0, "%s", err.msg);
    tm_s3_close(s3);
}
END_TEST

/* The first file under dir whose name ends with suffix, into out. */
static int find_file(const char *dir, const char *suffix, char *out, size_t len)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n = strlen(e->d_name), m = strlen(suffix);
        if (e->d_type == DT_DIR)
            found = find_file(path, suffix, out, len);
        else if (n >= m && strcmp(e->d_name + n - m, suffix) == 0) {
            snprintf(out, len, "%s", path);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

START_TEST(damaged_object_detected)
{
    tm_s3srv *srv = tm_s3srv_shared();
    tm_s3srv_bucket(srv, "damage");
    tm_s3 *s3 = client("damage", NULL);
    tm_error err = {0};
    size_t len = 5000;
    unsigned char *data = pattern(len, 3);
    ck_assert_msg(tm_s3_put(s3, "seg", data, len, NULL, &err) == 0, "%s", err.msg);
    /* Flip one byte of the stored object behind the server's back. */
    char objects[512], path[1024];
    snprintf(objects, sizeof objects, "%s/srv/d1/objects", srv->dir);
    ck_assert(find_file(objects, ".data", path, sizeof path));
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char b;
    ck_assert_int_eq(pread(fd, &b, 1, 100), 1);
    b ^= 0x20;
    ck_assert_int_eq(pwrite(fd, &b, 1, 100), 1);
    close(fd);
    tm_buf got = {0};
    ck_assert_int_eq(tm_s3_get(s3, "seg", 0, 0, &got, NULL, &err), -1);
    ck_assert_msg(tm_error_is(&err, TM_ERR_CORRUPT), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "s3://damage/seg"), "%s", err.msg);
    ck_assert_uint_eq(got.len, 0);
    tm_buf_free(&got);
    free(data);
    tm_s3_close(s3);
}
END_TEST

START_TEST(config_from_environment)
{
    /* Runs in its own forked child: the environment changes stay here. */
    char dir[] = "/tmp/tm-s3-cred-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char file[256];
    snprintf(file, sizeof file, "%s/credentials", dir);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[default]\naws_access_key_id = dk\naws_secret_access_key = ds\n\n"
          "[profile archive]\n aws_access_key_id=test:tester \naws_secret_access_key=testing\n",
          f);
    fclose(f);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_ENDPOINT_URL");
    setenv("TIDEMARK_S3_ENDPOINT", tm_s3srv_shared()->endpoint, 1);
    setenv("TIDEMARK_S3_CREDENTIALS_FILE", file, 1);
    setenv("AWS_PROFILE", "archive", 1);
    tm_s3_config cfg;
    tm_error err = {0};
    ck_assert_msg(tm_s3_config_from_env(&cfg, "envb", &err) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.access_key, "test:tester");
    ck_assert_str_eq(cfg.secret_key, "testing");
    ck_assert(cfg.path_style);
    ck_assert_str_eq(cfg.region, "us-east-1");
    tm_s3 *s3 = NULL;
    ck_assert_msg(tm_s3_open(&cfg, &s3, &err) == 0, "%s", err.msg);
    ck_assert_msg(tm_s3_create_bucket(s3, &err) == 0, "%s", err.msg);
    ck_assert_msg(tm_s3_create_bucket(s3, &err) == 0, "again: %s", err.msg);
    tm_s3_close(s3);

    unsetenv("AWS_PROFILE");
    ck_assert_msg(tm_s3_config_from_env(&cfg, "envb", &err) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.access_key, "dk");
    setenv("AWS_PROFILE", "missing", 1);
    ck_assert_int_eq(tm_s3_config_from_env(&cfg, "envb", &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_USAGE));
    ck_assert_msg(strstr(err.msg, "missing") && strstr(err.msg, file), "%s", err.msg);
    /* The environment wins over the file. */
    setenv("AWS_ACCESS_KEY_ID", "ek", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "es", 1);
    ck_assert_msg(tm_s3_config_from_env(&cfg, "envb", &err) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.access_key, "ek");
    setenv("TIDEMARK_S3_ENDPOINT", "ftp://x", 1);
    ck_assert_int_eq(tm_s3_config_from_env(&cfg, "envb", &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_USAGE));
    unsetenv("TIDEMARK_S3_ENDPOINT");
    ck_assert_msg(tm_s3_config_from_env(&cfg, "envb", &err) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.endpoint, "https://s3.us-east-1.amazonaws.com");
    ck_assert(!cfg.path_style);
    tm_rmtree(dir);
}
END_TEST

START_TEST(parse_urls)
{
    char b[64], p[128];
    tm_error err = {0};
    ck_assert_int_eq(tm_s3_parse_url("s3://bkt/a/b", b, sizeof b, p, sizeof p, &err), 0);
    ck_assert_str_eq(b, "bkt");
    ck_assert_str_eq(p, "a/b/");
    ck_assert_int_eq(tm_s3_parse_url("s3://bkt", b, sizeof b, p, sizeof p, &err), 0);
    ck_assert_str_eq(p, "");
    ck_assert_int_eq(tm_s3_parse_url("s3://bkt/", b, sizeof b, p, sizeof p, &err), 0);
    ck_assert_str_eq(p, "");
    ck_assert_int_eq(tm_s3_parse_url("s3:///x", b, sizeof b, p, sizeof p, &err), -1);
    ck_assert(tm_error_is(&err, TM_ERR_USAGE));
    ck_assert_int_eq(tm_s3_parse_url("s3://Bad_Name/x", b, sizeof b, p, sizeof p, &err), -1);
    ck_assert_int_eq(tm_s3_parse_url("/var/lib/x", b, sizeof b, p, sizeof p, &err), -1);
}
END_TEST

int main(void)
{
    return tm_s3srv_check_main("s3", "s3", 120,
                               TM_TESTS(parse_urls, put_get_head_delete, list_pages_and_prefixes,
                                        multipart_upload, credentials_refused, outage_and_back,
                                        damaged_object_detected, config_from_environment));
}
