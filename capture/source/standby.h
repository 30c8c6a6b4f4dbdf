/* The source's place in a replication setup: capture from a hot standby
 * (16+) and failover slots (17+), and the server settings each needs,
 * checked before anything is created so that a missing one is named with
 * its fix instead of surfacing as a hang or a lost slot later. */
#ifndef TM_STANDBY_H
#define TM_STANDBY_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "store/common/tm_error.h"

/* What capture asks of the source. */
typedef struct tm_role_want {
    bool failover;           /* --failover-slot */
    bool set_ri_full;        /* --set-replica-identity-full (needs a writable server) */
    const char *publication; /* must exist already on a standby; NULL: not checked */
    const char *conninfo;    /* --source: its other hosts are checked as standbys */
    const char *slot;        /* the journal's slot; NULL on a first run */
} tm_role_want;

/* Whether sql's server is a standby (*standby) and whether it can serve
 * capture as asked. On a standby: 16 or later, wal_level = logical,
 * hot_standby_feedback = on, the publication there (it cannot be created
 * in recovery), no --set-replica-identity-full, no --failover-slot, the
 * journal's slot not a synchronised copy (usable only after a promotion); a
 * warning without primary_slot_name. With failover on a primary: 17 or
 * later, synchronized_standby_slots naming physical slots that exist, and
 * each other host of the conninfo that is a standby checked for
 * sync_replication_slots, hot_standby_feedback, primary_slot_name (one of
 * those slots) and wal_level (warnings: a standby may be down). -1 with
 * err naming the setting and the fix. */
int tm_source_check_role(PGconn *sql, const tm_role_want *want, bool *standby, tm_error *err);

/* With --failover-slot on a later run: the slot made a failover slot when
 * it is not one yet (ALTER_REPLICATION_SLOT on repl, 17+), saying so. */
int tm_slot_ensure_failover(PGconn *sql, PGconn *repl, const char *slot, tm_error *err);

#endif
