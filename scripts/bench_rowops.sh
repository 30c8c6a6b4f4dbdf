#!/usr/bin/env bash
# Benchmark of replay's per-row building blocks (CSV/JSONL writing, --where
# matching, key sorting) on one core with synthetic preference rows.
# Usage: scripts/bench_rowops.sh [ROWS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTIDEMARK_SANITIZE=OFF >/dev/null
cmake --build build-bench -j2 --target tm_replay tm_store >/dev/null
cc -std=c11 -O2 -D_GNU_SOURCE -Ireplay -Istore scripts/bench_rowops.c \
    build-bench/replay/libtm_replay.a build-bench/store/libtm_store.a -o build-bench/bench_rowops
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
"${pin[@]}" build-bench/bench_rowops "${1:-1000000}"
