-- Workload behind tests/data/pgoutput_v1.hex and pgoutput_stream_v2.hex
-- (see tests/data/README.md). Every value is a literal so that the recorded
-- messages are the same on every run except LSNs, xids, oids and times.
\set ON_ERROR_STOP on

CREATE TYPE mood AS ENUM ('happy', 'sad');
-- REPLICA IDENTITY DEFAULT (primary key); note is stored out of line
-- uncompressed so a large value is TOASTed on disk.
CREATE TABLE prefs (id int PRIMARY KEY, email text NOT NULL, settings jsonb,
                    note text, m mood);
ALTER TABLE prefs ALTER COLUMN note SET STORAGE EXTERNAL;
-- REPLICA IDENTITY FULL: updates and deletes carry the whole old row.
CREATE TABLE prefs_full (id int PRIMARY KEY, big text, flag boolean,
                         score numeric(10,2));
ALTER TABLE prefs_full REPLICA IDENTITY FULL;
ALTER TABLE prefs_full ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE nocols ();
CREATE TABLE t2 (a int);
CREATE TABLE big_tx (id int PRIMARY KEY, v text);
CREATE PUBLICATION p FOR ALL TABLES;

SELECT 'init' FROM pg_create_logical_replication_slot('s', 'pgoutput');

-- 1: Relation(prefs), Type(mood), two inserts with NULLs and an empty string
INSERT INTO prefs VALUES (1, 'a@example.com', '{"theme": "dark"}', NULL, 'happy'),
                         (2, '', '{}', 'héllo', NULL);
-- 2: update without key change: no old tuple
UPDATE prefs SET settings = '{"theme": "light"}' WHERE id = 1;
-- 3: key change: old key tuple 'K'
UPDATE prefs SET id = 20 WHERE id = 2;
-- 4: delete: old key tuple 'K'
DELETE FROM prefs WHERE id = 20;
-- 5: a TOASTed value (4000 bytes, stored out of line), then an update that
-- leaves it unchanged: new tuple has 'u', no old tuple (DEFAULT identity)
INSERT INTO prefs VALUES (3, 'c@example.com', NULL, repeat('0123456789', 400), 'sad');
UPDATE prefs SET email = 'c2@example.com' WHERE id = 3;
-- 6: the same on a REPLICA IDENTITY FULL table: old tuple 'O' carries the
-- value, the new tuple has 'u'
INSERT INTO prefs_full VALUES (1, repeat('abcdefghij', 400), false, 1.50);
UPDATE prefs_full SET flag = true WHERE id = 1;
DELETE FROM prefs_full WHERE id = 1;
-- 7: a transactional logical message inside a transaction with a change
BEGIN;
SELECT 'msg' FROM pg_logical_emit_message(true, 'tidemark', '{"user": "alice", "why": "test"}');
INSERT INTO t2 VALUES (7);
COMMIT;
-- 8: non-transactional messages, one with binary content and an empty one
SELECT 'msg' FROM pg_logical_emit_message(false, 'audit', 'not in a transaction');
SELECT 'msg' FROM pg_logical_emit_message(false, 'bin', '\x00ff0a'::bytea);
SELECT 'msg' FROM pg_logical_emit_message(false, '', '');
-- 9: a zero-column table
INSERT INTO nocols DEFAULT VALUES;
-- 10: TRUNCATE of two tables, then with options
TRUNCATE prefs, t2;
TRUNCATE t2, nocols RESTART IDENTITY CASCADE;
-- 11: a rolled-back transaction sends nothing
BEGIN;
INSERT INTO t2 VALUES (99);
ROLLBACK;
-- 12: a transaction with a replication origin: Origin message after Begin
SELECT 'origin' FROM pg_replication_origin_create('tm_origin');
SELECT 'origin' FROM pg_replication_origin_session_setup('tm_origin');
BEGIN;
SELECT 'origin' FROM pg_replication_origin_xact_setup('0/ABCDEF', '2024-01-02 03:04:05+00');
INSERT INTO t2 VALUES (12);
COMMIT;
SELECT 'origin' FROM pg_replication_origin_session_reset();
-- 13: a schema change: a new Relation message before the next change
ALTER TABLE prefs ADD COLUMN extra int DEFAULT 5;
INSERT INTO prefs (id, email) VALUES (4, 'd@example.com');
-- The v1 fixture ends here; slot s2 sees only what follows.
SELECT 'BIG_START ' || pg_current_wal_lsn();
SELECT 'init' FROM pg_create_logical_replication_slot('s2', 'pgoutput');
-- 14: a transaction large enough to be streamed with proto_version 2 and
-- logical_decoding_work_mem = 64kB (slot s2), with a rolled-back
-- subtransaction (Stream Abort of the subxact), then a committed one
BEGIN;
INSERT INTO big_tx SELECT g, 'row ' || g FROM generate_series(1, 500) g;
SAVEPOINT sp;
INSERT INTO big_tx SELECT g, 'sub ' || g FROM generate_series(1001, 1500) g;
ROLLBACK TO SAVEPOINT sp;
COMMIT;
-- 15: a streamed transaction that aborts as a whole
BEGIN;
INSERT INTO big_tx SELECT g, 'gone ' || g FROM generate_series(2001, 2600) g;
ROLLBACK;
-- 16: an ordinary committed transaction; its commit also flushes the WAL so
-- that the abort above is decoded
INSERT INTO t2 VALUES (16);
