/* tidemark checkpoint: reads the journal once with the state engine (all
 * tables) and writes a checkpoint (checkpoint.h) every N changes applied
 * and at the end. It resumes from the newest checkpoint, so running it
 * again (say nightly, like a backup) only reads what is new. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/engine/checkpoint.h"
#include "replay/engine/prune.h"
#include "replay/engine/runner.h"
#include "replay/keys/keyscan.h"
#include "replay/keys/rowcount.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/fsutil.h"
#include "store/archive/held.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"
#include "store/journal/compact.h"
#include "store/journal/journal.h"

#define DEFAULT_EVERY 250000

typedef struct ck_run {
    const char *journal;
    uint64_t every, since; /* changes applied between checkpoints; applied at the last one */
    uint64_t written, kept, last_lsn;
    int64_t retention;       /* us; 0: no pruning */
    int64_t local_retention; /* us; 0: none (prune --local) */
    bool compact;            /* compact sealed segments first */
    bool gap_noted, started;
} ck_run;

enum {
    OPT_JOURNAL = 1,
    OPT_EVERY,
    OPT_RETENTION,
    OPT_LOCAL_RETENTION,
    OPT_COMPACT,
    OPT_QUIET,
    OPT_VERBOSE
};

static const tm_option options[] = {
    TM_OPTION_JOURNAL(OPT_JOURNAL),
    {.id = OPT_EVERY,
     .name = "every",
     .letter = 'n',
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "a checkpoint every N changes applied (default 250000) and one at the end",
     .min = 1,
     .max = UINT64_MAX,
     .expect = "needs a positive count"},
    TM_OPTION_TEXT(OPT_RETENTION, "retention", "DURATION",
                   "then prune the history older than DURATION (as tidemark prune --older-than; "
                   "capture --retention passes it on)"),
    TM_OPTION_TEXT(OPT_LOCAL_RETENTION, "local-retention", "DURATION",
                   "then remove the local copies of archived files older than DURATION (as "
                   "tidemark prune --local --older-than; capture --local-retention passes it on)"),
    {.id = OPT_COMPACT,
     .name = "compact",
     .help = "first recompress the sealed segments with zstd (as tidemark compact; capture "
             "--compact passes it on)"},
    TM_OPTION_QUIET(OPT_QUIET, "only warnings and errors (not the summary line)"),
    TM_OPTION_VERBOSE(OPT_VERBOSE, "a line per checkpoint written"),
    {0},
};

static const tm_exit_code exits[] = {TM_EXIT_SUCCESS, TM_EXIT_FAILURE, TM_EXIT_USAGE, {0, NULL}};

static int cmd_checkpoint(int argc, char **argv);

const tm_command tm_cmd_checkpoint = {
    .name = "checkpoint",
    .summary = "materialise replay state so late points replay fast",
    .synopsis = "--journal DIR [--every N] [--quiet | --verbose]",
    .description =
        "Writes checkpoints (DIR/checkpoints/LSN.ckpt: the state of every table at a commit) so "
        "that replay of a late point starts from the nearest one instead of the base snapshot. "
        "Resumes from the newest checkpoint; existing ones are kept. Also builds the per-segment "
        "key summaries (DIR/*.keys) that make by-key `tidemark log` queries read only the frames "
        "holding their keys, and the row counts of TRUNCATEs. Reads only what is durable (up to "
        "the journal's durable mark). Capture runs it by itself in the background "
        "(capture --checkpoint-every); run it by hand for a journal no capture writes to.",
    .options = options,
    .exits = exits,
    .run = cmd_checkpoint,
};

static bool any_table(void *arg, const tm_version *v)
{
    (void)arg;
    (void)v;
    return true;
}

static int checkpoint_here(ck_run *c, const tm_state *s, const tm_run_info *info, tm_error *err)
{
    if (tm_ckpt_state_has_gap(s)) {
        /* A checkpoint must not hide a gap: none until a snapshot closes it. */
        if (!c->gap_noted)
            tm_log_info("the journal has a gap (%s) not yet covered by a base snapshot; no "
                        "checkpoints until one follows",
                        info->gap_reason);
        c->gap_noted = true;
        return 0;
    }
    bool written;
    if (tm_ckpt_write(c->journal, s, info->last_lsn, info->last_time, info->max_time, &written,
                      err) != 0)
        return -1;
    c->since = tm_state_applied(s);
    c->last_lsn = info->last_lsn;
    if (written) {
        c->written++;
        char l[TM_LSN_BUFLEN];
        tm_log_debug("wrote the checkpoint at LSN %s", tm_lsn_format(info->last_lsn, l));
    } else {
        c->kept++;
    }
    return 0;
}

static int after_tx(void *arg, tm_state *s, const tm_run_info *info, tm_error *err)
{
    ck_run *c = arg;
    if (!c->started) { /* count from the checkpoint resumed from, not its rows */
        c->started = true;
        c->since = info->ckpt_rows;
    }
    /* Not the base snapshot alone: the journal holds that already. */
    if (tm_state_applied(s) - c->since < c->every || (info->transactions <= 1 && !info->ckpt_lsn))
        return 0;
    return checkpoint_here(c, s, info, err);
}

/* The local copies of archived files older than --local-retention go. */
static int local_retention(const ck_run *c, tm_error *err)
{
    tm_archive_held held;
    tm_prune_report pr;
    int rc = tm_archive_held_load(&held, c->journal, err);
    if (rc == 0)
        rc = tm_prune_local(c->journal, tm_time_now() - c->local_retention, false,
                            tm_archive_held_has, &held, &pr, err);
    tm_archive_held_free(&held);
    if (rc == 0 && (pr.segments || pr.checkpoints))
        tm_log_info("local copies removed (the archive holds them): %" PRIu64 " segments, %" PRIu64
                    " checkpoints, %" PRIu64 " bytes",
                    pr.segments, pr.checkpoints, pr.bytes);
    return rc;
}

/* Reads the command line into c: 0, or -1 to stop with *status (after
 * --help, or a usage error said). */
static int parse_args(int argc, char **argv, ck_run *c, int *status)
{
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_checkpoint, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0) {
        if (id == OPT_JOURNAL)
            c->journal = p.arg;
        else if (id == OPT_EVERY)
            c->every = p.num;
        else if (id == OPT_COMPACT)
            c->compact = true;
        else if (id == OPT_RETENTION) {
            tm_error err;
            if (tm_duration_parse(p.arg, &c->retention, &err) != 0) {
                *status = tm_usage_error("checkpoint", "--retention: %s", err.msg);
                return -1;
            }
        } else if (id == OPT_LOCAL_RETENTION) {
            tm_error err;
            if (tm_duration_parse(p.arg, &c->local_retention, &err) != 0) {
                *status = tm_usage_error("checkpoint", "--local-retention: %s", err.msg);
                return -1;
            }
        }
    }
    *status = p.status;
    return id == TM_CLI_EXIT ? -1 : 0;
}

/* The journal's checkpoint folder, made if missing. */
static int prepare(const ck_run *c)
{
    tm_error err;
    tm_meta meta;
    if (tm_meta_read(c->journal, &meta, &err) != 0) {
        if (tm_error_is(&err, TM_ERR_NOT_FOUND))
            tm_log_error("%s is not a tidemark journal (no journal.meta)", c->journal);
        else
            tm_log_error("%s", err.msg);
        return -1;
    }
    char cdir[PATH_MAX];
    if (snprintf(cdir, sizeof cdir, "%s/%s", c->journal, TM_CKPT_DIR) >= (int)sizeof cdir) {
        tm_log_error("journal path %s is too long", c->journal);
        return -1;
    }
    if (tm_mkdir_p(cdir, &err) != 0 || tm_fsync_dir(c->journal, &err) != 0) {
        tm_log_error("%s", err.msg);
        return -1;
    }
    return 0;
}

static void summary_line(const ck_run *c, const tm_state *s, const tm_run_info *info)
{
    char l[TM_LSN_BUFLEN], r[TM_LSN_BUFLEN + 40] = "";
    if (info->ckpt_lsn) {
        snprintf(r, sizeof r, ", resumed from the checkpoint at LSN ");
        tm_lsn_format(info->ckpt_lsn, r + strlen(r));
    }
    tm_log_info("%" PRIu64 " checkpoints written, %" PRIu64
                " changes applied in %.2fs%s; the journal ends at LSN %s",
                c->written, tm_state_applied(s) - info->ckpt_rows, info->seconds, r,
                tm_lsn_format(info->last_lsn, l));
}

static int cmd_checkpoint(int argc, char **argv)
{
    ck_run c = {.every = DEFAULT_EVERY};
    int rc;
    if (parse_args(argc, argv, &c, &rc) != 0)
        return rc;
    if (prepare(&c) != 0)
        return 1;
    tm_error err;
    /* Compaction first, so that the key summaries built below describe the
     * compacted frames. Its failure (a damaged segment, a full disk) does
     * not keep the checkpoint from being written, but fails the run. */
    bool compact_failed = false;
    tm_compact_stats cst = {0};
    if (c.compact && tm_compact_journal(c.journal, NULL, &cst, &err) != 0 &&
        !tm_error_is(&err, TM_ERR_CONFLICT)) {
        tm_log_warning("compaction: %s", err.msg);
        compact_failed = true;
    }
    if (c.compact && cst.segments)
        tm_log_info("compacted %" PRIu64 " segments: %" PRIu64 " -> %" PRIu64 " bytes",
                    cst.segments, cst.bytes_before, cst.bytes_after);
    tm_state *s = tm_state_new(any_table, NULL, &err);
    if (!s) {
        tm_log_error("%s", err.msg);
        return 1;
    }
    /* Only what is durable: capture cuts whatever lies above its mark at
     * the next start, so a checkpoint past it could hold transactions the
     * journal will not (the capture running beside us writes there). */
    tm_target all = {.by_lsn = true, .lsn = UINT64_MAX};
    tm_mark mark;
    int hm = tm_mark_read(c.journal, &mark, &err);
    if (hm < 0)
        goto fail;
    if (hm == 1)
        all.lsn = mark.lsn;
    tm_runner_opts ro = {.use_checkpoints = true, .after_tx = after_tx, .arg = &c};
    tm_run_info info;
    rc = 1;
    if (tm_run_to_opts(c.journal, s, &all, &ro, &info, &err) != 0)
        goto fail;
    if (info.last_lsn != c.last_lsn && info.last_lsn != info.ckpt_lsn &&
        checkpoint_here(&c, s, &info, &err) != 0)
        goto fail;
    summary_line(&c, s, &info);
    /* The log's per-segment key summaries are derived data of the same
     * kind: build what is missing while we are at it. */
    tm_keyscan_stats ks;
    if (tm_keyscan_build_all(c.journal, &ks, &err) != 0)
        goto fail;
    tm_log_debug("key summaries: %" PRIu64 " frames indexed, %" PRIu64 " summaries saved",
                 ks.indexed, ks.saved);
    /* And the row counts that say what each TRUNCATE removed. */
    tm_rowcount *counts = tm_rowcount_open(c.journal, &err);
    if (!counts || tm_rowcount_update(counts, &err) != 0) {
        tm_rowcount_free(counts);
        goto fail;
    }
    tm_rowcount_free(counts);
    /* Retention last: the checkpoint just written may be the new horizon. */
    tm_prune_report pr;
    if (c.retention && tm_prune(c.journal, tm_time_now() - c.retention, false, &pr, &err) != 0)
        goto fail;
    if (c.retention && pr.moved)
        tm_log_info("pruned: %" PRIu64 " segments, %" PRIu64 " checkpoints, %" PRIu64 " bytes",
                    pr.segments, pr.checkpoints, pr.bytes);
    if (c.local_retention && local_retention(&c, &err) != 0)
        goto fail;
    rc = compact_failed ? 1 : 0;
    goto out;
fail:
    tm_log_error("%s", err.msg);
out:
    tm_state_free(s);
    return rc;
}
