/* Whether a journal's slot can still feed it: present, a pgoutput slot of
 * the journal's database, its WAL kept (wal_status not 'lost') and not
 * invalidated (16: conflicting; 17+: invalidation_reason), as tm_slot_info
 * (setup.h) reports it on every server version: the judgement that status
 * and capture's slot check share. */
#ifndef TM_SLOTHEALTH_H
#define TM_SLOTHEALTH_H

#include <stddef.h>
#include <stdint.h>

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

/* The WAL a sound slot holds back, judged against max_slot_wal_keep_size:
 * the judgement that capture's status line and warnings, status and
 * status --check share. */
typedef enum tm_wal_risk {
    TM_WAL_OK = 0,
    TM_WAL_NEAR,       /* retains TM_WAL_NEAR_PERCENT or more of max_slot_wal_keep_size */
    TM_WAL_UNRESERVED, /* wal_status = 'unreserved': removed at the next checkpoint */
} tm_wal_risk;

#define TM_WAL_NEAR_PERCENT 80

/* Bytes of WAL the slot holds back (the server's position minus its
 * restart_lsn; 0 when unknown). */
uint64_t tm_slot_retained(const tm_slot_info *si);

/* How close the slot is to losing WAL, and a sentence saying so in why
 * ("" when OK). */
tm_wal_risk tm_slot_wal_risk(const tm_slot_info *si, char *why, size_t len);

#endif
