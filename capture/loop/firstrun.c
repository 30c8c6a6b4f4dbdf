/* A first run that did not finish, found again: its intent record
 * (firstrun.h), the clean-up of what it made in the journal directory, and
 * on a rerun, dropping the slot it left on the server so that it neither
 * blocks the rerun nor holds WAL forever. */
#include "capture/loop/firstrun.h"

#include <dirent.h>
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

static const tm_intent_kind kind = {
    .file = TM_FIRSTRUN_FILE,
    .magic = "tidemark first run",
    .lsn_key = "consistent",
    .records = "an unfinished first run of the journal",
    .advice = "check whether a replication slot it created is left on the server, then remove "
              "the directory and start again",
};

int tm_firstrun_save(const char *dir, const tm_firstrun *f, tm_error *err)
{
    return tm_intent_save(dir, &kind, f, err);
}

int tm_firstrun_load(const char *dir, tm_firstrun *f, tm_error *err)
{
    return tm_intent_load(dir, &kind, f, err);
}

int tm_firstrun_forget(const char *dir, tm_error *err)
{
    return tm_intent_remove(dir, &kind, err);
}

/* A file a first run makes (never the record). journal.meta too: it is
 * renamed into place before the fsync of the directory, which can still
 * fail; a first run that failed then must not leave it, or the next start
 * takes the journal for a finished one whose slot is gone. */
static bool made_by_first_run(const char *name, bool keep_lock)
{
    static const char *const exact[] = {
        "spool.tmp",        "snapshot.tmp",       "rewrites.pending",   "rewrites.pending.tmp",
        "confirmed.mark",   "confirmed.mark.tmp", "init.pending.tmp",   "journal.meta",
        "journal.meta.tmp", "tables.captured",    "tables.captured.tmp"};
    if (!keep_lock && !strcmp(name, "capture.lock"))
        return true;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!strcmp(name, exact[i]))
            return true;
    size_t n = strlen(name);
    return (n == 20 || n == 21) && strspn(name, "0123456789abcdef") == 16 &&
           (!strcmp(name + 16, ".seg") || !strcmp(name + 16, ".idx") ||
            !strcmp(name + 16, ".lidx"));
}

void tm_firstrun_discard(const char *dir, bool keep_lock, bool rmdir_too)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (made_by_first_run(e->d_name, keep_lock)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    tm_error ignored;
    tm_fsync_dir(dir, &ignored);
    if (rmdir_too)
        rmdir(dir); /* fails, as it should, when the record or anything else is left */
}

void tm_capture_discard_fresh(const char *dir, bool created_dir)
{
    tm_firstrun_discard(dir, false, created_dir);
}

/* The slot the record names, found on the server: is it the one the
 * interrupted run created? */
static bool is_ours(const tm_slot_info *si, const tm_firstrun *f, const tm_identity *id)
{
    return si->logical_pgoutput && !strcmp(si->database, id->database) &&
           (!f->lsn || si->confirmed_flush_lsn == f->lsn);
}

/* Drops the slot the interrupted run left behind, if it is still there
 * and is the one it made. */
static int drop_left_slot(const char *dir, PGconn *sql, const tm_firstrun *f, const tm_identity *id,
                          tm_error *err)
{
    tm_slot_info si;
    if (tm_capture_wait_slot_free(sql, f->slot, &si, err) != 0)
        return -1;
    char c[TM_LSN_BUFLEN], d[TM_LSN_BUFLEN];
    if (!si.exists) {
        tm_log_info("the first run of journal %s did not finish (replication slot \"%s\" was "
                    "not left on the server); starting the first run over",
                    dir, f->slot);
        return 0;
    }
    if (!is_ours(&si, f, id)) {
        tm_error_setc(err, TM_ERR_CONFLICT,
                      "journal %s holds an unfinished first run that created replication slot "
                      "\"%s\"%s%s, but the slot of that name on the server now is another one "
                      "(%s slot of database \"%s\", confirmed at %s): it is left alone. Drop it "
                      "if nothing uses it, or remove %s and choose another --slot",
                      dir, f->slot, f->lsn ? " at " : "", f->lsn ? tm_lsn_format(f->lsn, c) : "",
                      si.logical_pgoutput ? "a pgoutput" : "not a pgoutput", si.database,
                      tm_lsn_format(si.confirmed_flush_lsn, d), dir);
        return -1;
    }
    if (tm_slot_drop(sql, f->slot, err) != 0)
        return -1;
    tm_log_info("the first run of journal %s was interrupted after it created replication slot "
                "\"%s\": dropped the slot (it held WAL and blocked every rerun); starting the "
                "first run over",
                dir, f->slot);
    return 0;
}

int tm_capture_init_resume(const char *dir, PGconn *sql, const tm_identity *id, tm_error *err)
{
    tm_firstrun f;
    int rc = tm_firstrun_load(dir, &f, err);
    if (rc <= 0)
        return rc;
    if (f.system_identifier != id->system_identifier) {
        tm_error_setc(err, TM_ERR_CONFLICT,
                      "journal %s holds an unfinished first run against system %" PRIu64
                      " (slot \"%s\"), but the source is system %" PRIu64
                      "; drop that slot on its server if it is left over, then remove %s or use "
                      "another --journal",
                      dir, f.system_identifier, f.slot, id->system_identifier, dir);
        return -1;
    }
    if (drop_left_slot(dir, sql, &f, id, err) != 0)
        return -1;
    tm_firstrun_discard(dir, true, false);
    return tm_firstrun_forget(dir, err);
}

int tm_capture_init_forget(const char *dir, tm_error *err)
{
    return tm_firstrun_forget(dir, err);
}
