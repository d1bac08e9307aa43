"""pgdts precheck: one line per check (PASS, WARN, FAIL with its fix), a JSON
form, exit status 1 on any failure; and pgdts sync refusing to start on a
failed check.  Each failing condition of SPEC.md's Precheck section is set up
on a real source or destination and must yield its line."""

import json
import time

import pytest

import processes

TIMEOUT = 60


def precheck(pgdts, source, dest, *extra, task="pc", source_conninfo=None, target_conninfo=None):
    return pgdts.run(["precheck", "--source", source_conninfo or source.conninfo(),
                      "--target", target_conninfo or dest.conninfo(), "--task", task, *extra],
                     timeout=TIMEOUT)


def checks_of(result):
    """{name: (STATUS, line)} from the text output; asserts its shape."""
    shown = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    lines = result.stdout.splitlines()
    assert lines and lines[-1].startswith("precheck: "), f"no summary line; {shown}"
    found = {}
    for line in lines[:-1]:
        status, name, message = line.split("  ", 2)
        assert status in ("PASS", "WARN", "FAIL"), f"bad line {line!r}; {shown}"
        assert message, f"empty message in {line!r}"
        if status == "FAIL":
            assert "; fix: " in message, f"a failure without its fix: {line!r}"
        found[name] = (status, line)
    return found


def expect(result, name, status, *mentions, exit_status=None):
    found = checks_of(result)
    shown = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert name in found, f"no {name} line; {shown}"
    got, line = found[name]
    assert got == status, f"{name}: expected {status}, got {line!r}; {shown}"
    for m in mentions:
        assert m.lower() in line.lower(), f"{name} line does not mention {m!r}: {line}"
    if exit_status is None:
        exit_status = 1 if status == "FAIL" else 0
    assert result.returncode == exit_status, f"expected exit {exit_status}; {shown}"
    return line


def keyed_table(source, name="public.items"):
    source.sql(f"CREATE TABLE {name} (id int PRIMARY KEY, v text)")


# ---------------------------------------------------------------------------

def test_precheck_passes_on_a_well_set_source(pgdts, source, dest):
    keyed_table(source)
    r = precheck(pgdts, source, dest)
    print(r.stdout)
    found = checks_of(r)
    assert r.returncode == 0, r.stdout + r.stderr
    not_passed = [line for status, line in found.values() if status != "PASS"]
    assert not not_passed, "a well-set source must pass every check:\n" + "\n".join(not_passed)
    for name in ("source_connection", "target_connection", "wal_level", "output_plugin",
                 "extension", "replication_slots", "wal_senders", "source_replication",
                 "source_select", "ddl_capture_preload", "event_triggers", "replica_role_defaults",
                 "user_event_triggers", "table_keys", "unsupported_objects", "partitions",
                 "long_transactions", "task_slot", "target_privileges", "conflicting_tables",
                 "replica_role_privilege", "server_versions"):
        assert name in found, f"no {name} check:\n{r.stdout}"
    assert "0 failed" in r.stdout.splitlines()[-1]

    j = precheck(pgdts, source, dest, "--format", "json")
    assert j.returncode == 0, j.stdout + j.stderr
    doc = json.loads(j.stdout)
    assert doc["result"] == "pass"
    assert {c["name"] for c in doc["checks"]} == set(found)
    for c in doc["checks"]:
        assert set(c) == {"name", "status", "message", "fix"}
        assert c["status"] == "pass"


def test_wal_level_replica_fails(pgdts, source, dest):
    source.sql("ALTER SYSTEM SET wal_level = replica")
    source.restart()
    r = precheck(pgdts, source, dest)
    expect(r, "wal_level", "FAIL", "replica", "wal_level = logical")
    doc = json.loads(precheck(pgdts, source, dest, "--format", "json").stdout)
    assert doc["result"] == "fail"
    [wal] = [c for c in doc["checks"] if c["name"] == "wal_level"]
    assert wal["status"] == "fail" and "restart" in wal["fix"]


def test_no_free_replication_slot_fails_and_sync_refuses_to_start(pgdts, source, dest):
    keyed_table(source)
    dest.sql("CREATE TABLE public.items (id int PRIMARY KEY, v text)")
    total = int(source.one("SHOW max_replication_slots"))
    for i in range(total):
        source.sql("SELECT pg_create_physical_replication_slot(%s)", [f"filler_{i}"])
    r = precheck(pgdts, source, dest)
    expect(r, "replication_slots", "FAIL", f"{total} of {total}", "max_replication_slots")

    s = pgdts.run(["sync", "--source", source.conninfo(), "--target", dest.conninfo(),
                   "--task", "pc", "--phases", "incremental"], timeout=TIMEOUT)
    print(s.stderr)
    assert s.returncode == 1, s.stderr
    errors = [ln for ln in s.stderr.splitlines() if ln.startswith("pgdts: error:")]
    assert len(errors) == 1, s.stderr
    assert "replication_slots" in errors[0] and "max_replication_slots" in errors[0], errors[0]
    assert "event=precheck" in s.stderr and "check=replication_slots" in s.stderr, s.stderr
    assert not dest.one("SELECT to_regclass('pgdts.task') IS NOT NULL"), \
        "sync registered the task although the precheck failed"


def test_missing_extension_fails(pgdts, source, dest):
    keyed_table(source)
    source.sql("DROP EXTENSION pgdts")
    r = precheck(pgdts, source, dest)
    expect(r, "extension", "FAIL", "not installed", "CREATE EXTENSION pgdts")
    # the capture triggers went with it: reported once, by the extension line
    assert "event_triggers" not in checks_of(r)


def test_source_role_without_replication_fails(pgdts, source, dest):
    keyed_table(source)
    source.sql("CREATE ROLE plain LOGIN")
    source.sql("GRANT SELECT ON public.items TO plain")
    r = precheck(pgdts, source, dest, source_conninfo=source.conninfo(user="plain"))
    expect(r, "source_replication", "FAIL", '"plain"', "ALTER ROLE plain REPLICATION")
    assert checks_of(r)["source_select"][0] == "PASS", r.stdout


def test_source_role_without_select_on_a_table_fails(pgdts, source, dest):
    keyed_table(source)
    keyed_table(source, "public.secrets")
    source.sql("CREATE ROLE repl LOGIN REPLICATION")
    source.sql("GRANT SELECT ON public.items TO repl")
    r = precheck(pgdts, source, dest, source_conninfo=source.conninfo(user="repl"))
    print(r.stdout)
    line = expect(r, "source_select", "FAIL", "public.secrets", "GRANT SELECT ON public.secrets TO repl")
    assert "public.items" not in line
    assert checks_of(r)["source_replication"][0] == "PASS", r.stdout


def test_destination_role_without_create_fails_with_the_grant(pgdts, source, dest):
    keyed_table(source)
    dest.sql("CREATE ROLE writer LOGIN")
    r = precheck(pgdts, source, dest, target_conninfo=dest.conninfo(user="writer"))
    expect(r, "target_privileges", "FAIL", '"writer"', "GRANT CREATE ON DATABASE app_copy TO writer")
    # and it may not set session_replication_role: triggers would fire
    assert checks_of(r)["replica_role_privilege"][0] == "WARN", r.stdout


def test_conflicting_table_fails_unless_conflict_ignore(pgdts, source, dest):
    keyed_table(source)
    keyed_table(source, "public.others")
    dest.sql("CREATE TABLE public.items (id int PRIMARY KEY, v text)")
    r = precheck(pgdts, source, dest)
    line = expect(r, "conflicting_tables", "FAIL", "public.items", "already exists", "--conflict ignore")
    assert "public.others" not in line
    ok = precheck(pgdts, source, dest, "--conflict", "ignore")
    expect(ok, "conflicting_tables", "PASS", "public.items")
    # the schema phase does not run: existing tables are what the task needs
    inc = precheck(pgdts, source, dest, "--phases", "incremental")
    expect(inc, "conflicting_tables", "WARN", "public.others")


def test_table_without_key_warns_and_replica_identity_full_passes(pgdts, source, dest):
    keyed_table(source)
    source.sql("CREATE TABLE public.log (at timestamptz, line text)")
    r = precheck(pgdts, source, dest)
    line = expect(r, "table_keys", "WARN", "public.log", "--replica-identity-full")
    assert "public.items" not in line
    assert r.stdout.splitlines()[-1].endswith("0 failed"), r.stdout
    full = precheck(pgdts, source, dest, "--replica-identity-full")
    expect(full, "table_keys", "PASS", "public.log", "REPLICA IDENTITY FULL")


def test_partition_left_out_of_its_partitioned_table_fails(pgdts, source, dest):
    source.sql("CREATE TABLE public.m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)")
    source.sql("CREATE TABLE public.m_2025 PARTITION OF public.m "
               "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')")
    source.sql("CREATE TABLE public.m_2026 PARTITION OF public.m "
               "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    r = precheck(pgdts, source, dest, "--exclude", "public.m_2026")
    line = expect(r, "partitions", "FAIL", "public.m", "public.m_2026")
    assert "m_2025" not in line
    # a partition selected without its partitioned table is a table of its own
    alone = precheck(pgdts, source, dest, "--tables", "public.m_2025")
    expect(alone, "partitions", "PASS")
    # --tables naming the partitioned table brings every partition
    whole = precheck(pgdts, source, dest, "--tables", "public.m")
    expect(whole, "partitions", "PASS")


def test_partition_in_an_unselected_schema_fails(pgdts, source, dest):
    source.sql("CREATE SCHEMA archive")
    source.sql("CREATE TABLE public.m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)")
    source.sql("CREATE TABLE public.m_2026 PARTITION OF public.m "
               "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    source.sql("CREATE TABLE archive.m_2020 PARTITION OF public.m "
               "FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')")
    r = precheck(pgdts, source, dest, "--schemas", "public")
    expect(r, "partitions", "FAIL", "public.m", "archive.m_2020")
    both = precheck(pgdts, source, dest, "--schemas", "public,archive")
    expect(both, "partitions", "PASS")


def test_long_running_transaction_warns_with_its_pid(pgdts, source, dest, monkeypatch):
    keyed_table(source)
    monkeypatch.setenv("PGDTS_TEST_LONG_TXN_SECONDS", "1")
    with source.connect(autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid(), txid_current()")
        pid = cur.fetchone()[0]
        time.sleep(2.5)
        r = precheck(pgdts, source, dest)
        line = expect(r, "long_transactions", "WARN", f"pid {pid}", "cannot be created")
        assert "1 second" in line, line
        conn.rollback()
    r = precheck(pgdts, source, dest)
    expect(r, "long_transactions", "PASS")


def test_ddl_capture_setup_problems(pgdts, source, dest):
    """Disabled capture trigger: failure. A role defaulting to the replica
    role, a user event trigger firing first: warnings."""
    keyed_table(source)
    source.sql("CREATE FUNCTION public.audit() RETURNS event_trigger LANGUAGE plpgsql "
               "AS $$ BEGIN END $$")
    source.sql('CREATE EVENT TRIGGER "Audit" ON ddl_command_end EXECUTE FUNCTION public.audit()')
    source.sql("CREATE EVENT TRIGGER zz_audit ON ddl_command_end EXECUTE FUNCTION public.audit()")
    source.sql("CREATE ROLE migrator LOGIN")
    source.sql("ALTER ROLE migrator SET session_replication_role = replica")
    r = precheck(pgdts, source, dest)
    found = checks_of(r)
    assert found["replica_role_defaults"][0] == "WARN" and "migrator" in found["replica_role_defaults"][1]
    assert found["user_event_triggers"][0] == "WARN" and "Audit" in found["user_event_triggers"][1]
    assert "zz_audit" not in found["user_event_triggers"][1]
    assert r.returncode == 0, r.stdout

    source.sql("ALTER EVENT TRIGGER _pgdts_capture_ddl_end DISABLE")
    r = precheck(pgdts, source, dest)
    expect(r, "event_triggers", "FAIL", "_pgdts_capture_ddl_end", "ENABLE")


def test_abandoned_task_slot_warns_with_retained_wal(pgdts, source, dest):
    keyed_table(source)
    source.sql("SELECT pg_create_logical_replication_slot('dts_sync_pc', 'pgdts')")
    source.sql("INSERT INTO public.items SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g")
    r = precheck(pgdts, source, dest)
    expect(r, "task_slot", "WARN", "dts_sync_pc", "MB", "pgdts release")


def test_slot_failover_warns_once_a_physical_standby_streams(pgdts, source, dest, background, tmp_path):
    """PostgreSQL 15 keeps logical slots on the primary: with no standby the
    check passes and says so; a physical walsender (pg_receivewal stands in
    for a standby) makes it a warning naming it and the recovery."""
    keyed_table(source)
    expect(precheck(pgdts, source, dest), "slot_failover", "PASS", "no physical standby")
    standby = background.start("pg_receivewal", [
        processes.pgbin("pg_receivewal"), "-d", source.conninfo(application_name="standby1"),
        "-D", str(tmp_path), "--no-sync"])
    deadline = time.monotonic() + 30
    while source.one("SELECT count(*) FROM pg_stat_replication") == 0:
        assert standby.poll() is None, background.output(standby)
        assert time.monotonic() < deadline, "pg_receivewal did not connect"
        time.sleep(0.2)
    expect(precheck(pgdts, source, dest), "slot_failover", "WARN", "standby1", "--resync")


def test_unreachable_destination_is_one_failure_and_the_source_is_still_checked(pgdts, source, dest):
    keyed_table(source)
    nowhere = f"host=127.0.0.1 port={processes.free_port()} dbname=x user=postgres connect_timeout=5"
    r = precheck(pgdts, source, dest, target_conninfo=nowhere)
    expect(r, "target_connection", "FAIL", "--target")
    found = checks_of(r)
    assert found["wal_level"][0] == "PASS"
    assert "conflicting_tables" not in found and "target_privileges" not in found


def test_precheck_bad_usage_exits_2(pgdts, source, dest):
    r = pgdts.run(["precheck", "--source", source.conninfo()], timeout=TIMEOUT)
    assert r.returncode == 2 and "--target" in r.stderr, r.stderr
    r = precheck(pgdts, source, dest, "--format", "yaml")
    assert r.returncode == 2, r.stderr


def test_unsupported_objects_are_named(pgdts, source, dest):
    keyed_table(source)
    source.sql("CREATE UNIQUE INDEX items_lower_v ON public.items (lower(v))")
    source.sql("CREATE SCHEMA other")
    source.sql("CREATE TABLE public.base (id int PRIMARY KEY)")
    source.sql("CREATE TABLE other.child (extra text) INHERITS (public.base)")
    r = precheck(pgdts, source, dest)
    expect(r, "unsupported_objects", "WARN", "items_lower_v", "public.items", "other.child",
           "public.base")
