-- Logical messages whose prefix starts with "pgdts".
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE msg (id int PRIMARY KEY);

-- a transactional message alone makes a transaction of its own
SELECT 'msg' FROM pg_logical_emit_message(true, 'pgdts', 'transactional');
-- a non-transactional one is sent at once, outside any transaction
SELECT 'msg' FROM pg_logical_emit_message(false, 'pgdts.heartbeat', 'non-transactional');
-- other prefixes are skipped, without an empty transaction
SELECT 'msg' FROM pg_logical_emit_message(true, 'other', 'skipped');
SELECT 'msg' FROM pg_logical_emit_message(false, 'PGDTS', 'skipped');
SELECT 'msg' FROM pg_logical_emit_message(true, 'xpgdts', 'skipped');

-- in order among the changes of its transaction
BEGIN;
INSERT INTO msg VALUES (1);
SELECT 'msg' FROM pg_logical_emit_message(true, 'pgdts.marker', 'between');
SELECT 'msg' FROM pg_logical_emit_message(true, 'other', 'skipped');
INSERT INTO msg VALUES (2);
COMMIT;

-- binary content
SELECT 'msg' FROM pg_logical_emit_message(true, 'pgdts.bin', '\x00010203ff'::bytea);
SELECT 'msg' FROM pg_logical_emit_message(true, 'pgdts.text', E'quote " newline \n');

-- a rolled back transaction sends its non-transactional messages only
BEGIN;
SELECT 'msg' FROM pg_logical_emit_message(true, 'pgdts', 'rolled back');
SELECT 'msg' FROM pg_logical_emit_message(false, 'pgdts', 'sent anyway');
ROLLBACK;
-- (a commit flushes the WAL of the above for decoding to see it)
INSERT INTO msg VALUES (3);

SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE msg;
