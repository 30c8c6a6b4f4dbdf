#!/usr/bin/env bash
# Installs every build and test dependency of tidemark with apt (Debian 12).
# Idempotent: runs apt-get update/install only when something is missing.
set -euo pipefail

packages=(build-essential cmake pkg-config libpq-dev liblz4-dev libprotobuf-c-dev
          protobuf-c-compiler check uthash-dev postgresql-15 postgresql-client-15 sudo procps)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
