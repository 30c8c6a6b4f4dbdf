/* A journal's slot: can it still feed the journal? See slothealth.h. */
#include "capture/source/slothealth.h"

#include <stdio.h>
#include <string.h>

int tm_slot_invalidation(PGconn *sql, const char *slot, char *reason, size_t len, tm_error *err)
{
    reason[0] = '\0';
    int v = PQserverVersion(sql);
    const char *q = v >= 170000
                        ? "SELECT coalesce(invalidation_reason, '') FROM pg_replication_slots "
                          "WHERE slot_name = $1"
                    : v >= 160000 ? "SELECT CASE WHEN conflicting THEN 'conflict with recovery' "
                                    "ELSE '' END FROM pg_replication_slots WHERE slot_name = $1"
                                  : NULL;
    if (!q)
        return 0;
    const char *p[] = {slot};
    PGresult *r = PQexecParams(sql, q, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "reading the invalidation of slot \"%s\": %s", slot,
                      PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    if (PQntuples(r) == 1)
        snprintf(reason, len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

tm_slot_state tm_slot_judge(const tm_slot_info *si, const char *database, const char *invalidation)
{
    if (!si->exists)
        return TM_SLOT_MISSING;
    if (!si->logical_pgoutput || strcmp(si->database, database) != 0)
        return TM_SLOT_FOREIGN;
    if (!strcmp(si->wal_status, "lost"))
        return TM_SLOT_LOST;
    if (invalidation && invalidation[0])
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
