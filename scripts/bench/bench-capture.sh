#!/usr/bin/env bash
# Benchmark (not a test): drains the same logical slot backlog with
# `tidemark capture` and with pg_recvlogical (pgoutput, writing to a file),
# one after the other, and prints wall time, client CPU, walsender CPU, bytes
# written and the ratios issue 3 sets targets for.
#
#   1. starts a throwaway PostgreSQL 15 with scripts/pg-throwaway.sh
#      (wal_level=logical, 127.0.0.1 only, a free port, unix socket in the
#      temp dir); always stopped and removed at exit
#   2. creates preference-like tables (jsonb, REPLICA IDENTITY FULL), seeds
#      them, creates the publication, then sets up the consumers BEFORE the
#      workload so both see the same backlog: `tidemark capture --endpos
#      <now>` creates its journal, slot and base snapshot; a second pgoutput
#      slot is created for pg_recvlogical
#   3. commits a backlog of CHANGES row changes in transactions of varied
#      sizes (scripts/bench/capture-schema.sql), notes the end LSN
#   4. drains each slot cold, one consumer at a time, to that LSN
#   5. prints the side-by-side table and runs `tidemark verify`
#
# Environment:
#   CHANGES=1000000      row changes in the backlog (CHANGES=20000: quick check)
#   SEED_USERS=CHANGES/50  users (7 rows each) present before capture starts
#   NOISE=192            random hex characters in each jsonb document written
#                        (an opaque client-state token): sets how compressible
#                        the data is. 192 gives "LZ4 of the raw stream about
#                        0.38x", the issue's reference; NOISE=0 gives ~0.22x
#   ROUNDS=1             drain this many slot pairs (same backlog); medians
#   ORDER=alternate      drain order within a round: "recv tidemark",
#                        "tidemark recv", or alternate (odd rounds recv first)
#   TIDEMARK=            tidemark binary; default: build RelWithDebInfo in build-bench/
#   PROFILE=             any of "perf callgrind strace": for each, one extra,
#                        unmeasured tidemark drain under that tool (its own slot
#                        and journal); top functions / syscalls are printed
#   DROP_CACHES=0        1: drop the page cache before each drain (root only)
#   KEEP=0               1: keep the temp dir (cluster, journals, outputs)
#   BENCH_TMP=/var/tmp   where the temp dir goes (needs ~3x the WAL volume)
#   PGBIN=/usr/lib/postgresql/15/bin
#   CAPTURE_ARGS=        more options for the measured tidemark capture (words),
#                        e.g. "--segment-size 16" (bench-compact.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

CHANGES=${CHANGES:-1000000}
SEED_USERS=${SEED_USERS:-$((CHANGES / 50))}
ROUNDS=${ROUNDS:-1}
NOISE=${NOISE:-192}
ORDER=${ORDER:-alternate}
PROFILE=${PROFILE:-}
DROP_CACHES=${DROP_CACHES:-0}
KEEP=${KEEP:-0}
BENCH_TMP=${BENCH_TMP:-/var/tmp}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-3600}
tables=(public.users public.email_prefs public.ui_prefs public.ai_config)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- tools ------------------------------------------------------------------
need_pkgs=()
[ -x /usr/bin/time ] || need_pkgs+=(time)
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v lz4 >/dev/null || need_pkgs+=(lz4)
for p in $PROFILE; do
    case $p in
    perf) command -v perf >/dev/null || need_pkgs+=(linux-perf) ;;
    callgrind) command -v valgrind >/dev/null || need_pkgs+=(valgrind) ;;
    strace) command -v strace >/dev/null || need_pkgs+=(strace) ;;
    *) die "PROFILE takes perf, callgrind and/or strace, not '$p'" ;;
    esac
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${need_pkgs[@]}" >/dev/null
fi
[ -x "$PGBIN/pg_recvlogical" ] || die "no $PGBIN/pg_recvlogical: install postgresql-15 or set PGBIN"

if [ -z "${TIDEMARK:-}" ]; then
    log "building tidemark (RelWithDebInfo) in build-bench/"
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIDEMARK_SANITIZE=OFF >/dev/null
    cmake --build build-bench -j2 --target tidemark >/dev/null
    TIDEMARK=$root/build-bench/tidemark
fi
[ -x "$TIDEMARK" ] || die "no tidemark binary at $TIDEMARK"

# ---- throwaway cluster (scripts/pg-throwaway.sh) ------------------------------
tmp=$(mktemp -d "$BENCH_TMP/tm-bench.XXXXXX")
chmod 755 "$tmp" # the postgres OS user must reach the cluster dir inside
pg=$tmp/pg
res=$tmp/results
mkdir -p "$res"
cleanup() {
    if [ "$KEEP" = 1 ]; then
        local su=()
        [ "$(id -u)" -ne 0 ] || su=(runuser -u postgres --)
        "${su[@]}" "$PGBIN/pg_ctl" -D "$pg/data" -m fast stop >/dev/null 2>&1 || true
        log "kept $tmp"
    else
        [ -d "$pg" ] && scripts/pg-throwaway.sh stop "$pg" >/dev/null
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting a throwaway PostgreSQL 15 in $pg"
TM_PG_CONF="max_replication_slots = $((2 * ROUNDS + 4))
max_wal_senders = $((2 * ROUNDS + 4))
max_wal_size = 16GB
checkpoint_timeout = 30min
shared_buffers = 512MB
wal_buffers = 16MB" TM_PG_BINDIR=$PGBIN scripts/pg-throwaway.sh start "$pg" >/dev/null
port=$(cat "$pg/port")
postmaster=$(head -1 "$pg/data/postmaster.pid")

q() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d bench "$@"; }
psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE bench"
conn="host=127.0.0.1 port=$port user=postgres dbname=bench"

# ---- schema, seed, consumers ------------------------------------------------
log "schema, $SEED_USERS seed users, publication"
q -f scripts/bench/capture-schema.sql
q -c "SET bench.noise = $NOISE" -c "SELECT bench_signup(1, $SEED_USERS)" -c "UPDATE bench_state SET hi = $((SEED_USERS + 1))" >/dev/null
q -c "CREATE PUBLICATION tidemark FOR TABLE $(IFS=,; echo "${tables[*]}")"

table_args=()
for t in "${tables[@]}"; do table_args+=(--table "$t"); done
for r in $(seq 1 "$ROUNDS") $PROFILE; do
    now=$(q -c "SELECT pg_current_wal_lsn()")
    log "round $r: tidemark capture creates journal, slot tidemark_bench_$r and base snapshot (endpos $now)"
    if ! timeout 600 "$TIDEMARK" capture --journal "$tmp/journal.$r" --source "$conn" "${table_args[@]}" \
        --slot "tidemark_bench_$r" --endpos "$now" >"$tmp/setup.$r.log" 2>&1; then
        cat "$tmp/setup.$r.log" >&2
        die "tidemark capture failed to set up its journal (exit above)"
    fi
    q -c "SELECT pg_create_logical_replication_slot('recv_$r', 'pgoutput')" >/dev/null
done

# ---- backlog ----------------------------------------------------------------
start_lsn=$(q -c "SELECT min(confirmed_flush_lsn) FROM pg_replication_slots")
log "workload: $CHANGES row changes"
t0=$(date +%s.%N)
q -c "SET synchronous_commit = off" -c "SET bench.noise = $NOISE" -c "SELECT setseed(0.42)" \
    -c "CALL bench_workload($CHANGES)" >/dev/null
t1=$(date +%s.%N)
# The insert position, not pg_current_wal_lsn() (the write position, which
# lags behind asynchronous commits). Then a synchronous commit past it (an
# unpublished table): it flushes the backlog, and both consumers see the
# server move beyond the end LSN and stop there rather than wait for more.
end_lsn=$(q -c "SELECT pg_current_wal_insert_lsn()")
q -c "UPDATE bench_state SET txns = txns WHERE id = 1"
q -c "SELECT 'inserts=' || inserts, 'updates=' || updates, 'deletes=' || deletes, 'txns=' || txns,
             'messages=' || messages FROM bench_state" -F $'\n' >"$res/workload.env"
{
    echo "gen_seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}')"
    echo "end_lsn=$end_lsn"
    echo "wal_bytes=$(q -c "SELECT pg_wal_lsn_diff('$end_lsn', '$start_lsn')::bigint")"
} >>"$res/workload.env"
log "backlog ends at $end_lsn ($(sed -n 's/^wal_bytes=//p' "$res/workload.env") WAL bytes)"
# Quiet server for the drains: no autovacuum workers (each drain starts
# after a checkpoint).
q -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null

# ---- drains -----------------------------------------------------------------
# Runs one consumer under /usr/bin/time with the walsender sampler, writes
# $res/run-<round>-<tool>.env.
drain() {
    local r=$1 tool=$2
    local out=$res/run-$r-$tool.env cmd before=0 after status=0
    case $tool in
    recv)
        cmd=("$PGBIN/pg_recvlogical" -d "$conn" --slot "recv_$r" --start --no-loop
             -o proto_version=1 -o publication_names=tidemark -o messages=true
             --endpos "$end_lsn" -f "$tmp/recv.$r.out")
        ;;
    tidemark)
        before=$(du -sb "$tmp/journal.$r" | cut -f1)
        # shellcheck disable=SC2206 # CAPTURE_ARGS: words on purpose
        cmd=("$TIDEMARK" capture --journal "$tmp/journal.$r" --source "$conn"
             --slot "tidemark_bench_$r" --endpos "$end_lsn" ${CAPTURE_ARGS:-})
        ;;
    esac
    q -c "CHECKPOINT"
    sync
    if [ "$DROP_CACHES" = 1 ]; then echo 3 >/proc/sys/vm/drop_caches; fi
    sleep 1 # let the psql backend exit before the sampler starts
    python3 scripts/bench/walsender-cpu.py "$postmaster" "$tmp/ws.$r.$tool" &
    local sampler=$!
    while [ ! -e "$tmp/ws.$r.$tool.ready" ]; do
        kill -0 "$sampler" 2>/dev/null || die "the walsender sampler did not start"
        sleep 0.05
    done
    log "round $r: draining with $tool"
    /usr/bin/time -f 'wall_s=%e\nuser_s=%U\nsys_s=%S\nmax_rss_kb=%M' -o "$tmp/time.$r.$tool" \
        timeout "$DRAIN_TIMEOUT" "${cmd[@]}" >"$tmp/drain.$r.$tool.log" 2>&1 || status=$?
    kill -TERM "$sampler"
    wait "$sampler" || true
    if [ "$tool" = recv ]; then
        after=$(stat -c %s "$tmp/recv.$r.out")
    else
        after=$(du -sb "$tmp/journal.$r" | cut -f1)
    fi
    {
        echo "tool=$tool"
        echo "round=$r"
        echo "exit=$status"
        grep -v '^Command' "$tmp/time.$r.$tool"
        awk -F= '$1=="user_s"{u=$2} $1=="sys_s"{s=$2} END{printf "client_cpu_s=%.2f\n", u+s}' \
            "$tmp/time.$r.$tool"
        cat "$tmp/ws.$r.$tool"
        echo "bytes_written=$((after - before))"
    } >"$out"
    if [ "$status" -ne 0 ]; then
        log "round $r: $tool exited with status $status; its output:"
        tail -n 30 "$tmp/drain.$r.$tool.log" >&2
    fi
}

for r in $(seq 1 "$ROUNDS"); do
    order=$ORDER
    if [ "$order" = alternate ]; then
        order="recv tidemark"
        [ $((r % 2)) -eq 1 ] || order="tidemark recv"
    fi
    for tool in $order; do drain "$r" "$tool"; done
done

# ---- the raw stream and its LZ4 reference -------------------------------------
log "parsing the pg_recvlogical stream"
python3 scripts/bench/pgoutput-stats.py "$tmp/recv.1.out" --raw-out "$tmp/raw.1" |
    tr ' ' '\n' >"$res/stream.env"
lz4 -1 -q -f "$tmp/raw.1" "$tmp/raw.1.lz4"
echo "lz4_bytes=$(stat -c %s "$tmp/raw.1.lz4")" >>"$res/stream.env"
rm -f "$tmp/raw.1" "$tmp/raw.1.lz4"

# ---- verify -------------------------------------------------------------------
log "tidemark verify --journal journal.1"
vstatus=0
"$TIDEMARK" verify --journal "$tmp/journal.1" >"$tmp/verify.log" 2>&1 || vstatus=$?
sed 's/^/    verify| /' "$tmp/verify.log" >&2
{
    echo "exit=$vstatus"
    # KEY=N pairs of its totals line (records=, tx=, and changes= if printed).
    grep '^total ' "$tmp/verify.log" | tr ' ' '\n' | grep -E '^[a-z_]+=[0-9]+$' || true
} >"$res/verify.env"

# verify checks integrity and counts records of every kind over the whole
# journal; status counts the transactions and their records (changes and
# logical messages) since the base snapshot.
"$TIDEMARK" status --journal "$tmp/journal.1" >"$tmp/status.log" 2>&1 || true
sed -n 's/^transactions: *\([0-9]*\) (\([0-9]*\) records).*/status_tx=\1\nstatus_records=\2/p' \
    "$tmp/status.log" >>"$res/verify.env"
grep -q ' sound$' "$tmp/verify.log" && echo "sound=1" >>"$res/verify.env"

# ---- optional profiles ----------------------------------------------------------
for p in $PROFILE; do
    pcmd=("$TIDEMARK" capture --journal "$tmp/journal.$p" --source "$conn"
          --slot "tidemark_bench_$p" --endpos "$end_lsn")
    log "profile: one more tidemark drain under $p (not measured)"
    case $p in
    perf)
        perf record -q -g -o "$tmp/perf.data" -- "${pcmd[@]}" >"$tmp/profile.$p.log" 2>&1
        perf report -i "$tmp/perf.data" --stdio --no-children -g none --percent-limit 0.5 \
            --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40 >"$res/profile.$p"
        ;;
    callgrind)
        valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.out" "${pcmd[@]}" \
            >"$tmp/profile.$p.log" 2>&1
        callgrind_annotate "$tmp/callgrind.out" 2>/dev/null | head -40 >"$res/profile.$p"
        ;;
    strace)
        # -w: wall time in each syscall (how long capture blocks in fsync)
        strace -f -c -w -o "$res/profile.$p" "${pcmd[@]}" >"$tmp/profile.$p.log" 2>&1
        ;;
    esac
done

python3 scripts/bench/capture-report.py "$res"
for p in $PROFILE; do
    echo
    echo "== $p profile of tidemark capture (an extra drain of the same backlog)"
    cat "$res/profile.$p"
done
