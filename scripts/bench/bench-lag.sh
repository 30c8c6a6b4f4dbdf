#!/usr/bin/env bash
# Benchmark (not a test): how long a commit waits until capture has made it
# durable and confirmed it, as PostgreSQL itself measures it
# (pg_stat_replication.flush_lag of capture's walsender), under a steady
# load, and the lag once the load stops.
#
#   1. a throwaway PostgreSQL 15 (scripts/pg-throwaway.sh), one captured
#      preference-like table (REPLICA IDENTITY FULL)
#   2. per run: tidemark capture (a fresh journal) with --metrics-listen;
#      pgbench commits RATE single-row updates a second for SECONDS while
#      flush_lag is sampled every 50 ms
#   3. then IDLE seconds without load: flush_lag, capture's own lag
#      (/metrics tidemark_lag_seconds) and status --check's line
#   4. per run p50/p90/p99/max of the samples; over the runs the median and
#      range of each
#
# Environment: RUNS=3 RATE=2000 SECONDS_LOAD=20 IDLE=5 CAPTURE_ARGS= (extra
# capture options, e.g. "--fsync-interval-ms 50") TIDEMARK= (default: build
# RelWithDebInfo in build-bench/) PGBIN=/usr/lib/postgresql/15/bin
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
RATE=${RATE:-2000}
SECONDS_LOAD=${SECONDS_LOAD:-20}
IDLE=${IDLE:-5}
CAPTURE_ARGS=${CAPTURE_ARGS:-}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
log() { printf '[bench-lag %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -z "${TIDEMARK:-}" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIDEMARK_SANITIZE=OFF >/dev/null
    cmake --build build-bench -j2 --target tidemark >/dev/null
    TIDEMARK=$PWD/build-bench/tidemark
fi
tmp=$(mktemp -d /var/tmp/tm-lag.XXXXXX)
chmod 755 "$tmp"
capture_pid=
cleanup() {
    [ -z "$capture_pid" ] || kill "$capture_pid" 2>/dev/null || true
    [ -d "$tmp/pg" ] && scripts/pg-throwaway.sh stop "$tmp/pg" >/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TM_PG_CONF="max_connections = 50
shared_buffers = 256MB" TM_PG_BINDIR=$PGBIN scripts/pg-throwaway.sh start "$tmp/pg" >/dev/null
port=$(cat "$tmp/pg/port")
conn="host=127.0.0.1 port=$port user=postgres dbname=postgres"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"; }
q -c "CREATE TABLE prefs (id int PRIMARY KEY, settings jsonb NOT NULL, updated timestamptz)" \
  -c "ALTER TABLE prefs REPLICA IDENTITY FULL" \
  -c "INSERT INTO prefs SELECT i, jsonb_build_object('theme', 'dark', 'n', i), now() FROM generate_series(1, 10000) i"
cat >"$tmp/update.sql" <<'SQL'
\set id random(1, 10000)
UPDATE prefs SET settings = jsonb_set(settings, '{n}', to_jsonb(:id)), updated = now() WHERE id = :id;
SQL

for r in $(seq 1 "$RUNS"); do
    mport=$((20000 + RANDOM % 20000))
    # shellcheck disable=SC2086
    "$TIDEMARK" capture --journal "$tmp/j$r" --source "$conn" --table public.prefs \
        --slot "lag_$r" --metrics-listen "127.0.0.1:$mport" --status-interval 1 -q $CAPTURE_ARGS \
        >"$tmp/capture.$r.log" 2>&1 &
    capture_pid=$!
    for _ in $(seq 1 100); do
        [ "$(q -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lag_$r' AND active")" = 1 ] && break
        sleep 0.2
    done
    log "run $r: $RATE tx/s for $SECONDS_LOAD s"
    python3 - "$port" "lag_$r" "$((SECONDS_LOAD + 2))" >"$tmp/samples.$r" <<'PY' &
import subprocess, sys, time
port, slot, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
q = ("SELECT coalesce(extract(epoch FROM r.flush_lag) * 1000, 0) FROM pg_stat_replication r "
     "JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '%s'" % slot)
p = subprocess.Popen(["psql", "-X", "-q", "-At", "-h", "127.0.0.1", "-p", port, "-U", "postgres",
                      "-d", "postgres"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
end = time.time() + secs
time.sleep(1)  # the load's first second: the walsender's lag tracker fills
while time.time() < end:
    p.stdin.write(q + ";\n"); p.stdin.flush()
    v = p.stdout.readline().strip()
    if v:
        print(v)
    time.sleep(0.05)
p.stdin.close()
PY
    sampler=$!
    "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c 4 -j 2 -R "$RATE" -T "$SECONDS_LOAD" \
        -f "$tmp/update.sql" postgres >"$tmp/pgbench.$r.log" 2>&1
    wait "$sampler"
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$tmp/pgbench.$r.log" | head -1)
    sleep "$IDLE"
    idle_flush=$(q -c "SELECT coalesce(extract(epoch FROM r.flush_lag) * 1000, 0) FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'lag_$r'")
    idle_capture=$(curl -s "http://127.0.0.1:$mport/metrics" | sed -n 's/^tidemark_lag_seconds //p')
    idle_bytes=$(curl -s "http://127.0.0.1:$mport/metrics" | sed -n 's/^tidemark_lag_bytes //p')
    check=$("$TIDEMARK" status --journal "$tmp/j$r" --source "$conn" --check || true)
    kill "$capture_pid"
    wait "$capture_pid" || true
    capture_pid=
    python3 - "$tmp/samples.$r" "$tps" "$idle_flush" "$idle_capture" "$idle_bytes" >>"$tmp/runs" <<'PY'
import sys
v = sorted(float(x) for x in open(sys.argv[1]) if x.strip())
pct = lambda p: v[min(len(v) - 1, int(p / 100 * len(v)))]
print(len(v), sys.argv[2], pct(50), pct(90), pct(99), v[-1], sys.argv[3], sys.argv[4], sys.argv[5])
PY
    log "run $r: $(tail -1 "$tmp/runs") | $check"
    q -c "SELECT pg_drop_replication_slot('lag_$r')" >/dev/null
done

python3 - "$tmp/runs" "$RATE" "$CAPTURE_ARGS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cols = ["samples", "tx/s", "flush_lag p50 ms", "p90 ms", "p99 ms", "max ms",
        "idle flush_lag ms", "idle tidemark_lag_seconds", "idle tidemark_lag_bytes"]
print("flush_lag of capture's walsender under %s tx/s (pgbench, one-row updates)%s; %d runs"
      % (sys.argv[2], ", capture " + sys.argv[3] if sys.argv[3] else "", len(rows)))
for i, c in enumerate(cols):
    xs = [float(r[i]) for r in rows]
    print("  %-28s median %10.2f   range %.2f - %.2f" % (c, statistics.median(xs), min(xs), max(xs)))
PY
