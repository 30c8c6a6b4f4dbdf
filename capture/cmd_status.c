/* tidemark status: what a journal holds, and with --source how far behind
 * the server its slot is. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/cli/commands.h"
#include "store/journal/journal.h"
#include "store/common/lsn.h"
#include "capture/source/setup.h"
#include "capture/source/source.h"
#include "store/common/tm_time.h"

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
        printf("slot:          \"%s\" MISSING: capture cannot continue this journal\n", m->slot);
        return 0;
    }
    printf("slot:          \"%s\" %s, wal_status %s\n", m->slot,
           si.active_pid ? "active" : "inactive", si.wal_status[0] ? si.wal_status : "-");
    printf("confirmed:     %s (server at %s, lag %llu bytes)\n",
           tm_lsn_format(si.confirmed_flush_lsn, a), tm_lsn_format(cur, b),
           (unsigned long long)(cur > si.confirmed_flush_lsn ? cur - si.confirmed_flush_lsn : 0));
    return 0;
}

int cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {{"journal", required_argument, NULL, 'j'},
                                             {"source", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *journal = NULL, *source = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            journal = optarg;
            break;
        case 's':
            source = optarg;
            break;
        case 'h':
            printf(
                "Usage: tidemark status --journal DIR [--source CONNINFO]\n\n"
                "Shows the journal's source, its first and last commit, segments and bytes,\n"
                "and the captured tables with their rows in the base snapshot. With --source,\n"
                "also the slot's state, its confirmed position and the lag behind the server.\n");
            return 0;
        default:
            fprintf(stderr, "Try 'tidemark status --help'.\n");
            return 2;
        }
    }
    if (!journal || optind < argc) {
        fprintf(stderr, "tidemark status: --journal DIR is required\n");
        return 2;
    }
    tm_error err;
    tm_meta m;
    if (tm_meta_read(journal, &m, &err) != 0) {
        fprintf(stderr, "tidemark status: %s\n", err.msg);
        return 2;
    }
    summary s = {0};
    if (summarise(journal, &s, &err) != 0) {
        fprintf(stderr, "tidemark status: %s\n", err.msg);
        free(s.tables);
        return 2;
    }
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN], t1[TM_TIME_BUFLEN], t2[TM_TIME_BUFLEN];
    printf("journal:       %s (format %d)\n", journal, m.format_version);
    printf("source:        database \"%s\", system %llu, slot \"%s\", publication \"%s\"\n",
           m.database, (unsigned long long)m.system_identifier, m.slot, m.publication);
    printf("base snapshot: %s at %s\n", tm_time_format(s.first_time, t1),
           tm_lsn_format(s.first_lsn, a));
    printf("last commit:   %s at %s\n", tm_time_format(s.last_time, t2),
           tm_lsn_format(s.last_lsn, b));
    printf("transactions:  %llu (%llu records) since the base snapshot\n", (unsigned long long)s.tx,
           (unsigned long long)s.changes);
    printf("segments:      %llu, %llu bytes\n", (unsigned long long)s.segments,
           (unsigned long long)s.bytes);
    printf("tables:\n");
    for (size_t i = 0; i < s.ntables; i++)
        printf("  %-40s %llu rows in the base snapshot\n", s.tables[i].name,
               (unsigned long long)s.tables[i].rows);
    free(s.tables);
    if (source && source_status(source, &m, &err) != 0) {
        fprintf(stderr, "tidemark status: %s\n", err.msg);
        return 2;
    }
    return 0;
}
