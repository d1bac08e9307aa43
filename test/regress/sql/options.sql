-- Plugin options and their errors.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE opt (id int PRIMARY KEY);
INSERT INTO opt VALUES (1);

-- the format version this plugin speaks, asked for explicitly
SELECT pgdts.record_json(data, true) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'format_version', '1');

-- others are refused
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'format_version', '2');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'format_version', '0');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'format_version', 'one');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'format_version', '');

-- unknown options, bad values, repeated options
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'include_xids', '1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'include_origin', 'maybe');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'include_origin', 'on', 'include_origin', 'off');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'include_origin', 'off', 'format_version', '1');

-- the output is binary
SELECT count(*) FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL);

-- nothing was consumed by the failed calls
SELECT count(*) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE opt;
