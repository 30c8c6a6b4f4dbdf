/* tidemark capture: the sidecar. Parses options, opens and checks the
 * journal, initialises it on first run, then streams. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/loop/capture.h"
#include "store/cli/commands.h"
#include "store/common/lsn.h"
#include "capture/source/setup.h"

volatile int tm_capture_stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    tm_capture_stop_requested = 1;
}

/* The library's notices (tm_notice) go to stderr, one line each. */
static void print_notice(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* tm_writer_open, and the notice for what it repaired, if anything. */
static int open_writer(const char *dir, const tm_writer_options *wo, tm_writer **w, tm_error *err)
{
    tm_recovery rep = {0};
    tm_writer_options o = *wo;
    o.report = &rep;
    int rc = tm_writer_open(dir, &o, w, err);
    char note[1536];
    tm_recovery_describe(dir, &rep, note, sizeof note);
    if (note[0])
        fprintf(stderr, "%s\n", note);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tidemark capture --journal DIR --source CONNINFO [OPTIONS]\n"
            "\n"
            "Consumes a pgoutput logical replication slot into the journal in DIR. The first run\n"
            "(empty or absent DIR) creates the publication and slot and copies a base snapshot\n"
            "of the tables; later runs resume where the journal ends. Stops cleanly on\n"
            "SIGINT/SIGTERM.\n"
            "\n"
            "Options:\n"
            "  --journal DIR             journal directory (required)\n"
            "  --source CONNINFO         libpq connection string or URI; PG* variables and\n"
            "                            ~/.pgpass apply (required)\n"
            "  --table SCHEMA.NAME       a table to capture (repeatable; required on first run\n"
            "                            unless the publication exists)\n"
            "  --slot NAME               replication slot (default tidemark_<database>)\n"
            "  --publication NAME        publication (default tidemark)\n"
            "  --set-replica-identity-full  set REPLICA IDENTITY FULL on captured tables\n"
            "  --fsync-interval-ms N     group commit window (default 200)\n"
            "  --segment-size MB         segment rollover size (default 64)\n"
            "  --status-interval S       status line period in seconds (default 10)\n"
            "  --endpos LSN              stop once everything up to LSN is durable\n"
            "  --tx-memory-mb N          transaction size held in memory before spooling\n"
            "                            to disk (default 256)\n"
            "  --warn-rows N             warn when a transaction deletes or updates more rows\n"
            "                            of a table than this (default 1000)\n"
            "  -v, --verbose             more logging\n"
            "  -h, --help                this help\n");
}

static int parse_uint(const char *flag, const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || *s == '-' || v > max) {
        fprintf(stderr, "tidemark capture: %s needs a whole number up to %llu, not '%s'\n", flag,
                (unsigned long long)max, s);
        return -1;
    }
    *out = v;
    return 0;
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

int cmd_capture(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"journal", required_argument, NULL, 'j'},
        {"source", required_argument, NULL, 's'},
        {"table", required_argument, NULL, 't'},
        {"slot", required_argument, NULL, 'S'},
        {"publication", required_argument, NULL, 'P'},
        {"set-replica-identity-full", no_argument, NULL, 'F'},
        {"fsync-interval-ms", required_argument, NULL, 'i'},
        {"segment-size", required_argument, NULL, 'z'},
        {"status-interval", required_argument, NULL, 'I'},
        {"endpos", required_argument, NULL, 'E'},
        {"tx-memory-mb", required_argument, NULL, 'M'},
        {"warn-rows", required_argument, NULL, 'W'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tm_capture_opts o = {0};
    o.fsync_interval_ms = 200;
    o.segment_size = TM_DEFAULT_SEGMENT_SIZE;
    o.status_interval_s = 10;
    o.tx_memory_budget = 256ull << 20;
    o.warn_rows = 1000;
    o.notice.fn = print_notice;
    snprintf(o.publication, sizeof o.publication, "tidemark");
    o.tables = calloc((size_t)argc, sizeof *o.tables);
    int c, rc = 2;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o.journal = optarg;
            break;
        case 's':
            o.source = optarg;
            break;
        case 't':
            o.tables[o.n_tables++] = optarg;
            break;
        case 'S':
            snprintf(o.slot, sizeof o.slot, "%s", optarg);
            break;
        case 'P':
            snprintf(o.publication, sizeof o.publication, "%s", optarg);
            break;
        case 'F':
            o.set_replica_identity_full = true;
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'i':
            if (parse_uint("--fsync-interval-ms", optarg, 60000, &v) != 0)
                goto out;
            o.fsync_interval_ms = (int)v;
            break;
        case 'z':
            if (parse_uint("--segment-size", optarg, 65536, &v) != 0 || v == 0)
                goto bad_size;
            o.segment_size = v << 20;
            break;
        case 'I':
            if (parse_uint("--status-interval", optarg, 3600, &v) != 0 || v == 0)
                goto out;
            o.status_interval_s = (int)v;
            break;
        case 'E':
            if (tm_lsn_parse(optarg, &o.endpos) != 0) {
                fprintf(stderr,
                        "tidemark capture: --endpos needs an LSN such as 0/16B3748, not '%s'\n",
                        optarg);
                goto out;
            }
            break;
        case 'M':
            if (parse_uint("--tx-memory-mb", optarg, 1 << 20, &v) != 0 || v == 0)
                goto out;
            o.tx_memory_budget = v << 20;
            break;
        case 'W':
            if (parse_uint("--warn-rows", optarg, UINT32_MAX, &v) != 0)
                goto out;
            o.warn_rows = (uint32_t)v;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            fprintf(stderr, "Try 'tidemark capture --help'.\n");
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tidemark capture: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (!o.journal || !o.source) {
        fprintf(stderr, "tidemark capture: --journal and --source are required\n"
                        "Try 'tidemark capture --help'.\n");
        goto out;
    }

    tm_error err = {0};
    tm_meta meta;
    bool fresh = false;
    if (tm_meta_read(o.journal, &meta, &err) != 0) {
        if (!tm_error_is(&err, TM_ERR_NOT_FOUND)) {
            fprintf(stderr, "tidemark capture: %s\n", err.msg);
            goto out;
        }
        fresh = true;
    }
    if (fresh && o.n_tables == 0) {
        fprintf(stderr,
                "tidemark capture: %s holds no journal yet: name the tables to capture "
                "with --table SCHEMA.NAME\n",
                o.journal);
        goto out;
    }
    if (!fresh && o.n_tables > 0)
        fprintf(stderr,
                "tidemark capture: note: the journal exists; --table is ignored (the "
                "publication \"%s\" decides what is captured)\n",
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
        if (open_writer(o.journal, &wo, &w, &err) != 0)
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
        if (!w && open_writer(o.journal, &wo, &w, &err) != 0)
            goto fail;
        tm_oidlist tables = {0};
        if (tm_publication_ensure(sql, o.publication, &tables, &err) != 0)
            goto fail;
        int ri =
            tm_replica_identity_check(sql, &tables, o.set_replica_identity_full, &o.notice, &err);
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
    rc = tm_writer_close(w, &err) == 0 ? 0 : 2;
    w = NULL;
    if (rc != 0)
        fprintf(stderr, "tidemark capture: %s\n", err.msg);
    goto cleanup;
fail:
    fprintf(stderr, "tidemark capture: %s\n", err.msg);
    rc = 2;
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
bad_size:
    fprintf(stderr, "tidemark capture: --segment-size is in MB, 1 to 65536\n");
    goto out;
}
