-- DDL: INSERTs into pgdts.dts_ddl_command are sent as Ddl records; other
-- changes to the extension's tables are not sent.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE ddl_user (id int PRIMARY KEY);

-- rows as the event triggers insert them (ddl_capture and ddl_routine test
-- the triggers; without a dts_sync_* slot they record nothing here)
INSERT INTO pgdts.dts_ddl_command
	(command_tag, statement, statement_exact, toplevel, search_path, role,
	 session_role, object_type, schema_name, object_identities)
VALUES
	('CREATE TABLE', 'CREATE TABLE public.t (id int PRIMARY KEY)', true, true,
	 '"$user", public', 'regress_ddl_role', 'postgres', 'table', 'public', '{public.t}');

-- DDL and DML mixed in one transaction keep their order
BEGIN;
INSERT INTO ddl_user VALUES (1);
INSERT INTO pgdts.dts_ddl_command
	(command_tag, statement, statement_exact, toplevel, search_path, role,
	 session_role, object_type, schema_name, object_identities)
VALUES
	('ALTER TABLE', E'ALTER TABLE "Quoted ""T"""\n  ADD COLUMN é text', true, false,
	 'public', 'postgres', 'regress_ddl_role', 'table', 'public',
	 '{"public.\"Quoted \"\"T\"\"\"",NULL,public.other}');
INSERT INTO ddl_user VALUES (2);
COMMIT;

-- missing fields are empty; a row that does not say its statement is exact
-- is sent as not exact
INSERT INTO pgdts.dts_ddl_command (statement) VALUES ('DROP INDEX i');

-- not sent: other changes to dts_ddl_command and the heartbeat table
UPDATE pgdts.dts_ddl_command SET command_tag = 'X';
DELETE FROM pgdts.dts_ddl_command;
INSERT INTO pgdts.dts_postgres_heartbeat VALUES ('task', now(), pg_current_wal_lsn());
UPDATE pgdts.dts_postgres_heartbeat SET beat_time = now();
DELETE FROM pgdts.dts_postgres_heartbeat;

SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE ddl_user;

-- the extension's objects
\dx+ pgdts
\d pgdts.dts_ddl_command
\d pgdts.dts_postgres_heartbeat
