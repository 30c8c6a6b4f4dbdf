/* tidemark replay: the rows of captured tables as of a time or LSN, written
 * as CSV, JSON lines or SQL, or applied to a database. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/out/apply_db.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "replay/out/emit.h"
#include "store/common/fsutil.h"
#include "store/journal/journal.h"
#include "store/common/lsn.h"
#include "replay/out/outfile.h"
#include "store/common/qualname.h"
#include "replay/engine/runner.h"
#include "store/common/tm_time.h"
#include "replay/query/where.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tidemark replay --journal DIR (--at TIMESTAMP | --lsn LSN) [OPTIONS]\n"
            "\n"
            "Reconstructs the rows of captured tables as they were at a point in time: the\n"
            "base snapshot plus the journaled transactions in commit order, up to (not\n"
            "including) the first one that committed after TIMESTAMP, as PostgreSQL's own\n"
            "recovery to that time would show them; or every transaction with commit LSN <= LSN.\n"
            "\n"
            "Options:\n"
            "  --journal DIR          the journal (required)\n"
            "  --at TIMESTAMP         e.g. '2026-11-22 14:03:12+01' or '2026-11-22T13:03:12Z';\n"
            "                         without an offset the time is in --tz (default UTC)\n"
            "  --lsn LSN              e.g. 0/16B3748\n"
            "  --tz ZONE              time zone of --at and --where times without an offset\n"
            "  --table SCHEMA.NAME    a table to replay (repeatable; default: every captured\n"
            "                         table)\n"
            "  --where EXPR           only rows matching EXPR, e.g. \"user_id = 42 AND\n"
            "                         value->>'theme' = 'dark'\" (AND of column OP literal,\n"
            "                         IN (...), IS [NOT] NULL; OP is = != < <= > >=)\n"
            "  --format FMT           csv (default; exactly what COPY (SELECT * FROM t ORDER BY\n"
            "                         key) TO STDOUT WITH (FORMAT csv, HEADER) writes), jsonl\n"
            "                         or sql (a psql script of COPY blocks)\n"
            "  --output PATH          a file for one table (or an sql script), or a directory\n"
            "                         for several (SCHEMA.NAME.EXT each); default: stdout\n"
            "  --create-tables        sql and --apply: create the tables from the recorded\n"
            "                         schema\n"
            "  --apply CONNINFO       write the rows into that database, in one transaction\n"
            "  --mode replace|merge   with --apply: replace (default) makes the target's rows\n"
            "                         (or its --where subset) equal the replayed ones; merge\n"
            "                         inserts missing rows and updates differing ones only\n"
            "  --dry-run              with --apply: report what would change, change nothing\n"
            "  --allow-source         with --apply: allow writing into the capture source\n"
            "      --no-checkpoint    replay from the base snapshot, ignoring the\n"
            "                         checkpoints of 'tidemark checkpoint'\n"
            "  -v, --verbose          progress and a summary on stderr\n"
            "  -h, --help             this help\n");
}

typedef struct opts {
    const char *journal, *at, *lsn, *tz, *where, *output, *apply, *mode;
    tm_format format;
    tm_qualname *tables;
    int ntables;
    bool create_tables, dry_run, allow_source, verbose, no_checkpoint;
} opts;

static int parse_args(int argc, char **argv, opts *o)
{
    static const struct option longopts[] = {
        {"journal", required_argument, NULL, 'j'},
        {"at", required_argument, NULL, 'a'},
        {"lsn", required_argument, NULL, 'l'},
        {"tz", required_argument, NULL, 'z'},
        {"table", required_argument, NULL, 't'},
        {"where", required_argument, NULL, 'w'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"create-tables", no_argument, NULL, 'C'},
        {"apply", required_argument, NULL, 'A'},
        {"mode", required_argument, NULL, 'm'},
        {"dry-run", no_argument, NULL, 'n'},
        {"allow-source", no_argument, NULL, 'S'},
        {"verbose", no_argument, NULL, 'v'},
        {"no-checkpoint", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    tm_error err;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o->journal = optarg;
            break;
        case 'a':
            o->at = optarg;
            break;
        case 'l':
            o->lsn = optarg;
            break;
        case 'z':
            o->tz = optarg;
            break;
        case 'w':
            o->where = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'C':
            o->create_tables = true;
            break;
        case 'A':
            o->apply = optarg;
            break;
        case 'm':
            o->mode = optarg;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case 'S':
            o->allow_source = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'K':
            o->no_checkpoint = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'f':
            if (!strcmp(optarg, "csv"))
                o->format = TM_FMT_CSV;
            else if (!strcmp(optarg, "jsonl"))
                o->format = TM_FMT_JSONL;
            else if (!strcmp(optarg, "sql"))
                o->format = TM_FMT_SQL;
            else
                return tm_usage_error("replay", "--format must be csv, jsonl or sql, not '%s'",
                                      optarg);
            break;
        case 't':
            if (tm_qualname_parse(optarg, &o->tables[o->ntables], &err) != 0) {
                fprintf(stderr, "tidemark replay: --table: %s\n", err.msg);
                return 2;
            }
            o->ntables++;
            break;
        default:
            return tm_usage_bad_option("replay", c, argv);
        }
    }
    if (optind < argc)
        return tm_usage_error("replay", "unexpected argument '%s'", argv[optind]);
    if (!o->journal)
        return tm_usage_error("replay", "--journal DIR is required");
    if (!o->at == !o->lsn)
        return tm_usage_error("replay", "give exactly one of --at TIMESTAMP and --lsn LSN");
    if (o->tz && !o->at && !o->where)
        return tm_usage_error("replay", "--tz applies to --at and --where only");
    if (!o->apply && (o->mode || o->dry_run || o->allow_source))
        return tm_usage_error("replay", "--mode, --dry-run and --allow-source go with --apply");
    if (o->apply && o->output)
        return tm_usage_error("replay", "--output and --apply do not go together");
    if (o->mode && strcmp(o->mode, "replace") && strcmp(o->mode, "merge"))
        return tm_usage_error("replay", "--mode must be replace or merge, not '%s'", o->mode);
    if (o->create_tables && !o->apply && o->format != TM_FMT_SQL)
        return tm_usage_error("replay", "--create-tables goes with --format sql or --apply");
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
    if (o->format == TM_FMT_SQL)
        tm_emit_sql_begin(out);
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
    if (tm_outfile_open(&f, path, err) != 0)
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
    if (tm_mkdir_p(o->output, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char name[4 * TM_NAME_MAX], *path;
        file_name(ts[i].v, o->format, name, sizeof name);
        if (asprintf(&path, "%s/%s", o->output, name) < 0) {
            tm_error_set(err, "out of memory");
            return -1;
        }
        int rc = write_file(path, o, &ts[i], 1, err);
        free(path);
        if (rc != 0)
            return -1;
    }
    return 0;
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
        fprintf(stderr,
                "tidemark replay: WARNING: %s: %" PRIu64 " updates or deletes found no row to "
                "change; the journal may lack a snapshot of this table\n",
                q, t->st.missing_rows);
    if (t->st.duplicate_keys)
        fprintf(stderr,
                "tidemark replay: WARNING: %s: %" PRIu64 " inserts found their key present "
                "already; the later row was kept\n",
                q, t->st.duplicate_keys);
    if (t->st.unresolved)
        fprintf(stderr,
                "tidemark replay: WARNING: %s: %" PRIu64 " unchanged TOAST values had no "
                "previous value and read as NULL\n",
                q, t->st.unresolved);
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
            fprintf(stderr,
                    "tidemark replay: table %s is not in the journal by %s (tables captured: "
                    "%s)\n",
                    tm_qualname_format(o->tables[i].schema, o->tables[i].name, q, sizeof q), when,
                    names);
            return -1;
        }
    }
    int n = 0;
    for (size_t k = 0; k < tm_state_ntables(s); k++) {
        tm_table *t = tm_state_table(s, k);
        if (!t->selected)
            continue;
        const tm_version *v = tm_table_version_at(t, limit);
        if (!v) {
            if (o->ntables) {
                fprintf(stderr,
                        "tidemark replay: table %s.%s was not captured yet at %s; its history "
                        "starts later in the journal\n",
                        t->cur->nspname, t->cur->relname, when);
                return -1;
            }
            continue;
        }
        if (t->gap) {
            char l[TM_LSN_BUFLEN];
            fprintf(stderr,
                    "tidemark replay: the journal has a gap at %s (%s) before %s, and no base "
                    "snapshot of %s.%s follows it by then, so its rows are not known; choose a "
                    "point before the gap or after the next snapshot\n",
                    tm_lsn_format(info->gap_lsn, l), info->gap_reason, when, v->nspname,
                    v->relname);
            return -1;
        }
        table_warnings(t, v);
        out[n].t = t;
        out[n].v = v;
        n++;
    }
    if (n == 0) {
        list_tables(s, names, sizeof names);
        fprintf(stderr, "tidemark replay: no captured table to replay at %s (tables: %s)\n", when,
                names);
        return -1;
    }
    return n;
}

int cmd_replay(int argc, char **argv)
{
    opts o = {0};
    o.tables = calloc((size_t)argc + 1, sizeof *o.tables);
    if (!o.tables)
        return 2;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        free(o.tables);
        return rc == 1 ? 0 : rc;
    }
    rc = 2;
    tm_error err;
    tm_target tg = {0};
    tm_where *where = NULL;
    tm_state *s = NULL;
    outtab *ts = NULL;
    int nts = 0;
    tm_applier *applier = NULL;
    char when[64];
    if (o.at) {
        if (tm_time_parse(o.at, o.tz, &tg.time, &err) != 0) {
            fprintf(stderr, "tidemark replay: --at '%s': %s\n", o.at, err.msg);
            goto out;
        }
        tm_time_format(tg.time, when);
    } else {
        tg.by_lsn = true;
        if (tm_lsn_parse(o.lsn, &tg.lsn) != 0) {
            fprintf(stderr, "tidemark replay: --lsn '%s' is not an LSN (like 0/16B3748)\n", o.lsn);
            goto out;
        }
        snprintf(when, sizeof when, "LSN ");
        tm_lsn_format(tg.lsn, when + 4);
    }
    if (o.where && !(where = tm_where_parse(o.where, &err))) {
        fprintf(stderr, "tidemark replay: --where: %s\n", err.msg);
        goto out;
    }
    tm_meta meta;
    if (tm_meta_read(o.journal, &meta, &err) != 0) {
        if (tm_error_is(&err, TM_ERR_NOT_FOUND))
            fprintf(stderr,
                    "tidemark replay: %s is not a tidemark journal (it has no journal.meta)\n",
                    o.journal);
        else
            fprintf(stderr, "tidemark replay: %s\n", err.msg);
        goto out;
    }
    if (o.apply) {
        tm_apply_opts ao = {.conninfo = o.apply,
                            .create_tables = o.create_tables,
                            .merge = o.mode && !strcmp(o.mode, "merge"),
                            .dry_run = o.dry_run,
                            .allow_source = o.allow_source};
        if (tm_apply_open(&ao, &meta, &applier, &err) != 0) {
            fprintf(stderr, "tidemark replay: %s\n", err.msg);
            goto out;
        }
    }
    if (!(s = tm_state_new(select_table, &o, &err))) {
        fprintf(stderr, "tidemark replay: %s\n", err.msg);
        goto out;
    }
    tm_progress prog = {stderr, isatty(STDERR_FILENO) != 0};
    tm_run_info info;
    tm_runner_opts ro = {.progress = prog.tty || o.verbose ? &prog : NULL,
                         .use_checkpoints = !o.no_checkpoint,
                         .warn = stderr};
    if (tm_run_to_opts(o.journal, s, &tg, &ro, &info, &err) != 0) {
        fprintf(stderr, "tidemark replay: %s\n", err.msg);
        goto out;
    }
    if (info.reached_end && (tg.by_lsn ? tg.lsn > info.last_lsn : tg.time > info.last_time)) {
        char a[TM_TIME_BUFLEN], l[TM_LSN_BUFLEN];
        fprintf(stderr,
                "tidemark replay: WARNING: %s is after the journal's last commit (%s, LSN %s); "
                "the result is the state as of that commit\n",
                when, tm_time_format(info.last_time, a), tm_lsn_format(info.last_lsn, l));
    }
    ts = calloc(tm_state_ntables(s) + 1, sizeof *ts);
    if (!ts || (nts = pick_tables(&o, s, &info, &tg, when, ts)) < 0)
        goto out;
    for (int i = 0; i < nts && where; i++) {
        if (!(ts[i].where = tm_where_bind(where, ts[i].v->desc, ts[i].v->ncols, o.tz, &err))) {
            fprintf(stderr, "tidemark replay: --where on %s.%s: %s\n", ts[i].v->nspname,
                    ts[i].v->relname, err.msg);
            goto out;
        }
    }
    double out_start = tm_run_clock(false), out_cpu = tm_run_clock(true);
    int wrc = o.apply ? apply_output(applier, ts, (size_t)nts, &err)
                      : write_output(&o, ts, (size_t)nts, &err);
    double out_s = tm_run_clock(false) - out_start, out_cpu_s = tm_run_clock(true) - out_cpu;
    if (wrc != 0) {
        fprintf(stderr, "tidemark replay: %s\n", err.msg);
        goto out;
    }
    if (o.verbose) {
        char a[TM_TIME_BUFLEN];
        fprintf(stderr,
                "tidemark replay: state as of %s: %" PRIu64 " transactions, %" PRIu64
                " changes applied, %" PRIu64 " skipped (other tables) in %.3fs (%.3fs CPU); "
                "last commit applied %s\n",
                when, info.transactions, tm_state_applied(s), tm_state_skipped(s), info.seconds,
                info.cpu_seconds, tm_time_format(info.last_time, a));
        if (info.ckpt_lsn) {
            char l[TM_LSN_BUFLEN];
            fprintf(stderr,
                    "tidemark replay: started from the checkpoint at LSN %s (%" PRIu64
                    " of the changes above are its rows, %" PRIu64
                    " came from the journal), loaded in %.3fs\n",
                    tm_lsn_format(info.ckpt_lsn, l), info.ckpt_rows,
                    tm_state_applied(s) - info.ckpt_rows, info.ckpt_seconds);
        }
        fprintf(stderr, "tidemark replay: %s in %.3fs (%.3fs CPU)\n",
                o.apply ? (o.dry_run ? "dry run" : "rows written to the database")
                        : "output written",
                out_s, out_cpu_s);
        for (int i = 0; i < nts; i++)
            fprintf(stderr, "tidemark replay: %s.%s: %" PRIu64 " rows, %" PRIu64 " bytes held\n",
                    ts[i].v->nspname, ts[i].v->relname, ts[i].t->nrows, ts[i].t->bytes);
    }
    rc = 0;
out:
    for (int i = 0; ts && i < nts; i++)
        tm_where_bound_free(ts[i].where);
    free(ts);
    tm_apply_close(applier);
    tm_state_free(s);
    tm_where_free(where);
    free(o.tables);
    return rc;
}
