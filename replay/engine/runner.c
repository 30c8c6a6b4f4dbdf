#include "replay/engine/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay/engine/checkpoint.h"
#include "store/journal/horizon.h"
#include "store/journal/journal.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"

double tm_run_clock(bool cpu)
{
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds on the monotonic clock. */
static double mono(void)
{
    return tm_run_clock(false);
}

int tm_journal_last_commit(const char *dir, uint64_t *lsn, int64_t *time, tm_error *err)
{
    tm_reader *r;
    if (tm_reader_open(dir, &r, err) != 0)
        return -1;
    *lsn = 0;
    *time = 0;
    const Tidemark__Record *rec;
    const uint8_t *raw;
    size_t len;
    int rc;
    while ((rc = tm_reader_next_lazy(r, &rec, &raw, &len, err)) == 1)
        if (rec && rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
            *lsn = rec->begin->commit_lsn;
            *time = rec->begin->commit_time;
        }
    tm_reader_close(r);
    return rc;
}

/* "the journal covers A (base snapshot) to B (last commit)" into buf. */
static void describe_range(const char *dir, const tm_run_info *info, bool by_lsn, char *buf,
                           size_t len)
{
    uint64_t last_lsn;
    int64_t last_time;
    tm_error e2;
    if (tm_journal_last_commit(dir, &last_lsn, &last_time, &e2) != 0) {
        last_lsn = info->last_lsn;
        last_time = info->last_time;
    }
    if (by_lsn) {
        char a[TM_LSN_BUFLEN], b[TM_LSN_BUFLEN];
        snprintf(buf, len, "the journal covers LSN %s (its base snapshot) to %s (its last commit)",
                 tm_lsn_format(info->base_lsn, a), tm_lsn_format(last_lsn, b));
    } else {
        char a[TM_TIME_BUFLEN], b[TM_TIME_BUFLEN];
        snprintf(buf, len, "the journal covers %s (its base snapshot) to %s (its last commit)",
                 tm_time_format(info->base_time, a), tm_time_format(last_time, b));
    }
}

static void progress_line(const tm_progress *p, const tm_state *s, const tm_run_info *info,
                          const tm_target *t, double start, bool final)
{
    double el = mono() - start;
    uint64_t n = tm_state_applied(s) + tm_state_skipped(s);
    double rate = el > 0 ? (double)n / el : 0;
    /* How far along: by commit time (or LSN) between the base and the target. */
    double frac = 0;
    if (t->by_lsn && t->lsn > info->base_lsn)
        frac = (double)(info->last_lsn - info->base_lsn) / (double)(t->lsn - info->base_lsn);
    else if (!t->by_lsn && t->time > info->base_time)
        frac = (double)(info->last_time - info->base_time) / (double)(t->time - info->base_time);
    char eta[32] = "";
    if (!final && frac > 0.01 && frac < 1)
        snprintf(eta, sizeof eta, ", ETA %.0fs", el * (1 - frac) / frac);
    tm_log_progress(p->tty, final, "%llu changes read (%llu applied), %.2fM/s%s",
                    (unsigned long long)n, (unsigned long long)tm_state_applied(s), rate / 1e6,
                    eta);
}

/* Loads the newest checkpoint usable for t, and not older than min_lsn,
 * into s (info->ckpt_lsn: which, 0 when none). Damaged ones are skipped
 * with a warning. */
static int load_checkpoint(const char *dir, tm_state *s, const tm_target *t, uint64_t min_lsn,
                           tm_run_info *info, tm_error *err)
{
    tm_ckpt *c;
    size_t n;
    if (tm_ckpt_list(dir, &c, &n, err) != 0) {
        tm_log_warning("%s; replaying from the base snapshot", err->msg);
        return 0;
    }
    for (size_t i = n; i-- > 0;) {
        bool usable = t->by_lsn ? c[i].lsn <= t->lsn : c[i].max_time <= t->time;
        if (!usable)
            continue;
        if (c[i].lsn < min_lsn)
            break;
        tm_error e2;
        if (!c[i].ok) {
            tm_log_warning("checkpoint %s is not used: %s", c[i].path, c[i].why);
            continue;
        }
        if (tm_ckpt_load(&c[i], s, &e2) != 0) {
            tm_log_warning("%s; it is not used", e2.msg);
            tm_state_reset(s);
            continue;
        }
        info->ckpt_lsn = c[i].lsn;
        info->ckpt_rows = tm_state_applied(s);
        info->base_lsn = info->last_lsn = c[i].lsn;
        info->base_time = info->last_time = c[i].last_time;
        info->max_time = c[i].max_time;
        break;
    }
    free(c);
    return 0;
}

typedef struct removal {
    uint32_t oid;
    uint64_t lsn;
    int64_t time;
} removal;

/* The removals read before a transaction that is applied take effect. */
static void apply_removals(tm_state *s, const removal *v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        tm_state_table_removed(s, v[i].oid);
    *n = 0;
}

int tm_run_to(const char *dir, tm_state *s, const tm_target *t, const tm_progress *progress,
              tm_run_info *info, tm_error *err)
{
    tm_runner_opts o = {.progress = progress};
    return tm_run_to_opts(dir, s, t, &o, info, err);
}

int tm_run_to_opts(const char *dir, tm_state *s, const tm_target *t, const tm_runner_opts *o,
                   tm_run_info *info, tm_error *err)
{
    memset(info, 0, sizeof *info);
    const tm_progress *progress = o->progress;
    /* TableRemoved records read since the last transaction applied: like a
     * gap, they matter once a transaction after them is applied, or the
     * target lies past them. */
    removal *removed = NULL;
    size_t nremoved = 0;
    double ckpt_start = mono();
    /* A pruned journal starts at its horizon's checkpoint: nothing earlier
     * can be replayed, and everything later starts from that checkpoint
     * or a newer one. */
    tm_horizon h;
    int hz = tm_horizon_read(dir, &h, err);
    if (hz < 0 || (hz == 1 && tm_horizon_refuse(dir, &h, t->by_lsn, t->lsn, t->time, err) != 0))
        return -1;
    if ((o->use_checkpoints || hz == 1) &&
        load_checkpoint(dir, s, t, hz == 1 ? h.lsn : 0, info, err) != 0)
        return -1;
    if (hz == 1 && !info->ckpt_lsn) {
        char l[TM_LSN_BUFLEN];
        tm_error_set(err,
                     "journal %s was pruned to the checkpoint at LSN %s, which is missing or "
                     "damaged (run tidemark verify); restore the journal from a backup",
                     dir, tm_lsn_format(h.lsn, l));
        return -1;
    }
    info->ckpt_seconds = mono() - ckpt_start;
    tm_reader *r;
    if (tm_reader_open(dir, &r, err) != 0)
        return -1;
    /* After the checkpoint: its transactions are in the state already. */
    if (info->ckpt_lsn && tm_reader_seek_lsn(r, info->ckpt_lsn + 1, err) != 0)
        goto fail;
    double start = mono(), next_report = start + 1, cpu0 = tm_run_clock(true);
    const Tidemark__Record *rec;
    const uint8_t *raw;
    size_t len;
    uint64_t tx_left = 0, since_check = 0;
    bool seen_base = info->ckpt_lsn != 0, pending_gap = false, in_snapshot = false;
    uint64_t gap_lsn = 0;
    char gap_reason[sizeof info->gap_reason];

    int rc;
    while ((rc = tm_reader_next_lazy(r, &rec, &raw, &len, err)) == 1) {
        int body = rec ? (int)rec->body_case : TIDEMARK__RECORD__BODY_CHANGE;
        if (body == TIDEMARK__RECORD__BODY_CHANGE) {
            if (tx_left == 0) {
                tm_error_setc(err, TM_ERR_CORRUPT,
                              "the journal holds a change outside any transaction; it is "
                              "damaged (run tidemark verify)");
                goto fail;
            }
            /* A base snapshot's rows are loaded like a checkpoint's. */
            if ((rec           ? tm_state_change(s, rec->change, err)
                 : in_snapshot ? tm_state_load_row_packed(s, raw, len, err)
                               : tm_state_queue_packed(s, raw, len, err)) != 0)
                goto fail;
            if (progress && ++since_check == 65536) {
                since_check = 0;
                double now = mono();
                if (now >= next_report) {
                    progress_line(progress, s, info, t, start, false);
                    next_report = now + 1;
                }
            }
        } else if (body == TIDEMARK__RECORD__BODY_BEGIN) {
            const Tidemark__TxBegin *b = rec->begin;
            if (!seen_base && !b->snapshot) {
                tm_error_set(err,
                             "journal %s does not begin with a base snapshot, so no state "
                             "can be reconstructed from it",
                             dir);
                goto fail;
            }
            bool past = t->by_lsn ? b->commit_lsn > t->lsn : b->commit_time > t->time;
            if (past && !seen_base) {
                info->base_lsn = b->commit_lsn;
                info->base_time = b->commit_time;
                char range[300], at[TM_TIME_BUFLEN + TM_LSN_BUFLEN];
                describe_range(dir, info, t->by_lsn, range, sizeof range);
                if (t->by_lsn)
                    tm_lsn_format(t->lsn, at);
                else
                    tm_time_format(t->time, at);
                tm_error_set(err,
                             "%s is before the journal's base snapshot, so the state then "
                             "is not known; %s",
                             at, range);
                goto fail;
            }
            if (past) {
                info->stop_lsn = b->commit_lsn;
                info->stop_time = b->commit_time;
                break;
            }
            /* Queued changes meet the state before the snapshot flag or a
             * gap changes it, and before after_tx looks at it. */
            if ((pending_gap || (b->snapshot && b->n_records > 0) || o->after_tx) &&
                tm_state_flush(s, err) != 0)
                goto fail;
            apply_removals(s, removed, &nremoved);
            if (pending_gap) {
                pending_gap = false;
                info->gap_lsn = gap_lsn;
                snprintf(info->gap_reason, sizeof info->gap_reason, "%s", gap_reason);
                tm_state_gap(s);
            }
            if (!seen_base) {
                seen_base = true;
                info->base_lsn = b->commit_lsn;
                info->base_time = b->commit_time;
            }
            tx_left = b->n_records;
            in_snapshot = b->snapshot && tx_left > 0;
            tm_state_in_snapshot(s, in_snapshot);
            info->transactions++;
            info->last_lsn = b->commit_lsn;
            info->last_time = b->commit_time;
            if (b->commit_time > info->max_time)
                info->max_time = b->commit_time;
            if (tx_left == 0 && o->after_tx && o->after_tx(o->arg, s, info, err) != 0)
                goto fail;
            continue; /* its records follow */
        } else if (body == TIDEMARK__RECORD__BODY_RELATION) {
            if (tm_state_relation(s, rec->relation, err) != 0)
                goto fail;
        } else if (body == TIDEMARK__RECORD__BODY_TABLE_REMOVED) {
            removal *g = realloc(removed, (nremoved + 1) * sizeof *g);
            if (!g) {
                tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
                goto fail;
            }
            removed = g;
            const Tidemark__TableRemoved *tr = rec->table_removed;
            removed[nremoved++] = (removal){tr->oid, tr->lsn, tr->time};
        } else if (body == TIDEMARK__RECORD__BODY_GAP) {
            /* It matters only if a transaction after it is applied. */
            pending_gap = true;
            gap_lsn = rec->gap->lsn ? rec->gap->lsn : info->last_lsn + 1;
            snprintf(gap_reason, sizeof gap_reason, "%s",
                     rec->gap->reason ? rec->gap->reason : "unknown reason");
        }
        if (tx_left > 0 && --tx_left == 0) {
            if ((in_snapshot || o->after_tx) && tm_state_flush(s, err) != 0)
                goto fail;
            in_snapshot = false;
            tm_state_in_snapshot(s, false);
            if (o->after_tx && o->after_tx(o->arg, s, info, err) != 0)
                goto fail;
        }
    }
    if (rc < 0 || tm_state_flush(s, err) != 0)
        goto fail;
    /* A gap after the last transaction applied (the end of the journal, as
     * capture leaves it when it finds one): the transactions it lost may
     * come before the target, so the state there is not known either. */
    for (size_t i = 0; i < nremoved; i++)
        if (t->by_lsn ? t->lsn > removed[i].lsn : t->time > removed[i].time)
            tm_state_table_removed(s, removed[i].oid);
    if (pending_gap && (!t->by_lsn || t->lsn > gap_lsn)) {
        info->gap_lsn = gap_lsn;
        snprintf(info->gap_reason, sizeof info->gap_reason, "%s", gap_reason);
        tm_state_gap(s);
    }
    if (!seen_base) {
        tm_error_set(err,
                     "journal %s holds no base snapshot yet (capture has not completed its "
                     "first run), so there is nothing to replay",
                     dir);
        goto fail;
    }
    info->reached_end = info->stop_lsn == 0;
    info->seconds = mono() - start;
    info->cpu_seconds = tm_run_clock(true) - cpu0;
    if (progress)
        progress_line(progress, s, info, t, start, true);
    free(removed);
    tm_reader_close(r);
    return 0;
fail:
    free(removed);
    tm_reader_close(r);
    return -1;
}
