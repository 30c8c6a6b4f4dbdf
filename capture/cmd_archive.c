/* tidemark archive: copies a journal's finished files to object storage,
 * pass after pass (store/archive/push.h), until stopped; capture --archive
 * runs it as a child. --check reads the archive back instead. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/archive/push.h"
#include "store/archive/s3.h"
#include "store/crypt/keyring.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/log.h"

#define RETRY_MAX_S 60

enum {
    OPT_JOURNAL = 1,
    OPT_TO,
    OPT_INTERVAL,
    OPT_ONCE,
    OPT_CHECK,
    OPT_KEY_FILE,
    OPT_QUIET,
    OPT_VERBOSE
};

static const tm_option options[] = {
    TM_OPTION_JOURNAL(OPT_JOURNAL),
    {.id = OPT_TO,
     .name = "to",
     .kind = TM_OPT_TEXT,
     .value = "s3://BUCKET/PREFIX",
     .help = "the archive (required); endpoint, region and credentials come from the "
             "environment or a credentials file (README: Archive)",
     .flags = TM_OPT_REQUIRED},
    {.id = OPT_INTERVAL,
     .name = "interval",
     .kind = TM_OPT_UINT,
     .value = "S",
     .help = "seconds between passes (default 10); after a failed pass the pause doubles up to "
             "60 s",
     .min = 1,
     .max = 86400},
    {.id = OPT_ONCE, .name = "once", .help = "one pass, then exit (1 when it failed)"},
    {.id = OPT_CHECK,
     .name = "check",
     .help = "read every archived file back and check its size and SHA-256 against the "
             "manifest, and with --encrypt-key-file decrypt and authenticate every encrypted "
             "one (exit 1 when one is damaged, missing or does not open)"},
    {.id = OPT_KEY_FILE,
     .name = "encrypt-key-file",
     .kind = TM_OPT_TEXT,
     .value = "FILE",
     .help = "encrypt every uploaded object with AES-256-GCM under the first key of FILE (lines "
             "\"KEYID HEX64\"; older keys below it stay readable by id; chmod 600; README: "
             "Encryption)"},
    TM_OPTION_QUIET(OPT_QUIET, "only warnings and errors"),
    TM_OPTION_VERBOSE(OPT_VERBOSE, "a line per pass"),
    {0},
};

static const tm_exit_code exits[] = {
    TM_EXIT_SUCCESS,
    {1, "failure: a pass with --once failed, or --check found a damaged, missing or "
        "undecryptable object"},
    TM_EXIT_USAGE,
    {0, NULL}};

static int cmd_archive(int argc, char **argv);

const tm_command tm_cmd_archive = {
    .name = "archive",
    .summary = "copy the journal to object storage (S3)",
    .synopsis = "--journal DIR --to s3://BUCKET/PREFIX [--encrypt-key-file FILE] [--interval S] "
                "[--once | --check]",
    .description =
        "Copies the journal's finished files (sealed segments, their indexes and key summaries, "
        "row counts, checkpoints, journal.meta) to s3://BUCKET/PREFIX, each checked after upload "
        "(size and SHA-256), then the manifest PREFIX/MANIFEST naming every archived file. "
        "Repeats every --interval seconds until SIGINT or SIGTERM; a failed pass (the store is "
        "down, say) is retried, and the lag shows in DIR/archive.state and `tidemark status`. "
        "capture --archive runs it by itself. --check reads the archive back instead. With "
        "--encrypt-key-file every object goes up encrypted with AES-256-GCM, its key id in its "
        "metadata and in the manifest.",
    .options = options,
    .exits = exits,
    .run = cmd_archive,
};

static volatile sig_atomic_t stop;
static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static void pause_s(unsigned s)
{
    for (unsigned i = 0; i < s * 10 && !stop; i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
}

static int open_archive(const char *url, char *prefix, size_t plen, tm_s3 **s3, int *status)
{
    char bucket[256];
    tm_s3_config cfg;
    tm_error err = {0};
    if (tm_s3_parse_url(url, bucket, sizeof bucket, prefix, plen, &err) < 0 ||
        tm_s3_config_from_env(&cfg, bucket, &err) < 0) {
        *status = tm_usage_error("archive", "--to: %s", err.msg);
        return -1;
    }
    if (tm_s3_open(&cfg, s3, &err) < 0) {
        tm_log_error("%s", err.msg);
        *status = 1;
        return -1;
    }
    return 0;
}

static int cmd_archive(int argc, char **argv)
{
    const char *dir = NULL, *url = NULL, *key_file = NULL;
    unsigned interval = 10;
    bool once = false, check = false;
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_archive, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0) {
        if (id == OPT_JOURNAL)
            dir = p.arg;
        else if (id == OPT_TO)
            url = p.arg;
        else if (id == OPT_INTERVAL)
            interval = (unsigned)p.num;
        else if (id == OPT_ONCE)
            once = true;
        else if (id == OPT_CHECK)
            check = true;
        else if (id == OPT_KEY_FILE)
            key_file = p.arg;
    }
    if (id == TM_CLI_EXIT)
        return p.status;
    char prefix[1024];
    tm_s3 *s3 = NULL;
    int status = 0;
    tm_error err = {0};
    tm_keyring *kr = NULL;
    if (key_file && tm_keyring_load(key_file, &kr, &err) < 0)
        return tm_usage_error("archive", "--encrypt-key-file: %s", err.msg);
    if (open_archive(url, prefix, sizeof prefix, &s3, &status) < 0) {
        tm_keyring_free(kr);
        return status;
    }
    if (check) {
        long bad = tm_archive_check(s3, prefix, kr, stdout, &err);
        tm_s3_close(s3);
        tm_keyring_free(kr);
        if (bad < 0) {
            tm_log_error("%s", err.msg);
            return 1;
        }
        if (bad > 0)
            tm_log_error("%ld archived file%s damaged, missing or unreadable in %s", bad,
                         bad == 1 ? " is" : "s are", url);
        return bad > 0;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    unsigned wait = interval;
    bool failing = false;
    int rc = 0;
    while (!stop) {
        tm_archive_pass_result res;
        rc = tm_archive_pass(s3, dir, url, kr, &res, &err);
        if (rc == 0) {
            if (failing)
                tm_log_info("the archive %s works again", url);
            else if (res.uploaded_files)
                tm_log_debug("archived %" PRIu64 " files (%" PRIu64 " bytes); %" PRIu64
                             " bytes not yet archived",
                             res.uploaded_files, res.uploaded_bytes, res.pending_bytes);
            failing = false;
            wait = interval;
        } else {
            /* Said once per outage, then quietly retried. */
            if (!failing || once)
                tm_log_warning("archiving %s to %s failed: %s; %" PRIu64 " files (%" PRIu64
                               " bytes) wait%s",
                               dir, url, err.msg, res.pending_files, res.pending_bytes,
                               once ? "" : "; trying again");
            failing = true;
            wait = wait * 2 < RETRY_MAX_S ? wait * 2 : RETRY_MAX_S;
        }
        if (once)
            break;
        pause_s(wait);
    }
    tm_s3_close(s3);
    tm_keyring_free(kr);
    return rc == 0 ? 0 : 1;
}
