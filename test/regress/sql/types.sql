-- How each kind of value travels: typed integers, floats, booleans and
-- bytea; everything else as the type's text output.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE ints (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8);
INSERT INTO ints VALUES
	(1, -32768, -2147483648, -9223372036854775808),
	(2, 32767, 2147483647, 9223372036854775807),
	(3, 0, 0, 0);

CREATE TABLE floats (id int PRIMARY KEY, f4 real, f8 double precision);
INSERT INTO floats VALUES
	(1, 'NaN', 'NaN'),
	(2, 'Infinity', 'Infinity'),
	(3, '-Infinity', '-Infinity'),
	(4, '-0', '-0'),
	(5, 0, 0),
	(6, 1.5, 1.5),
	(7, 0.1, 0.1),
	(8, 3.4028235e38, 1.7976931348623157e308),
	(9, 1e-45, 5e-324),
	(10, -1.17549435e-38, 2.2250738585072014e-308);

CREATE TABLE misc (id int PRIMARY KEY, b bool, by bytea, t text);
INSERT INTO misc VALUES
	(1, true, '\x', ''),
	(2, false, '\x00ff10', E'quote " backslash \\ newline \n tab \t cr \r'),
	(3, NULL, decode(repeat('00', 4) || 'deadbeef', 'hex'), E'control \x01\x1f del \x7f'),
	(4, true, NULL, 'non-ASCII: é ß € 😀 日本語');

-- text-like types travel as their bytes, trailing blanks of char(n) kept
CREATE TABLE texts (id int PRIMARY KEY, vc varchar(10), c char(5), n name);
INSERT INTO texts VALUES (1, 'abc', 'ab', 'a name');

-- types without a typed encoding travel as their output text
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
CREATE TABLE others (
	id int PRIMARY KEY,
	n numeric,
	n2 numeric(10, 2),
	ts timestamptz,
	tsn timestamp,
	d date,
	iv interval,
	j jsonb,
	arr int[],
	tarr text[],
	u uuid,
	inet_ inet,
	bits bit varying(8),
	money_ money
);
INSERT INTO others VALUES
	(1, 'NaN', 3.14159, '2024-02-29 12:34:56.789+02', '2024-02-29 12:34:56',
	 '2024-02-29', '1 day 02:03:04', '{"a": [1, "x\"y"]}', '{1,NULL,3}',
	 '{"a b","c\"d",NULL}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	 '192.168.0.1/24', B'1011', 12.34),
	(2, 123456789012345678901234567890.123456789, -0.5, 'infinity', '-infinity',
	 'infinity', '-1 year', 'null', '{}', '{}', NULL, '::1', B'', 0);

-- domains travel like their base type; types outside pg_catalog are named
-- with their schema
CREATE SCHEMA types_schema;
CREATE DOMAIN types_schema.posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN short_text AS varchar(20);
CREATE TYPE mood AS ENUM ('sad', 'happy', 'quoted "one"');
CREATE TYPE types_schema."Pair" AS (a int, b text);
CREATE TABLE user_types (
	id int PRIMARY KEY,
	p types_schema.posint,
	s short_text,
	m mood,
	ms mood[],
	pair types_schema."Pair"
);
INSERT INTO user_types VALUES
	(1, 42, 'short', 'happy', '{sad,"quoted \"one\""}', ROW(1, 'x y'));

SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

-- every record is valid JSON
INSERT INTO misc VALUES (5, false, '\x01', E'\x02 "x" \\');
SELECT count(*) AS records, count(pgdts.record_json(data)::jsonb) AS valid_json
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE ints, floats, misc, texts, others, user_types;
DROP SCHEMA types_schema CASCADE;
DROP DOMAIN short_text;
DROP TYPE mood;
RESET TimeZone;
RESET DateStyle;
RESET IntervalStyle;
