#!/usr/bin/env python3
"""Walks a pg_recvlogical output file of pgoutput (proto_version 1) messages.

pg_recvlogical writes each message's payload followed by a '\\n'. pgoutput
messages are self-delimiting, so this parses every message completely (and
fails loudly if the file is not what we think), counts messages by type and
row changes, and optionally writes the raw message stream without the
separators (what a consumer receives as payloads) to --raw-out, so that it
can be compressed as a reference.

Prints one line of KEY=VALUE pairs for the shell.
"""
import argparse
import struct
import sys


def cstring(buf, pos):
    end = buf.index(b"\0", pos)
    return end + 1


def tuple_end(buf, pos):
    (natts,) = struct.unpack_from(">H", buf, pos)
    pos += 2
    for _ in range(natts):
        kind = buf[pos]
        pos += 1
        if kind in (0x74, 0x62):  # 't', 'b'
            (n,) = struct.unpack_from(">i", buf, pos)
            pos += 4 + n
        elif kind not in (0x6E, 0x75):  # 'n', 'u'
            raise ValueError("bad column kind %r at %d" % (kind, pos - 1))
    return pos


def message_end(buf, pos):
    """Returns the offset just past the message starting at pos."""
    t = buf[pos]
    p = pos + 1
    if t == 0x42:  # B: final lsn, commit ts, xid
        return p + 20
    if t == 0x43:  # C: flags, commit lsn, end lsn, commit ts
        return p + 25
    if t == 0x4F:  # O: origin lsn, name
        return cstring(buf, p + 8)
    if t == 0x52:  # R: relid, nspname, relname, replident, natts, columns
        p = cstring(buf, cstring(buf, p + 4))
        p += 1
        (natts,) = struct.unpack_from(">H", buf, p)
        p += 2
        for _ in range(natts):
            p = cstring(buf, p + 1) + 8
        return p
    if t == 0x59:  # Y: typid, nspname, typname
        return cstring(buf, cstring(buf, p + 4))
    if t == 0x49:  # I: relid, 'N', tuple
        if buf[p + 4] != 0x4E:
            raise ValueError("insert without N at %d" % pos)
        return tuple_end(buf, p + 5)
    if t == 0x55:  # U: relid, ['K'|'O' tuple], 'N' tuple
        p += 4
        if buf[p] in (0x4B, 0x4F):
            p = tuple_end(buf, p + 1)
        if buf[p] != 0x4E:
            raise ValueError("update without N at %d" % pos)
        return tuple_end(buf, p + 1)
    if t == 0x44:  # D: relid, 'K'|'O', tuple
        if buf[p + 4] not in (0x4B, 0x4F):
            raise ValueError("delete without K/O at %d" % pos)
        return tuple_end(buf, p + 5)
    if t == 0x54:  # T: nrels, options, relids
        (nrels,) = struct.unpack_from(">i", buf, p)
        return p + 5 + 4 * nrels
    if t == 0x4D:  # M: flags, lsn, prefix, length, content
        p = cstring(buf, p + 9)
        (n,) = struct.unpack_from(">i", buf, p)
        return p + 4 + n
    raise ValueError("unknown message type %r at %d" % (chr(t), pos))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--raw-out")
    args = ap.parse_args()
    with open(args.file, "rb") as f:
        buf = f.read()
    counts = {}
    raw_bytes = 0
    out = open(args.raw_out, "wb") if args.raw_out else None
    pos = 0
    size = len(buf)
    try:
        while pos < size:
            end = message_end(buf, pos)
            if end >= size or buf[end] != 0x0A:
                raise ValueError("no '\\n' separator after the message at %d" % pos)
            t = chr(buf[pos])
            counts[t] = counts.get(t, 0) + 1
            raw_bytes += end - pos
            if out:
                out.write(buf[pos:end])
            pos = end + 1
    except (ValueError, IndexError, struct.error) as e:
        sys.exit("pgoutput-stats: %s: not a pg_recvlogical pgoutput v1 stream: %s" % (args.file, e))
    if out:
        out.close()
    msgs = sum(counts.values())
    changes = counts.get("I", 0) + counts.get("U", 0) + counts.get("D", 0)
    print("raw_bytes=%d messages=%d changes=%d txns=%d inserts=%d updates=%d deletes=%d "
          "relations=%d logical_messages=%d truncates=%d"
          % (raw_bytes, msgs, changes, counts.get("B", 0), counts.get("I", 0), counts.get("U", 0),
             counts.get("D", 0), counts.get("R", 0), counts.get("M", 0), counts.get("T", 0)))


if __name__ == "__main__":
    main()
