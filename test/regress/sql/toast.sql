-- NULL versus unchanged TOASTed values.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

-- 3200 hexadecimal digits without repeats: incompressible, and EXTERNAL
-- storage keeps it out of line anyway
CREATE TABLE toasted (id int PRIMARY KEY, other int, big text, small text, blob bytea);
ALTER TABLE toasted ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE toasted ALTER COLUMN blob SET STORAGE EXTERNAL;
CREATE FUNCTION big_value(seed int) RETURNS text LANGUAGE sql IMMUTABLE
	AS $$ SELECT string_agg(md5((g + seed)::text), '') FROM generate_series(1, 100) g $$;

INSERT INTO toasted VALUES (1, 1, big_value(0), NULL, decode(big_value(1) || big_value(4), 'hex'));
-- big and blob unchanged: not sent; small is NULL: sent as null
UPDATE toasted SET other = 2 WHERE id = 1;
-- a changed TOASTed value is sent whole
UPDATE toasted SET big = big_value(2) WHERE id = 1;
UPDATE toasted SET small = 'set' WHERE id = 1;
DELETE FROM toasted WHERE id = 1;

-- REPLICA IDENTITY FULL: the old row carries every value, TOASTed ones too
INSERT INTO toasted VALUES (2, 1, big_value(3), 'x', NULL);
ALTER TABLE toasted REPLICA IDENTITY FULL;
UPDATE toasted SET other = 3 WHERE id = 2;
DELETE FROM toasted WHERE id = 2;

-- long values shortened for display
SELECT regexp_replace(regexp_replace(pgdts.record_json(data, true),
		'"\\\\x[0-9a-f]{200,}"', '"<long bytes>"', 'g'),
		'"[0-9a-f]{200,}"', '"<long text>"', 'g') AS record
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL);

-- the long values are sent exactly
WITH r AS (
	SELECT pgdts.record_json(data, true)::jsonb AS j
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
)
SELECT j #>> '{insert,new_tuple,2,text}' = big_value(0) AS inserted_big,
	   j #>> '{insert,new_tuple,4,bytes}' = '\x' || big_value(1) || big_value(4) AS inserted_blob
FROM r WHERE j ? 'insert' AND j #>> '{insert,new_tuple,0,int}' = '1';

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE toasted;
DROP FUNCTION big_value(int);
