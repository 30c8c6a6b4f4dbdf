/* tm_slot_judge (capture/source/slothealth.h): what status makes of the
 * slot rows of every server version, including what PostgreSQL 15 cannot
 * show here (16's conflicting, 17's invalidation_reason): a missing slot,
 * a slot of another kind or database, wal_status 'lost' (which wins over an
 * invalidation reason, as 17 reports both for wal_removed), an invalidated
 * one, and sound ones ('unreserved' is still sound: a warning). */
#include <check.h>
#include <string.h>

#include "capture/source/slothealth.h"
#include "tests/harness/tm_check.h"

static tm_slot_info slot(const char *wal_status)
{
    tm_slot_info si = {.exists = true, .logical_pgoutput = true};
    strcpy(si.database, "app");
    strcpy(si.wal_status, wal_status);
    return si;
}

START_TEST(judgements)
{
    tm_slot_info si = {0};
    ck_assert_int_eq(tm_slot_judge(&si, "app"), TM_SLOT_MISSING);
    si = slot("reserved");
    ck_assert_int_eq(tm_slot_judge(&si, "app"), TM_SLOT_SOUND);
    ck_assert_int_eq(tm_slot_judge(&si, "other"), TM_SLOT_FOREIGN);
    si.logical_pgoutput = false;
    ck_assert_int_eq(tm_slot_judge(&si, "app"), TM_SLOT_FOREIGN);
    si = slot("unreserved");
    ck_assert_int_eq(tm_slot_judge(&si, "app"), TM_SLOT_SOUND);
    si = slot("lost");
    ck_assert_int_eq(tm_slot_judge(&si, "app"), TM_SLOT_LOST);
    strcpy(si.invalidated, "wal_removed");
    ck_assert_int_eq(tm_slot_judge(&si, "app"), TM_SLOT_LOST);
    si.invalidated[0] = '\0';
    si = slot("reserved");
    strcpy(si.invalidated, "rows_removed");
    ck_assert_int_eq(tm_slot_judge(&si, "app"), TM_SLOT_INVALIDATED);
    si.invalidated[0] = '\0';
    strcpy(si.invalidated, "conflict with recovery");
    ck_assert_int_eq(tm_slot_judge(&si, "app"), TM_SLOT_INVALIDATED);
    si.invalidated[0] = '\0';
    si = slot("");
    strcpy(si.invalidated, "idle_timeout");
    ck_assert_int_eq(tm_slot_judge(&si, "app"), TM_SLOT_INVALIDATED);
    si.invalidated[0] = '\0';
    ck_assert_str_eq(tm_slot_state_name(TM_SLOT_SOUND), "sound");
    ck_assert_str_eq(tm_slot_state_name(TM_SLOT_LOST), "LOST");
    ck_assert_str_eq(tm_slot_state_name(TM_SLOT_INVALIDATED), "INVALIDATED");
}
END_TEST

int main(void)
{
    return tm_check_main("slot_health", "core", 0, TM_TESTS(judgements));
}
