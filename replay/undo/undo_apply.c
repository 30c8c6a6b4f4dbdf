#include "replay/undo/undo_apply.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "replay/out/out.h"
#include "store/common/log.h"
#include "replay/undo/undo_sql.h"

typedef struct run {
    PGconn *c;
    tm_out sql, msg;
    tm_error *err;
} run;

static void set_pg_error(tm_error *err, const char *what, const char *pgmsg)
{
    tm_error_setc(err, TM_ERR_DB, "%s: %s", what, pgmsg);
    size_t n = strlen(err->msg);
    while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
        err->msg[--n] = '\0';
}

static int exec_ok(run *r, const char *sql)
{
    PGresult *res = PQexec(r->c, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        set_pg_error(r->err, sql, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* "conflict: <the row>: <why> (<the server's word>); <later changes>",
 * through the logger. */
static void conflict_line(run *r, const tm_undo_entry *e, const char *why, const char *pgmsg)
{
    tm_out_reset(&r->msg);
    tm_out_puts(&r->msg, "conflict: ");
    tm_undo_describe(&r->msg, e);
    tm_out_puts(&r->msg, ": ");
    tm_out_puts(&r->msg, why);
    if (pgmsg) {
        tm_out_puts(&r->msg, " (");
        tm_out_write(&r->msg, pgmsg, strcspn(pgmsg, "\n"));
        tm_out_putc(&r->msg, ')');
    }
    tm_out_puts(&r->msg, "; ");
    tm_undo_later(&r->msg, e);
    tm_out_putc(&r->msg, '\0');
    size_t len;
    tm_log_error("%s", tm_out_data(&r->msg, &len));
}

/* Runs one statement under a savepoint. Returns TM_UNDO_DONE,
 * TM_UNDO_CONFLICT (reported), TM_UNDO_FAILED (a foreign-key error, to
 * retry; *fk_msg set when report_fk), or -1 with err. */
static int one(run *r, const tm_undo_entry *e, bool report_fk)
{
    tm_out_reset(&r->sql);
    tm_out_puts(&r->sql, "SAVEPOINT tidemark_undo; ");
    if (tm_undo_stmt(&r->sql, e, r->err) != 0)
        return -1;
    tm_out_putc(&r->sql, '\0');
    if (r->sql.err) {
        tm_error_setc(r->err, TM_ERR_NOMEM, "out of memory building SQL");
        return -1;
    }
    size_t len;
    PGresult *res = PQexec(r->c, tm_out_data(&r->sql, &len));
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK && strtoull(PQcmdTuples(res), NULL, 10) == 1) {
        PQclear(res);
        return exec_ok(r, "RELEASE SAVEPOINT tidemark_undo") == 0 ? TM_UNDO_DONE : -1;
    }
    const char *state = st == PGRES_COMMAND_OK ? NULL : PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (st != PGRES_COMMAND_OK && (!state || strncmp(state, "23", 2) != 0)) {
        tm_out_reset(&r->msg);
        tm_undo_describe(&r->msg, e);
        tm_out_putc(&r->msg, '\0');
        char what[600];
        snprintf(what, sizeof what, "undoing %s", tm_out_data(&r->msg, &len));
        set_pg_error(r->err, what, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    bool fk = state && !strcmp(state, "23503");
    if (exec_ok(r, "ROLLBACK TO SAVEPOINT tidemark_undo; RELEASE SAVEPOINT tidemark_undo") != 0) {
        PQclear(res);
        return -1;
    }
    if (fk && !report_fk) {
        PQclear(res);
        return TM_UNDO_FAILED;
    }
    const char *pgmsg = state ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *why;
    if (fk)
        why = "a foreign key stops it";
    else if (state)
        why = "the database refuses it";
    else if (e->has_before && !e->has_after)
        why = tm_undo_entry_reused(e) ? "its key was inserted again later (key reuse), so the "
                                        "deleted row cannot come back"
                                      : "its key (or another unique value) is taken";
    else
        why = "the row no longer looks as the undone transaction(s) left it";
    conflict_line(r, e, why, pgmsg);
    PQclear(res);
    return TM_UNDO_CONFLICT;
}

long tm_undo_apply(const tm_undo_apply_opts *o, const tm_undo_entry **es, size_t n, int *status,
                   bool *committed, tm_error *err)
{
    *committed = false;
    run r = {.err = err};
    r.c = PQconnectdb(o->conninfo);
    if (PQstatus(r.c) != CONNECTION_OK) {
        set_pg_error(err, "cannot connect to the --apply database", PQerrorMessage(r.c));
        PQfinish(r.c);
        return -1;
    }
    long conflicts = -1;
    if (tm_out_init_mem(&r.sql, err) != 0)
        goto out_conn;
    if (tm_out_init_mem(&r.msg, err) != 0)
        goto out_sql;
    if (PQsetClientEncoding(r.c, "UTF8") != 0) {
        set_pg_error(err, "setting client_encoding", PQerrorMessage(r.c));
        goto out;
    }
    if (exec_ok(&r, "SET standard_conforming_strings = on") != 0 || exec_ok(&r, "BEGIN") != 0 ||
        exec_ok(&r, TM_UNDO_SESSION_SQL) != 0)
        goto out;
    long nconf = 0;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        int s = one(&r, es[i], false);
        if (s < 0)
            goto rollback;
        status[i] = s;
        nconf += s == TM_UNDO_CONFLICT;
        pending += s == TM_UNDO_FAILED;
    }
    /* Foreign-key failures: retry while some succeed, then report. */
    for (bool progress = true; pending && progress;) {
        progress = false;
        for (size_t i = 0; i < n; i++) {
            if (status[i] != TM_UNDO_FAILED)
                continue;
            int s = one(&r, es[i], false);
            if (s < 0)
                goto rollback;
            if (s != TM_UNDO_FAILED) {
                status[i] = s;
                pending--;
                progress = true;
                nconf += s == TM_UNDO_CONFLICT;
            }
        }
    }
    for (size_t i = 0; i < n && pending; i++)
        if (status[i] == TM_UNDO_FAILED) {
            int s = one(&r, es[i], true);
            if (s < 0)
                goto rollback;
            status[i] = s == TM_UNDO_DONE ? TM_UNDO_DONE : TM_UNDO_CONFLICT;
            nconf += s != TM_UNDO_DONE;
        }
    if (o->dry_run || (nconf && !o->skip)) {
        if (exec_ok(&r, "ROLLBACK") != 0)
            goto out;
    } else {
        if (exec_ok(&r, "COMMIT") != 0)
            goto out;
        *committed = true;
    }
    conflicts = nconf;
    goto out;
rollback:
    PQclear(PQexec(r.c, "ROLLBACK"));
out:
    tm_out_free(&r.msg);
out_sql:
    tm_out_free(&r.sql);
out_conn:
    PQfinish(r.c);
    return conflicts;
}
