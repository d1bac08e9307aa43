-- ADD COLUMN with a volatile default: the capture writes the rows again
-- (UPDATE t SET c = c) so that the stream carries the source's values.
-- That UPDATE runs nobody's code: no user trigger of the table fires,
-- whatever its enabled state (REPLICA and ALWAYS included), and nothing
-- is put in session_replication_role = replica, so another owner's
-- triggers and keys behave as always.  It runs as the table's owner.
SET synchronous_commit = on;

CREATE FUNCTION rewrite_stream(OUT record text, OUT id int, OUT r text)
RETURNS SETOF record LANGUAGE sql AS $$
	SELECT substring(t FROM '^\{"(\w+)"'),
		   (j -> 'update' -> 'new_tuple' -> 0 ->> 'int')::int,
		   j -> 'update' -> 'new_tuple' -> 2 ->> 'float'
	FROM (SELECT t, t::jsonb AS j
		  FROM (SELECT pgdts.record_json(data, true) AS t
				FROM pg_logical_slot_get_binary_changes('dts_sync_regress', NULL, NULL)) s) u
	WHERE t NOT LIKE '{"relation"%'
$$;

-- The victim: another role's audit table, with a trigger and a foreign
-- key of its own, that the owner may insert into.
CREATE ROLE regress_rw_victim LOGIN;
CREATE ROLE regress_rw_owner LOGIN;
CREATE SCHEMA regress_victim AUTHORIZATION regress_rw_victim;
CREATE SCHEMA regress_rw AUTHORIZATION regress_rw_owner;
SET ROLE regress_rw_victim;
CREATE TABLE regress_victim.kinds (kind text PRIMARY KEY);
INSERT INTO regress_victim.kinds VALUES ('replica'), ('always'), ('plain'), ('other');
CREATE TABLE regress_victim.audit (
	n serial PRIMARY KEY,
	kind text REFERENCES regress_victim.kinds,
	checked boolean DEFAULT false);
CREATE FUNCTION regress_victim.audit_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.checked := true;
	RETURN NEW;
END $$;
CREATE TRIGGER audit_check BEFORE INSERT ON regress_victim.audit
	FOR EACH ROW EXECUTE FUNCTION regress_victim.audit_check();
GRANT USAGE ON SCHEMA regress_victim TO regress_rw_owner;
GRANT INSERT ON regress_victim.audit TO regress_rw_owner;
GRANT USAGE ON SEQUENCE regress_victim.audit_n_seq TO regress_rw_owner;
RESET ROLE;

-- The owner's table, with a trigger in every enabled state, and another
-- table with an ordinary trigger.
SET ROLE regress_rw_owner;
CREATE FUNCTION regress_rw.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress_victim.audit (kind) VALUES (TG_ARGV[0]);
	RETURN NULL;
END $$;
CREATE FUNCTION regress_rw.whoami(int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'check of row % as %', $1, current_user;
	RETURN true;
END $$;
CREATE TABLE regress_rw.t (id int PRIMARY KEY, v text,
	CONSTRAINT t_check CHECK (regress_rw.whoami(id)));
INSERT INTO regress_rw.t VALUES (1, 'a'), (2, 'b'), (3, 'c');
CREATE TRIGGER t_replica AFTER UPDATE ON regress_rw.t
	FOR EACH ROW EXECUTE FUNCTION regress_rw.note('replica');
CREATE TRIGGER t_always AFTER UPDATE ON regress_rw.t
	FOR EACH ROW EXECUTE FUNCTION regress_rw.note('always');
CREATE TRIGGER t_plain AFTER UPDATE ON regress_rw.t
	FOR EACH STATEMENT EXECUTE FUNCTION regress_rw.note('plain');
CREATE TRIGGER t_disabled AFTER UPDATE ON regress_rw.t
	FOR EACH ROW EXECUTE FUNCTION regress_rw.note('disabled');
ALTER TABLE regress_rw.t ENABLE REPLICA TRIGGER t_replica;
ALTER TABLE regress_rw.t ENABLE ALWAYS TRIGGER t_always;
ALTER TABLE regress_rw.t DISABLE TRIGGER t_disabled;
CREATE TABLE regress_rw.other (id int PRIMARY KEY);
INSERT INTO regress_rw.other VALUES (1);
CREATE TRIGGER other_plain AFTER UPDATE ON regress_rw.other
	FOR EACH ROW EXECUTE FUNCTION regress_rw.note('other');
RESET ROLE;

SELECT 'init' FROM pg_create_logical_replication_slot('dts_sync_regress', 'pgdts');

-- As the owner: the volatile ADD COLUMN, and in the same transaction an
-- UPDATE of the other table.  The check runs as the owner.
SET ROLE regress_rw_owner;
BEGIN;
ALTER TABLE regress_rw.t ADD COLUMN r float8 DEFAULT random();
UPDATE regress_rw.other SET id = id;
COMMIT;
RESET ROLE;
-- no trigger of t fired; the other table's did, normally (the victim's
-- own trigger ran, its foreign key held)
SELECT kind, checked FROM regress_victim.audit ORDER BY n;
-- the rows travel as UPDATEs with the source's values (the last UPDATE
-- is the other table's)
CREATE TEMP TABLE streamed AS SELECT * FROM rewrite_stream();
SELECT record, id FROM streamed;
SELECT count(*) AS updates_with_source_value
FROM streamed s JOIN regress_rw.t USING (id)
WHERE s.record = 'update' AND s.r::float8 = t.r;
-- each trigger is back in its state
SELECT tgname, tgenabled FROM pg_trigger
WHERE tgrelid = 'regress_rw.t'::regclass ORDER BY tgname;

-- As a superuser: the check still runs as the table's owner
ALTER TABLE regress_rw.t ADD COLUMN r2 float8 DEFAULT random();
SELECT count(*) AS updates FROM rewrite_stream() WHERE record = 'update';

-- The triggers work as before for the owner's own UPDATEs
TRUNCATE regress_victim.audit;
UPDATE regress_rw.t SET v = v WHERE id = 1;
SELECT kind, checked FROM regress_victim.audit ORDER BY n;

-- A table with an UPDATE rule is left alone, with a WARNING naming it
CREATE TABLE regress_rw.ruled (id int PRIMARY KEY);
INSERT INTO regress_rw.ruled VALUES (1);
CREATE RULE ruled_note AS ON UPDATE TO regress_rw.ruled
	DO ALSO INSERT INTO regress_victim.audit (kind) VALUES ('other');
SELECT count(*) > 0 AS drained FROM rewrite_stream();
ALTER TABLE regress_rw.ruled ADD COLUMN r float8 DEFAULT random();
SELECT record FROM rewrite_stream();

SELECT pg_drop_replication_slot('dts_sync_regress');
DROP SCHEMA regress_rw, regress_victim CASCADE;
DROP ROLE regress_rw_owner, regress_rw_victim;
DROP FUNCTION rewrite_stream();
