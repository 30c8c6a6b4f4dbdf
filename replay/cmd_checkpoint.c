/* tidemark checkpoint: reads the journal once with the state engine (all
 * tables) and writes a checkpoint (checkpoint.h) every N changes applied
 * and at the end. It resumes from the newest checkpoint, so running it
 * again (say nightly, like a backup) only reads what is new. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/engine/checkpoint.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "replay/keys/keyscan.h"
#include "store/common/fsutil.h"
#include "store/journal/journal.h"
#include "store/common/lsn.h"
#include "replay/engine/runner.h"

#define DEFAULT_EVERY 250000

typedef struct ck_run {
    const char *journal;
    uint64_t every, since; /* changes applied between checkpoints; applied at the last one */
    uint64_t written, kept, last_lsn;
    bool gap_noted, verbose, started;
} ck_run;

static void usage(FILE *f)
{
    fprintf(f, "Usage: tidemark checkpoint --journal DIR [--every N] [--verbose]\n\n"
               "Writes checkpoints (DIR/checkpoints/LSN.ckpt: the state of every table at a\n"
               "commit) so that replay of a late point starts from the nearest one instead of\n"
               "the base snapshot. Resumes from the newest checkpoint; existing ones are kept.\n"
               "Also builds the per-segment key summaries (DIR/*.keys) that make by-key\n"
               "`tidemark log` queries read only the frames holding their keys. Run it from\n"
               "cron or a systemd timer, like a backup.\n\n"
               "  -j, --journal DIR   the journal\n"
               "  -n, --every N       a checkpoint every N changes applied (default 250000)\n"
               "                      and one at the end\n"
               "  -v, --verbose       a line per checkpoint written\n"
               "  -h, --help          show this help\n");
}

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
            fprintf(stderr,
                    "tidemark checkpoint: the journal has a gap (%s) not yet covered by a base "
                    "snapshot; no checkpoints until one follows\n",
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
        if (c->verbose) {
            char l[TM_LSN_BUFLEN];
            fprintf(stderr, "tidemark checkpoint: wrote the checkpoint at LSN %s\n",
                    tm_lsn_format(info->last_lsn, l));
        }
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

int cmd_checkpoint(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"journal", required_argument, NULL, 'j'},
        {"every", required_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ck_run c = {.every = DEFAULT_EVERY};
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":j:n:vh", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'j':
            c.journal = optarg;
            break;
        case 'n':
            errno = 0;
            c.every = strtoull(optarg, &end, 10);
            if (errno || *end || !*optarg || optarg[0] == '-' || c.every == 0)
                return tm_usage_error("checkpoint", "--every needs a positive count, not '%s'",
                                      optarg);
            break;
        case 'v':
            c.verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return tm_usage_bad_option("checkpoint", opt, argv);
        }
    }
    if (optind < argc)
        return tm_usage_error("checkpoint", "unexpected argument '%s'", argv[optind]);
    if (!c.journal)
        return tm_usage_error("checkpoint", "--journal DIR is required");
    tm_error err;
    tm_meta meta;
    if (tm_meta_read(c.journal, &meta, &err) != 0) {
        if (tm_error_is(&err, TM_ERR_NOT_FOUND))
            fprintf(stderr, "tidemark checkpoint: %s is not a tidemark journal (no journal.meta)\n",
                    c.journal);
        else
            fprintf(stderr, "tidemark checkpoint: %s\n", err.msg);
        return 2;
    }
    char cdir[PATH_MAX];
    if (snprintf(cdir, sizeof cdir, "%s/%s", c.journal, TM_CKPT_DIR) >= (int)sizeof cdir) {
        fprintf(stderr, "tidemark checkpoint: journal path %s is too long\n", c.journal);
        return 2;
    }
    if (tm_mkdir_p(cdir, &err) != 0 || tm_fsync_dir(c.journal, &err) != 0) {
        fprintf(stderr, "tidemark checkpoint: %s\n", err.msg);
        return 2;
    }
    tm_state *s = tm_state_new(any_table, NULL, &err);
    if (!s) {
        fprintf(stderr, "tidemark checkpoint: %s\n", err.msg);
        return 2;
    }
    tm_target all = {.by_lsn = true, .lsn = UINT64_MAX};
    tm_runner_opts ro = {.use_checkpoints = true, .after_tx = after_tx, .arg = &c, .warn = stderr};
    tm_run_info info;
    int rc = 2;
    if (tm_run_to_opts(c.journal, s, &all, &ro, &info, &err) != 0)
        goto fail;
    if (info.last_lsn != c.last_lsn && info.last_lsn != info.ckpt_lsn &&
        checkpoint_here(&c, s, &info, &err) != 0)
        goto fail;
    char l[TM_LSN_BUFLEN], r[TM_LSN_BUFLEN + 40] = "";
    if (info.ckpt_lsn) {
        snprintf(r, sizeof r, ", resumed from the checkpoint at LSN ");
        tm_lsn_format(info.ckpt_lsn, r + strlen(r));
    }
    fprintf(stderr,
            "tidemark checkpoint: %" PRIu64 " checkpoints written, %" PRIu64
            " changes applied in %.2fs%s; the journal ends at LSN %s\n",
            c.written, tm_state_applied(s) - info.ckpt_rows, info.seconds, r,
            tm_lsn_format(info.last_lsn, l));
    /* The log's per-segment key summaries are derived data of the same
     * kind: build what is missing while we are at it. */
    tm_keyscan_stats ks;
    if (tm_keyscan_build_all(c.journal, &ks, &err) != 0)
        goto fail;
    if (c.verbose)
        fprintf(stderr,
                "tidemark checkpoint: key summaries: %" PRIu64 " frames indexed, %" PRIu64
                " summaries saved\n",
                ks.indexed, ks.saved);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "tidemark checkpoint: %s\n", err.msg);
out:
    tm_state_free(s);
    return rc;
}
