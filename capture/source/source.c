#include "capture/source/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The user's own "options" are kept and ours appended, so theirs (e.g. a
 * search_path) still apply while ours win for the output settings. */
static char *merged_options(const char *conninfo)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    const char *user_opts = NULL;
    if (opts) {
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (!strcmp(o->keyword, "options") && o->val && *o->val)
                user_opts = o->val;
    }
    size_t len = (user_opts ? strlen(user_opts) + 1 : 0) + sizeof TM_SOURCE_OPTIONS;
    char *merged = malloc(len);
    if (merged)
        snprintf(merged, len, "%s%s%s", user_opts ? user_opts : "", user_opts ? " " : "",
                 TM_SOURCE_OPTIONS);
    if (opts)
        PQconninfoFree(opts);
    PQfreemem(errmsg);
    return merged;
}

static int net_timeout_s = 30;

void tm_source_set_timeout(int seconds)
{
    net_timeout_s = seconds > 0 ? seconds : 30;
}

/* The network defaults, as keywords and values: they come before the
 * user's conninfo in PQconnectdbParams, so that the conninfo overrides
 * them. PGCONNECT_TIMEOUT, when set, is left to libpq. */
static int net_defaults(const char **keys, const char **vals, char bufs[5][16])
{
    int t = net_timeout_s, n = 0;
    snprintf(bufs[0], 16, "%d", t / 3 > 0 ? t / 3 : 1);
    snprintf(bufs[1], 16, "%d", t / 6 > 0 ? t / 6 : 1);
    snprintf(bufs[2], 16, "%d", t * 1000);
    snprintf(bufs[3], 16, "%d", t);
    const char *k[] = {"keepalives",       "keepalives_idle",  "keepalives_interval",
                       "keepalives_count", "tcp_user_timeout", "connect_timeout"};
    const char *v[] = {"1", bufs[0], bufs[1], "3", bufs[2], bufs[3]};
    for (int i = 0; i < 6; i++) {
        if (i == 5 && getenv("PGCONNECT_TIMEOUT"))
            continue;
        keys[n] = k[i];
        vals[n++] = v[i];
    }
    return n;
}

int tm_source_check_version(int version, tm_error *err)
{
    if (version >= TM_SOURCE_MIN_VERSION)
        return 0;
    /* Before 10 the number was major * 10000 + minor * 100 + patch. */
    if (version >= 100000)
        tm_error_setc(err, TM_ERR_DB,
                      "the source runs PostgreSQL %d.%d, which tidemark does not support: it needs "
                      "PostgreSQL %d or later",
                      version / 10000, version % 10000, TM_SOURCE_MIN_VERSION / 10000);
    else
        tm_error_setc(err, TM_ERR_DB,
                      "the source runs PostgreSQL %d.%d.%d, which tidemark does not support: it "
                      "needs PostgreSQL %d or later",
                      version / 10000, version / 100 % 100, version % 100,
                      TM_SOURCE_MIN_VERSION / 10000);
    return -1;
}

PGconn *tm_source_connect(const char *conninfo, bool replication, tm_error *err)
{
    char *errmsg = NULL;
    PQconninfoOption *check = PQconninfoParse(conninfo, &errmsg);
    if (!check) {
        /* libpq's message names the bad keyword, never a value. */
        tm_error_setc(err, TM_ERR_FORMAT, "invalid connection string: %s",
                      errmsg ? errmsg : "out of memory");
        PQfreemem(errmsg);
        return NULL;
    }
    PQconninfoFree(check);

    char *options = merged_options(conninfo);
    if (!options) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const char *keys[16], *vals[16];
    char bufs[5][16];
    int n = net_defaults(keys, vals, bufs);
    /* After the conninfo: ours win (the output settings, replication). */
    const char *k[] = {"dbname", "options", "fallback_application_name", "replication"};
    const char *v[] = {conninfo, options, "tidemark", "database"};
    for (int i = 0; i < (replication ? 4 : 3); i++) {
        keys[n] = k[i];
        vals[n++] = v[i];
    }
    keys[n] = vals[n] = NULL;
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    free(options);
    if (!conn) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory connecting to the source");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(conn);
        size_t n = strlen(m);
        while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
            n--;
        tm_error_setc(err, TM_ERR_DB, "cannot connect to the source database: %.*s", (int)n, m);
        PQfinish(conn);
        return NULL;
    }
    if (tm_source_check_version(PQserverVersion(conn), err) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int tm_source_identify(PGconn *repl, tm_identity *id, tm_error *err)
{
    PGresult *res = PQexec(repl, "IDENTIFY_SYSTEM");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 4) {
        tm_error_setc(err, TM_ERR_DB, "IDENTIFY_SYSTEM failed: %s", PQerrorMessage(repl));
        PQclear(res);
        return -1;
    }
    memset(id, 0, sizeof *id);
    id->system_identifier = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    id->timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    unsigned hi = 0, lo = 0;
    if (sscanf(PQgetvalue(res, 0, 2), "%X/%X", &hi, &lo) == 2)
        id->xlogpos = ((uint64_t)hi << 32) | lo;
    if (PQgetisnull(res, 0, 3)) {
        tm_error_setc(err, TM_ERR_DB, "the replication connection is not bound to a database");
        PQclear(res);
        return -1;
    }
    snprintf(id->database, sizeof id->database, "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    return 0;
}

const char *tm_source_describe(PGconn *conn, char *buf, size_t len)
{
    const char *host = PQhost(conn);
    snprintf(buf, len, "%s:%s/%s", host && *host ? host : "local", PQport(conn), PQdb(conn));
    return buf;
}

int tm_source_exec(PGconn *conn, const char *sql, tm_error *err)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "%s", PQresultErrorMessage(res));
        size_t n = strlen(err ? err->msg : "");
        while (err && n && err->msg[n - 1] == '\n')
            err->msg[--n] = '\0';
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}
