-- Column expressions: option "transform", "(expression) AS column FROM schema.table".
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE people (id int PRIMARY KEY, email text, visits int, note text);
ALTER TABLE people REPLICA IDENTITY FULL;
INSERT INTO people VALUES (1, 'a@real.example', 1, 'n');
UPDATE people SET visits = 2 WHERE id = 1;
UPDATE people SET email = 'b@real.example' WHERE id = 1;
DELETE FROM people WHERE id = 1;

-- email masked in the new row and in the whole old row; visits coerced from
-- numeric as an assignment would
SELECT pgdts.record_json(data, true) AS record
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'transform', '(md5(email) || ''@example.invalid'') AS email FROM public.people',
	'transform', '(visits * 1.6) AS visits FROM public.people')
WHERE pgdts.record_json(data, true) NOT LIKE '{"relation"%'
  AND pgdts.record_json(data, true) NOT LIKE '{"begin"%'
  AND pgdts.record_json(data, true) NOT LIKE '{"commit"%';

-- no source email left in the stream
SELECT count(*) AS leaked
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'transform', '(md5(email)) AS email FROM public.people')
WHERE pgdts.record_json(data, true) LIKE '%real.example%';

-- a column the table lacks is added after its own, typed as its
-- expression (an unknown-type literal as text), in every row sent: the new
-- row and the whole old row
SELECT pgdts.record_json(data, true) AS record
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'transform', '((visits * 100)::bigint) AS visits_cents FROM public.people',
	'transform', '(''fixed'') AS label FROM public.people')
WHERE pgdts.record_json(data, true) NOT LIKE '{"begin"%'
  AND pgdts.record_json(data, true) NOT LIKE '{"commit"%'
LIMIT 3;

-- refused: not one expression, a column twice, a key column, a volatile
-- function, a type that does not assign, an added column of a pseudo-type
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'transform', 'md5(email) FROM public.people');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'transform', '1 AS visits FROM public.people', 'transform', '2 AS visits FROM public.people');
CREATE FUNCTION decoding_error(expression text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	msg text;
	ctx text;
BEGIN
	PERFORM count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
		'transform', expression);
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, ctx = PG_EXCEPTION_CONTEXT;
	RETURN msg || ' / ' || split_part(ctx, E'\n', 1);
END $$;
SELECT decoding_error('(id + 1) AS id FROM public.people');
SELECT decoding_error('(email || random()) AS email FROM public.people');
SELECT decoding_error('(''x''::text) AS visits FROM public.people');
SELECT decoding_error('(ROW(id, email)) AS nope FROM public.people');

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE people;
DROP FUNCTION decoding_error(text);
