#!/usr/bin/env bash
# Benchmark: tidemark replay against PostgreSQL's own point-in-time recovery,
# side by side in one run, on the same data.
#
#   scripts/bench/bench-replay.sh [CHANGES] [BIG_GB]     (defaults: 2000000 and 2)
#
# A throwaway cluster with WAL archiving gets a preference table (50,000
# users x 10 keys, REPLICA IDENTITY FULL), a base backup, and a journal
# (tidemark capture running in the background). Then a workload makes
# CHANGES row changes on the preference table in transactions of ~10 rows,
# while a table that is not captured receives BIG_GB GB (1 KB rows) in
# batches spread over the workload. T is the middle of the workload.
#
# The default setup: capture running alone, with its own background
# maintenance (checkpoints every --checkpoint-every MB, default 32), no
# checkpoint job; capture is stopped only once its maintenance run is idle.
# Measured for public.prefs at T, to CSV:
#   (each tidemark replay runs RUNS=3 times; the median wall time is
#   reported with the range)
#   tidemark: tidemark replay --at T --no-checkpoint (from the base
#             snapshot: wall time, changes read/applied per second from its
#             --verbose summary, peak RSS by /usr/bin/time)
#   tidemark+ckpt: tidemark replay --at T, starting from the newest
#             checkpoint usable for T
#   native:   copy of the base backup + recovery to T (recovery_target_time,
#             inclusive) + COPY (SELECT * FROM prefs ORDER BY key) TO a file
# and the CSV files must be identical. Needs ~4x BIG_GB of free disk.
# Everything lives in a temp dir removed at the end (TM_BENCH_KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/../.."
CHANGES=${1:-2000000}
BIG_GB=${2:-2}
USERS=50000

say() { printf '%s\n' "$*" >&2; }
if [ ! -x /usr/bin/time ]; then # peak RSS and wall times
    say "installing time"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends time >/dev/null
fi
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
now() { date +%s.%N; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTIDEMARK_SANITIZE=OFF >/dev/null
cmake --build build-bench -j2 --target tidemark >/dev/null
TM=$PWD/build-bench/tidemark

root=$(mktemp -d /tmp/tidemark-bench-XXXXXX)
chmod 755 "$root"
[ "$(id -u)" -ne 0 ] || chown postgres: "$root" # base backup and restore go here
capture_pid=
restored=
cleanup() {
    [ -z "$capture_pid" ] || kill "$capture_pid" 2>/dev/null || true
    [ -z "$restored" ] || as_pg "$bindir/pg_ctl" stop -D "$restored" -m immediate >/dev/null 2>&1 || true
    scripts/pg-throwaway.sh stop "$root/pg" >/dev/null 2>&1 || true
    if [ "${TM_BENCH_KEEP:-0}" = 1 ]; then say "kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT

mkdir "$root/archive"
[ "$(id -u)" -ne 0 ] || chown postgres: "$root/archive"
export TM_PG_CONF="archive_mode = on
archive_command = 'cp %p $root/archive/%f'
full_page_writes = on
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min"
scripts/pg-throwaway.sh start "$root/pg" >/dev/null
eval "$(scripts/pg-throwaway.sh env "$root/pg")"
bindir=${TM_PG_BINDIR:-/usr/lib/postgresql/15/bin}
psql_() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

say "== setup: $USERS users x 10 preference keys, base backup, journal"
psql_ -d postgres -c "CREATE DATABASE bench"
psql_ -d bench <<SQL
CREATE TABLE prefs (user_id int, key text, value jsonb, updated_at timestamptz,
                    PRIMARY KEY (user_id, key));
ALTER TABLE prefs REPLICA IDENTITY FULL;
CREATE TABLE big (id bigint, payload text);
CREATE TABLE bench_marks (label text PRIMARY KEY, t timestamptz);
INSERT INTO prefs SELECT u, k, jsonb_build_object('v', 0, 'theme', 'dark', 'on', u % 2 = 0),
                         '2026-01-01 00:00:00+00'
  FROM generate_series(1, $USERS) u,
       unnest(ARRAY['theme','lang','tz','density','beta','sounds','digest','ai.model',
                    'ai.temperature','notifications']) k;
CREATE PROCEDURE workload(n_tx int, users int, big_every int, big_rows int)
LANGUAGE plpgsql AS \$\$
DECLARE u int;
BEGIN
    FOR i IN 1..n_tx LOOP
        u := 1 + (random() * (users - 4))::int;
        UPDATE prefs SET value = jsonb_set(value, '{v}', to_jsonb(i)), updated_at = clock_timestamp()
         WHERE user_id BETWEEN u AND u + 1 AND key IN ('theme', 'lang', 'tz', 'density');
        DELETE FROM prefs WHERE user_id = u + 2 AND key = 'beta';
        INSERT INTO prefs VALUES (u + 3, 'beta', jsonb_build_object('on', true, 'i', i),
                                  clock_timestamp())
            ON CONFLICT (user_id, key) DO UPDATE SET value = EXCLUDED.value;
        COMMIT;
        IF i % big_every = 0 THEN
            INSERT INTO big SELECT g, repeat(md5(g::text || i::text), 30)
              FROM generate_series(1, big_rows) g;
            COMMIT;
        END IF;
        IF i = n_tx / 2 THEN
            INSERT INTO bench_marks VALUES ('middle', clock_timestamp());
            COMMIT;
        END IF;
    END LOOP;
END
\$\$;
SQL
as_pg "$bindir/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres -D "$root/base" -c fast -X stream
conninfo="host=$PGHOST port=$PGPORT user=postgres dbname=bench"
lsn=$(psql_ -d bench -Atc "SELECT pg_current_wal_lsn()")
"$TM" capture --journal "$root/journal" --source "$conninfo" --table prefs --endpos "$lsn" 2>/dev/null
"$TM" capture --journal "$root/journal" --source "$conninfo" --status-interval 3600 \
    2>"$root/capture.log" &
capture_pid=$!

ntx=$((CHANGES / 10))
big_every=$(( ntx / 200 > 0 ? ntx / 200 : 1 ))
batches=$(( ntx / big_every ))
big_rows=$(( BIG_GB * 1024 * 1024 * 1024 / 1000 / batches + 1 ))
say "== workload: $ntx transactions (~$CHANGES changes), $batches batches of $big_rows rows into big"
t0=$(now)
PGOPTIONS="-c synchronous_commit=off" psql_ -d bench -c "CALL workload($ntx, $USERS, $big_every, $big_rows)"
say "   took $(minus "$(now)" "$t0") s"
T=$(psql_ -d bench -Atc "SET TimeZone = 'UTC'; SELECT t FROM bench_marks WHERE label = 'middle'")
psql_ -d bench -c "INSERT INTO bench_marks VALUES ('end', clock_timestamp())"
end_lsn=$(psql_ -d bench -Atc "SELECT pg_current_wal_lsn()")
big_size=$(psql_ -d bench -Atc "SELECT pg_size_pretty(pg_total_relation_size('big'))")
seg=$(psql_ -d bench -Atc "SELECT pg_walfile_name(pg_current_wal_lsn())")
psql_ -d bench -Atc "SELECT pg_switch_wal()" >/dev/null
say "   uncaptured table big: $big_size; waiting for capture and the WAL archive"
until [ "$(psql_ -d bench -Atc "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots")" = t ]; do sleep 1; done
# Capture's own maintenance run (a child process) finishes before it stops.
while [ -n "$(cat /proc/"$capture_pid"/task/*/children 2>/dev/null)" ]; do sleep 1; done
kill "$capture_pid"; wait "$capture_pid" || true; capture_pid=
until [ "$(psql_ -d bench -Atc "SELECT coalesce(last_archived_wal >= '$seg', false) FROM pg_stat_archiver")" = t ]; do sleep 1; done
journal_size=$(du -sh "$root/journal" | cut -f1)
# A quiet server for the measurements (both sides): no autovacuum worker
# going through the 2 GB table while tidemark or the restored copy runs.
psql_ -d bench -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
psql_ -d bench -c "CHECKPOINT"

ckpt_s=0 # made by capture itself, in the background, while the workload ran
ckpt_n=$(ls "$root/journal/checkpoints" 2>/dev/null | wc -l)
ckpt_size=$(du -sh "$root/journal/checkpoints" 2>/dev/null | cut -f1)

# replay_run LABEL [OPTIONS]: tidemark replay of prefs at T into $root/LABEL.csv,
# RUNS times (default 3: a shared machine's noise is large next to half a
# second); sets the r_* figures from /usr/bin/time and the --verbose summary
# of the run with the median wall time.
RUNS=${RUNS:-3}
# Seconds of wall time in a /usr/bin/time -v log.
wall_of() {
    sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" |
        awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }'
}
replay_run() {
    local label=$1
    shift
    say "== tidemark replay --at '$T' --table prefs $* ($RUNS runs, the median is reported)"
    local i walls=()
    for i in $(seq 1 "$RUNS"); do
        rm -f "$root/$label.csv" # each run writes a new file, as the first does
        sync
        /usr/bin/time -v "$TM" replay --journal "$root/journal" --at "$T" --table prefs \
            --output "$root/$label.csv" --verbose "$@" 2>"$root/$label.$i.log"
        walls+=("$(wall_of "$root/$label.$i.log") $i")
    done
    local med
    med=$(printf '%s\n' "${walls[@]}" | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2) { print $2 }')
    r_range=$(printf '%s\n' "${walls[@]}" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2fs", lo, hi }')
    cp "$root/$label.$med.log" "$root/$label.log"
    r_wall=$(wall_of "$root/$label.log")
    r_rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$root/$label.log")
    local summary
    summary=$(grep 'state as of' "$root/$label.log")
    r_applied=$(sed -n 's/.* \([0-9]*\) changes applied.*/\1/p' <<<"$summary")
    r_skipped=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<<"$summary")
    r_apply_s=$(sed -n 's/.* in \([0-9.]*\)s (.*/\1/p' <<<"$summary")
    r_apply_cpu=$(sed -n 's/.*s (\([0-9.]*\)s CPU).*/\1/p' <<<"$summary")
    r_ckpt_rows=$(sed -n 's/.*checkpoint at LSN .* (\([0-9]*\) of the changes.*/\1/p' "$root/$label.log")
    r_ckpt_rows=${r_ckpt_rows:-0}
    # where the time went (--verbose): checkpoint load, journal, output
    r_load_s=$(sed -n 's/.*, loaded in \([0-9.]*\)s$/\1/p' "$root/$label.log")
    r_load_s=${r_load_s:-0}
    r_out_s=$(sed -n 's/.*output written in \([0-9.]*\)s .*/\1/p' "$root/$label.log")
}
replay_run tidemark --no-checkpoint
tm_range=$r_range
tm_wall=$r_wall tm_rss_kb=$r_rss_kb applied=$r_applied skipped=$r_skipped
apply_s=$r_apply_s apply_cpu=$r_apply_cpu out_s=$r_out_s
replay_run tidemark-ckpt
ck_range=$r_range
ck_wall=$r_wall ck_rss_kb=$r_rss_kb ck_applied=$((r_applied - r_ckpt_rows))
ck_rows=$r_ckpt_rows ck_read=$((r_applied + r_skipped)) ck_apply_s=$r_apply_s
ck_load_s=$r_load_s ck_out_s=$r_out_s
csv_bytes=$(stat -c %s "$root/tidemark.csv")

say "== PostgreSQL PITR to the same T: restore the base backup, recover, COPY out"
sync
restored=$root/restored
t0=$(now)
as_pg cp -a "$root/base" "$restored"
port2=$((PGPORT + 1))
as_pg tee -a "$restored/postgresql.auto.conf" >/dev/null <<CONF
port = $port2
listen_addresses = ''
unix_socket_directories = '$restored'
archive_mode = off
restore_command = 'cp $root/archive/%f %p'
recovery_target_time = '$T'
recovery_target_inclusive = on
recovery_target_action = 'promote'
CONF
as_pg touch "$restored/recovery.signal"
as_pg "$bindir/pg_ctl" start -D "$restored" -l "$root/restored.log" -w -t 3600 >/dev/null
until [ "$("$bindir/psql" -X -q -h "$restored" -p "$port2" -U postgres -d bench -Atc \
          "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; do sleep 0.2; done
"$bindir/psql" -X -q -h "$restored" -p "$port2" -U postgres -d bench -Atc \
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; COPY (SELECT * FROM prefs ORDER BY user_id, key) TO STDOUT WITH (FORMAT csv, HEADER)" \
    >"$root/pitr.csv"
t1=$(now)
pitr_s=$(minus "$t1" "$t0")
as_pg "$bindir/pg_ctl" stop -D "$restored" -m fast >/dev/null; restored=

same=identical
cmp -s "$root/tidemark.csv" "$root/pitr.csv" || same=DIFFERENT
cmp -s "$root/tidemark-ckpt.csv" "$root/pitr.csv" || same=DIFFERENT

read_total=$((applied + skipped))
awk -v ch="$CHANGES" -v big="$big_size" -v js="$journal_size" -v T="$T" \
    -v applied="$applied" -v readc="$read_total" -v as="$apply_s" -v acpu="$apply_cpu" \
    -v tw="$tm_wall" -v rss="$tm_rss_kb" -v csv="$csv_bytes" -v pitr="$pitr_s" -v same="$same" \
    -v ckw="$ck_wall" -v ckrss="$ck_rss_kb" -v ckapp="$ck_applied" -v ckrows="$ck_rows" \
    -v ckread="$ck_read" -v ckas="$ck_apply_s" -v cks="$ckpt_s" -v ckn="$ckpt_n" -v cksz="$ckpt_size" \
    -v outs="$out_s" -v ckls="$ck_load_s" -v ckouts="$ck_out_s" -v tmr="$tm_range" -v ckr="$ck_range" '
BEGIN {
    printf "\ntidemark replay vs PostgreSQL PITR (public.prefs at %s)\n", T
    printf "  workload: ~%d changes on prefs; uncaptured table big: %s; journal: %s\n", ch, big, js
    printf "  checkpoints made by capture itself (no checkpoint job): %d, %s\n", ckn, cksz
    printf "  %-34s %12s %12s %12s\n", "", "no ckpt", "default", "PITR"
    printf "  %-34s %11.2fs %11.2fs %11.2fs\n", "time to the CSV of prefs at T", tw, ckw, pitr
    printf "  %-34s %12s %12s\n", "  range of the runs", tmr, ckr
    printf "  %-34s %11.1fx %11.1fx %12s\n", "PITR time / tidemark time", pitr / tw, pitr / ckw, "1.0x"
    printf "  %-34s %12d %12d\n", "journal changes applied", applied, ckapp
    printf "  %-34s %12s %12d\n", "rows loaded from the checkpoint", "-", ckrows
    printf "  %-34s %10.2fM/s %10.2fM/s\n", "apply rate, wall (read+apply)", readc / as / 1e6, ckread / ckas / 1e6
    printf "  %-34s %10.2fM/s\n", "apply rate, CPU time", readc / acpu / 1e6
    printf "  %-34s %12s %11.3fs\n", "  of the time: checkpoint load", "-", ckls
    printf "  %-34s %11.3fs %11.3fs\n", "                journal", as, ckas
    printf "  %-34s %11.3fs %11.3fs\n", "                output (sort, CSV)", outs, ckouts
    printf "  %-34s %9.1f MB %9.1f MB   (output CSV %.1f MB: %.2fx / %.2fx)\n", "peak RSS", rss / 1024, ckrss / 1024, csv / 1048576, rss * 1024 / csv, ckrss * 1024 / csv
    printf "  CSV outputs (both tidemark runs vs PITR): %s\n", same
}'
[ "$same" = identical ]
