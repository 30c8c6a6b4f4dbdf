/* Entry points of the tidemark subcommands: main.c dispatches to these.
 * Each takes the arguments after the command name (argv[0] is the command)
 * and returns the process exit status: 0 success, 1 a finding (e.g. verify
 * found damage, undo found conflicts), 2 a usage or runtime error. */
#ifndef TM_COMMANDS_H
#define TM_COMMANDS_H

int cmd_capture(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_undo(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);

#endif
