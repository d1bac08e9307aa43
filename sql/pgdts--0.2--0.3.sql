/* sql/pgdts--0.2--0.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgdts UPDATE TO '0.3'" to load this file. \quit

--
-- What a running task asks of the source's DDL capture, one row per task
-- (written by pgdts sync, deleted by pgdts release):
-- replica_identity_full: a table created later without a key (CREATE TABLE,
-- CREATE TABLE AS, SELECT INTO), or left without one by an ALTER TABLE, in
-- one of schemas (NULL: any schema) gets REPLICA IDENTITY FULL in the
-- transaction that made it so, before it can have a change to replay.
-- ruled_tables: the tables with an ETL rule (qualified names); a partition
-- created later under one of them gets REPLICA IDENTITY FULL too, key or
-- not, so that its UPDATEs are judged on the old row.
-- Honoured only while the task's slot (dts_sync_<task>) exists
-- (plugin/ddl_identity.c).
--
-- There is no pgdts--0.3.sql: CREATE EXTENSION pgdts runs pgdts--0.2.sql,
-- then this script.
--
-- Safe while a task runs: a new table; the library looks for it by name and
-- does nothing while it is missing or has no row for a task.
--
CREATE TABLE dts_task_setting (
    task text PRIMARY KEY,
    replica_identity_full boolean NOT NULL DEFAULT false,
    schemas text[],
    ruled_tables text[]
);

COMMENT ON TABLE dts_task_setting IS
'what each pgdts task asks of the DDL capture on this source (REPLICA IDENTITY FULL for later keyless tables)';

REVOKE ALL ON dts_task_setting FROM PUBLIC;
