#!/usr/bin/env bash
# The test command (README, CI): installs the dependencies, then configures,
# builds and runs the whole ctest suite twice: a normal build (build/) and an
# ASan+UBSan build (build-asan/), after the static checks of
# scripts/check-code.sh (clang-format, cppcheck, layers); then the fuzz
# targets (tests/fuzz) in a clang build with libFuzzer (build-fuzz/, label
# "fuzz": each fuzzed for a short fixed time, then its regression inputs).
# Tests labelled "pg" start their own throwaway PostgreSQL clusters (as the
# postgres OS user when root): 15 for the full suite, and 14, 16, 17, 18
# (installed and cached by scripts/pg-builds.sh) for the version matrix
# (label matrix, normal build only).
#
# Usage: scripts/test.sh [--quick] [CTEST_ARGS...]
#   --quick      the normal build only
#   CTEST_ARGS   passed to ctest, e.g. -L unit, -L pg, -L fault, -R pg_harness
# TM_JOBS: parallel build and test jobs (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

builds=("build:-DTIDEMARK_SANITIZE=OFF" "build-asan:-DTIDEMARK_SANITIZE=ON")
if [ "${1:-}" = "--quick" ]; then
    builds=("${builds[0]}")
    shift
fi
jobs=${TM_JOBS:-2}
if [ ${#builds[@]} -gt 1 ]; then
    builds+=("build-fuzz:-DTIDEMARK_FUZZ=ON -DCMAKE_C_COMPILER=clang")
fi

scripts/install-deps.sh
# The server builds of the version matrix (cached; a no-op when present).
scripts/pg-builds.sh

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# One line per test binary: Check's own summary ("100%: Checks: ..."), or a
# fuzz target's ("fuzz NAME: runs ..., crashes 0"), from
# the log where ctest keeps every test's output (it shows output only on
# failure).
check_summaries() {
    awk '/^[0-9]+\/[0-9]+ Test: / { name = $3; seen[name] = 0 }
         /^[0-9]+%: Checks: / { print "  " name ": " $0; seen[name] = 1 }
         /^demo: OK$/ { print "  " name ": " $0; seen[name] = 1 }
         /^app: (OK|FAILED)/ { print "  " name ": " $0; seen[name] = 1 }
         /^fuzz [a-z_]+: / { print "  " name ": " $0; seen[name] = 1 }
         END { for (n in seen) if (!seen[n]) print "  " n ": no Check summary (crashed or not run)" }' \
        "$1/Testing/Temporary/LastTest.log" | sort
}

# The fault suite's matrix (tests/fault): one line per kind of fault, with
# the faults injected, transactions checked, lost and duplicated.
fault_matrix() {
    grep -h '^fault-matrix:' "$1/Testing/Temporary/LastTest.log" 2>/dev/null | sed 's/^/  /' || true
}

status=0
t_all=$SECONDS
echo "== checks (format, cppcheck, layers)"
scripts/check-code.sh || status=1
for b in "${builds[@]}"; do
    dir=${b%%:*}
    flag=${b#*:}
    t0=$SECONDS
    echo "== $dir ($flag)"
    mkdir -p "$dir"
    # shellcheck disable=SC2086 # $flag: one or more options
    if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo $flag >"$dir/configure.log" 2>&1 ||
        ! cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1; then
        cat "$dir/configure.log" "$dir/build.log" 2>/dev/null | tail -60
        echo "== $dir: configure or build FAILED (logs: $dir/configure.log, $dir/build.log)"
        status=1
        continue
    fi
    echo "built in $((SECONDS - t0)) s"
    # The version matrix (label matrix: the core PostgreSQL suites on 14, 16,
    # 17, 18; about 5 minutes on 2 cores) runs in the normal build only: the
    # sanitizers check our code, which is the same against every major, and
    # would double that time.
    skip=()
    [ "$dir" = build ] || skip=(-LE matrix)
    (cd "$dir" && ctest --output-on-failure -j"$jobs" "${skip[@]}" "$@") || status=1
    echo "Check summaries ($dir):"
    check_summaries "$dir"
    echo "Fault matrix ($dir):"
    fault_matrix "$dir"
    echo "== $dir: $((SECONDS - t0)) s"
done
if [ $status -eq 0 ]; then
    echo "== all green in $((SECONDS - t_all)) s"
else
    echo "== FAILED (see above) after $((SECONDS - t_all)) s"
fi
exit $status
