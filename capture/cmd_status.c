/* tidemark status: what a journal holds, and with --source how far behind
 * the server its slot is. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/source/setup.h"
#include "capture/source/source.h"
#include "store/cli/commands.h"
#include "store/common/inert.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"
#include "store/journal/journal.h"

enum { OPT_JOURNAL = 1, OPT_SOURCE };

static const tm_option options[] = {
    TM_OPTION_JOURNAL(OPT_JOURNAL),
    TM_OPTION_TEXT(OPT_SOURCE, "source", "CONNINFO",
                   "the capture source (libpq connection string or URI): also show the slot and "
                   "the lag"),
    {0},
};

static const tm_exit_code exits[] = {TM_EXIT_SUCCESS, TM_EXIT_FAILURE, TM_EXIT_USAGE, {0, NULL}};

static int cmd_status(int argc, char **argv);

const tm_command tm_cmd_status = {
    .name = "status",
    .summary = "show what a journal holds and how far behind its source it is",
    .synopsis = "--journal DIR [--source CONNINFO]",
    .description = "Shows the journal's source, its first and last commit, segments and bytes, "
                   "and the captured tables with their rows in the base snapshot. With --source, "
                   "also the slot's state, its confirmed position and the lag behind the server.",
    .options = options,
    .exits = exits,
    .run = cmd_status,
};

/* Names from the journal are printed inert (inert.h). */
#define INERT(s) tm_inert((s), (char[TM_INERT_SIZE(512)]){0}, TM_INERT_SIZE(512))

typedef struct table_rows {
    uint32_t oid;
    char name[300];
    uint64_t rows;
} table_rows;

typedef struct summary {
    uint64_t first_lsn, last_lsn, tx, changes;
    int64_t first_time, last_time;
    table_rows *tables;
    size_t ntables;
    uint64_t segments, bytes;
} summary;

static table_rows *table_for(summary *s, uint32_t oid)
{
    for (size_t i = 0; i < s->ntables; i++)
        if (s->tables[i].oid == oid)
            return &s->tables[i];
    table_rows *g = realloc(s->tables, (s->ntables + 1) * sizeof *g);
    if (!g)
        return NULL;
    s->tables = g;
    table_rows *t = &s->tables[s->ntables++];
    memset(t, 0, sizeof *t);
    t->oid = oid;
    snprintf(t->name, sizeof t->name, "oid %u", oid);
    return t;
}

static int summarise(const char *dir, summary *s, tm_error *err)
{
    tm_reader *r;
    if (tm_reader_open(dir, &r, err) != 0)
        return -1;
    const Tidemark__Record *rec;
    int rc;
    bool in_first_snapshot = false;
    uint64_t remaining = 0;
    while ((rc = tm_reader_next(r, &rec, err)) == 1) {
        switch (rec->body_case) {
        case TIDEMARK__RECORD__BODY_BEGIN:
            if (!s->first_lsn) {
                s->first_lsn = rec->begin->commit_lsn;
                s->first_time = rec->begin->commit_time;
                in_first_snapshot = rec->begin->snapshot;
            } else {
                in_first_snapshot = false;
                s->tx++;
                s->changes += rec->begin->n_records;
            }
            remaining = rec->begin->n_records;
            s->last_lsn = rec->begin->commit_lsn;
            s->last_time = rec->begin->commit_time;
            break;
        case TIDEMARK__RECORD__BODY_RELATION: {
            table_rows *t = table_for(s, rec->relation->oid);
            if (t)
                snprintf(t->name, sizeof t->name, "%s.%s", rec->relation->namespace_,
                         rec->relation->name);
            break;
        }
        case TIDEMARK__RECORD__BODY_CHANGE:
            if (in_first_snapshot && remaining && rec->change->op == TIDEMARK__CHANGE__OP__INSERT) {
                table_rows *t = table_for(s, rec->change->relation_oid);
                if (t)
                    t->rows++;
            }
            break;
        default:
            break;
        }
        if (rec->body_case != TIDEMARK__RECORD__BODY_BEGIN && remaining)
            remaining--;
    }
    tm_reader_close(r);
    if (rc < 0)
        return -1;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".seg")) {
            char path[4096];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (stat(path, &st) == 0) {
                s->segments++;
                s->bytes += (uint64_t)st.st_size;
            }
        }
    }
    if (d)
        closedir(d);
    return 0;
}

static int source_status(const char *conninfo, const tm_meta *m, tm_error *err)
{
    PGconn *c = tm_source_connect(conninfo, false, err);
    if (!c)
        return -1;
    tm_slot_info si;
    if (tm_slot_info_get(c, m->slot, &si, err) != 0) {
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, "SELECT pg_current_wal_lsn()");
    uint64_t cur = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        tm_lsn_parse(PQgetvalue(r, 0, 0), &cur);
    PQclear(r);
    PQfinish(c);
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
    if (!si.exists) {
        printf("slot:          \"%s\" MISSING: capture cannot continue this journal\n",
               INERT(m->slot));
        return 0;
    }
    printf("slot:          \"%s\" %s, wal_status %s\n", INERT(m->slot),
           si.active_pid ? "active" : "inactive", si.wal_status[0] ? si.wal_status : "-");
    printf("confirmed:     %s (server at %s, lag %llu bytes)\n",
           tm_lsn_format(si.confirmed_flush_lsn, a), tm_lsn_format(cur, b),
           (unsigned long long)(cur > si.confirmed_flush_lsn ? cur - si.confirmed_flush_lsn : 0));
    return 0;
}

static void print_summary(const char *journal, const tm_meta *m, const summary *s)
{
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN], t1[TM_TIME_BUFLEN], t2[TM_TIME_BUFLEN];
    printf("journal:       %s (format %d)\n", INERT(journal), m->format_version);
    printf("source:        database \"%s\", system %llu, slot \"%s\", publication \"%s\"\n",
           INERT(m->database), (unsigned long long)m->system_identifier, INERT(m->slot),
           INERT(m->publication));
    printf("base snapshot: %s at %s\n", tm_time_format(s->first_time, t1),
           tm_lsn_format(s->first_lsn, a));
    printf("last commit:   %s at %s\n", tm_time_format(s->last_time, t2),
           tm_lsn_format(s->last_lsn, b));
    printf("transactions:  %llu (%llu records) since the base snapshot\n",
           (unsigned long long)s->tx, (unsigned long long)s->changes);
    printf("segments:      %llu, %llu bytes\n", (unsigned long long)s->segments,
           (unsigned long long)s->bytes);
    printf("tables:\n");
    for (size_t i = 0; i < s->ntables; i++)
        printf("  %-40s %llu rows in the base snapshot\n", INERT(s->tables[i].name),
               (unsigned long long)s->tables[i].rows);
}

static int cmd_status(int argc, char **argv)
{
    const char *journal = NULL, *source = NULL;
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_status, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0) {
        if (id == OPT_JOURNAL)
            journal = p.arg;
        else if (id == OPT_SOURCE)
            source = p.arg;
    }
    if (id == TM_CLI_EXIT)
        return p.status;
    tm_error err;
    tm_meta m;
    if (tm_meta_read(journal, &m, &err) != 0) {
        tm_log_error("%s", err.msg);
        return 1;
    }
    summary s = {0};
    if (summarise(journal, &s, &err) != 0) {
        tm_log_error("%s", err.msg);
        free(s.tables);
        return 1;
    }
    print_summary(journal, &m, &s);
    free(s.tables);
    if (source && source_status(source, &m, &err) != 0) {
        tm_log_error("%s", err.msg);
        return 1;
    }
    return 0;
}
