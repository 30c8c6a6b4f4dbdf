#include "replay/log/log_run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/common/jsource.h"
#include "store/journal/journal.h"
#include "replay/keys/keyscan.h"
#include "store/journal/horizon.h"
#include "replay/keys/rowcount.h"
#include "replay/log/log_diff.h"
#include "replay/log/log_filter.h"
#include "replay/log/log_format.h"
#include "replay/log/log_plan.h"
#include "replay/log/log_tx.h"
#include "replay/engine/relreg.h"
#include "store/journal/tuple.h"

typedef struct run {
    const log_opts *o;
    tm_out out;
    tm_relreg *schema;
    log_filter *filter;
    log_plan *plan;
    tm_reader *r;
    tm_keyscan *ks;
    tm_rowcount *counts; /* opened at the first TRUNCATE shown */
    log_tx tx;
    log_top top;
    bool in_tx;
    bool row_filters; /* --table, --where or --column */
    tm_colbuf oldv, newv;
    log_differ differ;
    log_run_stats *st;
} run;

/* ---- schemas ---------------------------------------------------------- */

static int count_frames(void *ctx, const tm_frame_info *f)
{
    (void)f;
    (*(uint64_t *)ctx)++;
    return TM_FRAME_SKIP;
}

/* Collects every Relation of the journal, reading only the frames that
 * hold some (segment preambles, schema changes), and counts the frames. */
static int collect_schemas(run *u, tm_error *err)
{
    tm_reader *r;
    if (tm_reader_open(u->o->journal, &r, err) != 0)
        return -1;
    tm_reader_set_frame_filter(r, count_frames, &u->st->frames_total);
    const Tidemark__Record *rec;
    int rc;
    while ((rc = tm_reader_next(r, &rec, err)) == 1) {
        bool added;
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION &&
            !tm_relreg_add(u->schema, rec->relation, &added, err)) {
            rc = -1;
            break;
        }
    }
    u->st->schema_frames = tm_reader_get_stats(r).frames_decoded;
    tm_reader_close(r);
    return rc;
}

/* ---- one change --------------------------------------------------------- */

/* The rows TRUNCATE ch removed (rowcount.h): *rows, *known. */
static int truncated_rows(run *u, const Tidemark__Change *ch, uint64_t *rows, bool *known,
                          tm_error *err)
{
    int64_t nth = log_tx_truncate_nth(&u->tx, ch->relation_oid, err);
    if (nth < 0 || (!u->counts && !(u->counts = tm_rowcount_open(u->o->journal, err))))
        return -1;
    int found = tm_rowcount_truncated(u->counts, u->tx.hdr.lsn, ch->relation_oid, (uint32_t)nth,
                                      rows, known, err);
    if (found < 0)
        return -1;
    if (!found)
        *known = false;
    return 0;
}

/* Whether a difference is in a --column column (an unchanged TOAST value
 * is no change). */
static int touched_selected(void *ctx, const log_diff_item *it)
{
    const log_rel *lr = ctx;
    if (it->old.kind == LOG_SIDE_UNCHANGED && it->new_.kind == LOG_SIDE_UNCHANGED)
        return 0;
    return lr->colsel[it->col] ? 1 : 0;
}

static int on_change(run *u, const Tidemark__Change *ch, tm_error *err)
{
    log_tx *tx = &u->tx;
    bool note = tx->snapshot && u->o->transactions && !u->o->top && !u->o->nxids;
    if (!tx->wanted && !note)
        return 0;
    const tm_relver *rv = tm_relreg_get(u->schema, ch->relation_oid, ch->relation_version);
    if (!rv) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the journal has a change of relation %u version %u but not its schema "
                      "(run 'tidemark verify --journal %s')",
                      ch->relation_oid, ch->relation_version, u->o->journal);
        return -1;
    }
    if (tx->snapshot)
        return log_tx_count(tx, rv, TIDEMARK__CHANGE__OP__INSERT, 1, true, err);
    const log_rel *lr = log_filter_rel(u->filter, rv, err);
    if (!lr)
        return -1;
    if (!lr->selected || !lr->possible)
        return 0;
    if (u->o->ncolumns && !lr->any_colsel)
        return 0;
    uint32_t nold = 0, nnew = 0;
    const tm_value *oldv = NULL, *newv = NULL;
    if (ch->old_tuple) {
        if (tm_tuple_decode(ch->old_tuple, NULL, 0, &u->oldv, &nold, err) != 0)
            goto bad;
        oldv = u->oldv.v;
    }
    if (ch->new_tuple) {
        if (tm_tuple_decode(ch->new_tuple, oldv, nold, &u->newv, &nnew, err) != 0)
            goto bad;
        newv = u->newv.v;
    }
    if (ch->op != TIDEMARK__CHANGE__OP__TRUNCATE && !log_filter_row(lr, oldv, nold, newv, nnew))
        return 0;
    if (u->o->ncolumns && ch->op == TIDEMARK__CHANGE__OP__UPDATE) {
        int rc = log_diff_update(&u->differ, lr, oldv, nold, (char)ch->old_kind, newv, nnew,
                                 touched_selected, (void *)lr);
        if (rc < 0) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory comparing values");
            return -1;
        }
        if (rc == 0)
            return 0; /* none of the --column columns changed */
    }
    u->st->changes_shown++;
    uint64_t rows = 1;
    bool known = true;
    if (ch->op == TIDEMARK__CHANGE__OP__TRUNCATE && truncated_rows(u, ch, &rows, &known, err) != 0)
        return -1;
    if (u->o->transactions)
        return log_tx_count(tx, rv, ch->op, known ? rows : 0, known, err);
    log_trunc_rows tr = {rows, known};
    if (log_write_change(log_tx_change_out(tx), u->o->format, &tx->hdr, lr, ch, oldv, nold, newv,
                         nnew, &tr, &u->differ, err) != 0)
        return -1;
    return log_tx_change_done(tx, err);
bad:
    tm_error_prefix(err, "transaction %u (commit %llx): a row of %s", tx->hdr.xid,
                    (unsigned long long)tx->hdr.lsn, rv->display);
    return -1;
}

/* ---- transactions --------------------------------------------------------- */

static int end_tx(run *u, tm_error *err)
{
    log_tx *tx = &u->tx;
    const log_opts *o = u->o;
    u->in_tx = false;
    if (tx->snapshot) {
        bool in_window =
            (!o->has_from || tx->hdr.time >= o->from) && (!o->has_to || tx->hdr.time <= o->to);
        if (o->transactions && !o->top && !o->nxids && in_window)
            log_write_snapshot_note(&u->out, o->format, tx, tx->ncounts);
        return 0;
    }
    if (!tx->wanted)
        return 0;
    /* A transaction without rows to show (DDL, a lone message) is shown
     * for its messages with --all-messages, unless rows were asked for. */
    bool messages_only = tx->nmsgs > 0 && o->all_messages && !u->row_filters;
    if (o->transactions) {
        if (tx->rows == 0 && tx->truncates == 0 && !messages_only)
            return 0;
        u->st->transactions_shown++;
        if (o->top)
            return log_top_offer(&u->top, tx, o->format, o->all_messages, err);
        log_tx_summary(tx, &u->out, o->format, o->all_messages);
        return 0;
    }
    if (tx->nchanges == 0 && !messages_only)
        return 0;
    u->st->transactions_shown++;
    return log_tx_flush(tx, &u->out, o->format, o->all_messages, err);
}

static int on_record(run *u, const Tidemark__Record *rec, tm_error *err)
{
    log_tx *tx = &u->tx;
    if (u->in_tx) {
        int rc = 0;
        if (rec->body_case == TIDEMARK__RECORD__BODY_CHANGE)
            rc = on_change(u, rec->change, err);
        else if (rec->body_case == TIDEMARK__RECORD__BODY_MESSAGE && tx->wanted)
            rc = log_tx_message(tx, rec->message, err);
        if (rc == 0 && --tx->left == 0)
            rc = end_tx(u, err);
        return rc;
    }
    switch (rec->body_case) {
    case TIDEMARK__RECORD__BODY_BEGIN:
        log_tx_begin(tx, rec->begin);
        tx->wanted = !tx->snapshot && log_filter_tx(u->filter, tx->hdr.xid, tx->hdr.time);
        u->in_tx = true;
        return tx->left == 0 ? end_tx(u, err) : 0;
    case TIDEMARK__RECORD__BODY_MESSAGE:
        if (u->o->all_messages && !u->o->transactions && !u->o->nxids)
            log_write_standalone_message(&u->out, u->o->format, rec->message);
        return 0;
    case TIDEMARK__RECORD__BODY_GAP:
        log_write_gap(&u->out, u->o->format, rec->gap);
        return 0;
    default:
        return 0;
    }
}

/* ---- the run ---------------------------------------------------------------- */

static int check_journal(const char *dir, tm_error *err)
{
    int kind = tm_jsrc_kind(dir, err);
    if (kind < 0)
        return -1;
    if (kind != 1) {
        errno = ENOTDIR;
        tm_error_errno(err, "cannot open journal %s", dir);
        return -1;
    }
    tm_meta meta;
    if (tm_meta_read(dir, &meta, err) == 0)
        return 0;
    if (tm_error_is(err, TM_ERR_NOT_FOUND))
        tm_error_setc(err, TM_ERR_NOT_FOUND,
                      "%s is not a tidemark journal (it has no journal.meta); give the directory "
                      "that 'tidemark capture --journal' writes",
                      dir);
    return -1;
}

static void cleanup(run *u)
{
    tm_keyscan_free(u->ks);
    tm_rowcount_free(u->counts);
    tm_reader_close(u->r);
    log_plan_free(u->plan);
    log_filter_free(u->filter);
    tm_relreg_free(u->schema);
    log_tx_free(&u->tx);
    log_top_free(&u->top);
    tm_colbuf_free(&u->oldv);
    tm_colbuf_free(&u->newv);
    log_differ_free(&u->differ);
    tm_out_free(&u->out);
}

int log_run(const log_opts *o, int out_fd, log_run_stats *stats, tm_error *err)
{
    log_run_stats local = {0};
    run u;
    memset(&u, 0, sizeof u);
    u.o = o;
    u.st = stats ? stats : &local;
    memset(u.st, 0, sizeof *u.st);
    u.row_filters = o->ntables || o->where || o->ncolumns;
    log_time_init(o->tz);
    int rc = -1;
    if (tm_out_init_fd(&u.out, out_fd, err) != 0 || log_tx_init(&u.tx, err) != 0 ||
        (o->top && log_top_init(&u.top, o->top, err) != 0))
        goto out;
    if (check_journal(o->journal, err) != 0 || !(u.schema = tm_relreg_new(err)) ||
        collect_schemas(&u, err) != 0 || !(u.filter = log_filter_new(o, u.schema, err)) ||
        log_filter_check(u.filter, err) != 0 ||
        !(u.plan = log_plan_new(o, u.schema, u.filter, err)))
        goto out;
    if (tm_reader_open(o->journal, &u.r, err) != 0)
        goto out;
    /* A pruned journal: history from its horizon on, nothing before. */
    tm_horizon h;
    int hz = tm_horizon_read(o->journal, &h, err);
    if (hz < 0 ||
        (hz == 1 && ((o->has_from && tm_horizon_refuse(o->journal, &h, false, 0, o->from, err)) ||
                     (o->has_to && tm_horizon_refuse(o->journal, &h, false, 0, o->to, err)))))
        goto out;
    if (o->has_from && tm_reader_seek_time(u.r, o->from, err) != 0)
        goto out;
    if (!o->has_from && hz == 1 && tm_reader_seek_lsn(u.r, h.lsn + 1, err) != 0)
        goto out;
    if (o->has_to)
        tm_reader_set_time_limit(u.r, o->to);
    u.ks = tm_keyscan_new(o->journal, u.r, u.schema, log_plan_prunes(u.plan) ? log_plan_want : NULL,
                          u.plan, err);
    if (!u.ks)
        goto out;
    const Tidemark__Record *rec;
    int more;
    while ((more = tm_reader_next(u.r, &rec, err)) == 1) {
        /* Schemas first: the summary builder looks changes up in them. */
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION && !u.in_tx) {
            bool added;
            if (!tm_relreg_add(u.schema, rec->relation, &added, err))
                goto out;
        }
        if (tm_keyscan_record(u.ks, rec, err) != 0 || on_record(&u, rec, err) != 0)
            goto out;
        if (u.out.err)
            break;
    }
    if (more < 0)
        goto out;
    tm_keyscan_finish(u.ks, !o->has_to);
    if (o->top)
        log_top_write(&u.top, &u.out);
    if (tm_out_flush(&u.out, err) != 0) {
        tm_error_prefix(err, "writing the output");
        goto out;
    }
    rc = 0;
out:;
    if (u.r) {
        tm_reader_stats rs = tm_reader_get_stats(u.r);
        u.st->frames_decoded = rs.frames_decoded;
        u.st->frames_skipped = rs.frames_skipped;
    }
    if (u.ks) {
        tm_keyscan_stats ks = tm_keyscan_get_stats(u.ks);
        u.st->indexed = ks.indexed;
        u.st->summaries_saved = ks.saved;
    }
    cleanup(&u);
    return rc;
}
