"""Replay never gives a source role more power on the destination (issue 10).

An ordinary role, alice (LOGIN, no superuser, on both sides), owns the
schemas the task syncs and attacks through them: her function is called
from a CHECK constraint, an index expression, a generated column and a
column default; it records whose rights it runs with and tries every way
out of them (ALTER ROLE ... SUPERUSER, RESET ROLE, set_config('role'),
COPY ... TO PROGRAM). Replayed on the destination, all of it must run as
alice, never as pgdts' superuser; her DDL must not stop the task, nor
touch objects outside it; the rows written after the attacks arrive."""

import os
import time

import psycopg

from compare_rows import assert_tables_equal
from processes import run_on_both, wait_caught_up

PROBE = """
CREATE FUNCTION app.probe(v int) RETURNS boolean LANGUAGE plpgsql AS $f$
DECLARE
  superuser text := 'off';
BEGIN
  -- is_superuser follows the session user; reading pg_authid needs the rights
  BEGIN PERFORM FROM pg_authid LIMIT 1; superuser := 'on';
  EXCEPTION WHEN insufficient_privilege THEN NULL; END;
  INSERT INTO app.probe_log VALUES (current_user, superuser);
  BEGIN EXECUTE 'ALTER ROLE alice SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
  BEGIN RESET ROLE; EXECUTE 'ALTER ROLE alice SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
  BEGIN PERFORM set_config('role', 'none', false); EXECUTE 'ALTER ROLE alice SUPERUSER';
  EXCEPTION WHEN OTHERS THEN NULL; END;
  BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {marker}''';
  EXCEPTION WHEN OTHERS THEN NULL; END;
  RETURN true;
END $f$;
-- for index expressions and generated columns, which call only immutable
-- functions: the volatile one runs with its own rights to write
CREATE FUNCTION app.probe_i(v int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
  'BEGIN RETURN app.probe(v); END'
"""


def _roles(source, dest):
    for c in (source, dest):
        c.sql("CREATE ROLE alice LOGIN")
        c.sql("CREATE SCHEMA app AUTHORIZATION alice")
        c.sql("CREATE SCHEMA app2 AUTHORIZATION alice")
        c.sql("CREATE SCHEMA other AUTHORIZATION alice")   # outside the task
        c.sql("CREATE TABLE app.probe_log (who name, superuser text)")
        c.sql("ALTER TABLE app.probe_log OWNER TO alice")


def _as_alice(cluster):
    conn = psycopg.connect(cluster.conninfo(user="alice"), autocommit=True)
    return conn


def _assert_never_superuser(dest, marker, app=None):
    assert dest.one("SELECT rolsuper FROM pg_roles WHERE rolname = 'alice'") is False
    ran_as = dest.sql("SELECT DISTINCT who, superuser FROM app.probe_log ORDER BY 1")
    assert ran_as and all(s == "off" for _, s in ran_as), (ran_as, app.log_tail() if app else "")
    assert not os.path.exists(marker), "COPY ... TO PROGRAM ran on the destination"


def test_source_role_code_runs_with_her_rights_on_the_destination(source, dest, pgdts, test_dir):
    marker = str(test_dir / "pwned")
    _roles(source, dest)
    run_on_both(source, dest, "CREATE FUNCTION other.f2() RETURNS int LANGUAGE sql AS 'SELECT 2';"
                              "ALTER FUNCTION other.f2() OWNER TO alice")
    app = pgdts.sync(source, dest, extra_args=["--schemas", "app,app2"])
    with _as_alice(source) as a:
        a.execute(PROBE.format(marker=marker))
        a.execute("CREATE TABLE app.t (id int PRIMARY KEY, v int CHECK (app.probe(v)))")
        a.execute("INSERT INTO app.t VALUES (1, 1)")
        a.execute("CREATE INDEX t_probe ON app.t ((app.probe_i(v)))")
        a.execute("INSERT INTO app.t VALUES (2, 2)")
        a.execute("ALTER TABLE app.t ADD COLUMN g boolean GENERATED ALWAYS AS (app.probe_i(id)) STORED")
        a.execute("ALTER TABLE app.t ADD COLUMN d boolean DEFAULT app.probe(0)")
        a.execute("INSERT INTO app.t (id, v) VALUES (3, 3)")
        a.execute("DO $$BEGIN ALTER TABLE app.t ADD COLUMN e boolean DEFAULT app.probe(5); END$$")
        a.execute("INSERT INTO app.t (id, v) VALUES (5, 5)")
        a.execute("UPDATE app.t SET v = v + 10")
        # SECURITY DEFINER and a view over password hashes: hers, not pgdts'
        a.execute("CREATE FUNCTION app.esc() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'")
        a.execute("CREATE VIEW app.hashes AS SELECT rolname, rolpassword FROM pg_authid")
        a.execute("DROP FUNCTION app.esc(), other.f2()")
        a.execute("CREATE FUNCTION app.esc() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        a.execute("ALTER FUNCTION app.esc() SECURITY DEFINER")
        a.execute("INSERT INTO app.t (id, v) VALUES (4, 4)")
    wait_caught_up(source, dest, app, timeout=120)
    assert app.alive(), app.log_tail()

    _assert_never_superuser(dest, marker)
    owners = dest.sql("SELECT proname, proowner::regrole::text, prosecdef FROM pg_proc"
                      " WHERE pronamespace = 'app'::regnamespace ORDER BY 1")
    assert owners == [("esc", "alice", True), ("probe", "alice", False), ("probe_i", "alice", False)]
    assert dest.one("SELECT relowner::regrole::text FROM pg_class WHERE oid = 'app.hashes'::regclass") \
        == "alice"
    assert dest.one("SELECT relowner::regrole::text FROM pg_class WHERE oid = 'app.t'::regclass") \
        == "alice"
    with psycopg.connect(dest.conninfo(user="alice"), autocommit=True) as a:
        try:
            a.execute("SELECT * FROM app.hashes").fetchall()
            raise AssertionError("alice read pg_authid through her view on the destination")
        except psycopg.errors.InsufficientPrivilege:
            pass
    # the function outside the task stays
    assert dest.one("SELECT count(*) FROM pg_proc WHERE oid = 'other.f2()'::regprocedure") == 1
    assert_tables_equal(source, dest, ["app.t"])
    # release leaves no run_as function (nor schema pgdts) behind
    app.stop()
    assert dest.one("SELECT count(*) FROM pg_proc WHERE proname LIKE 'run_as%'") >= 1
    assert pgdts.release(source, dest).returncode == 0
    assert dest.sql("SELECT proname FROM pg_proc WHERE proname LIKE 'run_as%'") == []
    assert dest.one("SELECT to_regnamespace('pgdts') IS NULL")


def test_literal_written_with_standard_conforming_strings_off_means_the_same(source, dest, pgdts):
    _roles(source, dest)
    run_on_both(source, dest, "CREATE TABLE app.t (id int PRIMARY KEY); ALTER TABLE app.t OWNER TO alice")
    app = pgdts.sync(source, dest, extra_args=["--schemas", "app"])
    with _as_alice(source) as a:
        a.execute("SET standard_conforming_strings = off")
        # one constant on the source; read with the setting on, it would call
        # pg_read_file
        a.execute("ALTER TABLE app.t ADD COLUMN z text DEFAULT"
                  " 'a\\' || pg_read_file($p$/etc/hostname$p$) || $y$' -- $y$")
        a.execute("INSERT INTO app.t VALUES (1)")
    wait_caught_up(source, dest, app, timeout=60)
    assert app.alive(), app.log_tail()
    expected = "a' || pg_read_file($p$/etc/hostname$p$) || $y$"
    assert source.one("SELECT z FROM app.t") == expected
    dest.sql("INSERT INTO app.t VALUES (2)")          # the destination's own default
    assert dest.sql("SELECT id, z FROM app.t ORDER BY id") == [(1, expected), (2, expected)]


def test_ddl_any_role_can_send_does_not_stop_the_task(source, dest, pgdts):
    """Each of these stopped the task before: a trigger enabled that was never
    created on the destination, an unqualified name resolved through
    another schema, a foreign table whose server the destination lacks."""
    _roles(source, dest)
    run_on_both(source, dest, "CREATE TABLE app2.base (id int PRIMARY KEY, x int);"
                              "ALTER TABLE app2.base OWNER TO alice;"
                              "CREATE TABLE app.t (id int PRIMARY KEY); ALTER TABLE app.t OWNER TO alice")
    source.sql("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
    source.sql("CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw")
    source.sql("GRANT USAGE ON FOREIGN SERVER elsewhere TO alice")
    app = pgdts.sync(source, dest, extra_args=["--schemas", "app,app2"])
    with _as_alice(source) as a:
        a.execute("CREATE FUNCTION app.trg() RETURNS trigger LANGUAGE plpgsql AS"
                  " 'BEGIN RETURN NEW; END'")
        a.execute("CREATE TRIGGER tr BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.trg()")
        a.execute("ALTER TABLE app.t ENABLE ALWAYS TRIGGER tr")
        a.execute("SET search_path = app, app2")
        a.execute("CREATE TABLE base (id int PRIMARY KEY, x int)")   # app.base
        a.execute("CREATE INDEX base_x ON base (x)")                  # on app.base, not app2.base
        a.execute("RESET search_path")
        a.execute("CREATE FOREIGN TABLE app.remote (id int) SERVER elsewhere")
        a.execute("INSERT INTO app.t VALUES (1)")
        a.execute("INSERT INTO app.base VALUES (1, 1)")
    wait_caught_up(source, dest, app, timeout=60)
    assert app.alive(), app.log_tail()
    assert dest.sql("SELECT indrelid::regclass::text FROM pg_index"
                    " WHERE indexrelid = 'app.base_x'::regclass") == [("app.base",)]
    assert_tables_equal(source, dest, ["app.t", "app.base"])


def test_capture_rewrite_fires_no_replica_trigger_of_the_issuer(source, dest, pgdts):
    """On the source: ADD COLUMN with a volatile default rewrites the table
    for the stream; alice's ENABLE REPLICA trigger must not run there, and
    bob's table it writes to stays empty."""
    _roles(source, dest)
    for c in (source, dest):
        c.sql("CREATE ROLE bob LOGIN")
        c.sql("CREATE TABLE public.bob_t (v text); ALTER TABLE public.bob_t OWNER TO bob;"
              "GRANT INSERT ON public.bob_t TO alice")
    run_on_both(source, dest, "CREATE TABLE app.v (id int PRIMARY KEY); ALTER TABLE app.v OWNER TO alice")
    app = pgdts.sync(source, dest, extra_args=["--schemas", "app"])
    with _as_alice(source) as a:
        a.execute("INSERT INTO app.v VALUES (1), (2)")
        a.execute("CREATE FUNCTION app.leak() RETURNS trigger LANGUAGE plpgsql AS"
                  " 'BEGIN INSERT INTO public.bob_t VALUES (current_user); RETURN NEW; END'")
        a.execute("CREATE TRIGGER leak BEFORE UPDATE ON app.v FOR EACH ROW EXECUTE FUNCTION app.leak()")
        a.execute("ALTER TABLE app.v ENABLE REPLICA TRIGGER leak")
        a.execute("ALTER TABLE app.v ADD COLUMN r float8 DEFAULT random()")
    wait_caught_up(source, dest, app, timeout=60)
    assert app.alive(), app.log_tail()
    assert source.sql("SELECT * FROM public.bob_t") == []
    assert_tables_equal(source, dest, ["app.v"])


def test_no_owner_with_a_superuser_owner_role_is_refused(source, dest, pgdts):
    _roles(source, dest)
    run_on_both(source, dest, "CREATE TABLE app.t (id int PRIMARY KEY)")
    r = pgdts.run(["precheck", "--source", source.conninfo(), "--target", dest.conninfo(),
                   "--task", "it", "--schemas", "app", "--no-owner"])
    assert r.returncode != 0
    assert "is a superuser" in r.stdout + r.stderr, r.stdout + r.stderr


def test_full_sync_writes_rows_with_the_owners_rights(source, dest, pgdts, test_dir):
    marker = str(test_dir / "pwned")
    _roles(source, dest)
    for c in (source, dest):
        with _as_alice(c) as a:
            a.execute(PROBE.format(marker=marker))
            a.execute("CREATE TABLE app.t (id int PRIMARY KEY, v int CHECK (app.probe(v)))")
    with _as_alice(source) as a:   # as a superuser, the probe would make her one
        a.execute("INSERT INTO app.t SELECT g, g FROM generate_series(1, 50) g")
        a.execute("TRUNCATE app.probe_log")
    app = pgdts.sync(source, dest, phases="full,incremental", extra_args=["--schemas", "app"])
    app.wait_phase("incremental", timeout=120)
    with _as_alice(source) as a:
        a.execute("INSERT INTO app.t VALUES (51, 51)")
    wait_caught_up(source, dest, app, timeout=60)
    _assert_never_superuser(dest, marker, app)
    assert "table_runs_code" in app.logs()
    assert_tables_equal(source, dest, ["app.t"])


def _alices_tables_synced_then_slot_dropped(source, dest, pgdts, args, ddl, rows, check=None):
    """alice's ddl on both sides and her rows on the source, synced; then
    the task's slot is dropped. check(app) runs while the sync still runs."""
    _roles(source, dest)
    for c in (source, dest):
        with _as_alice(c) as a:
            a.execute(ddl)
    with _as_alice(source) as a:
        a.execute(rows)
    app = pgdts.sync(source, dest, phases="full,incremental", extra_args=args)
    app.wait_phase("incremental", timeout=120)
    wait_caught_up(source, dest, app, timeout=60)
    if check:
        check(app)
    app.stop()
    source.sql("SELECT pg_drop_replication_slot(%s)", [app.slot])


def test_resync_writes_rows_with_the_owners_rights(source, dest, pgdts, test_dir):
    """A resync after a lost slot compares tables and writes what differs;
    a table whose writes run alice's code is not written with pgdts' rights
    but emptied and copied again by full sync, through her run_as."""
    marker = str(test_dir / "pwned")
    args = ["--schemas", "app"]
    _alices_tables_synced_then_slot_dropped(
        source, dest, pgdts, args,
        PROBE.format(marker=marker) + ";"
        "CREATE TABLE app.t (id int PRIMARY KEY, v int CHECK (app.probe(v)));"
        "CREATE TABLE app.plain (id int PRIMARY KEY, v int)",
        "INSERT INTO app.t SELECT g, g FROM generate_series(1, 50) g;"
        "INSERT INTO app.plain SELECT g, g FROM generate_series(1, 50) g")
    with _as_alice(source) as a:   # changes the lost slot will never send
        a.execute("UPDATE app.t SET v = v + 100 WHERE id <= 5")
        a.execute("UPDATE app.plain SET v = v + 100 WHERE id <= 5")
    dest.sql("TRUNCATE app.probe_log")
    resync = pgdts.sync(source, dest, phases="full,incremental", extra_args=args + ["--resync"])
    resync.wait_phase("incremental", timeout=120)
    wait_caught_up(source, dest, resync, timeout=60)
    _assert_never_superuser(dest, marker, resync)
    logs = resync.logs()
    assert "resync_table_as_owner" in logs and "table_runs_code" in logs, resync.log_tail()
    # app.plain runs nobody's code: compared, and only its 5 rows rewritten
    plain = [ln for ln in resync.events("resync_summary") if "table=app.plain " in ln + " "]
    assert plain and "rows_copied=5 " in plain[0] + " ", resync.log_tail()
    assert_tables_equal(source, dest, ["app.t", "app.plain"])


KEY_DOMAIN = """
CREATE FUNCTION app.key_ok(v int) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
  BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {marker}''';
  EXCEPTION WHEN OTHERS THEN NULL; END;
  RETURN true;
END $f$;
CREATE DOMAIN app.k AS int CHECK (app.key_ok(VALUE));
CREATE TABLE app.d (id app.k PRIMARY KEY, v text)
"""


def test_verify_and_resync_never_run_a_key_domains_code(source, dest, pgdts, test_dir):
    """Key values travel into verify's and resync's range conditions as
    text, cast to the key's type: cast to alice's domain, they would run its
    CHECK function as pgdts (a superuser, in a read-only transaction that
    COPY ... TO PROGRAM still runs in). They are cast to the base type."""
    marker = str(test_dir / "pwned")
    args = ["--schemas", "app"]

    def verify_while_synced(app):
        assert not os.path.exists(marker), "the domain's code ran as a superuser during the sync"
        dest.sql("UPDATE app.d SET v = 'changed' WHERE id IN (5, 2500)")
        # the differing keys travel back as values, to fetch their rows
        status, doc = pgdts.verify(source, dest, "it", *args)
        assert status == 1, doc
        assert not os.path.exists(marker), "verify ran the domain's code as a superuser"

    _alices_tables_synced_then_slot_dropped(
        source, dest, pgdts, args, KEY_DOMAIN.format(marker=marker),
        "INSERT INTO app.d SELECT g, 'x' FROM generate_series(1, 3000) g", verify_while_synced)
    resync = pgdts.sync(source, dest, phases="full,incremental", extra_args=args + ["--resync"],
                        env={"PGDTS_TEST_RESYNC_RANGE_ROWS": "100"})
    resync.wait_phase("incremental", timeout=120)
    assert not os.path.exists(marker), "resync ran the domain's code as a superuser"
    assert_tables_equal(source, dest, ["app.d"])


def _wait_log(app, needle, timeout=60):
    deadline = time.monotonic() + timeout
    while needle not in app.logs():
        assert time.monotonic() < deadline, app.log_tail()
        time.sleep(0.2)


def test_run_as_function_altered_since_pgdts_made_it_is_refused(source, dest, pgdts):
    """Its owner may alter her run_as function; as SECURITY INVOKER it would
    run her DDL as pgdts itself. The call refuses it, and the next session
    makes the function again."""
    _roles(source, dest)
    app = pgdts.sync(source, dest, extra_args=["--schemas", "app", "--retry-other", "1"])
    with _as_alice(source) as a:
        a.execute("CREATE TABLE app.t (id int PRIMARY KEY)")
    wait_caught_up(source, dest, app, timeout=60)
    oid = dest.one("SELECT oid FROM pg_roles WHERE rolname = 'alice'")
    dest.sql(f'ALTER FUNCTION pgdts."run_as_{oid}"(text, text[], text[]) SECURITY INVOKER')
    with _as_alice(source) as a:
        a.execute("ALTER TABLE app.t ADD COLUMN x int")
        a.execute("INSERT INTO app.t VALUES (1, 1)")
    _wait_log(app, "which runs its statements; it is not trusted further")
    wait_caught_up(source, dest, app, timeout=60)   # the retry's session made it again
    assert dest.one(f'SELECT prosecdef FROM pg_proc WHERE oid = \'pgdts."run_as_{oid}"'
                    '(text, text[], text[])\'::regprocedure') is True
    assert_tables_equal(source, dest, ["app.t"])


def test_code_that_changes_the_apply_session_is_refused(source, dest, pgdts):
    """A session-wide search_path set by her code would decide what pgdts'
    own statements resolve to afterwards: the row fails and is not applied."""
    _roles(source, dest)
    app = pgdts.sync(source, dest, extra_args=["--schemas", "app", "--retry-other", "1"])
    with _as_alice(source) as a:
        a.execute("CREATE FUNCTION app.shift(v int) RETURNS boolean LANGUAGE plpgsql AS"
                  " $$BEGIN PERFORM set_config('search_path', 'app, pg_catalog', false);"
                  " RETURN true; END$$")
        a.execute("CREATE TABLE app.t (id int PRIMARY KEY, v int CHECK (app.shift(v)))")
        a.execute("INSERT INTO app.t VALUES (1, 1)")
    _wait_log(app, "changed the apply session")
    assert dest.sql("SELECT * FROM app.t") == []
    app.stop()
