/* The tidemark commands: each is described by a tm_command (opts.h) in its
 * layer's cmd_*.c, which main.c lists. A command's run function takes the
 * arguments after "tidemark" (argv[0] is the command's name) and returns
 * the process exit status: 0 success, 1 failure (or what the command's
 * description says 1 means for it, e.g. verify found damage, undo found
 * conflicts), 2 a usage error. */
#ifndef TM_COMMANDS_H
#define TM_COMMANDS_H

#include "store/cli/opts.h"

extern const tm_command tm_cmd_archive;
extern const tm_command tm_cmd_capture;
extern const tm_command tm_cmd_checkpoint;
extern const tm_command tm_cmd_compact;
extern const tm_command tm_cmd_log;
extern const tm_command tm_cmd_prune;
extern const tm_command tm_cmd_replay;
extern const tm_command tm_cmd_status;
extern const tm_command tm_cmd_undo;
extern const tm_command tm_cmd_verify;

#endif
