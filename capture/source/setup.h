/* The server-side objects capture relies on: the publication naming the
 * captured tables, the logical slot, and the tables' replica identity. */
#ifndef TM_SETUP_H
#define TM_SETUP_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/common/tm_error.h"

typedef struct tm_oidlist {
    uint32_t *oids;
    int n;
} tm_oidlist;

/* Makes sure publication pub publishes exactly the tables in want (all
 * operations): creates it when missing, reuses it when it matches, refuses
 * (with what differs and what to do) when it does not. With want->n == 0
 * the publication must exist; its tables are returned in want. */
int tm_publication_ensure(PGconn *sql, const char *pub, tm_oidlist *want, tm_error *err);

/* The tables publication pub publishes now, added to out. */
int tm_publication_tables(PGconn *sql, const char *pub, tm_oidlist *out, tm_error *err);
/* The same in two steps, for a session that must not wait: the query
 * sent (0, or -1 when it could not be), and its result read into out. */
int tm_publication_tables_send(PGconn *sql, const char *pub);
int tm_publication_tables_read(const PGresult *r, const char *pub, tm_oidlist *out, tm_error *err);
/* Adds to publication pub the tables of want it does not publish yet (a
 * new --table on a later run), saying so. */
int tm_publication_add(PGconn *sql, const char *pub, const tm_oidlist *want, tm_error *err);

/* Tables without REPLICA IDENTITY FULL: a logged warning for each (saying
 * what will be missing and how to fix it), or, when set_full, sets FULL and
 * says so (never on a table with a virtual generated column). Also a
 * warning naming the generated columns pgoutput does not send. */
int tm_replica_identity_check(PGconn *sql, const tm_oidlist *tables, bool set_full, tm_error *err);

typedef struct tm_slot_info {
    bool exists;
    bool logical_pgoutput;
    char database[128];
    char wal_status[16];
    uint64_t confirmed_flush_lsn;
    int active_pid; /* 0 when not active */
    char type[16];  /* slot_type: "logical" or "physical" */
    char plugin[64];
    /* Why the server invalidated it (invalidation_reason, 17+; a conflict
     * with recovery, 16+), or "" */
    char invalidated[64];
    /* The WAL it holds back: the server's WAL position now (its replay
     * position on a standby; read whether the slot exists or not) and the
     * oldest WAL the slot needs; safe_wal_size, the bytes that can still
     * be written before the slot risks losing WAL (none when unlimited or
     * lost; negative once past it); max_slot_wal_keep_size in bytes (-1:
     * unlimited). */
    uint64_t server_lsn;
    uint64_t restart_lsn;
    bool has_safe_wal_size;
    int64_t safe_wal_size;
    int64_t max_keep_bytes;
} tm_slot_info;

/* What pg_replication_slots says of slot (info->exists false when it is
 * not there), with the server's WAL position and max_slot_wal_keep_size,
 * in one query. -1 with err (TM_ERR_DB) when the query fails. */
int tm_slot_info_get(PGconn *sql, const char *slot, tm_slot_info *info, tm_error *err);
/* The same query sent without waiting (PQsendQuery: -1 when it could not
 * be sent), and the reading of its result. */
int tm_slot_info_send(PGconn *sql, const char *slot);
int tm_slot_info_parse(const PGresult *r, const char *slot, tm_slot_info *info, tm_error *err);

/* The server's current WAL position (its replay position on a standby). */
int tm_server_wal_lsn(PGconn *sql, uint64_t *lsn, tm_error *err);
/* A setting in milliseconds (e.g. wal_sender_timeout), from pg_settings. */
int tm_server_setting_ms(PGconn *sql, const char *name, int64_t *ms, tm_error *err);

/* pg_drop_replication_slot(slot); -1 with err when it fails. */
int tm_slot_drop(PGconn *sql, const char *slot, tm_error *err);

/* Flags of a new slot: a temporary slot goes away with its session; a
 * failover slot (17+) is synchronised to standbys that ask for it. */
#define TM_SLOT_TEMPORARY 1u
#define TM_SLOT_FAILOVER 2u

/* CREATE_REPLICATION_SLOT ... LOGICAL pgoutput with an exported snapshot
 * on a replication session. The exported snapshot stays valid until the
 * next command on repl. */
int tm_slot_create(PGconn *repl, const char *slot, unsigned flags, uint64_t *consistent_lsn,
                   char *snapshot, size_t snaplen, tm_error *err);

/* The CREATE_REPLICATION_SLOT statement for a server version: 14 knows only
 * the keyword form (EXPORT_SNAPSHOT), 15 on the parenthesised options, 17
 * on FAILOVER. ident is the quoted slot name. -1 with err when it does not
 * fit out, or asks for failover before 17. */
int tm_slot_create_sql(int server_version, const char *ident, unsigned flags, char *out, size_t len,
                       tm_error *err);

void tm_oidlist_free(tm_oidlist *l);
bool tm_oidlist_has(const tm_oidlist *l, uint32_t oid);
int tm_oidlist_add(tm_oidlist *l, uint32_t oid);

#endif
