/* tidemark status: what a journal holds, whether capture runs and how far
 * behind it is (DIR/capture.status), and with --source the slot: the lag
 * behind the server, the WAL it holds back, and whether it can still feed
 * the journal (exit 1 when it is missing, lost, invalidated or not the
 * journal's). --json says it all as one versioned document; --check judges
 * it with the exit codes of monitoring plugins. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <sys/statvfs.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/monitor/heartbeat.h"
#include "capture/source/setup.h"
#include "capture/source/slothealth.h"
#include "capture/source/source.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/inert.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"
#include "store/journal/horizon.h"
#include "store/journal/journal.h"
#include "store/journal/tableset.h"

enum {
    OPT_JOURNAL = 1,
    OPT_SOURCE,
    OPT_JSON,
    OPT_CHECK,
    OPT_WARN_LAG,
    OPT_CRIT_LAG,
    OPT_WARN_DISK,
    OPT_CRIT_DISK
};

static const tm_option options[] = {
    TM_OPTION_JOURNAL(OPT_JOURNAL),
    TM_OPTION_TEXT(OPT_SOURCE, "source", "CONNINFO",
                   "the capture source (libpq connection string or URI): also show the slot, the "
                   "lag behind the server and the WAL the slot holds back"),
    {.id = OPT_JSON,
     .name = "json",
     .help = "print one JSON document (schema tidemark.status/1, see the README) instead of text"},
    {.id = OPT_CHECK,
     .name = "check",
     .help = "judge the journal like a monitoring plugin: one line (or with --json the document) "
             "and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN"},
    {.id = OPT_WARN_LAG,
     .name = "warn-lag",
     .kind = TM_OPT_UINT,
     .value = "S",
     .help = "--check: WARNING when capture is S seconds or more behind (default 60)",
     .min = 1,
     .max = 31536000},
    {.id = OPT_CRIT_LAG,
     .name = "crit-lag",
     .kind = TM_OPT_UINT,
     .value = "S",
     .help = "--check: CRITICAL when S seconds or more behind (default 300)",
     .min = 1,
     .max = 31536000},
    {.id = OPT_WARN_DISK,
     .name = "warn-disk",
     .kind = TM_OPT_UINT,
     .value = "PCT",
     .help = "--check: WARNING when the journal's file system has less than PCT% free "
             "(default 10)",
     .max = 100},
    {.id = OPT_CRIT_DISK,
     .name = "crit-disk",
     .kind = TM_OPT_UINT,
     .value = "PCT",
     .help = "--check: CRITICAL below PCT% free (default 5)",
     .max = 100},
    {0},
};

static const tm_exit_code exits[] = {
    {0, "success; with --check: OK"},
    {1, "failure (the message says which); with --source also when the journal's slot is "
        "missing, has lost WAL, was invalidated or is not the journal's: capture cannot resume "
        "the journal (the message says what to do); with --check: WARNING"},
    {2, "usage error; with --check also CRITICAL"},
    {3, "with --check: UNKNOWN (the journal or the source could not be read)"},
    {0, NULL},
};

static int cmd_status(int argc, char **argv);

const tm_command tm_cmd_status = {
    .name = "status",
    .summary = "show what a journal holds and how far behind its source it is",
    .synopsis = "--journal DIR [--source CONNINFO] [--json] [--check [THRESHOLDS]]",
    .description = "Shows the journal's source, its first and last commit, segments and bytes, "
                   "the oldest time it can replay, checkpoints and gaps, the captured tables "
                   "with when their capture started, whether capture runs (DIR/capture.status, "
                   "which a running capture rewrites every --status-interval) and how far behind "
                   "it is, and the free space of the journal's file system. With --source, also "
                   "the slot's state, its confirmed position, the lag behind the server, the WAL "
                   "it holds back (wal_status, safe_wal_size, max_slot_wal_keep_size), and "
                   "whether the slot can still feed the journal.",
    .options = options,
    .notes = "--check: CRITICAL when capture is not running (stopped, crashed, or its heartbeat "
             "older than three status intervals), the slot is missing, lost, invalidated or "
             "holds more WAL than max_slot_wal_keep_size (unreserved), the journal ends with a "
             "gap, the lag reaches --crit-lag, or free space is below --crit-disk; WARNING when "
             "the lag reaches --warn-lag, the slot holds 80% of max_slot_wal_keep_size, or free "
             "space is below --warn-disk; UNKNOWN when the journal or the source cannot be "
             "read. CRITICAL wins over UNKNOWN, UNKNOWN over WARNING. The slot is judged only "
             "with --source.",
    .exits = exits,
    .run = cmd_status,
};

/* Names from the journal are printed inert (inert.h). */
#define INERT(s) tm_inert((s), (char[TM_INERT_SIZE(512)]){0}, TM_INERT_SIZE(512))

typedef struct table_rows {
    uint32_t oid;
    char name[300];
    uint64_t rows;
    uint64_t start_lsn; /* its capture start (tableset.h): its latest (0: never captured) */
    int64_t start_time;
    bool ended; /* that capture ended (removed from the publication) */
    uint64_t end_lsn;
    int64_t end_time;
} table_rows;

typedef struct gap_info {
    uint64_t from, to;
    int64_t time;
    char reason[400];
    bool healed; /* a snapshot follows it */
} gap_info;

typedef struct summary {
    uint64_t first_lsn, last_lsn, tx, changes;
    int64_t first_time, last_time;
    int64_t recoverable_time; /* the base snapshot's, or a pruned journal's horizon */
    bool pruned;
    table_rows *tables;
    size_t ntables;
    tm_tableset spans; /* when each table was captured */
    gap_info *gaps;
    size_t ngaps;
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

static void add_gap(summary *s, const Tidemark__Gap *g)
{
    gap_info *n = realloc(s->gaps, (s->ngaps + 1) * sizeof *n);
    if (!n)
        return;
    s->gaps = n;
    gap_info *x = &s->gaps[s->ngaps++];
    memset(x, 0, sizeof *x);
    x->from = g->lsn;
    x->to = g->end_lsn;
    x->time = g->time;
    snprintf(x->reason, sizeof x->reason, "%s", g->reason ? g->reason : "");
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
            in_snapshot = rec->begin->snapshot;
            if (!s->first_lsn) {
                s->first_lsn = rec->begin->commit_lsn;
                s->first_time = rec->begin->commit_time;
                in_first_snapshot = rec->begin->snapshot;
            } else {
                in_first_snapshot = false;
                s->tx++;
                s->changes += rec->begin->n_records;
            }
            if (in_snapshot)
                for (size_t i = 0; i < s->ngaps; i++)
                    s->gaps[i].healed = true;
            remaining = rec->begin->n_records;
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
        case TIDEMARK__RECORD__BODY_GAP:
            add_gap(s, rec->gap);
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
    /* A pruned journal recovers from its horizon (store/journal/horizon.h). */
    tm_horizon h;
    int hz = tm_horizon_read(dir, &h, err);
    if (hz < 0)
        return -1;
    s->pruned = hz == 1;
    s->recoverable_time = s->pruned ? h.time : s->first_time;
    /* Each table's latest capture (a table re-added later has several). */
    for (size_t i = 0; i < s->ntables; i++)
        for (size_t k = 0; k < s->spans.n; k++) {
            const tm_tablespan *sp = &s->spans.v[k];
            table_rows *t = &s->tables[i];
            if (sp->oid != t->oid)
                continue;
            t->start_lsn = sp->start_lsn;
            t->start_time = sp->start_time;
            t->ended = sp->ended;
            t->end_lsn = sp->end_lsn;
            t->end_time = sp->end_time;
        }
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

/* ---- the judgement (--check) ---------------------------------------------- */

enum { ST_OK = 0, ST_WARNING = 1, ST_CRITICAL = 2, ST_UNKNOWN = 3 };
static const char *const state_names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

typedef struct verdict {
    bool seen[4];
    char reasons[8][1400];
    int n;
} verdict;

static void judge(verdict *v, int state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void judge(verdict *v, int state, const char *fmt, ...)
{
    v->seen[state] = true;
    if (v->n == 8)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reasons[v->n++], sizeof v->reasons[0], fmt, ap);
    va_end(ap);
}

/* CRITICAL wins over UNKNOWN, UNKNOWN over WARNING. */
static int verdict_state(const verdict *v)
{
    return v->seen[ST_CRITICAL]  ? ST_CRITICAL
           : v->seen[ST_UNKNOWN] ? ST_UNKNOWN
           : v->seen[ST_WARNING] ? ST_WARNING
                                 : ST_OK;
}

typedef struct limits {
    uint64_t warn_lag, crit_lag, warn_disk, crit_disk;
} limits;

/* Everything status knows, gathered once and then printed as text, JSON
 * or a check line. */
typedef struct report {
    const char *journal;
    tm_meta meta;
    bool meta_ok;
    summary sum;
    bool sum_ok;
    char journal_error[1024];
    /* capture, from its heartbeat */
    int hb_rc; /* 1 read, 0 none, -1 unreadable */
    tm_heartbeat hb;
    bool running;
    char not_running[1100];
    double lag_seconds; /* NAN: unknown */
    /* the slot, with --source */
    bool have_source, slot_ok;
    char source_error[1024];
    tm_slot_info si;
    tm_slot_state slot_state;
    tm_wal_risk wal_risk;
    char wal_why[400];
    /* checkpoints and disk */
    tm_ckpt_file *ckpts;
    size_t nckpts;
    bool disk_ok;
    uint64_t disk_free, disk_total;
    double disk_free_pct;
} report;

static uint64_t lag_bytes(const report *r)
{
    if (r->slot_ok && r->si.exists)
        return r->si.server_lsn > r->si.confirmed_flush_lsn
                   ? r->si.server_lsn - r->si.confirmed_flush_lsn
                   : 0;
    return r->hb_rc == 1 ? r->hb.lag_bytes : 0;
}

static bool lag_bytes_known(const report *r)
{
    return (r->slot_ok && r->si.exists) || r->hb_rc == 1;
}

static void gather(report *r, const char *journal, const char *source)
{
    tm_error err;
    r->journal = journal;
    r->lag_seconds = NAN;
    if (tm_meta_read(journal, &r->meta, &err) != 0) {
        snprintf(r->journal_error, sizeof r->journal_error, "%s", err.msg);
        return;
    }
    r->meta_ok = true;
    if (summarise(journal, &r->sum, &err) != 0) {
        snprintf(r->journal_error, sizeof r->journal_error, "%s", err.msg);
        return;
    }
    r->sum_ok = true;
    int64_t now = tm_time_now();
    r->hb_rc = tm_heartbeat_read(journal, &r->hb, &err);
    if (r->hb_rc < 0)
        snprintf(r->not_running, sizeof r->not_running, "%s", err.msg);
    else if (r->hb_rc == 0)
        snprintf(r->not_running, sizeof r->not_running,
                 "capture has not run here since status learned to tell (no %s/%s)", journal,
                 TM_HEARTBEAT_FILE);
    else
        r->running = tm_heartbeat_alive(&r->hb, now, r->not_running, sizeof r->not_running);
    /* The lag as capture measured it, grown by the time since it said so
     * when it was behind or is gone: a stopped capture falls behind. */
    if (r->hb_rc == 1) {
        double age = now > r->hb.updated ? (double)(now - r->hb.updated) / 1e6 : 0;
        r->lag_seconds = r->hb.lag_seconds + (r->running && r->hb.lag_seconds == 0 ? 0 : age);
    }
    r->nckpts = tm_checkpoint_files(journal, &r->ckpts);
    struct statvfs vfs;
    if (statvfs(journal, &vfs) == 0 && vfs.f_blocks) {
        r->disk_ok = true;
        r->disk_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        r->disk_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        r->disk_free_pct = 100.0 * (double)vfs.f_bavail / (double)vfs.f_blocks;
    }
    if (!source)
        return;
    r->have_source = true;
    PGconn *c = tm_source_connect(source, false, &err);
    if (!c || tm_slot_info_get(c, r->meta.slot, &r->si, &err) != 0) {
        snprintf(r->source_error, sizeof r->source_error, "%s", err.msg);
        if (c)
            PQfinish(c);
        return;
    }
    PQfinish(c);
    r->slot_ok = true;
    r->slot_state = tm_slot_judge(&r->si, r->meta.database);
    r->wal_risk = tm_slot_wal_risk(&r->si, r->wal_why, sizeof r->wal_why);
}

static void check(const report *r, const limits *l, verdict *v)
{
    if (!r->sum_ok) {
        judge(v, ST_UNKNOWN, "the journal cannot be read: %s", r->journal_error);
        return;
    }
    if (!r->running)
        judge(v, ST_CRITICAL, "capture is not running: %s", r->not_running);
    for (size_t i = 0; i < r->sum.ngaps; i++)
        if (!r->sum.gaps[i].healed) {
            char a[TM_LSN_BUFLEN];
            judge(v, ST_CRITICAL, "the journal ends with a gap from %s: %s",
                  tm_lsn_format(r->sum.gaps[i].from, a), r->sum.gaps[i].reason);
        }
    if (!isnan(r->lag_seconds)) {
        if (r->lag_seconds >= (double)l->crit_lag)
            judge(v, ST_CRITICAL, "lag %.1f s (critical at %llu s)", r->lag_seconds,
                  (unsigned long long)l->crit_lag);
        else if (r->lag_seconds >= (double)l->warn_lag)
            judge(v, ST_WARNING, "lag %.1f s (warning at %llu s)", r->lag_seconds,
                  (unsigned long long)l->warn_lag);
    }
    if (r->have_source && !r->slot_ok)
        judge(v, ST_UNKNOWN, "the source cannot be asked about the slot: %s", r->source_error);
    if (r->slot_ok && r->slot_state != TM_SLOT_SOUND)
        judge(v, ST_CRITICAL, "replication slot \"%s\" %s", r->meta.slot,
              tm_slot_state_name(r->slot_state));
    else if (r->slot_ok && r->wal_risk != TM_WAL_OK)
        judge(v, r->wal_risk == TM_WAL_UNRESERVED ? ST_CRITICAL : ST_WARNING,
              "replication slot \"%s\": %s", r->meta.slot, r->wal_why);
    if (r->disk_ok) {
        if (r->disk_free_pct < (double)l->crit_disk)
            judge(v, ST_CRITICAL,
                  "%.1f%% free on the journal's file system (critical below %llu%%)",
                  r->disk_free_pct, (unsigned long long)l->crit_disk);
        else if (r->disk_free_pct < (double)l->warn_disk)
            judge(v, ST_WARNING, "%.1f%% free on the journal's file system (warning below %llu%%)",
                  r->disk_free_pct, (unsigned long long)l->warn_disk);
    }
}

/* ---- text ------------------------------------------------------------------ */

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
static int report_slot(const report *r)
{
    const tm_slot_info *si = &r->si;
    const tm_meta *m = &r->meta;
    tm_slot_state st = r->slot_state;
    if (st == TM_SLOT_MISSING) {
        printf("slot:          \"%s\" MISSING\n", INERT(m->slot));
    } else {
        char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
        uint64_t flush = si->confirmed_flush_lsn, cur = si->server_lsn;
        bool bad = st != TM_SLOT_SOUND;
        printf("slot:          \"%s\" %s, wal_status %s%s%s%s%s\n", INERT(m->slot),
               si->active_pid ? "active" : "inactive", si->wal_status[0] ? si->wal_status : "-",
               si->invalidated[0] ? ", invalidated: " : "", INERT(si->invalidated), bad ? "  " : "",
               bad ? tm_slot_state_name(st) : "");
        printf("confirmed:     %s (server at %s, lag %llu bytes)\n", tm_lsn_format(flush, a),
               tm_lsn_format(cur, b), (unsigned long long)(cur > flush ? cur - flush : 0));
        printf("retained WAL:  %llu bytes", (unsigned long long)tm_slot_retained(si));
        if (si->max_keep_bytes >= 0)
            printf(" of max_slot_wal_keep_size %lld bytes", (long long)si->max_keep_bytes);
        else
            printf(" (max_slot_wal_keep_size unlimited: set it, see the README)");
        if (si->has_safe_wal_size)
            printf(", safe_wal_size %lld bytes", (long long)si->safe_wal_size);
        printf("\n");
    }
    if (st == TM_SLOT_SOUND) {
        if (r->wal_risk != TM_WAL_OK)
            tm_log_warning("replication slot \"%s\": %s; run tidemark capture now", INERT(m->slot),
                           r->wal_why);
        return 0;
    }
    say_unusable(r->journal, m, &r->sum, si, st);
    return 1;
}

static void print_text(const report *r)
{
    const summary *s = &r->sum;
    const tm_meta *m = &r->meta;
    char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN], t1[TM_TIME_BUFLEN], t2[TM_TIME_BUFLEN];
    printf("journal:       %s (format %d)\n", INERT(r->journal), m->format_version);
    printf("source:        database \"%s\", system %llu, slot \"%s\", publication \"%s\"\n",
           INERT(m->database), (unsigned long long)m->system_identifier, INERT(m->slot),
           INERT(m->publication));
    printf("base snapshot: %s at %s\n", tm_time_format(s->first_time, t1),
           tm_lsn_format(s->first_lsn, a));
    printf("last commit:   %s at %s\n", tm_time_format(s->last_time, t2),
           tm_lsn_format(s->last_lsn, b));
    printf("recoverable:   from %s%s\n", tm_time_format(s->recoverable_time, t1),
           s->pruned ? " (the retention horizon: older history was pruned)" : "");
    printf("transactions:  %llu (%llu records) since the base snapshot\n",
           (unsigned long long)s->tx, (unsigned long long)s->changes);
    printf("segments:      %llu, %llu bytes\n", (unsigned long long)s->segments,
           (unsigned long long)s->bytes);
    if (r->nckpts)
        printf("checkpoints:   %zu, newest at %s written %s\n", r->nckpts,
               tm_lsn_format(r->ckpts[r->nckpts - 1].lsn, a),
               tm_time_format(r->ckpts[r->nckpts - 1].mtime, t1));
    else
        printf("checkpoints:   none\n");
    for (size_t i = 0; i < s->ngaps; i++)
        printf("gap:           %s to %s (%s)%s: %s\n", tm_lsn_format(s->gaps[i].from, a),
               tm_lsn_format(s->gaps[i].to, b), tm_time_format(s->gaps[i].time, t1),
               s->gaps[i].healed ? ", a snapshot follows" : ", the journal ends with it",
               INERT(s->gaps[i].reason));
    if (r->running)
        printf("capture:       running (pid %ld), lag %.1f s\n", r->hb.pid, r->lag_seconds);
    else
        printf("capture:       not running: %s\n", INERT(r->not_running));
    if (r->disk_ok)
        printf("disk:          %llu of %llu bytes free (%.1f%%)\n",
               (unsigned long long)r->disk_free, (unsigned long long)r->disk_total,
               r->disk_free_pct);
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

/* ---- JSON (schema tidemark.status/1, README) ------------------------------- */

static void jstr(const char *v)
{
    if (!v) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void jkey(const char *k, bool *first)
{
    printf("%s\"%s\": ", *first ? "" : ", ", k);
    *first = false;
}

static void jlsn(const char *k, uint64_t lsn, bool *first)
{
    char a[TM_LSN_BUFLEN];
    jkey(k, first);
    jstr(tm_lsn_format(lsn, a));
}

static void jtime(const char *k, int64_t t, bool *first)
{
    char a[TM_TIME_BUFLEN];
    jkey(k, first);
    if (t)
        jstr(tm_time_format(t, a));
    else
        fputs("null", stdout);
}

static void jnum(const char *k, uint64_t v, bool *first)
{
    jkey(k, first);
    printf("%llu", (unsigned long long)v);
}

static void jdbl(const char *k, double v, bool *first)
{
    jkey(k, first);
    if (isnan(v))
        fputs("null", stdout);
    else
        printf("%.3f", v);
}

static void print_json(const report *r, const verdict *v)
{
    const summary *s = &r->sum;
    bool f = true, g;
    printf("{");
    jkey("schema", &f);
    jstr("tidemark.status/1");
    jkey("journal", &f);
    jstr(r->journal);
    if (r->sum_ok) {
        jkey("source", &f);
        g = true;
        printf("{");
        jkey("database", &g);
        jstr(r->meta.database);
        jkey("system_identifier", &g);
        printf("\"%llu\"", (unsigned long long)r->meta.system_identifier);
        jkey("slot", &g);
        jstr(r->meta.slot);
        jkey("publication", &g);
        jstr(r->meta.publication);
        printf("}");
        jnum("format", (uint64_t)r->meta.format_version, &f);
        jlsn("base_snapshot_lsn", s->first_lsn, &f);
        jtime("base_snapshot_time", s->first_time, &f);
        jlsn("last_commit_lsn", s->last_lsn, &f);
        jtime("last_commit_time", s->last_time, &f);
        jtime("oldest_recoverable_time", s->recoverable_time, &f);
        jnum("transactions", s->tx, &f);
        jnum("records", s->changes, &f);
        jnum("segments", s->segments, &f);
        jnum("bytes", s->bytes, &f);
        jkey("checkpoints", &f);
        printf("[");
        for (size_t i = 0; i < r->nckpts; i++) {
            g = true;
            printf("%s{", i ? ", " : "");
            jlsn("lsn", r->ckpts[i].lsn, &g);
            jnum("bytes", r->ckpts[i].bytes, &g);
            jtime("written", r->ckpts[i].mtime, &g);
            printf("}");
        }
        printf("]");
        jkey("gaps", &f);
        printf("[");
        for (size_t i = 0; i < s->ngaps; i++) {
            g = true;
            printf("%s{", i ? ", " : "");
            jlsn("from_lsn", s->gaps[i].from, &g);
            jlsn("to_lsn", s->gaps[i].to, &g);
            jtime("recorded", s->gaps[i].time, &g);
            jkey("reason", &g);
            jstr(s->gaps[i].reason);
            jkey("snapshot_follows", &g);
            fputs(s->gaps[i].healed ? "true" : "false", stdout);
            printf("}");
        }
        printf("]");
        jkey("tables", &f);
        printf("[");
        for (size_t i = 0; i < s->ntables; i++) {
            g = true;
            printf("%s{", i ? ", " : "");
            jkey("name", &g);
            jstr(s->tables[i].name);
            jnum("oid", s->tables[i].oid, &g);
            if (s->tables[i].start_lsn) {
                jlsn("capture_start_lsn", s->tables[i].start_lsn, &g);
                jtime("capture_start_time", s->tables[i].start_time, &g);
            }
            if (s->tables[i].ended) {
                jlsn("capture_end_lsn", s->tables[i].end_lsn, &g);
                jtime("capture_end_time", s->tables[i].end_time, &g);
            }
            jnum("base_snapshot_rows", s->tables[i].rows, &g);
            printf("}");
        }
        printf("]");
        jkey("capture", &f);
        g = true;
        printf("{");
        jkey("running", &g);
        fputs(r->running ? "true" : "false", stdout);
        jkey("pid", &g);
        if (r->hb_rc == 1)
            printf("%ld", r->hb.pid);
        else
            fputs("null", stdout);
        jkey("why_not_running", &g);
        jstr(r->running ? NULL : r->not_running);
        jtime("heartbeat_time", r->hb_rc == 1 ? r->hb.updated : 0, &g);
        jtime("started", r->hb_rc == 1 ? r->hb.started : 0, &g);
        jtime("last_commit_time", r->hb_rc == 1 ? r->hb.last_commit_time : 0, &g);
        printf("}");
        jkey("lag", &f);
        g = true;
        printf("{");
        jdbl("seconds", r->lag_seconds, &g);
        jkey("bytes", &g);
        if (lag_bytes_known(r))
            printf("%llu", (unsigned long long)lag_bytes(r));
        else
            fputs("null", stdout);
        printf("}");
        jkey("slot", &f);
        if (!r->slot_ok) {
            fputs("null", stdout);
        } else {
            const tm_slot_info *si = &r->si;
            g = true;
            printf("{");
            jkey("name", &g);
            jstr(r->meta.slot);
            jkey("state", &g);
            static const char *const st[] = {"sound", "missing", "foreign", "lost", "invalidated"};
            jstr(st[r->slot_state]);
            jkey("active", &g);
            fputs(si->active_pid ? "true" : "false", stdout);
            jkey("wal_status", &g);
            jstr(si->exists ? si->wal_status : NULL);
            jkey("invalidation_reason", &g);
            jstr(si->invalidated[0] ? si->invalidated : NULL);
            jlsn("confirmed_flush_lsn", si->confirmed_flush_lsn, &g);
            jlsn("restart_lsn", si->restart_lsn, &g);
            jlsn("server_lsn", si->server_lsn, &g);
            jnum("retained_wal_bytes", tm_slot_retained(si), &g);
            jkey("safe_wal_size_bytes", &g);
            if (si->has_safe_wal_size)
                printf("%lld", (long long)si->safe_wal_size);
            else
                fputs("null", stdout);
            jkey("max_slot_wal_keep_size_bytes", &g);
            if (si->max_keep_bytes >= 0)
                printf("%lld", (long long)si->max_keep_bytes);
            else
                fputs("null", stdout);
            printf("}");
        }
        jkey("disk", &f);
        if (r->disk_ok) {
            g = true;
            printf("{");
            jnum("free_bytes", r->disk_free, &g);
            jnum("total_bytes", r->disk_total, &g);
            jdbl("free_percent", r->disk_free_pct, &g);
            printf("}");
        } else {
            fputs("null", stdout);
        }
    } else {
        jkey("error", &f);
        jstr(r->journal_error);
    }
    jkey("check", &f);
    g = true;
    printf("{");
    jkey("status", &g);
    jstr(state_names[verdict_state(v)]);
    jnum("code", (uint64_t)verdict_state(v), &g);
    jkey("reasons", &g);
    printf("[");
    for (int i = 0; i < v->n; i++) {
        printf("%s", i ? ", " : "");
        jstr(v->reasons[i]);
    }
    printf("]}}\n");
}

/* The monitoring-plugin line: state, reasons, performance data. */
static void print_check(const report *r, const limits *l, const verdict *v)
{
    int st = verdict_state(v);
    printf("TIDEMARK %s - ", state_names[st]);
    if (v->n == 0)
        printf("capture running, lag %.1f s", r->lag_seconds);
    for (int i = 0; i < v->n; i++)
        printf("%s%s", i ? "; " : "", INERT(v->reasons[i]));
    printf(" |");
    if (!isnan(r->lag_seconds))
        printf(" lag_seconds=%.3fs;%llu;%llu", r->lag_seconds, (unsigned long long)l->warn_lag,
               (unsigned long long)l->crit_lag);
    if (lag_bytes_known(r))
        printf(" lag_bytes=%lluB", (unsigned long long)lag_bytes(r));
    if (r->slot_ok && r->si.exists)
        printf(" retained_wal=%lluB", (unsigned long long)tm_slot_retained(&r->si));
    if (r->disk_ok)
        printf(" disk_free=%.1f%%;%llu;%llu", r->disk_free_pct, (unsigned long long)l->warn_disk,
               (unsigned long long)l->crit_disk);
    printf("\n");
}

typedef struct args {
    const char *journal, *source;
    bool json, check;
    limits l;
} args;

static int take(void *ctx, const tm_cli *p, int id)
{
    args *a = ctx;
    switch (id) {
    case OPT_JOURNAL:
        a->journal = p->arg;
        break;
    case OPT_SOURCE:
        a->source = p->arg;
        break;
    case OPT_JSON:
        a->json = true;
        break;
    case OPT_CHECK:
        a->check = true;
        break;
    case OPT_WARN_LAG:
        a->l.warn_lag = p->num;
        break;
    case OPT_CRIT_LAG:
        a->l.crit_lag = p->num;
        break;
    case OPT_WARN_DISK:
        a->l.warn_disk = p->num;
        break;
    case OPT_CRIT_DISK:
        a->l.crit_disk = p->num;
        break;
    default:
        break;
    }
    return 0;
}

static int status_of(const args *a, const char *source);

static int cmd_status(int argc, char **argv)
{
    args a = {.l = {.warn_lag = 60, .crit_lag = 300, .warn_disk = 10, .crit_disk = 5}};
    int status;
    if (tm_cli_parse(&tm_cmd_status, argc, argv, take, NULL, &a, &status) != 0)
        return status;
    if (a.l.warn_lag > a.l.crit_lag)
        return tm_usage_error("status", "--warn-lag %llu is above --crit-lag %llu",
                              (unsigned long long)a.l.warn_lag, (unsigned long long)a.l.crit_lag);
    if (a.l.warn_disk < a.l.crit_disk)
        return tm_usage_error("status", "--warn-disk %llu is below --crit-disk %llu",
                              (unsigned long long)a.l.warn_disk, (unsigned long long)a.l.crit_disk);
    char *source = a.source ? tm_cli_conninfo("--source", (char *)a.source) : NULL;
    if (a.source && !source)
        return a.check ? ST_UNKNOWN : 1;
    int rc = status_of(&a, source);
    free(source);
    return rc;
}

/* What status prints for the journal and, when given, its source. */
static int status_of(const args *a, const char *source)
{
    report r;
    memset(&r, 0, sizeof r);
    gather(&r, a->journal, source);
    verdict v = {0};
    check(&r, &a->l, &v);
    int rc;
    if (a->json)
        print_json(&r, &v);
    if (a->check) {
        if (!a->json)
            print_check(&r, &a->l, &v);
        rc = verdict_state(&v);
    } else if (!r.sum_ok) {
        tm_log_error("%s", r.journal_error);
        rc = 1;
    } else {
        if (!a->json)
            print_text(&r);
        rc = 0;
        if (r.have_source && !r.slot_ok) {
            tm_log_error("%s", r.source_error);
            rc = 1;
        } else if (r.slot_ok) {
            rc = a->json ? r.slot_state != TM_SLOT_SOUND : report_slot(&r);
        }
    }
    free(r.sum.tables);
    tm_tableset_free(&r.sum.spans);
    free(r.sum.gaps);
    free(r.ckpts);
    return rc;
}
