/* tidemark capture: the sidecar. Parses options, opens and checks the
 * journal, initialises it on first run, then streams. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/loop/capture.h"
#include "capture/monitor/heartbeat.h"
#include "capture/monitor/metrics.h"
#include "capture/source/setup.h"
#include "capture/source/standby.h"
#include "store/archive/s3.h"
#include "store/crypt/keyring.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/fsutil.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/secret.h"
#include "store/common/tm_time.h"

volatile int tm_capture_stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    tm_capture_stop_requested = 1;
}

enum {
    OPT_JOURNAL = 1,
    OPT_SOURCE,
    OPT_SOURCE_FILE,
    OPT_TABLE,
    OPT_SLOT,
    OPT_PUBLICATION,
    OPT_RI_FULL,
    OPT_FSYNC_INTERVAL,
    OPT_SEGMENT_SIZE,
    OPT_STATUS_INTERVAL,
    OPT_RECEIVE_TIMEOUT,
    OPT_ENDPOS,
    OPT_TX_MEMORY,
    OPT_WARN_ROWS,
    OPT_METRICS_LISTEN,
    OPT_CHECKPOINT_EVERY,
    OPT_MAINT_MEMORY,
    OPT_RETENTION,
    OPT_LOCAL_RETENTION,
    OPT_COMPACT,
    OPT_ARCHIVE,
    OPT_ARCHIVE_INTERVAL,
    OPT_ENCRYPT_KEY_FILE,
    OPT_RESEED,
    OPT_FAILOVER_SLOT,
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
     .help = "libpq connection string or URI of the source; PG* variables (PGPASSWORD), "
             "~/.pgpass and service files apply. A password written here is hidden from ps at "
             "once, with a warning: it was visible until then (this or --source-file is "
             "required)"},
    {.id = OPT_SOURCE_FILE,
     .name = "source-file",
     .kind = TM_OPT_TEXT,
     .value = "FILE",
     .help = "read the connection string from FILE instead (may hold a password; a warning "
             "when group or others can read it, as for ~/.pgpass)"},
    {.id = OPT_TABLE,
     .name = "table",
     .kind = TM_OPT_TEXT,
     .value = "SCHEMA.NAME",
     .help = "a table to capture (repeatable; required on first run unless the publication "
             "exists; on a later run, a table the publication lacks is added to it and joins "
             "the capture set with a snapshot of its own)"},
    {.id = OPT_SLOT,
     .name = "slot",
     .kind = TM_OPT_TEXT,
     .value = "NAME",
     .help = "replication slot (default tidemark_<database>)"},
    {.id = OPT_PUBLICATION,
     .name = "publication",
     .kind = TM_OPT_TEXT,
     .value = "NAME",
     .help = "publication (default tidemark; capture creates it, on 18 publishing stored "
             "generated columns: one of yours must too, publish_generated_columns = stored)"},
    {.id = OPT_RI_FULL,
     .name = "set-replica-identity-full",
     .help = "set REPLICA IDENTITY FULL on captured tables (not on one with a virtual "
             "generated column: published, it would refuse UPDATE and DELETE)"},
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
    {.id = OPT_RECEIVE_TIMEOUT,
     .name = "receive-timeout",
     .kind = TM_OPT_UINT,
     .value = "S",
     .help = "when nothing came from the server for half of S seconds, ask it for a reply; "
             "after S seconds of silence the connection is taken for dead and made again "
             "(default 30; TCP keepalives are set from it unless the conninfo sets them)",
     .min = 2,
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
    {.id = OPT_METRICS_LISTEN,
     .name = "metrics-listen",
     .kind = TM_OPT_TEXT,
     .value = "ADDR:PORT",
     .help = "serve Prometheus metrics at http://ADDR:PORT/metrics (e.g. 127.0.0.1:9187; "
             "[::1]:9187; :9187 for every address)"},
    {.id = OPT_CHECKPOINT_EVERY,
     .name = "checkpoint-every",
     .kind = TM_OPT_UINT,
     .value = "MB",
     .help = "self-maintenance: each time the journal has grown by MB megabytes, run `tidemark "
             "checkpoint` in the background at the lowest CPU and I/O priority (a checkpoint at "
             "the durable mark, key summaries, row counts; default 32; 0: never)",
     .max = 1 << 20},
    {.id = OPT_MAINT_MEMORY,
     .name = "maintenance-memory-mb",
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "address-space limit of the background maintenance run (default 4096); a run that "
             "needs more fails, is logged and is tried again later",
     .min = 64,
     .max = 1 << 24},
    {.id = OPT_ARCHIVE,
     .name = "archive",
     .kind = TM_OPT_TEXT,
     .value = "s3://BUCKET/PREFIX",
     .help = "copy sealed segments, indexes, key summaries, checkpoints and metadata to S3 in the "
             "background (a child running tidemark archive); the slot is still confirmed from "
             "the local fsync, and an outage of the store only shows as archive lag in "
             "tidemark status. Endpoint and credentials come from the environment or a "
             "credentials file (README: Archive)"},
    {.id = OPT_ARCHIVE_INTERVAL,
     .name = "archive-interval",
     .kind = TM_OPT_UINT,
     .value = "S",
     .help = "seconds between archive passes (default 10)",
     .min = 1,
     .max = 86400},
    {.id = OPT_ENCRYPT_KEY_FILE,
     .name = "encrypt-key-file",
     .kind = TM_OPT_TEXT,
     .value = "FILE",
     .help = "with --archive: encrypt every archived object with AES-256-GCM under the first "
             "key of FILE (lines \"KEYID HEX64\"; older keys below it stay readable by id; "
             "chmod 600; README: Encryption)"},
    TM_OPTION_TEXT(OPT_RETENTION, "retention", "DURATION",
                   "keep DURATION of history (30d, 12h, 2w): the background maintenance prunes "
                   "what is older, keeping a checkpoint as the journal's new start (see tidemark "
                   "prune; default: keep everything)"),
    TM_OPTION_TEXT(OPT_LOCAL_RETENTION, "local-retention", "DURATION",
                   "with --archive: the background maintenance removes the local copies of "
                   "sealed files older than DURATION once the archive holds them, checked (see "
                   "tidemark prune --local); the archive keeps the history"),
    {.id = OPT_COMPACT,
     .name = "compact",
     .help = "the background maintenance also recompresses sealed segments with zstd into "
             "larger frames (about two thirds of LZ4's size; see tidemark compact)"},
    {.id = OPT_RESEED,
     .name = "reseed",
     .help = "after a gap (the slot was lost, dropped or replaced): drop the old slot if it is "
             "still there, create it again with an exported snapshot and take a fresh base "
             "snapshot of the tables under it, so that the journal goes on; replay refuses "
             "times inside the gap and is exact after it"},
    {.id = OPT_FAILOVER_SLOT,
     .name = "failover-slot",
     .help = "PostgreSQL 17+: create the slot with failover = true (or make the journal's slot "
             "one), so that standbys with sync_replication_slots = on keep a copy and capture "
             "goes on after one is promoted, nothing lost or duplicated. The primary needs "
             "synchronized_standby_slots naming the standbys' physical slots; each standby "
             "hot_standby_feedback = on, primary_slot_name and dbname in primary_conninfo. Name "
             "every server in --source (host=a,b target_session_attrs=read-write): capture "
             "checks the standbys there and says what is missing. Refused before 17 and on a "
             "standby"},
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
    .synopsis = "--journal DIR (--source CONNINFO | --source-file FILE) [OPTIONS]",
    .description = "Consumes a pgoutput logical replication slot into the journal in DIR. The "
                   "first run (empty or absent DIR) creates the publication and slot and copies "
                   "a base snapshot of the tables; later runs resume where the journal ends. "
                   "A table added to the publication (ALTER PUBLICATION ... ADD TABLE, or a new "
                   "--table) gets a snapshot of its own, its capture start; a table removed "
                   "from it is recorded as such. Stops cleanly on SIGINT/SIGTERM.",
    .options = options,
    .notes = "Exactly once: before a position is confirmed to the server it is recorded, after "
             "the fsync of the journal, in DIR/confirmed.mark. At every start whatever lies "
             "above that mark is cut and fetched again; a damaged frame at or below it is "
             "refused (exit 1), naming segment and offset. A write or fsync error stops capture "
             "without confirming.\n\n"
             "Gaps: at every start and reconnect the slot must exist, be the journal's pgoutput "
             "slot, hold its WAL, and not be ahead of the mark. Otherwise (dropped, recreated, "
             "lost, advanced by someone else) the transactions in between never reached the "
             "journal: the gap (its LSN range and why) is recorded in the journal, capture exits "
             "1, and every later start refuses the same way. Start a new journal in an empty "
             "directory; keep the old one for the history it holds. Or go on in the same journal "
             "with --reseed (a new slot and base snapshot after the gap). A slot still held by the "
             "walsender of a killed capture is waited for (up to wal_sender_timeout + 10 s).\n\n"
             "A first run that crashed leaves DIR/init.pending; the rerun drops the slot it "
             "created and starts over.\n\n"
             "Status lines: lag=BYTES/SECONDS is the distance from the confirmed position to the "
             "server's WAL position, and the age of the oldest position the server reported "
             "that is not yet durable and confirmed (or, after more than 1.5 s without a word "
             "from the server, that silence); retained= is the WAL the slot holds back, with "
             "its wal_status and safe_wal_size. A warning when it nears "
             "max_slot_wal_keep_size. Reconnects back off from 0.1 s to 30 s with jitter.\n\n"
             "Monitoring: DIR/capture.status is rewritten every --status-interval (tidemark "
             "status --check reads it); --metrics-listen serves /metrics.\n\n"
             "Servers: PostgreSQL 14 to 18 (older ones are refused). Transactions larger than "
             "the server's logical_decoding_work_mem are streamed while in progress "
             "(proto_version 2) and spooled to DIR/stream-<xid>.spool until their commit, so "
             "the server never spills them. From a hot standby (16+): the slot lives on the "
             "standby; wal_level=logical on both, hot_standby_feedback=on and primary_slot_name "
             "on the standby, the publication created on the primary (capture checks these and "
             "says what is missing); the base snapshot is exported by the standby's slot. On "
             "14-16 a failover loses the slot: the next start records a gap (--reseed goes "
             "on); on 17+ --failover-slot keeps it. README: Supported PostgreSQL versions, Capture "
             "from a standby, Failover slots.\n\n"
             "Passwords: use PGPASSWORD, ~/.pgpass, a service file or --source-file (chmod 600). "
             "A password in --source is hidden from ps at once, with a warning; passwords are "
             "masked in every message.",
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
    case OPT_SOURCE_FILE:
        o->source_file = p->arg;
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
    case OPT_RECEIVE_TIMEOUT:
        o->receive_timeout_s = (int)p->num;
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
    case OPT_METRICS_LISTEN:
        o->metrics_listen = p->arg;
        break;
    case OPT_CHECKPOINT_EVERY:
        o->checkpoint_every = p->num << 20;
        break;
    case OPT_MAINT_MEMORY:
        o->maint_memory = p->num << 20;
        break;
    case OPT_RETENTION:
        o->retention = p->arg;
        break;
    case OPT_LOCAL_RETENTION:
        o->local_retention = p->arg;
        break;
    case OPT_COMPACT:
        o->compact = true;
        break;
    case OPT_ARCHIVE:
        o->archive_url = p->arg;
        break;
    case OPT_ARCHIVE_INTERVAL:
        o->archive_interval_s = (unsigned)p->num;
        break;
    case OPT_ENCRYPT_KEY_FILE:
        o->archive_keys = p->arg;
        break;
    case OPT_RESEED:
        o->reseed = true;
        break;
    case OPT_FAILOVER_SLOT:
        o->failover_slot = true;
        break;
    default:
        break;
    }
}

/* The archive's address and the store's settings, checked before capture
 * starts (the child reads them again from the same environment). */
static int archive_usable(const char *url, tm_error *err)
{
    char bucket[256], prefix[1024];
    tm_s3_config cfg;
    int rc = tm_s3_parse_url(url, bucket, sizeof bucket, prefix, sizeof prefix, err);
    if (rc == 0)
        rc = tm_s3_config_from_env(&cfg, bucket, err);
    explicit_bzero(&cfg, sizeof cfg);
    return rc;
}

/* The key file, read once before capture starts (the archive child reads
 * it again at each start). */
static int key_file_usable(const char *path, tm_error *err)
{
    tm_keyring *kr = NULL;
    int rc = tm_keyring_load(path, &kr, err);
    tm_keyring_free(kr);
    return rc;
}

/* One run of capture and what it holds open (release() lets go). */
typedef struct run {
    tm_capture_opts o;
    char *conninfo; /* the source's, owned */
    tm_meta meta;
    bool fresh, created_dir, initialised;
    int lock_fd;
    tm_writer *w;
    PGconn *sql, *repl;
    tm_identity id;
    tm_error err;
} run;

/* The conninfo, read from --source-file: the file's text without trailing
 * white space, malloc'd; a warning when others may read it. NULL with err. */
static char *read_source_file(const char *path, tm_error *err)
{
    struct stat st;
    unsigned char *data;
    size_t len;
    if (stat(path, &st) != 0) {
        tm_error_errno(err, "cannot read --source-file %s", path);
        return NULL;
    }
    if (tm_read_file(path, 65536, &data, &len, err) != 0)
        return NULL;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ' ||
                   data[len - 1] == '\t'))
        len--;
    data[len] = '\0';
    if (len == 0 || memchr(data, '\0', len)) {
        tm_error_setc(err, TM_ERR_FORMAT, "--source-file %s holds no connection string", path);
        free(data);
        return NULL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        tm_log_warning("--source-file %s can be read by group or others (mode %04o), and it may "
                       "hold a password: chmod 600 %s",
                       path, (unsigned)(st.st_mode & 07777), path);
    return (char *)data;
}

/* The source's conninfo, owned by r: from --source (copied, then its
 * password overwritten in argv so that ps no longer shows it) or
 * --source-file. Its passwords are masked in every message from now on.
 * Returns 0, 1 (a failure, said) or 2 (a usage error, said). */
static int take_source(run *r)
{
    tm_capture_opts *o = &r->o;
    if (!o->source == !o->source_file)
        return tm_usage_error("capture", o->source ? "--source and --source-file exclude each other"
                                                   : "name the source with --source CONNINFO or "
                                                     "--source-file FILE");
    if (o->source_file) {
        r->conninfo = read_source_file(o->source_file, &r->err);
        if (!r->conninfo) {
            tm_log_error("%s", r->err.msg);
            return 1;
        }
        tm_secret_register(r->conninfo);
    } else if (!(r->conninfo = tm_cli_conninfo("--source", (char *)o->source))) {
        return 1;
    }
    o->source = r->conninfo;
    return 0;
}

/* Reads the command line into o (its defaults first): 0, or -1 to stop
 * with *status (after --help, or a usage error said). */
static int parse_args(int argc, char **argv, tm_capture_opts *o, int *status)
{
    o->fsync_interval_ms = 200;
    o->segment_size = TM_DEFAULT_SEGMENT_SIZE;
    o->status_interval_s = 10;
    o->receive_timeout_s = 30;
    o->tx_memory_budget = 256ull << 20;
    o->warn_rows = 1000;
    o->checkpoint_every = 32ull << 20;
    o->maint_memory = 4096ull << 20;
    snprintf(o->publication, sizeof o->publication, "tidemark");
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_capture, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0)
        take_option(o, &p, id);
    *status = p.status;
    if (id == TM_CLI_EXIT)
        return -1;
    /* --retention is carried out by the maintenance runs: checked here. */
    int64_t us;
    tm_error err;
    if (o->retention && tm_duration_parse(o->retention, &us, &err) != 0)
        *status = tm_usage_error("capture", "--retention: %s", err.msg);
    else if (o->local_retention && tm_duration_parse(o->local_retention, &us, &err) != 0)
        *status = tm_usage_error("capture", "--local-retention: %s", err.msg);
    else if (o->local_retention && !o->archive_url)
        *status = tm_usage_error("capture", "--local-retention goes with --archive");
    else if (o->compact && !o->checkpoint_every)
        *status = tm_usage_error("capture", "--compact needs the background maintenance: "
                                            "--checkpoint-every must not be 0");
    else if ((o->retention || o->local_retention) && !o->checkpoint_every)
        *status = tm_usage_error("capture",
                                 "--%sretention needs the background maintenance: "
                                 "--checkpoint-every must not be 0",
                                 o->retention ? "" : "local-");
    else if (o->archive_url && archive_usable(o->archive_url, &err) != 0)
        *status = tm_usage_error("capture", "--archive: %s", err.msg);
    else if (o->archive_keys && !o->archive_url)
        *status = tm_usage_error("capture", "--encrypt-key-file needs --archive");
    else if (o->archive_keys && key_file_usable(o->archive_keys, &err) != 0)
        *status = tm_usage_error("capture", "--encrypt-key-file: %s", err.msg);
    /* A bad metrics address is a usage error, said before anything is touched. */
    else if (o->metrics_listen && tm_metrics_listen_check(o->metrics_listen, &err) != 0)
        *status = tm_usage_error("capture", "%s", err.msg);
    return *status ? -1 : 0;
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

/* tm_writer_open, and a notice of what it repaired, if anything. */
static int open_writer(const char *dir, const tm_writer_options *wo, tm_writer **w, tm_error *err)
{
    tm_recovery rep = {0};
    tm_writer_options o = *wo;
    o.report = &rep;
    o.keep_mark = true;
    int rc = tm_writer_open(dir, &o, w, err);
    char note[1536];
    tm_recovery_describe(dir, &rep, note, sizeof note);
    if (note[0])
        tm_log_info("%s", note);
    return rc;
}

/* The journal's metadata, or none yet (a first run, which needs
 * --table). Returns 0, 1 (a failure, said) or 2 (a usage error, said). */
static int read_journal(run *r)
{
    if (tm_meta_read(r->o.journal, &r->meta, &r->err) != 0) {
        if (!tm_error_is(&r->err, TM_ERR_NOT_FOUND)) {
            tm_log_error("%s", r->err.msg);
            return 1;
        }
        r->fresh = true;
    }
    if (r->fresh && r->o.n_tables == 0)
        return tm_usage_error("capture",
                              "%s holds no journal yet: name the tables to capture with --table "
                              "SCHEMA.NAME",
                              r->o.journal);
    r->initialised = !r->fresh;
    return 0;
}

/* The source first: a refusal for an unreachable server or a bad conninfo
 * leaves nothing behind. Then the journal directory, made and locked, and
 * on a first run opened. -1 with r->err. */
static int open_source_and_journal(run *r)
{
    if (!(r->sql = tm_source_connect(r->o.source, false, &r->err)) ||
        !(r->repl = tm_source_connect(r->o.source, true, &r->err)) ||
        tm_source_identify(r->repl, &r->id, &r->err) != 0)
        return -1;
    /* A standby, or failover asked for: its settings, before anything is made. */
    tm_role_want want = {.failover = r->o.failover_slot,
                         .set_ri_full = r->o.set_replica_identity_full,
                         .publication = r->fresh ? r->o.publication : r->meta.publication,
                         .conninfo = r->o.source,
                         .slot = r->fresh ? NULL : r->meta.slot};
    if (tm_source_check_role(r->sql, &want, &r->o.source_standby, &r->err) != 0)
        return -1;
    if (mkdir(r->o.journal, 0700) == 0) {
        r->created_dir = true;
    } else if (errno != EEXIST) {
        tm_error_errno(&r->err, "cannot create journal directory %s", r->o.journal);
        return -1;
    }
    /* Lock before anything reads or repairs the journal. */
    if (tm_journal_lock(r->o.journal, &r->lock_fd, &r->err) != 0)
        return -1;
    if (!r->fresh)
        return 0;
    /* A first run that died: its slot is dropped and what it wrote removed. */
    if (tm_capture_init_resume(r->o.journal, r->sql, &r->id, &r->err) != 0)
        return -1;
    /* Segments but no metadata and no record: a first run of an older
     * tidemark that died. */
    tm_writer_options wo = {.segment_size = r->o.segment_size};
    if (open_writer(r->o.journal, &wo, &r->w, &r->err) != 0)
        return -1;
    if (tm_writer_last_commit_lsn(r->w) != 0) {
        tm_error_set(&r->err,
                     "%s holds journal segments but no journal.meta: an earlier first run did "
                     "not finish; remove the directory and start again",
                     r->o.journal);
        return -1;
    }
    return 0;
}

/* A first run: publication, slot, base snapshot and metadata. */
static int init_journal(run *r)
{
    if (!r->o.slot[0])
        default_slot(r->id.database, r->o.slot, sizeof r->o.slot);
    if (tm_capture_init_journal(&r->o, r->sql, r->repl, &r->id, r->w, &r->meta, &r->err) != 0)
        return -1;
    r->initialised = true;
    return 0;
}

/* A later run: the journal is this source's, it does not end with a gap,
 * its slot can continue it (or a gap is recorded), and the publication
 * and the tables' replica identities are checked. */
static int check_resume(run *r)
{
    const tm_meta *m = &r->meta;
    if (m->system_identifier != r->id.system_identifier || strcmp(m->database, r->id.database)) {
        tm_error_set(&r->err,
                     "journal %s belongs to database \"%s\" of system %llu, but the source is "
                     "database \"%s\" of system %llu; use another --journal",
                     r->o.journal, m->database, (unsigned long long)m->system_identifier,
                     r->id.database, (unsigned long long)r->id.system_identifier);
        return -1;
    }
    if (r->o.slot[0] && strcmp(r->o.slot, m->slot)) {
        tm_error_set(&r->err, "journal %s reads slot \"%s\", not \"%s\"", r->o.journal, m->slot,
                     r->o.slot);
        return -1;
    }
    snprintf(r->o.slot, sizeof r->o.slot, "%s", m->slot);
    snprintf(r->o.publication, sizeof r->o.publication, "%s", m->publication);
    tm_writer_options wo = {.segment_size = r->o.segment_size};
    if (tm_capture_init_forget(r->o.journal, &r->err) != 0 ||
        (!r->w && open_writer(r->o.journal, &wo, &r->w, &r->err) != 0))
        return -1;
    /* A reseed that was interrupted: complete, or rolled back to the gap. */
    if (tm_capture_reseed_resume(r->o.journal, r->sql, &r->id, tm_writer_confirmed_lsn(r->w),
                                 &r->err) != 0)
        return -1;
    /* A gap (found at the journal's end, or recorded now for the slot):
     * capture stops, unless asked to go on after it with a fresh start. */
    int gap = tm_capture_check_gap(r->o.journal, r->w, &r->err) != 0
                  ? (tm_error_is(&r->err, TM_ERR_CONFLICT) ? -2 : -1)
                  : tm_capture_check_slot(r->sql, r->o.journal, &r->meta, r->w, &r->err);
    if (gap == -2 && r->o.reseed) {
        tm_log_warning("%s", r->err.msg);
        gap = tm_capture_reseed(&r->o, r->sql, r->repl, &r->id, r->w, &r->err);
    }
    if (gap != 0)
        return -1;
    if (r->o.failover_slot && tm_slot_ensure_failover(r->sql, r->repl, r->o.slot, &r->err) != 0)
        return -1;
    tm_oidlist tables = {0};
    /* A --table the publication lacks joins the capture set: added here,
     * snapshotted by the stream. Tables are never removed this way. */
    if (r->o.n_tables > 0 &&
        (tm_capture_resolve_tables(&r->o, r->sql, &tables, &r->err) != 0 ||
         tm_publication_add(r->sql, r->o.publication, &tables, &r->err) != 0)) {
        tm_oidlist_free(&tables);
        return -1;
    }
    tm_oidlist_free(&tables);
    if (tm_publication_ensure(r->sql, r->o.publication, &tables, &r->err) != 0)
        return -1;
    int ri = tm_replica_identity_check(r->sql, &tables, r->o.set_replica_identity_full, &r->err);
    tm_oidlist_free(&tables);
    return ri;
}

/* Streams until a signal, --endpos or an error, then closes the journal. */
static int stream(run *r)
{
    PQfinish(r->repl);
    r->repl = NULL;
    PQfinish(r->sql);
    r->sql = NULL;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    tm_capture_stats st;
    tm_stats_init(&st, r->o.status_interval_s);
    tm_heartbeat_thread hb;
    tm_metrics_server *ms = NULL;
    if (tm_heartbeat_start(&hb, r->o.journal, &st, &r->err) != 0)
        return -1;
    if (r->o.metrics_listen && tm_metrics_serve(r->o.metrics_listen, &st, &ms, &r->err) != 0) {
        tm_heartbeat_stop(&hb);
        return -1;
    }
    int srm = tm_capture_stream(&r->o, &r->meta, r->w, &st, &r->err);
    tm_metrics_stop(ms);
    tm_heartbeat_stop(&hb);
    if (srm != 0)
        return -1;
    int rc = tm_writer_close(r->w, &r->err);
    r->w = NULL;
    return rc;
}

/* Lets go of what r holds; a first run that did not finish leaves nothing. */
static void release(run *r)
{
    if (r->w)
        tm_writer_close(r->w, NULL);
    if (r->sql)
        PQfinish(r->sql);
    if (r->repl)
        PQfinish(r->repl);
    if (!r->initialised && r->lock_fd >= 0)
        tm_capture_discard_fresh(r->o.journal, r->created_dir);
    if (r->lock_fd >= 0)
        tm_journal_unlock(r->lock_fd);
}

static int cmd_capture(int argc, char **argv)
{
    run r = {.lock_fd = -1};
    int rc = 1;
    if (!(r.o.tables = calloc((size_t)argc, sizeof *r.o.tables)))
        tm_log_error("out of memory");
    else if (parse_args(argc, argv, &r.o, &rc) == 0 && (rc = take_source(&r)) == 0 &&
             (rc = read_journal(&r)) == 0) {
        tm_source_set_timeout(r.o.receive_timeout_s);
        if (open_source_and_journal(&r) != 0 ||
            (r.fresh ? init_journal(&r) : check_resume(&r)) != 0 || stream(&r) != 0) {
            tm_log_error("%s", r.err.msg);
            rc = 1;
        }
        release(&r);
    }
    free(r.o.tables);
    free(r.conninfo);
    return rc;
}
