/* sql/pgdts--0.3.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgdts" to load this file. \quit

--
-- A change record of the pgdts output plugin rendered as JSON, e.g.
--   SELECT pgdts.record_json(data)
--     FROM pg_logical_slot_peek_binary_changes('dts_sync_x', NULL, 10);
-- With stable => true, transaction ids, LSNs, commit times, oids of
-- non-built-in objects and ids of captured DDL commands print as "*".
--
CREATE FUNCTION record_json(data bytea, stable boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'pgdts_record_json'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION record_json(bytea, boolean) IS
'pgdts change record (one row of pg_logical_slot_get_binary_changes) as JSON';

--
-- DDL captured on the source.  The event triggers below insert one row per
-- DDL statement, in the statement's own transaction as it ends; the output
-- plugin sends each INSERT as a Ddl record at its place in the change
-- stream.  Changes to the other tables of this schema are not sent.
--
--   statement          the text of this statement alone: its own part of a
--                      multi-statement string, the DDL statement rather than
--                      the function, procedure or DO block that ran it;
--                      NULL when it could not be captured exactly.  It
--                      reads with standard_conforming_strings = on: a
--                      statement parsed with it off has its plain '...'
--                      literals written E'...' when they hold a backslash
--   statement_exact    false: the text is unknown (see below) and the
--                      command must not be replayed from this row
--   toplevel           the client sent the statement itself, rather than a
--                      function, procedure, DO block or another command
--   search_path, role, session_role
--                      the settings it ran under (role: current_user)
--   command_tag        e.g. "ALTER TABLE"
--   object_type, schema_name
--                      of its main object (the table of CREATE TABLE, the
--                      first object a DROP named)
--   object_identities  every object it created, altered or dropped (with
--                      CASCADE), e.g. a SERIAL column's sequence
--   role_superuser     role was a superuser when it ran the command
--   settings           the settings that change how the text parses or
--                      what its constants mean (DateStyle, TimeZone, ...),
--                      as it ran: {{name,value},...}
--   resolved_relations the schema each relation name written without one
--                      resolved to on the source: {{name,schema},...}
--                      (a name may appear twice, with two schemas); NULL
--                      when it could not be read
--
-- Not marked as configuration for pg_dump: restoring its rows into a
-- database that is the source of a task would replay old DDL.
--
CREATE TABLE dts_ddl_command (
    id bigserial PRIMARY KEY,
    command_tag text,
    statement text,
    statement_exact boolean NOT NULL DEFAULT false,
    toplevel boolean,
    search_path text,
    role name,
    session_role name,
    object_type text,
    schema_name text,
    object_identities text[],
    captured_at timestamptz DEFAULT clock_timestamp(),
    role_superuser boolean,
    settings text[],
    resolved_relations text[]
);

COMMENT ON TABLE dts_ddl_command IS
'DDL commands captured for pgdts; each INSERT travels in the change stream as a Ddl record';

--
-- Heartbeat written on the source by each task, to measure replication
-- latency.  Per-task state: not dumped either.
--
CREATE TABLE dts_postgres_heartbeat (
    task text PRIMARY KEY,
    beat_time timestamptz NOT NULL,
    beat_lsn pg_lsn
);

COMMENT ON TABLE dts_postgres_heartbeat IS
'latest heartbeat of each pgdts task';

--
-- The event triggers that capture DDL (plugin/ddl_capture.c).
--
-- What is captured: every command PostgreSQL fires event triggers for
-- (CREATE, ALTER, DROP of objects in this database, GRANT, COMMENT, ...;
-- not CREATE DATABASE, roles or tablespaces; TRUNCATE travels as DML), while
-- a replication slot of a pgdts task (named dts_sync_*) exists in this
-- database.  Without one, nothing reads the rows and nothing is written.
-- Commands run by extension scripts are part of their CREATE or ALTER
-- EXTENSION command; commands on pgdts' own objects, on temporary objects
-- only, and IF [NOT] EXISTS commands that did nothing are not captured.
--
-- NOT captured: DDL run with session_replication_role = replica.
-- PostgreSQL fires no event trigger in that mode (these triggers are
-- enabled for the origin role only, so that a pgdts applier replaying DDL
-- here does not capture it again).  DDL a session runs that way is not
-- replicated, and the destination's definitions drift from the source's.
--
-- Exact text: PostgreSQL gives event triggers a parse tree, not text; the
-- text comes from a ProcessUtility hook that the library installs when it
-- is loaded.  Put pgdts in shared_preload_libraries (or
-- session_preload_libraries) on the source, e.g.
--   ALTER SYSTEM SET session_preload_libraries = 'pgdts';
-- Otherwise the library is loaded by the first DDL command of each session,
-- whose text then comes from the statement the client sent: exact when the
-- command is that statement, unknown when it runs inside a function,
-- procedure or DO block.  Such a command is not refused; its row has
-- statement_exact = false, the session gets a WARNING, and the applier
-- stops at the row.
--
-- Order: a command is recorded when it ends, in its transaction, so its
-- record follows the data changes made before it and precedes those made
-- after.  CREATE TABLE AS, SELECT INTO and CREATE MATERIALIZED VIEW are
-- recorded when they start instead: their rows travel as INSERTs, which
-- must come after the command that creates their table (replay it WITH NO
-- DATA and apply the rows).  EXPLAIN ANALYZE CREATE TABLE AS fires no
-- event trigger and is not captured.  CREATE (and DROP) INDEX CONCURRENTLY
-- runs several transactions; its row is in the last one, the one that
-- marks the index valid (replay it outside a transaction block).  A DDL
-- command run by another event
-- trigger is recorded when it ends too; the triggers below are named to
-- fire before any event trigger whose name starts with a lower-case
-- letter, so that a command reacting to a CREATE TABLE at its
-- ddl_command_end (a GRANT, say) is recorded after the CREATE TABLE, as it
-- happened.
--
--
-- What a running task asks of the source's DDL capture, one row per task
-- (written by pgdts sync, deleted by pgdts release):
-- replica_identity_full: a table created later without a key (CREATE TABLE,
-- CREATE TABLE AS, SELECT INTO), or left without one by an ALTER TABLE, in
-- one of schemas (NULL: any schema) gets REPLICA IDENTITY FULL in the
-- transaction that made it so, before it can have a change to replay.
-- Honoured only while the task's slot (dts_sync_<task>) exists.
--
CREATE TABLE dts_task_setting (
    task text PRIMARY KEY,
    replica_identity_full boolean NOT NULL DEFAULT false,
    schemas text[]
);

COMMENT ON TABLE dts_task_setting IS
'what each pgdts task asks of the DDL capture on this source (REPLICA IDENTITY FULL for later keyless tables)';

CREATE FUNCTION capture_ddl_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pgdts_capture_ddl_start'
LANGUAGE C;

CREATE FUNCTION capture_ddl_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pgdts_capture_ddl_drop'
LANGUAGE C;

CREATE FUNCTION capture_ddl_end()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pgdts_capture_ddl_end'
LANGUAGE C;

COMMENT ON FUNCTION capture_ddl_start() IS
'pgdts DDL capture: finds the text of the DDL command that starts';
COMMENT ON FUNCTION capture_ddl_drop() IS
'pgdts DDL capture: records a DDL command that dropped objects';
COMMENT ON FUNCTION capture_ddl_end() IS
'pgdts DDL capture: records a DDL command into dts_ddl_command';

-- Event triggers call them whatever their privileges; nobody else needs to.
REVOKE ALL ON FUNCTION capture_ddl_start() FROM PUBLIC;
REVOKE ALL ON FUNCTION capture_ddl_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION capture_ddl_end() FROM PUBLIC;

CREATE EVENT TRIGGER _pgdts_capture_ddl_start ON ddl_command_start
    EXECUTE FUNCTION capture_ddl_start();
CREATE EVENT TRIGGER _pgdts_capture_ddl_drop ON sql_drop
    EXECUTE FUNCTION capture_ddl_drop();
CREATE EVENT TRIGGER _pgdts_capture_ddl_end ON ddl_command_end
    EXECUTE FUNCTION capture_ddl_end();

-- Captured statements may reveal what users did: no access by default.
REVOKE ALL ON dts_ddl_command FROM PUBLIC;
REVOKE ALL ON SEQUENCE dts_ddl_command_id_seq FROM PUBLIC;
REVOKE ALL ON dts_postgres_heartbeat FROM PUBLIC;
REVOKE ALL ON dts_task_setting FROM PUBLIC;

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
