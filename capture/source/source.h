/* Connections to the capture source: a plain SQL session (catalog queries,
 * COPY for base snapshots) and a replication session (replication=database).
 * Both pin the settings that shape type output so that every value is
 * journaled in one canonical text form, whatever the server's defaults. */
#ifndef TM_SOURCE_H
#define TM_SOURCE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/common/tm_error.h"

/* The GUCs pinned on every source session. */
#define TM_SOURCE_OPTIONS                                                                          \
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=1 "          \
    "-c bytea_output=hex"

/* The oldest server capture supports: pgoutput's streaming of large
 * transactions (proto_version 2) and pg_stat_replication_slots start in 14. */
#define TM_SOURCE_MIN_VERSION 140000

typedef struct tm_identity {
    uint64_t system_identifier;
    uint32_t timeline;
    uint64_t xlogpos;
    char database[128];
} tm_identity;

/* Connects with the user's conninfo (string or URI; PG* variables,
 * ~/.pgpass and service files apply) plus our pinned options. Errors never
 * contain the conninfo (it may hold a password). Unless the conninfo sets
 * them, TCP keepalives (keepalives, keepalives_idle, keepalives_interval,
 * keepalives_count), tcp_user_timeout and connect_timeout are set from the
 * network timeout, so that a link that died without a reset is noticed. */
PGconn *tm_source_connect(const char *conninfo, bool replication, tm_error *err);

/* 0 when a server of version (PQserverVersion's number: 140005, 180001)
 * can be a source; -1 with err naming its version and the minimum.
 * tm_source_connect refuses older servers with it. */
int tm_source_check_version(int version, tm_error *err);

/* The network timeout in seconds the connection defaults come from (30
 * until set): keepalives after a third of it, then every sixth, three
 * probes; tcp_user_timeout and connect_timeout the whole of it. */
void tm_source_set_timeout(int seconds);
/* IDENTIFY_SYSTEM on a replication session. */
int tm_source_identify(PGconn *repl, tm_identity *id, tm_error *err);
/* "host:port/db" of a connection, for logs (never the password). */
const char *tm_source_describe(PGconn *conn, char *buf, size_t len);

/* Runs a statement that returns no rows; -1 with err on failure. */
int tm_source_exec(PGconn *conn, const char *sql, tm_error *err);

#endif
