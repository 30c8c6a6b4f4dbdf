/* Small OS helpers shared by the test support code and usable by tests. */
#ifndef TM_SYS_H
#define TM_SYS_H

#include <stddef.h>
#include <sys/types.h>

/* Milliseconds on the monotonic clock. */
long long tm_now_ms(void);

/* 1 if pid names a live process (a zombie counts as dead), else 0. */
int tm_pid_alive(pid_t pid);

/* The process start time (clock ticks since boot, /proc/PID/stat field 22),
 * which tells a process from a later one that reuses its pid; 0 if unknown. */
unsigned long long tm_pid_starttime(pid_t pid);

/* fork() for the test support code: the child starts with every signal at
 * its default action. Without this a child inherits the test's handlers -
 * Check's SIGTERM handler kills the test's whole process group, so a
 * SIGTERM that reaches a child before its exec (or a child that never
 * execs) took the test down with "Received signal 15". Signals are blocked
 * across the fork so that no handler runs in the child before the reset.
 * Flushes stdio first. Returns as fork() does. */
pid_t tm_fork_child(void);

/* 1 once pid has a handler installed for sig (/proc/PID/status SigCgt),
 * 0 if not (yet), -1 if it is gone. */
int tm_pid_catches(pid_t pid, int sig);

/* Removes path and everything below it without following symlinks.
 * A path that does not exist is fine. Returns 0, or -1 with errno set. */
int tm_rmtree(const char *path);

/* Marks every descriptor >= lowfd close-on-exec. */
void tm_cloexec_from(int lowfd);

/* Reads a whole small file into buf (NUL-terminated, truncated to len-1).
 * Returns the length, or -1 with errno set. */
long tm_read_small_file(const char *path, char *buf, size_t len);

#endif
