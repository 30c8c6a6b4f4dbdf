/* capture --metrics-listen: libmicrohttpd serves /metrics from its own
 * thread; rendering reads only atomics (stats.h), so a slow or stuck
 * scraper never holds up the stream. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "capture/monitor/metrics.h"

struct tm_metrics_server {
    struct MHD_Daemon *d;
    const tm_capture_stats *st;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, void *body,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **state)
{
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)state;
    const tm_metrics_server *s = cls;
    static char not_found[] = "tidemark serves /metrics only\n";
    static char no_method[] = "GET or HEAD only\n";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", no_method, sizeof no_method - 1,
                     MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", not_found, sizeof not_found - 1,
                     MHD_RESPMEM_PERSISTENT);
    tm_buf b = {0};
    tm_error err;
    if (tm_metrics_render(s->st, &b, &err) != 0) {
        tm_buf_free(&b);
        return MHD_NO;
    }
    /* MUST_FREE: libmicrohttpd frees the body when the response is done. */
    return reply(c, MHD_HTTP_OK, TM_METRICS_CONTENT_TYPE, b.p, b.len, MHD_RESPMEM_MUST_FREE);
}

/* "ADDR:PORT", "[ADDR6]:PORT" or ":PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, tm_error *err)
{
    const char *colon = strrchr(listen, ':');
    char host[256];
    unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;
    size_t hl = colon ? (size_t)(colon - listen) : 0;
    if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) || port == 0 ||
        port > 65535 || hl >= sizeof host) {
        tm_error_setc(err, TM_ERR_USAGE, "--metrics-listen %s: give ADDR:PORT, e.g. 127.0.0.1:9187",
                      listen);
        return -1;
    }
    memcpy(host, listen, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof *ss);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1)
            return 0;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (hl == 0 || inet_pton(AF_INET, host, &a->sin_addr) == 1) {
            if (hl == 0)
                a->sin_addr.s_addr = htonl(INADDR_ANY);
            return 0;
        }
    }
    tm_error_setc(err, TM_ERR_USAGE,
                  "--metrics-listen %s: %s is not an IP address (give ADDR:PORT, e.g. "
                  "127.0.0.1:9187)",
                  listen, host);
    return -1;
}

int tm_metrics_listen_check(const char *listen, tm_error *err)
{
    struct sockaddr_storage ss;
    return parse_listen(listen, &ss, err);
}

int tm_metrics_serve(const char *listen, const tm_capture_stats *st, tm_metrics_server **out,
                     tm_error *err)
{
    *out = NULL;
    struct sockaddr_storage ss;
    if (parse_listen(listen, &ss, err) != 0)
        return -1;
    tm_metrics_server *s = calloc(1, sizeof *s);
    if (!s) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    s->st = st;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                            MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_END);
    if (!s->d) {
        tm_error_set(err,
                     "--metrics-listen %s: cannot listen there (in use, or not an address "
                     "of this host)",
                     listen);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void tm_metrics_stop(tm_metrics_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
