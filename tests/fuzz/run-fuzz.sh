#!/usr/bin/env bash
# Fuzzes one libFuzzer target for a fixed time on its committed corpus,
# then replays every regression input, and prints one summary line:
#   fuzz NAME: runs N in S s, exec/s X, corpus F files B bytes (+K new), crashes 0, regressions R
# New corpus entries go to WORK/NAME/corpus (the committed corpus is only
# read); a crash input lands in WORK/NAME/ and its report is shown: keep it
# in tests/fuzz/regressions/NAME/ with the fix (README.md).
#
# Usage: run-fuzz.sh BINARY NAME SECONDS SRCDIR WORK
# Exit status: 0 no crash, 1 a crash, a failed property or a leak.
set -uo pipefail
[ $# -eq 5 ] || { echo "usage: run-fuzz.sh BINARY NAME SECONDS SRCDIR WORK" >&2; exit 2; }
bin=$1 name=$2 secs=$3 src=$4 work=$5/$name
corpus=$src/corpus/$name regress=$src/regressions/$name
mkdir -p "$work/corpus"
log=$work/fuzz.log
# The targets' scratch files, removed also when a crash skips their cleanup.
shm=/dev/shm
[ -w $shm ] || shm=${TMPDIR:-/tmp}
TM_FUZZ_TMPDIR=$(mktemp -d "$shm/tidemark-fuzz-$name.XXXXXX")
export TM_FUZZ_TMPDIR
trap 'rm -rf "$TM_FUZZ_TMPDIR"' EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}:halt_on_error=1"
dirs=("$work/corpus")
[ -d "$corpus" ] && dirs+=("$corpus")
before=$(find "$work/corpus" -type f | wc -l)

# -timeout: an input taking 10 s is a hang; -max_len: the largest seed or 64 kB.
maxlen=65536
[ -d "$corpus" ] && big=$(find "$corpus" -type f -printf '%s\n' | sort -n | tail -1) &&
    [ "${big:-0}" -gt $maxlen ] && maxlen=$big
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$maxlen \
    -print_final_stats=1 -artifact_prefix="$work/" "${dirs[@]}" >"$log" 2>&1
rc=$?

runs=$(awk '/stat::number_of_executed_units:/ { n = $2 } END { print n }' "$log")
eps=$(awk '/stat::average_exec_per_sec:/ { n = $2 } END { print n }' "$log")
new=$(($(find "$work/corpus" -type f | wc -l) - before))
files=0 bytes=0
for d in "${dirs[@]}"; do
    files=$((files + $(find "$d" -type f | wc -l)))
    bytes=$((bytes + $(find "$d" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')))
done

crashes=0
if [ $rc -ne 0 ]; then
    crashes=1
    echo "fuzz $name: the fuzzer failed (exit $rc); its report:"
    grep -v '^#[0-9]' "$log" | tail -60
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null
fi

# Every crash input ever found, replayed (libFuzzer runs files given by name once).
nreg=0
if [ -d "$regress" ]; then
    mapfile -t inputs < <(find "$regress" -type f ! -name '.*' | sort)
    nreg=${#inputs[@]}
    if [ "$nreg" -gt 0 ] && ! "$bin" "${inputs[@]}" >"$work/regressions.log" 2>&1; then
        echo "fuzz $name: a regression input fails again:"
        tail -60 "$work/regressions.log"
        crashes=$((crashes + 1))
    fi
fi

echo "fuzz $name: runs ${runs:-0} in $secs s, exec/s ${eps:-0}, corpus $files files $bytes bytes (+$new new), crashes $crashes, regressions $nreg replayed"
[ $crashes -eq 0 ]
