#!/usr/bin/env bash
# tidemark log benchmark: writes a journal of ~1 million preference-table
# changes (scripts/bench/bench_log.c, through the journal writer), then times
# with the Release build:
#   - the history of one row (--where on its key columns): the first run,
#     which builds the per-segment key summaries, and later runs using them;
#   - a one-minute time window (--from/--to) in the middle;
#   - on a second journal with a TRUNCATE and reload of the whole table
#     halfway (bench_log --reload): --transactions --top 1, which names the
#     TRUNCATE with the rows it removed (counted once, then kept in
#     DIR/rowcounts), and the row lookups, whose history now holds the
#     TRUNCATE;
# reporting for each the frames read against the frames in the journal.
# Usage: scripts/bench/bench-log.sh [--changes N] [--users N] [--sync-every TX]
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTIDEMARK_SANITIZE=OFF >/dev/null
cmake --build build-bench -j2 --target bench_log tidemark >/dev/null
dir=$(mktemp -d "${TMPDIR:-/tmp}/tidemark-benchlog-XXXXXX")
trap 'rm -rf "$dir"' EXIT
j="$dir/journal"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
start=$(date +%s%N)
eval "$(build-bench/scripts/bench/bench_log --dir "$j" "$@")"
echo "journal: $CHANGES changes in $TRANSACTIONS transactions, $(du -sh "$j" | cut -f1) on disk," \
     "written in $(( ($(date +%s%N) - start) / 1000000 )) ms"
cp -a "$j" "$dir/journal-ckpt" # a cold copy for the checkpoint run below

# Runs tidemark log with --stats; prints the wall time in ms, the frames
# read and the frames in the journal, and how many output lines.
run() {
    local t0 t1 out err
    out="$dir/out" err="$dir/err"
    t0=$(date +%s%N)
    build-bench/tidemark log --journal "$j" --stats "$@" >"$out" 2>"$err"
    t1=$(date +%s%N)
    local total read skipped
    total=$(sed -n 's/.*frames: \([0-9]*\) in the journal.*/\1/p' "$err")
    read=$(sed -n 's/.*in the journal, \([0-9]*\) read.*/\1/p' "$err")
    skipped=$(sed -n 's/.*, \([0-9]*\) skipped.*/\1/p' "$err")
    awk -v ns=$((t1 - t0)) -v r="$read" -v t="$total" -v s="$skipped" -v l="$(wc -l <"$out")" \
        'BEGIN { printf "%8.1f ms  frames read %6s of %6s (skipped by key summaries: %s)  %s lines\n", ns / 1e6, r, t, s, l }'
}

key="user_id = $PROBE_USER AND key = 'theme'"
echo
echo "one row's history: --table prefs --where \"$key\""
printf '  first run (builds key summaries):  '; run --table prefs --where "$key"
for i in 1 2 3; do
    printf '  run %d with summaries:             ' "$i"; run --table prefs --where "$key"
done
echo "one user's history ($PROBE_CHANGES changes): --where \"user_id = $PROBE_USER\""
for i in 1 2 3; do
    printf '  run %d:                            ' "$i"; run --where "user_id = $PROBE_USER"
done
other=$((PROBE_USER + 17))
echo "another row, as JSON Lines: --where \"user_id = $other AND key = 'lang'\" --format jsonl"
printf '  run:                              '; run --where "user_id = $other AND key = 'lang'" --format jsonl

echo
echo "a one-minute window in the middle: --from '$WINDOW_FROM' --to '$WINDOW_TO' --transactions"
for i in 1 2; do
    printf '  run %d:                            ' "$i"; run --from "$WINDOW_FROM" --to "$WINDOW_TO" --transactions
done
echo "the whole journal, --transactions --top 5 (for scale):"
printf '  run:                              '; run --transactions --top 5

echo
echo "a second journal: the same with a TRUNCATE and reload of the whole table halfway"
j="$dir/journal-reload"
eval "$(build-bench/scripts/bench/bench_log --dir "$j" --reload "$@")"
echo "  (the TRUNCATE removes $RELOAD_ROWS rows)"
printf '  --top 1, first (counts the rows):  '; run --transactions --top 1
head -c 160 "$dir/out"; echo
for i in 1 2; do
    printf '  --top 1, run %d (counts kept):     ' "$i"; run --transactions --top 1
done
printf '  one row, first run (summaries):    '; run --table prefs --where "$key"
for i in 1 2 3; do
    printf '  one row, run %d:                   ' "$i"; run --table prefs --where "$key"
done
rm "$j/rowcounts"
printf '  one row, row counts removed:       '; run --table prefs --where "$key"
printf '  one row, then with them again:     '; run --table prefs --where "$key"
j="$dir/journal"

echo
echo "a cold copy of the journal after 'tidemark checkpoint' (the background job that also"
echo "builds the key summaries): the first by-key query is as fast as later ones"
t0=$(date +%s%N)
build-bench/tidemark checkpoint --journal "$dir/journal-ckpt" 2>/dev/null
echo "  tidemark checkpoint:              $(( ($(date +%s%N) - t0) / 1000000 )) ms (one-off, in the background)"
j="$dir/journal-ckpt"
printf '  first by-key run:                 '; run --table prefs --where "$key"

# The journal's only segment is live (capture still appends to it): its
# frames come from its live index (DIR/NNNN.lidx, appended at every sync)
# instead of one pread per frame header. Side by side, alternating, on the
# checkpointed copy (summaries as capture's maintenance leaves them): with
# the live index, and with it moved away (how every lookup read it before).
runs=${RUNS:-7}
ms() { # wall ms of one tidemark log run
    local t0 t1
    t0=$(date +%s%N)
    build-bench/tidemark log --journal "$j" "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
}
summary() { # median and range of microsecond values, in ms
    tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "median %6.1f ms (%.1f-%.1f, %d runs)", m / 1000, v[1] / 1000, v[NR] / 1000, NR }'
}
lidx=$(ls "$j"/*.lidx)
echo
echo "the live segment ($(basename "$lidx" .lidx).seg, the journal's only one): live index vs none, $runs runs each, alternating"
for q in "row" "user"; do
    with="" without=""
    for i in $(seq "$runs"); do
        if [ "$q" = row ]; then args=(--table prefs --where "$key"); else args=(--where "user_id = $PROBE_USER"); fi
        with="$with $(ms "${args[@]}")"
        mv "$lidx" "$dir/lidx.away"
        without="$without $(ms "${args[@]}")"
        mv "$dir/lidx.away" "$lidx"
    done
    printf '  %-5s with the live index:    %s\n' "$q" "$(echo "$with" | summary)"
    printf '  %-5s without (scan headers): %s\n' "$q" "$(echo "$without" | summary)"
done
