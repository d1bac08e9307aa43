-- Old images of UPDATE and DELETE under each replica identity.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

-- DEFAULT with a primary key: the old key, when the key changed
CREATE TABLE id_default (a int, id int PRIMARY KEY, v text);
INSERT INTO id_default VALUES (0, 1, 'x');
UPDATE id_default SET v = 'y' WHERE id = 1;
UPDATE id_default SET id = 2 WHERE id = 1;
DELETE FROM id_default WHERE id = 2;

-- USING INDEX: the index's columns, in column order
CREATE TABLE id_index (a int NOT NULL, v text, b int NOT NULL, c int);
CREATE UNIQUE INDEX id_index_b_a ON id_index (b, a);
ALTER TABLE id_index REPLICA IDENTITY USING INDEX id_index_b_a;
INSERT INTO id_index VALUES (1, 'x', 2, 3);
UPDATE id_index SET v = 'y' WHERE a = 1;
UPDATE id_index SET b = 20 WHERE a = 1;
DELETE FROM id_index WHERE a = 1;

-- FULL: the whole old row, every time; no column is a key column
CREATE TABLE id_full (id int, v text);
ALTER TABLE id_full REPLICA IDENTITY FULL;
INSERT INTO id_full VALUES (1, 'x'), (2, NULL);
UPDATE id_full SET v = 'y' WHERE id = 1;
DELETE FROM id_full WHERE id = 2;

-- NOTHING: no old image at all, even with a primary key
CREATE TABLE id_nothing (id int PRIMARY KEY, v text);
ALTER TABLE id_nothing REPLICA IDENTITY NOTHING;
INSERT INTO id_nothing VALUES (1, 'x');
UPDATE id_nothing SET id = 2 WHERE id = 1;
DELETE FROM id_nothing WHERE id = 2;

-- DEFAULT without a primary key: the same as NOTHING
CREATE TABLE id_nokey (id int, v text);
INSERT INTO id_nokey VALUES (1, 'x');
UPDATE id_nokey SET v = 'y';
DELETE FROM id_nokey;

SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE id_default, id_index, id_full, id_nothing, id_nokey;
