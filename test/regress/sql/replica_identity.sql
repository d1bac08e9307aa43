-- With --replica-identity-full, a table that joins a task later without a
-- key, or as a new partition of a table with an ETL rule, gets REPLICA
-- IDENTITY FULL from the DDL capture as it is created (ddl_identity.c),
-- whoever creates it, and only while the task's slot exists.
SET synchronous_commit = on;
SELECT 'init' FROM pg_create_logical_replication_slot('dts_sync_ri', 'pgdts');
INSERT INTO pgdts.dts_task_setting VALUES ('ri', true, '{public}', '{public.ruled}');

CREATE TABLE keyless (a int);
CREATE TABLE keyed (a int PRIMARY KEY);
CREATE TABLE copied AS SELECT 1 AS a;
CREATE TABLE pk_dropped (a int PRIMARY KEY);
ALTER TABLE pk_dropped DROP CONSTRAINT pk_dropped_pkey;
CREATE SCHEMA regress_ri_other;
CREATE TABLE regress_ri_other.keyless (a int);
CREATE TABLE ruled (id int, m int, PRIMARY KEY (id, m)) PARTITION BY LIST (m);
CREATE TABLE ruled_1 PARTITION OF ruled FOR VALUES IN (1);
SELECT c.oid::regclass AS table, c.relreplident
FROM pg_class c
WHERE c.oid IN ('keyless'::regclass, 'keyed'::regclass, 'copied'::regclass,
                'pk_dropped'::regclass, 'regress_ri_other.keyless'::regclass,
                'ruled_1'::regclass)
ORDER BY 1;

-- A role that may not read the extension's tables, with a schema of its
-- own before pg_catalog holding an "=" on oid: the capture reads as the
-- table's owner, under search_path pg_catalog, and never runs that "=".
CREATE ROLE regress_ri_user;
GRANT CREATE ON SCHEMA public TO regress_ri_user;
CREATE SCHEMA regress_ri_evil AUTHORIZATION regress_ri_user;
SET ROLE regress_ri_user;
CREATE FUNCTION regress_ri_evil.oideq(oid, oid) RETURNS boolean LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'evil = ran as %', current_user; RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE OPERATOR regress_ri_evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = regress_ri_evil.oideq);
SET search_path = regress_ri_evil, pg_catalog, public;
CREATE TABLE public.user_keyless (a int);
RESET search_path;
RESET ROLE;
SELECT relreplident FROM pg_class WHERE oid = 'public.user_keyless'::regclass;

-- no slot of the task: nothing is done
SELECT pg_drop_replication_slot('dts_sync_ri');
CREATE TABLE after_slot (a int);
SELECT relreplident FROM pg_class WHERE oid = 'after_slot'::regclass;

DELETE FROM pgdts.dts_task_setting;
DROP TABLE keyless, keyed, copied, pk_dropped, ruled, user_keyless, after_slot;
DROP SCHEMA regress_ri_other CASCADE;
DROP SCHEMA regress_ri_evil CASCADE;
REVOKE CREATE ON SCHEMA public FROM regress_ri_user;
DROP ROLE regress_ri_user;
