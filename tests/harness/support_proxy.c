/* The network-fault proxy; see support_proxy.h. */
#include "tests/harness/support_proxy.h"
#include "tests/harness/tm_sys.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROXY_MAX 32
#define SLOW_CHUNK 512
#define SLOW_TICK_US 10000

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Closes fd; with reset, with an RST instead of a FIN. */
static void drop(int fd, bool reset)
{
    if (reset) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(fd);
}

/* Copies up to max readable bytes from one side to the other; false at
 * the end or an error. */
static bool copy(int from, int to, size_t max)
{
    char buf[65536];
    ssize_t n = read(from, buf, max < sizeof buf ? max : sizeof buf);
    if (n <= 0)
        return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

typedef struct pairs {
    int a[PROXY_MAX], b[PROXY_MAX]; /* client side, server side */
    int n;
} pairs;

static void drop_pair(pairs *p, int i, bool reset)
{
    drop(p->a[i], reset);
    drop(p->b[i], reset);
    p->a[i] = p->a[p->n - 1];
    p->b[i] = p->b[p->n - 1];
    p->n--;
}

static void __attribute__((noreturn)) proxy_main(int lfd, int ctl, int upstream)
{
    pairs p = {.n = 0};
    char mode = TM_PROXY_PASS;
    for (;;) {
        struct pollfd fds[2 + 2 * PROXY_MAX];
        bool moving = mode != TM_PROXY_FREEZE;
        fds[0] = (struct pollfd){.fd = ctl, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = moving ? lfd : -1, .events = POLLIN};
        for (int i = 0; i < p.n; i++) {
            fds[2 + 2 * i] = (struct pollfd){.fd = moving ? p.a[i] : -1, .events = POLLIN};
            fds[3 + 2 * i] = (struct pollfd){.fd = moving ? p.b[i] : -1, .events = POLLIN};
        }
        if (poll(fds, (nfds_t)(2 + 2 * p.n), 100) <= 0)
            continue;
        if (fds[0].revents) {
            char cmd;
            if (read(ctl, &cmd, 1) != 1)
                _exit(0);
            bool reset = cmd != TM_PROXY_CUT;
            if (cmd == TM_PROXY_CUT || cmd == TM_PROXY_RESET || cmd == TM_PROXY_DOWN)
                while (p.n > 0)
                    drop_pair(&p, p.n - 1, reset);
            mode = cmd == TM_PROXY_CUT || cmd == TM_PROXY_RESET ? TM_PROXY_PASS : cmd;
            if (write(ctl, "k", 1) != 1)
                _exit(1);
            continue;
        }
        size_t max = mode == TM_PROXY_SLOW ? SLOW_CHUNK : 65536;
        for (int i = p.n - 1; i >= 0; i--) {
            bool ok = true;
            if (fds[2 + 2 * i].revents)
                ok = copy(p.a[i], p.b[i], max);
            if (ok && fds[3 + 2 * i].revents)
                ok = copy(p.b[i], p.a[i], max);
            if (!ok)
                drop_pair(&p, i, false);
        }
        if (fds[1].revents & POLLIN) {
            int c = accept(lfd, NULL, NULL);
            int u = c >= 0 && mode != TM_PROXY_DOWN ? dial(upstream) : -1;
            if (u >= 0 && p.n < PROXY_MAX) {
                p.a[p.n] = c;
                p.b[p.n++] = u;
            } else {
                if (c >= 0)
                    drop(c, true);
                if (u >= 0)
                    close(u);
            }
        }
        if (mode == TM_PROXY_SLOW)
            usleep(SLOW_TICK_US);
    }
}

void tm_proxy_start(tm_proxy *px, int upstream_port)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 16) == 0 &&
              getsockname(lfd, (struct sockaddr *)&a, &len) == 0);
    px->port = ntohs(a.sin_port);
    int sv[2];
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    px->pid = tm_fork_child();
    ck_assert_int_ge(px->pid, 0);
    if (px->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        proxy_main(lfd, sv[1], upstream_port);
    }
    close(sv[1]);
    close(lfd);
    px->ctl = sv[0];
}

void tm_proxy_set(tm_proxy *px, tm_proxy_mode mode)
{
    char cmd = (char)mode, ack;
    struct pollfd p = {.fd = px->ctl, .events = POLLIN};
    ck_assert_msg(write(px->ctl, &cmd, 1) == 1 && poll(&p, 1, 10000) == 1 &&
                      read(px->ctl, &ack, 1) == 1,
                  "the proxy does not answer");
}

void tm_proxy_stop(tm_proxy *px)
{
    kill(px->pid, SIGKILL);
    waitpid(px->pid, NULL, 0);
    close(px->ctl);
}
