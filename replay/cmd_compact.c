/* tidemark compact: sealed segments recompressed with zstd into larger
 * frames (store/journal/compact.h), then their key summaries built again. */
#include <inttypes.h>
#include <stdio.h>

#include "replay/keys/keyscan.h"
#include "store/cli/cli.h"
#include "store/cli/commands.h"
#include "store/common/log.h"
#include "store/common/tm_time.h"
#include "store/journal/compact.h"
#include "store/journal/frame.h"

enum { OPT_JOURNAL = 1, OPT_LEVEL, OPT_FRAME_KB, OPT_NO_KEYS, OPT_QUIET };

static const tm_option options[] = {
    TM_OPTION_JOURNAL(OPT_JOURNAL),
    {.id = OPT_LEVEL,
     .name = "level",
     .kind = TM_OPT_UINT,
     .value = "N",
     .help = "zstd level (default 3; 1 is faster, 9 smaller)",
     .min = TM_ZSTD_LEVEL_MIN,
     .max = TM_ZSTD_LEVEL_MAX},
    {.id = OPT_FRAME_KB,
     .name = "frame-kb",
     .kind = TM_OPT_UINT,
     .value = "KB",
     .help = "raw bytes of a compacted frame before it is cut, in kB (default 4096)",
     .min = 64,
     .max = 1024 * 1024},
    {.id = OPT_NO_KEYS,
     .name = "no-keys",
     .help = "do not build the key summaries of the segments compacted (tidemark checkpoint "
             "does it later)"},
    TM_OPTION_QUIET(OPT_QUIET, "only warnings and errors (not the summary line)"),
    {0},
};

static const tm_exit_code exits[] = {TM_EXIT_SUCCESS, TM_EXIT_FAILURE, TM_EXIT_USAGE, {0, NULL}};

static int cmd_compact(int argc, char **argv);

const tm_command tm_cmd_compact = {
    .name = "compact",
    .summary = "recompress the journal's sealed segments with zstd (smaller, same records)",
    .synopsis = "--journal DIR [--level N] [--frame-kb KB]",
    .description =
        "Rewrites every sealed segment still in LZ4 (capture's fast codec) with zstd into larger "
        "frames: the same records in the same order, about two thirds of the size. Each copy is "
        "written to a temporary name, fsynced, read back and checked against what went in, and "
        "only then renamed over the segment, followed by its new index; a kill at any point "
        "leaves a readable journal, and running compact again finishes the job. The live "
        "segment and the one holding the durable mark are left alone, so it runs beside "
        "capture (capture --compact has its background maintenance do it). Every reader reads "
        "both codecs. Then the key summaries of the compacted segments are built again.",
    .options = options,
    .exits = exits,
    .run = cmd_compact,
};

static int cmd_compact(int argc, char **argv)
{
    const char *journal = NULL;
    tm_compact_options o = {0};
    bool keys = true;
    tm_cli p;
    tm_cli_begin(&p, &tm_cmd_compact, argc, argv);
    int id;
    while ((id = tm_cli_next(&p)) > 0) {
        if (id == OPT_JOURNAL)
            journal = p.arg;
        else if (id == OPT_LEVEL)
            o.level = (int)p.num;
        else if (id == OPT_FRAME_KB)
            o.frame_target = (uint32_t)(p.num * 1024);
        else if (id == OPT_NO_KEYS)
            keys = false;
    }
    if (id == TM_CLI_EXIT)
        return p.status;
    tm_error err;
    tm_compact_stats st;
    int64_t t0 = tm_time_now();
    int rc = tm_compact_journal(journal, &o, &st, &err);
    double secs = (double)(tm_time_now() - t0) / 1e6;
    if (st.segments > 0 || rc == 0)
        tm_log_info("compacted %" PRIu64 " segments (%" PRIu64 " already were): %" PRIu64
                    " -> %" PRIu64 " bytes, %" PRIu64 " -> %" PRIu64
                    " frames, %.1f MB of records in %.2f s (%.1f MB/s)",
                    st.segments, st.already, st.bytes_before, st.bytes_after, st.frames_before,
                    st.frames_after, (double)st.raw_bytes / 1e6, secs,
                    secs > 0 ? (double)st.raw_bytes / 1e6 / secs : 0.0);
    if (rc != 0) {
        tm_log_error("%s", err.msg);
        return tm_error_exit_status(&err);
    }
    if (keys && st.segments > 0) {
        tm_keyscan_stats ks;
        if (tm_keyscan_build_all(journal, &ks, &err) != 0) {
            tm_log_error("%s", err.msg);
            return 1;
        }
    }
    return 0;
}
