/* tidemark capture: the sidecar. Parses options, opens and checks the
 * journal, initialises it on first run, then streams. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/loop/capture.h"
#include "capture/source/setup.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/log.h"
#include "store/common/lsn.h"

volatile int tm_capture_stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    tm_capture_stop_requested = 1;
}

enum {
    OPT_JOURNAL = 1,
    OPT_SOURCE,
    OPT_TABLE,
    OPT_SLOT,
    OPT_PUBLICATION,
    OPT_RI_FULL,
    OPT_FSYNC_INTERVAL,
    OPT_SEGMENT_SIZE,
    OPT_STATUS_INTERVAL,
    OPT_ENDPOS,
    OPT_TX_MEMORY,
    OPT_WARN_ROWS,
    OPT_QUIET,
    OPT_VERBOSE,
};

static const tm_option options[] = {
    {.id = OPT_JOURNAL,
     .name = "journal",
     .kind = TM_OPT_TEXT,
     .value = "DIR",
     .help = "journal directory (required)",
     .flags = TM_OPT_REQUIRED},
    {.id = OPT_SOURCE,
     .name = "source",
     .kind = TM_OPT_TEXT,
     .value = "CONNINFO",
     .help = "libpq connection string or URI; PG* variables and ~/.pgpass apply (required)",
     .flags = TM_OPT_REQUIRED},
    {.id = OPT_TABLE,
     .name = "table",
     .kind = TM_OPT_TEXT,
     .value = "SCHEMA.NAME",
     .help = "a table to capture (repeatable; required on first run unless the publication "
             "exists)"},
    {.id = OPT_SLOT,
     .name = "slot",
     .kind = TM_OPT_TEXT,
     .value = "NAME",
     .help = "replication slot (default tidemark_<database>)"},
    {.id = OPT_PUBLICATION,
     .name = "publication",
     .kind = TM_OPT_TEXT,
     .value = "NAME",
     .help = "publication (default tidemark)"},
    {.id = OPT_RI_FULL,
     .name = "set-replica-identity-full",
     .help = "set REPLICA IDENTITY FULL on captured tables"},
    {.id = OPT_FSYNC_INTERVAL,
     .name = "fsync-interval-ms",
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "group commit window (default 200)",
     .max = 60000},
    {.id = OPT_SEGMENT_SIZE,
     .name = "segment-size",
     .kind = TM_OPT_UINT,
     .value = "MB",
     .help = "segment rollover size (default 64)",
     .min = 1,
     .max = 65536,
     .expect = "needs a size in MB from 1 to 65536"},
    {.id = OPT_STATUS_INTERVAL,
     .name = "status-interval",
     .kind = TM_OPT_UINT,
     .value = "S",
     .help = "status line period in seconds (default 10)",
     .min = 1,
     .max = 3600},
    {.id = OPT_ENDPOS,
     .name = "endpos",
     .kind = TM_OPT_LSN,
     .value = "LSN",
     .help = "stop once everything up to LSN is durable"},
    {.id = OPT_TX_MEMORY,
     .name = "tx-memory-mb",
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "transaction size held in memory before spooling to disk (default 256)",
     .min = 1,
     .max = 1 << 20},
    {.id = OPT_WARN_ROWS,
     .name = "warn-rows",
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "warn when a transaction deletes or updates more rows of a table than this "
             "(default 1000)",
     .max = UINT32_MAX},
    {.id = OPT_QUIET,
     .name = "quiet",
     .letter = 'q',
     .help = "only warnings and errors (no status lines)",
     .flags = TM_OPT_QUIET},
    {.id = OPT_VERBOSE,
     .name = "verbose",
     .letter = 'v',
     .help = "more logging",
     .flags = TM_OPT_VERBOSE},
    {0},
};

static const tm_exit_code exits[] = {
    {0, "stopped cleanly (SIGINT, SIGTERM or --endpos)"},
    TM_EXIT_FAILURE,
    TM_EXIT_USAGE,
    {0, NULL},
};

static int cmd_capture(int argc, char **argv);

const tm_command tm_cmd_capture = {
    .name = "capture",
    .summary = "consume a pgoutput slot into a journal (the sidecar)",
    .synopsis = "--journal DIR --source CONNINFO [OPTIONS]",
    .description = "Consumes a pgoutput logical replication slot into the journal in DIR. The "
                   "first run (empty or absent DIR) creates the publication and slot and copies "
                   "a base snapshot of the tables; later runs resume where the journal ends. "
                   "Stops cleanly on SIGINT/SIGTERM.",
    .options = options,
    .exits = exits,
    .run = cmd_capture,
};

/* Stores one option's value in o. */
static void take_option(tm_capture_opts *o, const tm_cli *p, int id)
{
    switch (id) {
    case OPT_JOURNAL:
        o->journal = p->arg;
        break;
    case OPT_SOURCE:
        o->source = p->arg;
        break;
    case OPT_TABLE:
        o->tables[o->n_tables++] = p->arg;
        break;
    case OPT_SLOT:
        snprintf(o->slot, sizeof o->slot, "%s", p->arg);
        break;
    case OPT_PUBLICATION:
        snprintf(o->publication, sizeof o->publication, "%s", p->arg);
        break;
    case OPT_RI_FULL:
        o->set_replica_identity_full = true;
        break;
    case OPT_FSYNC_INTERVAL:
        o->fsync_interval_ms = (int)p->num;
        break;
    case OPT_SEGMENT_SIZE:
        o->segment_size = p->num << 20;
        break;
    case OPT_STATUS_INTERVAL:
        o->status_interval_s = (int)p->num;
        break;
    case OPT_ENDPOS:
        o->endpos = p->num;
        break;
    case OPT_TX_MEMORY:
        o->tx_memory_budget = p->num << 20;
        break;
    case OPT_WARN_ROWS:
        o->warn_rows = (uint32_t)p->num;
        break;
    default:
        break;
    }
}

/* Reads the command line into o (its defaults first): 0, or -1 to stop
 * with *status (after --help, or a usage error said). */
static int parse_args(int argc, char **argv, tm_capture_opts *o, int *status)
{
    o->fsync_interval_ms = 200;
    o->segment_size = TM_DEFAULT_SEGMENT_SIZE;
    o->status_interval_s = 10;
    o->tx_memory_budget = 256ull << 20;
    o->warn_rows = 1000;
    snprintf(o->publication, sizeof o->publication, "tidemark");
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_capture, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0)
        take_option(o, &p, id);
    *status = p.status;
    return id == TM_CLI_EXIT ? -1 : 0;
}

/* Slot names allow lower case letters, digits and underscores only. */
static void default_slot(const char *db, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "tidemark_");
    for (; *db && n + 1 < len && n < 63; db++) {
        char c = *db;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[n++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : '_';
    }
    out[n] = '\0';
}

static int cmd_capture(int argc, char **argv)
{
    tm_capture_opts o = {0};
    int rc;
    if (!(o.tables = calloc((size_t)argc, sizeof *o.tables))) {
        tm_log_error("out of memory");
        return 1;
    }
    if (parse_args(argc, argv, &o, &rc) != 0)
        goto out;
    rc = 1;

    tm_error err = {{0}};
    tm_meta meta;
    bool fresh = false;
    if (tm_meta_read(o.journal, &meta, &err) != 0) {
        if (errno != ENOENT) {
            tm_log_error("%s", err.msg);
            goto out;
        }
        fresh = true;
    }
    if (fresh && o.n_tables == 0) {
        rc = tm_usage_error("capture",
                            "%s holds no journal yet: name the tables to capture with --table "
                            "SCHEMA.NAME",
                            o.journal);
        goto out;
    }
    if (!fresh && o.n_tables > 0)
        tm_log_info("note: the journal exists; --table is ignored (the publication \"%s\" "
                    "decides what is captured)",
                    meta.publication);

    int lock_fd = -1;
    tm_writer *w = NULL;
    PGconn *sql = NULL, *repl = NULL;
    bool created_dir = false, initialised = !fresh;
    tm_writer_options wo = {.segment_size = o.segment_size};
    /* The source first: a refusal for an unreachable server or a bad
     * conninfo leaves nothing behind. */
    tm_identity id;
    if (!(sql = tm_source_connect(o.source, false, &err)) ||
        !(repl = tm_source_connect(o.source, true, &err)) ||
        tm_source_identify(repl, &id, &err) != 0)
        goto fail;
    if (mkdir(o.journal, 0700) == 0)
        created_dir = true;
    else if (errno != EEXIST) {
        tm_error_errno(&err, "cannot create journal directory %s", o.journal);
        goto fail;
    }
    /* Lock before anything reads or repairs the journal. */
    if (tm_journal_lock(o.journal, &lock_fd, &err) != 0)
        goto fail;
    if (fresh) {
        /* A directory with segments but no metadata is a first run that died. */
        if (tm_writer_open(o.journal, &wo, &w, &err) != 0)
            goto fail;
        if (tm_writer_last_commit_lsn(w) != 0) {
            tm_error_set(&err,
                         "%s holds journal segments but no journal.meta: an earlier first "
                         "run did not finish; remove the directory and start again",
                         o.journal);
            goto fail;
        }
    }

    if (fresh) {
        if (!o.slot[0])
            default_slot(id.database, o.slot, sizeof o.slot);
        if (tm_capture_init_journal(&o, sql, repl, &id, w, &meta, &err) != 0)
            goto fail;
        initialised = true;
    } else {
        if (meta.system_identifier != id.system_identifier || strcmp(meta.database, id.database)) {
            tm_error_set(&err,
                         "journal %s belongs to database \"%s\" of system %llu, but the "
                         "source is database \"%s\" of system %llu; use another --journal",
                         o.journal, meta.database, (unsigned long long)meta.system_identifier,
                         id.database, (unsigned long long)id.system_identifier);
            goto fail;
        }
        if (o.slot[0] && strcmp(o.slot, meta.slot)) {
            tm_error_set(&err, "journal %s reads slot \"%s\", not \"%s\"", o.journal, meta.slot,
                         o.slot);
            goto fail;
        }
        snprintf(o.slot, sizeof o.slot, "%s", meta.slot);
        snprintf(o.publication, sizeof o.publication, "%s", meta.publication);
        tm_slot_info si;
        if (tm_slot_info_get(sql, o.slot, &si, &err) != 0)
            goto fail;
        if (!si.exists || !si.logical_pgoutput || !strcmp(si.wal_status, "lost")) {
            tm_error_set(&err,
                         "replication slot \"%s\" %s: changes since the journal's end may "
                         "be gone (a gap). Start a new journal in an empty directory (it "
                         "takes a fresh base snapshot); keep %s for the history it holds",
                         o.slot,
                         !si.exists             ? "no longer exists"
                         : !si.logical_pgoutput ? "is not a pgoutput logical slot"
                                                : "has lost required WAL (wal_status = lost)",
                         o.journal);
            goto fail;
        }
        if (!w && tm_writer_open(o.journal, &wo, &w, &err) != 0)
            goto fail;
        tm_oidlist tables = {0};
        if (tm_publication_ensure(sql, o.publication, &tables, &err) != 0)
            goto fail;
        int ri = tm_replica_identity_check(sql, &tables, o.set_replica_identity_full, &err);
        tm_oidlist_free(&tables);
        if (ri != 0)
            goto fail;
    }
    PQfinish(repl);
    repl = NULL;
    PQfinish(sql);
    sql = NULL;

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (tm_capture_stream(&o, &meta, w, &err) != 0)
        goto fail;
    rc = tm_writer_close(w, &err) == 0 ? 0 : 1;
    w = NULL;
    if (rc != 0)
        tm_log_error("%s", err.msg);
    goto cleanup;
fail:
    tm_log_error("%s", err.msg);
    rc = 1;
cleanup:
    if (w)
        tm_writer_close(w, NULL);
    if (sql)
        PQfinish(sql);
    if (repl)
        PQfinish(repl);
    if (!initialised && lock_fd >= 0)
        tm_capture_discard_fresh(o.journal, created_dir);
    if (lock_fd >= 0)
        tm_journal_unlock(lock_fd);
out:
    free(o.tables);
    return rc;
}
