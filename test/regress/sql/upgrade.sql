-- ALTER EXTENSION pgdts UPDATE from 0.1 to 0.2 while a task's slot
-- exists: rows of the 0.1 table (without the 0.2 columns) decode by column
-- name, the library fills the columns the table has, and the new ones as
-- soon as they exist.
SET synchronous_commit = on;
DROP EXTENSION pgdts;
CREATE EXTENSION pgdts VERSION '0.1';

SELECT 'init' FROM pg_create_logical_replication_slot('dts_sync_regress', 'pgdts');
CREATE TABLE up_t (id int);
ALTER EXTENSION pgdts UPDATE TO '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'pgdts';
ALTER TABLE up_t ADD COLUMN v text;

SELECT j -> 'statement' ->> 'text' AS statement,
	   j ->> 'role_superuser' AS role_superuser,
	   j -> 'settings' ->> 'DateStyle' AS datestyle,
	   j -> 'resolved' AS resolved
FROM (SELECT pgdts.record_json(data, true)::jsonb -> 'ddl' AS j
	  FROM pg_logical_slot_get_binary_changes('dts_sync_regress', NULL, NULL)) s
WHERE j IS NOT NULL;

SELECT pg_drop_replication_slot('dts_sync_regress');
DROP TABLE up_t;

-- on to 0.3, the current version: the table of what tasks ask of the
-- capture, empty
ALTER EXTENSION pgdts UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pgdts';
SELECT count(*) FROM pgdts.dts_task_setting;
