/*
 * Decoder of the pgoutput logical replication messages that PostgreSQL 15
 * sends with proto_version 1 and messages 'true', plus the streaming
 * messages of proto_version 2 (Stream Start/Stop/Commit/Abort, and the xid
 * that changes carry inside a stream).
 *
 * Zero-copy: a decoded message points into the caller's message buffer
 * (strings are the NUL-terminated strings of the message itself, values are
 * {kind, ptr, len} into it), so it is valid only while that buffer is.
 * Arrays (tuple columns, relation columns, truncated relation oids) live in
 * reusable buffers owned by the decoder that grow only when a wider message
 * appears: no heap allocation per message in steady state.
 *
 * Strict: a truncated or malformed message, trailing bytes, an unknown
 * message type, kind or flag is an error naming the message type, the
 * offset and what was expected. Nothing is ever read out of bounds.
 */
#ifndef TM_PGOUTPUT_H
#define TM_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/common/tm_error.h"
#include "store/journal/tuple.h"

/* Message types: the first byte of each message. */
typedef enum tm_pgo_type {
    TM_PGO_BEGIN = 'B',
    TM_PGO_COMMIT = 'C',
    TM_PGO_ORIGIN = 'O',
    TM_PGO_RELATION = 'R',
    TM_PGO_TYPE = 'Y',
    TM_PGO_INSERT = 'I',
    TM_PGO_UPDATE = 'U',
    TM_PGO_DELETE = 'D',
    TM_PGO_TRUNCATE = 'T',
    TM_PGO_MESSAGE = 'M',
    TM_PGO_STREAM_START = 'S',
    TM_PGO_STREAM_STOP = 'E',
    TM_PGO_STREAM_COMMIT = 'c',
    TM_PGO_STREAM_ABORT = 'A',
} tm_pgo_type;

/* Relation column flag: part of the replica identity (every column under
 * REPLICA IDENTITY FULL). */
#define TM_PGO_COL_KEY 1u
/* Truncate options. */
#define TM_PGO_TRUNCATE_CASCADE 1u
#define TM_PGO_TRUNCATE_RESTART_IDENTITY 2u

typedef struct tm_pgo_relcol {
    const char *name;
    uint32_t type_oid;
    int32_t typmod;
    uint8_t flags; /* TM_PGO_COL_KEY */
} tm_pgo_relcol;

typedef struct tm_pgo_tuple {
    uint32_t ncols;
    const tm_value *cols; /* kinds 'n', 'u', 't', 'b' */
} tm_pgo_tuple;

typedef struct tm_pgo_relation {
    uint32_t oid;
    const char *nspname; /* "pg_catalog" when the message says "" */
    const char *relname;
    char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    uint32_t ncols;
    const tm_pgo_relcol *cols;
} tm_pgo_relation;

/* Insert, Update and Delete. */
typedef struct tm_pgo_change {
    uint32_t relid;
    char old_kind;     /* 'K' key columns only, 'O' whole old row, 0 none */
    tm_pgo_tuple old;  /* Update with old_kind != 0, Delete */
    tm_pgo_tuple new_; /* Insert, Update */
} tm_pgo_change;

typedef struct tm_pgo_msg {
    tm_pgo_type type;
    /* Relation, Type, Insert, Update, Delete, Truncate and Message inside a
     * stream carry the xid of the streamed (sub)transaction. */
    bool has_xid;
    uint32_t xid;
    union {
        struct {
            uint64_t final_lsn;
            int64_t commit_time; /* Unix microseconds */
            uint32_t xid;
        } begin;
        struct {
            uint64_t commit_lsn;
            uint64_t end_lsn;
            int64_t commit_time; /* Unix microseconds */
        } commit;
        struct {
            uint64_t lsn;
            const char *name;
        } origin;
        tm_pgo_relation relation;
        struct {
            uint32_t oid;
            const char *nspname; /* "pg_catalog" when the message says "" */
            const char *name;
        } typ; /* the Type message */
        tm_pgo_change change;
        struct {
            uint32_t nrelids;
            uint8_t flags; /* TM_PGO_TRUNCATE_* */
            const uint32_t *relids;
        } truncate;
        struct {
            bool transactional;
            uint64_t lsn;
            const char *prefix;
            uint32_t content_len;
            const char *content; /* not NUL-terminated; may contain NULs */
        } message;
        struct {
            uint32_t xid;
            bool first_segment;
        } stream_start;
        struct {
            uint32_t xid;
            uint64_t commit_lsn;
            uint64_t end_lsn;
            int64_t commit_time; /* Unix microseconds */
        } stream_commit;
        struct {
            uint32_t xid;
            uint32_t subxid; /* == xid when the whole transaction aborted */
        } stream_abort;
    };
} tm_pgo_msg;

/* Decoder state: the reusable arrays and whether a stream is open (inside
 * a stream, changes carry an xid). Zero-initialise or tm_pgo_decoder_init. */
typedef struct tm_pgo_decoder {
    bool in_stream;
    tm_colbuf cols; /* tuple columns: old tuple first, then new */
    tm_pgo_relcol *relcols;
    size_t relcols_cap;
    uint32_t *relids;
    size_t relids_cap;
} tm_pgo_decoder;

void tm_pgo_decoder_init(tm_pgo_decoder *d);
/* Forgets the stream state (call when a new START_REPLICATION begins);
 * keeps the buffers. */
void tm_pgo_decoder_reset(tm_pgo_decoder *d);
void tm_pgo_decoder_free(tm_pgo_decoder *d);

/* Decodes one message of len bytes. The result points into buf and into the
 * decoder's arrays: valid until buf changes or the next decode. Returns 0,
 * or -1 with err. */
int tm_pgo_decode(tm_pgo_decoder *d, const void *buf, size_t len, tm_pgo_msg *out, tm_error *err);

/* "Begin", "Update", ...; "unknown" for other bytes. */
const char *tm_pgo_type_name(int type);

#endif
