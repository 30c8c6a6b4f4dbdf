#!/usr/bin/env bash
# Benchmark: compaction (tidemark compact: sealed segments recompressed with
# zstd into larger frames) on the medium capture workload, side by side with
# the LZ4 journal it came from.
#
#   1. bench-capture.sh (CHANGES=1000000, NOISE=192: the raw pgoutput
#      stream LZ4 -1 takes to about 0.38x) drains one backlog into a journal
#      (--segment-size SEG_MB, so that all but a small live tail is sealed)
#      and with pg_recvlogical into a file; raw pgoutput bytes are counted
#      by pgoutput-stats.py; the cluster is stopped
#   2. RUNS times: a fresh copy of the LZ4 journal compacted (--no-keys),
#      timed: compaction throughput in MB of records per second
#   3. RUNS times, alternating: tidemark replay --no-checkpoint of every
#      captured table at the end, on the LZ4 journal and on the compacted
#      one (output to a file, compared byte for byte)
#   4. prints bytes per raw pgoutput byte (segments: LZ4 and compacted; the
#      sealed part alone), the compaction throughput, replay wall times
#      (median and range) and their ratio
#
# Environment: CHANGES (1000000), RUNS (5), SEG_MB (16), LEVEL (3),
# FRAME_KB (4096), BENCH_TMP (/var/tmp), KEEP (0: 1 keeps the temp dir),
# REUSE (a temp dir KEEP=1 kept: measure it again without capturing).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
CHANGES=${CHANGES:-1000000}
RUNS=${RUNS:-5}
SEG_MB=${SEG_MB:-16}
LEVEL=${LEVEL:-3}
FRAME_KB=${FRAME_KB:-4096}
BENCH_TMP=${BENCH_TMP:-/var/tmp}
KEEP=${KEEP:-0}
log() { printf '[compact %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
[ -x /usr/bin/time ] || die "needs /usr/bin/time (apt-get install time)"

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIDEMARK_SANITIZE=OFF >/dev/null
cmake --build build-bench -j2 --target tidemark >/dev/null
TM=$root/build-bench/tidemark

if [ -n "${REUSE:-}" ]; then # a dir a KEEP=1 run kept: measure again without capturing
    echo "    [bench] kept $REUSE" >"$BENCH_TMP/bench-compact.capture.log"
else
log "capturing the medium workload ($CHANGES changes) with bench-capture.sh"
CHANGES=$CHANGES ROUNDS=1 KEEP=1 BENCH_TMP=$BENCH_TMP TIDEMARK=$TM \
    CAPTURE_ARGS="--segment-size $SEG_MB --checkpoint-every 0" \
    scripts/bench/bench-capture.sh >"$BENCH_TMP/bench-compact.capture.log" 2>&1 ||
    die "bench-capture.sh failed: $(tail -5 "$BENCH_TMP/bench-compact.capture.log")"
fi
tmp=$(sed -n 's/.*kept \(.*\)$/\1/p' "$BENCH_TMP/bench-compact.capture.log" | tail -1)
[ -d "$tmp/journal.1" ] || die "no journal kept by bench-capture.sh"
cleanup() { if [ "$KEEP" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
raw=$(sed -n 's/^raw_bytes=//p' "$tmp/results/stream.env")
lz4ref=$(sed -n 's/^lz4_bytes=//p' "$tmp/results/stream.env")
lz4j=$tmp/journal.1
rm -f "$lz4j"/*.keys # derived files: the same for both journals
segbytes() { cat "$1"/*.seg | wc -c; }
# bytes of the segments sealed in the LZ4 journal (all but the last)
sealed() { ls "$1"/*.seg | head -n -1 | xargs cat | wc -c; }

log "compacting $RUNS copies (level $LEVEL, ${FRAME_KB} kB frames)"
zj=$tmp/journal.z
tput=()
for r in $(seq 1 "$RUNS"); do
    rm -rf "$zj"
    cp -a "$lz4j" "$zj"
    sync
    "$TM" compact --journal "$zj" --no-keys --level "$LEVEL" --frame-kb "$FRAME_KB" 2>"$tmp/compact.log"
    t=$(sed -n 's/.* in [0-9.]* s (\([0-9.]*\) MB\/s).*/\1/p' "$tmp/compact.log")
    [ -n "$t" ] || die "no summary from tidemark compact: $(cat "$tmp/compact.log")"
    tput+=("$t")
done
"$TM" verify --journal "$zj" --quiet >/dev/null || die "verify of the compacted journal failed"

tables=()
for t in public.users public.email_prefs public.ui_prefs public.ai_config; do tables+=(--table "$t"); done
log "replaying the LZ4 and the compacted journal, $RUNS times each"
rl=() rz=()
for r in $(seq 1 "$RUNS"); do
    for kind in l z; do
        j=$lz4j
        [ $kind = z ] && j=$zj
        /usr/bin/time -f '%e' -o "$tmp/time.$kind" \
            "$TM" replay --journal "$j" "${tables[@]}" --lsn FFFFFFFF/FFFFFFFF --no-checkpoint \
            --format sql --force --output "$tmp/out.$kind" \
            2>"$tmp/replay.$kind.log" >/dev/null || die "replay failed: $(cat "$tmp/replay.$kind.log")"
        if [ $kind = l ]; then rl+=("$(tail -1 "$tmp/time.l")"); else rz+=("$(tail -1 "$tmp/time.z")"); fi
    done
    cmp -s "$tmp/out.l" "$tmp/out.z" || die "replay of the compacted journal differs"
done

stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.2f (%.2f-%.2f)", m, v[1], v[NR]}'; }
med() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
ls_=$(segbytes "$lz4j") zs=$(segbytes "$zj") lsealed=$(sealed "$lz4j") zsealed=$(sealed "$zj")
echo "compaction, medium workload: $CHANGES changes, raw pgoutput $raw bytes, $RUNS runs (median (min-max))"
echo "  lz4 -1 of the raw stream (reference)        $(ratio "$lz4ref" "$raw")x"
echo "  LZ4 journal segments / raw pgoutput         $(ratio "$ls_" "$raw")x  ($ls_ bytes)"
echo "  compacted journal segments / raw pgoutput   $(ratio "$zs" "$raw")x  ($zs bytes; live tail of $((ls_ - lsealed)) bytes stays LZ4)"
echo "  sealed segments, compacted / LZ4            $(ratio "$zsealed" "$lsealed")x"
echo "  compaction throughput, MB of records/s      $(stats "${tput[@]}")"
echo "  replay wall s, LZ4 journal                  $(stats "${rl[@]}")"
echo "  replay wall s, compacted journal            $(stats "${rz[@]}")"
echo "  replay compacted / LZ4 (medians)            $(ratio "$(med "${rz[@]}")" "$(med "${rl[@]}")")x"
