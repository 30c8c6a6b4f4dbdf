/* Whether a journal's slot can still feed it: present, a pgoutput slot of
 * the journal's database, its WAL kept (wal_status not 'lost') and not
 * invalidated (16: conflicting; 17+: invalidation_reason), as tm_slot_info
 * (setup.h) reports it on every server version: the judgement that status
 * and capture's slot check share. */
#ifndef TM_SLOTHEALTH_H
#define TM_SLOTHEALTH_H

#include "capture/source/setup.h"

typedef enum tm_slot_state {
    TM_SLOT_SOUND = 0,
    TM_SLOT_MISSING,     /* no slot of that name: dropped */
    TM_SLOT_FOREIGN,     /* a slot of that name, but not pgoutput or of another database */
    TM_SLOT_LOST,        /* wal_status = 'lost': WAL it needed was removed */
    TM_SLOT_INVALIDATED, /* invalidated for another reason (16+) */
} tm_slot_state;

/* The state of a slot of the journal of database `database`, from what
 * tm_slot_info_get said (si->invalidated: why the server invalidated it). */
tm_slot_state tm_slot_judge(const tm_slot_info *si, const char *database);

/* One word for it, as status prints it: "sound", "MISSING", "NOT THIS "
 * "JOURNAL'S", "LOST", "INVALIDATED". */
const char *tm_slot_state_name(tm_slot_state s);

#endif
