/* A TCP proxy between capture and a throwaway server, for network faults:
 * a child process, one poll loop, listening on a free port of 127.0.0.1
 * and forwarding every connection to the server's port. The test switches
 * its mode at any time (tm_proxy_set returns once it is in effect):
 *
 *   TM_PROXY_PASS    forward
 *   TM_PROXY_FREEZE  accept, read and write nothing, close nothing (a link
 *                    that drops packets without a reset)
 *   TM_PROXY_CUT     close every connection (FIN), then forward again
 *   TM_PROXY_RESET   reset every connection (RST), then forward again
 *   TM_PROXY_DOWN    reset every connection and every new one until PASS
 *   TM_PROXY_SLOW    forward at most 512 bytes per direction every 10 ms
 *
 *   tm_proxy px;
 *   tm_proxy_start(&px, pg->port);   (then host=127.0.0.1 port=px.port)
 *   tm_proxy_set(&px, TM_PROXY_FREEZE);
 *   tm_proxy_stop(&px);
 */
#ifndef TM_SUPPORT_PROXY_H
#define TM_SUPPORT_PROXY_H

#include <sys/types.h>

typedef enum tm_proxy_mode {
    TM_PROXY_PASS = 'p',
    TM_PROXY_FREEZE = 'f',
    TM_PROXY_CUT = 'c',
    TM_PROXY_RESET = 'r',
    TM_PROXY_DOWN = 'd',
    TM_PROXY_SLOW = 's',
} tm_proxy_mode;

typedef struct tm_proxy {
    pid_t pid;
    int port; /* where to connect */
    int ctl;  /* our end of the control socket pair */
} tm_proxy;

/* Starts the proxy to upstream_port on 127.0.0.1, in PASS mode. */
void tm_proxy_start(tm_proxy *px, int upstream_port);
void tm_proxy_set(tm_proxy *px, tm_proxy_mode mode);
void tm_proxy_stop(tm_proxy *px);

#endif
