/* A journal's slot: can it still feed the journal? See slothealth.h. */
#include "capture/source/slothealth.h"

#include <stdio.h>
#include <string.h>

tm_slot_state tm_slot_judge(const tm_slot_info *si, const char *database)
{
    if (!si->exists)
        return TM_SLOT_MISSING;
    if (!si->logical_pgoutput || strcmp(si->database, database) != 0)
        return TM_SLOT_FOREIGN;
    if (!strcmp(si->wal_status, "lost"))
        return TM_SLOT_LOST;
    if (si->invalidated[0])
        return TM_SLOT_INVALIDATED;
    return TM_SLOT_SOUND;
}

const char *tm_slot_state_name(tm_slot_state s)
{
    switch (s) {
    case TM_SLOT_SOUND:
        return "sound";
    case TM_SLOT_MISSING:
        return "MISSING";
    case TM_SLOT_FOREIGN:
        return "NOT THIS JOURNAL'S";
    case TM_SLOT_LOST:
        return "LOST";
    case TM_SLOT_INVALIDATED:
        return "INVALIDATED";
    }
    return "?";
}

uint64_t tm_slot_retained(const tm_slot_info *si)
{
    if (!si->exists || !si->restart_lsn || si->server_lsn < si->restart_lsn)
        return 0;
    return si->server_lsn - si->restart_lsn;
}

tm_wal_risk tm_slot_wal_risk(const tm_slot_info *si, char *why, size_t len)
{
    why[0] = '\0';
    if (!si->exists)
        return TM_WAL_OK;
    uint64_t kept = tm_slot_retained(si);
    if (!strcmp(si->wal_status, "unreserved")) {
        snprintf(why, len,
                 "it holds %llu MB of WAL, more than max_slot_wal_keep_size (wal_status = "
                 "unreserved): the server removes that WAL at its next checkpoint unless capture "
                 "catches up first, and the journal then has a gap",
                 (unsigned long long)(kept >> 20));
        return TM_WAL_UNRESERVED;
    }
    if (si->max_keep_bytes > 0 &&
        kept * 100 >= (uint64_t)si->max_keep_bytes * TM_WAL_NEAR_PERCENT) {
        snprintf(why, len,
                 "it holds %llu MB of WAL, %llu%% of max_slot_wal_keep_size (%lld MB): past it the "
                 "server removes the WAL and the journal has a gap; capture is behind or stopped",
                 (unsigned long long)(kept >> 20),
                 (unsigned long long)(kept * 100 / (uint64_t)si->max_keep_bytes),
                 (long long)(si->max_keep_bytes >> 20));
        return TM_WAL_NEAR;
    }
    return TM_WAL_OK;
}
