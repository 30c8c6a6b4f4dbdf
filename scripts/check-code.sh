#!/usr/bin/env bash
# The static checks of the test command, each ending in one summary line:
#   format   clang-format --dry-run -Werror with the committed .clang-format
#   cppcheck warnings, portability and performance (suppressions below)
#   layers   scripts/check-layers.sh (includes go along the layers)
# Usage: scripts/check-code.sh    Exit status: 0 all clean, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find store capture replay tests scripts proto -name '*.[ch]')
status=0

out=$(clang-format --dry-run -Werror "${files[@]}" 2>&1)
drift=$(grep -c 'error:' <<<"$out" || true)
if [ "$drift" -ne 0 ]; then
    grep 'error:' <<<"$out" | cut -d: -f1 | sort | uniq -c | sed 's/^/  /'
    echo "  fix: clang-format -i FILE..."
    status=1
fi
echo "check-code: format: ${#files[@]} files, $drift lines off the committed style"

# Suppressed, with why:
#   varFuncNullUB  the tests end argument lists with NULL, as execl does;
#                  glibc defines NULL as ((void *)0)
#   missingInclude(System)  system and generated headers are not analysed
out=$(cppcheck --quiet --enable=warning,portability,performance --std=c11 -D_GNU_SOURCE -I. \
    --inline-suppr --suppress=varFuncNullUB --suppress=missingInclude \
    --suppress=missingIncludeSystem --template='{file}:{line}: {severity}: {message} [{id}]' \
    -j2 "${files[@]}" 2>&1)
findings=$(grep -c ': \(error\|warning\|portability\|performance\): ' <<<"$out" || true)
[ "$findings" -eq 0 ] || { echo "$out"; status=1; }
echo "check-code: cppcheck: ${#files[@]} files, $findings findings"

scripts/check-layers.sh | tail -n 30 || status=1
exit $status
