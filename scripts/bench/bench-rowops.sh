#!/usr/bin/env bash
# Benchmark of replay's per-row building blocks (CSV/JSONL writing, --where
# matching, key sorting) on one core with synthetic preference rows.
# Usage: scripts/bench/bench-rowops.sh [ROWS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTIDEMARK_SANITIZE=OFF >/dev/null
cmake --build build-bench -j2 --target bench_rowops >/dev/null
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
"${pin[@]}" build-bench/scripts/bench/bench_rowops "${1:-1000000}"
