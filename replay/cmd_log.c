/* tidemark log: who changed what, and when (forensics). The command line is
 * here (the options are log_opts.h), the work in log_run.c. */
#include "replay/cmd_log.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "replay/log/log_run.h"
#include "replay/query/where.h"
#include "store/archive/source.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/log.h"
#include "store/common/qualname.h"
#include "store/common/tm_time.h"
#include "store/journal/tableset.h"

enum {
    OPT_JOURNAL = 1,
    OPT_TABLE,
    OPT_WHERE,
    OPT_FROM,
    OPT_TO,
    OPT_XID,
    OPT_COLUMN,
    OPT_TRANSACTIONS,
    OPT_TOP,
    OPT_ALL_MESSAGES,
    OPT_FORMAT,
    OPT_TZ,
    OPT_STATS,
    OPT_CACHE_DIR,
    OPT_KEY_FILE,
};

static const char *const formats[] = {"text", "jsonl", NULL};
static const log_format_kind format_of[] = {LOG_TEXT, LOG_JSONL};

static const tm_option options[] = {
    TM_OPTION_JOURNAL_READ(OPT_JOURNAL),
    TM_OPTION_TEXT(
        OPT_TABLE, "table", "SCHEMA.NAME",
        "only changes of this table (repeatable; NAME alone is public.NAME; quote \"Mixed "
        "Case\" names)"),
    TM_OPTION_TEXT(
        OPT_WHERE, "where", "EXPR",
        "only rows whose old or new image matches, e.g. \"user_id = 42 AND key = 'theme'\" "
        "(same language as replay: = != < <= > >=, IN (...), IS [NOT] NULL, col->>'k')"),
    TM_OPTION_TEXT(
        OPT_FROM, "from", "TS",
        "only transactions committed at or after TS (timestamptz forms, e.g. '2026-05-01 "
        "14:03:12+02'; without an offset in --tz, default UTC)"),
    TM_OPTION_TEXT(OPT_TO, "to", "TS",
                   "only transactions committed at or before TS (the same forms)"),
    {.id = OPT_XID,
     .name = "xid",
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "only transaction N (repeatable)",
     .max = UINT32_MAX,
     .expect = "must be a transaction id (a whole number up to 4294967295)"},
    TM_OPTION_TEXT(OPT_COLUMN, "column", "NAME",
                   "only changes that touched this column (repeatable)"),
    {.id = OPT_TRANSACTIONS,
     .name = "transactions",
     .help = "one line per transaction: time, xid, rows per table and operation, context; MASS "
             "CHANGE marks transactions that capture flagged (--warn-rows)"},
    {.id = OPT_TOP,
     .name = "top",
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "with --transactions: the N largest, largest first",
     .min = 1,
     .max = 1000000000,
     .expect = "needs a number of transactions from 1 to 1000000000"},
    {.id = OPT_ALL_MESSAGES,
     .name = "all-messages",
     .help = "also logical messages with other prefixes (those outside transactions at their "
             "position)"},
    {.id = OPT_FORMAT,
     .name = "format",
     .kind = TM_OPT_CHOICE,
     .value = "text|jsonl",
     .help = "text (default) or one JSON object per line",
     .choices = formats},
    TM_OPTION_TEXT(OPT_TZ, "tz", "ZONE",
                   "time zone for timestamps without an offset and for printed times (IANA name, "
                   "e.g. Europe/Paris; default UTC)"),
    {.id = OPT_STATS,
     .name = "stats",
     .help = "print what was read (frames read and skipped) on stderr"},
    TM_OPTION_CACHE_DIR(OPT_CACHE_DIR),
    TM_OPTION_ARCHIVE_KEY(OPT_KEY_FILE),
    {0},
};

static const tm_exit_code exits[] = {
    {0, "success (also when nothing matched)"},
    TM_EXIT_FAILURE,
    TM_EXIT_USAGE,
    {0, NULL},
};

static int cmd_log(int argc, char **argv);

const tm_command tm_cmd_log = {
    .name = "log",
    .summary = "forensic history: who changed what, when, old -> new",
    .synopsis = "--journal DIR|s3://BUCKET/PREFIX [--table SCHEMA.NAME ...] [--where EXPR] [--from "
                "TS] [--to TS] "
                "[--xid N ...] [--column NAME ...] [--transactions [--top N]] [--all-messages] "
                "[--format text|jsonl] [--tz ZONE] [--stats]",
    .description =
        "Lists the changes in the journal in commit order: commit time, xid, commit LSN, table, "
        "operation, the row's key, and what changed (updates: only the changed columns, old -> "
        "new, and for json/jsonb the changed paths). Context that the application attached with "
        "pg_logical_emit_message(true, 'tidemark', '{...}') (see scripts/context.sql) is shown "
        "with each change of its transaction.",
    .options = options,
    .notes = "Lookups by key (--where on key columns, a unique column or a foreign-key column "
             "such as user_id), table or xid read only the frames that hold them, using "
             "per-segment key summaries (DIR/*.keys) that capture's background maintenance keeps "
             "current and log completes for frames they do not cover yet.",
    .exits = exits,
    .run = cmd_log,
};

typedef struct raw {
    log_opts *o;
    const char *from, *to;
    bool top_given;
} raw;

/* Stores one option's value in o: 0, or a usage error's status. */
static int take_option(void *ctx, const tm_cli *p, int id)
{
    raw *r = ctx;
    log_opts *o = r->o;
    tm_error err;
    int rc = 0;
    switch (id) {
    case OPT_JOURNAL:
        o->journal = p->arg;
        break;
    case OPT_CACHE_DIR:
        o->cache_dir = p->arg;
        break;
    case OPT_KEY_FILE:
        o->key_file = p->arg;
        break;
    case OPT_TABLE:
        rc = log_opts_add_table(o, p->arg, &err);
        break;
    case OPT_WHERE:
        if (o->where)
            return tm_usage_error("log", "--where given twice: join the conditions with AND");
        o->where = p->arg;
        break;
    case OPT_FROM:
        r->from = p->arg;
        break;
    case OPT_TO:
        r->to = p->arg;
        break;
    case OPT_XID:
        rc = log_opts_add_xid(o, (uint32_t)p->num, &err);
        break;
    case OPT_COLUMN:
        rc = log_opts_add_column(o, p->arg, &err);
        break;
    case OPT_TRANSACTIONS:
        o->transactions = true;
        break;
    case OPT_TOP:
        o->top = (size_t)p->num;
        r->top_given = true;
        break;
    case OPT_ALL_MESSAGES:
        o->all_messages = true;
        break;
    case OPT_FORMAT:
        o->format = format_of[p->choice];
        break;
    case OPT_TZ:
        o->tz = p->arg;
        break;
    case OPT_STATS:
        o->stats = true;
        break;
    default:
        break;
    }
    return rc == 0 ? 0 : tm_usage_error("log", "%s", err.msg);
}

/* What is checked with all the options read: 0, or a usage error's status. */
static int check_args(void *ctx)
{
    const raw *r = ctx;
    log_opts *o = r->o;
    tm_error err;
    if (r->top_given && !o->transactions)
        return tm_usage_error("log", "--top goes with --transactions");
    if (log_opts_set_times(o, r->from, r->to, &err) != 0)
        return tm_usage_error("log", "%s", err.msg);
    if (o->where) { /* its syntax now; its columns when the journal is read */
        tm_where *w = tm_where_parse(o->where, &err);
        if (!w)
            return tm_usage_error("log", "--where: %s", err.msg);
        tm_where_free(w);
    }
    return 0;
}

int cmd_log_parse(int argc, char **argv, log_opts *o, int *status)
{
    memset(o, 0, sizeof *o);
    raw r = {.o = o};
    return tm_cli_parse(&tm_cmd_log, argc, argv, take_option, check_args, &r, status);
}

static void print_stats(const log_run_stats *st)
{
    tm_log_info("frames: %" PRIu64 " in the journal, %" PRIu64 " read (%" PRIu64
                " for schemas), %" PRIu64 " skipped by key summaries; %" PRIu64
                " frames indexed, %" PRIu64 " summaries saved; %" PRIu64 " changes in %" PRIu64
                " transactions shown",
                st->frames_total, st->frames_decoded + st->schema_frames, st->schema_frames,
                st->frames_skipped, st->indexed, st->summaries_saved, st->changes_shown,
                st->transactions_shown);
}

/* A --table whose capture started after --to has no history in the
 * window: refused, naming its start (0, or 1 said). A --from before the
 * start gets a note. Read only when a table and a window are given. */
static int check_capture_spans(const log_opts *o)
{
    if (!o->ntables || (!o->has_to && !o->has_from))
        return 0;
    tm_tableset ts = {0};
    tm_error err;
    if (tm_tableset_scan(o->journal, &ts, &err) != 0) {
        tm_tableset_free(&ts);
        return 0; /* log itself says what is wrong with the journal */
    }
    int rc = 0;
    for (size_t i = 0; i < o->ntables && rc == 0; i++) {
        const tm_tablespan *seen = NULL;
        for (size_t k = 0; k < ts.nseen && !seen; k++)
            if (!strcmp(ts.seen[k].nspname, o->tables[i].schema) &&
                !strcmp(ts.seen[k].relname, o->tables[i].name))
                seen = &ts.seen[k];
        if (!seen)
            continue;
        char q[2 * TM_NAME_MAX + 8], span[200], t[TM_TIME_BUFLEN];
        tm_qualname_format(seen->nspname, seen->relname, q, sizeof q);
        const tm_tablespan *first = tm_tableset_next(&ts, seen->oid, false, 0, INT64_MIN);
        if (o->has_to && !tm_tableset_prev(&ts, seen->oid, false, 0, o->to)) {
            if (first)
                tm_log_error("table %s joined the capture set after %s: it is %s, and the "
                             "journal holds none of its history before that",
                             q, tm_time_format(o->to, t),
                             tm_tablespan_describe(first, span, sizeof span));
            else
                tm_log_error("table %s has no snapshot in the journal (it joined the capture "
                             "set without one, under an older tidemark), so its history is not "
                             "known",
                             q);
            rc = 1;
        } else if (o->has_from && first && first->start_time > o->from) {
            tm_log_info("note: table %s is %s; the journal holds none of its history before "
                        "that",
                        q, tm_tablespan_describe(first, span, sizeof span));
        }
    }
    tm_tableset_free(&ts);
    return rc;
}

static int cmd_log(int argc, char **argv)
{
    log_opts o;
    int rc;
    if (cmd_log_parse(argc, argv, &o, &rc) == 0 &&
        (rc = tm_archive_source_use(o.journal, o.cache_dir, o.key_file)) == 0 &&
        (rc = check_capture_spans(&o)) == 0) {
        log_run_stats st;
        tm_error err;
        rc = log_run(&o, 1, &st, &err) == 0 ? 0 : 1;
        if (rc != 0)
            tm_log_error("%s", err.msg);
        if (o.stats)
            print_stats(&st);
    }
    tm_archive_source_close();
    log_opts_free(&o);
    return rc;
}
