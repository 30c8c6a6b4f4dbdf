/* tidemark undo: SQL that reverses chosen transactions, or its application
 * to a database, with conflict detection (see undo_plan.h, undo_sql.h,
 * undo_apply.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/out/out.h"
#include "replay/out/outfile.h"
#include "replay/undo/undo_apply.h"
#include "replay/undo/undo_plan.h"
#include "replay/undo/undo_sql.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/inert.h"
#include "store/common/log.h"
#include "store/common/qualname.h"
#include "store/common/tm_time.h"
#include "store/journal/journal.h"

enum {
    OPT_JOURNAL = 1,
    OPT_XID,
    OPT_FROM,
    OPT_TO,
    OPT_TZ,
    OPT_TABLE,
    OPT_WHERE,
    OPT_OUTPUT,
    OPT_FORCE,
    OPT_APPLY,
    OPT_DRY_RUN,
    OPT_ON_CONFLICT,
};

static const char *const conflict_modes[] = {"abort", "skip", NULL};

static const tm_option options[] = {
    TM_OPTION_JOURNAL(OPT_JOURNAL),
    {.id = OPT_XID,
     .name = "xid",
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "a transaction to undo (repeatable)",
     .min = 1,
     .max = UINT32_MAX,
     .expect = "must be a transaction id (a positive integer)"},
    TM_OPTION_TEXT(OPT_FROM, "from", "TS",
                   "with --to: every transaction that committed in [--from, --to]"),
    TM_OPTION_TEXT(OPT_TO, "to", "TS", "the end of that window (inclusive)"),
    TM_OPTION_TEXT(OPT_TZ, "tz", "ZONE", "time zone of times without an offset (default UTC)"),
    TM_OPTION_TEXT(OPT_TABLE, "table", "SCHEMA.NAME",
                   "undo only changes of this table (repeatable)"),
    TM_OPTION_TEXT(OPT_WHERE, "where", "EXPR",
                   "undo only changes whose old or new row matches EXPR (the language of replay "
                   "--where)"),
    TM_OPTION_TEXT(OPT_OUTPUT, "output", "FILE",
                   "write the SQL script there instead of stdout (a file that exists is left as it "
                   "is unless --force)"),
    {.id = OPT_FORCE,
     .name = "force",
     .help = "with --output: replace the file if it exists (atomically)"},
    TM_OPTION_TEXT(OPT_APPLY, "apply", "CONNINFO",
                   "run it in that database (normally the capture source)"),
    {.id = OPT_DRY_RUN,
     .name = "dry-run",
     .help = "print the plan (with --apply: and the conflicts the target has), change nothing"},
    {.id = OPT_ON_CONFLICT,
     .name = "on-conflict",
     .kind = TM_OPT_CHOICE,
     .value = "MODE",
     .help = "abort (default): any conflict cancels everything; skip: undo the rest, list what "
             "was skipped",
     .choices = conflict_modes},
    {0},
};

static const tm_exit_code exits[] = {
    {0, "done (also when no transaction matched: nothing to undo)"},
    {1, "conflicts, or changes that cannot be undone, were found and listed on stderr (nothing "
        "was done, unless --on-conflict skip undid the rest; rows that --apply skipped with "
        "--on-conflict skip do not count); or a failure (the message says which), also when the "
        "--output file exists and --force was not given (then nothing is written)"},
    TM_EXIT_USAGE,
    {0, NULL},
};

static int cmd_undo(int argc, char **argv);

const tm_command tm_cmd_undo = {
    .name = "undo",
    .summary = "generate or apply inverse SQL for transactions or a time window",
    .synopsis = "--journal DIR (--xid N ... | --from TS --to TS) [OPTIONS]",
    .description =
        "Reverses the changes of chosen transactions: inserted rows are deleted, updated rows set "
        "back to their old values, deleted (and truncated) rows inserted again, newest first, in "
        "one transaction. Rows are found by their key columns, and each statement applies only if "
        "the row still looks as the undone change left it; rows changed since are conflicts. "
        "Needs the old rows in the journal (tables with REPLICA IDENTITY FULL when the changes "
        "were made).",
    .options = options,
    .exits = exits,
    .run = cmd_undo,
};

typedef struct opts {
    const char *journal, *from, *to, *tz, *where_text, *output, *apply;
    uint32_t *xids;
    size_t nxids;
    tm_qualname *tables;
    size_t ntables;
    bool dry_run, skip, force;
    int64_t from_time, to_time;
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
    case OPT_XID:
        o->xids[o->nxids++] = (uint32_t)p->num;
        break;
    case OPT_FROM:
        o->from = p->arg;
        break;
    case OPT_TO:
        o->to = p->arg;
        break;
    case OPT_TZ:
        o->tz = p->arg;
        break;
    case OPT_WHERE:
        o->where_text = p->arg;
        break;
    case OPT_OUTPUT:
        o->output = p->arg;
        break;
    case OPT_FORCE:
        o->force = true;
        break;
    case OPT_APPLY:
        o->apply = p->arg;
        break;
    case OPT_DRY_RUN:
        o->dry_run = true;
        break;
    case OPT_ON_CONFLICT:
        o->skip = p->choice == 1;
        break;
    case OPT_TABLE:
        if (tm_qualname_parse(p->arg, &o->tables[o->ntables], &err) != 0)
            return tm_usage_error("undo", "--table: %s", err.msg);
        o->ntables++;
        break;
    default:
        break;
    }
    return 0;
}

/* The options that go together, and the values read only with all of
 * them (times in --tz, --where): 0, or a usage error's status. */
static int check_args(void *ctx)
{
    opts *o = ctx;
    if (o->nxids && (o->from || o->to))
        return tm_usage_error("undo", "give either --xid or --from and --to, not both");
    if (!o->nxids && (!o->from || !o->to))
        return tm_usage_error("undo",
                              "give the transactions to undo: --xid N, or --from TS and --to TS");
    if (o->output && (o->apply || o->dry_run))
        return tm_usage_error("undo",
                              "--output writes the script; it goes with neither --apply nor "
                              "--dry-run");
    if (o->force && !o->output)
        return tm_usage_error("undo", "--force goes with --output");
    tm_error err;
    if (o->from && tm_time_parse(o->from, o->tz, &o->from_time, &err) != 0)
        return tm_usage_error("undo", "--from '%s': %s", o->from, err.msg);
    if (o->to && tm_time_parse(o->to, o->tz, &o->to_time, &err) != 0)
        return tm_usage_error("undo", "--to '%s': %s", o->to, err.msg);
    if (o->from && o->to_time < o->from_time)
        return tm_usage_error("undo", "--to is before --from");
    if (o->where_text && !(o->where = tm_where_parse(o->where_text, &err)))
        return tm_usage_error("undo", "--where: %s", err.msg);
    return 0;
}

/* ---- reporting ---------------------------------------------------------------- */

typedef struct tabsum {
    const tm_table *t;
    uint64_t planned[4], done[4], conflicts;
} tabsum;

static tabsum *sum_for(tabsum *s, size_t *n, const tm_table *t)
{
    for (size_t i = 0; i < *n; i++)
        if (s[i].t == t)
            return &s[i];
    s[*n] = (tabsum){.t = t};
    return &s[(*n)++];
}

static void print_line(FILE *f, const char *prefix, const tabsum *s, bool done)
{
    static const char *const what[4] = {"", "deleted (inserted by the undone transactions)",
                                        "set back (updated)",
                                        "inserted back (deleted or truncated)"};
    char q[2 * TM_NAME_MAX + 8], shown[TM_INERT_SIZE(sizeof q)];
    tm_qualname_format(s->t->cur->nspname, s->t->cur->relname, q, sizeof q);
    fprintf(f, "%s%s:", prefix, tm_inert(q, shown, sizeof shown));
    const char *sep = " ";
    for (int k = 1; k < 4; k++) {
        uint64_t v = done ? s->done[k] : s->planned[k];
        if (!v)
            continue;
        fprintf(f, "%s%" PRIu64 " rows %s", sep, v, what[k]);
        sep = ", ";
    }
    if (s->conflicts)
        fprintf(f, "%s%" PRIu64 " conflicts", sep, s->conflicts);
    fputc('\n', f);
}

static void describe_set(FILE *f, const tm_undo_plan *p)
{
    char a[TM_TIME_BUFLEN], b[TM_TIME_BUFLEN];
    fprintf(f, "undo of %zu transaction(s)", p->ntx);
    if (p->ntx)
        fprintf(f, " committed %s to %s", tm_time_format(p->tx[0].commit_time, a),
                tm_time_format(p->tx[p->ntx - 1].commit_time, b));
    fprintf(f, ", xid");
    for (size_t i = 0; i < p->ntx && i < 10; i++)
        fprintf(f, "%s %u", i ? "," : "", p->tx[i].xid);
    fprintf(f, "%s: %" PRIu64 " row changes\n", p->ntx > 10 ? ", ..." : "", p->changes);
}

/* Journal-level findings: changes without old rows, rows changed by other
 * transactions in between. Returns how many there are. */
static uint64_t journal_findings(const tm_undo_plan *p, bool skip)
{
    uint64_t n = 0;
    for (size_t i = 0; i < p->ncannot; i++) {
        const tm_undo_cannot *c = &p->cannot[i];
        const char *ri = c->replica_identity == 'n'   ? "NOTHING"
                         : c->replica_identity == 'i' ? "USING INDEX"
                         : c->replica_identity == 'f' ? "FULL (but this change lacks its old row)"
                                                      : "DEFAULT";
        char q[2 * TM_NAME_MAX + 8];
        tm_log_error("cannot undo %" PRIu64 " change(s) of %s (first in xid %u): table %s had "
                     "REPLICA IDENTITY %s at that time; old values were not captured (ALTER "
                     "TABLE ... REPLICA IDENTITY FULL makes later changes undoable)",
                     c->changes,
                     tm_qualname_format(c->t->cur->nspname, c->t->cur->relname, q, sizeof q),
                     c->first_xid, q, ri);
        n += c->changes;
    }
    tm_out m;
    tm_error err;
    if (tm_out_init_mem(&m, &err) != 0)
        return n + 1;
    for (size_t i = 0; i < p->n; i++) {
        const tm_undo_entry *e = p->e[i];
        if (!e->interleaved || tm_undo_kind_of(e) == TM_UNDO_NONE)
            continue;
        n++;
        tm_out_reset(&m);
        tm_undo_describe(&m, e);
        tm_out_puts(&m, ": another transaction changed it between the undone ones, so undoing "
                        "would also revert that change; ");
        tm_undo_later(&m, e);
        tm_out_putc(&m, '\0');
        size_t len;
        tm_log_error("%s: %s", skip ? "skipped" : "conflict", tm_out_data(&m, &len));
    }
    tm_out_free(&m);
    return n;
}

static int write_script(const opts *o, const tm_undo_plan *p, const tm_undo_entry **es, size_t n,
                        tm_error *err)
{
    tm_out out;
    if (!o->output) {
        if (tm_out_init_fd(&out, STDOUT_FILENO, err) != 0)
            return -1;
        int rc = tm_undo_write_script(&out, p, es, n, o->skip, err);
        if (rc == 0 && tm_out_sync(&out, err) != 0)
            rc = -1;
        tm_out_free(&out);
        return rc;
    }
    tm_outfile f;
    if (tm_outfile_open(&f, o->output, o->force, err) != 0)
        return -1;
    if (tm_out_init_fd(&out, f.fd, err) != 0) {
        tm_outfile_abort(&f);
        return -1;
    }
    int rc = tm_undo_write_script(&out, p, es, n, o->skip, err);
    if (rc == 0 && tm_out_flush(&out, err) != 0) {
        tm_error_prefix(err, "writing %s", o->output);
        rc = -1;
    }
    tm_out_free(&out);
    if (rc == 0)
        return tm_outfile_commit(&f, err);
    tm_outfile_abort(&f);
    return -1;
}

static bool table_known(const tm_state *s, const tm_qualname *q)
{
    for (size_t k = 0; k < tm_state_ntables(s); k++) {
        const tm_table *t = tm_state_table(s, k);
        for (uint32_t n = 0; n < t->nver; n++)
            if (t->ver[n] && !strcmp(q->schema, t->ver[n]->nspname) &&
                !strcmp(q->name, t->ver[n]->relname))
                return true;
    }
    return false;
}

/* ---- the command ------------------------------------------------------------------ */

/* The tables and transactions named are in the journal: 0, or -1 (said). */
static int check_selection(const opts *o, const tm_undo_plan *p)
{
    for (size_t i = 0; i < o->ntables; i++)
        if (!table_known(p->state, &o->tables[i])) {
            char q[2 * TM_NAME_MAX + 8];
            tm_log_error("table %s is not in the journal",
                         tm_qualname_format(o->tables[i].schema, o->tables[i].name, q, sizeof q));
            return -1;
        }
    for (size_t i = 0; i < o->nxids; i++) {
        bool found = false;
        for (size_t k = 0; k < p->ntx && !found; k++)
            found = p->tx[k].xid == o->xids[i];
        if (!found) {
            tm_log_error("no transaction with xid %u is in the journal (it changed no captured "
                         "table, or it is older than the journal; find it with tidemark log "
                         "--transactions)",
                         o->xids[i]);
            return -1;
        }
    }
    return 0;
}

/* The plan's row statements in the order to run them, without the rows
 * changed in between by others (not undone), into *es, and their counts
 * per table into *sums. Returns how many, or -1 (out of memory). */
static long order_rows(tm_undo_plan *p, const tm_undo_entry ***es, tabsum **sums, size_t *nsums)
{
    long n = tm_undo_order(p, es);
    if (n < 0 || !(*sums = calloc(p->n + 1, sizeof **sums)))
        return -1;
    long m = 0;
    for (long i = 0; i < n; i++)
        if (!(*es)[i]->interleaved)
            (*es)[m++] = (*es)[i];
    *nsums = 0;
    for (long i = 0; i < m; i++)
        sum_for(*sums, nsums, (*es)[i]->t)->planned[tm_undo_kind_of((*es)[i])]++;
    return m;
}

/* --apply (and --dry-run with it): runs es in the target and reports.
 * Returns the exit status. */
static int apply(const opts *o, const tm_undo_plan *p, const tm_undo_entry **es, long n,
                 tabsum *sums, size_t nsums, uint64_t findings)
{
    int *status = calloc((size_t)n + 1, sizeof *status);
    if (!status) {
        tm_log_error("out of memory");
        return 1;
    }
    tm_undo_apply_opts ao = {.conninfo = o->apply, .dry_run = o->dry_run, .skip = o->skip};
    bool committed;
    tm_error err;
    long conflicts = tm_undo_apply(&ao, es, (size_t)n, status, &committed, &err);
    if (conflicts < 0) {
        tm_log_error("%s; nothing was written", err.msg);
        free(status);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        tabsum *s = sum_for(sums, &nsums, es[i]->t);
        if (status[i] == TM_UNDO_DONE)
            s->done[tm_undo_kind_of(es[i])]++;
        else
            s->conflicts++;
    }
    free(status);
    if (o->dry_run) {
        printf("conflicts found against the target: %ld\n", conflicts);
        printf("dry run: nothing was written\n");
    } else {
        describe_set(stdout, p);
        for (size_t i = 0; i < nsums; i++)
            print_line(stdout, committed ? "  " : "  (rolled back) ", &sums[i], true);
        if (committed)
            printf("committed%s\n", conflicts ? " (conflicting rows skipped, listed above)" : "");
        else
            printf("rolled back: %ld conflict(s) (listed on stderr); nothing was written\n",
                   conflicts);
    }
    if (findings && o->skip && !o->dry_run)
        return 1;
    return (conflicts && (!o->skip || o->dry_run)) || (findings && !o->skip) ? 1 : 0;
}

/* After the plan: the script, the dry run's plan, or the application.
 * Returns the exit status. */
static int act(const opts *o, tm_undo_plan *p, uint64_t findings)
{
    const tm_undo_entry **es = NULL;
    tabsum *sums = NULL;
    size_t nsums;
    int rc = 1;
    long n = order_rows(p, &es, &sums, &nsums);
    tm_error err;
    if (n < 0) {
        tm_log_error("out of memory");
    } else if (!o->apply && !o->dry_run) {
        if (write_script(o, p, es, (size_t)n, &err) != 0)
            tm_log_error("%s", err.msg);
        else
            rc = findings ? 1 : 0;
    } else {
        if (o->dry_run) {
            describe_set(stdout, p);
            printf("plan (%ld row statements):\n", n);
            for (size_t i = 0; i < nsums; i++)
                print_line(stdout, "  ", &sums[i], false);
        }
        if (!o->apply) {
            printf("no database checked (give --apply CONNINFO to find conflicts there)\n");
            rc = findings ? 1 : 0;
        } else {
            rc = apply(o, p, es, n, sums, nsums, findings);
        }
    }
    free(sums);
    free(es);
    return rc;
}

/* Undoes what o selects. Returns the exit status. */
static int run(const opts *o)
{
    tm_error err;
    tm_undo_select sel = {.xids = o->xids,
                          .nxids = o->nxids,
                          .tables = o->tables,
                          .ntables = o->ntables,
                          .tz = o->tz,
                          .by_time = o->from != NULL,
                          .from = o->from_time,
                          .to = o->to_time,
                          .where = o->where};
    tm_meta meta;
    if (tm_meta_read(o->journal, &meta, &err) != 0) {
        if (tm_error_is(&err, TM_ERR_NOT_FOUND))
            tm_log_error("%s is not a tidemark journal (it has no journal.meta)", o->journal);
        else
            tm_log_error("%s", err.msg);
        return 1;
    }
    /* An --output file that is there already: refused before the work. */
    if (o->output && tm_outfile_check(o->output, o->force, &err) != 0) {
        tm_log_error("%s", err.msg);
        return 1;
    }
    int rc = 1;
    tm_undo_plan p = {0};
    if (tm_undo_plan_build(&p, o->journal, &sel, &err) != 0) {
        tm_log_error("%s", err.msg);
    } else if (check_selection(o, &p) == 0) {
        if (p.ntx == 0) {
            tm_log_info("no captured transaction committed between %s and %s; nothing to undo",
                        o->from, o->to);
            rc = 0;
        } else {
            uint64_t findings = journal_findings(&p, o->skip);
            if (findings && !o->skip && !o->dry_run)
                tm_log_error("nothing was done: %" PRIu64 " finding(s) above; --on-conflict skip "
                             "undoes the rest",
                             findings);
            else
                rc = act(o, &p, findings);
        }
    }
    tm_undo_plan_free(&p);
    return rc;
}

static int cmd_undo(int argc, char **argv)
{
    opts o = {0};
    o.tables = calloc((size_t)argc + 1, sizeof *o.tables);
    o.xids = calloc((size_t)argc + 1, sizeof *o.xids);
    int rc = 1;
    if (!o.tables || !o.xids)
        tm_log_error("out of memory");
    else if (tm_cli_parse(&tm_cmd_undo, argc, argv, take_option, check_args, &o, &rc) == 0)
        rc = run(&o);
    tm_where_free(o.where);
    free(o.tables);
    free(o.xids);
    return rc;
}
