-- Record batches (option "batch"): the records of a transaction in one
-- message, each framed with its own LSN (plugin/record_batch.h). Every
-- frame must give back exactly the record and LSN an unbatched peek gives.
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');

-- The frames of one batch: varint LSN delta, 4-byte little-endian length,
-- the record.
CREATE FUNCTION batch_frames(batch bytea, OUT lsn pg_lsn, OUT record bytea)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
  pos int := 0;
  at numeric := 0;
  delta numeric;
  shift int;
  b int;
  len int;
BEGIN
  WHILE pos < length(batch) LOOP
    delta := 0;
    shift := 0;
    LOOP
      b := get_byte(batch, pos);
      pos := pos + 1;
      delta := delta + (b & 127)::numeric * 2::numeric ^ shift;
      EXIT WHEN b < 128;
      shift := shift + 7;
    END LOOP;
    at := at + delta;
    len := get_byte(batch, pos) + get_byte(batch, pos + 1) * 256
         + get_byte(batch, pos + 2) * 65536 + get_byte(batch, pos + 3) * 16777216;
    pos := pos + 4;
    lsn := '0/0'::pg_lsn + at;
    record := substring(batch FROM pos + 1 FOR len);
    pos := pos + len;
    RETURN NEXT;
  END LOOP;
END $$;

-- The slot's records, batched and not: how many, and how many are the
-- same record at the same LSN in the same place.
CREATE FUNCTION batched_as_plain(OUT records bigint, OUT identical bigint)
LANGUAGE sql AS $$
WITH plain AS (
  SELECT row_number() OVER () AS n, lsn, data
  FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL)),
batched AS (
  SELECT row_number() OVER () AS n, f.lsn, f.record AS data
  FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'batch', 'on') AS m,
       LATERAL batch_frames(m.data) AS f)
SELECT count(*), count(*) FILTER (WHERE p.lsn = q.lsn AND p.data = q.data)
FROM plain p FULL JOIN batched q USING (n)
$$;

CREATE TABLE b (id int PRIMARY KEY, t text);
INSERT INTO b VALUES (1, 'one'), (2, 'two'), (3, 'three');
UPDATE b SET t = 'deux' WHERE id = 2;
SELECT 'msg' FROM pg_logical_emit_message(false, 'pgdts.heartbeat', 'alone');
BEGIN;
DELETE FROM b WHERE id = 1;
SELECT 'msg' FROM pg_logical_emit_message(true, 'pgdts.marker', 'inside');
COMMIT;

-- one message per transaction, one for the non-transactional message
SELECT count(*) AS unbatched FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL);
SELECT count(*) AS batches FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'batch', 'on');

-- the same records at the same LSNs, in the same order
SELECT * FROM batched_as_plain();

-- what a batch holds, readable
SELECT pgdts.record_json(f.record, true)
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'batch', 'on') AS m,
     LATERAL batch_frames(m.data) AS f
LIMIT 7;

SELECT count(*) FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

-- a transaction larger than a batch (64 kB) is sent in several, each whole
INSERT INTO b SELECT g, repeat('x', 200) FROM generate_series(10, 1009) AS g;
SELECT count(*) > 1 AS several,
       bool_and(length(m.data) < 64 * 1024 + 400) AS bounded
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'batch', 'on') AS m;
SELECT * FROM batched_as_plain();

-- the option is a boolean, given once
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'batch', 'off');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'batch', 'sometimes');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'batch', 'on', 'batch', 'on');

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE b;
DROP FUNCTION batched_as_plain();
DROP FUNCTION batch_frames(bytea);
