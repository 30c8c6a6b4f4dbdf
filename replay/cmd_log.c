/* tidemark log: who changed what, and when (forensics). See log_opts.c for
 * the interface and log_run.c for the work. */
#include <stdio.h>

#include "store/cli/commands.h"
#include "replay/log/log_opts.h"
#include "replay/log/log_run.h"

int cmd_log(int argc, char **argv)
{
    log_opts o;
    tm_error err;
    int rc = log_opts_parse(argc, argv, &o, &err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "tidemark log: %s\n(see tidemark log --help)\n", err.msg);
        log_opts_free(&o);
        return rc < 0 ? 2 : 0;
    }
    log_run_stats st;
    rc = log_run(&o, 1, &st, &err);
    if (rc != 0)
        fprintf(stderr, "tidemark log: %s\n", err.msg);
    if (o.stats)
        fprintf(stderr,
                "tidemark log: frames: %llu in the journal, %llu read (%llu for schemas), %llu "
                "skipped by key summaries; %llu frames indexed, %llu summaries saved; %llu "
                "changes in %llu transactions shown\n",
                (unsigned long long)st.frames_total,
                (unsigned long long)(st.frames_decoded + st.schema_frames),
                (unsigned long long)st.schema_frames, (unsigned long long)st.frames_skipped,
                (unsigned long long)st.indexed, (unsigned long long)st.summaries_saved,
                (unsigned long long)st.changes_shown, (unsigned long long)st.transactions_shown);
    log_opts_free(&o);
    return rc != 0 ? 2 : 0;
}
