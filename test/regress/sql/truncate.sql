-- TRUNCATE: one record for all its relations, with its options.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE tr_parent (id serial PRIMARY KEY);
CREATE TABLE tr_child (id int PRIMARY KEY, parent int REFERENCES tr_parent);
CREATE TABLE tr_other (id int PRIMARY KEY);

TRUNCATE tr_other;
TRUNCATE tr_parent, tr_child RESTART IDENTITY;
TRUNCATE tr_parent CASCADE;

-- the extension's own tables are left out
TRUNCATE pgdts.dts_postgres_heartbeat;
TRUNCATE tr_other, pgdts.dts_postgres_heartbeat;

-- changes before and after in one transaction
BEGIN;
INSERT INTO tr_other VALUES (1);
TRUNCATE tr_other;
INSERT INTO tr_other VALUES (2);
COMMIT;

SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE tr_child, tr_parent, tr_other;
