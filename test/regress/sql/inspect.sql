-- pgdts.record_json() itself.
SET synchronous_commit = on;

-- an empty message is a record of no known kind; garbage is refused
SELECT pgdts.record_json('\x');
SELECT pgdts.record_json('\xffff');
SELECT pgdts.record_json(NULL) IS NULL AS is_null;

-- a record kind and a value kind this version does not know
SELECT pgdts.record_json('\x5200');
SELECT pgdts.record_json('\x2208080112040a024001');

-- not stable: the real xid, LSNs and commit time
SET TimeZone = 'UTC';
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgdts');
CREATE TABLE insp (id int PRIMARY KEY);
BEGIN;
INSERT INTO insp VALUES (1);
SELECT pg_current_xact_id()::text AS xid \gset
COMMIT;
SELECT pg_current_wal_lsn() AS lsn_after \gset
WITH r AS (
	SELECT lsn, pgdts.record_json(data)::jsonb AS j
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
), b AS (
	SELECT j -> 'begin' AS b FROM r WHERE j ? 'begin'
), c AS (
	SELECT lsn, j -> 'commit' AS c FROM r WHERE j ? 'commit'
)
SELECT b ->> 'xid' = :'xid' AS begin_xid,
	   c ->> 'xid' = :'xid' AS commit_xid,
	   b ->> 'final_lsn' = c ->> 'commit_lsn' AS final_is_commit_lsn,
	   (c ->> 'commit_lsn')::pg_lsn < (c ->> 'end_lsn')::pg_lsn AS end_after_commit,
	   (c ->> 'end_lsn')::pg_lsn <= :'lsn_after' AS end_before_now,
	   (b ->> 'commit_time')::timestamptz = (c ->> 'commit_time')::timestamptz AS same_time,
	   (c ->> 'commit_time')::timestamptz BETWEEN now() - interval '1 hour' AND clock_timestamp() AS recent_time
FROM b, c;

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE insp;
RESET TimeZone;
