#!/usr/bin/env bash
# Re-records tests/data/pgoutput_v1.hex and tests/data/pgoutput_stream_v2.hex:
# starts a throwaway PostgreSQL 15 cluster in a temp dir, runs
# tests/data/pgoutput_workload.sql, and writes the raw pgoutput messages
# peeked from its slots as hex, one message per line. The cluster is stopped
# and removed afterwards. Run as root (initdb runs as user postgres) or as an
# ordinary user. See tests/data/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
data=tests/data

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

tmp=$(mktemp -d /tmp/tm-fixture.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres "$tmp"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
    as_pg "$PGBIN/pg_ctl" -D "$tmp/db" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

as_pg "$PGBIN/initdb" -D "$tmp/db" -U postgres -A trust --no-sync >/dev/null
cat >>"$tmp/db/postgresql.conf" <<CONF
wal_level = logical
max_replication_slots = 4
listen_addresses = ''
unix_socket_directories = '$tmp'
port = $port
fsync = off
CONF
as_pg "$PGBIN/pg_ctl" -D "$tmp/db" -l "$tmp/log" -w start >/dev/null

psql_pg() { as_pg psql -X -q -At -h "$tmp" -p "$port" -U postgres -d postgres "$@"; }

cp "$data/pgoutput_workload.sql" "$tmp/workload.sql"
chmod 644 "$tmp/workload.sql"
big_start=$(psql_pg -f "$tmp/workload.sql" | sed -n 's/^BIG_START //p')

psql_pg -c "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('s', '$big_start', NULL,
    'proto_version', '1', 'publication_names', 'p', 'messages', 'true')" >"$data/pgoutput_v1.hex"
psql_pg -c "SET logical_decoding_work_mem = '64kB'" \
        -c "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('s2', NULL, NULL,
    'proto_version', '2', 'publication_names', 'p', 'messages', 'true', 'streaming', 'on')" \
        >"$data/pgoutput_stream_v2.hex"
echo "recorded $(wc -l <"$data/pgoutput_v1.hex") v1 and $(wc -l <"$data/pgoutput_stream_v2.hex") v2 messages"
