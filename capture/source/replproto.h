/*
 * The streaming replication messages carried in CopyData during
 * START_REPLICATION (PostgreSQL's "Streaming Replication Protocol"):
 * 'w' XLogData and 'k' primary keepalive from the server, and the 'r'
 * standby status update that the client sends. Times on the wire are
 * PostgreSQL-epoch microseconds; this API speaks Unix microseconds.
 */
#ifndef TM_REPLPROTO_H
#define TM_REPLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/tm_error.h"

#define TM_REPL_XLOGDATA 'w'
#define TM_REPL_KEEPALIVE 'k'
#define TM_REPL_STATUS 'r'

/* Size of a standby status update. */
#define TM_REPL_STATUS_LEN 34

typedef struct tm_repl_msg {
    char type; /* TM_REPL_XLOGDATA or TM_REPL_KEEPALIVE */
    union {
        struct {
            uint64_t wal_start;
            uint64_t wal_end;
            int64_t send_time; /* Unix microseconds */
            const char *data;  /* the pgoutput message, pointing into the buffer */
            size_t len;
        } xlog;
        struct {
            uint64_t wal_end;
            int64_t send_time; /* Unix microseconds */
            bool reply_requested;
        } keepalive;
    };
} tm_repl_msg;

/* Parses one CopyData payload from the server. Returns 0, or -1 with err for
 * a truncated message, trailing bytes or an unknown type. */
int tm_repl_parse(const void *buf, size_t len, tm_repl_msg *out, tm_error *err);

/* Writes a standby status update into buf (TM_REPL_STATUS_LEN bytes) and
 * returns its length. now is Unix microseconds. */
size_t tm_repl_build_status(void *buf, uint64_t write_lsn, uint64_t flush_lsn, uint64_t apply_lsn,
                            int64_t now, bool reply_requested);

#endif
