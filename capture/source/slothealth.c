/* A journal's slot: can it still feed the journal? See slothealth.h. */
#include "capture/source/slothealth.h"

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
