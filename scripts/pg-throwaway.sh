#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the demo and the benchmarks, made
# the way the test harness makes one: data and unix socket in DIR, a free
# port on 127.0.0.1 only, wal_level=logical with replication slots, run as
# the postgres OS user when we are root.
#
#   scripts/pg-throwaway.sh start DIR   create (if needed) and start; DIR must
#                                       be new, empty, or an earlier one
#   scripts/pg-throwaway.sh env DIR     print PGHOST/PGPORT/PGUSER/PGDATABASE
#                                       exports: eval "$(scripts/pg-throwaway.sh env DIR)"
#   scripts/pg-throwaway.sh stop DIR    stop the server and delete DIR
#   scripts/pg-throwaway.sh status DIR  exit 0 if it is running
#
# TM_PG_CONF: extra postgresql.conf lines for start. TM_PG_MAJOR: the server
# major (default 15, Debian's; 14, 16, 17, 18 come from scripts/pg-builds.sh,
# which is run when that build is not installed yet). TM_PG_BINDIR: where the
# server binaries are (default: found).
set -euo pipefail

MARKER=.tidemark-throwaway
prog=$(basename "$0")

die() {
    echo "$prog: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2
    exit 2
}

major=${TM_PG_MAJOR:-15}

find_bindir() {
    local c
    if [ "$major" != 15 ] && [ -z "${TM_PG_BINDIR:-}" ]; then
        local builds
        builds=$(dirname "$0")/pg-builds.sh
        "$builds" --bindir "$major" 2>/dev/null && return
        "$builds" "$major" >&2 || die "no PostgreSQL $major build"
        "$builds" --bindir "$major"
        return
    fi
    for c in "${TM_PG_BINDIR:-}" /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
        if [ -n "$c" ] && [ -x "$c/postgres" ] && "$c/postgres" --version | grep -q "(PostgreSQL) $major\."; then
            echo "$c"
            return
        fi
    done
    die "no PostgreSQL $major server found; run scripts/install-deps.sh or set TM_PG_BINDIR"
}

# Runs a PostgreSQL program as the server's OS user (postgres when root:
# the server refuses to run as root).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    # Bind port 0 on 127.0.0.1 and let the kernel pick (perl-base is always there).
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport'
}

is_running() {
    [ -f "$dir/data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

write_conf() {
    local port=$1
    {
        echo "# Written by scripts/pg-throwaway.sh; later lines win."
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '${dir//\'/\'\'}'"
        echo "wal_level = logical"
        echo "max_wal_senders = 20"
        echo "max_replication_slots = 20"
        echo "logging_collector = off"
        printf '%s\n' "${TM_PG_CONF:-}"
    } >"$dir/data/tidemark.conf"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir/data/tidemark.conf"
    echo "$port" >"$dir/port"
}

start() {
    local created=0
    if [ -f "$dir/$MARKER" ]; then
        if is_running; then
            echo "$prog: already running in $dir (port $(cat "$dir/port"))"
            return
        fi
    else
        if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
            die "$dir exists and is not an empty dir or a pg-throwaway cluster; choose another DIR"
        fi
        mkdir -p "$dir"
        chmod 0700 "$dir"
        created=1
        # On failure, leave nothing of what we made.
        trap 'as_pg "$bindir/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
        touch "$dir/$MARKER"
        if [ "$(id -u)" -eq 0 ]; then
            chown postgres: "$dir"
            runuser -u postgres -- test -x "$dir" -a -w "$dir" ||
                die "the postgres user cannot use $dir (a parent dir is private?); choose a DIR under /tmp"
        fi
        (cd "$dir" && as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
            --no-locale -E UTF8 >"$dir/initdb.log" 2>&1) ||
            die "initdb failed: $(tail -5 "$dir/initdb.log")"
        echo "include 'tidemark.conf'" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    local port logsize
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        write_conf "$port"
        logsize=$( (stat -c %s "$dir/postgres.log" 2>/dev/null) || echo 0)
        if (cd "$dir" && as_pg "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" -w -t 60 >/dev/null); then
            trap - EXIT
            echo "$prog: PostgreSQL $major running in $dir on port $port (socket in $dir)"
            return
        fi
        # Someone took the port between our check and the server's bind: retry.
        tail -c +"$((logsize + 1))" "$dir/postgres.log" 2>/dev/null | grep -q 'could not bind\|Address already in use' ||
            break
    done
    [ $created -eq 1 ] || trap - EXIT
    die "the server did not start; see $dir/postgres.log: $(tail -5 "$dir/postgres.log" 2>/dev/null)"
}

stop() {
    [ -f "$dir/$MARKER" ] || die "$dir is not a pg-throwaway cluster; not touching it"
    if is_running; then
        as_pg "$bindir/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 >/dev/null ||
            as_pg "$bindir/pg_ctl" stop -D "$dir/data" -m immediate -w -t 60 >/dev/null
    fi
    rm -rf "$dir"
    echo "$prog: stopped and removed $dir"
}

env_exports() {
    if [ ! -f "$dir/$MARKER" ] || [ ! -f "$dir/port" ]; then
        die "$dir is not a pg-throwaway cluster; run '$prog start $dir' first"
    fi
    printf 'export PGHOST=%q PGPORT=%q PGUSER=postgres PGDATABASE=postgres\n' "$dir" "$(cat "$dir/port")"
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$(realpath -m -- "$2")
# DIR/.s.PGSQL.NNNNN must fit a unix socket path (107 bytes).
[ ${#dir} -le 90 ] || die "$dir is too long for a unix socket path; choose a shorter DIR"
bindir=$(find_bindir)
case "$cmd" in
start) start ;;
stop) stop ;;
env) env_exports ;;
status) is_running ;;
*) usage ;;
esac
