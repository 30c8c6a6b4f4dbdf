#!/usr/bin/env bash
# Benchmark: tidemark replay of one table at a time T from the local journal
# and from its archive (--journal s3://..., ranged GETs), side by side on the
# same journal, against a real S3 server on loopback (OpenStack Swift + s3api,
# tests/harness/swift-s3.py; Debian's swift packages must be installed, as
# scripts/test.sh does).
#
#   scripts/bench/bench-archive-read.sh [CHANGES]        (default 300000)
#
# A throwaway cluster gets a preference table (50,000 users x 10 keys,
# REPLICA IDENTITY FULL) and a journal (segments of 8 MB, a checkpoint at
# the end); a workload makes CHANGES row changes in transactions of ~6
# rows; T is the middle of the workload. The journal is archived once
# (tidemark archive --once). Then, RUNS=5 times each, in turn:
#   local:   tidemark replay --journal DIR --at T --table public.prefs
#   ref:     the same with the binary $TM_REF (when set: a build of another
#            commit, to compare the local read path before and after)
#   archive: tidemark replay --journal s3://bench/j --at T (no cache: every
#            run fetches what it reads)
#   cached:  the same with --cache-dir (warmed by one run before)
# Prints the median wall time and the range of each, the requests and bytes
# an archive run fetched, and checks that every CSV is identical.
# Everything lives in a temp dir removed at the end (TM_BENCH_KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/../.."
CHANGES=${1:-300000}
RUNS=${RUNS:-5}
USERS=50000

say() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a - b }'; }
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %.3f s (%.3f-%.3f, %d runs)", v[int((NR + 1) / 2)], v[1], v[NR], NR }'; }

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DTIDEMARK_SANITIZE=OFF >/dev/null
cmake --build build-bench -j2 --target tidemark >/dev/null
TM=$PWD/build-bench/tidemark

root=$(mktemp -d /tmp/tidemark-bench-XXXXXX)
chmod 755 "$root"
cleanup() {
    tests/harness/swift-s3.py destroy "$root/s3" >/dev/null 2>&1 || true
    scripts/pg-throwaway.sh stop "$root/pg" >/dev/null 2>&1 || true
    if [ "${TM_BENCH_KEEP:-0}" = 1 ]; then say "kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT

scripts/pg-throwaway.sh start "$root/pg" >/dev/null
eval "$(scripts/pg-throwaway.sh env "$root/pg")"
bindir=${TM_PG_BINDIR:-/usr/lib/postgresql/15/bin}
psql_() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

say "== setup: $USERS users x 10 preference keys, $CHANGES changes, journal, archive"
psql_ -d postgres -c "CREATE DATABASE bench"
psql_ -d bench <<SQL
CREATE TABLE prefs (user_id int, key text, value jsonb, updated_at timestamptz,
                    PRIMARY KEY (user_id, key));
ALTER TABLE prefs REPLICA IDENTITY FULL;
CREATE TABLE bench_marks (label text PRIMARY KEY, t timestamptz);
INSERT INTO prefs SELECT u, k, jsonb_build_object('v', 0, 'theme', 'dark', 'on', u % 2 = 0),
                         '2026-01-01 00:00:00+00'
  FROM generate_series(1, $USERS) u,
       unnest(ARRAY['theme','lang','tz','density','beta','sounds','digest','ai.model',
                    'ai.temperature','notifications']) k;
CREATE PROCEDURE workload(n_tx int, users int)
LANGUAGE plpgsql AS \$\$
DECLARE u int;
BEGIN
    FOR i IN 1..n_tx LOOP
        u := 1 + (random() * (users - 4))::int;
        UPDATE prefs SET value = jsonb_set(value, '{v}', to_jsonb(i)), updated_at = clock_timestamp()
         WHERE user_id BETWEEN u AND u + 1 AND key IN ('theme', 'lang', 'tz', 'density');
        DELETE FROM prefs WHERE user_id = u + 2 AND key = 'beta';
        INSERT INTO prefs VALUES (u + 3, 'beta', jsonb_build_object('on', true, 'i', i),
                                  clock_timestamp())
            ON CONFLICT (user_id, key) DO UPDATE SET value = EXCLUDED.value;
        COMMIT;
        IF i = n_tx / 2 THEN
            INSERT INTO bench_marks VALUES ('middle', clock_timestamp());
            COMMIT;
        END IF;
    END LOOP;
END
\$\$;
SQL
conninfo="host=$PGHOST port=$PGPORT user=postgres dbname=bench"
j=$root/journal
cap() {
    local lsn
    lsn=$(psql_ -d bench -Atc "SELECT pg_current_wal_lsn()")
    "$TM" capture --journal "$j" --source "$conninfo" --table prefs --segment-size 8 \
        --checkpoint-every 0 --endpos "$lsn" 2>>"$root/capture.log"
}
cap
psql_ -d bench -c "CALL workload($((CHANGES / 6)), $USERS)"
cap
"$TM" checkpoint --journal "$j" 2>/dev/null
T=$(psql_ -d bench -Atc "SELECT t FROM bench_marks WHERE label = 'middle'")

endpoint=$(tests/harness/swift-s3.py start "$root/s3" $$)
export TIDEMARK_S3_ENDPOINT=$endpoint AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
# the bucket: an S3 PUT signed with SigV4 (the key holds a colon, which
# curl's --user cannot take)
python3 - "$endpoint" <<'PY'
import datetime, hashlib, hmac, sys, urllib.request
ep, key, secret, region = sys.argv[1], "test:tester", "testing", "us-east-1"
host = ep.split("//", 1)[1]
now = datetime.datetime.utcnow()
amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
empty = hashlib.sha256(b"").hexdigest()
canon = "PUT\n/bench\n\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\nhost;x-amz-content-sha256;x-amz-date\n%s" % (host, empty, amz, empty)
scope = "%s/%s/s3/aws4_request" % (day, region)
sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz, scope, hashlib.sha256(canon.encode()).hexdigest())
k = ("AWS4" + secret).encode()
for part in (day, region, "s3", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s" % (key, scope, sig)
req = urllib.request.Request(ep + "/bench", method="PUT", headers={
    "x-amz-content-sha256": empty, "x-amz-date": amz, "Authorization": auth})
urllib.request.urlopen(req).read()
PY
"$TM" archive --journal "$j" --to s3://bench/j --once 2>"$root/archive.log"
segs=$(ls "$j"/*.seg | wc -l)
say "journal: $(du -sh "$j" | cut -f1), $segs segments; T = $T"

run() { # label args...: one timed replay, CSV into $root/out.label
    local label=$1 t0 t1
    shift
    t0=$(now)
    "$@" --at "$T" --table public.prefs >"$root/out.$label" 2>"$root/err.$label"
    t1=$(now)
    minus "$t1" "$t0" >>"$root/times.$label"
    cmp -s "$root/out.$label" "$root/out.local" || { say "$label: the CSV differs from local"; exit 1; }
}
"$TM" replay --journal "$j" --at "$T" --table public.prefs >"$root/out.local"
"$TM" replay --journal s3://bench/j --cache-dir "$root/cache" --at "$T" --table public.prefs >/dev/null
for i in $(seq "$RUNS"); do
    run local "$TM" replay --journal "$j"
    [ -z "${TM_REF:-}" ] || run ref "$TM_REF" replay --journal "$j"
    run archive "$TM" replay --journal s3://bench/j --verbose
    run cached "$TM" replay --journal s3://bench/j --cache-dir "$root/cache"
done
for l in local ref archive cached; do
    [ -f "$root/times.$l" ] && printf '%-8s %s\n' "$l" "$(stats <"$root/times.$l")"
done
grep -o '[0-9]* requests, [0-9]* bytes read of [0-9]* archived' "$root/err.archive" | tail -1 |
    sed 's/^/archive run fetched: /'
echo "rows: $(($(wc -l <"$root/out.local") - 1)), every CSV identical"
