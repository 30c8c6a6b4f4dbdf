/* A deadline for blocking catalog queries while streaming: SIGALRM shuts
 * the socket down (shutdown is async-signal-safe), libpq's wait returns,
 * and the call fails as a lost connection. */
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture/loop/sqlguard.h"

static volatile sig_atomic_t guarded_fd = -1;
static volatile sig_atomic_t fired;

static void on_alarm(int sig)
{
    (void)sig;
    int fd = guarded_fd;
    if (fd >= 0) {
        shutdown(fd, SHUT_RDWR);
        fired = 1;
    }
}

void tm_sqlguard_arm(PGconn *conn, unsigned seconds)
{
    static bool installed;
    if (!installed) {
        struct sigaction sa = {.sa_handler = on_alarm};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        installed = true;
    }
    fired = 0;
    guarded_fd = PQsocket(conn);
    alarm(seconds ? seconds : 1);
}

bool tm_sqlguard_disarm(void)
{
    alarm(0);
    guarded_fd = -1;
    return fired != 0;
}
