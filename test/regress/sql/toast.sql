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

-- compressed values, inline and out of line, are sent decompressed
CREATE TABLE compressed (id int PRIMARY KEY, t text, b bytea);
INSERT INTO compressed VALUES
	(1, repeat('x', 5000), convert_to(repeat('y', 5000), 'UTF8')),
	(2, repeat('abc', 100000), convert_to(repeat('abc', 100000), 'UTF8'));
SELECT id, pg_column_compression(t) AS t_compression, pg_column_size(t) < length(t) AS t_smaller,
	   pg_column_compression(b) AS b_compression, pg_column_size(b) < length(b) AS b_smaller
FROM compressed ORDER BY id;
WITH r AS (
	SELECT pgdts.record_json(data, true)::jsonb -> 'insert' -> 'new_tuple' AS t
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
)
SELECT c.id,
	   r.t #>> '{1,text}' = c.t AS same_text,
	   r.t #>> '{2,bytes}' = '\x' || encode(c.b, 'hex') AS same_bytes
FROM r JOIN compressed c ON c.id = (r.t #>> '{0,int}')::int
ORDER BY c.id;

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE toasted, compressed;
DROP FUNCTION big_value(int);
