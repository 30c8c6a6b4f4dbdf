/* Base backups and hot standbys for the throwaway clusters, with the
 * low-level backup API and a file copy: the npm server builds have no
 * pg_basebackup, and Debian's 15 cannot stream from newer servers. (FTW_ACTIONRETVAL:
 * _GNU_SOURCE comes from the build.) */
#include "tests/harness/pg_guard.h"
#include "tests/harness/pg_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* nftw has no user pointer: the copy in progress. */
static struct {
    const char *src, *dst;
    uid_t uid;
    gid_t gid;
    int own; /* chown what we make */
    char why[PATH_MAX + 128];
} cp;

/* What a base backup leaves out (the PostgreSQL documentation's list):
 * files of the running server, and the contents of these directories. */
static const char *const skip_files[] = {"/postmaster.pid",
                                         "/postmaster.opts",
                                         "/backup_label",
                                         "/tablespace_map",
                                         "/standby.signal",
                                         "/recovery.signal",
                                         NULL};
static const char *const empty_dirs[] = {"/pg_wal",      "/pg_replslot", "/pg_dynshmem",
                                         "/pg_notify",   "/pg_serial",   "/pg_snapshots",
                                         "/pg_stat_tmp", "/pg_subtrans", NULL};

static int copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? 0 : -1; /* gone since the walk saw it */
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -1;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc < 0)
            break;
    }
    if (rc == 0 && cp.own && fchown(out, cp.uid, cp.gid) < 0)
        rc = -1;
    close(in);
    if (close(out) < 0)
        rc = -1;
    return rc;
}

static int copy_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    const char *rel = path + strlen(cp.src);
    char to[PATH_MAX];
    if (snprintf(to, sizeof to, "%s%s", cp.dst, rel) >= (int)sizeof to) {
        snprintf(cp.why, sizeof cp.why, "path too long: %s", path);
        return FTW_STOP;
    }
    const char *base = strrchr(path, '/');
    if (type == FTW_NS || (base && !strncmp(base + 1, "pgsql_tmp", 9)))
        return FTW_CONTINUE; /* vanished, or a temporary file */
    for (int i = 0; skip_files[i]; i++)
        if (!strcmp(rel, skip_files[i]))
            return FTW_CONTINUE;
    int rc = 0, skip_tree = 0;
    if (type == FTW_D) {
        rc = mkdir(to, st->st_mode & 0777);
        for (int i = 0; empty_dirs[i]; i++)
            skip_tree |= !strcmp(rel, empty_dirs[i]);
    } else if (type == FTW_SL) {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0)
            return errno == ENOENT
                       ? FTW_CONTINUE
                       : (snprintf(cp.why, sizeof cp.why, "readlink %s: %s", path, strerror(errno)),
                          FTW_STOP);
        target[n] = '\0';
        rc = symlink(target, to);
    } else if (type == FTW_F) {
        rc = copy_file(path, to, st->st_mode);
    } else {
        snprintf(cp.why, sizeof cp.why, "cannot read %s", path);
        return FTW_STOP;
    }
    if (rc == 0 && cp.own && type != FTW_F && lchown(to, cp.uid, cp.gid) < 0)
        rc = -1;
    if (rc < 0) {
        snprintf(cp.why, sizeof cp.why, "copying %s to %s: %s", path, to, strerror(errno));
        return FTW_STOP;
    }
    return skip_tree ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
}

/* The running server's data directory into dest, as the backup API asks. */
static int copy_datadir(const tm_pg *pg, const char *dest, char *err, size_t errlen)
{
    memset(&cp, 0, sizeof cp);
    cp.src = pg->datadir;
    cp.dst = dest;
    if (pg->run_as[0]) {
        struct passwd *pw = getpwnam(pg->run_as);
        if (!pw) {
            tm_pg_set_err(err, errlen, "no OS user %s", pg->run_as);
            return -1;
        }
        cp.uid = pw->pw_uid;
        cp.gid = pw->pw_gid;
        cp.own = 1;
    }
    if (nftw(pg->datadir, copy_one, 32, FTW_PHYS | FTW_ACTIONRETVAL) != 0) {
        tm_pg_set_err(err, errlen, "base backup of %s: %s", pg->datadir,
                      cp.why[0] ? cp.why : strerror(errno));
        return -1;
    }
    char status[PATH_MAX];
    snprintf(status, sizeof status, "%s/pg_wal/archive_status", dest);
    if (mkdir(status, 0700) < 0 || (cp.own && chown(status, cp.uid, cp.gid) < 0)) {
        tm_pg_set_err(err, errlen, "cannot make %s: %s", status, strerror(errno));
        return -1;
    }
    return 0;
}

static int query_ok(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen)
{
    if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        return 0;
    tm_pg_set_err(err, errlen, "%s: %s", what, PQerrorMessage(c));
    return -1;
}

int tm_pg_base_backup(const tm_pg *pg, const char *dest, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(pg->conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        tm_pg_set_err(err, errlen, "base backup: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    /* 15 renamed the functions and dropped exclusive backups. */
    int v15 = PQserverVersion(c) >= 150000;
    PGresult *r = PQexec(c, v15 ? "SELECT pg_backup_start('tidemark test', true)"
                                : "SELECT pg_start_backup('tidemark test', true, false)");
    int rc = query_ok(c, r, "starting the backup", err, errlen);
    PQclear(r);
    /* Ending the session before the stop aborts the backup. */
    if (rc == 0 && copy_datadir(pg, dest, err, errlen) < 0)
        rc = -1;
    if (rc == 0) {
        r = PQexec(c, v15 ? "SELECT labelfile, spcmapfile FROM pg_backup_stop(true)"
                          : "SELECT labelfile, spcmapfile FROM pg_stop_backup(false, true)");
        rc = query_ok(c, r, "stopping the backup", err, errlen);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/backup_label", dest);
        if (rc == 0 && tm_pg_write_file(path, PQgetvalue(r, 0, 0), 0, pg->run_as) < 0) {
            tm_pg_set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
            rc = -1;
        }
        snprintf(path, sizeof path, "%s/tablespace_map", dest);
        if (rc == 0 && !PQgetisnull(r, 0, 1) && PQgetvalue(r, 0, 1)[0] &&
            tm_pg_write_file(path, PQgetvalue(r, 0, 1), 0, pg->run_as) < 0) {
            tm_pg_set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
            rc = -1;
        }
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

typedef struct standby_ctx {
    const tm_pg *primary;
    const char *slot;
} standby_ctx;

static int fill_standby(tm_pg *sb, void *arg, char *err, size_t errlen)
{
    standby_ctx *ctx = arg;
    if (tm_pg_base_backup(ctx->primary, sb->datadir, err, errlen) < 0)
        return -1;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/standby.signal", sb->datadir);
    if (tm_pg_write_file(path, "", 0, sb->run_as) < 0) {
        tm_pg_set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int tm_pg_start_standby(tm_pg *sb, const tm_pg *primary, const char *slot, const char *extra_conf,
                        char *err, size_t errlen)
{
    /* The slot holds the WAL from before the backup until the standby has it. */
    PGconn *c = PQconnectdb(primary->conninfo);
    const char *p[] = {slot};
    PGresult *r =
        PQexecParams(c,
                     "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS "
                     "(SELECT FROM pg_replication_slots WHERE slot_name = $1)",
                     1, NULL, p, NULL, NULL, 0);
    int rc = query_ok(c, r, "creating the standby's slot", err, errlen);
    PQclear(r);
    PQfinish(c);
    if (rc < 0)
        return -1;
    size_t len = 1024 + (extra_conf ? strlen(extra_conf) : 0);
    char *conf = malloc(len);
    if (!conf) {
        tm_pg_set_err(err, errlen, "out of memory");
        return -1;
    }
    snprintf(conf, len,
             "primary_conninfo = 'host=%s port=%d user=postgres application_name=%s'\n"
             "primary_slot_name = '%s'\nhot_standby = on\n%s\n",
             primary->socket_dir, primary->port, slot, slot, extra_conf ? extra_conf : "");
    standby_ctx ctx = {.primary = primary, .slot = slot};
    rc = tm_pg_create(sb, conf, fill_standby, &ctx, err, errlen);
    free(conf);
    return rc;
}

int tm_pg_wait_replay(const tm_pg *standby, const tm_pg *primary, int timeout_ms, char *err,
                      size_t errlen)
{
    PGconn *pc = PQconnectdb(primary->conninfo), *sc = PQconnectdb(standby->conninfo);
    PGresult *r = PQexec(pc, "SELECT pg_current_wal_lsn()::text");
    int rc = query_ok(pc, r, "the primary's WAL position", err, errlen);
    char lsn[64] = "";
    if (rc == 0)
        snprintf(lsn, sizeof lsn, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    for (int waited = 0; rc == 0; waited += 50) {
        const char *p[] = {lsn};
        r = PQexecParams(sc, "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", 1,
                         NULL, p, NULL, NULL, 0);
        rc = query_ok(sc, r, "the standby's replay position", err, errlen);
        int done = rc == 0 && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (done)
            break;
        if (rc == 0 && waited >= timeout_ms) {
            tm_pg_set_err(err, errlen, "the standby has not replayed up to %s after %d ms", lsn,
                          timeout_ms);
            rc = -1;
        }
        usleep(50000);
    }
    PQfinish(pc);
    PQfinish(sc);
    return rc;
}
