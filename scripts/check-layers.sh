#!/usr/bin/env bash
# Checks that every #include "..." in the product's C code goes in the
# direction of the layers (README, "Developing"):
#
#   store/common <- store/journal <- store/archive, capture/*, replay/* <- the commands
#   (store/crypt, on store/common only, under store/archive)
#
# Each folder (a "room") may include its own headers and those of the rooms
# listed for it below, nothing else: no upward include, and no include
# across sibling rooms that must not know each other (capture and replay;
# keys and out; log and undo). A folder with C files that is not listed
# here is an error too, so a new room has to say where it stands.
#
# Usage: scripts/check-layers.sh [ROOT]    (default: this checkout)
# Exit status: 0 clean, 1 violations (each printed as FILE:LINE), 2 usage.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
[ -d "$root" ] || { echo "check-layers: no such directory: $root" >&2; exit 2; }
cd "$root"

base="store/common proto"
journal="$base store/journal"
declare -A allowed=(
    [store/common]="$base"
    [store/journal]="$journal"
    [store/crypt]="$base"
    [store/archive]="$journal store/crypt"
    [store/cli]="$base store/cli"
    [store]="$journal store/cli"
    [capture/source]="$journal"
    [capture/decode]="$journal capture/source"
    [capture/snapshot]="$journal capture/source capture/decode"
    [capture/monitor]="$journal capture/source"
    [capture/loop]="$journal capture/source capture/decode capture/snapshot capture/monitor"
    [capture]="$journal capture/source capture/decode capture/snapshot capture/monitor capture/loop store/archive store/crypt store/cli"
    [replay/query]="$journal"
    [replay/engine]="$journal replay/query"
    [replay/keys]="$journal replay/query replay/engine"
    [replay/out]="$journal replay/query replay/engine"
    [replay/log]="$journal replay/query replay/engine replay/keys replay/out"
    [replay/undo]="$journal replay/query replay/engine replay/out"
    [replay]="$journal replay/query replay/engine replay/keys replay/out replay/log replay/undo store/cli"
)

bad=0 files=0 includes=0
while IFS= read -r f; do
    files=$((files + 1))
    room=$(dirname "$f")
    if [ -z "${allowed[$room]+x}" ]; then
        echo "$f: folder $room is not a known layer; add it to scripts/check-layers.sh"
        bad=$((bad + 1))
        continue
    fi
    while IFS=: read -r line inc; do
        includes=$((includes + 1))
        dir=$(dirname "$inc")
        ok=0
        for a in $room ${allowed[$room]}; do
            [ "$dir" = "$a" ] && ok=1 && break
        done
        if [ $ok -eq 0 ]; then
            echo "$f:$line: includes \"$inc\": $room may include only: $room ${allowed[$room]}"
            bad=$((bad + 1))
        fi
    done < <(awk '/^[ \t]*#[ \t]*include[ \t]*"/ { split($0, q, "\""); print FNR ":" q[2] }' "$f")
done < <(find store capture replay -name '*.[ch]' | sort)

echo "check-layers: $files files, $includes includes, $bad violations"
[ $bad -eq 0 ]
