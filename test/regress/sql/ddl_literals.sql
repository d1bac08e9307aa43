-- A statement captured with standard_conforming_strings = off reads, with
-- the setting on (how the applier parses and replays it), as the source
-- read it: its plain '...' literals with a backslash are written E'...'.
-- Other literal forms are kept as written.
SET synchronous_commit = on;

CREATE FUNCTION captured(OUT statement text, OUT exact boolean)
RETURNS SETOF record LANGUAGE sql AS $$
	SELECT j -> 'statement' ->> 'text', (j ->> 'statement_exact')::boolean
	FROM (SELECT pgdts.record_json(data, true)::jsonb -> 'ddl' AS j
		  FROM pg_logical_slot_get_binary_changes('dts_sync_regress', NULL, NULL)) s
	WHERE j IS NOT NULL
$$;

-- Replay a captured ALTER TABLE on table "replica" the way the applier
-- parses it (standard_conforming_strings = on)
CREATE FUNCTION replay_on(statement text, source_table text) RETURNS void
LANGUAGE plpgsql SET standard_conforming_strings = on AS $$
BEGIN
	EXECUTE replace(statement, 'ALTER TABLE ' || source_table,
					'ALTER TABLE lit_replica');
END $$;

CREATE FUNCTION column_defaults(t regclass, OUT name name, OUT expr text)
RETURNS SETOF record LANGUAGE sql AS $$
	SELECT attname, pg_get_expr(adbin, adrelid)
	FROM pg_attrdef JOIN pg_attribute ON attrelid = adrelid AND attnum = adnum
	WHERE adrelid = t ORDER BY attnum
$$;

CREATE TABLE lit (id int);
CREATE TABLE lit_replica (id int);
SELECT 'init' FROM pg_create_logical_replication_slot('dts_sync_regress', 'pgdts');

-- The attack: one constant string with the setting off; with it on, a call
-- of pg_read_file and a comment.
SET standard_conforming_strings = off;
SET escape_string_warning = off;
ALTER TABLE lit ADD COLUMN z text DEFAULT 'a\' || pg_read_file($p$/etc/passwd$p$) || $y$' -- $y$
;
-- Other forms: escape strings, N'', bit strings, dollar quotes, typed
-- literals, quoted identifiers, comments holding quotes, and a literal
-- continued over lines
ALTER TABLE lit ADD COLUMN "odd'name\" text DEFAULT N'n\tn' || E'e\\e' || B'101'::text
	|| X'1F'::text || $q$dol\lar$q$ /* it's */ || date'2020-01-02'::text -- isn't
	|| 'first\' part'
	'second\\part' || 'plain';
-- no backslash in any plain literal: kept as written
ALTER TABLE lit ADD COLUMN p text DEFAULT 'plain' || E'\x41';
RESET escape_string_warning;
RESET standard_conforming_strings;
-- with the setting on: kept as written
ALTER TABLE lit ADD COLUMN q text DEFAULT 'back\slash';
SELECT * FROM captured();

-- Replayed with the setting on, each means what it meant on the source
SELECT replay_on(statement, 'lit') FROM pgdts.dts_ddl_command
WHERE command_tag = 'ALTER TABLE' AND statement LIKE 'ALTER TABLE lit %'
ORDER BY id;
SELECT count(*) AS replayed FROM captured();
SELECT s.name, s.expr AS source, s.expr = r.expr AS replica_same
FROM column_defaults('lit') s LEFT JOIN column_defaults('lit_replica') r USING (name);

-- A multi-statement string is parsed before its SET runs: the ALTER
-- TABLE below was read with the setting off, and is captured so.
SET standard_conforming_strings = off;
SET escape_string_warning = off;
SET standard_conforming_strings = on \; ALTER TABLE lit ADD COLUMN r text DEFAULT 'r\'x';
-- and this one was read with it on
SET standard_conforming_strings = off \; ALTER TABLE lit ADD COLUMN s text DEFAULT 's\';
RESET escape_string_warning;
RESET standard_conforming_strings;
SELECT * FROM captured();
SELECT name, expr FROM column_defaults('lit') WHERE name IN ('r', 's');

-- CREATE TABLE AS: its query was analyzed already, how its literals were
-- read cannot be checked; a backslash in a plain literal makes it unknown
SET standard_conforming_strings = off;
SET escape_string_warning = off;
CREATE TABLE lit_copy AS SELECT 'c\'d' AS c;
CREATE TABLE lit_copy2 AS SELECT 'no backslash' AS c;
RESET escape_string_warning;
RESET standard_conforming_strings;
SELECT * FROM captured();

SELECT pg_drop_replication_slot('dts_sync_regress');
DROP TABLE lit, lit_replica, lit_copy, lit_copy2;
DROP FUNCTION captured(), replay_on(text, text), column_defaults(regclass);
