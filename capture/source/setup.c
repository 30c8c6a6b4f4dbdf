#include "capture/source/setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/log.h"
#include "store/common/lsn.h"
#include "capture/source/source.h"

int tm_oidlist_add(tm_oidlist *l, uint32_t oid)
{
    for (int i = 0; i < l->n; i++)
        if (l->oids[i] == oid)
            return 0;
    uint32_t *grown = realloc(l->oids, (size_t)(l->n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    l->oids = grown;
    l->oids[l->n++] = oid;
    return 0;
}

void tm_oidlist_free(tm_oidlist *l)
{
    free(l->oids);
    l->oids = NULL;
    l->n = 0;
}

bool tm_oidlist_has(const tm_oidlist *l, uint32_t oid)
{
    for (int i = 0; i < l->n; i++)
        if (l->oids[i] == oid)
            return true;
    return false;
}

/* "a, b, c" of the qualified names of oids, quoted for SQL. */
static char *table_list_sql(PGconn *sql, const tm_oidlist *l, tm_error *err)
{
    size_t cap = 256, len = 0;
    char *out = malloc(cap);
    if (!out)
        goto oom;
    out[0] = '\0';
    for (int i = 0; i < l->n; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "%u", l->oids[i]);
        const char *p[] = {oid};
        PGresult *r =
            PQexecParams(sql, "SELECT $1::oid::regclass::text", 1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            tm_error_setc(err, TM_ERR_DB, "%s", PQresultErrorMessage(r));
            PQclear(r);
            free(out);
            return NULL;
        }
        const char *name = PQgetvalue(r, 0, 0);
        size_t need = len + strlen(name) + 3;
        if (need > cap) {
            char *grown = realloc(out, need * 2);
            if (!grown) {
                PQclear(r);
                free(out);
                goto oom;
            }
            out = grown;
            cap = need * 2;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", name);
        PQclear(r);
    }
    return out;
oom:
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
    return NULL;
}

static int virtual_identity_check(PGconn *sql, const tm_oidlist *tables, tm_error *err);

#define PUBLICATION_TABLES_SQL                                                                     \
    "SELECT format('%I.%I', schemaname, tablename)::regclass::oid "                                \
    "FROM pg_publication_tables WHERE pubname = $1"

int tm_publication_tables(PGconn *sql, const char *pub, tm_oidlist *out, tm_error *err)
{
    const char *p[] = {pub};
    PGresult *r = PQexecParams(sql, PUBLICATION_TABLES_SQL, 1, NULL, p, NULL, NULL, 0);
    int rc = tm_publication_tables_read(r, pub, out, err);
    PQclear(r);
    return rc;
}

int tm_publication_tables_send(PGconn *sql, const char *pub)
{
    const char *p[] = {pub};
    return PQsendQueryParams(sql, PUBLICATION_TABLES_SQL, 1, NULL, p, NULL, NULL, 0) ? 0 : -1;
}

int tm_publication_tables_read(const PGresult *r, const char *pub, tm_oidlist *out, tm_error *err)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "reading the tables of publication %s: %s", pub,
                      PQresultErrorMessage(r));
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++)
        if (tm_oidlist_add(out, (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10)) != 0) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return -1;
        }
    return 0;
}

int tm_publication_add(PGconn *sql, const char *pub, const tm_oidlist *want, tm_error *err)
{
    tm_oidlist have = {0}, add = {0};
    int rc = -1;
    if (tm_publication_tables(sql, pub, &have, err) != 0)
        goto out;
    for (int i = 0; i < want->n; i++)
        if (!tm_oidlist_has(&have, want->oids[i]) && tm_oidlist_add(&add, want->oids[i]) != 0) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            goto out;
        }
    rc = 0;
    if (add.n == 0)
        goto out;
    rc = -1;
    if (virtual_identity_check(sql, &add, err) != 0)
        goto out;
    char *list = table_list_sql(sql, &add, err);
    char *ident = PQescapeIdentifier(sql, pub, strlen(pub));
    rc = -1;
    if (list && ident) {
        size_t n = strlen(list) + strlen(ident) + 64;
        char *stmt = malloc(n);
        if (stmt) {
            snprintf(stmt, n, "ALTER PUBLICATION %s ADD TABLE %s", ident, list);
            rc = tm_source_exec(sql, stmt, err);
            if (rc != 0)
                tm_error_prefix(err,
                                "adding %s to publication \"%s\" (its owner or a superuser can: "
                                "ALTER PUBLICATION %s ADD TABLE %s)",
                                list, pub, ident, list);
            else
                tm_log_info("added %s to publication \"%s\"", list, pub);
            free(stmt);
        }
    }
    free(list);
    if (ident)
        PQfreemem(ident);
out:
    tm_oidlist_free(&have);
    tm_oidlist_free(&add);
    return rc;
}

/* PostgreSQL 18 refuses UPDATE and DELETE on a published table whose
 * replica identity holds a column that cannot be published: with REPLICA
 * IDENTITY FULL, any virtual generated column. Publishing such a table
 * would break the application's writes, so it is refused beforehand. */
static int virtual_identity_check(PGconn *sql, const tm_oidlist *tables, tm_error *err)
{
    for (int i = 0; i < tables->n; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "%u", tables->oids[i]);
        const char *p[] = {oid};
        PGresult *r =
            PQexecParams(sql,
                         "SELECT c.oid::regclass::text, string_agg(quote_ident(a.attname), ', '"
                         "                                         ORDER BY a.attnum)"
                         "  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
                         " WHERE c.oid = $1 AND c.relreplident = 'f' AND a.attgenerated = 'v'"
                         "   AND NOT a.attisdropped GROUP BY c.oid",
                         1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            tm_error_setc(err, TM_ERR_DB, "reading the columns of relation %s: %s", oid,
                          PQresultErrorMessage(r));
            PQclear(r);
            return -1;
        }
        if (PQntuples(r) == 1) {
            tm_error_set(err,
                         "%s has REPLICA IDENTITY FULL and virtual generated column(s) %s, which "
                         "no publication can carry: once it is published, PostgreSQL refuses its "
                         "UPDATEs and DELETEs. Capture it with the primary key as replica "
                         "identity (ALTER TABLE %s REPLICA IDENTITY DEFAULT)",
                         PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0));
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return 0;
}

/* From PostgreSQL 18 on pgoutput sends stored generated columns when the
 * publication says publish_generated_columns = stored, and the catalog
 * (catalog.c) counts on it there: a publication that does not is refused
 * when a captured table has one, with the statement that fixes it. Virtual
 * generated columns are never sent; the journal records them as
 * unpublished. */
static int generated_columns_check(PGconn *sql, const char *pub, const tm_oidlist *tables,
                                   tm_error *err)
{
    if (PQserverVersion(sql) < 180000 || tables->n == 0)
        return 0;
    char *list = malloc((size_t)tables->n * 12 + 3);
    if (!list) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    size_t len = (size_t)sprintf(list, "{");
    for (int i = 0; i < tables->n; i++)
        len += (size_t)sprintf(list + len, "%s%u", i ? "," : "", tables->oids[i]);
    sprintf(list + len, "}");
    const char *p[] = {pub, list};
    PGresult *r = PQexecParams(
        sql,
        "SELECT string_agg(format('%s.%I', a.attrelid::regclass, a.attname), ', '"
        "                  ORDER BY a.attrelid, a.attnum)"
        "  FROM pg_attribute a, pg_publication p"
        " WHERE p.pubname = $1 AND p.pubgencols <> 's' AND a.attrelid = ANY ($2::oid[])"
        "   AND a.attgenerated = 's' AND NOT a.attisdropped",
        2, NULL, p, NULL, NULL, 0);
    free(list);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "reading publication %s: %s", pub, PQresultErrorMessage(r));
        rc = -1;
    } else if (!PQgetisnull(r, 0, 0)) {
        tm_error_set(err,
                     "publication \"%s\" does not publish stored generated columns, so their "
                     "values (%s) would be missing from the journal; its owner can publish them: "
                     "ALTER PUBLICATION %s SET (publish_generated_columns = stored)",
                     pub, PQgetvalue(r, 0, 0), pub);
        rc = -1;
    }
    PQclear(r);
    return rc;
}

int tm_publication_ensure(PGconn *sql, const char *pub, tm_oidlist *want, tm_error *err)
{
    const char *p[] = {pub};
    PGresult *r = PQexecParams(sql,
                               "SELECT puballtables, pubinsert AND pubupdate AND pubdelete AND "
                               "pubtruncate FROM pg_publication WHERE pubname = $1",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "reading publication %s: %s", pub, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        if (want->n == 0) {
            tm_error_set(err,
                         "publication \"%s\" does not exist and no --table was given; name "
                         "the tables to capture with --table SCHEMA.NAME",
                         pub);
            return -1;
        }
        if (virtual_identity_check(sql, want, err) != 0)
            return -1;
        char *list = table_list_sql(sql, want, err);
        if (!list)
            return -1;
        char *ident = PQescapeIdentifier(sql, pub, strlen(pub));
        size_t n = strlen(list) + strlen(ident) + 128;
        char *stmt = malloc(n);
        /* 18 publishes stored generated columns only when asked. */
        snprintf(stmt, n, "CREATE PUBLICATION %s FOR TABLE %s%s", ident, list,
                 PQserverVersion(sql) >= 180000 ? " WITH (publish_generated_columns = stored)"
                                                : "");
        int rc = tm_source_exec(sql, stmt, err);
        if (rc != 0)
            tm_error_prefix(err,
                            "creating publication \"%s\" (a superuser or the tables' owner "
                            "can create it: CREATE PUBLICATION %s FOR TABLE %s)",
                            pub, ident, list);
        free(stmt);
        free(list);
        PQfreemem(ident);
        return rc;
    }
    bool all_tables = PQgetvalue(r, 0, 0)[0] == 't';
    bool all_ops = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    if (!all_ops) {
        tm_error_set(err,
                     "publication \"%s\" does not publish every operation; tidemark needs "
                     "insert, update, delete and truncate (ALTER PUBLICATION %s SET "
                     "(publish = 'insert, update, delete, truncate'))",
                     pub, pub);
        return -1;
    }
    if (all_tables) {
        tm_error_set(err,
                     "publication \"%s\" is FOR ALL TABLES; tidemark captures chosen tables: "
                     "use a publication of its own (--publication NAME)",
                     pub);
        return -1;
    }
    tm_oidlist have = {0};
    if (tm_publication_tables(sql, pub, &have, err) != 0)
        return -1;
    if (want->n == 0) {
        *want = have;
        if (virtual_identity_check(sql, want, err) != 0)
            return -1;
        return generated_columns_check(sql, pub, want, err);
    }
    bool same = have.n == want->n;
    for (int i = 0; same && i < want->n; i++)
        same = tm_oidlist_has(&have, want->oids[i]);
    if (!same) {
        char *hl = table_list_sql(sql, &have, err), *wl = table_list_sql(sql, want, err);
        tm_error_set(err,
                     "publication \"%s\" publishes (%s) but capture was asked for (%s); "
                     "use another --publication, or change it with ALTER PUBLICATION",
                     pub, hl ? hl : "?", wl ? wl : "?");
        free(hl);
        free(wl);
        tm_oidlist_free(&have);
        return -1;
    }
    tm_oidlist_free(&have);
    if (virtual_identity_check(sql, want, err) != 0)
        return -1;
    return generated_columns_check(sql, pub, want, err);
}

int tm_replica_identity_check(PGconn *sql, const tm_oidlist *tables, bool set_full, tm_error *err)
{
    for (int i = 0; i < tables->n; i++) {
        char oid[16];
        snprintf(oid, sizeof oid, "%u", tables->oids[i]);
        const char *p[] = {oid};
        PGresult *r = PQexecParams(sql,
                                   "SELECT relreplident, $1::oid::regclass::text,"
                                   "       (SELECT string_agg(quote_ident(attname), ', ')"
                                   "          FROM pg_attribute WHERE attrelid = $1"
                                   "           AND attgenerated = 'v' AND NOT attisdropped),"
                                   /* the generated columns pgoutput does not send */
                                   "       (SELECT string_agg(format('\"%s\" (%s)', attname,"
                                   "               CASE attgenerated WHEN 'v' THEN 'virtual'"
                                   "                    ELSE 'stored' END), ', ' ORDER BY attnum)"
                                   "          FROM pg_attribute WHERE attrelid = $1"
                                   "           AND attgenerated <> '' AND NOT attisdropped"
                                   "           AND (attgenerated = 'v' OR"
                                   "                current_setting('server_version_num')::int"
                                   "                < 180000))"
                                   "  FROM pg_class WHERE oid = $1",
                                   1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            tm_error_setc(err, TM_ERR_DB, "reading the replica identity of relation %s: %s", oid,
                          PQresultErrorMessage(r));
            PQclear(r);
            return -1;
        }
        char ident = PQgetvalue(r, 0, 0)[0];
        char name[300], virt[300];
        snprintf(name, sizeof name, "%s", PQgetvalue(r, 0, 1));
        snprintf(virt, sizeof virt, "%s", PQgetvalue(r, 0, 2));
        if (!PQgetisnull(r, 0, 3))
            tm_log_warning("%s: generated column(s) %s are not sent by pgoutput (virtual ones "
                           "never, stored ones before PostgreSQL 18): the journal records how "
                           "they are computed but no values; replay in CSV and JSON lines lacks "
                           "them and says so, replay --create-tables recreates them for the "
                           "target to compute",
                           name, PQgetvalue(r, 0, 3));
        PQclear(r);
        if (ident == 'f')
            continue;
        if (virt[0]) { /* FULL would break its writes (virtual_identity_check) */
            tm_log_warning("%s has REPLICA IDENTITY %s, not FULL, and must keep it: with its "
                           "virtual generated column(s) %s, PostgreSQL refuses UPDATE and DELETE "
                           "on a published table of REPLICA IDENTITY FULL. Its deletes and "
                           "updates carry only the key of the old row, so undo and the old values "
                           "in log are missing for them",
                           name,
                           ident == 'd'   ? "DEFAULT"
                           : ident == 'n' ? "NOTHING"
                                          : "USING INDEX",
                           virt);
        } else if (set_full) {
            char stmt[400];
            snprintf(stmt, sizeof stmt, "ALTER TABLE %s REPLICA IDENTITY FULL", name);
            if (tm_source_exec(sql, stmt, err) != 0) {
                tm_error_prefix(err, "setting REPLICA IDENTITY FULL on %s", name);
                return -1;
            }
            tm_log_info("set REPLICA IDENTITY FULL on %s", name);
        } else {
            tm_log_warning("%s has REPLICA IDENTITY %s, not FULL: its deletes and updates will not "
                           "carry the whole old row, so undo and the old values in log will be "
                           "missing for them. Fix: ALTER TABLE %s REPLICA IDENTITY FULL (or run "
                           "capture with --set-replica-identity-full)",
                           name,
                           ident == 'd'   ? "DEFAULT"
                           : ident == 'n' ? "NOTHING"
                                          : "USING INDEX",
                           name);
        }
    }
    return 0;
}

/* Columns newer than 14 are read through to_jsonb: absent is NULL. The
 * server's position and the setting come in the same row, slot or not. */
#define SLOT_INFO_SQL                                                                              \
    "SELECT coalesce(slot_type = 'logical' AND plugin = 'pgoutput', false), "                      \
    "coalesce(database, ''), coalesce(wal_status, ''), confirmed_flush_lsn, "                      \
    "coalesce(active_pid, 0), slot_type, coalesce(plugin, ''), "                                   \
    "coalesce(to_jsonb(s)->>'invalidation_reason', CASE WHEN "                                     \
    "(to_jsonb(s)->>'conflicting')::bool THEN 'a conflict with recovery' END, ''), "               \
    "s.slot_name IS NOT NULL, CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "        \
    "ELSE pg_current_wal_lsn() END, restart_lsn, safe_wal_size, "                                  \
    "(SELECT CASE WHEN setting::bigint < 0 THEN -1 ELSE setting::bigint * 1048576 END "            \
    "FROM pg_settings WHERE name = 'max_slot_wal_keep_size') "                                     \
    "FROM (SELECT $1::name AS want) w LEFT JOIN pg_replication_slots s ON s.slot_name = "          \
    "w.want"

int tm_slot_info_send(PGconn *sql, const char *slot)
{
    const char *p[] = {slot};
    return PQsendQueryParams(sql, SLOT_INFO_SQL, 1, NULL, p, NULL, NULL, 0) ? 0 : -1;
}

int tm_slot_info_parse(const PGresult *r, const char *slot, tm_slot_info *info, tm_error *err)
{
    memset(info, 0, sizeof *info);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        tm_error_setc(err, TM_ERR_DB, "reading slot %s: %s", slot, PQresultErrorMessage(r));
        return -1;
    }
    if (!PQgetisnull(r, 0, 9))
        tm_lsn_parse(PQgetvalue(r, 0, 9), &info->server_lsn);
    info->max_keep_bytes = PQgetisnull(r, 0, 12) ? -1 : strtoll(PQgetvalue(r, 0, 12), NULL, 10);
    if (PQgetvalue(r, 0, 8)[0] == 't') {
        info->exists = true;
        info->logical_pgoutput = PQgetvalue(r, 0, 0)[0] == 't';
        snprintf(info->database, sizeof info->database, "%s", PQgetvalue(r, 0, 1));
        snprintf(info->wal_status, sizeof info->wal_status, "%s", PQgetvalue(r, 0, 2));
        if (!PQgetisnull(r, 0, 3))
            tm_lsn_parse(PQgetvalue(r, 0, 3), &info->confirmed_flush_lsn);
        info->active_pid = atoi(PQgetvalue(r, 0, 4));
        snprintf(info->type, sizeof info->type, "%s", PQgetvalue(r, 0, 5));
        snprintf(info->plugin, sizeof info->plugin, "%s", PQgetvalue(r, 0, 6));
        snprintf(info->invalidated, sizeof info->invalidated, "%s", PQgetvalue(r, 0, 7));
        if (!PQgetisnull(r, 0, 10))
            tm_lsn_parse(PQgetvalue(r, 0, 10), &info->restart_lsn);
        info->has_safe_wal_size = !PQgetisnull(r, 0, 11);
        if (info->has_safe_wal_size)
            info->safe_wal_size = strtoll(PQgetvalue(r, 0, 11), NULL, 10);
    }
    return 0;
}

int tm_slot_info_get(PGconn *sql, const char *slot, tm_slot_info *info, tm_error *err)
{
    const char *p[] = {slot};
    PGresult *r = PQexecParams(sql, SLOT_INFO_SQL, 1, NULL, p, NULL, NULL, 0);
    int rc = tm_slot_info_parse(r, slot, info, err);
    PQclear(r);
    return rc;
}

/* The one value of a query without parameters, copied into out. */
static int query_value(PGconn *sql, const char *q, char *out, size_t len, tm_error *err)
{
    PGresult *r = PQexec(sql, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        tm_error_setc(err, TM_ERR_DB, "%s: %s", q,
                      PQresultStatus(r) == PGRES_TUPLES_OK ? "no value" : PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int tm_server_wal_lsn(PGconn *sql, uint64_t *lsn, tm_error *err)
{
    char v[64];
    if (query_value(sql,
                    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE "
                    "pg_current_wal_lsn() END",
                    v, sizeof v, err) != 0)
        return -1;
    if (tm_lsn_parse(v, lsn) != 0) {
        tm_error_setc(err, TM_ERR_FORMAT, "the server's WAL position \"%s\" does not parse", v);
        return -1;
    }
    return 0;
}

int tm_server_setting_ms(PGconn *sql, const char *name, int64_t *ms, tm_error *err)
{
    const char *p[] = {name};
    PGresult *r = PQexecParams(sql,
                               "SELECT setting::bigint * CASE unit WHEN 's' THEN 1000 WHEN 'min' "
                               "THEN 60000 ELSE 1 END FROM pg_settings WHERE name = $1",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        tm_error_setc(err, TM_ERR_DB, "reading the setting %s: %s", name,
                      PQresultStatus(r) == PGRES_TUPLES_OK ? "no such setting"
                                                           : PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    *ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

int tm_slot_drop(PGconn *sql, const char *slot, tm_error *err)
{
    const char *p[] = {slot};
    PGresult *r =
        PQexecParams(sql, "SELECT pg_drop_replication_slot($1)", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "dropping replication slot \"%s\": %s", slot,
                      PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

int tm_slot_create_sql(int server_version, const char *ident, unsigned flags, char *out, size_t len,
                       tm_error *err)
{
    if ((flags & TM_SLOT_FAILOVER) && server_version < 170000) {
        tm_error_setc(err, TM_ERR_DB, "a failover slot needs PostgreSQL 17 or later");
        return -1;
    }
    int n = snprintf(out, len, "CREATE_REPLICATION_SLOT %s %sLOGICAL pgoutput %s", ident,
                     (flags & TM_SLOT_TEMPORARY) ? "TEMPORARY " : "",
                     server_version < 150000      ? "EXPORT_SNAPSHOT"
                     : (flags & TM_SLOT_FAILOVER) ? "(SNAPSHOT 'export', FAILOVER true)"
                                                  : "(SNAPSHOT 'export')");
    if (n < 0 || (size_t)n >= len) {
        tm_error_setc(err, TM_ERR_FORMAT, "the slot name %s is too long", ident);
        return -1;
    }
    return 0;
}

int tm_slot_create(PGconn *repl, const char *slot, unsigned flags, uint64_t *consistent_lsn,
                   char *snapshot, size_t snaplen, tm_error *err)
{
    char *ident = PQescapeIdentifier(repl, slot, strlen(slot));
    if (!ident) {
        tm_error_setc(err, TM_ERR_NOMEM, "quoting the slot name: %s", PQerrorMessage(repl));
        return -1;
    }
    char stmt[512];
    int rc = tm_slot_create_sql(PQserverVersion(repl), ident, flags, stmt, sizeof stmt, err);
    PQfreemem(ident);
    if (rc != 0)
        return -1;
    PGresult *r = PQexec(repl, stmt);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        /* On a standby the primary's wal_level is known only to the server. */
        const char *m = PQresultErrorMessage(r);
        int ml = (int)strcspn(m, "\n");
        tm_error_setc(err, TM_ERR_DB, "creating replication slot \"%s\": %.*s%s", slot, ml, m,
                      strstr(m, "wal_level") && strstr(m, "primary")
                          ? "; set wal_level = logical in the primary's postgresql.conf and "
                            "restart it, then wait until the standby has replayed that"
                          : "");
        PQclear(r);
        return -1;
    }
    rc = tm_lsn_parse(PQgetvalue(r, 0, 1), consistent_lsn);
    snprintf(snapshot, snaplen, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    if (rc != 0) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "the server returned an unreadable consistent point for slot %s", slot);
        return -1;
    }
    return 0;
}
