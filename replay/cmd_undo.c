/* tidemark undo: SQL that reverses chosen transactions, or its application
 * to a database, with conflict detection (see undo_plan.h, undo_sql.h,
 * undo_apply.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/journal/journal.h"
#include "replay/out/out.h"
#include "replay/out/outfile.h"
#include "store/common/qualname.h"
#include "store/common/tm_time.h"
#include "replay/undo/undo_apply.h"
#include "replay/undo/undo_plan.h"
#include "replay/undo/undo_sql.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: tidemark undo --journal DIR (--xid N ... | --from TS --to TS) [OPTIONS]\n"
               "\n"
               "Reverses the changes of chosen transactions: inserted rows are deleted, updated\n"
               "rows set back to their old values, deleted (and truncated) rows inserted again,\n"
               "newest first, in one transaction. Rows are found by their key columns, and each\n"
               "statement applies only if the row still looks as the undone change left it;\n"
               "rows changed since are conflicts. Needs the old rows in the journal (tables with\n"
               "REPLICA IDENTITY FULL when the changes were made).\n"
               "\n"
               "Options:\n"
               "  --journal DIR          the journal (required)\n"
               "  --xid N                a transaction to undo (repeatable)\n"
               "  --from TS --to TS      every transaction that committed in [TS, TS]\n"
               "  --tz ZONE              time zone of times without an offset (default UTC)\n"
               "  --table SCHEMA.NAME    undo only changes of this table (repeatable)\n"
               "  --where EXPR           undo only changes whose old or new row matches EXPR\n"
               "                         (the language of replay --where)\n"
               "  --output FILE          write the SQL script there instead of stdout\n"
               "  --apply CONNINFO       run it in that database (normally the capture source)\n"
               "  --dry-run              print the plan (with --apply: and the conflicts the\n"
               "                         target has), change nothing\n"
               "  --on-conflict MODE     abort (default): any conflict cancels everything;\n"
               "                         skip: undo the rest, list what was skipped\n"
               "  -h, --help             this help\n"
               "\n"
               "Exit status: 0 done, 1 conflicts or changes that cannot be undone, 2 error.\n");
}

typedef struct opts {
    const char *journal, *from, *to, *tz, *where, *output, *apply, *on_conflict;
    uint32_t *xids;
    size_t nxids;
    tm_qualname *tables;
    size_t ntables;
    bool dry_run, skip;
} opts;

static int parse_xid(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || v == 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    static const struct option longopts[] = {
        {"journal", required_argument, NULL, 'j'},
        {"xid", required_argument, NULL, 'x'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"tz", required_argument, NULL, 'z'},
        {"table", required_argument, NULL, 't'},
        {"where", required_argument, NULL, 'w'},
        {"output", required_argument, NULL, 'o'},
        {"apply", required_argument, NULL, 'A'},
        {"dry-run", no_argument, NULL, 'n'},
        {"on-conflict", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    tm_error err;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o->journal = optarg;
            break;
        case 'x':
            if (parse_xid(optarg, &o->xids[o->nxids]) != 0)
                return tm_usage_error(
                    "undo", "--xid must be a transaction id (a positive integer), not '%s'",
                    optarg);
            o->nxids++;
            break;
        case 'F':
            o->from = optarg;
            break;
        case 'T':
            o->to = optarg;
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
        case 'A':
            o->apply = optarg;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case 'c':
            o->on_conflict = optarg;
            if (!strcmp(optarg, "skip"))
                o->skip = true;
            else if (strcmp(optarg, "abort"))
                return tm_usage_error("undo", "--on-conflict must be abort or skip, not '%s'",
                                      optarg);
            break;
        case 't':
            if (tm_qualname_parse(optarg, &o->tables[o->ntables], &err) != 0) {
                fprintf(stderr, "tidemark undo: --table: %s\n", err.msg);
                return 2;
            }
            o->ntables++;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return tm_usage_bad_option("undo", c, argv);
        }
    }
    if (optind < argc)
        return tm_usage_error("undo", "unexpected argument '%s'", argv[optind]);
    if (!o->journal)
        return tm_usage_error("undo", "--journal DIR is required");
    if (o->nxids && (o->from || o->to))
        return tm_usage_error("undo", "give either --xid or --from and --to, not both");
    if (!o->nxids && (!o->from || !o->to))
        return tm_usage_error("undo",
                              "give the transactions to undo: --xid N, or --from TS and --to TS");
    if (o->output && (o->apply || o->dry_run))
        return tm_usage_error("undo",
                              "--output writes the script; it goes with neither --apply nor "
                              "--dry-run");
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
    char q[2 * TM_NAME_MAX + 8];
    tm_qualname_format(s->t->cur->nspname, s->t->cur->relname, q, sizeof q);
    fprintf(f, "%s%s:", prefix, q);
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
        fprintf(stderr,
                "tidemark undo: cannot undo %" PRIu64 " change(s) of %s (first in xid %u): "
                "table %s had REPLICA IDENTITY %s at that time; old values were not captured "
                "(ALTER TABLE ... REPLICA IDENTITY FULL makes later changes undoable)\n",
                c->changes, tm_qualname_format(c->t->cur->nspname, c->t->cur->relname, q, sizeof q),
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
        fprintf(stderr, "tidemark undo: %s: %s\n", skip ? "skipped" : "conflict",
                tm_out_data(&m, &len));
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
    if (tm_outfile_open(&f, o->output, err) != 0)
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

static int run(const opts *o)
{
    tm_error err;
    tm_undo_select sel = {.xids = o->xids,
                          .nxids = o->nxids,
                          .tables = o->tables,
                          .ntables = o->ntables,
                          .tz = o->tz};
    if (o->from) {
        sel.by_time = true;
        if (tm_time_parse(o->from, o->tz, &sel.from, &err) != 0) {
            fprintf(stderr, "tidemark undo: --from '%s': %s\n", o->from, err.msg);
            return 2;
        }
        if (tm_time_parse(o->to, o->tz, &sel.to, &err) != 0) {
            fprintf(stderr, "tidemark undo: --to '%s': %s\n", o->to, err.msg);
            return 2;
        }
        if (sel.to < sel.from) {
            fprintf(stderr, "tidemark undo: --to is before --from\n");
            return 2;
        }
    }
    tm_where *where = NULL;
    if (o->where && !(where = tm_where_parse(o->where, &err))) {
        fprintf(stderr, "tidemark undo: --where: %s\n", err.msg);
        return 2;
    }
    sel.where = where;
    int rc = 2;
    tm_undo_plan p = {0};
    const tm_undo_entry **es = NULL;
    int *status = NULL;
    tabsum *sums = NULL;
    tm_meta meta;
    if (tm_meta_read(o->journal, &meta, &err) != 0) {
        if (tm_error_is(&err, TM_ERR_NOT_FOUND))
            fprintf(stderr,
                    "tidemark undo: %s is not a tidemark journal (it has no journal.meta)\n",
                    o->journal);
        else
            fprintf(stderr, "tidemark undo: %s\n", err.msg);
        goto out;
    }
    if (tm_undo_plan_build(&p, o->journal, &sel, &err) != 0) {
        fprintf(stderr, "tidemark undo: %s\n", err.msg);
        goto out;
    }
    for (size_t i = 0; i < o->ntables; i++)
        if (!table_known(p.state, &o->tables[i])) {
            char q[2 * TM_NAME_MAX + 8];
            fprintf(stderr, "tidemark undo: table %s is not in the journal\n",
                    tm_qualname_format(o->tables[i].schema, o->tables[i].name, q, sizeof q));
            goto out;
        }
    for (size_t i = 0; i < o->nxids; i++) {
        bool found = false;
        for (size_t k = 0; k < p.ntx && !found; k++)
            found = p.tx[k].xid == o->xids[i];
        if (!found) {
            fprintf(stderr,
                    "tidemark undo: no transaction with xid %u is in the journal (it changed no "
                    "captured table, or it is older than the journal; find it with tidemark log "
                    "--transactions)\n",
                    o->xids[i]);
            goto out;
        }
    }
    if (p.ntx == 0) {
        fprintf(stderr,
                "tidemark undo: no captured transaction committed between %s and %s; "
                "nothing to undo\n",
                o->from, o->to);
        rc = 0;
        goto out;
    }
    uint64_t findings = journal_findings(&p, o->skip);
    if (findings && !o->skip && !o->dry_run) {
        fprintf(stderr,
                "tidemark undo: nothing was done: %" PRIu64 " finding(s) above; "
                "--on-conflict skip undoes the rest\n",
                findings);
        rc = 1;
        goto out;
    }
    long n = tm_undo_order(&p, &es);
    if (n < 0 || !(status = calloc((size_t)n + 1, sizeof *status)) ||
        !(sums = calloc(p.n + 1, sizeof *sums))) {
        fprintf(stderr, "tidemark undo: out of memory\n");
        goto out;
    }
    /* interleaved rows are not undone */
    long m = 0;
    for (long i = 0; i < n; i++)
        if (!es[i]->interleaved)
            es[m++] = es[i];
    n = m;
    size_t nsums = 0;
    for (long i = 0; i < n; i++)
        sum_for(sums, &nsums, es[i]->t)->planned[tm_undo_kind_of(es[i])]++;

    if (!o->apply && !o->dry_run) {
        if (write_script(o, &p, es, (size_t)n, &err) != 0) {
            fprintf(stderr, "tidemark undo: %s\n", err.msg);
            goto out;
        }
        rc = findings ? 1 : 0;
        goto out;
    }
    if (o->dry_run) {
        describe_set(stdout, &p);
        printf("plan (%ld row statements):\n", n);
        for (size_t i = 0; i < nsums; i++)
            print_line(stdout, "  ", &sums[i], false);
        if (!o->apply) {
            printf("no database checked (give --apply CONNINFO to find conflicts there)\n");
            rc = findings ? 1 : 0;
            goto out;
        }
    }
    tm_undo_apply_opts ao = {.conninfo = o->apply, .dry_run = o->dry_run, .skip = o->skip};
    bool committed;
    long conflicts = tm_undo_apply(&ao, es, (size_t)n, status, stderr, &committed, &err);
    if (conflicts < 0) {
        fprintf(stderr, "tidemark undo: %s; nothing was written\n", err.msg);
        goto out;
    }
    for (long i = 0; i < n; i++) {
        tabsum *s = sum_for(sums, &nsums, es[i]->t);
        if (status[i] == TM_UNDO_DONE)
            s->done[tm_undo_kind_of(es[i])]++;
        else
            s->conflicts++;
    }
    if (o->dry_run) {
        printf("conflicts found against the target: %ld\n", conflicts);
        printf("dry run: nothing was written\n");
    } else {
        describe_set(stdout, &p);
        for (size_t i = 0; i < nsums; i++)
            print_line(stdout, committed ? "  " : "  (rolled back) ", &sums[i], true);
        if (committed)
            printf("committed%s\n", conflicts ? " (conflicting rows skipped, listed above)" : "");
        else
            printf("rolled back: %ld conflict(s) (listed on stderr); nothing was written\n",
                   conflicts);
    }
    rc = (conflicts && (!o->skip || o->dry_run)) || (findings && !o->skip) ? 1 : 0;
    if (findings && o->skip && !o->dry_run)
        rc = 1;
out:
    free(sums);
    free(status);
    free(es);
    tm_undo_plan_free(&p);
    tm_where_free(where);
    return rc;
}

int cmd_undo(int argc, char **argv)
{
    opts o = {0};
    o.tables = calloc((size_t)argc + 1, sizeof *o.tables);
    o.xids = calloc((size_t)argc + 1, sizeof *o.xids);
    if (!o.tables || !o.xids) {
        free(o.tables);
        free(o.xids);
        return 2;
    }
    int rc = parse_args(argc, argv, &o);
    if (rc == 0)
        rc = run(&o);
    else if (rc == 1)
        rc = 0;
    free(o.tables);
    free(o.xids);
    return rc;
}
