#!/usr/bin/env bash
# Installs every build and test dependency of tidemark with apt (Debian 12).
# Idempotent: when everything is installed it does nothing, not even
# apt-get update.
set -euo pipefail

packages=(build-essential cmake pkg-config libpq-dev liblz4-dev libzstd-dev libprotobuf-c-dev
          protobuf-c-compiler check uthash-dev postgresql-15 postgresql-client-15
          libmicrohttpd-dev prometheus clang-format cppcheck git
          libcurl4-openssl-dev libxml2-dev libssl-dev
          swift swift-proxy swift-account swift-container swift-object
          clang libclang-rt-14-dev  # the fuzz build: clang with libFuzzer
          python3-django python3-psycopg2)  # tests/app: the Django application test

missing=()
# npm fetches the PostgreSQL 14/16/17/18 server builds (scripts/pg-builds.sh);
# a Node.js installation may bring its own npm, so only its absence counts.
command -v npm >/dev/null || missing+=(npm)
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

command -v apt-get >/dev/null || {
    echo "install-deps: missing ${missing[*]} and no apt-get here; install them by hand (Debian 12 names)" >&2
    exit 1
}
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
        exit 1
    }
    SUDO=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
echo "install-deps: done"
