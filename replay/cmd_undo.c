/* tidemark undo: SQL that reverses chosen transactions, or its application
 * to a database, with conflict detection (see undo_plan.h, undo_sql.h,
 * undo_apply.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "replay/out/out.h"
#include "replay/out/out_jsonl.h"
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
    OPT_GRANULARITY,
    OPT_ALLOW_OTHER,
    OPT_REPORT,
    OPT_USER,
    OPT_REASON,
    OPT_VERBOSE,
};

static const char *const conflict_modes[] = {"abort", "skip", "overwrite", NULL};
static const char *const granularities[] = {"column", "row", NULL};

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
     .help = "with --output or --report: replace the file if it exists (atomically)"},
    TM_OPTION_TEXT(OPT_APPLY, "apply", "CONNINFO",
                   "run it in that database: the capture source (see --allow-other-target)"),
    {.id = OPT_ALLOW_OTHER,
     .name = "allow-other-target",
     .help = "with --apply: write into a database other than the journal's source"},
    {.id = OPT_DRY_RUN,
     .name = "dry-run",
     .help = "without --apply: print the plan; with --apply: a rehearsal (the real statements, "
             "then a rollback) whose report and exit status are the real run's"},
    {.id = OPT_ON_CONFLICT,
     .name = "on-conflict",
     .kind = TM_OPT_CHOICE,
     .value = "MODE",
     .help = "abort (default): any conflict cancels everything (exit 3); skip: undo the rest; "
             "overwrite: write the undone values over later changes too",
     .choices = conflict_modes},
    {.id = OPT_GRANULARITY,
     .name = "granularity",
     .kind = TM_OPT_CHOICE,
     .value = "LEVEL",
     .help = "column (default): set back only the columns and jsonb members the changes wrote, "
             "a conflict only when one of them changed since; row: any later change to the row "
             "is a conflict",
     .choices = granularities},
    TM_OPTION_TEXT(OPT_REPORT, "report", "FILE",
                   "with --apply: one JSON line per row (table, key, action, result, columns, "
                   "reason), written whole or not at all"),
    TM_OPTION_TEXT(OPT_USER, "user", "NAME",
                   "who undoes: goes into the undo's own context message, which log shows"),
    TM_OPTION_TEXT(OPT_REASON, "reason", "TEXT", "why: goes into that message too"),
    TM_OPTION_VERBOSE(OPT_VERBOSE, "say where the time went"),
    {0},
};

static const tm_exit_code exits[] = {
    {0, "done (also when no transaction matched, and when --on-conflict skip or overwrite "
        "dealt with conflicts)"},
    {1, "rows that cannot be undone (no old values captured, or the target refuses a value), "
        "or a failure (the message says which; nothing was written), also when the --output or "
        "--report file exists and --force was not given"},
    TM_EXIT_USAGE,
    {3, "conflicts with --on-conflict abort: listed on stderr, nothing was written"},
    {0, NULL},
};

static int cmd_undo(int argc, char **argv);

const tm_command tm_cmd_undo = {
    .name = "undo",
    .summary = "generate or apply inverse SQL for transactions or a time window",
    .synopsis = "--journal DIR (--xid N ... | --from TS --to TS) [OPTIONS]",
    .description =
        "Reverses the changes of chosen transactions: inserted rows are deleted, updated rows set "
        "back to their old values (only the columns and jsonb members the changes wrote, unless "
        "--granularity row), deleted (and truncated) rows inserted again, in one transaction of "
        "the capture source, fitted to its tables as they are now. A row is a conflict when a "
        "later change touched what would be set back, or deleted it, or took its key. The last "
        "line gives the totals: rows restored, skipped as conflicts, failed. The undo's own "
        "transaction carries a context message (what was undone, --user, --reason), so log shows "
        "it and it can be undone in turn. Needs the old rows in the journal (tables with REPLICA "
        "IDENTITY FULL when the changes were made).",
    .options = options,
    .exits = exits,
    .run = cmd_undo,
};

typedef struct opts {
    const char *journal, *from, *to, *tz, *where_text, *output, *report, *user, *reason;
    char *apply; /* --apply, a copy (its password hidden in argv) */
    uint32_t *xids;
    size_t nxids;
    tm_qualname *tables;
    size_t ntables;
    bool dry_run, skip, force, allow_other, by_row;
    tm_undo_mode mode;
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
        free(o->apply);
        if (!(o->apply = tm_cli_conninfo("--apply", (char *)p->arg)))
            return 1;
        break;
    case OPT_ALLOW_OTHER:
        o->allow_other = true;
        break;
    case OPT_GRANULARITY:
        o->by_row = p->choice == 1;
        break;
    case OPT_REPORT:
        o->report = p->arg;
        break;
    case OPT_USER:
        o->user = p->arg;
        break;
    case OPT_REASON:
        o->reason = p->arg;
        break;
    case OPT_DRY_RUN:
        o->dry_run = true;
        break;
    case OPT_ON_CONFLICT:
        o->mode = p->choice == 1   ? TM_UNDO_SKIP
                  : p->choice == 2 ? TM_UNDO_OVERWRITE
                                   : TM_UNDO_ABORT;
        o->skip = o->mode != TM_UNDO_ABORT;
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
    if (o->force && !o->output && !o->report)
        return tm_usage_error("undo", "--force goes with --output or --report");
    if (o->mode == TM_UNDO_OVERWRITE && !o->apply)
        return tm_usage_error("undo", "--on-conflict overwrite goes with --apply (a script "
                                      "only skips or aborts)");
    if ((o->report || o->allow_other) && !o->apply)
        return tm_usage_error("undo", "--report and --allow-other-target go with --apply");
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

/* 9812 -> "9,812" */
static const char *grouped(uint64_t v, char *buf, size_t len)
{
    char d[32];
    int n = snprintf(d, sizeof d, "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = d[i];
    }
    buf[o] = '\0';
    return buf;
}

/* The last line of every run. */
static void totals(uint64_t restored, uint64_t conflicts, uint64_t failed, tm_undo_mode mode)
{
    char a[40], b[40], c[40];
    printf("undo: %s rows restored, %s %s, %s failed\n", grouped(restored, a, sizeof a),
           grouped(conflicts, b, sizeof b),
           mode == TM_UNDO_OVERWRITE ? "conflicts left (rows gone)" : "skipped as conflicts",
           grouped(failed, c, sizeof c));
}

/* Changes without old rows: logged; returns how many. */
static uint64_t cannot_findings(const tm_undo_plan *p)
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
    return n;
}

/* Why an entry changed by others between the undone transactions is a
 * conflict (malloc'd), or NULL. */
static char *interleaved_reason(const tm_undo_entry *e)
{
    tm_out m;
    tm_error err;
    if (tm_out_init_mem(&m, &err) != 0)
        return NULL;
    tm_out_puts(&m, "another transaction changed it between the undone ones, so undoing would "
                    "also revert that change; ");
    tm_undo_later(&m, e);
    tm_out_putc(&m, '\0');
    size_t len;
    char *r = m.err ? NULL : strdup(tm_out_data(&m, &len));
    tm_out_free(&m);
    return r;
}

/* One line per conflicting or failed row, through the logger. */
static void log_rows(const opts *o, const tm_undo_entry **es, const tm_undo_row *rows, size_t n)
{
    tm_out m;
    tm_error err;
    if (tm_out_init_mem(&m, &err) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const tm_undo_row *r = &rows[i];
        if (r->status == TM_UNDO_DONE && !r->overwritten)
            continue;
        tm_out_reset(&m);
        tm_undo_describe(&m, es[i]);
        tm_out_puts(&m, ": ");
        tm_out_puts(&m, r->reason ? r->reason : "not undone");
        tm_out_putc(&m, '\0');
        size_t len;
        const char *text = tm_out_data(&m, &len);
        if (r->status == TM_UNDO_FAILED)
            tm_log_error("failed: %s", text);
        else if (r->overwritten)
            tm_log_warning("overwritten: %s", text);
        else if (o->mode == TM_UNDO_ABORT)
            tm_log_error("conflict: %s", text);
        else
            tm_log_warning("skipped: %s", text);
    }
    tm_out_free(&m);
}

static const char *action_of(const tm_undo_entry *e)
{
    switch (tm_undo_kind_of(e)) {
    case TM_UNDO_DELETE:
        return "delete";
    case TM_UNDO_UPDATE:
        return "update";
    case TM_UNDO_INSERT:
        return "insert";
    default:
        return "none";
    }
}

/* {"col": "value", ...} over the columns that name the row. */
static void key_json(tm_out *o, const tm_undo_entry *e)
{
    const tm_table *t = e->t;
    const tm_undo_img *img = e->has_after ? &e->after : &e->before;
    const tm_version *v = img->ver;
    tm_out_putc(o, '{');
    bool first = true;
    for (uint32_t i = 0; i < v->ncols; i++) {
        bool key = !t->unique;
        for (uint32_t k = 0; k < t->nkeys && !key; k++)
            key = t->to_cur[v->version][t->keycols[k]] == (int32_t)i;
        if (!key)
            continue;
        tm_out_puts(o, first ? "" : ", ");
        first = false;
        tm_json_string(o, v->cols[i].name, strlen(v->cols[i].name));
        tm_out_puts(o, ": ");
        if (img->v[i].kind == TM_KIND_TEXT)
            tm_json_string(o, img->v[i].ptr, img->v[i].len);
        else
            tm_out_puts(o, "null");
    }
    tm_out_putc(o, '}');
}

/* --report: one JSON line per row, and per table whose changes could not
 * be undone; the file appears whole or not at all. */
static int write_report(const opts *o, const tm_undo_plan *p, const tm_undo_entry **es,
                        const tm_undo_row *rows, size_t n, tm_error *err)
{
    tm_outfile f;
    if (tm_outfile_open(&f, o->report, o->force, err) != 0)
        return -1;
    tm_out out;
    if (tm_out_init_fd(&out, f.fd, err) != 0) {
        tm_outfile_abort(&f);
        return -1;
    }
    char q[2 * TM_NAME_MAX + 8];
    for (size_t i = 0; i < n; i++) {
        const tm_undo_entry *e = es[i];
        const tm_undo_row *r = &rows[i];
        tm_out_puts(&out, "{\"table\": ");
        tm_qualname_format(e->t->cur->nspname, e->t->cur->relname, q, sizeof q);
        tm_json_string(&out, q, strlen(q));
        tm_out_puts(&out, ", \"key\": ");
        key_json(&out, e);
        tm_out_puts(&out, ", \"action\": \"");
        tm_out_puts(&out, action_of(e));
        tm_out_puts(&out, "\", \"result\": \"");
        tm_out_puts(&out, r->status == TM_UNDO_DONE ? (r->overwritten ? "overwritten" : "restored")
                          : r->status == TM_UNDO_FAILED ? "failed"
                                                        : "conflict");
        tm_out_puts(&out, "\", \"columns\": ");
        tm_undo_changed_json(&out, e, o->by_row);
        tm_out_puts(&out, ", \"reason\": ");
        if (r->reason)
            tm_json_string(&out, r->reason, strlen(r->reason));
        else
            tm_out_puts(&out, "null");
        tm_out_puts(&out, "}\n");
    }
    for (size_t i = 0; i < p->ncannot; i++) {
        const tm_undo_cannot *c = &p->cannot[i];
        tm_out_puts(&out, "{\"table\": ");
        tm_qualname_format(c->t->cur->nspname, c->t->cur->relname, q, sizeof q);
        tm_json_string(&out, q, strlen(q));
        char buf[160];
        snprintf(buf, sizeof buf,
                 ", \"key\": null, \"action\": \"none\", \"result\": \"failed\", \"columns\": [], "
                 "\"changes\": %" PRIu64 ", \"reason\": \"no old values were captured\"}\n",
                 c->changes);
        tm_out_puts(&out, buf);
    }
    int rc = tm_out_flush(&out, err);
    tm_out_free(&out);
    if (rc == 0)
        return tm_outfile_commit(&f, err);
    tm_error_prefix(err, "writing %s", o->report);
    tm_outfile_abort(&f);
    return -1;
}

static int write_script(const opts *o, const tm_undo_plan *p, const tm_undo_entry **es, size_t n,
                        tm_error *err)
{
    tm_out out;
    if (!o->output) {
        if (tm_out_init_fd(&out, STDOUT_FILENO, err) != 0)
            return -1;
        int rc = tm_undo_write_script(&out, p, es, n, o->skip, o->by_row, err);
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
    int rc = tm_undo_write_script(&out, p, es, n, o->skip, o->by_row, err);
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

/* The undo's own context message: what is undone, by whom, why. */
static char *context_json(const opts *o, const tm_undo_plan *p)
{
    tm_out m;
    tm_error err;
    if (tm_out_init_mem(&m, &err) != 0)
        return NULL;
    tm_out_puts(&m, "{\"action\": \"undo\", \"undone_xids\": [");
    for (size_t i = 0; i < p->ntx; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%s%u", i ? ", " : "", p->tx[i].xid);
        tm_out_puts(&m, buf);
    }
    tm_out_putc(&m, ']');
    const char *fields[][2] = {{"user", o->user},
                               {"reason", o->reason},
                               {"from", o->from},
                               {"to", o->to},
                               {"where", o->where_text}};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (!fields[i][1])
            continue;
        tm_out_puts(&m, ", ");
        tm_json_string(&m, fields[i][0], strlen(fields[i][0]));
        tm_out_puts(&m, ": ");
        tm_json_string(&m, fields[i][1], strlen(fields[i][1]));
    }
    if (o->ntables) {
        tm_out_puts(&m, ", \"tables\": [");
        for (size_t i = 0; i < o->ntables; i++) {
            char q[2 * TM_NAME_MAX + 8];
            tm_qualname_format(o->tables[i].schema, o->tables[i].name, q, sizeof q);
            tm_out_puts(&m, i ? ", " : "");
            tm_json_string(&m, q, strlen(q));
        }
        tm_out_putc(&m, ']');
    }
    tm_out_puts(&m, o->by_row ? ", \"granularity\": \"row\"}" : "}");
    tm_out_putc(&m, '\0');
    size_t len;
    char *r = m.err ? NULL : strdup(tm_out_data(&m, &len));
    tm_out_free(&m);
    return r;
}

/* --apply (and --dry-run with it): runs the rows in the target, reports.
 * Rows changed between the undone transactions are conflicts already.
 * Returns the exit status. */
static int apply(const opts *o, const tm_undo_plan *p, const tm_undo_entry **es, size_t n,
                 uint64_t cannot)
{
    tm_undo_row *rows = calloc(n + 1, sizeof *rows);
    const tm_undo_entry **run = calloc(n + 1, sizeof *run);
    size_t *at = calloc(n + 1, sizeof *at);
    tabsum *sums = calloc(n + 1, sizeof *sums);
    char *ctx = context_json(o, p);
    int rc = 1;
    size_t nrun = 0, nsums = 0;
    tm_undo_row *rrows = NULL;
    if (!rows || !run || !at || !sums || !ctx) {
        tm_log_error("out of memory");
        goto out;
    }
    uint64_t pre_conflicts = 0;
    for (size_t i = 0; i < n; i++) {
        if (es[i]->interleaved) {
            rows[i].status = TM_UNDO_CONFLICT;
            rows[i].reason = interleaved_reason(es[i]);
            pre_conflicts++;
        } else {
            at[nrun] = i;
            run[nrun++] = es[i];
        }
    }
    if (!(rrows = calloc(nrun + 1, sizeof *rrows))) {
        tm_log_error("out of memory");
        goto out;
    }
    tm_undo_apply_opts ao = {.conninfo = o->apply,
                             .meta = NULL,
                             .dry_run = o->dry_run || cannot || (pre_conflicts && !o->skip),
                             .allow_other_target = o->allow_other,
                             .by_row = o->by_row,
                             .mode = o->mode,
                             .context = ctx};
    tm_meta meta;
    tm_error err;
    if (tm_meta_read(o->journal, &meta, &err) != 0) {
        tm_log_error("%s", err.msg);
        goto out;
    }
    ao.meta = &meta;
    tm_undo_result res;
    if (tm_undo_apply(&ao, run, nrun, rrows, &res, &err) != 0) {
        tm_log_error("%s; nothing was written", err.msg);
        goto out;
    }
    for (size_t k = 0; k < nrun; k++) {
        rows[at[k]] = rrows[k];
        rrows[k].reason = NULL;
    }
    res.conflicts += pre_conflicts;
    res.failed += cannot;
    log_rows(o, es, rows, n);
    for (size_t i = 0; i < n; i++) {
        tabsum *s = sum_for(sums, &nsums, es[i]->t);
        if (rows[i].status == TM_UNDO_DONE)
            s->done[tm_undo_kind_of(es[i])]++;
        else
            s->conflicts++;
    }
    bool ok = !res.failed && !(res.conflicts && o->mode == TM_UNDO_ABORT);
    describe_set(stdout, p);
    for (size_t i = 0; i < nsums; i++)
        print_line(stdout, ok ? "  " : "  (rolled back) ", &sums[i], true);
    if (o->report && write_report(o, p, es, rows, n, &err) != 0) {
        tm_log_error("%s", err.msg);
        ok = false;
    }
    if (o->dry_run)
        printf("dry run: nothing was written%s\n",
               ok ? " (the real run would commit)" : "; the real run would roll back");
    else if (res.committed)
        printf("committed as xid %s\n", res.xid);
    else
        printf("rolled back: nothing was written (%s)\n",
               res.failed ? "rows failed, listed on stderr"
                          : "conflicts with --on-conflict abort, listed on stderr; skip restores "
                            "the other rows");
    totals(ok ? res.restored : 0, res.conflicts, res.failed, o->mode);
    rc = res.failed ? 1 : !ok ? 3 : 0;
out:
    tm_undo_rows_free(rows, n);
    tm_undo_rows_free(rrows, nrun);
    free(run);
    free(at);
    free(sums);
    free(ctx);
    return rc;
}

/* After the plan: the script, the dry run's plan, or the application.
 * Returns the exit status. */
static int act(const opts *o, tm_undo_plan *p)
{
    const tm_undo_entry **es = NULL;
    long n = tm_undo_order(p, &es);
    if (n < 0) {
        tm_log_error("out of memory");
        return 1;
    }
    uint64_t cannot = cannot_findings(p);
    int rc = 1;
    if (o->apply) {
        rc = apply(o, p, es, (size_t)n, cannot);
        free(es);
        return rc;
    }
    /* Without a database: rows changed in between are left out and listed. */
    uint64_t inter = 0;
    long m = 0;
    for (long i = 0; i < n; i++) {
        if (!es[i]->interleaved) {
            es[m++] = es[i];
            continue;
        }
        inter++;
        tm_out d;
        tm_error err;
        char *why = interleaved_reason(es[i]);
        if (tm_out_init_mem(&d, &err) == 0) {
            tm_undo_describe(&d, es[i]);
            tm_out_putc(&d, '\0');
            size_t len;
            if (o->skip)
                tm_log_warning("skipped: %s: %s", tm_out_data(&d, &len), why ? why : "");
            else
                tm_log_error("conflict: %s: %s", tm_out_data(&d, &len), why ? why : "");
            tm_out_free(&d);
        }
        free(why);
    }
    int status = cannot ? 1 : inter && !o->skip ? 3 : 0;
    if (!o->dry_run) {
        tm_error err;
        if (status != 0 && !o->skip)
            tm_log_error("nothing was written: %" PRIu64 " row(s) above cannot be undone; "
                         "--on-conflict skip writes the script for the rest",
                         cannot + inter);
        else if (write_script(o, p, es, (size_t)m, &err) != 0)
            tm_log_error("%s", err.msg), status = 1;
    } else {
        tabsum *sums = calloc((size_t)m + 1, sizeof *sums);
        size_t nsums = 0;
        if (!sums) {
            tm_log_error("out of memory");
            free(es);
            return 1;
        }
        for (long i = 0; i < m; i++)
            sum_for(sums, &nsums, es[i]->t)->planned[tm_undo_kind_of(es[i])]++;
        describe_set(stdout, p);
        printf("plan (%ld row statements):\n", m);
        for (size_t i = 0; i < nsums; i++)
            print_line(stdout, "  ", &sums[i], false);
        printf("no database checked (give --apply CONNINFO to find conflicts there)\n");
        free(sums);
    }
    rc = status;
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
    /* Output files that are there already: refused before the work. */
    if ((o->output && tm_outfile_check(o->output, o->force, &err) != 0) ||
        (o->report && tm_outfile_check(o->report, o->force, &err) != 0)) {
        tm_log_error("%s", err.msg);
        return 1;
    }
    int rc = 1;
    tm_undo_plan p = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (tm_undo_plan_build(&p, o->journal, &sel, &err) != 0) {
        tm_log_error("%s", err.msg);
        tm_undo_plan_free(&p);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    tm_log_debug("plan: %zu rows of %zu transaction(s), from the journal in %.3fs", p.n, p.ntx,
                 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (check_selection(o, &p) == 0) {
        if (p.ntx == 0) {
            tm_log_info("no captured transaction committed between %s and %s; nothing to undo",
                        o->from, o->to);
            rc = 0;
        } else {
            rc = act(o, &p);
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
    free(o.apply);
    return rc;
}
