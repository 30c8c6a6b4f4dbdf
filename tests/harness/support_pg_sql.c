/* libpq helpers for tests: connect and run SQL, failing the test on error.
 * Messages are copied to the stack and everything freed before failing, so
 * a failing test reports no leaks of its own under ASan. */
#include "tests/harness/pg_harness.h"
#include "tests/harness/support_store.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A conninfo value in single quotes. */
static void quote_value(char *out, size_t len, const char *s)
{
    size_t n = 0;
    out[n++] = '\'';
    for (; *s && n + 3 < len; s++) {
        if (*s == '\'' || *s == '\\')
            out[n++] = '\\';
        out[n++] = *s;
    }
    out[n++] = '\'';
    out[n] = '\0';
}

char *tm_pg_conninfo(const tm_pg *pg, const char *dbname)
{
    char host[2 * TM_PG_PATHLEN + 3], db[300];
    quote_value(host, sizeof host, pg->socket_dir);
    quote_value(db, sizeof db, dbname ? dbname : "postgres");
    char *ci = NULL;
    if (asprintf(&ci, "host=%s port=%d user=postgres dbname=%s", host, pg->port, db) < 0)
        return NULL;
    return ci;
}

static PGconn *connect_to(const tm_pg *pg, const char *dbname, int replication)
{
    char port[16];
    snprintf(port, sizeof port, "%d", pg->port);
    const char *keys[] = {"host",
                          "port",
                          "user",
                          "dbname",
                          "application_name",
                          "connect_timeout",
                          replication ? "replication" : NULL,
                          NULL};
    const char *vals[] = {pg->socket_dir,   port, "postgres", dbname ? dbname : "postgres",
                          "tidemark-tests", "10", "database", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (c && PQstatus(c) == CONNECTION_OK)
        return c;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
    PQfinish(c);
    ck_abort_msg("cannot connect to database %s on port %d: %s", dbname ? dbname : "postgres",
                 pg->port, msg);
    return NULL;
}

PGconn *tm_pg_connect(const tm_pg *pg, const char *dbname)
{
    return connect_to(pg, dbname, 0);
}

PGconn *tm_pg_connect_replication(const tm_pg *pg, const char *dbname)
{
    return connect_to(pg, dbname, 1);
}

/* Runs the formatted SQL; fails the test unless the result status is ok. */
static PGresult *run(PGconn *conn, int want_rows, const char *fmt, va_list ap)
{
    char *sql = NULL;
    if (vasprintf(&sql, fmt, ap) < 0)
        ck_abort_msg("out of memory formatting SQL");
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = want_rows ? st == PGRES_TUPLES_OK : (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
    if (ok) {
        free(sql);
        return res;
    }
    char msg[1024], text[1024];
    snprintf(msg, sizeof msg, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    snprintf(text, sizeof text, "%s", sql);
    PQclear(res);
    free(sql);
    ck_abort_msg("SQL failed (%s): %s\n  in: %s", PQresStatus(st), msg, text);
    return NULL;
}

void tm_pg_exec(PGconn *conn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *res = run(conn, 0, fmt, ap);
    va_end(ap);
    PQclear(res);
}

PGresult *tm_pg_query(PGconn *conn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *res = run(conn, 1, fmt, ap);
    va_end(ap);
    return res;
}

static char *query_value(PGconn *conn, const char *fmt, va_list ap)
{
    PGresult *res = run(conn, 1, fmt, ap);
    if (PQntuples(res) < 1 || PQnfields(res) < 1) {
        PQclear(res);
        ck_abort_msg("query returned no value");
    }
    char *v = PQgetisnull(res, 0, 0) ? NULL : strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

char *tm_pg_query_value(PGconn *conn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = query_value(conn, fmt, ap);
    va_end(ap);
    return v;
}

void tm_pg_assert_value(PGconn *conn, const char *want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = query_value(conn, fmt, ap);
    va_end(ap);
    char got[512];
    snprintf(got, sizeof got, "%s", v ? v : "(SQL NULL)");
    bool same = v && !strcmp(v, want);
    free(v);
    ck_assert_msg(same, "query %s: got '%s', want '%s'", fmt, got, want);
}

void tm_pg_createdb(const tm_pg *pg, const char *name)
{
    PGconn *c = tm_pg_connect(pg, "postgres");
    char *id = PQescapeIdentifier(c, name, strlen(name));
    if (!id) {
        PQfinish(c);
        ck_abort_msg("cannot quote database name %s", name);
    }
    char sql[512];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", id);
    PQfreemem(id);
    PGresult *res = PQexec(c, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(c);
    ck_assert_msg(ok, "CREATE DATABASE %s failed: %s", name, msg);
}

char *tm_pg_copy_csv(PGconn *conn, const char *fmt, ...)
{
    char q[1024], sql[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof q, fmt, ap);
    va_end(ap);
    snprintf(sql, sizeof sql, "COPY (%s) TO STDOUT WITH (FORMAT csv, HEADER)", q);
    PGresult *r = PQexec(conn, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COPY_OUT, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    size_t len = 0, cap = 4096;
    char *out = malloc(cap), *line;
    int n;
    while ((n = PQgetCopyData(conn, &line, 0)) > 0) {
        while (len + (size_t)n + 1 > cap) {
            char *grown = realloc(out, cap *= 2);
            ck_assert_msg(grown != NULL, "out of memory reading %s", sql);
            out = grown;
        }
        memcpy(out + len, line, (size_t)n);
        len += (size_t)n;
        PQfreemem(line);
    }
    out[len] = '\0';
    while ((r = PQgetResult(conn)))
        PQclear(r);
    return out;
}

char *tm_pg_tx(PGconn *conn, const char *sql)
{
    tm_pg_exec(conn, "BEGIN");
    tm_pg_exec(conn, "%s", sql);
    char *x = tm_pg_query_value(conn, "SELECT txid_current()::text");
    tm_pg_exec(conn, "COMMIT");
    return x;
}

void tm_pg_done(PGconn *c, char *conninfo, char *journal)
{
    PQfinish(c);
    free(conninfo);
    tmt_journal_remove(journal);
}
