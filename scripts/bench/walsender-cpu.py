#!/usr/bin/env python3
"""Measures the CPU time of the walsender(s) serving one consumer run.

Usage: walsender-cpu.py POSTMASTER_PID OUTFILE

Creates OUTFILE.ready once it is sampling, then runs until SIGTERM. Meanwhile it finds the postmaster's children whose
process title starts with "postgres: walsender" and samples their
utime+stime from /proc/PID/stat every 10 ms; a walsender's last sample
before it exits is its CPU time (a walsender only waits on its client at
the end, so the last 10 ms add nothing measurable). On SIGTERM it waits up
to 5 s for the walsenders it saw to exit, then writes KEY=VALUE lines:

  walsender_cpu_s      sum over the walsenders seen
  walsenders           how many walsender processes were seen
  reaped_children_cpu_s  growth of the postmaster's cutime+cstime over the
                       run: every child that exited meanwhile (a cross-check;
                       it also counts other backends that ended)
"""
import os
import signal
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        data = f.read()
    # comm may contain spaces and parentheses: split after the last ')'
    return data[data.rindex(b")") + 2:].split()


def cpu_ticks(pid):
    f = stat_fields(pid)
    return int(f[11]) + int(f[12])  # utime, stime (fields 14, 15)


def children_ticks(pid):
    f = stat_fields(pid)
    return int(f[13]) + int(f[14])  # cutime, cstime (fields 16, 17)


def children(ppid):
    pids = set()
    try:
        for task in os.listdir("/proc/%d/task" % ppid):
            with open("/proc/%d/task/%s/children" % (ppid, task)) as f:
                pids.update(int(p) for p in f.read().split())
        return pids
    except OSError:
        pass
    for name in os.listdir("/proc"):  # no children file: scan everything
        if name.isdigit():
            try:
                if int(stat_fields(int(name))[1]) == ppid:
                    pids.add(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return pids


def title(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


def main():
    postmaster, outfile = int(sys.argv[1]), sys.argv[2]
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(time.monotonic()))
    start_children = children_ticks(postmaster)
    with open(outfile + ".ready", "w"):
        pass  # the caller starts the consumer only now
    last = {}      # walsender pid -> last sampled ticks
    alive = set()
    not_walsender = set()
    tick = 0
    while True:
        if tick % 5 == 0:  # look for new walsenders every 50 ms
            for pid in children(postmaster) - not_walsender - set(last):
                t = title(pid)
                if t.startswith(b"postgres: walsender"):
                    last[pid] = 0
                    alive.add(pid)
                elif t.startswith(b"postgres: "):
                    # titled as something else; untitled children (just
                    # forked, still authenticating) are looked at again
                    not_walsender.add(pid)
        for pid in list(alive):
            try:
                last[pid] = cpu_ticks(pid)
            except OSError:
                alive.discard(pid)
        if stopping and (not alive or time.monotonic() - stopping[0] > 5):
            break
        tick += 1
        time.sleep(0.01)
    end_children = children_ticks(postmaster)
    with open(outfile, "w") as f:
        f.write("walsender_cpu_s=%.2f\n" % (sum(last.values()) / HZ))
        f.write("walsenders=%d\n" % len(last))
        f.write("walsenders_still_running=%d\n" % len(alive))
        f.write("reaped_children_cpu_s=%.2f\n" % ((end_children - start_children) / HZ))


if __name__ == "__main__":
    main()
