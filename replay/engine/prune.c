#include "replay/engine/prune.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/engine/checkpoint.h"
#include "store/common/fsutil.h"
#include "store/journal/journal.h"
#include "store/journal/segment.h"

/* The newest sound checkpoint whose transactions all committed by before
 * (checked by loading it whole); index into c, or -1. */
static long horizon_checkpoint(const tm_ckpt *c, size_t n, int64_t before, uint64_t above,
                               tm_error *err)
{
    for (size_t i = n; i-- > 0;) {
        if (!c[i].ok || c[i].max_time > before)
            continue;
        if (c[i].lsn <= above)
            return -1;
        tm_vresult res = {0};
        if (tm_ckpt_verify(c[i].path, &res, err) != 0)
            return -2;
        if (!res.damaged)
            return (long)i;
    }
    return -1;
}

/* The segment where reading after lsn starts (see prune.h), at most the
 * last one. */
static int first_kept(const char *dir, uint64_t lsn, uint64_t *seg, tm_error *err)
{
    uint64_t *segs;
    size_t n;
    if (tm_segment_list(dir, &segs, &n, err) != 0)
        return -1;
    if (n == 0) {
        free(segs);
        tm_error_setc(err, TM_ERR_NOT_FOUND, "journal %s holds no segment", dir);
        return -1;
    }
    uint64_t last = segs[n - 1];
    free(segs);
    tm_reader *r;
    if (tm_reader_open(dir, &r, err) != 0)
        return -1;
    const Tidemark__Record *rec;
    int rc = tm_reader_seek_lsn(r, lsn + 1, err);
    if (rc == 0)
        rc = tm_reader_next(r, &rec, err);
    *seg = rc == 1 ? tm_reader_position(r).segment : last;
    tm_reader_close(r);
    if (rc < 0)
        return -1;
    if (*seg > last)
        *seg = last;
    return 0;
}

/* Removes DIR/name if it is there, adding its size to *bytes. */
static int remove_file(const char *dir, const char *name, bool dry_run, uint64_t *bytes,
                       bool *removed, tm_error *err)
{
    char path[PATH_MAX];
    struct stat st;
    *removed = false;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        tm_error_set(err, "path %s/%s is too long", dir, name);
        return -1;
    }
    if (lstat(path, &st) != 0)
        return 0;
    if (!dry_run && unlink(path) != 0 && errno != ENOENT) {
        tm_error_errno(err, "cannot remove %s", path);
        return -1;
    }
    *bytes += (uint64_t)st.st_size;
    *removed = true;
    return 0;
}

/* Which files may go: all (archived NULL), or those the archive holds. */
typedef struct keep_rule {
    tm_prune_archived_fn archived;
    void *ctx;
} keep_rule;

/* Whether DIR/name may be removed under k: absent, or archived. */
static bool may_remove(const keep_rule *k, const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    if (!k->archived || snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        lstat(path, &st) != 0)
        return true;
    return k->archived(k->ctx, name);
}

/* Step 3 of prune.h: the files below horizon h. */
static int remove_below(const char *dir, const tm_horizon *h, const tm_ckpt *c, size_t nc,
                        const keep_rule *k, bool dry_run, tm_prune_report *rep, tm_error *err)
{
    uint64_t *segs;
    size_t n;
    if (tm_segment_list(dir, &segs, &n, err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0 && segs[i] < h->first_segment; i++) {
        char name[64];
        bool gone;
        static const char *const suffix[] = {"keys", "idx", "seg"}; /* the segment last */
        bool all = true;
        for (int s = 0; s < 3 && all; s++) {
            snprintf(name, sizeof name, "%016llx.%s", (unsigned long long)segs[i], suffix[s]);
            all = may_remove(k, dir, name);
        }
        if (!all)
            break; /* not archived yet: it and the later ones stay for now */
        for (int s = 0; s < 3 && rc == 0; s++) {
            snprintf(name, sizeof name, "%016llx.%s", (unsigned long long)segs[i], suffix[s]);
            rc = remove_file(dir, name, dry_run, &rep->bytes, &gone, err);
        }
        rep->segments++;
    }
    free(segs);
    char cdir[PATH_MAX];
    snprintf(cdir, sizeof cdir, "%s/%s", dir, TM_CKPT_DIR);
    for (size_t i = 0; i < nc && rc == 0 && c[i].lsn < h->lsn; i++) {
        const char *base = strrchr(c[i].path, '/');
        char name[PATH_MAX];
        snprintf(name, sizeof name, "%s/%s", TM_CKPT_DIR, base ? base + 1 : c[i].path);
        bool gone;
        if (!may_remove(k, dir, name))
            continue;
        rc = remove_file(cdir, base ? base + 1 : c[i].path, dry_run, &rep->bytes, &gone, err);
        rep->checkpoints += gone;
    }
    if (rc == 0 && !dry_run && (rep->segments || rep->checkpoints))
        rc = tm_fsync_dir(dir, err) != 0 || (rep->checkpoints && tm_fsync_dir(cdir, err) != 0) ? -1
                                                                                               : 0;
    return rc;
}

/* tm_prune and tm_prune_local: the horizon in file hzname, removals under k. */
static int prune(const char *dir, const char *hzname, int64_t before, bool dry_run,
                 const keep_rule *k, tm_prune_report *rep, tm_error *err)
{
    memset(rep, 0, sizeof *rep);
    tm_horizon old;
    /* local: after both horizons; the retention horizon: after its own */
    int hz = k->archived ? tm_horizon_read(dir, &old, err)
                         : tm_horizon_read_file(dir, TM_HORIZON_FILE, &old, err);
    if (hz < 0)
        return -1;
    tm_ckpt *c;
    size_t nc;
    if (tm_ckpt_list(dir, &c, &nc, err) != 0)
        return -1;
    int rc = -1;
    long at = horizon_checkpoint(c, nc, before, hz == 1 ? old.lsn : 0, err);
    if (at == -2)
        goto out;
    rep->have_horizon = hz == 1 || at >= 0;
    rep->horizon = old;
    if (at >= 0) {
        rep->moved = true;
        rep->horizon.lsn = c[at].lsn;
        rep->horizon.time = c[at].max_time;
        if (first_kept(dir, c[at].lsn, &rep->horizon.first_segment, err) != 0)
            goto out;
        if (hz == 1 && rep->horizon.first_segment < old.first_segment)
            rep->horizon.first_segment = old.first_segment;
        if (!dry_run && tm_horizon_write_file(dir, hzname, &rep->horizon, err) != 0)
            goto out;
    }
    /* Also finishes a prune that was stopped after its horizon was set. */
    rc = rep->have_horizon ? remove_below(dir, &rep->horizon, c, nc, k, dry_run, rep, err) : 0;
out:
    free(c);
    return rc;
}

int tm_prune(const char *dir, int64_t before, bool dry_run, tm_prune_report *rep, tm_error *err)
{
    keep_rule all = {0};
    return prune(dir, TM_HORIZON_FILE, before, dry_run, &all, rep, err);
}

int tm_prune_local(const char *dir, int64_t before, bool dry_run, tm_prune_archived_fn archived,
                   void *ctx, tm_prune_report *rep, tm_error *err)
{
    keep_rule k = {.archived = archived, .ctx = ctx};
    return prune(dir, TM_LOCAL_HORIZON_FILE, before, dry_run, &k, rep, err);
}
