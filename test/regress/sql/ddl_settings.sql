-- Each Ddl record carries the settings that change how its text parses or
-- what its constants mean, as the command ran under them, and whether the
-- role it ran as was a superuser.
SET synchronous_commit = on;

CREATE FUNCTION captured(OUT statement text, OUT role text,
	OUT role_superuser boolean, OUT settings jsonb)
RETURNS SETOF record LANGUAGE sql AS $$
	SELECT j -> 'statement' ->> 'text', j ->> 'role',
		   (j ->> 'role_superuser')::boolean, j -> 'settings'
	FROM (SELECT pgdts.record_json(data, true)::jsonb -> 'ddl' AS j
		  FROM pg_logical_slot_get_binary_changes('dts_sync_regress', NULL, NULL)) s
	WHERE j IS NOT NULL
$$;

CREATE ROLE regress_settings_user LOGIN;
CREATE SCHEMA regress_settings_owned AUTHORIZATION regress_settings_user;
SELECT 'init' FROM pg_create_logical_replication_slot('dts_sync_regress', 'pgdts');

-- as a superuser, under non-default settings: '01/02/03' is 1 February
-- 2003 with DMY, a date of January with MDY
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = sql_standard;
SET TimeZone = 'Asia/Tokyo';
SET timezone_abbreviations = 'India';
SET array_nulls = off;
SET transform_null_equals = on;
SET xmloption = document;
SET backslash_quote = off;
CREATE TABLE regress_settings_owned.d (
	id int,
	at date DEFAULT '01/02/03',
	tags text[] DEFAULT '{NULL}');
RESET ALL;
SELECT statement, role, role_superuser, settings FROM captured();
SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
WHERE adrelid = 'regress_settings_owned.d'::regclass ORDER BY adnum;

-- as a non-superuser, default settings
SET ROLE regress_settings_user;
CREATE TABLE regress_settings_owned.e (id int);
RESET ROLE;
SELECT statement, role, role_superuser,
	   settings ->> 'DateStyle' AS datestyle FROM captured();

SELECT pg_drop_replication_slot('dts_sync_regress');
DROP SCHEMA regress_settings_owned CASCADE;
DROP ROLE regress_settings_user;
DROP FUNCTION captured();
