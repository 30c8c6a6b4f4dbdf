/* tidemark prune: retention (replay/engine/prune.h). */
#include <inttypes.h>
#include <stdio.h>

#include "replay/engine/prune.h"
#include "store/archive/held.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/log.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"

enum { OPT_JOURNAL = 1, OPT_BEFORE, OPT_OLDER, OPT_TZ, OPT_LOCAL, OPT_DRY_RUN, OPT_QUIET };

static const tm_option options[] = {
    TM_OPTION_JOURNAL(OPT_JOURNAL),
    TM_OPTION_TEXT(OPT_BEFORE, "before", "TIME",
                   "remove the history before TIME (a timestamp, as for replay --at)"),
    TM_OPTION_TEXT(OPT_OLDER, "older-than", "DURATION",
                   "remove the history older than DURATION (30d, 12h, 2w; s, m, h, d, w)"),
    TM_OPTION_TEXT(OPT_TZ, "tz", "ZONE", "time zone of a TIME without an offset (default UTC)"),
    {.id = OPT_LOCAL,
     .name = "local",
     .help = "an archived journal: remove only the local copies of files the archive holds "
             "(checked), keep the history in the archive; the local copy starts at "
             "DIR/local.horizon (capture --local-retention does this)"},
    {.id = OPT_DRY_RUN, .name = "dry-run", .help = "say what would be removed; remove nothing"},
    TM_OPTION_QUIET(OPT_QUIET, "only warnings and errors"),
    {0},
};

static const tm_exit_code exits[] = {TM_EXIT_SUCCESS, TM_EXIT_FAILURE, TM_EXIT_USAGE, {0, NULL}};

static int cmd_prune(int argc, char **argv);

const tm_command tm_cmd_prune = {
    .name = "prune",
    .summary = "remove the journal's history before a time (retention)",
    .synopsis = "--journal DIR (--before TIME | --older-than DURATION) [--local] [--dry-run]",
    .description =
        "Keeps the newest checkpoint whose transactions all committed by TIME as the journal's "
        "new start (its retention horizon, DIR/horizon) and removes only whole files before it: "
        "segments wholly before it (key summaries and indexes first, the segment last, oldest "
        "first) and older checkpoints. Replay and log at any time from the horizon on give the "
        "same bytes as before; before it they refuse and name it. A kill at any point leaves a "
        "readable journal; running prune again finishes the job. Without a checkpoint at or "
        "before TIME nothing is removed (capture makes checkpoints by itself; or run tidemark "
        "checkpoint). capture --retention DURATION prunes in its background maintenance.",
    .options = options,
    .exits = exits,
    .run = cmd_prune,
};

static int cmd_prune(int argc, char **argv)
{
    const char *journal = NULL, *before = NULL, *older = NULL, *tz = NULL;
    bool dry_run = false, local = false;
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_prune, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0) {
        if (id == OPT_JOURNAL)
            journal = p.arg;
        else if (id == OPT_BEFORE)
            before = p.arg;
        else if (id == OPT_OLDER)
            older = p.arg;
        else if (id == OPT_TZ)
            tz = p.arg;
        else if (id == OPT_DRY_RUN)
            dry_run = true;
        else if (id == OPT_LOCAL)
            local = true;
    }
    if (id == TM_CLI_EXIT)
        return p.status;
    if (!before == !older)
        return tm_usage_error("prune", "give one of --before TIME and --older-than DURATION");
    tm_error err;
    int64_t t, age;
    if (before && tm_time_parse(before, tz, &t, &err) != 0)
        return tm_usage_error("prune", "--before: %s", err.msg);
    if (older) {
        if (tm_duration_parse(older, &age, &err) != 0)
            return tm_usage_error("prune", "--older-than: %s", err.msg);
        t = tm_time_now() - age;
    }
    tm_prune_report rep;
    tm_archive_held held = {0};
    int rc = local ? tm_archive_held_load(&held, journal, &err) : 0;
    if (rc == 0)
        rc = local ? tm_prune_local(journal, t, dry_run, tm_archive_held_has, &held, &rep, &err)
                   : tm_prune(journal, t, dry_run, &rep, &err);
    tm_archive_held_free(&held);
    if (rc != 0) {
        tm_log_error("%s", err.msg);
        return 1;
    }
    char ts[TM_TIME_BUFLEN], hl[TM_LSN_BUFLEN];
    if (!rep.have_horizon) {
        tm_log_info("nothing to prune: no checkpoint at or before %s (capture makes them by "
                    "itself; or run tidemark checkpoint)",
                    tm_time_format(t, ts));
        return 0;
    }
    tm_log_info("%s%s at %s (LSN %s); %s %" PRIu64 " segments, %" PRIu64 " checkpoints, %" PRIu64
                " bytes",
                dry_run ? "would keep the journal from the horizon"
                : local ? "the local copy starts at its local horizon"
                        : "the journal starts at its horizon",
                rep.moved ? "" : " (unchanged)", tm_time_format(rep.horizon.time, ts),
                tm_lsn_format(rep.horizon.lsn, hl), dry_run ? "would remove" : "removed",
                rep.segments, rep.checkpoints, rep.bytes);
    return 0;
}
