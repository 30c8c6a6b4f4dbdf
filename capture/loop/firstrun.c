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

#define MAGIC_LINE "tidemark first run"

int tm_firstrun_save(const char *dir, const tm_firstrun *f, tm_error *err)
{
    char text[512], lsn[TM_LSN_BUFLEN];
    int n = snprintf(text, sizeof text, MAGIC_LINE "\nslot %s\nsystem %" PRIu64 "\n", f->slot,
                     f->system_identifier);
    if (f->consistent)
        n += snprintf(text + n, sizeof text - (size_t)n, "consistent %s\n",
                      tm_lsn_format(f->consistent, lsn));
    return tm_write_file_atomic(dir, TM_FIRSTRUN_FILE, text, (size_t)n, err);
}

/* Reads one "key value" line of the record into f; false when unknown. */
static bool take_line(char *line, tm_firstrun *f)
{
    char *sp = strchr(line, ' ');
    if (!sp)
        return false;
    *sp++ = '\0';
    if (!strcmp(line, "slot") && strlen(sp) < sizeof f->slot)
        return snprintf(f->slot, sizeof f->slot, "%s", sp) >= 0;
    if (!strcmp(line, "system"))
        return sscanf(sp, "%" SCNu64, &f->system_identifier) == 1;
    if (!strcmp(line, "consistent"))
        return tm_lsn_parse(sp, &f->consistent) == 0;
    return false;
}

int tm_firstrun_load(const char *dir, tm_firstrun *f, tm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, TM_FIRSTRUN_FILE);
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
                      "%s does not parse; it records an unfinished first run of the journal: "
                      "check whether a replication slot it created is left on the server, then "
                      "remove the directory and start again",
                      path);
        tm_error_in(err, path);
        return -1;
    }
    return 1;
}

int tm_firstrun_forget(const char *dir, tm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, TM_FIRSTRUN_FILE);
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return 0;
        tm_error_errno(err, "cannot remove %s", path);
        return -1;
    }
    return tm_fsync_dir(dir, err);
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
           (!f->consistent || si->confirmed_flush_lsn == f->consistent);
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
                      dir, f->slot, f->consistent ? " at " : "",
                      f->consistent ? tm_lsn_format(f->consistent, c) : "",
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
