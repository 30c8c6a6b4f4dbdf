/* Whether a journal's slot can still feed it: present, a pgoutput slot of
 * the journal's database, its WAL kept (wal_status not 'lost') and not
 * invalidated (16: conflicting; 17+: invalidation_reason). tm_slot_info
 * (setup.h) says what every server version reports; this adds the
 * invalidation of newer servers, and the judgement. */
#ifndef TM_SLOTHEALTH_H
#define TM_SLOTHEALTH_H

#include <libpq-fe.h>
#include <stddef.h>

#include "capture/source/setup.h"
#include "store/common/tm_error.h"

typedef enum tm_slot_state {
    TM_SLOT_SOUND = 0,
    TM_SLOT_MISSING,     /* no slot of that name: dropped */
    TM_SLOT_FOREIGN,     /* a slot of that name, but not pgoutput or of another database */
    TM_SLOT_LOST,        /* wal_status = 'lost': WAL it needed was removed */
    TM_SLOT_INVALIDATED, /* invalidated for another reason (16+) */
} tm_slot_state;

/* Why the server invalidated slot, into reason ("" when it did not, when
 * the slot is gone, and on servers before 16, which report only
 * wal_status): invalidation_reason on 17+ (wal_removed, rows_removed,
 * wal_level_insufficient, idle_timeout), "conflict with recovery" when
 * conflicting is set on 16. -1 with err when the query fails. */
int tm_slot_invalidation(PGconn *sql, const char *slot, char *reason, size_t len, tm_error *err);

/* The state of a slot of the journal of database `database`, from what
 * tm_slot_info_get and tm_slot_invalidation said. */
tm_slot_state tm_slot_judge(const tm_slot_info *si, const char *database, const char *invalidation);

/* One word for it, as status prints it: "sound", "MISSING", "NOT THIS "
 * "JOURNAL'S", "LOST", "INVALIDATED". */
const char *tm_slot_state_name(tm_slot_state s);

#endif
