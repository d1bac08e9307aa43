-- Rolled back transactions and subtransactions send nothing.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

CREATE TABLE rb (id int PRIMARY KEY, v text);

BEGIN;
INSERT INTO rb VALUES (1, 'rolled back');
ROLLBACK;

-- only the rolled back subtransaction disappears
BEGIN;
INSERT INTO rb VALUES (2, 'kept');
SAVEPOINT s1;
INSERT INTO rb VALUES (3, 'rolled back to savepoint');
UPDATE rb SET v = 'rolled back update' WHERE id = 2;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO rb VALUES (4, 'kept after savepoint');
COMMIT;

-- a transaction whose every change was rolled back sends no BEGIN/COMMIT
BEGIN;
SAVEPOINT s1;
INSERT INTO rb VALUES (5, 'rolled back to savepoint');
SELECT 'msg' FROM pg_logical_emit_message(true, 'pgdts', 'rolled back to savepoint');
ROLLBACK TO SAVEPOINT s1;
COMMIT;

-- released subtransactions are part of their transaction, nested ones too
BEGIN;
SAVEPOINT s1;
INSERT INTO rb VALUES (6, 'released');
SAVEPOINT s2;
INSERT INTO rb VALUES (7, 'nested, rolled back');
ROLLBACK TO SAVEPOINT s2;
SAVEPOINT s3;
INSERT INTO rb VALUES (8, 'nested, released');
RELEASE SAVEPOINT s3;
RELEASE SAVEPOINT s1;
COMMIT;

-- an error aborts the transaction
BEGIN;
INSERT INTO rb VALUES (9, 'aborted by error');
INSERT INTO rb VALUES (9, 'duplicate');
COMMIT;

SELECT pgdts.record_json(data, true) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE rb;
