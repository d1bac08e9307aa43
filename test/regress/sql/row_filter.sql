-- Row filters: option "row_filter", "schema.table WHERE condition".
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE orders (id int PRIMARY KEY, region text, note text);
ALTER TABLE orders REPLICA IDENTITY FULL;
ALTER TABLE orders ALTER COLUMN note SET STORAGE EXTERNAL;
CREATE TABLE other (id int PRIMARY KEY, region text);
CREATE FUNCTION long_note(seed int) RETURNS text LANGUAGE sql IMMUTABLE
	AS $$ SELECT string_agg(md5((g + seed)::text), '') FROM generate_series(1, 100) g $$;

INSERT INTO orders VALUES (1, 'eu', 'a'), (2, 'us', 'b');	-- 1 sent, 2 not
UPDATE orders SET note = 'a2' WHERE id = 1;					-- in, in: UPDATE
UPDATE orders SET note = 'b2' WHERE id = 2;					-- out, out: nothing
UPDATE orders SET region = 'us' WHERE id = 1;				-- in, out: DELETE
UPDATE orders SET region = 'eu' WHERE id = 2;				-- out, in: INSERT
DELETE FROM orders WHERE id = 1;							-- out: nothing
DELETE FROM orders WHERE id = 2;							-- in: DELETE
-- an unchanged TOASTed value crossing in is taken from the old row
INSERT INTO orders VALUES (3, 'us', long_note(0));
UPDATE orders SET region = 'eu' WHERE id = 3;
-- a table without a filter sends everything
INSERT INTO other VALUES (1, 'us');

SELECT regexp_replace(pgdts.record_json(data, true), '"[0-9a-f]{200,}"', '"<long text>"', 'g') AS record
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'row_filter', 'public.orders WHERE region = ''eu''')
WHERE pgdts.record_json(data, true) NOT LIKE '{"relation"%';

-- the long value is the row's own, not a marker
SELECT pgdts.record_json(data, true) LIKE '%' || long_note(0) || '%' AS whole_value_sent
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'row_filter', 'public.orders WHERE region = ''eu''')
WHERE pgdts.record_json(data, true) LIKE '{"insert"%';

-- quoted names and a condition over several columns
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'row_filter', '"public"."orders" WHERE region = ''eu'' AND id > 2 OR note IS NULL')
WHERE pgdts.record_json(data, true) LIKE '{"insert"%';

-- refused: bad syntax, not one table and one condition, two filters for a table
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'row_filter', 'public.orders WHERE region = ');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'row_filter', 'public.orders');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'row_filter', 'orders WHERE true');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'row_filter', 'public.orders WHERE true; SELECT 1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'row_filter', 'public.orders WHERE true',
	'row_filter', 'public.orders WHERE false');

-- refused when the table's first change is decoded: unknown column,
-- volatile or user-defined function, subquery, another table, not a
-- boolean; the error names the filter (the first line of its context,
-- without the LSN of the next)
CREATE FUNCTION decoding_error(filter text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	msg text;
	detail text;
	ctx text;
BEGIN
	PERFORM count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
		'row_filter', filter);
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
		ctx = PG_EXCEPTION_CONTEXT;
	RETURN msg || coalesce(nullif(' (' || detail || ')', ' ()'), '') || ' / ' ||
		split_part(ctx, E'\n', 1);
END $$;
SELECT decoding_error('public.orders WHERE regoin = ''eu''');
SELECT decoding_error('public.orders WHERE random() < 0.5');
SELECT decoding_error('public.orders WHERE long_note(id) <> ''''');
SELECT decoding_error('public.orders WHERE id IN (SELECT 1)');
SELECT decoding_error('public.orders WHERE other.id = 1');
SELECT decoding_error('public.orders WHERE region');
SELECT decoding_error('public.orders WHERE region = ''eu''');

-- a column the filter needs, dropped later, stops decoding, naming the filter
ALTER TABLE other DROP COLUMN region;
INSERT INTO other VALUES (2);
SELECT decoding_error('public.other WHERE region = ''eu''');

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE orders, other;
DROP FUNCTION long_note(int), decoding_error(text);
