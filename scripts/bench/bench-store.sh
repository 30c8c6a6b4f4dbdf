#!/usr/bin/env bash
# Store benchmark: builds bench_store (Release), installs the lz4 tool when
# missing, and writes then reads ~1 million preference-table changes in a
# throwaway journal, with the lz4 tool on the same raw stream as reference.
# Usage: scripts/bench/bench-store.sh [--changes N] [--sync-every TX]
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v lz4 >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq lz4 >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq lz4 >/dev/null; }
fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTIDEMARK_SANITIZE=OFF >/dev/null
cmake --build build-bench -j2 --target bench_store >/dev/null
dir=$(mktemp -d "${TMPDIR:-/tmp}/tidemark-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), journal in $dir"
build-bench/scripts/bench/bench_store --dir "$dir/journal" "$@"
