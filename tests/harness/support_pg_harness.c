/* Throwaway PostgreSQL clusters (15, or TM_PG_MAJOR): initdb, configure, start, stop, restart.
 * See pg_harness.h; cleanup guarantees live in support_pg_guard.c. */
#include "tests/harness/support_net.h"
#include "tests/harness/pg_guard.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define START_ATTEMPTS 5

/* Environment that would steer initdb/pg_ctl/postgres somewhere else. */
static const char *const pg_env[] = {"PGDATA",    "PGPORT",        "PGHOST",
                                     "PGOPTIONS", "PGUSER",        "PGDATABASE",
                                     "PGSERVICE", "PGSERVICEFILE", NULL};

void tm_pg_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Can the `postgres` user (other users, when we are root) reach dir? */
static int traversable_by_others(const char *dir)
{
    char path[PATH_MAX];
    if (!realpath(dir, path))
        return 0;
    for (;;) {
        struct stat st;
        if (stat(path, &st) < 0 || !(st.st_mode & S_IXOTH))
            return 0;
        char *slash = strrchr(path, '/');
        if (!slash || slash == path)
            break;
        *slash = '\0';
    }
    return 1;
}

const char *tm_pg_tmp_base(void)
{
    static char base[TM_PG_PATHLEN];
    if (base[0])
        return base;
    const char *t = getenv("TMPDIR");
    struct sockaddr_un un;
    /* base/tidemark-pg-XXXXXX/.s.PGSQL.65535 must fit a unix socket path. */
    size_t room = sizeof un.sun_path - sizeof "/" TM_PG_DIR_PREFIX "XXXXXX/.s.PGSQL.65535";
    if (t && t[0] == '/' && strlen(t) < room && (geteuid() != 0 || traversable_by_others(t)))
        snprintf(base, sizeof base, "%s", t);
    else
        snprintf(base, sizeof base, "/tmp");
    size_t n = strlen(base);
    while (n > 1 && base[n - 1] == '/')
        base[--n] = '\0';
    return base;
}

const char *tm_pg_major(void)
{
    static char major[8];
    if (major[0])
        return major;
    const char *m = getenv("TM_PG_MAJOR");
    int digits = m && *m && strlen(m) < sizeof major && strspn(m, "0123456789") == strlen(m);
    snprintf(major, sizeof major, "%s", digits ? m : TM_PG_DEFAULT_MAJOR);
    return major;
}

/* Where scripts/pg-builds.sh puts the npm server builds (keep both in step). */
static void build_cache(char *out, size_t len)
{
    const char *c = getenv("TM_PG_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (c && *c)
        snprintf(out, len, "%s", c);
    else if (geteuid() == 0)
        snprintf(out, len, "/var/cache/tidemark/pg");
    else if (xdg && *xdg)
        snprintf(out, len, "%s/tidemark/pg", xdg);
    else
        snprintf(out, len, "%s/.cache/tidemark/pg", home ? home : "");
}

static int is_major(const char *bindir, const char *major)
{
    char postgres[PATH_MAX], want[32];
    snprintf(postgres, sizeof postgres, "%s/postgres", bindir);
    snprintf(want, sizeof want, "(PostgreSQL) %s.", major);
    if (access(postgres, X_OK) < 0)
        return 0;
    const char *argv[] = {postgres, "--version", NULL};
    tm_run_result r;
    int ok = tm_runv(argv, NULL, &r) == 0 && strstr(r.out, want);
    tm_run_result_free(&r);
    return ok;
}

/* Debian's PostgreSQL 15: its server, and the client tools for every major. */
static int find_debian(char *out, size_t len, char *err, size_t errlen)
{
    const char *debian = "/usr/lib/postgresql/" TM_PG_DEFAULT_MAJOR "/bin";
    if (is_major(debian, TM_PG_DEFAULT_MAJOR)) {
        snprintf(out, len, "%s", debian);
        return 0;
    }
    const char *argv[] = {"pg_config", "--bindir", NULL};
    tm_run_result r;
    if (tm_runv(argv, NULL, &r) == 0) {
        r.out[strcspn(r.out, "\n")] = '\0';
        if (is_major(r.out, TM_PG_DEFAULT_MAJOR)) {
            snprintf(out, len, "%s", r.out);
            tm_run_result_free(&r);
            return 0;
        }
    }
    tm_run_result_free(&r);
    tm_pg_set_err(err, errlen,
                  "no PostgreSQL " TM_PG_DEFAULT_MAJOR
                  " server found (looked in %s and pg_config --bindir); "
                  "run scripts/install-deps.sh or set TM_PG_BINDIR",
                  debian);
    return -1;
}

/* TM_PG_BINDIR; for 15 the Debian location, then pg_config --bindir; for
 * the other majors the build cache of scripts/pg-builds.sh. */
static int find_bindir(char *out, size_t len, char *err, size_t errlen)
{
    const char *major = tm_pg_major();
    const char *env = getenv("TM_PG_BINDIR");
    if (env && *env) {
        if (!is_major(env, major)) {
            tm_pg_set_err(err, errlen, "TM_PG_BINDIR=%s holds no PostgreSQL %s server", env, major);
            return -1;
        }
        snprintf(out, len, "%s", env);
        return 0;
    }
    if (strcmp(major, TM_PG_DEFAULT_MAJOR) != 0) {
        char cache[PATH_MAX];
        build_cache(cache, sizeof cache);
        int n = snprintf(out, len, "%s/%s/bin", cache, major);
        if (n > 0 && (size_t)n < len && is_major(out, major))
            return 0;
        tm_pg_set_err(err, errlen,
                      "no PostgreSQL %s server in %s (TM_PG_MAJOR=%s); run scripts/pg-builds.sh %s "
                      "or set TM_PG_BINDIR",
                      major, out, major, major);
        return -1;
    }
    return find_debian(out, len, err, errlen);
}

/* Runs a PostgreSQL program as the cluster's OS user; output goes to err on failure. */
int tm_pg_run(const tm_pg *pg, const char *const *argv, int timeout_ms, char *err, size_t errlen)
{
    tm_run_opts o = {.env = pg_env, .timeout_ms = timeout_ms, .cwd = pg->dir};
    if (pg->run_as[0])
        o.as_user = pg->run_as;
    tm_run_result r;
    int rc = tm_runv(argv, &o, &r);
    if (rc != 0 && err)
        tm_pg_set_err(err, errlen, "%s failed (status %d%s): %s%s", argv[0], rc,
                      r.timed_out ? ", timed out" : "", r.err, r.out);
    tm_run_result_free(&r);
    return rc == 0 ? 0 : -1;
}

/* A string literal for postgresql.conf. */
static void conf_quote(char *out, size_t len, const char *s)
{
    size_t n = 0;
    out[n++] = '\'';
    for (; *s && n + 3 < len; s++) {
        if (*s == '\'' || *s == '\\')
            out[n++] = *s;
        out[n++] = *s;
    }
    out[n++] = '\'';
    out[n] = '\0';
}

/* Writes (or appends) text to path, owned by `user` when that is set. */
int tm_pg_write_file(const char *path, const char *text, int append, const char *user)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
    if (fd < 0)
        return -1;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    if (user && user[0]) {
        struct passwd *pw = getpwnam(user);
        if (!pw || fchown(fd, pw->pw_uid, pw->pw_gid) < 0) {
            close(fd);
            return -1;
        }
    }
    return close(fd);
}

/* data/tidemark.conf: everything the harness sets, then extra_conf (later
 * lines win). postgresql.conf includes it. */
static int write_conf(const tm_pg *pg, const char *extra_conf)
{
    char sock[2 * TM_PG_PATHLEN + 3], path[PATH_MAX];
    conf_quote(sock, sizeof sock, pg->socket_dir);
    size_t len = 2048 + (extra_conf ? strlen(extra_conf) : 0);
    char *text = malloc(len);
    if (!text)
        return -1;
    snprintf(text, len,
             "# Written by the tidemark test harness.\n"
             "listen_addresses = '127.0.0.1'\n"
             "port = %d\n"
             "unix_socket_directories = %s\n"
             "wal_level = logical\n"
             "max_wal_senders = 20\n"
             "max_replication_slots = 20\n"
             "max_connections = 60\n"
             "shared_buffers = 32MB\n"
             "fsync = off # throwaway test cluster only\n"
             "full_page_writes = off\n"
             "logging_collector = off\n"
             "%s\n",
             pg->port, sock, extra_conf ? extra_conf : "");
    snprintf(path, sizeof path, "%s/tidemark.conf", pg->datadir);
    int rc = tm_pg_write_file(path, text, 0, pg->run_as);
    free(text);
    return rc;
}

static int pg_ctl(const tm_pg *pg, const char *action, const char *mode, char *err, size_t errlen)
{
    char prog[PATH_MAX];
    snprintf(prog, sizeof prog, "%s/pg_ctl", pg->bindir);
    const char *argv[] = {prog, action, "-D", pg->datadir,        "-l", pg->logfile,
                          "-w", "-t",   "60", mode ? "-m" : NULL, mode, NULL};
    return tm_pg_run(pg, argv, 90000, err, errlen);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Did the last start fail only because someone else took the port? */
static int port_was_taken(const tm_pg *pg, long log_offset)
{
    char *log = malloc(65536);
    if (!log)
        return 0;
    int fd = open(pg->logfile, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, log, 65535, log_offset) : -1;
    if (fd >= 0)
        close(fd);
    log[n > 0 ? n : 0] = '\0';
    int taken = strstr(log, "could not bind") || strstr(log, "Address already in use");
    free(log);
    return taken;
}

static void fill_conninfo(tm_pg *pg)
{
    char *ci = tm_pg_conninfo(pg, NULL);
    snprintf(pg->conninfo, sizeof pg->conninfo, "%s", ci ? ci : "");
    free(ci);
}

static int start_server(tm_pg *pg, const char *extra_conf, char *err, size_t errlen)
{
    for (int attempt = 1;; attempt++) {
        pg->port = tm_free_port();
        if (pg->port <= 0) {
            tm_pg_set_err(err, errlen, "cannot find a free TCP port on 127.0.0.1: %s",
                          strerror(errno));
            return -1;
        }
        if (write_conf(pg, extra_conf) < 0) {
            tm_pg_set_err(err, errlen, "cannot write %s/tidemark.conf: %s", pg->datadir,
                          strerror(errno));
            return -1;
        }
        long log_offset = file_size(pg->logfile);
        if (pg_ctl(pg, "start", NULL, err, errlen) == 0)
            break;
        if (attempt == START_ATTEMPTS || !port_was_taken(pg, log_offset)) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, " (server log: %s)", pg->logfile);
            return -1;
        }
    }
    pg->postmaster_pid = tm_pg_read_postmaster_pid(pg->datadir);
    fill_conninfo(pg);
    if (PQping(pg->conninfo) != PQPING_OK) {
        tm_pg_set_err(err, errlen, "the server started but does not accept connections at %s",
                      pg->conninfo);
        return -1;
    }
    return 0;
}

static int init_cluster(tm_pg *pg, char *err, size_t errlen)
{
    char prog[PATH_MAX], path[PATH_MAX];
    snprintf(prog, sizeof prog, "%s/initdb", pg->bindir);
    const char *argv[] = {prog,          "-D", pg->datadir, "-U",        "postgres", "--auth=trust",
                          "--no-locale", "-E", "UTF8",      "--no-sync", NULL};
    if (tm_pg_run(pg, argv, 120000, err, errlen) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/postgresql.conf", pg->datadir);
    if (tm_pg_write_file(path, "\ninclude 'tidemark.conf'\n", 1, pg->run_as) < 0) {
        tm_pg_set_err(err, errlen, "cannot append to %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The temp dir, owned by the server's OS user, with our owner file. */
static int make_dir(tm_pg *pg, char *err, size_t errlen)
{
    const char *base = tm_pg_tmp_base();
    int n = snprintf(pg->dir, sizeof pg->dir, "%s/" TM_PG_DIR_PREFIX "XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof pg->dir - sizeof "/postgres.log" || !mkdtemp(pg->dir)) {
        tm_pg_set_err(err, errlen, "cannot create a temp dir under %s: %s", base,
                      n < 0 || (size_t)n >= sizeof pg->dir ? "path too long" : strerror(errno));
        pg->dir[0] = '\0';
        return -1;
    }
    /* Fits: the dir was checked against the longest suffix above. */
    if (snprintf(pg->socket_dir, sizeof pg->socket_dir, "%s", pg->dir) < 0 ||
        snprintf(pg->datadir, sizeof pg->datadir, "%s/data", pg->dir) < 0 ||
        snprintf(pg->logfile, sizeof pg->logfile, "%s/postgres.log", pg->dir) < 0)
        return -1;
    char owner[PATH_MAX], text[64];
    snprintf(owner, sizeof owner, "%s/%s", pg->dir, TM_PG_OWNER_FILE);
    snprintf(text, sizeof text, "%ld %llu\n", (long)pg->owner, tm_pid_starttime(pg->owner));
    if (tm_pg_write_file(owner, text, 0, NULL) < 0) { /* stays ours: the server never needs it */
        tm_pg_set_err(err, errlen, "cannot write %s: %s", owner, strerror(errno));
        return -1;
    }
    if (pg->run_as[0]) {
        struct passwd *pw = getpwnam(pg->run_as);
        if (!pw || chown(pg->dir, pw->pw_uid, pw->pw_gid) < 0) {
            tm_pg_set_err(err, errlen, "cannot hand %s to the %s user: %s", pg->dir, pg->run_as,
                          pw ? strerror(errno) : "no such user");
            return -1;
        }
    }
    return 0;
}

static int fill_initdb(tm_pg *pg, void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    return init_cluster(pg, err, errlen);
}

int tm_pg_create(tm_pg *pg, const char *extra_conf, tm_pg_fill_fn fill, void *ctx, char *err,
                 size_t errlen)
{
    memset(pg, 0, sizeof *pg);
    pg->guard_fd = -1;
    pg->owner = getpid();
    tm_pg_sweep_stale();
    if (find_bindir(pg->bindir, sizeof pg->bindir, err, errlen) < 0 ||
        find_debian(pg->clientdir, sizeof pg->clientdir, err, errlen) < 0)
        return -1;
    if (geteuid() == 0) {
        /* PostgreSQL refuses to run as root. */
        if (!getpwnam("postgres")) {
            tm_pg_set_err(err, errlen,
                          "running as root needs a 'postgres' OS user to run the server "
                          "(install postgresql-" TM_PG_DEFAULT_MAJOR ")");
            return -1;
        }
        snprintf(pg->run_as, sizeof pg->run_as, "postgres");
    }
    if (make_dir(pg, err, errlen) < 0 || tm_pg_guard_start(pg, err, errlen) < 0 ||
        fill(pg, ctx, err, errlen) < 0 || start_server(pg, extra_conf, err, errlen) < 0) {
        if (pg->dir[0])
            tm_pg_destroy_dir(pg->dir, pg->datadir);
        tm_pg_guard_release(pg);
        pg->owner = 0;
        return -1;
    }
    pg->running = 1;
    return 0;
}

int tm_pg_start(tm_pg *pg, const char *extra_conf, char *err, size_t errlen)
{
    return tm_pg_create(pg, extra_conf, fill_initdb, NULL, err, errlen);
}

int tm_pg_promote(tm_pg *pg, char *err, size_t errlen)
{
    if (!pg->running || pg->owner != getpid()) {
        tm_pg_set_err(err, errlen, "tm_pg_promote: the cluster is not running in this process");
        return -1;
    }
    return pg_ctl(pg, "promote", NULL, err, errlen);
}

void tm_pg_stop(tm_pg *pg)
{
    if (!pg->dir[0] || pg->owner != getpid())
        return;
    if (pg->running && pg_ctl(pg, "stop", "fast", NULL, 0) < 0)
        pg_ctl(pg, "stop", "immediate", NULL, 0);
    tm_pg_destroy_dir(pg->dir, pg->datadir); /* also kills a server that did not stop */
    tm_pg_guard_release(pg);
    pg->running = 0;
    pg->owner = 0;
}

int tm_pg_restart(tm_pg *pg, const char *mode, char *err, size_t errlen)
{
    if (!pg->running || pg->owner != getpid()) {
        tm_pg_set_err(err, errlen, "tm_pg_restart: the cluster is not running in this process");
        return -1;
    }
    if (pg_ctl(pg, "stop", mode, err, errlen) < 0)
        return -1;
    long log_offset = file_size(pg->logfile);
    if (pg_ctl(pg, "start", NULL, err, errlen) < 0) {
        if (port_was_taken(pg, log_offset))
            tm_pg_set_err(err, errlen, "port %d was taken while the server was down", pg->port);
        pg->running = 0;
        return -1;
    }
    pg->postmaster_pid = tm_pg_read_postmaster_pid(pg->datadir);
    return 0;
}
