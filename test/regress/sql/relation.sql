-- RELATION is sent again after the relation's definition changed.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE rel (id int PRIMARY KEY, a text);
INSERT INTO rel VALUES (1, 'one');
INSERT INTO rel VALUES (2, 'two');

-- a new column, with a default that existing rows take without a rewrite
ALTER TABLE rel ADD COLUMN b int DEFAULT 7;
INSERT INTO rel VALUES (3, 'three', 3);
UPDATE rel SET a = 'uno' WHERE id = 1;

-- dropped columns are left out
ALTER TABLE rel DROP COLUMN a;
INSERT INTO rel VALUES (4, 4);

-- renames and a type change (whose table rewrite is not sent)
ALTER TABLE rel RENAME COLUMN b TO c;
ALTER TABLE rel RENAME TO rel_renamed;
ALTER TABLE rel_renamed ALTER COLUMN c TYPE bigint;
INSERT INTO rel_renamed VALUES (5, 5);

-- generated columns are left out: a destination computes them itself
ALTER TABLE rel_renamed ADD COLUMN g bigint GENERATED ALWAYS AS (c * 2) STORED;
INSERT INTO rel_renamed VALUES (6, 6);

-- a new replica identity changes the key columns
ALTER TABLE rel_renamed ALTER COLUMN c SET NOT NULL;
CREATE UNIQUE INDEX rel_c_id ON rel_renamed (c, id);
ALTER TABLE rel_renamed REPLICA IDENTITY USING INDEX rel_c_id;
UPDATE rel_renamed SET c = 60 WHERE id = 6;

-- a definition change inside the transaction, between two changes
BEGIN;
INSERT INTO rel_renamed VALUES (7, 7);
ALTER TABLE rel_renamed ADD COLUMN d text;
INSERT INTO rel_renamed (id, c, d) VALUES (8, 8, 'eight');
COMMIT;

-- into another schema
CREATE SCHEMA rel_schema;
ALTER TABLE rel_renamed SET SCHEMA rel_schema;
DELETE FROM rel_schema.rel_renamed WHERE id = 8;

SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP SCHEMA rel_schema CASCADE;
