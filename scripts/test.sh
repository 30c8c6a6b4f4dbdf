#!/usr/bin/env bash
# The test command: installs dependencies, then configures, builds and runs
# the whole ctest suite twice: a normal build and an ASan+UBSan build.
# Usage: scripts/test.sh [--quick]   (--quick: the normal build only)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

builds=("build:-DTIDEMARK_SANITIZE=OFF" "build-asan:-DTIDEMARK_SANITIZE=ON")
[ "${1:-}" = "--quick" ] && builds=("${builds[0]}")

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for b in "${builds[@]}"; do
    dir=${b%%:*}
    flag=${b#*:}
    echo "== $dir ($flag)"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$flag" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
    (cd "$dir" && ctest --output-on-failure -j2) || status=1
done
exit $status
