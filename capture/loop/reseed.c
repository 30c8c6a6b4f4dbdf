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
#include "store/common/fsutil.h"
#include "store/common/log.h"
#include "store/common/lsn.h"

#define RESEED_FILE "reseed.pending"
#define MAGIC_LINE "tidemark reseed"

typedef struct reseed_rec {
    char slot[128];
    uint64_t system_identifier;
    uint64_t mark; /* the confirmed LSN when the reseed began */
} reseed_rec;

int tm_capture_reseed_announce(const char *dir, const char *slot, uint64_t system_identifier,
                               uint64_t mark, tm_error *err)
{
    char text[512], lsn[TM_LSN_BUFLEN];
    int n = snprintf(text, sizeof text, MAGIC_LINE "\nslot %s\nsystem %" PRIu64 "\nmark %s\n", slot,
                     system_identifier, tm_lsn_format(mark, lsn));
    if (n < 0 || (size_t)n >= sizeof text) {
        tm_error_set(err, "slot name \"%s\" is too long", slot);
        return -1;
    }
    return tm_write_file_atomic(dir, RESEED_FILE, text, (size_t)n, err);
}

int tm_capture_reseed_done(const char *dir, tm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, RESEED_FILE);
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return 0;
        tm_error_errno(err, "cannot remove %s", path);
        return -1;
    }
    return tm_fsync_dir(dir, err);
}

static bool take_line(char *line, reseed_rec *f)
{
    char *sp = strchr(line, ' ');
    if (!sp)
        return false;
    *sp++ = '\0';
    if (!strcmp(line, "slot") && strlen(sp) < sizeof f->slot)
        return snprintf(f->slot, sizeof f->slot, "%s", sp) >= 0;
    if (!strcmp(line, "system"))
        return sscanf(sp, "%" SCNu64, &f->system_identifier) == 1;
    if (!strcmp(line, "mark"))
        return tm_lsn_parse(sp, &f->mark) == 0;
    return false;
}

/* 1 with *f when DIR holds a record, 0 when not, -1 with err. */
static int load(const char *dir, reseed_rec *f, tm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, RESEED_FILE);
    unsigned char *data;
    size_t len;
    if (tm_read_file(path, 4096, &data, &len, err) != 0)
        return tm_error_is(err, TM_ERR_NOT_FOUND) ? 0 : -1;
    memset(f, 0, sizeof *f);
    char *text = (char *)data, *save = NULL;
    bool ok = len > 0 && text[len - 1] == '\n';
    text[len ? len - 1 : 0] = '\0';
    char *line = strtok_r(text, "\n", &save);
    ok = ok && line && !strcmp(line, MAGIC_LINE);
    while (ok && (line = strtok_r(NULL, "\n", &save)) != NULL)
        ok = take_line(line, f);
    free(data);
    if (!ok || !f->slot[0] || !f->system_identifier) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "%s does not parse; it records a capture --reseed that was interrupted: "
                      "check whether a replication slot it created is left on the server, "
                      "remove the file, and run capture --reseed again",
                      path);
        tm_error_in(err, path);
        return -1;
    }
    return 1;
}

int tm_capture_reseed_resume(const char *dir, PGconn *sql, const tm_identity *id,
                             uint64_t confirmed, tm_error *err)
{
    reseed_rec f;
    int rc = load(dir, &f, err);
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
    if (confirmed > f.mark) {
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
                       tm_lsn_format(f.mark, b));
    } else {
        tm_log_warning("capture --reseed of journal %s was interrupted before its base snapshot "
                       "was durable: rolled back; the journal ends with its gap at %s as before; "
                       "run capture --reseed again to go on",
                       dir, tm_lsn_format(f.mark, b));
    }
    return tm_capture_reseed_done(dir, err);
}
