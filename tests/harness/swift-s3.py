#!/usr/bin/python3
# A throwaway S3 server on loopback for the archive tests: OpenStack Swift
# (Debian 12 packages) with its s3api middleware, one replica, a tempauth
# user (S3 access key "test:tester", secret "testing"). See
# /work/shared/docs/OBJECT-STORE.md for why it is set up this way.
#
#   swift-s3.py start DIR OWNER_PID   configure in DIR (new or empty), start the four
#                                     servers, wait until they accept, print
#                                     "http://127.0.0.1:PORT"; a watchdog
#                                     destroys everything once OWNER_PID is gone
#   swift-s3.py stop-proxy DIR        stop the S3 endpoint (an outage)
#   swift-s3.py start-proxy DIR       start it again on the same port
#   swift-s3.py destroy DIR           stop every server, remove DIR
#
# Servers call setsid(), so a process group kill misses them: their pids are
# kept in DIR/*.pid and exactly those are stopped.
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

KINDS = ("account", "container", "object")
READY_TIMEOUT = 30.0

COMMON = """[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
bind_timeout = 2
workers = 0
mount_check = false
devices = {dir}/srv
swift_dir = {dir}
user = {user}
log_level = WARNING
"""

BACKEND = COMMON + """
[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
"""

PROXY = COMMON + """
[pipeline:main]
pipeline = catch_errors gatekeeper proxy_logging memcache listing_formats s3api tempauth copy slo dlo versioned_writes proxy_logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:memcache]
use = egg:swift#memcache
set log_level = CRITICAL

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy_logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def read(path):
    with open(path) as f:
        return f.read().strip()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def alive(pid):
    # A zombie still answers kill(pid, 0): read its state instead.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def spawn(d, kind):
    env = dict(os.environ, EVENTLET_NO_GREENDNS="yes")
    log = open(os.path.join(d, kind + ".log"), "ab")
    p = subprocess.Popen(["/usr/bin/swift-%s-server" % kind, os.path.join(d, kind + ".conf")],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                         close_fds=True)
    log.close()
    write(os.path.join(d, kind + ".pid"), str(p.pid))
    return p


def kill(d, kind):
    path = os.path.join(d, kind + ".pid")
    try:
        pid = int(read(path))
    except (OSError, ValueError):
        return
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        end = time.time() + wait
        while alive(pid) and time.time() < end:
            time.sleep(0.02)
        if not alive(pid):
            break
    try:
        os.unlink(path)
    except OSError:
        pass


def wait_ready(d, kinds):
    end = time.time() + READY_TIMEOUT
    procs = {k: int(read(os.path.join(d, k + ".pid"))) for k in kinds}
    ports = {k: int(read(os.path.join(d, k + ".port"))) for k in kinds}
    while time.time() < end:
        dead = [k for k in kinds if not alive(procs[k])]
        if dead:
            raise RuntimeError("swift %s server died (see %s/%s.log)" % (dead[0], d, dead[0]))
        if all(accepts(ports[k]) for k in kinds):
            return
        time.sleep(0.05)
    raise RuntimeError("swift not ready after %.0f s (logs in %s)" % (READY_TIMEOUT, d))


def destroy(d):
    for kind in ("proxy",) + KINDS:
        kill(d, kind)
    shutil.rmtree(d, ignore_errors=True)


def owner_alive(pid, start):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19] == start
    except (OSError, IndexError):
        return False


def watchdog(d, owner):
    # Forked twice into its own session: nobody's child, out of reach of a
    # kill of the test's process group, gone with the server dir.
    try:
        with open("/proc/%d/stat" % owner) as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        start = ""
    pid = os.fork()
    if pid > 0:
        os.waitpid(pid, 0)
        return
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    while os.path.isdir(d) and owner_alive(owner, start):
        time.sleep(0.2)
    if os.path.isdir(d):
        destroy(d)
    os._exit(0)


def start(d, owner):
    from swift.common.ring import RingBuilder

    os.makedirs(os.path.join(d, "srv", "d1"), exist_ok=True)
    user = __import__("pwd").getpwuid(os.getuid()).pw_name
    for kind in ("proxy",) + KINDS:
        port = free_port()
        write(os.path.join(d, kind + ".port"), str(port))
        tmpl = PROXY if kind == "proxy" else BACKEND
        write(os.path.join(d, kind + ".conf"), tmpl.format(port=port, dir=d, user=user, kind=kind))
        if kind != "proxy":
            b = RingBuilder(4, 1, 1)
            b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": port,
                       "device": "d1", "weight": 100})
            b.rebalance()
            b.get_ring().save(os.path.join(d, kind + ".ring.gz"))
    watchdog(d, owner)
    # Backends first: early refused proxy-to-backend connects count toward
    # the proxy's error limit and could mark the only node down.
    for kind in KINDS:
        spawn(d, kind)
    wait_ready(d, KINDS)
    spawn(d, "proxy")
    wait_ready(d, ("proxy",))
    print("http://127.0.0.1:%s" % read(os.path.join(d, "proxy.port")))


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__ or "usage: swift-s3.py start|stop-proxy|start-proxy|destroy DIR\n")
        return 2
    cmd, d = argv[1], os.path.abspath(argv[2])
    try:
        if cmd == "start" and len(argv) == 4:
            start(d, int(argv[3]))
        elif cmd == "stop-proxy":
            kill(d, "proxy")
        elif cmd == "start-proxy":
            spawn(d, "proxy")
            wait_ready(d, ("proxy",))
        elif cmd == "destroy":
            destroy(d)
        else:
            sys.stderr.write("swift-s3.py: unknown command or arguments\n")
            return 2
    except Exception as e:  # one line for the C harness's error message
        sys.stderr.write("swift-s3.py %s: %s\n" % (cmd, e))
        if cmd == "start":
            destroy(d)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
