-- The change records are written in protobuf's wire format by hand
-- (encode.c): lengths and integers at the edges of their varint sizes,
-- zero values of oneof members, empty and long values, old images.
SET synchronous_commit = on;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

-- integers whose zigzag varint takes one more byte past each edge
CREATE TABLE edges (id int PRIMARY KEY, i2 int2, i8 int8, f4 real, b bool);
INSERT INTO edges VALUES
	(63, 63, 63, 0, false),
	(64, 64, 64, -0, true),
	(-64, -64, -64, 1.5, NULL),
	(-65, -65, -65, 'NaN', false),
	(8191, 8191, 8191, 'Infinity', true),
	(8192, 8192, 8192, '-Infinity', true),
	(0, 0, 0, 3.4028235e38, false),
	(2147483647, -32768, -9223372036854775808, 1e-45, true);

-- the ten types of issue 11's table, NULLs, empty strings, extremes
CREATE TABLE wide (id int PRIMARY KEY, b bigint, n numeric, t text,
	ts timestamptz, d date, u uuid, ok boolean, j jsonb, f double precision);
INSERT INTO wide VALUES
	(1, 1, 1.5, 'one', '2026-01-01 00:00:00+00', '2026-01-01',
	 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, '{"a": 1}', 0.1),
	(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(3, 0, 'NaN', '', '-infinity', '-infinity',
	 '00000000-0000-0000-0000-000000000000', false, '{}', 'NaN'),
	(4, -1, '-0.000001', 'unicode: é ß € 😀 日本語', 'infinity', 'infinity',
	 'ffffffff-ffff-ffff-ffff-ffffffffffff', true, '[null, "x\"y"]', '-Infinity');
UPDATE wide SET t = t || '!', n = -n WHERE id IN (1, 3);
UPDATE wide SET id = 10 WHERE id = 4;
DELETE FROM wide WHERE id = 2;
ALTER TABLE wide REPLICA IDENTITY FULL;
UPDATE wide SET ok = NOT ok WHERE id = 3;
DELETE FROM wide WHERE id = 1;

SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

-- values, tuples and records whose lengths sit on each side of the one- and
-- two-byte varint edges (127/128, 16383/16384: values of 127 and 16383
-- bytes, tuples near rows of 55 and 8181), and a value of 2 MB
CREATE TABLE lengths (id int PRIMARY KEY, t text, by bytea);
ALTER TABLE lengths ALTER COLUMN t SET STORAGE EXTERNAL;
INSERT INTO lengths
	SELECT n, repeat('x', n), decode(repeat('ab', n), 'hex')
	FROM unnest(ARRAY[0, 1, 52, 53, 54, 55, 56, 57, 58, 59, 126, 127, 128,
					  129, 8178, 8179, 8180, 8181, 8182, 8183, 8184, 16383,
					  16384, 2097152]) n;
UPDATE lengths SET t = t || 'y' WHERE id IN (126, 127, 16383);
UPDATE lengths SET id = -id WHERE id IN (128, 16384);
DELETE FROM lengths WHERE id IN (-128, 0);
-- unchanged TOASTed values are not sent
UPDATE lengths SET by = '\x' WHERE id = 2097152;

WITH r AS (
	SELECT ordinality AS n, pgdts.record_json(data, true)::jsonb AS j,
		   octet_length(data) AS bytes
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
		 WITH ORDINALITY
)
SELECT n, (SELECT k FROM jsonb_object_keys(j) k) AS kind, bytes,
	   (SELECT string_agg(CASE
				WHEN v ? 'text' THEN 'text ' || length(v ->> 'text')
				WHEN v ? 'bytes' THEN 'bytes ' || (length(v ->> 'bytes') - 2) / 2
				ELSE v::text END, ', ' ORDER BY o)
		FROM jsonb_array_elements(coalesce(j #> '{insert,new_tuple}',
										   j #> '{update,new_tuple}'))
			 WITH ORDINALITY AS e(v, o)) AS new_tuple,
	   coalesce(j #> '{update,old_tuple}', j #> '{delete,old_tuple}') AS old_tuple
FROM r
WHERE NOT j ? 'begin' AND NOT j ? 'commit'
ORDER BY n;

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE edges, wide, lengths;
RESET TimeZone;
RESET DateStyle;
