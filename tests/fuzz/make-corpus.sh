#!/usr/bin/env bash
# Regenerates the committed seed corpus, tests/fuzz/corpus/<target>/, from
# real examples: the pgoutput messages recorded from PostgreSQL
# (tests/data/*.hex), the --where expressions and rows of tests/data, the
# time forms the unit tests use, and the files of a journal written by the
# test harness (segments, frames, journal.meta, confirmed.mark,
# checkpoints, key summaries, row counts; BUILD/tests/fuzz/fuzz_corpus_journal
# writes it and tidemark checkpoint and log add the caches). Each file is
# named by the SHA-1 of its content, as libFuzzer names what it finds.
#
# Usage: tests/fuzz/make-corpus.sh BUILD     (a gcc build dir, built)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: tests/fuzz/make-corpus.sh BUILD" >&2; exit 2; }
cd "$(dirname "$0")/../.."
build=$(cd "$1" && pwd)
out=tests/fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The journal of the test harness, its caches made by tidemark checkpoint.
mkdir -p "$tmp/frames"
journal=$(CK_FORK=no "$build/tests/fuzz/fuzz_corpus_journal" "$tmp/frames" | sed -n 's/^journal: //p')
[ -d "$journal" ] || { echo "make-corpus: fuzz_corpus_journal wrote no journal" >&2; exit 1; }
trap 'rm -rf "$tmp" "$journal"' EXIT
"$build/tidemark" checkpoint --journal "$journal" --every 10 --quiet
"$build/tidemark" verify --journal "$journal" --quiet >/dev/null

python3 - "$out" "$journal" "$tmp/frames" <<'PY'
import glob, hashlib, os, struct, sys
out, journal, frames = sys.argv[1:]

def put(target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), 'wb') as f:
        f.write(data)

def reset(target):
    d = os.path.join(out, target)
    if os.path.isdir(d):
        for n in os.listdir(d):
            os.remove(os.path.join(d, n))

def read(path):
    with open(path, 'rb') as f:
        return f.read()

def parts(*files):
    return b''.join(struct.pack('>H', len(x)) + x for x in files)

# pgoutput: each transaction (or streamed chunk) as the messages capture
# receives, each behind its u16 length; at most 12 messages of each, so
# that the big streamed ones stay small.
reset('pgoutput')
ends = (b'C', b'E', b'c', b'A')
for fx in ('tests/data/pgoutput_v1.hex', 'tests/data/pgoutput_stream_v2.hex'):
    chunk = []
    for line in open(fx):
        m = bytes.fromhex(line.strip())
        chunk.append(m)
        if m[:1] in ends:
            put('pgoutput', parts(*chunk))
            chunk = []
        elif len(chunk) == 12:  # a long one: keep its Begin (or Stream Start)
            chunk = chunk[:1] if chunk[0][:1] in (b'B', b'S') else []

# where: every expression of tests/data/where_expected.tsv, some with a row.
reset('where')
row = b'\x0042\nbob@example.com\nW\n-0.5\nNaN\nf\n2026-01-01 00:00:00+01\n2000-02-29\n' \
      b'{"n": [1, 2.5e3, "x"], "ui": {"lang": null}}\n[]\nab\n' \
      b'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\n\\N'
for i, line in enumerate(open('tests/data/where_expected.tsv', 'rb')):
    expr = line.rstrip(b'\n').split(b'\t')[0]
    if expr:
        put('where', expr + (row if i % 3 == 0 else b''))

# time: the forms the unit tests accept and refuse, some with a zone.
reset('time')
forms = ['2026-11-22 14:03:12', '2026-11-22T14:03:12.123456Z', '2026-1-2',
         '2026-11-22 14:03:12+05:30', '2026-11-22 14:03:12-0800', '2026-11-22 14:03:12-8',
         '2026-11-22 14:03:12+05:30:15', '2026-11-22 24:00:00', '2026-11-22 23:59:60',
         '2024-02-29', '0044-03-15 00:00:00+00 BC', '0001-01-01 AD', '4714-11-24 BC',
         '10000-01-01 00:00:00+00', '294276-12-31 23:59:59.999999+00', '2026-11-22 14:03',
         '2026-11-22 14:03:12.1234567', '2026-02-30', '2026-11-22 14:03:12+16', '2026/11/22']
for f in forms:
    put('time', f.encode())
for z in ('Europe/Paris', 'America/New_York', 'Asia/Kolkata', '+05:30', 'UTC'):
    put('time', z.encode() + b'\0' + b'2026-03-29 02:30:00')
    put('time', z.encode() + b'\0' + b'2026-10-25 02:30')

for t in ('segment', 'frame', 'meta', 'mark', 'checkpoint', 'keysum', 'rowcount'):
    reset(t)
segs = sorted(glob.glob(os.path.join(journal, '*.seg')))
idx = {s: s[:-4] + '.idx' for s in segs}
files = []
for s in segs:
    files += [read(s), read(idx[s]) if os.path.exists(idx[s]) else b'']
# segment: the whole journal (sealed, with writer and mark), each segment alone
put('segment', b'\x01' + parts(*files))
put('segment', b'\x07' + parts(*files))
for i, s in enumerate(segs):
    put('segment', b'\x03' + parts(files[2 * i], files[2 * i + 1]))
for f in sorted(os.listdir(frames)):
    put('frame', read(os.path.join(frames, f)))
put('meta', read(os.path.join(journal, 'journal.meta')))
put('mark', b'\x01' + read(os.path.join(journal, 'confirmed.mark')))
for c in sorted(glob.glob(os.path.join(journal, 'checkpoints', '*.ckpt')))[::4]:
    put('checkpoint', b'\x01' + read(c))
for k in sorted(glob.glob(os.path.join(journal, '*.keys'))):
    put('keysum', b'\x01' + read(k))
put('rowcount', b'\x01' + read(os.path.join(journal, 'rowcounts')))
PY

for t in "$out"/*/; do
    echo "$(basename "$t"): $(find "$t" -type f | wc -l) files, $(find "$t" -type f -printf "%s\n" | awk "{ s += \$1 } END { print s }") bytes"
done
