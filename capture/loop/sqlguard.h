/* A deadline for a blocking query on the catalog session while streaming.
 *
 * A frozen network (packets dropped, no reset) leaves a blocking libpq call
 * waiting forever: TCP keepalives and the server's keepalives only reach
 * the replication session's own receive timeout. Capture's periodic
 * queries on the catalog session (the table set, the slot's retained WAL)
 * therefore run under a deadline: when it passes, the session's socket is
 * shut down, the call fails as a lost connection, and capture reconnects
 * as for any other cut. */
#ifndef TM_SQLGUARD_H
#define TM_SQLGUARD_H

#include <stdbool.h>

#include <libpq-fe.h>

/* Arms the deadline for conn, seconds from now (one at a time). */
void tm_sqlguard_arm(PGconn *conn, unsigned seconds);

/* Disarms it. Returns whether the deadline had passed (the session is
 * then unusable). */
bool tm_sqlguard_disarm(void);

#endif
