#include "capture/source/standby.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/log.h"

#define HOSTS_MAX 16

/* The settings read at once from pg_settings (superuser-only ones a role
 * may not read are simply absent: unknown, not checked). */
typedef struct settings {
    char wal_level[32];
    char feedback[8];        /* hot_standby_feedback */
    char primary_slot[128];  /* primary_slot_name; "" unset */
    char sync_slots[8];      /* sync_replication_slots (17+) */
    char standby_slots[512]; /* synchronized_standby_slots (17+) */
    char primary_conninfo[1024];
    bool have_conninfo;
} settings;

static int read_settings(PGconn *c, settings *s, tm_error *err)
{
    memset(s, 0, sizeof *s);
    PGresult *r =
        PQexec(c, "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', "
                  "'hot_standby_feedback', 'primary_slot_name', 'sync_replication_slots', "
                  "'synchronized_standby_slots', 'primary_conninfo')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "reading the source's settings: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *n = PQgetvalue(r, i, 0), *v = PQgetvalue(r, i, 1);
        if (!strcmp(n, "wal_level"))
            snprintf(s->wal_level, sizeof s->wal_level, "%s", v);
        else if (!strcmp(n, "hot_standby_feedback"))
            snprintf(s->feedback, sizeof s->feedback, "%s", v);
        else if (!strcmp(n, "primary_slot_name"))
            snprintf(s->primary_slot, sizeof s->primary_slot, "%s", v);
        else if (!strcmp(n, "sync_replication_slots"))
            snprintf(s->sync_slots, sizeof s->sync_slots, "%s", v);
        else if (!strcmp(n, "synchronized_standby_slots"))
            snprintf(s->standby_slots, sizeof s->standby_slots, "%s", v);
        else if (!strcmp(n, "primary_conninfo")) {
            snprintf(s->primary_conninfo, sizeof s->primary_conninfo, "%s", v);
            s->have_conninfo = true;
        }
    }
    PQclear(r);
    return 0;
}

static int in_recovery(PGconn *c, bool *yes, tm_error *err)
{
    PGresult *r = PQexec(c, "SELECT pg_is_in_recovery()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        tm_error_setc(err, TM_ERR_DB, "asking the source whether it is a standby: %s",
                      PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    *yes = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

/* Whether name is one of the comma-separated (maybe quoted) names in list. */
static bool list_has(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',' || *p == '"')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != '"' && *e != ' ')
            e++;
        if ((size_t)(e - p) == len && len && !strncmp(p, name, len))
            return true;
        p = e;
    }
    return false;
}

/* On a standby: what logical decoding there needs. */
static int check_on_standby(PGconn *sql, const tm_role_want *want, tm_error *err)
{
    int v = PQserverVersion(sql);
    if (v < 160000) {
        tm_error_setc(
            err, TM_ERR_DB,
            "the source is a hot standby (in recovery) running PostgreSQL %d, and logical "
            "decoding on a standby needs PostgreSQL 16 or later: capture from the "
            "primary instead",
            v / 10000);
        return -1;
    }
    if (want->failover) {
        tm_error_setc(err, TM_ERR_USAGE,
                      "--failover-slot: the source is a standby, and a failover slot is created "
                      "on the primary and synchronised to the standbys (sync_replication_slots = "
                      "on there): point --source at the primary, or at every server with "
                      "target_session_attrs=read-write");
        return -1;
    }
    if (want->set_ri_full) {
        tm_error_setc(err, TM_ERR_USAGE,
                      "--set-replica-identity-full: the source is a standby, which is read-only: "
                      "run ALTER TABLE ... REPLICA IDENTITY FULL on the primary instead");
        return -1;
    }
    settings s;
    if (read_settings(sql, &s, err) != 0)
        return -1;
    if (s.wal_level[0] && strcmp(s.wal_level, "logical")) {
        tm_error_setc(err, TM_ERR_DB,
                      "wal_level is %s on the standby: logical decoding there needs wal_level = "
                      "logical on the standby and on the primary (set it in postgresql.conf and "
                      "restart each)",
                      s.wal_level);
        return -1;
    }
    if (s.feedback[0] && strcmp(s.feedback, "on")) {
        tm_error_setc(err, TM_ERR_DB,
                      "hot_standby_feedback is off on the standby: without it the primary removes "
                      "catalog rows the slot still needs, and the server invalidates the slot; set "
                      "it on the standby (ALTER SYSTEM SET hot_standby_feedback = on; SELECT "
                      "pg_reload_conf())");
        return -1;
    }
    if (!s.primary_slot[0])
        tm_log_warning("the standby streams without a physical slot on the primary "
                       "(primary_slot_name is not set): while it is disconnected or restarting, "
                       "the primary may remove catalog rows the slot needs and the slot is then "
                       "invalidated; create one on the primary "
                       "(pg_create_physical_replication_slot) and set primary_slot_name");
    if (want->publication) {
        const char *p[] = {want->publication};
        PGresult *r = PQexecParams(sql, "SELECT count(*) FROM pg_publication WHERE pubname = $1", 1,
                                   NULL, p, NULL, NULL, 0);
        int there = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
        PQclear(r);
        if (there == 0) {
            tm_error_setc(err, TM_ERR_DB,
                          "publication \"%s\" does not exist on the standby, and it cannot be "
                          "created there (recovery is read-only): create it on the primary "
                          "(CREATE PUBLICATION %s FOR TABLE ...), then run capture again once the "
                          "standby has replayed it",
                          want->publication, want->publication);
            return -1;
        }
    }
    if (want->slot && v >= 170000) {
        const char *p[] = {want->slot};
        PGresult *r = PQexecParams(sql,
                                   "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                                   "$1 AND synced",
                                   1, NULL, p, NULL, NULL, 0);
        int synced = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
        if (synced) {
            tm_error_setc(err, TM_ERR_DB,
                          "replication slot \"%s\" on this standby is the synchronised copy of "
                          "the primary's failover slot, which can be read only once the standby "
                          "is promoted: point --source at the primary, or at every server with "
                          "target_session_attrs=read-write",
                          want->slot);
            return -1;
        }
    }
    tm_log_info("the source is a hot standby: the slot lives there; creating it waits for the "
                "primary's next running-transactions record (up to 15 s; SELECT "
                "pg_log_standby_snapshot() on the primary hastens it)");
    return 0;
}

/* The synchronized_standby_slots of the primary must name physical slots
 * that exist there; a standby on one that sends no feedback is said. */
static int check_standby_slots(PGconn *sql, const char *list, tm_error *err)
{
    char names[512];
    snprintf(names, sizeof names, "%s", list);
    for (char *save = NULL, *n = strtok_r(names, ", \"", &save); n;
         n = strtok_r(NULL, ", \"", &save)) {
        const char *p[] = {n};
        PGresult *r = PQexecParams(
            sql,
            "SELECT slot_type, active, xmin IS NOT NULL OR catalog_xmin IS NOT NULL FROM "
            "pg_replication_slots WHERE slot_name = $1",
            1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            tm_error_setc(err, TM_ERR_DB, "reading slot %s: %s", n, PQresultErrorMessage(r));
            PQclear(r);
            return -1;
        }
        if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "physical")) {
            tm_error_setc(err, TM_ERR_DB,
                          "synchronized_standby_slots names \"%s\", which is no physical slot on "
                          "the source: logical walsenders would wait for it forever; create it "
                          "(SELECT pg_create_physical_replication_slot('%s')) and have the "
                          "standby use it (primary_slot_name), or remove it from the setting",
                          n, n);
            PQclear(r);
            return -1;
        }
        if (PQgetvalue(r, 0, 1)[0] == 't' && PQgetvalue(r, 0, 2)[0] != 't')
            tm_log_warning("the standby on physical slot \"%s\" sends no hot_standby_feedback, "
                           "which slot synchronisation needs: set hot_standby_feedback = on on "
                           "it",
                           n);
        PQclear(r);
    }
    return 0;
}

/* The hosts (and ports, hostaddrs) of a conninfo, split at commas. */
typedef struct hostlist {
    char buf[3][1024];
    const char *host[HOSTS_MAX], *port[HOSTS_MAX], *addr[HOSTS_MAX];
    int n;
    bool read_write; /* target_session_attrs makes libpq pick the primary */
} hostlist;

static int split(char *s, const char **out)
{
    int n = 0;
    for (char *p = s; n < HOSTS_MAX;) {
        out[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static void parse_hosts(const char *conninfo, hostlist *h)
{
    memset(h, 0, sizeof *h);
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    if (!opts)
        return;
    int nh = 0, np = 0, na = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "host")) {
            snprintf(h->buf[0], sizeof h->buf[0], "%s", o->val);
            nh = split(h->buf[0], h->host);
        } else if (!strcmp(o->keyword, "port")) {
            snprintf(h->buf[1], sizeof h->buf[1], "%s", o->val);
            np = split(h->buf[1], h->port);
        } else if (!strcmp(o->keyword, "hostaddr")) {
            snprintf(h->buf[2], sizeof h->buf[2], "%s", o->val);
            na = split(h->buf[2], h->addr);
        } else if (!strcmp(o->keyword, "target_session_attrs")) {
            h->read_write = !strcmp(o->val, "read-write") || !strcmp(o->val, "primary");
        }
    }
    PQconninfoFree(opts);
    h->n = nh > na ? nh : na;
    for (int i = 0; i < h->n; i++) {
        if (i >= nh)
            h->host[i] = NULL;
        if (i >= na)
            h->addr[i] = NULL;
        /* one port for every host, or one each */
        h->port[i] = np == 1 ? h->port[0] : i < np ? h->port[i] : NULL;
    }
}

/* One standby named in the conninfo: what slot synchronisation needs
 * there, said as warnings (it may be down or not be a standby at all). */
static void check_peer(const char *conninfo, const hostlist *h, int i, const char *standby_slots)
{
    const char *keys[8] = {"dbname"}, *vals[8] = {conninfo};
    int n = 1;
    if (h->host[i] && h->host[i][0]) {
        keys[n] = "host";
        vals[n++] = h->host[i];
    }
    if (h->addr[i] && h->addr[i][0]) {
        keys[n] = "hostaddr";
        vals[n++] = h->addr[i];
    }
    if (h->port[i] && h->port[i][0]) {
        keys[n] = "port";
        vals[n++] = h->port[i];
    }
    keys[n] = "target_session_attrs";
    vals[n++] = "any";
    keys[n] = "connect_timeout";
    vals[n++] = "5";
    keys[n] = vals[n] = NULL;
    const char *name = h->host[i] && h->host[i][0] ? h->host[i] : h->addr[i] ? h->addr[i] : "?";
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    bool standby = false;
    settings s;
    tm_error e;
    if (PQstatus(c) != CONNECTION_OK || in_recovery(c, &standby, &e) != 0 ||
        read_settings(c, &s, &e) != 0) {
        /* libpq's first line says why (never a password) */
        const char *why = PQerrorMessage(c);
        int wl = (int)strcspn(why, "\n");
        tm_log_warning("--failover-slot: cannot check server %s:%s named in --source (%.*s): "
                       "whether it synchronises the slot is not known",
                       name, h->port[i] ? h->port[i] : "", wl, why);
        PQfinish(c);
        return;
    }
    if (!standby) {
        PQfinish(c);
        return;
    }
    char what[1024] = "";
    size_t len = 0;
#define MISSING(...)                                                                               \
    len += (size_t)snprintf(what + len, len < sizeof what ? sizeof what - len : 0, __VA_ARGS__)
    if (PQserverVersion(c) < 170000)
        MISSING("; it runs PostgreSQL %d, which cannot synchronise slots (17 or later)",
                PQserverVersion(c) / 10000);
    if (strcmp(s.sync_slots, "on"))
        MISSING("; set sync_replication_slots = on");
    if (strcmp(s.feedback, "on"))
        MISSING("; set hot_standby_feedback = on");
    if (s.wal_level[0] && strcmp(s.wal_level, "logical"))
        MISSING("; set wal_level = logical (a restart)");
    if (!s.primary_slot[0])
        MISSING("; set primary_slot_name to a physical slot on the primary");
    else if (!list_has(standby_slots, s.primary_slot))
        MISSING("; add its slot \"%s\" to synchronized_standby_slots on the primary",
                s.primary_slot);
    if (s.have_conninfo) {
        PQconninfoOption *o = PQconninfoParse(s.primary_conninfo, NULL);
        bool db = false;
        for (PQconninfoOption *p = o; p && p->keyword; p++)
            db |= !strcmp(p->keyword, "dbname") && p->val && p->val[0];
        if (o)
            PQconninfoFree(o);
        if (!db)
            MISSING("; add dbname=... to its primary_conninfo");
    }
#undef MISSING
    if (len)
        tm_log_warning("--failover-slot: standby %s:%s does not synchronise the slot, so after a "
                       "failover to it the slot is lost (a gap in the journal)%s",
                       name, h->port[i] ? h->port[i] : "", what);
    else
        tm_log_info("standby %s:%s synchronises failover slots", name,
                    h->port[i] ? h->port[i] : "");
    PQfinish(c);
}

/* On a primary, with --failover-slot. */
static int check_failover(PGconn *sql, const tm_role_want *want, tm_error *err)
{
    int v = PQserverVersion(sql);
    if (v < 170000) {
        tm_error_setc(err, TM_ERR_USAGE,
                      "--failover-slot needs PostgreSQL 17 or later, and the source runs %d: "
                      "before 17 a failover loses the slot (capture then records a gap, and "
                      "--reseed goes on with a new base snapshot)",
                      v / 10000);
        return -1;
    }
    settings s;
    if (read_settings(sql, &s, err) != 0)
        return -1;
    if (!s.standby_slots[0]) {
        tm_error_setc(err, TM_ERR_DB,
                      "--failover-slot: synchronized_standby_slots is not set on the source, so "
                      "capture could receive transactions a standby has not got, and after a "
                      "failover to it the journal would hold transactions the new primary lacks: "
                      "set it to the physical slot of each standby that may be promoted "
                      "(ALTER SYSTEM SET synchronized_standby_slots = 'standby1'; SELECT "
                      "pg_reload_conf())");
        return -1;
    }
    if (check_standby_slots(sql, s.standby_slots, err) != 0)
        return -1;
    hostlist h;
    parse_hosts(want->conninfo ? want->conninfo : "", &h);
    if (h.n < 2)
        tm_log_warning("--failover-slot: --source names one server, so after a failover capture "
                       "cannot find the promoted standby by itself: name every server "
                       "(host=a,b ... target_session_attrs=read-write)");
    else if (!h.read_write)
        tm_log_warning("--failover-slot: --source names several servers without "
                       "target_session_attrs=read-write, so after a failover capture may connect "
                       "to a standby, where the slot cannot be used");
    for (int i = 0; h.n > 1 && i < h.n; i++)
        check_peer(want->conninfo, &h, i, s.standby_slots);
    return 0;
}

int tm_source_check_role(PGconn *sql, const tm_role_want *want, bool *standby, tm_error *err)
{
    if (in_recovery(sql, standby, err) != 0)
        return -1;
    if (*standby)
        return check_on_standby(sql, want, err);
    return want->failover ? check_failover(sql, want, err) : 0;
}

int tm_slot_ensure_failover(PGconn *sql, PGconn *repl, const char *slot, tm_error *err)
{
    const char *p[] = {slot};
    PGresult *r =
        PQexecParams(sql, "SELECT failover FROM pg_replication_slots WHERE slot_name = $1", 1, NULL,
                     p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "reading slot %s: %s", slot, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    bool already = PQntuples(r) != 1 || PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (already)
        return 0;
    char *ident = PQescapeIdentifier(repl, slot, strlen(slot));
    char stmt[512];
    snprintf(stmt, sizeof stmt, "ALTER_REPLICATION_SLOT %s ( FAILOVER true )", ident ? ident : "");
    PQfreemem(ident);
    r = PQexec(repl, stmt);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        tm_error_setc(err, TM_ERR_DB, "making slot \"%s\" a failover slot: %s", slot,
                      PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    tm_log_info("--failover-slot: slot \"%s\" is now a failover slot (synchronised to the standbys "
                "that set sync_replication_slots = on)",
                slot);
    return 0;
}
