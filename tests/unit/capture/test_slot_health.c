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
    /* wal_status and invalidation reason */
    static const struct {
        const char *wal_status, *invalidated;
        tm_slot_state want;
    } cases[] = {
        {"lost", "", TM_SLOT_LOST},
        {"lost", "wal_removed", TM_SLOT_LOST},
        {"reserved", "rows_removed", TM_SLOT_INVALIDATED},
        {"reserved", "conflict with recovery", TM_SLOT_INVALIDATED},
        {"", "idle_timeout", TM_SLOT_INVALIDATED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        si = slot(cases[i].wal_status);
        strcpy(si.invalidated, cases[i].invalidated);
        ck_assert_msg(tm_slot_judge(&si, "app") == cases[i].want, "'%s', '%s': %d",
                      cases[i].wal_status, cases[i].invalidated, (int)tm_slot_judge(&si, "app"));
    }
    ck_assert_str_eq(tm_slot_state_name(TM_SLOT_SOUND), "sound");
    ck_assert_str_eq(tm_slot_state_name(TM_SLOT_LOST), "LOST");
    ck_assert_str_eq(tm_slot_state_name(TM_SLOT_INVALIDATED), "INVALIDATED");
}
END_TEST

int main(void)
{
    return tm_check_main("slot_health", "core", 0, TM_TESTS(judgements));
}
