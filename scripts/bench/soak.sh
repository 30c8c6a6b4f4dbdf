#!/usr/bin/env bash
# The soak (not part of the test command; its one-minute form is ctest's
# test_fault_soak): MINUTES of a concurrent workload against a throwaway
# PostgreSQL with random faults of every kind that leaves the journal usable
# (kill -9, a torn tail after it, storage faults through the faultfs shim,
# connections cut, reset, down, frozen and slowed by the harness proxy, the
# server crashing, the walsender terminated), the exactly-once audit after
# every fault and replay against the live table plus verify every 20 faults
# and at the end. Prints the faults injected by kind, the transactions, lost
# and duplicated, capture's peak RSS and its open descriptors at start and
# end; exits 1 when anything was lost or duplicated.
#
# Environment:
#   MINUTES=30       how long
#   TM_FAULT_SEED=   repeat a run (its seed is printed first)
#   BUILD=build-soak build directory (RelWithDebInfo; configured and built here)
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=${MINUTES:-30}
build=${BUILD:-build-soak}
case $minutes in '' | *[!0-9]*) echo "soak.sh: MINUTES must be a whole number" >&2; exit 2 ;; esac
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target test_fault_soak tidemark tm_faultfs >/dev/null
echo "soak: $minutes minutes ($(date -u '+%Y-%m-%d %H:%M UTC'))"
TM_SOAK_SECONDS=$((minutes * 60)) "$build/tests/test_fault_soak"
