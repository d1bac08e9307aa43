/* sql/pgdts--0.2--0.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgdts UPDATE TO '0.3'" to load this file. \quit

--
-- A table of what each task asks of the DDL capture (see pgdts--0.3.sql):
-- REPLICA IDENTITY FULL for tables that join a task later without a key.
--
-- Safe while a task runs: a new table; the library looks for it by name and
-- does nothing while it is missing or has no row for a task.
--
CREATE TABLE dts_task_setting (
    task text PRIMARY KEY,
    replica_identity_full boolean NOT NULL DEFAULT false,
    schemas text[]
);

COMMENT ON TABLE dts_task_setting IS
'what each pgdts task asks of the DDL capture on this source (REPLICA IDENTITY FULL for later keyless tables)';

REVOKE ALL ON dts_task_setting FROM PUBLIC;
