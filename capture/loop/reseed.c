/* capture --reseed's intent record, DIR/reseed.pending: written (fsynced)
 * before the reseed drops the old slot and creates the new one, naming the
 * slot, the source system and the journal's confirmed position at that
 * moment; removed once the new base snapshot is durable and marked. The
 * next start that finds it completes or rolls back:
 *   - the mark moved past the recorded position: the snapshot was
 *     confirmed (the crash came after), so the reseed is complete;
 *   - it did not: whatever the reseed wrote lay above the mark and was cut
 *     when the journal was opened, so the journal ends with its gap as
 *     before the reseed; the slot the reseed may have made (useless without
 *     its snapshot, and holding WAL) is dropped.
 * Either way no slot is left that nothing reads, and the journal never
 * holds half a reseed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/loop/capture.h"
#include "capture/loop/intent.h"
#include "store/common/fsutil.h"
#include "store/common/log.h"
#include "store/common/lsn.h"

#define RESEED_FILE "reseed.pending"

/* lsn: the journal's confirmed position when the reseed began. */
static const tm_intent_kind kind = {
    .file = RESEED_FILE,
    .magic = "tidemark reseed",
    .lsn_key = "mark",
    .records = "a capture --reseed that was interrupted",
    .advice = "check whether a replication slot it created is left on the server, remove the "
              "file, and run capture --reseed again",
};

int tm_capture_reseed_announce(const char *dir, const char *slot, uint64_t system_identifier,
                               uint64_t mark, tm_error *err)
{
    tm_intent r = {.system_identifier = system_identifier, .lsn = mark};
    if (snprintf(r.slot, sizeof r.slot, "%s", slot) >= (int)sizeof r.slot) {
        tm_error_set(err, "slot name \"%s\" is too long", slot);
        return -1;
    }
    return tm_intent_save(dir, &kind, &r, err);
}

int tm_capture_reseed_done(const char *dir, tm_error *err)
{
    return tm_intent_remove(dir, &kind, err);
}

int tm_capture_reseed_resume(const char *dir, PGconn *sql, const tm_identity *id,
                             uint64_t confirmed, tm_error *err)
{
    tm_intent f;
    int rc = tm_intent_load(dir, &kind, &f, err);
    if (rc <= 0)
        return rc;
    if (f.system_identifier != id->system_identifier) {
        tm_error_setc(err, TM_ERR_CONFLICT,
                      "journal %s holds an interrupted capture --reseed against system %" PRIu64
                      " (slot \"%s\"), but the source is system %" PRIu64
                      "; drop that slot on its server if it is left over, then remove %s/%s",
                      dir, f.system_identifier, f.slot, id->system_identifier, dir, RESEED_FILE);
        return -1;
    }
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
    if (confirmed > f.lsn) {
        tm_log_info("the capture --reseed of journal %s that was interrupted had finished: its "
                    "base snapshot is durable and marked at %s",
                    dir, tm_lsn_format(confirmed, a));
        return tm_capture_reseed_done(dir, err);
    }
    tm_slot_info si;
    if (tm_capture_wait_slot_free(sql, f.slot, &si, err) != 0)
        return -1;
    if (si.exists && si.logical_pgoutput && !strcmp(si.database, id->database)) {
        if (tm_slot_drop(sql, f.slot, err) != 0)
            return -1;
        tm_log_warning("capture --reseed of journal %s was interrupted before its base snapshot "
                       "was durable: rolled back (dropped replication slot \"%s\" at %s, which "
                       "nothing could read and which held WAL); the journal ends with its gap "
                       "at %s as before; run capture --reseed again to go on",
                       dir, f.slot, tm_lsn_format(si.confirmed_flush_lsn, a),
                       tm_lsn_format(f.lsn, b));
    } else {
        tm_log_warning("capture --reseed of journal %s was interrupted before its base snapshot "
                       "was durable: rolled back; the journal ends with its gap at %s as before; "
                       "run capture --reseed again to go on",
                       dir, tm_lsn_format(f.lsn, b));
    }
    return tm_capture_reseed_done(dir, err);
}
