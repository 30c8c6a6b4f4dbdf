/* tidemark status: what a journal holds, and with --source how far behind
 * the server its slot is, and whether the slot can still feed it (exit 1
 * when it is missing, lost, invalidated or not the journal's). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/source/setup.h"
#include "capture/source/slothealth.h"
#include "capture/source/source.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/inert.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"
#include "store/journal/journal.h"
#include "store/journal/tableset.h"

enum { OPT_JOURNAL = 1, OPT_SOURCE };

static const tm_option options[] = {
    TM_OPTION_JOURNAL(OPT_JOURNAL),
    TM_OPTION_TEXT(OPT_SOURCE, "source", "CONNINFO",
                   "the capture source (libpq connection string or URI): also show the slot and "
                   "the lag"),
    {0},
};

static const tm_exit_code exits[] = {
    TM_EXIT_SUCCESS,
    {1, "failure (the message says which); with --source also when the journal's slot is "
        "missing, has lost WAL, was invalidated or is not the journal's: capture cannot resume "
        "the journal (the message says what to do)"},
    TM_EXIT_USAGE,
    {0, NULL},
};

static int cmd_status(int argc, char **argv);

const tm_command tm_cmd_status = {
    .name = "status",
    .summary = "show what a journal holds and how far behind its source it is",
    .synopsis = "--journal DIR [--source CONNINFO]",
    .description = "Shows the journal's source, its first and last commit, segments and bytes, "
                   "and the captured tables with their rows in the base snapshot. With --source, "
                   "also the slot's state, its confirmed position and the lag behind the server, "
                   "and whether the slot can still feed the journal.",
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
    tm_tableset spans; /* when each table was captured */
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
    bool in_first_snapshot = false, in_snapshot = false;
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
            in_snapshot = rec->begin->snapshot;
            s->last_lsn = rec->begin->commit_lsn;
            s->last_time = rec->begin->commit_time;
            break;
        case TIDEMARK__RECORD__BODY_RELATION: {
            table_rows *t = table_for(s, rec->relation->oid);
            if (t)
                snprintf(t->name, sizeof t->name, "%s.%s", rec->relation->namespace_,
                         rec->relation->name);
            if (tm_tableset_relation(&s->spans, rec->relation->oid, rec->relation->namespace_,
                                     rec->relation->name, err) != 0)
                rc = -1;
            break;
        }
        case TIDEMARK__RECORD__BODY_TABLE_REMOVED:
            tm_tableset_removed(&s->spans, rec->table_removed->oid, rec->table_removed->lsn,
                                rec->table_removed->time);
            break;
        case TIDEMARK__RECORD__BODY_CHANGE:
            if (in_snapshot && remaining &&
                tm_tableset_snapshot(&s->spans, rec->change->relation_oid, s->last_lsn,
                                     s->last_time, err) != 0)
                rc = -1;
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
        if (rc < 0)
            break;
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

/* What a slot that cannot feed the journal means, and what to do. */
static void say_unusable(const char *journal, const tm_meta *m, const summary *sum,
                         const tm_slot_info *si, tm_slot_state st)
{
    char l[TM_LSN_BUFLEN], what[400];
    if (st == TM_SLOT_MISSING)
        snprintf(what, sizeof what,
                 "does not exist on the server (it was dropped, or --source names another "
                 "server than the journal's)");
    else if (st == TM_SLOT_FOREIGN)
        snprintf(what, sizeof what,
                 "on the server is not this journal's (%s of database \"%s\", not a pgoutput "
                 "slot of \"%s\"): it was dropped and made again, or --source names another "
                 "server",
                 si->logical_pgoutput ? "a pgoutput slot" : "another kind of slot",
                 INERT(si->database), INERT(m->database));
    else if (st == TM_SLOT_LOST)
        snprintf(what, sizeof what,
                 "has lost WAL it needed (wal_status = lost: the server removed it, past "
                 "max_slot_wal_keep_size)");
    else
        snprintf(what, sizeof what, "was invalidated by the server (%s)", INERT(si->invalidated));
    tm_log_error("replication slot \"%s\" %s; capture cannot resume journal %s, and changes "
                 "after its last commit (%s) may not be captured (a gap). Start a new journal in "
                 "an empty directory with tidemark capture (it takes a fresh base snapshot); "
                 "keep %s for the history it holds",
                 INERT(m->slot), what, INERT(journal), tm_lsn_format(sum->last_lsn, l),
                 INERT(journal));
}

/* The slot's lines; 0 when it can feed the journal, 1 when not (said). */
static int report_slot(const char *journal, const tm_meta *m, const summary *sum,
                       const tm_slot_info *si, uint64_t cur)
{
    tm_slot_state st = tm_slot_judge(si, m->database);
    if (st == TM_SLOT_MISSING) {
        printf("slot:          \"%s\" MISSING\n", INERT(m->slot));
    } else {
        char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
        uint64_t flush = si->confirmed_flush_lsn;
        bool bad = st != TM_SLOT_SOUND;
        printf("slot:          \"%s\" %s, wal_status %s%s%s%s%s\n", INERT(m->slot),
               si->active_pid ? "active" : "inactive", si->wal_status[0] ? si->wal_status : "-",
               si->invalidated[0] ? ", invalidated: " : "", INERT(si->invalidated), bad ? "  " : "",
               bad ? tm_slot_state_name(st) : "");
        printf("confirmed:     %s (server at %s, lag %llu bytes)\n", tm_lsn_format(flush, a),
               tm_lsn_format(cur, b), (unsigned long long)(cur > flush ? cur - flush : 0));
    }
    if (st == TM_SLOT_SOUND) {
        if (!strcmp(si->wal_status, "unreserved"))
            tm_log_warning("replication slot \"%s\" holds more WAL than max_slot_wal_keep_size "
                           "(wal_status = unreserved): the server removes it at its next "
                           "checkpoint unless capture catches up; run tidemark capture now",
                           INERT(m->slot));
        return 0;
    }
    say_unusable(journal, m, sum, si, st);
    return 1;
}

/* Connects to the source: the slot's lines. 0 sound, 1 unusable (said),
 * -1 with err. */
static int source_status(const char *conninfo, const char *journal, const tm_meta *m,
                         const summary *sum, tm_error *err)
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
    return report_slot(journal, m, sum, &si, cur);
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
    for (size_t i = 0; i < s->ntables; i++) {
        char span[200] = "";
        int n = 0;
        /* Each capture of it: a table re-added later has several. */
        for (size_t k = 0; k < s->spans.n; k++) {
            if (s->spans.v[k].oid != s->tables[i].oid)
                continue;
            char one[160];
            tm_tablespan_describe(&s->spans.v[k], one, sizeof one);
            n += snprintf(span + n, sizeof span - (size_t)n, "%s%s", n ? "; " : "",
                          n ? one + strlen("captured ") : one);
            if ((size_t)n >= sizeof span)
                break;
        }
        printf("  %-40s %llu rows in the base snapshot, %s\n", INERT(s->tables[i].name),
               (unsigned long long)s->tables[i].rows,
               span[0] ? span : "never captured (no snapshot of it in the journal)");
    }
}

static int status_of(const char *journal, const char *source);

static int cmd_status(int argc, char **argv)
{
    const char *journal = NULL, *source_arg = NULL;
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_status, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0) {
        if (id == OPT_JOURNAL)
            journal = p.arg;
        else if (id == OPT_SOURCE)
            source_arg = p.arg;
    }
    if (id == TM_CLI_EXIT)
        return p.status;
    char *source = source_arg ? tm_cli_conninfo("--source", (char *)source_arg) : NULL;
    if (source_arg && !source)
        return 1;
    int rc = status_of(journal, source);
    free(source);
    return rc;
}

/* What status prints for journal and, when given, its source. */
static int status_of(const char *journal, const char *source)
{
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
        tm_tableset_free(&s.spans);
        return 1;
    }
    print_summary(journal, &m, &s);
    int rc = source ? source_status(source, journal, &m, &s, &err) : 0;
    free(s.tables);
    tm_tableset_free(&s.spans);
    if (rc < 0)
        tm_log_error("%s", err.msg);
    return rc == 0 ? 0 : 1;
}
