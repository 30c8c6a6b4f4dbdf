/* tidemark verify --journal DIR [--quiet]: every file of a journal checked
 * and each damaged one named. The walk and the journal's own files
 * (segments, indexes, journal.meta, capture's files) are the journal
 * layer's (store/journal/verify.h); this entry point sits in replay/
 * because it adds the readers' caches, whose formats live here: the
 * checkpoints (engine/checkpoint.h), the key summaries (keys/keysum.h) and
 * the row counts (keys/rowcount.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "replay/engine/checkpoint.h"
#include "replay/keys/keysum.h"
#include "replay/keys/rowcount.h"
#include "store/archive/source.h"
#include "store/cli/commands.h"
#include "store/common/log.h"
#include "store/journal/verify.h"
#include "store/journal/segment.h"

enum { OPT_JOURNAL = 1, OPT_CACHE_DIR, OPT_KEY_FILE, OPT_QUIET };

static const tm_option options[] = {
    TM_OPTION_JOURNAL_READ(OPT_JOURNAL),
    TM_OPTION_CACHE_DIR(OPT_CACHE_DIR),
    TM_OPTION_ARCHIVE_KEY(OPT_KEY_FILE),
    TM_OPTION_QUIET(OPT_QUIET, "print only damaged files and the totals"),
    {0},
};

static const tm_exit_code exits[] = {
    {0, "nothing damaged (unknown and temporary files are listed, not counted as damage)"},
    {1, "a file is damaged, or the journal could not be read (the message says which)"},
    TM_EXIT_USAGE,
    {0, NULL},
};

static int cmd_verify(int argc, char **argv);

const tm_command tm_cmd_verify = {
    .name = "verify",
    .summary = "check every file of a journal",
    .synopsis = "--journal DIR|s3://BUCKET/PREFIX [--quiet]",
    .description =
        "Checks every file of a journal and prints one line per file and a totals line: every "
        "frame of every segment (checksums, decoding, LSN order, no missing segments), the "
        "indexes, journal.meta, the checkpoints, the key summaries and the row counts (caches "
        "that replay and log do without when damaged: such a line says so). Files of a running or "
        "interrupted "
        "capture are listed as known or temporary, any other file as unknown.",
    .options = options,
    .exits = exits,
    .run = cmd_verify,
};

static bool is_checkpoint(const char *name)
{
    return tm_name_numbered(name, ".ckpt", NULL);
}

static bool is_checkpoint_tmp(const char *name)
{
    return tm_name_numbered(name, ".ckpt.tmp", NULL);
}

static bool is_key_summary(const char *name)
{
    return tm_name_numbered(name, ".keys", NULL);
}

static bool is_rowcounts(const char *name)
{
    return !strcmp(name, TM_ROWCOUNT_FILE);
}

/* The readers' files, beside the journal's own. */
static const tm_vkind reader_kinds[] = {
    {.subdir = TM_CKPT_DIR,
     .match = is_checkpoint,
     .what = "a checkpoint",
     .check = tm_ckpt_verify,
     .if_damaged = "damaged; replay will not use it (it starts from an older checkpoint or the "
                   "base snapshot); remove it or run tidemark checkpoint again"},
    {.subdir = TM_CKPT_DIR,
     .match = is_checkpoint_tmp,
     .what = "a checkpoint being written by tidemark checkpoint",
     .temporary = true},
    {.match = is_key_summary,
     .what = "a key summary",
     .check = tm_keysum_verify,
     .if_damaged = "damaged; tidemark log will not use it (it reads the whole segment and "
                   "builds it again); remove it or run tidemark checkpoint again"},
    {.match = is_rowcounts,
     .what = "the row counts of the tables (the rows each TRUNCATE removed)",
     .check = tm_rowcount_verify,
     .if_damaged = "damaged; tidemark log will not use it (it counts again when it needs to); "
                   "remove it or run tidemark checkpoint again"},
};

static int verify(const char *dir, bool quiet);

static int cmd_verify(int argc, char **argv)
{
    const char *dir = NULL, *cache_dir = NULL, *key_file = NULL;
    bool quiet = false;
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_verify, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0) {
        if (id == OPT_JOURNAL)
            dir = p.arg;
        else if (id == OPT_QUIET)
            quiet = true;
        else if (id == OPT_CACHE_DIR)
            cache_dir = p.arg;
        else if (id == OPT_KEY_FILE)
            key_file = p.arg;
    }
    if (id == TM_CLI_EXIT)
        return p.status;
    int rc = tm_archive_source_use(dir, cache_dir, key_file);
    if (rc == 0)
        rc = verify(dir, quiet);
    tm_archive_source_close();
    return rc;
}

/* Verifies journal dir (local, or the archive opened above). */
static int verify(const char *dir, bool quiet)
{
    tm_verify_opts o = {.out = stdout,
                        .quiet = quiet,
                        .kinds = reader_kinds,
                        .nkinds = sizeof reader_kinds / sizeof reader_kinds[0]};
    tm_error err;
    int rc = tm_verify_run(dir, &o, NULL, &err);
    if (rc < 0) {
        tm_log_error("%s", err.msg);
        return 1;
    }
    return rc;
}
