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

/* Removes path and everything below it without following symlinks.
 * A path that does not exist is fine. Returns 0, or -1 with errno set. */
int tm_rmtree(const char *path);

/* Marks every descriptor >= lowfd close-on-exec. */
void tm_cloexec_from(int lowfd);

/* Reads a whole small file into buf (NUL-terminated, truncated to len-1).
 * Returns the length, or -1 with errno set. */
long tm_read_small_file(const char *path, char *buf, size_t len);

#endif
