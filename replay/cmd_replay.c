/* tidemark replay: the rows of captured tables as of a time or LSN, written
 * as CSV, JSON lines or SQL, or applied to a database. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/engine/runner.h"
#include "replay/out/apply_db.h"
#include "replay/out/emit.h"
#include "replay/out/outfile.h"
#include "replay/query/where.h"
#include "store/archive/source.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/fsutil.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/qualname.h"
#include "store/common/tm_time.h"
#include "store/journal/journal.h"
#include "store/journal/tableset.h"

enum {
    OPT_JOURNAL = 1,
    OPT_AT,
    OPT_LSN,
    OPT_TZ,
    OPT_TABLE,
    OPT_WHERE,
    OPT_FORMAT,
    OPT_OUTPUT,
    OPT_FORCE,
    OPT_CREATE_TABLES,
    OPT_APPLY,
    OPT_MODE,
    OPT_DRY_RUN,
    OPT_ALLOW_SOURCE,
    OPT_NO_CHECKPOINT,
    OPT_CACHE_DIR,
    OPT_KEY_FILE,
    OPT_QUIET,
    OPT_VERBOSE,
};

static const char *const formats[] = {"csv", "jsonl", "sql", NULL};
static const tm_format format_of[] = {TM_FMT_CSV, TM_FMT_JSONL, TM_FMT_SQL};
static const char *const modes[] = {"replace", "merge", NULL};

static const tm_option options[] = {
    TM_OPTION_JOURNAL_READ(OPT_JOURNAL),
    TM_OPTION_TEXT(OPT_AT, "at", "TIMESTAMP",
                   "e.g. '2026-11-22 14:03:12+01' or '2026-11-22T13:03:12Z'; without an offset the "
                   "time is in --tz (default UTC)"),
    {.id = OPT_LSN, .name = "lsn", .kind = TM_OPT_LSN, .value = "LSN", .help = "e.g. 0/16B3748"},
    TM_OPTION_TEXT(OPT_TZ, "tz", "ZONE", "time zone of --at and --where times without an offset"),
    TM_OPTION_TEXT(OPT_TABLE, "table", "SCHEMA.NAME",
                   "a table to replay (repeatable; default: every captured table)"),
    TM_OPTION_TEXT(
        OPT_WHERE, "where", "EXPR",
        "only rows matching EXPR, e.g. \"user_id = 42 AND value->>'theme' = 'dark'\" (AND "
        "of column OP literal, IN (...), IS [NOT] NULL; OP is = != < <= > >=)"),
    {.id = OPT_FORMAT,
     .name = "format",
     .kind = TM_OPT_CHOICE,
     .value = "FMT",
     .help = "csv (default; exactly what COPY (SELECT * FROM t ORDER BY key) TO STDOUT WITH "
             "(FORMAT csv, HEADER) writes), jsonl or sql (a psql script of COPY blocks)",
     .choices = formats},
    TM_OPTION_TEXT(OPT_OUTPUT, "output", "PATH",
                   "a file for one table (or an sql script), or a directory for several "
                   "(SCHEMA.NAME.EXT each); default: stdout. A file that exists is left as it is "
                   "unless --force"),
    {.id = OPT_FORCE,
     .name = "force",
     .help = "with --output: replace files that exist (each atomically)"},
    {.id = OPT_CREATE_TABLES,
     .name = "create-tables",
     .help = "sql and --apply: create the tables the target lacks from the recorded schema, "
             "with the types, sequences, defaults and keys they use"},
    TM_OPTION_TEXT(OPT_APPLY, "apply", "CONNINFO",
                   "write the rows into that database, in one transaction"),
    {.id = OPT_MODE,
     .name = "mode",
     .kind = TM_OPT_CHOICE,
     .value = "replace|merge",
     .help = "with --apply: replace (default) makes the target's rows (or its --where subset) "
             "equal the replayed ones; merge inserts missing rows and updates differing ones "
             "only",
     .choices = modes},
    {.id = OPT_DRY_RUN,
     .name = "dry-run",
     .help = "with --apply: report what would change, change nothing"},
    {.id = OPT_ALLOW_SOURCE,
     .name = "allow-source",
     .help = "with --apply: allow writing into the capture source"},
    {.id = OPT_NO_CHECKPOINT,
     .name = "no-checkpoint",
     .help = "replay from the base snapshot, ignoring the checkpoints of 'tidemark checkpoint'"},
    TM_OPTION_CACHE_DIR(OPT_CACHE_DIR),
    TM_OPTION_ARCHIVE_KEY(OPT_KEY_FILE),
    TM_OPTION_QUIET(OPT_QUIET, "only warnings and errors on stderr (no progress)"),
    TM_OPTION_VERBOSE(OPT_VERBOSE, "progress and a summary on stderr"),
    {0},
};

static const tm_exit_code exits[] = {
    TM_EXIT_SUCCESS,
    {1, "failure (the message says which), also when an --output file exists and --force was "
        "not given (then nothing is written)"},
    TM_EXIT_USAGE,
    {0, NULL},
};

static int cmd_replay(int argc, char **argv);

const tm_command tm_cmd_replay = {
    .name = "replay",
    .summary = "reconstruct rows as of a time or LSN, to files or a database",
    .synopsis = "--journal DIR|s3://BUCKET/PREFIX (--at TIMESTAMP | --lsn LSN) [OPTIONS]",
    .description = "Reconstructs the rows of captured tables as they were at a point in time: "
                   "the base snapshot plus the journaled transactions in commit order, up to "
                   "(not including) the first one that committed after TIMESTAMP, as "
                   "PostgreSQL's own recovery to that time would show them; or every transaction "
                   "with commit LSN <= LSN.",
    .options = options,
    .exits = exits,
    .run = cmd_replay,
};

typedef struct opts {
    const char *journal, *at, *tz, *where_text, *output, *cache_dir, *key_file;
    char *apply; /* --apply, a copy (its password hidden in argv) */
    tm_format format;
    tm_qualname *tables;
    int ntables;
    bool by_lsn, mode_given, merge, create_tables, dry_run, allow_source, no_checkpoint, force;
    uint64_t lsn;
    int64_t at_time;
    tm_where *where; /* --where, parsed */
} opts;

/* Stores one option's value in o: 0, or a usage error's status. */
static int take_option(void *ctx, const tm_cli *p, int id)
{
    opts *o = ctx;
    tm_error err;
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
    case OPT_AT:
        o->at = p->arg;
        break;
    case OPT_LSN:
        o->by_lsn = true;
        o->lsn = p->num;
        break;
    case OPT_TZ:
        o->tz = p->arg;
        break;
    case OPT_TABLE:
        if (tm_qualname_parse(p->arg, &o->tables[o->ntables], &err) != 0)
            return tm_usage_error("replay", "--table: %s", err.msg);
        o->ntables++;
        break;
    case OPT_WHERE:
        o->where_text = p->arg;
        break;
    case OPT_FORMAT:
        o->format = format_of[p->choice];
        break;
    case OPT_OUTPUT:
        o->output = p->arg;
        break;
    case OPT_FORCE:
        o->force = true;
        break;
    case OPT_CREATE_TABLES:
        o->create_tables = true;
        break;
    case OPT_APPLY:
        free(o->apply);
        if (!(o->apply = tm_cli_conninfo("--apply", (char *)p->arg)))
            return 1;
        break;
    case OPT_MODE:
        o->mode_given = true;
        o->merge = p->choice == 1;
        break;
    case OPT_DRY_RUN:
        o->dry_run = true;
        break;
    case OPT_ALLOW_SOURCE:
        o->allow_source = true;
        break;
    case OPT_NO_CHECKPOINT:
        o->no_checkpoint = true;
        break;
    default:
        break;
    }
    return 0;
}

/* The options that go together, and the values read only with all of
 * them (--at in --tz, --where): 0, or a usage error's status. */
static int check_args(void *ctx)
{
    opts *o = ctx;
    if (!o->at == !o->by_lsn)
        return tm_usage_error("replay", "give exactly one of --at TIMESTAMP and --lsn LSN");
    if (o->tz && !o->at && !o->where_text)
        return tm_usage_error("replay", "--tz applies to --at and --where only");
    if (!o->apply && (o->mode_given || o->dry_run || o->allow_source))
        return tm_usage_error("replay", "--mode, --dry-run and --allow-source go with --apply");
    if (o->apply && o->output)
        return tm_usage_error("replay", "--output and --apply do not go together");
    if (o->force && !o->output)
        return tm_usage_error("replay", "--force goes with --output");
    if (o->create_tables && !o->apply && o->format != TM_FMT_SQL)
        return tm_usage_error("replay", "--create-tables goes with --format sql or --apply");
    tm_error err;
    if (o->at && tm_time_parse(o->at, o->tz, &o->at_time, &err) != 0)
        return tm_usage_error("replay", "--at '%s': %s", o->at, err.msg);
    if (o->where_text && !(o->where = tm_where_parse(o->where_text, &err)))
        return tm_usage_error("replay", "--where: %s", err.msg);
    return 0;
}

/* ---- selection ----------------------------------------------------------- */

static bool select_table(void *arg, const tm_version *v)
{
    const opts *o = arg;
    if (o->ntables == 0)
        return true;
    for (int i = 0; i < o->ntables; i++)
        if (!strcmp(o->tables[i].schema, v->nspname) && !strcmp(o->tables[i].name, v->relname))
            return true;
    return false;
}

static bool same_name(const tm_qualname *q, const tm_version *v)
{
    return !strcmp(q->schema, v->nspname) && !strcmp(q->name, v->relname);
}

/* Whether table t answers to the name q in any of its versions. */
static bool table_named(const tm_table *t, const tm_qualname *q)
{
    for (uint32_t n = 0; n < t->nver; n++)
        if (t->ver[n] && same_name(q, t->ver[n]))
            return true;
    return false;
}

static void list_tables(const tm_state *s, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < tm_state_ntables(s) && off + 1 < len; i++) {
        const tm_version *v = tm_state_table(s, i)->cur;
        char q[2 * TM_NAME_MAX + 8];
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
                                tm_qualname_format(v->nspname, v->relname, q, sizeof q));
    }
    if (!buf[0])
        snprintf(buf, len, "none");
}

/* ---- output ---------------------------------------------------------------- */

typedef struct outtab {
    tm_table *t;
    const tm_version *v;
    tm_where_bound *where;
    tm_rowset rs;
} outtab;

/* SCHEMA.NAME.EXT with '/' and '%' written as %2F and %25. */
static void file_name(const tm_version *v, tm_format f, char *buf, size_t len)
{
    size_t off = 0;
    const char *parts[2] = {v->nspname, v->relname};
    for (int p = 0; p < 2; p++) {
        for (const char *s = parts[p]; *s && off + 4 < len; s++) {
            if (*s == '/' || *s == '%')
                off += (size_t)snprintf(buf + off, len - off, "%%%02X", (unsigned char)*s);
            else
                buf[off++] = *s;
        }
        if (off + 1 < len)
            buf[off++] = '.';
    }
    snprintf(buf + off, len - off, "%s", tm_format_ext(f));
}

static int build_rowset(outtab *ot, tm_error *err)
{
    return tm_rowset_build(&ot->rs, ot->t, ot->v, ot->where, err);
}

/* Writes tables [0, n) to one sink. */
static int write_stream(tm_out *out, const opts *o, outtab *ts, size_t n, tm_error *err)
{
    if (o->format == TM_FMT_SQL) {
        tm_emit_sql_begin(out);
        const tm_version **vs = calloc(n + 1, sizeof *vs);
        if (!vs) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            vs[i] = ts[i].v;
        int rc = o->create_tables ? tm_emit_sql_types(out, vs, n, err) : 0;
        free(vs);
        if (rc != 0)
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (build_rowset(&ts[i], err) != 0)
            return -1;
        int rc = tm_emit_table(out, o->format, &ts[i].rs, o->create_tables, err);
        tm_rowset_free(&ts[i].rs);
        if (rc != 0)
            return -1;
    }
    if (o->format == TM_FMT_SQL)
        tm_emit_sql_end(out);
    return 0;
}

static int write_file(const char *path, const opts *o, outtab *ts, size_t n, tm_error *err)
{
    tm_outfile f;
    tm_out out;
    if (tm_outfile_open(&f, path, o->force, err) != 0)
        return -1;
    if (tm_out_init_fd(&out, f.fd, err) != 0) {
        tm_outfile_abort(&f);
        return -1;
    }
    tm_out_write_behind(&out);
    int rc = write_stream(&out, o, ts, n, err);
    if (rc == 0 && tm_out_flush(&out, err) != 0) {
        tm_error_prefix(err, "writing %s", path);
        rc = -1;
    }
    tm_out_free(&out);
    if (rc == 0)
        return tm_outfile_commit(&f, err);
    tm_outfile_abort(&f);
    return -1;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One file per table in directory --output: every file is checked
 * (--force) before the first is written, so a refusal writes nothing. */
static int write_dir(const opts *o, outtab *ts, size_t n, tm_error *err)
{
    char **paths = calloc(n + 1, sizeof *paths);
    int rc = paths ? 0 : -1;
    if (!paths)
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        char name[4 * TM_NAME_MAX];
        file_name(ts[i].v, o->format, name, sizeof name);
        if (asprintf(&paths[i], "%s/%s", o->output, name) < 0) {
            paths[i] = NULL;
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            rc = -1;
        } else {
            rc = tm_outfile_check(paths[i], o->force, err);
        }
    }
    if (rc == 0)
        rc = tm_mkdir_p(o->output, err);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = write_file(paths[i], o, &ts[i], 1, err);
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
    return rc;
}

static int write_output(const opts *o, outtab *ts, size_t n, tm_error *err)
{
    bool one_stream = n <= 1 || o->format == TM_FMT_SQL;
    if (!o->output) {
        if (!one_stream) {
            tm_error_set(err,
                         "%zu tables are selected; write them with --output DIR (one file "
                         "each), or choose one with --table",
                         n);
            return -2;
        }
        tm_out out;
        if (tm_out_init_fd(&out, STDOUT_FILENO, err) != 0)
            return -1;
        int rc = write_stream(&out, o, ts, n, err);
        if (rc == 0 && tm_out_sync(&out, err) != 0) {
            tm_error_prefix(err, "writing to standard output");
            rc = -1;
        }
        tm_out_free(&out);
        return rc;
    }
    if (one_stream && !is_dir(o->output))
        return write_file(o->output, o, ts, n, err);
    return write_dir(o, ts, n, err);
}

static int apply_output(tm_applier *ap, outtab *ts, size_t n, tm_error *err)
{
    tm_apply_table *at = calloc(n + 1, sizeof *at);
    if (!at) {
        tm_error_set(err, "out of memory");
        return -1;
    }
    int rc = 0;
    size_t built = 0;
    while (built < n && rc == 0) {
        rc = build_rowset(&ts[built], err);
        if (rc == 0) {
            at[built] = (tm_apply_table){&ts[built].rs, ts[built].where};
            built++;
        }
    }
    if (rc == 0)
        rc = tm_apply_run(ap, at, n, stdout, err);
    for (size_t i = 0; i < built; i++)
        tm_rowset_free(&ts[i].rs);
    free(at);
    return rc;
}

/* ---- the command ------------------------------------------------------------ */

/* Warnings about a table's replay (rows the journal did not account for). */
static void table_warnings(const tm_table *t, const tm_version *v)
{
    char q[2 * TM_NAME_MAX + 8];
    tm_qualname_format(v->nspname, v->relname, q, sizeof q);
    if (t->st.missing_rows)
        tm_log_warning("%s: %" PRIu64 " updates or deletes found no row to change; the journal "
                       "may lack a snapshot of this table",
                       q, t->st.missing_rows);
    if (t->st.duplicate_keys)
        tm_log_warning("%s: %" PRIu64 " inserts found their key present already; the later row "
                       "was kept",
                       q, t->st.duplicate_keys);
    if (t->st.unresolved)
        tm_log_warning("%s: %" PRIu64 " unchanged TOAST values had no previous value and read "
                       "as NULL",
                       q, t->st.unresolved);
}

/* Why table t's rows are not known at the target (it was not captured
 * then), naming when it was, into buf. */
static void explain_uncaptured(const opts *o, const tm_table *t, const tm_version *v,
                               const tm_target *tg, const char *when, char *buf, size_t len)
{
    char q[2 * TM_NAME_MAX + 8], span[200], next[200];
    tm_qualname_format(v->nspname, v->relname, q, sizeof q);
    tm_tableset ts = {0};
    tm_error e2;
    if (tm_tableset_scan(o->journal, &ts, &e2) != 0) {
        snprintf(buf, len, "table %s was not captured at %s (%.300s)", q, when, e2.msg);
        return;
    }
    const tm_tablespan *prev = tm_tableset_prev(&ts, t->oid, tg->by_lsn, tg->lsn, tg->time);
    const tm_tablespan *nx = tm_tableset_next(&ts, t->oid, tg->by_lsn, tg->lsn, tg->time);
    if (nx)
        snprintf(next, sizeof next, "; it is %s", tm_tablespan_describe(nx, span, sizeof span));
    else
        next[0] = '\0';
    if (prev && prev->ended)
        snprintf(buf, len,
                 "table %s left the capture set before %s, so its rows then are not known: it "
                 "was %s%s",
                 q, when, tm_tablespan_describe(prev, span, sizeof span), next);
    else if (nx)
        snprintf(buf, len,
                 "table %s joined the capture set after %s, so its rows then are not known: it "
                 "is %s; choose a point at or after its capture start",
                 q, when, tm_tablespan_describe(nx, span, sizeof span));
    else
        snprintf(buf, len,
                 "table %s has no snapshot in the journal by %s (it joined the capture set "
                 "without one, under an older tidemark), so its rows are not known",
                 q, when);
    tm_tableset_free(&ts);
}

/* The tables to output, in order of first appearance. Returns their count
 * or -1 (message printed). */
static int pick_tables(const opts *o, const tm_state *s, const tm_run_info *info,
                       const tm_target *tg, const char *when, outtab *out)
{
    uint64_t limit = tg->by_lsn          ? (tg->lsn == UINT64_MAX ? UINT64_MAX : tg->lsn + 1)
                     : info->reached_end ? UINT64_MAX
                                         : info->stop_lsn;
    char names[2048];
    for (int i = 0; i < o->ntables; i++) {
        bool found = false;
        for (size_t k = 0; k < tm_state_ntables(s) && !found; k++)
            found = table_named(tm_state_table(s, k), &o->tables[i]);
        if (!found) {
            list_tables(s, names, sizeof names);
            char q[2 * TM_NAME_MAX + 8];
            tm_log_error("table %s is not in the journal by %s (tables captured: %s)",
                         tm_qualname_format(o->tables[i].schema, o->tables[i].name, q, sizeof q),
                         when, names);
            return -1;
        }
    }
    int n = 0;
    for (size_t k = 0; k < tm_state_ntables(s); k++) {
        tm_table *t = tm_state_table(s, k);
        if (!t->selected)
            continue;
        const tm_version *v = tm_table_version_at(t, limit);
        if (!v || !t->captured) {
            char why[2048];
            explain_uncaptured(o, t, v ? v : t->cur, tg, when, why, sizeof why);
            if (o->ntables) {
                tm_log_error("%s", why);
                return -1;
            }
            tm_log_warning("%s; it is left out", why);
            continue;
        }
        if (t->gap) {
            char l[TM_LSN_BUFLEN];
            tm_log_error(
                "the journal has a gap at %s (%s) before %s, and no base snapshot of %s.%s "
                "follows it by then, so its rows are not known; choose a point before "
                "the gap or after the next snapshot",
                tm_lsn_format(info->gap_lsn, l), info->gap_reason, when, v->nspname, v->relname);
            return -1;
        }
        table_warnings(t, v);
        out[n].t = t;
        out[n].v = v;
        n++;
    }
    if (n == 0) {
        list_tables(s, names, sizeof names);
        tm_log_error("no captured table to replay at %s (tables: %s)", when, names);
        return -1;
    }
    return n;
}

/* What the journal covered when it ended before the target. */
static void warn_past_end(const tm_target *tg, const tm_run_info *info, const char *when)
{
    if (!info->reached_end ||
        (tg->by_lsn ? tg->lsn <= info->last_lsn : tg->time <= info->last_time))
        return;
    char a[TM_TIME_BUFLEN], l[TM_LSN_BUFLEN];
    tm_log_warning("%s is after the journal's last commit (%s, LSN %s); the result is the state as "
                   "of that commit",
                   when, tm_time_format(info->last_time, a), tm_lsn_format(info->last_lsn, l));
}

/* --verbose: where the time went, and what each table holds. */
static void report_verbose(const opts *o, const tm_state *s, const tm_run_info *info,
                           const outtab *ts, int nts, const char *when, double out_s,
                           double out_cpu_s)
{
    char a[TM_TIME_BUFLEN];
    tm_log_debug("state as of %s: %" PRIu64 " transactions, %" PRIu64 " changes applied, %" PRIu64
                 " skipped (other tables) in %.3fs (%.3fs CPU); last commit applied %s",
                 when, info->transactions, tm_state_applied(s), tm_state_skipped(s), info->seconds,
                 info->cpu_seconds, tm_time_format(info->last_time, a));
    if (info->ckpt_lsn) {
        char l[TM_LSN_BUFLEN];
        tm_log_debug("started from the checkpoint at LSN %s (%" PRIu64
                     " of the changes above are its rows, %" PRIu64
                     " came from the journal), loaded in %.3fs",
                     tm_lsn_format(info->ckpt_lsn, l), info->ckpt_rows,
                     tm_state_applied(s) - info->ckpt_rows, info->ckpt_seconds);
    }
    tm_log_debug("%s in %.3fs (%.3fs CPU)",
                 o->apply ? (o->dry_run ? "dry run" : "rows written to the database")
                          : "output written",
                 out_s, out_cpu_s);
    for (int i = 0; i < nts; i++)
        tm_log_debug("%s.%s: %" PRIu64 " rows, %" PRIu64 " bytes held", ts[i].v->nspname,
                     ts[i].v->relname, ts[i].t->nrows, ts[i].t->bytes);
}

/* The journal's metadata, said as an error when it is not one. */
static int read_meta(const char *journal, tm_meta *meta)
{
    tm_error err;
    if (tm_meta_read(journal, meta, &err) == 0)
        return 0;
    if (tm_error_is(&err, TM_ERR_NOT_FOUND))
        tm_log_error("%s is not a tidemark journal (it has no journal.meta)", journal);
    else
        tm_log_error("%s", err.msg);
    return -1;
}

/* Replays o: 0, or 1 (the error said). */
static int run(const opts *o)
{
    int rc = 1;
    tm_error err;
    tm_target tg = {.by_lsn = o->by_lsn, .lsn = o->lsn, .time = o->at_time};
    tm_state *s = NULL;
    outtab *ts = NULL;
    int nts = 0;
    tm_applier *applier = NULL;
    char when[64];
    if (o->by_lsn) {
        snprintf(when, sizeof when, "LSN ");
        tm_lsn_format(tg.lsn, when + 4);
    } else {
        tm_time_format(tg.time, when);
    }
    tm_meta meta;
    if (read_meta(o->journal, &meta) != 0)
        return 1;
    /* An --output file that is there already: refused before the work. */
    if (o->output && !is_dir(o->output) && tm_outfile_check(o->output, o->force, &err) != 0)
        goto fail;
    if (o->apply) {
        tm_apply_opts ao = {.conninfo = o->apply,
                            .create_tables = o->create_tables,
                            .merge = o->merge,
                            .dry_run = o->dry_run,
                            .allow_source = o->allow_source};
        if (tm_apply_open(&ao, &meta, &applier, &err) != 0)
            goto fail;
    }
    if (!(s = tm_state_new(select_table, (void *)o, &err)))
        goto fail;
    tm_progress prog = {isatty(STDERR_FILENO) != 0};
    bool show = tm_log_enabled(TM_LOG_INFO) && (prog.tty || tm_log_enabled(TM_LOG_DEBUG));
    tm_runner_opts ro = {.progress = show ? &prog : NULL, .use_checkpoints = !o->no_checkpoint};
    tm_run_info info;
    if (tm_run_to_opts(o->journal, s, &tg, &ro, &info, &err) != 0)
        goto fail;
    warn_past_end(&tg, &info, when);
    ts = calloc(tm_state_ntables(s) + 1, sizeof *ts);
    if (!ts || (nts = pick_tables(o, s, &info, &tg, when, ts)) < 0)
        goto out;
    for (int i = 0; i < nts && o->where; i++) {
        if (!(ts[i].where = tm_where_bind(o->where, ts[i].v->desc, ts[i].v->ncols, o->tz, &err))) {
            tm_error_prefix(&err, "--where on %s.%s", ts[i].v->nspname, ts[i].v->relname);
            goto fail;
        }
    }
    double out_start = tm_run_clock(false), out_cpu = tm_run_clock(true);
    int wrc = o->apply ? apply_output(applier, ts, (size_t)nts, &err)
                       : write_output(o, ts, (size_t)nts, &err);
    double out_s = tm_run_clock(false) - out_start, out_cpu_s = tm_run_clock(true) - out_cpu;
    if (wrc != 0)
        goto fail;
    if (tm_log_enabled(TM_LOG_DEBUG))
        report_verbose(o, s, &info, ts, nts, when, out_s, out_cpu_s);
    rc = 0;
    goto out;
fail:
    tm_log_error("%s", err.msg);
out:
    for (int i = 0; ts && i < nts; i++)
        tm_where_bound_free(ts[i].where);
    free(ts);
    tm_apply_close(applier);
    tm_state_free(s);
    return rc;
}

static int cmd_replay(int argc, char **argv)
{
    opts o = {0};
    if (!(o.tables = calloc((size_t)argc + 1, sizeof *o.tables))) {
        tm_log_error("out of memory");
        return 1;
    }
    int rc;
    if (tm_cli_parse(&tm_cmd_replay, argc, argv, take_option, check_args, &o, &rc) == 0)
        if ((rc = tm_archive_source_use(o.journal, o.cache_dir, o.key_file)) == 0)
            rc = run(&o);
    tm_archive_source_close();
    tm_where_free(o.where);
    free(o.tables);
    free(o.apply);
    return rc;
}
