#!/usr/bin/env bash
# The application test (ctest label "app"): a small Django project
# (tests/app/djproject) on a throwaway PostgreSQL with capture running.
# Its migrations add a table (which joins the capture set), add a NOT NULL
# field with a default, rename a field; app traffic goes through the
# request-context middleware (scripts/django/tidemark_django.py); then a bad
# data migration. Checked: log shows the migration and the requests'
# context; replay before the migration equals a copy of the tables taken
# then (the oracle); undo restores exactly the oracle with the later
# legitimate changes kept; a staging rebuild (replay --apply
# --create-tables into a fresh database) answers the app's own ORM queries
# as the source does and takes its writes; `manage.py test` passes.
#
# Prints one summary line, "app: OK (N checks)" or "app: FAILED: why", and
# exits 0 or 1. TIDEMARK: the binary (default build/tidemark).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
TIDEMARK=${TIDEMARK:-$root/build/tidemark}

fail() {
    echo "app: FAILED: $*" >&2
    exit 1
}
checks=0
ok() {
    checks=$((checks + 1))
    echo "ok $checks: $*"
}

# Debian's python3 has python3-django; a python3 earlier in PATH may not.
PY=
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import django, psycopg2' 2>/dev/null; then
        PY=$p
        break
    fi
done
[ -n "$PY" ] || fail "no python3 with django and psycopg2 (Debian: python3-django python3-psycopg2)"

export PYTHONDONTWRITEBYTECODE=1 # nothing written into the source tree
work=$(mktemp -d /tmp/tidemark-app.XXXXXX)
chmod 755 "$work" # the postgres user runs the server in it when we are root
capture_pid=
cleanup() {
    if [ -n "$capture_pid" ]; then
        kill "$capture_pid" 2>/dev/null || true
        wait "$capture_pid" 2>/dev/null || true
    fi
    "$root/scripts/pg-throwaway.sh" stop "$work/pg" >/dev/null 2>&1 || true
    [ -n "${KEEP:-}" ] && { echo "kept $work"; return; }
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "app: FAILED: line $LINENO: $BASH_COMMAND" >&2; [ -f "$work/capture.log" ] && tail -20 "$work/capture.log" >&2' ERR

"$root/scripts/pg-throwaway.sh" start "$work/pg" >/dev/null
eval "$("$root/scripts/pg-throwaway.sh" env "$work/pg")"
J=$work/journal
sql() { psql -X -q -v ON_ERROR_STOP=1 -At -d "${DB:-app}" "$@"; }
manage() { (cd "$here/djproject" && APP_DB=${DB:-app} "$PY" manage.py "$@" -v 0); }
csv() { sql -c "COPY (SELECT * FROM $1 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)"; }
now() { sql -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"; }
# Waits until capture has confirmed everything committed so far.
settle() {
    sql -c "SELECT pg_logical_emit_message(false, 'noise', 'x')" >/dev/null
    local lsn i
    lsn=$(sql -c "SELECT pg_current_wal_lsn()")
    for i in $(seq 600); do
        [ "$(sql -c "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'tidemark_app'")" = t ] && return 0
        sleep 0.1
    done
    tail -20 "$work/capture.log" >&2
    fail "capture did not confirm $lsn"
}
replay_csv() { "$TIDEMARK" replay --journal "$J" --at "$1" --table "$2"; }

createdb app
# DDL timing exact (README: Schema changes): a rename is journaled at once.
sql -f "$root/scripts/ddl-messages.sql" >/dev/null
manage migrate prefs 0001
manage migrate auth
manage migrate sessions
manage seed 300

"$TIDEMARK" capture --journal "$J" --source "dbname=app" --table public.prefs_account \
    --table public.prefs_preference --set-replica-identity-full --fsync-interval-ms 20 \
    --status-interval 1 >"$work/capture.log" 2>&1 &
capture_pid=$!
for i in $(seq 300); do
    [ "$(sql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tidemark_app' AND active")" = 1 ] && break
    sleep 0.1
done

manage traffic early
# A migration that adds a table; the table joins the capture set.
manage migrate prefs 0002
sql -c "ALTER PUBLICATION tidemark ADD TABLE prefs_featureflag"
manage traffic flags
for i in $(seq 300); do
    settle
    "$TIDEMARK" status --journal "$J" | grep -q 'public.prefs_featureflag .*captured from' && break
    sleep 0.2
done
"$TIDEMARK" status --journal "$J" | grep -q 'public.prefs_featureflag .*captured from' ||
    fail "the added table never got its snapshot"
ok "a table created by a migration joined the capture set with a snapshot"
# ADD COLUMN ... DEFAULT 'en' NOT NULL then DROP DEFAULT; a rename.
manage migrate prefs 0003
manage migrate prefs 0004
manage traffic late
settle

# The oracle: the tables as they are before the bad migration.
sql -c "CREATE SCHEMA oracle;
        CREATE TABLE oracle.pref AS SELECT * FROM prefs_preference;
        CREATE TABLE oracle.flag AS SELECT * FROM prefs_featureflag;
        CREATE TABLE oracle.account AS SELECT * FROM prefs_account"
for t in prefs_preference prefs_featureflag prefs_account; do csv "$t" >"$work/before.$t.csv"; done
sleep 0.05
before=$(now)
sleep 0.05

manage migrate prefs 0005 # the bad one
manage traffic after
settle

# History: the migration is the biggest transaction, with its context.
top=$("$TIDEMARK" log --journal "$J" --transactions --top 1)
echo "$top" | grep -q 'migration 0005_dark_mode_for_all' && echo "$top" | grep -q deploy-bot ||
    fail "log --top 1 does not show the migration: $top"
ok "log --transactions --top 1 finds the migration with its context"
xid=$(echo "$top" | sed -n 's/.*xid \([0-9]*\).*/\1/p' | head -1)
[ -n "$xid" ] || fail "no xid in: $top"
hist=$("$TIDEMARK" log --journal "$J" --table public.prefs_preference --where "id = 7")
echo "$hist" | grep -q '"request": "req-7f3a"' && echo "$hist" | grep -q '"user": "alice"' &&
    echo "$hist" | grep -q 'theme: "green" -> "solarized"' ||
    fail "log of preference 7 lacks the request context: $hist"
ok "log shows the request context (user, request id) of an app write"
auto=$("$TIDEMARK" log --journal "$J" --table public.prefs_preference --where "id = 30")
echo "$auto" | grep -q '"request": "lang-30"' || fail "an autocommit write lost its context: $auto"
ok "an autocommit write carries its request's context"
! "$TIDEMARK" log --journal "$J" --all-messages | grep -q 'fail-8' &&
    [ "$(sql -c "SELECT theme FROM prefs_preference WHERE id = 8")" != half-written ] ||
    fail "the failed request's partial write was committed"
ok "a failed request committed nothing (and journaled nothing)"

# Replay before the migration is the oracle, byte for byte.
for t in prefs_preference prefs_featureflag prefs_account; do
    replay_csv "$before" "public.$t" >"$work/replay.$t.csv"
    cmp -s "$work/before.$t.csv" "$work/replay.$t.csv" || fail "replay of $t before the migration differs from the copy taken then"
done
ok "replay at the moment before the migration equals the copy taken then (3 tables)"

# Undo the migration; the later legitimate changes (other columns, other
# JSON keys, a flag) stay.
"$TIDEMARK" undo --journal "$J" --xid "$xid" --apply "dbname=app" --user oncall \
    --reason "revert 0005" >"$work/undo.out" 2>"$work/undo.err" ||
    fail "undo failed: $(cat "$work/undo.err")"
totals=$(grep -h 'restored' "$work/undo.err" "$work/undo.out" | tail -1)
[ -n "$totals" ] || fail "undo said no totals: $(cat "$work/undo.err")"
sql -c "UPDATE oracle.pref SET language = 'de',
               settings = jsonb_set(settings, '{notifications}', '\"on\"')
         WHERE id BETWEEN 50 AND 89;
        UPDATE oracle.flag SET enabled = true WHERE name = 'feature-4'"
for pair in prefs_preference:oracle.pref prefs_featureflag:oracle.flag prefs_account:oracle.account; do
    t=${pair%%:*}
    o=${pair#*:}
    csv "$t" | tail -n +2 >"$work/now.csv"
    csv "$o" | tail -n +2 >"$work/oracle.csv"
    cmp -s "$work/now.csv" "$work/oracle.csv" ||
        fail "after undo, $t differs from the oracle: $(diff "$work/oracle.csv" "$work/now.csv" | head -5)"
done
ok "undo restored the tables row-exact to the oracle, later changes kept ($totals)"
settle
"$TIDEMARK" log --journal "$J" --transactions | grep -q '"user": "oncall"' ||
    fail "log does not show the undo as such"
ok "log shows the undo with its own context"

# Replay now equals the tables now.
at=$(now)
for t in prefs_preference prefs_featureflag prefs_account; do
    replay_csv "$at" "public.$t" >"$work/replay.$t.csv"
    csv "$t" >"$work/now.$t.csv"
    cmp -s "$work/now.$t.csv" "$work/replay.$t.csv" || fail "replay of $t now differs from the table"
done
ok "replay now equals the tables (3 tables)"

# Staging: rebuilt from the journal, the app's own queries on it.
createdb staging
"$TIDEMARK" replay --journal "$J" --at "$at" --apply "dbname=staging" \
    --create-tables >/dev/null 2>"$work/staging.err" || fail "staging rebuild: $(cat "$work/staging.err")"
manage appcheck >"$work/app.check"
DB=staging manage appcheck >"$work/staging.check"
cmp -s "$work/app.check" "$work/staging.check" ||
    fail "the app's queries answer differently on staging: $(diff "$work/app.check" "$work/staging.check" | head -5)"
ok "the app's ORM queries answer on staging as on the source ($(wc -l <"$work/app.check") answers)"
DB=staging manage appcheck --write >/dev/null || fail "the app cannot write on staging (sequences?)"
ok "the app writes on staging (sequences set past the rows)"

manage test >"$work/test.out" 2>&1 || fail "manage.py test: $(tail -20 "$work/test.out")"
ok "manage.py test passes with the context middleware"

echo "app: OK ($checks checks)"
