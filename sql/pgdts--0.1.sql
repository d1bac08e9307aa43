/* sql/pgdts--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgdts" to load this file. \quit

--
-- A change record of the pgdts output plugin rendered as JSON, e.g.
--   SELECT pgdts.record_json(data)
--     FROM pg_logical_slot_peek_binary_changes('dts_sync_x', NULL, 10);
-- With stable => true, transaction ids, LSNs, commit times and oids of
-- non-built-in objects print as "*".
--
CREATE FUNCTION record_json(data bytea, stable boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'pgdts_record_json'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION record_json(bytea, boolean) IS
'pgdts change record (one row of pg_logical_slot_get_binary_changes) as JSON';

--
-- DDL captured on the source.  Event triggers insert one row per DDL
-- command; the output plugin sends each INSERT as a Ddl record at its place
-- in the change stream.  Changes to the other tables of this schema are not
-- sent.
--
-- Not marked as configuration for pg_dump: restoring its rows into a
-- database that is the source of a task would replay old DDL.
--
CREATE TABLE dts_ddl_command (
    id bigserial PRIMARY KEY,
    command_tag text,
    statement text,
    search_path text,
    role name,
    object_type text,
    schema_name text,
    object_identities text[],
    captured_at timestamptz DEFAULT clock_timestamp()
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

-- Captured statements may reveal what users did: no access by default.
REVOKE ALL ON dts_ddl_command FROM PUBLIC;
REVOKE ALL ON SEQUENCE dts_ddl_command_id_seq FROM PUBLIC;
REVOKE ALL ON dts_postgres_heartbeat FROM PUBLIC;

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
