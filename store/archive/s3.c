/* The S3 client: requests through libcurl, signed by its SigV4 code, XML
 * through libxml2. See s3.h.
 *
 * Two gaps of libcurl 7.88's SigV4 are filled here: it does not send
 * x-amz-content-sha256 (we add it, and curl then signs it), and it signs
 * the query string as written (we always write it sorted and
 * percent-encoded, valueless parameters with '='). */
#include "store/archive/s3.h"

#include "store/common/hex.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIN_PART (5u * 1024 * 1024)

struct tm_s3 {
    tm_s3_config cfg;
    CURL *curl;
    char userpwd_user[256];
};

/* A request and what came back. */
typedef struct req {
    const char *method;
    const char *key;   /* NULL: the bucket itself */
    const char *query; /* sorted, encoded, or NULL */
    const void *body;
    size_t body_len;
    const char *const *meta;
    const char *content_sha256; /* NULL: computed from body */
    uint64_t range_off, range_len;
    bool range;
    /* out */
    long status;
    tm_buf *out; /* response body (may be NULL: discarded, errors still read) */
    tm_buf errbody;
    tm_s3_object *info;
    CURL *curl;
} req;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
}

void tm_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n && i < 32; i++) {
        out[2 * i] = tm_hex_digit(md[i] >> 4);
        out[2 * i + 1] = tm_hex_digit(md[i]);
    }
    out[64] = '\0';
}

/* ---- configuration ------------------------------------------------------ */

bool tm_s3_is_url(const char *s)
{
    return s && strncmp(s, "s3://", 5) == 0;
}

int tm_s3_parse_url(const char *url, char *bucket, size_t bucket_len, char *prefix,
                    size_t prefix_len, tm_error *err)
{
    if (!tm_s3_is_url(url)) {
        tm_error_setc(err, TM_ERR_USAGE, "'%s' is not an s3://BUCKET/PREFIX address", url);
        return -1;
    }
    const char *b = url + 5;
    size_t blen = strcspn(b, "/");
    if (blen == 0 || blen >= bucket_len) {
        tm_error_setc(err, TM_ERR_USAGE, "'%s': the bucket name is missing or too long", url);
        return -1;
    }
    for (size_t i = 0; i < blen; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
            tm_error_setc(err, TM_ERR_USAGE,
                          "'%s': a bucket name has lower-case letters, digits, '-' and '.' only",
                          url);
            return -1;
        }
    }
    memcpy(bucket, b, blen);
    bucket[blen] = '\0';
    const char *p = b + blen;
    while (*p == '/')
        p++;
    size_t plen = strlen(p);
    if (plen + 2 > prefix_len) {
        tm_error_setc(err, TM_ERR_USAGE, "'%s': the prefix is too long", url);
        return -1;
    }
    memcpy(prefix, p, plen + 1);
    if (plen > 0 && prefix[plen - 1] != '/') {
        prefix[plen] = '/';
        prefix[plen + 1] = '\0';
    }
    return 0;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int copy_setting(char *dst, size_t len, const char *v, const char *what, tm_error *err)
{
    if (strlen(v) >= len) {
        tm_error_setc(err, TM_ERR_USAGE, "%s is too long", what);
        return -1;
    }
    snprintf(dst, len, "%s", v);
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* The profile's keys from an AWS-style credentials file. Returns 1 when
 * found, 0 when the file or profile is not there, -1 on error. */
static int read_credentials_file(tm_s3_config *cfg, const char *path, const char *profile,
                                 tm_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        tm_error_errno(err, "cannot read the S3 credentials file %s", path);
        return -1;
    }
    char line[4096];
    bool in = false, found = false;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        char *s = trim(line);
        if (*s == '#' || *s == ';' || *s == '\0')
            continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (e)
                *e = '\0';
            char *name = trim(s + 1);
            if (strncmp(name, "profile ", 8) == 0)
                name = trim(name + 8);
            in = strcmp(name, profile) == 0;
            found |= in;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in || !eq)
            continue;
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        if (strcmp(k, "aws_access_key_id") == 0)
            rc = copy_setting(cfg->access_key, sizeof cfg->access_key, v, "aws_access_key_id", err);
        else if (strcmp(k, "aws_secret_access_key") == 0)
            rc = copy_setting(cfg->secret_key, sizeof cfg->secret_key, v, "aws_secret_access_key",
                              err);
        else if (strcmp(k, "aws_session_token") == 0)
            rc = copy_setting(cfg->session_token, sizeof cfg->session_token, v, "aws_session_token",
                              err);
        if (rc < 0)
            break;
    }
    fclose(f);
    if (rc < 0)
        return -1;
    return found && cfg->access_key[0] && cfg->secret_key[0];
}

int tm_s3_config_from_env(tm_s3_config *cfg, const char *bucket, tm_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    if (copy_setting(cfg->bucket, sizeof cfg->bucket, bucket, "the bucket name", err) < 0)
        return -1;
    const char *region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
    if (copy_setting(cfg->region, sizeof cfg->region, region ? region : "us-east-1", "AWS_REGION",
                     err) < 0)
        return -1;
    const char *ep =
        env("TIDEMARK_S3_ENDPOINT") ? env("TIDEMARK_S3_ENDPOINT") : env("AWS_ENDPOINT_URL");
    if (ep) {
        if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
            tm_error_setc(err, TM_ERR_USAGE,
                          "the S3 endpoint '%s' must start with http:// or https://", ep);
            return -1;
        }
        if (copy_setting(cfg->endpoint, sizeof cfg->endpoint, ep, "the S3 endpoint", err) < 0)
            return -1;
        size_t n = strlen(cfg->endpoint);
        while (n > 0 && cfg->endpoint[n - 1] == '/')
            cfg->endpoint[--n] = '\0';
        cfg->path_style = true;
    } else {
        snprintf(cfg->endpoint, sizeof cfg->endpoint, "https://s3.%s.amazonaws.com", cfg->region);
    }
    const char *ps = env("TIDEMARK_S3_PATH_STYLE");
    if (ps) {
        if (strcmp(ps, "1") != 0 && strcmp(ps, "0") != 0) {
            tm_error_setc(err, TM_ERR_USAGE, "TIDEMARK_S3_PATH_STYLE must be 0 or 1, not '%s'", ps);
            return -1;
        }
        cfg->path_style = ps[0] == '1';
    }
    if (env("TIDEMARK_S3_CA_FILE") &&
        copy_setting(cfg->ca_file, sizeof cfg->ca_file, env("TIDEMARK_S3_CA_FILE"),
                     "TIDEMARK_S3_CA_FILE", err) < 0)
        return -1;
    if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
        if (copy_setting(cfg->access_key, sizeof cfg->access_key, env("AWS_ACCESS_KEY_ID"),
                         "AWS_ACCESS_KEY_ID", err) < 0 ||
            copy_setting(cfg->secret_key, sizeof cfg->secret_key, env("AWS_SECRET_ACCESS_KEY"),
                         "AWS_SECRET_ACCESS_KEY", err) < 0)
            return -1;
        if (env("AWS_SESSION_TOKEN") &&
            copy_setting(cfg->session_token, sizeof cfg->session_token, env("AWS_SESSION_TOKEN"),
                         "AWS_SESSION_TOKEN", err) < 0)
            return -1;
        return 0;
    }
    char path[1024];
    const char *file = env("TIDEMARK_S3_CREDENTIALS_FILE") ? env("TIDEMARK_S3_CREDENTIALS_FILE")
                                                           : env("AWS_SHARED_CREDENTIALS_FILE");
    if (!file && env("HOME")) {
        snprintf(path, sizeof path, "%s/.aws/credentials", env("HOME"));
        file = path;
    }
    const char *profile = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
    int found = file ? read_credentials_file(cfg, file, profile, err) : 0;
    if (found < 0)
        return -1;
    if (found == 0) {
        tm_error_setc(err, TM_ERR_USAGE,
                      "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                      "put profile '%s' in %s (TIDEMARK_S3_CREDENTIALS_FILE names another file)",
                      profile, file ? file : "~/.aws/credentials");
        return -1;
    }
    return 0;
}

/* ---- requests ----------------------------------------------------------- */

int tm_s3_open(const tm_s3_config *cfg, tm_s3 **out, tm_error *err)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        tm_error_set(err, "libcurl failed to initialise: %s", curl_easy_strerror(global_rc));
        return -1;
    }
    tm_s3 *s = calloc(1, sizeof *s);
    if (!s) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    s->cfg = *cfg;
    if (!s->cfg.max_attempts)
        s->cfg.max_attempts = 6;
    if (!s->cfg.backoff_ms)
        s->cfg.backoff_ms = 200;
    if (!s->cfg.timeout_ms)
        s->cfg.timeout_ms = 120000;
    if (!s->cfg.connect_timeout_ms)
        s->cfg.connect_timeout_ms = 5000;
    if (!s->cfg.multipart_bytes)
        s->cfg.multipart_bytes = 16u * 1024 * 1024;
    if (!s->cfg.part_bytes)
        s->cfg.part_bytes = 8u * 1024 * 1024;
    if (s->cfg.part_bytes < MIN_PART)
        s->cfg.part_bytes = MIN_PART;
    s->curl = curl_easy_init();
    if (!s->curl) {
        free(s);
        tm_error_set(err, "libcurl could not make a handle");
        return -1;
    }
    *out = s;
    return 0;
}

void tm_s3_close(tm_s3 *s)
{
    if (!s)
        return;
    curl_easy_cleanup(s->curl);
    explicit_bzero(s->cfg.secret_key, sizeof s->cfg.secret_key);
    explicit_bzero(s->cfg.session_token, sizeof s->cfg.session_token);
    free(s);
}

const tm_s3_config *tm_s3_cfg(const tm_s3 *s)
{
    return &s->cfg;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* Percent-encodes s onto b; '/' kept when keep_slash (object keys). */
static int encode(tm_buf *b, const char *s, bool keep_slash, tm_error *err)
{
    size_t n = strlen(s);
    if (tm_buf_reserve(b, 3 * n + 1, err) < 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            b->p[b->len++] = *p;
        } else {
            b->p[b->len++] = '%';
            b->p[b->len++] = (unsigned char)"0123456789ABCDEF"[*p >> 4];
            b->p[b->len++] = (unsigned char)"0123456789ABCDEF"[*p & 15];
        }
    }
    b->p[b->len] = '\0';
    return 0;
}

static int append(tm_buf *b, const char *s, tm_error *err)
{
    size_t n = strlen(s);
    if (tm_buf_reserve(b, n + 1, err) < 0)
        return -1;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
    return 0;
}

static int build_url(const tm_s3 *s, const req *r, tm_buf *url, tm_error *err)
{
    const char *ep = s->cfg.endpoint;
    if (s->cfg.path_style) {
        if (append(url, ep, err) < 0 || append(url, "/", err) < 0 ||
            append(url, s->cfg.bucket, err) < 0)
            return -1;
    } else {
        const char *host = strstr(ep, "://") + 3;
        char scheme[16];
        snprintf(scheme, sizeof scheme, "%.*s", (int)(host - ep), ep);
        if (append(url, scheme, err) < 0 || append(url, s->cfg.bucket, err) < 0 ||
            append(url, ".", err) < 0 || append(url, host, err) < 0)
            return -1;
    }
    if (r->key) {
        if (append(url, "/", err) < 0 || encode(url, r->key, true, err) < 0)
            return -1;
    } else if (!s->cfg.path_style && append(url, "/", err) < 0) {
        return -1;
    }
    if (r->query && (append(url, "?", err) < 0 || append(url, r->query, err) < 0))
        return -1;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    req *r = arg;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    bool ok = status >= 200 && status < 300;
    if (ok && !r->out)
        return len;
    tm_buf *b = ok ? r->out : &r->errbody;
    if (tm_buf_reserve(b, len + 1, NULL) < 0)
        return 0;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

/* The first curl_easy_header value of name, or NULL. */
static const char *header(CURL *c, const char *name)
{
    struct curl_header *h;
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

static void read_info(CURL *c, tm_s3_object *info)
{
    memset(info, 0, sizeof *info);
    const char *v;
    if ((v = header(c, "Content-Length")))
        info->size = strtoull(v, NULL, 10);
    if ((v = header(c, "Content-Range"))) {
        const char *slash = strrchr(v, '/');
        if (slash && slash[1] != '*')
            info->size = strtoull(slash + 1, NULL, 10);
    }
    if ((v = header(c, "ETag")))
        snprintf(info->etag, sizeof info->etag, "%s", v);
    struct curl_header *prev = NULL, *h;
    while ((h = curl_easy_nextheader(c, CURLH_HEADER, -1, prev))) {
        prev = h;
        if (strncasecmp(h->name, "x-amz-meta-", 11) != 0 || info->n_meta >= 8)
            continue;
        char *name = info->meta[info->n_meta][0];
        snprintf(name, 256, "%s", h->name + 11);
        for (char *p = name; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        snprintf(info->meta[info->n_meta][1], 256, "%s", h->value);
        info->n_meta++;
    }
    snprintf(info->sha256, sizeof info->sha256, "%s", tm_s3_object_meta(info, "tm-sha256"));
}

const char *tm_s3_object_meta(const tm_s3_object *o, const char *name)
{
    for (int i = 0; i < o->n_meta; i++)
        if (strcmp(o->meta[i][0], name) == 0)
            return o->meta[i][1];
    return "";
}

/* The text of the first element called name in an XML document, or "". */
static void xml_text(const unsigned char *doc, size_t len, const char *name, char *out,
                     size_t outlen)
{
    out[0] = '\0';
    if (len == 0)
        return;
    xmlDocPtr d = xmlReadMemory((const char *)doc, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d)
        return;
    xmlNodePtr stack[64];
    int top = 0;
    stack[top++] = xmlDocGetRootElement(d);
    while (top > 0) {
        xmlNodePtr n = stack[--top];
        for (; n; n = n->next) {
            if (n->type != XML_ELEMENT_NODE)
                continue;
            if (strcmp((const char *)n->name, name) == 0) {
                xmlChar *t = xmlNodeGetContent(n);
                snprintf(out, outlen, "%s", t ? (const char *)t : "");
                xmlFree(t);
                xmlFreeDoc(d);
                return;
            }
            if (n->children && top < 64)
                stack[top++] = n->children;
        }
    }
    xmlFreeDoc(d);
}

static bool retryable(CURLcode cc, long status)
{
    if (cc != CURLE_OK)
        return cc != CURLE_OUT_OF_MEMORY && cc != CURLE_WRITE_ERROR &&
               cc != CURLE_SSL_CACERT_BADFILE && cc != CURLE_PEER_FAILED_VERIFICATION &&
               cc != CURLE_URL_MALFORMAT && cc != CURLE_UNSUPPORTED_PROTOCOL;
    return status >= 500 || status == 429 || status == 408;
}

static void sleep_backoff(const tm_s3 *s, int attempt)
{
    long ms = s->cfg.backoff_ms << (attempt < 10 ? attempt : 10);
    if (ms > 10000)
        ms = 10000;
    ms = ms / 2 + (long)(random() % (ms / 2 + 1)); /* jitter: [ms/2, ms] */
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static const char *what_of(const req *r)
{
    return r->key ? r->key : "";
}

/* One request with retries. 2xx: 0. Otherwise -1 with err saying what S3
 * answered (404: TM_ERR_NOT_FOUND), r->status set. */
static int perform(tm_s3 *s, req *r, tm_error *err)
{
    tm_buf url = {0};
    struct curl_slist *hdrs = NULL;
    int rc = -1;
    char sha[65], line[1024];
    if (build_url(s, r, &url, err) < 0)
        goto out;
    if (!r->content_sha256) {
        tm_sha256_hex(r->body ? r->body : "", r->body_len, sha);
        r->content_sha256 = sha;
    }
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", r->content_sha256);
    hdrs = curl_slist_append(hdrs, line);
    if (s->cfg.session_token[0]) {
        char tok[2200];
        snprintf(tok, sizeof tok, "x-amz-security-token: %s", s->cfg.session_token);
        hdrs = curl_slist_append(hdrs, tok);
    }
    for (const char *const *m = r->meta; m && m[0]; m += 2) {
        snprintf(line, sizeof line, "x-amz-meta-%s: %s", m[0], m[1]);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (r->range) {
        if (r->range_len)
            snprintf(line, sizeof line, "Range: bytes=%llu-%llu", (unsigned long long)r->range_off,
                     (unsigned long long)(r->range_off + r->range_len - 1));
        else
            snprintf(line, sizeof line, "Range: bytes=%llu-", (unsigned long long)r->range_off);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (r->body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    if (!hdrs) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        goto out;
    }
    char sigv4[128];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", s->cfg.region);
    CURLcode cc = CURLE_OK;
    for (int attempt = 0;; attempt++) {
        CURL *c = s->curl;
        r->curl = c;
        curl_easy_reset(c);
        r->status = 0;
        r->errbody.len = 0;
        size_t out_len0 = r->out ? r->out->len : 0;
        curl_easy_setopt(c, CURLOPT_URL, (const char *)url.p);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
        /* Separately: an access key may hold a colon (Swift's tempauth). */
        curl_easy_setopt(c, CURLOPT_USERNAME, s->cfg.access_key);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->cfg.secret_key);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->cfg.timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->cfg.connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (s->cfg.ca_file[0])
            curl_easy_setopt(c, CURLOPT_CAINFO, s->cfg.ca_file);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        if (strcmp(r->method, "HEAD") == 0) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (strcmp(r->method, "GET") != 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
        }
        cc = curl_easy_perform(c);
        if (cc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        if (cc == CURLE_OK && r->status >= 200 && r->status < 300) {
            if (r->info)
                read_info(c, r->info);
            rc = 0;
            goto out;
        }
        if (r->out)
            r->out->len = out_len0; /* a failed try leaves nothing behind */
        if (!retryable(cc, r->status) || attempt + 1 >= s->cfg.max_attempts)
            break;
        sleep_backoff(s, attempt);
    }
    if (cc != CURLE_OK) {
        tm_error_setc(err, TM_ERR_IO, "S3 %s s3://%s/%s failed after %d attempts: %s", r->method,
                      s->cfg.bucket, what_of(r), s->cfg.max_attempts, curl_easy_strerror(cc));
        goto out;
    }
    char code[128], msg[512];
    xml_text(r->errbody.p, r->errbody.len, "Code", code, sizeof code);
    xml_text(r->errbody.p, r->errbody.len, "Message", msg, sizeof msg);
    tm_errcode ec = r->status == 404   ? TM_ERR_NOT_FOUND
                    : r->status == 403 ? TM_ERR_FAILED
                    : r->status >= 500 ? TM_ERR_IO
                                       : TM_ERR_FAILED;
    tm_error_setc(err, ec, "S3 %s s3://%s/%s: %ld%s%s%s%s%s", r->method, s->cfg.bucket, what_of(r),
                  r->status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg,
                  r->status == 403 ? " (check the S3 credentials and the clock)" : "");
out:
    curl_slist_free_all(hdrs);
    tm_buf_free(&url);
    tm_buf_free(&r->errbody);
    return rc;
}

/* ---- operations --------------------------------------------------------- */

int tm_s3_create_bucket(tm_s3 *s, tm_error *err)
{
    req r = {.method = "PUT"};
    if (perform(s, &r, err) == 0)
        return 0;
    if (r.status == 409) { /* BucketAlreadyOwnedByYou / Exists: owned is fine */
        tm_error_clear(err);
        req h = {.method = "HEAD"};
        return perform(s, &h, err);
    }
    return -1;
}

#define MAX_META (2 * 8 + 1)

/* meta with the whole object's SHA-256 first (at most 8 pairs in all). */
static void with_sha(const char *const *meta, const char *sha, const char **m)
{
    int n = 0;
    m[n++] = "tm-sha256";
    m[n++] = sha;
    for (const char *const *p = meta; p && p[0] && n < MAX_META - 1; p += 2) {
        m[n++] = p[0];
        m[n++] = p[1];
    }
    m[n] = NULL;
}

int tm_s3_put(tm_s3 *s, const char *key, const void *data, size_t len, const char *const *meta,
              tm_error *err)
{
    char sha[65];
    tm_sha256_hex(data, len, sha);
    const char *m[MAX_META];
    with_sha(meta, sha, m);
    req r = {.method = "PUT",
             .key = key,
             .body = data ? data : "",
             .body_len = len,
             .meta = m,
             .content_sha256 = sha};
    return perform(s, &r, err);
}

int tm_s3_head(tm_s3 *s, const char *key, tm_s3_object *info, tm_error *err)
{
    req r = {.method = "HEAD", .key = key, .info = info};
    return perform(s, &r, err);
}

int tm_s3_get(tm_s3 *s, const char *key, uint64_t off, uint64_t len, tm_buf *out,
              tm_s3_object *info, tm_error *err)
{
    tm_s3_object local = {0};
    req r = {.method = "GET",
             .key = key,
             .out = out,
             .info = info ? info : &local,
             .range = off > 0 || len > 0,
             .range_off = off,
             .range_len = len};
    size_t start = out->len;
    if (perform(s, &r, err) < 0)
        return -1;
    if (!r.range && r.info->sha256[0]) {
        char got[65];
        tm_sha256_hex(out->p + start, out->len - start, got);
        if (strcmp(got, r.info->sha256) != 0) {
            tm_error_setc(err, TM_ERR_CORRUPT,
                          "object s3://%s/%s is damaged: its SHA-256 is %s, not %s as written",
                          s->cfg.bucket, key, got, r.info->sha256);
            out->len = start;
            return -1;
        }
    }
    return 0;
}

int tm_s3_delete(tm_s3 *s, const char *key, tm_error *err)
{
    req r = {.method = "DELETE", .key = key};
    return perform(s, &r, err);
}

/* ---- listing ------------------------------------------------------------ */

static uint64_t child_u64(xmlNodePtr n, const char *name, char *text, size_t len)
{
    text[0] = '\0';
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) {
            xmlChar *t = xmlNodeGetContent(c);
            snprintf(text, len, "%s", t ? (const char *)t : "");
            xmlFree(t);
            return strtoull(text, NULL, 10);
        }
    }
    return 0;
}

/* Calls fn for each Contents / CommonPrefixes of one page; says whether
 * more follow and with which token. */
static int list_page(const tm_s3 *s, const tm_buf *body, tm_s3_list_fn fn, void *arg,
                     bool *truncated, char *token, size_t token_len, tm_error *err)
{
    xmlDocPtr d = xmlReadMemory((const char *)body->p, (int)body->len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d) {
        tm_error_setc(err, TM_ERR_FORMAT, "S3 listing of s3://%s is not XML", s->cfg.bucket);
        return -1;
    }
    int rc = 0;
    *truncated = false;
    token[0] = '\0';
    xmlNodePtr root = xmlDocGetRootElement(d);
    for (xmlNodePtr n = root ? root->children : NULL; n && rc == 0; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)n->name;
        char key[1100], etag[128], num[64];
        if (strcmp(name, "Contents") == 0 || strcmp(name, "CommonPrefixes") == 0) {
            bool is_prefix = name[0] == 'C' && name[1] == 'o' && name[2] == 'm';
            child_u64(n, is_prefix ? "Prefix" : "Key", key, sizeof key);
            child_u64(n, "ETag", etag, sizeof etag);
            tm_s3_entry e = {.key = key,
                             .size = is_prefix ? 0 : child_u64(n, "Size", num, sizeof num),
                             .etag = etag,
                             .is_prefix = is_prefix};
            rc = fn(&e, arg, err);
        } else if (strcmp(name, "IsTruncated") == 0) {
            xmlChar *t = xmlNodeGetContent(n);
            *truncated = t && strcmp((const char *)t, "true") == 0;
            xmlFree(t);
        } else if (strcmp(name, "NextContinuationToken") == 0) {
            xmlChar *t = xmlNodeGetContent(n);
            snprintf(token, token_len, "%s", t ? (const char *)t : "");
            xmlFree(t);
        }
    }
    xmlFreeDoc(d);
    if (rc == 0 && *truncated && !token[0]) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "S3 listing of s3://%s is truncated without a continuation token",
                      s->cfg.bucket);
        rc = -1;
    }
    return rc;
}

int tm_s3_list(tm_s3 *s, const char *prefix, const char *delimiter, int page_size, tm_s3_list_fn fn,
               void *arg, tm_error *err)
{
    char token[2048] = "", num[32];
    snprintf(num, sizeof num, "%d", page_size > 0 ? page_size : 1000);
    int rc = 0;
    for (;;) {
        /* Sorted by name, as curl signs the query as written. */
        tm_buf q = {0}, body = {0};
        int qrc = 0;
        if (token[0])
            qrc |= append(&q, "continuation-token=", err) | encode(&q, token, false, err) |
                   append(&q, "&", err);
        if (delimiter)
            qrc |= append(&q, "delimiter=", err) | encode(&q, delimiter, false, err) |
                   append(&q, "&", err);
        qrc |= append(&q, "list-type=2&max-keys=", err) | append(&q, num, err) |
               append(&q, "&prefix=", err) | encode(&q, prefix ? prefix : "", false, err);
        bool truncated = false;
        if (qrc == 0) {
            req r = {.method = "GET", .query = (const char *)q.p, .out = &body};
            rc = perform(s, &r, err);
            if (rc == 0)
                rc = list_page(s, &body, fn, arg, &truncated, token, sizeof token, err);
        } else {
            rc = -1;
        }
        tm_buf_free(&q);
        tm_buf_free(&body);
        if (rc < 0 || !truncated)
            return rc;
    }
}

/* ---- multipart ---------------------------------------------------------- */

static int read_part(int fd, const char *path, tm_buf *b, size_t len, uint64_t off, tm_error *err)
{
    b->len = 0;
    if (tm_buf_reserve(b, len, err) < 0)
        return -1;
    ssize_t n = tm_pread_full(fd, b->p, len, off, path, err);
    if (n < 0)
        return -1;
    if ((size_t)n != len) {
        tm_error_setc(err, TM_ERR_IO, "%s changed while it was uploaded (shorter than %llu bytes)",
                      path, (unsigned long long)(off + len));
        return -1;
    }
    b->len = len;
    return 0;
}

static int file_sha256(int fd, const char *path, uint64_t size, char out[65], tm_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ? 0 : -1;
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t want = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
        ssize_t got = tm_pread_full(fd, buf, want, off, path, err);
        if (got <= 0) {
            if (got == 0)
                tm_error_setc(err, TM_ERR_IO, "%s shrank while it was read", path);
            rc = -1;
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)got);
        off += (uint64_t)got;
    }
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &n) == 1) {
        for (unsigned i = 0; i < 32; i++) {
            out[2 * i] = tm_hex_digit(md[i] >> 4);
            out[2 * i + 1] = tm_hex_digit(md[i]);
        }
        out[64] = '\0';
    } else if (rc == 0) {
        tm_error_set(err, "SHA-256 of %s failed", path);
        rc = -1;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

static int multipart(tm_s3 *s, const char *key, int fd, const char *path, uint64_t size,
                     const char *const *meta, tm_error *err)
{
    tm_buf body = {0}, part = {0}, done = {0}, q = {0};
    char upload_id[512];
    int rc = -1;
    req init = {.method = "POST", .key = key, .query = "uploads=", .meta = meta, .out = &body};
    if (perform(s, &init, err) < 0)
        goto out;
    xml_text(body.p, body.len, "UploadId", upload_id, sizeof upload_id);
    if (!upload_id[0]) {
        tm_error_setc(err, TM_ERR_FORMAT, "S3 gave no UploadId for s3://%s/%s", s->cfg.bucket, key);
        goto out;
    }
    if (append(&done, "<CompleteMultipartUpload>", err) < 0)
        goto abort;
    int partno = 1;
    for (uint64_t off = 0; off < size; off += s->cfg.part_bytes, partno++) {
        size_t len = (size_t)(size - off < s->cfg.part_bytes ? size - off : s->cfg.part_bytes);
        if (read_part(fd, path, &part, len, off, err) < 0)
            goto abort;
        char num[32];
        snprintf(num, sizeof num, "partNumber=%d&uploadId=", partno);
        q.len = 0;
        if (append(&q, num, err) < 0 || encode(&q, upload_id, false, err) < 0)
            goto abort;
        tm_s3_object info;
        req pr = {.method = "PUT",
                  .key = key,
                  .query = (const char *)q.p,
                  .body = part.p,
                  .body_len = part.len,
                  .info = &info};
        if (perform(s, &pr, err) < 0)
            goto abort;
        char xml[256];
        snprintf(xml, sizeof xml, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", partno,
                 info.etag);
        if (append(&done, xml, err) < 0)
            goto abort;
    }
    if (append(&done, "</CompleteMultipartUpload>", err) < 0)
        goto abort;
    q.len = 0;
    if (append(&q, "uploadId=", err) < 0 || encode(&q, upload_id, false, err) < 0)
        goto abort;
    body.len = 0;
    req fin = {.method = "POST",
               .key = key,
               .query = (const char *)q.p,
               .body = done.p,
               .body_len = done.len,
               .out = &body};
    if (perform(s, &fin, err) < 0)
        goto abort;
    /* CompleteMultipartUpload can fail with 200 and an <Error> body. */
    char code[128];
    xml_text(body.p, body.len, "Code", code, sizeof code);
    if (code[0]) {
        tm_error_setc(err, TM_ERR_IO, "S3 could not complete the upload of s3://%s/%s: %s",
                      s->cfg.bucket, key, code);
        goto abort;
    }
    rc = 0;
    goto out;
abort : {
    tm_error ignored = {0};
    q.len = 0;
    if (append(&q, "uploadId=", &ignored) == 0 && encode(&q, upload_id, false, &ignored) == 0) {
        req ab = {.method = "DELETE", .key = key, .query = (const char *)q.p};
        perform(s, &ab, &ignored);
    }
}
out:
    tm_buf_free(&body);
    tm_buf_free(&part);
    tm_buf_free(&done);
    tm_buf_free(&q);
    return rc;
}

int tm_s3_put_file(tm_s3 *s, const char *key, const char *path, const char *const *meta,
                   tm_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tm_error_errno(err, "cannot open %s", path);
        return -1;
    }
    int rc = -1;
    tm_buf data = {0};
    struct stat st;
    if (fstat(fd, &st) < 0) {
        tm_error_errno(err, "cannot stat %s", path);
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size <= s->cfg.multipart_bytes) {
        if (read_part(fd, path, &data, (size_t)size, 0, err) == 0)
            rc = tm_s3_put(s, key, data.p, data.len, meta, err);
        goto out;
    }
    char sha[65];
    if (file_sha256(fd, path, size, sha, err) < 0)
        goto out;
    const char *m[MAX_META];
    with_sha(meta, sha, m);
    rc = multipart(s, key, fd, path, size, m, err);
out:
    tm_buf_free(&data);
    close(fd);
    return rc;
}
