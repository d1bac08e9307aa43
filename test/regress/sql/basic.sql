-- BEGIN, RELATION, INSERT, UPDATE, DELETE and COMMIT records; lazy BEGIN.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE basic (id int PRIMARY KEY, name text, score int);
CREATE TABLE basic_other (id int PRIMARY KEY, note text);

-- DDL alone, an empty transaction and a read-only one send nothing
BEGIN;
COMMIT;
BEGIN;
SELECT count(*) FROM basic;
COMMIT;

INSERT INTO basic VALUES (1, 'one', 10);
INSERT INTO basic VALUES (2, 'two', 20), (3, NULL, 30);
UPDATE basic SET score = score + 1 WHERE id = 1;
DELETE FROM basic WHERE id = 2;

-- several relations in one transaction: RELATION before each one's first
-- change of the session only
BEGIN;
INSERT INTO basic_other VALUES (1, 'first');
INSERT INTO basic VALUES (4, 'four', 40);
INSERT INTO basic_other VALUES (2, 'second');
COMMIT;

SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

-- a new decoding session sends RELATION again
INSERT INTO basic VALUES (5, 'five', 50);
SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

-- nothing left
SELECT count(*) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE basic, basic_other;
