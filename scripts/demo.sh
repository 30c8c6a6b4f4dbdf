#!/usr/bin/env bash
# The tidemark demo: a throwaway PostgreSQL with the preference tables of a
# typical app, capture running as a sidecar, a short workload that says who
# does what, a bad migration, then the incident response: find it, look at
# one user's history, see the rows as they were, undo it, and check that
# exactly the damage is gone while later legitimate changes stayed.
#
# Installs what is missing, builds, cleans up after itself. About a minute.
# Usage: scripts/demo.sh [--keep]   (--keep: leave the cluster and journal)
# TIDEMARK=path/to/tidemark: use that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[ "${1:-}" = "--keep" ] && keep=true

if [ -n "${TIDEMARK:-}" ]; then
    TM=$TIDEMARK # a built binary (the test suite runs the demo this way)
else
    scripts/install-deps.sh
    echo "Building tidemark..."
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc)" --target tidemark >/dev/null
    TM=$PWD/build/tidemark
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tidemark-demo-XXXXXX")
chmod 755 "$work"
capture_pid=""
cleanup() {
    [ -n "$capture_pid" ] && kill -TERM "$capture_pid" 2>/dev/null && wait "$capture_pid" 2>/dev/null
    if $keep; then
        echo "Kept: cluster in $work/pg (scripts/pg-throwaway.sh stop $work/pg), journal in $work/journal"
    else
        scripts/pg-throwaway.sh stop "$work/pg" >/dev/null 2>&1 || true
        rm -rf "$work"
    fi
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
# For a command run in the background (cmd &): the subshell becomes the
# command, so $! is its pid and a signal sent there reaches it.
show_exec() { printf '\033[2m$ %s\033[0m\n' "$*"; exec "$@"; }

step "A throwaway PostgreSQL 15 (wal_level=logical) in $work/pg"
scripts/pg-throwaway.sh start "$work/pg" >/dev/null
eval "$(scripts/pg-throwaway.sh env "$work/pg")"
export PGDATABASE=app
createdb app
src="host=$PGHOST port=$PGPORT user=$PGUSER dbname=app"
q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

step "The app's preference tables, 200 users"
q <<'SQL'
CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL UNIQUE, name text);
CREATE TABLE email_preferences (user_id int REFERENCES users ON DELETE CASCADE,
    kind text, enabled boolean NOT NULL, PRIMARY KEY (user_id, kind));
CREATE TABLE ui_preferences (user_id int PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    prefs jsonb NOT NULL);
CREATE TABLE ai_config (user_id int PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    model text, temperature numeric(3,2), system_prompt text);
INSERT INTO users SELECT g, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, 200) g;
INSERT INTO email_preferences SELECT g, k, (g + length(k)) % 3 <> 0
  FROM generate_series(1, 200) g, unnest(ARRAY['marketing', 'product', 'security']) k;
INSERT INTO ui_preferences SELECT g, jsonb_build_object('theme', CASE WHEN g % 4 = 0 THEN 'dark' ELSE 'light' END,
  'notifications', jsonb_build_object('email', g % 2 = 0, 'push', g % 3 = 0), 'density', 'comfortable')
  FROM generate_series(1, 200) g;
INSERT INTO ai_config SELECT g, 'gpt-small', 0.7, 'You are a helpful assistant.' FROM generate_series(1, 200) g;
SQL
q -f scripts/context.sql >/dev/null
echo "users, email_preferences, ui_preferences (jsonb), ai_config; tidemark_context() installed"

step "tidemark capture, as a sidecar"
show_exec "$TM" capture --journal "$work/journal" --source "$src" --table users \
    --table email_preferences --table ui_preferences --table ai_config \
    --set-replica-identity-full --status-interval 5 >"$work/capture.log" 2>&1 &
capture_pid=$!
for _ in $(seq 1 100); do
    [ "$(q -c "SELECT count(*) FROM pg_replication_slots WHERE active")" = 1 ] && break
    sleep 0.1
done
head -3 "$work/capture.log"

step "A morning of normal work, each transaction saying who and why"
q <<'SQL'
BEGIN; SELECT tidemark_context('{"user": "alice", "via": "settings page", "request": "r-101"}');
  UPDATE ui_preferences SET prefs = jsonb_set(prefs, '{theme}', '"dark"') WHERE user_id = 42;
COMMIT;
BEGIN; SELECT tidemark_context('{"user": "bob", "via": "settings page", "request": "r-102"}');
  UPDATE email_preferences SET enabled = false WHERE user_id = 42 AND kind = 'product';
COMMIT;
BEGIN; SELECT tidemark_context('{"user": "carol", "via": "admin", "request": "r-103"}');
  UPDATE ai_config SET model = 'gpt-large', temperature = 0.2 WHERE user_id IN (7, 42);
COMMIT;
BEGIN; SELECT tidemark_context('{"user": "signup-service", "request": "r-104"}');
  INSERT INTO users VALUES (201, 'new@example.com', 'New User');
  INSERT INTO ui_preferences VALUES (201, '{"theme": "light", "notifications": {"email": true, "push": false}}');
COMMIT;
SQL
sleep 1.1
before=$(q -c "SELECT clock_timestamp()")
sleep 0.1
# What the tables held just before the migration, to check the undo against.
q -c "CREATE TABLE demo_check_ui AS SELECT * FROM ui_preferences;
      CREATE TABLE demo_check_email AS SELECT * FROM email_preferences"
echo "4 transactions; the time before the migration: $before"

step "The bad migration (a deploy script with a bug)"
xid=$(q <<'SQL' | tail -1
BEGIN;
SELECT tidemark_context('{"user": "deploy-bot", "reason": "migration 0042: drop legacy notification flags"}');
UPDATE ui_preferences SET prefs = prefs - 'notifications';
DELETE FROM email_preferences WHERE kind = 'marketing';
SELECT txid_current() % 4294967296;
COMMIT;
SQL
)
echo "UPDATE ui_preferences SET prefs = prefs - 'notifications'   -- every user's notification settings gone"
echo "DELETE FROM email_preferences WHERE kind = 'marketing'     -- and all marketing opt-ins"

step "Life goes on: legitimate changes after the migration"
q <<'SQL'
BEGIN; SELECT tidemark_context('{"user": "dave", "via": "admin", "request": "r-105"}');
  UPDATE ai_config SET system_prompt = 'Answer briefly.' WHERE user_id = 7;
COMMIT;
BEGIN; SELECT tidemark_context('{"user": "signup-service", "request": "r-106"}');
  INSERT INTO users VALUES (202, 'later@example.com', 'Later User');
  INSERT INTO ui_preferences VALUES (202, '{"theme": "dark"}');
COMMIT;
SQL
echo "dave edits user 7's AI prompt; a new user signs up"
# The check copy gets the same legitimate changes: after the undo the
# preference tables must equal it exactly.
q -c "INSERT INTO demo_check_ui VALUES (202, '{\"theme\": \"dark\"}')"
end=$(q -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 100); do
    [ "$(q -c "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots")" = t ] && break
    sleep 0.1
done

step "1. Something is wrong. Which transactions changed the most rows?"
show "$TM" log --journal "$work/journal" --transactions --top 5

step "2. What happened to user 42's UI preferences?"
show "$TM" log --journal "$work/journal" --table public.ui_preferences --where "user_id = 42"

step "3. What did those rows look like before the migration?"
show "$TM" replay --journal "$work/journal" --at "$before" --table public.ui_preferences \
    --where "user_id IN (7, 42, 201, 202)" --format csv

step "4. Undo the migration: first the plan, checked against the database"
show "$TM" undo --journal "$work/journal" --xid "$xid" --apply "$src" --dry-run

step "5. Undo it for real (one transaction, conflict-checked)"
show "$TM" undo --journal "$work/journal" --xid "$xid" --apply "$src"

step "6. Check: the tables equal their state before the migration, plus the later changes"
diff_ui=$(q -c "SELECT count(*) FROM ((TABLE ui_preferences EXCEPT TABLE demo_check_ui)
                UNION ALL (TABLE demo_check_ui EXCEPT TABLE ui_preferences)) d")
diff_email=$(q -c "SELECT count(*) FROM ((TABLE email_preferences EXCEPT TABLE demo_check_email)
                   UNION ALL (TABLE demo_check_email EXCEPT TABLE email_preferences)) d")
prompt=$(q -c "SELECT system_prompt FROM ai_config WHERE user_id = 7")
echo "ui_preferences rows differing: $diff_ui; email_preferences rows differing: $diff_email"
echo "user 7's AI prompt (changed after the migration): $prompt"
if [ "$diff_ui" != 0 ] || [ "$diff_email" != 0 ] || [ "$prompt" != "Answer briefly." ]; then
    echo "demo: FAILED: the undo did not restore the pre-migration state" >&2
    exit 1
fi

kill -TERM "$capture_pid"
wait "$capture_pid" || true
capture_pid=""
step "Capture stopped cleanly; the journal verifies"
show "$TM" verify --journal "$work/journal"
echo
echo "demo: OK"
