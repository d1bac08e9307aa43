/* sql/pgdts--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgdts UPDATE TO '0.2'" to load this file. \quit

--
-- Ddl records say more about the command (see pgdts--0.2.sql): whether its
-- role was a superuser, the settings its text parses under, and the schemas
-- its unqualified relation names resolved to.  The statement text itself
-- now reads with standard_conforming_strings = on whatever the session's
-- setting was.
--
-- Safe while a task runs: the columns are added without a default (no
-- rewrite, a moment's lock), the library writes them as soon as they exist
-- and decodes older rows, which lack them, by column name.
--
ALTER TABLE dts_ddl_command
    ADD COLUMN role_superuser boolean,
    ADD COLUMN settings text[],
    ADD COLUMN resolved_relations text[];
