-- DDL capture of DDL run by functions, procedures, DO blocks and other event
-- triggers: each record holds the DDL statement itself, not the call.
SET synchronous_commit = on;

-- the stream, one row per record in order (created before the slot: not
-- captured; a plain function, so that it outlives the sessions below)
CREATE FUNCTION ddl_stream(OUT record text, OUT tag text,
	OUT statement text, OUT objects text, OUT toplevel boolean,
	OUT exact boolean)
RETURNS SETOF record LANGUAGE sql AS $$
	SELECT substring(r FROM '^\{"(\w+)"'),
		   j ->> 'command_tag', j -> 'statement' ->> 'text',
		   (SELECT string_agg(o, ', ') FROM jsonb_array_elements_text(j -> 'object_identities') o),
		   (j ->> 'toplevel')::boolean, (j ->> 'statement_exact')::boolean
	FROM (SELECT r, r::jsonb -> 'ddl' AS j
		  FROM (SELECT pgdts.record_json(data, true) AS r
				FROM pg_logical_slot_get_binary_changes('dts_sync_regress', NULL, NULL)) s) t
$$;

SELECT 'init' FROM pg_create_logical_replication_slot('dts_sync_regress', 'pgdts');

-- plpgsql function: a static DDL statement, a DDL string of two statements
-- run by EXECUTE, DML in between
CREATE TABLE ddl_log (id int, what text);
CREATE FUNCTION ddl_make(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	CREATE TABLE ddl_fn_a (id int PRIMARY KEY);
	INSERT INTO ddl_log VALUES (n, 'a created');
	EXECUTE format('CREATE TABLE %I (id int); CREATE INDEX ON %I (id)',
				   'ddl_fn_b' || n, 'ddl_fn_b' || n);
END $$;
SELECT ddl_make(1);
SELECT * FROM ddl_stream();

-- DO block; CASCADE inside it is kept
DO $$
BEGIN
	ALTER TABLE ddl_fn_a ADD COLUMN v text;
	EXECUTE 'DROP TABLE ddl_fn_b1 CASCADE';
END $$;
-- procedure, with a COMMIT between its DDL statements
CREATE PROCEDURE ddl_proc() LANGUAGE plpgsql AS $$
BEGIN
	CREATE INDEX ddl_fn_a_v ON ddl_fn_a (v);
	COMMIT;
	ALTER TABLE ddl_fn_a RENAME COLUMN v TO w;
END $$;
CALL ddl_proc();
-- SQL function: each statement of its body
CREATE FUNCTION ddl_sql_fn() RETURNS void LANGUAGE sql AS $$
	CREATE TABLE ddl_fn_c (id int);
	ALTER TABLE ddl_fn_c ADD COLUMN v int
$$;
SELECT ddl_sql_fn();
-- (for a fresh session below)
CREATE FUNCTION ddl_in_function() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	CREATE TABLE ddl_fn_e (id int);
	ALTER TABLE ddl_fn_e ADD COLUMN v int;
END $$;
-- DDL in a subtransaction that was rolled back is not sent
DO $$
BEGIN
	BEGIN
		CREATE TABLE ddl_fn_undone (id int);
		RAISE EXCEPTION 'undo';
	EXCEPTION WHEN raise_exception THEN
		NULL;
	END;
	DROP TABLE ddl_fn_c;
END $$;
SELECT * FROM ddl_stream();

-- A DDL command run by another event trigger at ddl_command_end is recorded
-- after the command it reacts to, as it happened: pgdts' triggers fire
-- first (see the extension script).
CREATE ROLE regress_ddl_reader;
CREATE FUNCTION ddl_auto_grant() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
	obj record;
BEGIN
	FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands()
			   WHERE object_type = 'table'
	LOOP
		EXECUTE format('GRANT SELECT ON %s TO regress_ddl_reader',
					   obj.object_identity);
	END LOOP;
END $$;
CREATE EVENT TRIGGER auto_grant ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
	EXECUTE FUNCTION ddl_auto_grant();
CREATE TABLE ddl_fn_d (id int);
DROP EVENT TRIGGER auto_grant;
SELECT * FROM ddl_stream();

-- A fresh session, pgdts not preloaded: its first DDL command loads the
-- library, so the hook misses that command.  Sent by the client itself, it
-- is still exact, from the statement the client sent (here the first of a
-- two-statement string).
\c
SET synchronous_commit = on;
CREATE TABLE ddl_fresh (id int) \; ALTER TABLE ddl_fresh ADD COLUMN v int;
-- Run inside a DO block, its text is unknown: recorded with no statement,
-- not exact, and a WARNING; the next DDL of the same block is exact.
\c
SET synchronous_commit = on;
DO $$
BEGIN
	ALTER TABLE ddl_fresh ADD COLUMN w int;
	ALTER TABLE ddl_fresh DROP COLUMN v;
END $$;
DO $$ BEGIN DROP TABLE ddl_fresh; END $$;
\c
SET synchronous_commit = on;
-- same for the first DDL of a session inside a plpgsql function
SELECT ddl_in_function();
SELECT * FROM ddl_stream();

SELECT pg_drop_replication_slot('dts_sync_regress');
DROP TABLE ddl_log, ddl_fn_a, ddl_fn_d, ddl_fn_e;
DROP FUNCTION ddl_stream();
DROP FUNCTION ddl_make(int);
DROP FUNCTION ddl_in_function();
DROP FUNCTION ddl_sql_fn();
DROP FUNCTION ddl_auto_grant();
DROP PROCEDURE ddl_proc();
DROP ROLE regress_ddl_reader;
