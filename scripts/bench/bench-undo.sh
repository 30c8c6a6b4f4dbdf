#!/usr/bin/env bash
# tidemark undo benchmark, side by side with the migration it undoes, in
# one run on a throwaway PostgreSQL: a ROWS-row preference table (REPLICA
# IDENTITY FULL, captured), then RUNS times:
#   - the migration: UPDATE of every row (a column and a jsonb member);
#   - capture catches up (not timed);
#   - undo --apply --dry-run of it (the rehearsal: same statements, rolled back);
#   - undo --apply of it (the table must then equal its state before).
# Times are wall clock of the whole command (psql for the migration;
# tidemark reads the journal, plans, connects, writes and commits). Prints
# each run, then median and range of each and the ratios to the migration.
# Usage: scripts/bench/bench-undo.sh [--rows N] [--runs N] [--verbose]
# (--verbose: where the undo's time went, from undo --verbose)
# TIDEMARK=path/to/tidemark uses that binary instead of a Release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=100000 RUNS=3 V=
while [ $# -gt 0 ]; do
    case $1 in
    --rows) ROWS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --verbose) V=-v; shift ;;
    *) echo "usage: $0 [--rows N] [--runs N] [--verbose]" >&2; exit 2 ;;
    esac
done
[ "$RUNS" -ge 1 ] || { echo "--runs must be at least 1" >&2; exit 2; }

if [ -n "${TIDEMARK:-}" ]; then
    TM=$TIDEMARK
else
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTIDEMARK_SANITIZE=OFF >/dev/null
    cmake --build build-bench -j2 --target tidemark >/dev/null
    TM=$PWD/build-bench/tidemark
fi

root=$(mktemp -d /tmp/tidemark-benchundo-XXXXXX)
chmod 755 "$root"
cleanup() {
    scripts/pg-throwaway.sh stop "$root/pg" >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap cleanup EXIT
export TM_PG_CONF="shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min"
scripts/pg-throwaway.sh start "$root/pg" >/dev/null
eval "$(scripts/pg-throwaway.sh env "$root/pg")"
bindir=${TM_PG_BINDIR:-/usr/lib/postgresql/15/bin}
psql_() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
ci="host=$PGHOST port=$PGPORT user=postgres dbname=bench"
j=$root/journal
now() { date +%s%N; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
psql_ -d postgres -c "CREATE DATABASE bench"
psql_ -d bench <<SQL
CREATE TABLE prefs (id int PRIMARY KEY, theme text, lang text, data jsonb, updated_at timestamptz);
ALTER TABLE prefs REPLICA IDENTITY FULL;
INSERT INTO prefs SELECT g, 'dark', 'en', jsonb_build_object('beta', g % 2 = 0, 'digest',
    'daily', 'n', g), now() FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE prefs;
SQL
catch_up() {
    local lsn
    lsn=$(psql_ -d bench -Atc "SELECT pg_current_wal_lsn()")
    "$TM" capture --journal "$j" --source "$ci" --table prefs --endpos "$lsn" -q
}
catch_up
base=$(psql_ -d bench -Atc "SELECT md5(string_agg(p::text, '' ORDER BY id)) FROM prefs p")
echo "table: $ROWS rows; each run: the migration, its dry run, its undo"

declare -a mig dry und
for i in $(seq 1 "$RUNS"); do
    t0=$(now)
    xid=$(psql_ -d bench -Atc "BEGIN; UPDATE prefs SET theme = 'light', data = data - 'beta';
                             SELECT txid_current(); COMMIT;" | head -1)
    t1=$(now)
    catch_up
    t2=$(now)
    "$TM" undo $V --journal "$j" --xid "$xid" --apply "$ci" --dry-run >"$root/dry.out"
    t3=$(now)
    "$TM" undo $V --journal "$j" --xid "$xid" --apply "$ci" >"$root/undo.out"
    t4=$(now)
    tail -1 "$root/undo.out" | grep -q "^undo: [0-9,]* rows restored, 0 skipped as conflicts, 0 failed$" ||
        { cat "$root/undo.out"; echo "bench-undo: the undo did not restore every row" >&2; exit 1; }
    now_sum=$(psql_ -d bench -Atc "SELECT md5(string_agg(p::text, '' ORDER BY id)) FROM prefs p")
    [ "$now_sum" = "$base" ] || { echo "bench-undo: the table differs from before the migration" >&2; exit 1; }
    mig+=($(( (t1 - t0) / 1000000 )))
    dry+=($(( (t3 - t2) / 1000000 )))
    und+=($(( (t4 - t3) / 1000000 )))
    printf 'run %d: migration %6d ms   dry run %6d ms   undo %6d ms   (%s)\n' "$i" \
        "${mig[-1]}" "${dry[-1]}" "${und[-1]}" "$(tail -1 "$root/undo.out")"
done

# median and range of a list of ms
stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s %s %s", m, v[1], v[NR] }'; }
read -r mm ml mh <<<"$(stats "${mig[@]}")"
read -r dm dl dh <<<"$(stats "${dry[@]}")"
read -r um ul uh <<<"$(stats "${und[@]}")"
echo
printf 'migration: median %7.0f ms  range %d-%d ms\n' "$mm" "$ml" "$mh"
printf 'dry run:   median %7.0f ms  range %d-%d ms  = %.2fx the migration\n' "$dm" "$dl" "$dh" \
    "$(awk -v a="$dm" -v b="$mm" 'BEGIN { print a / b }')"
printf 'undo:      median %7.0f ms  range %d-%d ms  = %.2fx the migration\n' "$um" "$ul" "$uh" \
    "$(awk -v a="$um" -v b="$mm" 'BEGIN { print a / b }')"
