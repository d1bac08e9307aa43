-- DDL capture: the event triggers of the extension record each DDL statement
-- into pgdts.dts_ddl_command in its own transaction, and the plugin sends it
-- as a Ddl record at its place among the data changes.  This file: DDL the
-- client sends itself.  ddl_routine: DDL run by functions and the like.
SET synchronous_commit = on;

-- Nothing is recorded while no pgdts task's slot (dts_sync_*) exists.
CREATE TABLE ddl_before_task (id int);
SELECT count(*) AS recorded FROM pgdts.dts_ddl_command
WHERE statement LIKE '%ddl_before_task%';
DROP TABLE ddl_before_task;

-- The stream, one row per record in order: DDL records by their fields,
-- other records by their kind.
CREATE FUNCTION ddl_stream(OUT record text, OUT tag text,
	OUT statement text, OUT main text, OUT objects text,
	OUT toplevel boolean, OUT exact boolean)
RETURNS SETOF record LANGUAGE sql AS $$
	SELECT substring(r FROM '^\{"(\w+)"'),
		   j ->> 'command_tag', j -> 'statement' ->> 'text',
		   (j ->> 'object_type') || ' ' || (j ->> 'schema'),
		   (SELECT string_agg(o, ', ') FROM jsonb_array_elements_text(j -> 'object_identities') o),
		   (j ->> 'toplevel')::boolean, (j ->> 'statement_exact')::boolean
	FROM (SELECT r, r::jsonb -> 'ddl' AS j
		  FROM (SELECT pgdts.record_json(data, true) AS r
				FROM pg_logical_slot_get_binary_changes('dts_sync_regress', NULL, NULL)) s) t
$$;

SELECT 'init' FROM pg_create_logical_replication_slot('dts_sync_regress', 'pgdts');

-- every field of one record
CREATE TABLE ddl_first (id int PRIMARY KEY);
SELECT pgdts.record_json(data, true)
FROM pg_logical_slot_get_binary_changes('dts_sync_regress', NULL, NULL);

-- CREATE TABLE: primary key, unique, foreign key, check, defaults, identity;
-- a SERIAL's sequence and the constraints' indexes are objects of the
-- statement's one record
CREATE TABLE ddl_parent (id serial PRIMARY KEY, code text UNIQUE);
CREATE TABLE ddl_item (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	parent int REFERENCES ddl_parent (id) ON DELETE CASCADE,
	qty int NOT NULL DEFAULT 0 CHECK (qty >= 0),
	note text DEFAULT 'none'
);
-- partitioned table and partition
CREATE TABLE ddl_event (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE ddl_event_2024 PARTITION OF ddl_event
	FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
SELECT * FROM ddl_stream();

-- ALTER TABLE: one record per statement, whatever its subcommands
ALTER TABLE ddl_item RENAME TO ddl_line;
ALTER TABLE ddl_line RENAME COLUMN note TO remark;
ALTER TABLE ddl_line ADD COLUMN extra int;
ALTER TABLE ddl_line ADD COLUMN added_at timestamptz DEFAULT clock_timestamp();
ALTER TABLE ddl_line ALTER COLUMN extra TYPE text USING extra::text || '!';
ALTER TABLE ddl_line DROP COLUMN extra;
ALTER TABLE ddl_line ADD CONSTRAINT ddl_line_qty_max CHECK (qty < 1000),
	ADD CONSTRAINT ddl_line_remark_key UNIQUE (remark);
ALTER TABLE ddl_line ADD CONSTRAINT ddl_line_parent_fkey2
	FOREIGN KEY (parent) REFERENCES ddl_parent (id);
ALTER TABLE ddl_line DROP CONSTRAINT ddl_line_qty_max;
ALTER TABLE ddl_line ALTER COLUMN remark SET DEFAULT 'n/a',
	ALTER COLUMN qty DROP DEFAULT;
ALTER TABLE ddl_line ALTER COLUMN remark SET NOT NULL;
ALTER TABLE ddl_line ALTER COLUMN remark DROP NOT NULL;
ALTER TABLE ddl_line REPLICA IDENTITY FULL;
CREATE TABLE ddl_nokey (a int NOT NULL, b text);
ALTER TABLE ddl_nokey ADD PRIMARY KEY (a);
SELECT * FROM ddl_stream();

-- Indexes.  CREATE INDEX CONCURRENTLY runs three transactions; its record
-- is in the last one, the one that marks the index valid (and wrote the
-- index's pg_index row last).  DROP INDEX CONCURRENTLY's is in its last
-- transaction too.
CREATE UNIQUE INDEX CONCURRENTLY ddl_line_parent_remark ON ddl_line (parent, remark);
WITH r AS (
	SELECT pgdts.record_json(data)::jsonb AS j
	FROM pg_logical_slot_get_binary_changes('dts_sync_regress', NULL, NULL)
)
SELECT (SELECT count(*) FROM r WHERE j ? 'begin') AS transactions,
	   (SELECT j -> 'ddl' -> 'statement' ->> 'text' FROM r WHERE j ? 'ddl') AS statement,
	   (SELECT j -> 'begin' ->> 'xid' FROM r WHERE j ? 'begin') =
	   (SELECT xmin::text FROM pg_index
		WHERE indexrelid = 'ddl_line_parent_remark'::regclass) AS in_validating_transaction;
CREATE INDEX ddl_line_qty ON ddl_line (qty) WHERE qty > 0;
DROP INDEX ddl_line_qty;
DROP INDEX CONCURRENTLY ddl_line_parent_remark;
SELECT * FROM ddl_stream();

-- Sequences
CREATE SEQUENCE ddl_seq START 100;
ALTER SEQUENCE ddl_seq INCREMENT BY 5 OWNED BY ddl_line.qty;
DROP SEQUENCE ddl_seq;
SELECT * FROM ddl_stream();

-- CREATE TABLE AS, SELECT INTO and CREATE MATERIALIZED VIEW write rows,
-- sent as INSERTs: they are recorded as they start, before their rows.
-- (REFRESH writes a new heap, which the stream does not carry.)
CREATE TABLE ddl_copy AS SELECT g AS id FROM generate_series(1, 2) g;
SELECT 3 AS id INTO ddl_copy2;
CREATE MATERIALIZED VIEW ddl_copy_mv AS SELECT count(*) AS n FROM ddl_copy;
CREATE TABLE IF NOT EXISTS ddl_copy AS SELECT 1 AS id;
REFRESH MATERIALIZED VIEW ddl_copy_mv;
DROP MATERIALIZED VIEW ddl_copy_mv;
DROP TABLE ddl_copy, ddl_copy2;
SELECT * FROM ddl_stream();

-- DROP TABLE keeps RESTRICT and CASCADE in its text; the objects CASCADE
-- reached are objects of its record
CREATE VIEW ddl_parent_codes AS SELECT code FROM ddl_parent;
DROP TABLE ddl_nokey RESTRICT;
DROP TABLE ddl_parent CASCADE;
SELECT * FROM ddl_stream();

-- Several statements in one query string: one record each, with its own
-- text (white space around it trimmed, comments in it kept)
CREATE TABLE ddl_multi (id int) \; INSERT INTO ddl_multi VALUES (1) \;
	-- second DDL of the string
	ALTER TABLE ddl_multi ADD COLUMN v text \; SELECT 1 AS one \; DROP TABLE ddl_multi;
SELECT * FROM ddl_stream();

-- DDL and DML in one transaction: records in the order they happened
BEGIN;
INSERT INTO ddl_first VALUES (1);
ALTER TABLE ddl_first ADD COLUMN v text DEFAULT 'x';
INSERT INTO ddl_first VALUES (2, 'y');
CREATE INDEX ddl_first_v ON ddl_first (v);
UPDATE ddl_first SET v = 'z' WHERE id = 1;
COMMIT;
-- a DDL rolled back is not sent; one rolled back to a savepoint neither
BEGIN;
CREATE TABLE ddl_rolled_back (id int);
ROLLBACK;
BEGIN;
INSERT INTO ddl_first VALUES (3);
SAVEPOINT s;
ALTER TABLE ddl_first ADD COLUMN w int;
ROLLBACK TO SAVEPOINT s;
ALTER TABLE ddl_first ADD COLUMN w2 int;
COMMIT;
SELECT * FROM ddl_stream();

-- Not captured: DDL under session_replication_role = replica (PostgreSQL
-- fires no event trigger then), temporary objects, IF [NOT] EXISTS doing
-- nothing, DDL on pgdts' own objects.
SET session_replication_role = replica;
CREATE TABLE ddl_replica_only (id int);
RESET session_replication_role;
CREATE TEMP TABLE ddl_temp (id int);
DROP TABLE ddl_temp;
CREATE TABLE IF NOT EXISTS ddl_first (id int);
DROP TABLE IF EXISTS ddl_missing;
ALTER TABLE pgdts.dts_postgres_heartbeat ALTER COLUMN beat_lsn SET STATISTICS 50;
ALTER TABLE pgdts.dts_postgres_heartbeat ALTER COLUMN beat_lsn SET STATISTICS -1;
-- the replica-role DDL is missing on the destination from now on
SELECT * FROM ddl_stream();

-- A role that may not read dts_ddl_command still gets its DDL recorded;
-- role is the role it ran as, session_role the session's
CREATE ROLE regress_ddl_owner;
GRANT CREATE ON SCHEMA public TO regress_ddl_owner;
SET ROLE regress_ddl_owner;
CREATE TABLE ddl_owned (id int);
DROP TABLE ddl_owned;
RESET ROLE;
SELECT r::jsonb -> 'ddl' -> 'statement' ->> 'text' AS statement,
	   r::jsonb -> 'ddl' ->> 'role' AS role,
	   r::jsonb -> 'ddl' ->> 'session_role' AS session_role
FROM (SELECT pgdts.record_json(data, true) AS r
	  FROM pg_logical_slot_get_binary_changes('dts_sync_regress', NULL, NULL)) s
WHERE r LIKE '{"ddl"%';
REVOKE CREATE ON SCHEMA public FROM regress_ddl_owner;
DROP ROLE regress_ddl_owner;

SELECT pg_drop_replication_slot('dts_sync_regress');
DROP TABLE ddl_first, ddl_line, ddl_event, ddl_replica_only;
DROP FUNCTION ddl_stream();
