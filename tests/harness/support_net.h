/* Loopback networking for tests: a free port, and a plain HTTP GET (the
 * metrics endpoint's scrape). */
#ifndef TM_SUPPORT_NET_H
#define TM_SUPPORT_NET_H

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int tm_free_port(void);

/* GET path over HTTP/1.0 from 127.0.0.1:port: the whole response (headers
 * and body), malloc'd; fails the test when it cannot connect. */
char *tm_http_get(int port, const char *path);

#endif
