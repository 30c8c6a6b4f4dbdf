/* A small S3 client over libcurl (CURLOPT_AWS_SIGV4 signs, TLS is
 * verified) with libxml2 for the XML bodies: what the archive needs and no
 * more. Every object is written with its SHA-256 as x-amz-content-sha256
 * (the server refuses a body that does not match it) and as the metadata
 * x-amz-meta-tm-sha256 (a reader checks what it got against it).
 *
 * Failures are retried with exponential backoff and jitter (connection
 * errors, timeouts, 5xx, 429); anything else (403 refused credentials,
 * 404) fails at once. Errors name the bucket and key and say what S3
 * answered ("403 SignatureDoesNotMatch: ...").
 *
 * Configuration (tm_s3_config_from_env) comes from the environment and a
 * credentials file, never from the command line:
 *   TIDEMARK_S3_ENDPOINT or AWS_ENDPOINT_URL   http(s)://host[:port]; default
 *                                              https://s3.REGION.amazonaws.com
 *   AWS_REGION or AWS_DEFAULT_REGION           default us-east-1
 *   TIDEMARK_S3_PATH_STYLE                     1: https://host/BUCKET/KEY (the default
 *                                              with an endpoint), 0: https://BUCKET.host/KEY
 *   TIDEMARK_S3_CA_FILE                        CA bundle to verify the server with
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   else the credentials file: TIDEMARK_S3_CREDENTIALS_FILE,
 *     AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, section AWS_PROFILE
 *     (default "default"), keys aws_access_key_id, aws_secret_access_key,
 *     aws_session_token. */
#ifndef TM_S3_H
#define TM_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/fsutil.h"
#include "store/common/tm_error.h"

typedef struct tm_s3_config {
    char endpoint[512]; /* scheme://host[:port], no trailing slash */
    char region[64];
    char bucket[256];
    char access_key[256];
    char secret_key[256];
    char session_token[2048];
    char ca_file[512];
    bool path_style;
    int max_attempts;         /* tries per request; 0 = 6 */
    long backoff_ms;          /* first retry after about this; 0 = 200 */
    long timeout_ms;          /* whole request; 0 = 120000 */
    long connect_timeout_ms;  /* 0 = 5000 */
    uint64_t multipart_bytes; /* tm_s3_put_file uses multipart above this; 0 = 16 MiB */
    uint64_t part_bytes;      /* size of a part (>= 5 MiB); 0 = 8 MiB */
} tm_s3_config;

/* Splits "s3://BUCKET/PREFIX" into bucket and prefix (prefix without
 * leading slashes; "" when none; a non-empty prefix gets a trailing '/').
 * TM_ERR_USAGE when url is not of that form. */
int tm_s3_parse_url(const char *url, char *bucket, size_t bucket_len, char *prefix,
                    size_t prefix_len, tm_error *err);
bool tm_s3_is_url(const char *s);

/* Fills cfg from the environment and the credentials file (above) for
 * bucket. TM_ERR_USAGE when no credentials are found or a setting is
 * malformed. */
int tm_s3_config_from_env(tm_s3_config *cfg, const char *bucket, tm_error *err);

typedef struct tm_s3 tm_s3;

int tm_s3_open(const tm_s3_config *cfg, tm_s3 **out, tm_error *err);
void tm_s3_close(tm_s3 *s);
const tm_s3_config *tm_s3_cfg(const tm_s3 *s);

/* Creates the bucket; one that exists and is ours already is fine. */
int tm_s3_create_bucket(tm_s3 *s, tm_error *err);

/* Writes an object. meta (may be NULL): NULL-terminated "name", "value"
 * pairs sent as x-amz-meta-NAME (lower case names). */
int tm_s3_put(tm_s3 *s, const char *key, const void *data, size_t len, const char *const *meta,
              tm_error *err);

/* Writes the file at path as an object, in parts above multipart_bytes
 * (each part checksummed; an unfinished upload is aborted). The SHA-256 of
 * the whole file is sent as x-amz-meta-tm-sha256 either way. */
int tm_s3_put_file(tm_s3 *s, const char *key, const char *path, const char *const *meta,
                   tm_error *err);

/* What HEAD says of an object. */
typedef struct tm_s3_object {
    uint64_t size;
    char etag[128];
    char sha256[65];      /* x-amz-meta-tm-sha256, "" when absent */
    char meta[8][2][256]; /* the first x-amz-meta-* headers (name without prefix, value) */
    int n_meta;
} tm_s3_object;

/* HEAD: 0 with *info, TM_ERR_NOT_FOUND when there is no such object. */
int tm_s3_head(tm_s3 *s, const char *key, tm_s3_object *info, tm_error *err);
/* The value of the object's metadata name ("" when absent). */
const char *tm_s3_object_meta(const tm_s3_object *o, const char *name);

/* GET: appends the object's bytes [off, off+len) to out (len 0: to its
 * end). A whole-object GET is checked against x-amz-meta-tm-sha256 when the
 * object has one (TM_ERR_CORRUPT naming the object when it differs). When
 * info is not NULL it gets the response's metadata. */
int tm_s3_get(tm_s3 *s, const char *key, uint64_t off, uint64_t len, tm_buf *out,
              tm_s3_object *info, tm_error *err);

int tm_s3_delete(tm_s3 *s, const char *key, tm_error *err);

/* One listed object, or (is_prefix) a common prefix under the delimiter. */
typedef struct tm_s3_entry {
    const char *key;
    uint64_t size;
    const char *etag;
    bool is_prefix;
} tm_s3_entry;

/* Calls fn for every key under prefix in key order (ListObjectsV2, page by
 * page; page_size 0 = 1000). With delimiter (may be NULL), keys below the
 * next delimiter come once as a common prefix. fn returns 0 to go on, or
 * -1 with err set to stop (the error is returned). */
typedef int (*tm_s3_list_fn)(const tm_s3_entry *e, void *arg, tm_error *err);
int tm_s3_list(tm_s3 *s, const char *prefix, const char *delimiter, int page_size, tm_s3_list_fn fn,
               void *arg, tm_error *err);

/* SHA-256 as 64 lower-case hex digits. */
void tm_sha256_hex(const void *data, size_t len, char out[65]);

#endif
