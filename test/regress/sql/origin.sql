-- Transactions replayed under a replication origin are skipped unless
-- include_origin is on: this is what keeps bidirectional setups from
-- looping.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');
SELECT pg_replication_origin_create('regress_pgdts_origin') AS origin_id;

CREATE TABLE orig (id int PRIMARY KEY, src text);

INSERT INTO orig VALUES (1, 'local before');

SELECT pg_replication_origin_session_setup('regress_pgdts_origin');
INSERT INTO orig VALUES (2, 'replayed');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/aabbccdd', '2013-01-01 00:00');
INSERT INTO orig VALUES (3, 'replayed with origin LSN');
SELECT 'msg' FROM pg_logical_emit_message(true, 'pgdts', 'replayed message');
COMMIT;
SELECT pg_replication_origin_session_reset();

INSERT INTO orig VALUES (4, 'local after');

-- default: the replayed transactions are not there
SELECT pgdts.record_json(data, true) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL);

-- include_origin: they are, with their origin
SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'include_origin', 'true');

SELECT pg_drop_replication_slot('regression_slot');
SELECT pg_replication_origin_drop('regress_pgdts_origin');
DROP TABLE orig;
