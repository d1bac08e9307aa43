"""Schema sync gives what it creates the source's owners and privileges
(or, with --no-owner, one role), never the destination connection's
superuser: the change stream later writes a table's rows with its owner's
rights and replays a role's DDL as that role (security issue 10)."""

from __future__ import annotations

import processes
from compare_rows import assert_tables_equal
from processes import run_on_both, wait_caught_up

# Owned by alice on the source: a schema of her own with an enum, a domain,
# a serial, an identity and a standalone sequence, a partitioned table, and
# a table in public (a schema pgdts does not create). reader may read one
# table; ghost (only on the source) too.
SOURCE_OBJECTS = """
CREATE ROLE ghost;
CREATE SCHEMA crm AUTHORIZATION alice;
GRANT CREATE ON SCHEMA public TO alice;
SET ROLE alice;
CREATE TYPE crm.stage AS ENUM ('lead', 'won', 'lost');
CREATE DOMAIN crm.amount AS numeric(12,2) CHECK (VALUE >= 0);
CREATE SEQUENCE crm.ticket_no;
CREATE TABLE crm.deals (id serial PRIMARY KEY, stage crm.stage NOT NULL, amount crm.amount,
                        ticket bigint DEFAULT nextval('crm.ticket_no'));
CREATE TABLE crm.notes (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
CREATE TABLE crm.events (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE crm.events_2025 PARTITION OF crm.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.plain (id int PRIMARY KEY);
INSERT INTO crm.deals (stage, amount) SELECT 'lead', i FROM generate_series(1, 20) i;
INSERT INTO crm.notes (body) VALUES ('first');
INSERT INTO crm.events VALUES ('2025-03-01', 1);
GRANT USAGE ON SCHEMA crm TO reader;
GRANT SELECT ON crm.deals TO reader, ghost;
GRANT SELECT, UPDATE (body) ON crm.notes TO reader;
GRANT USAGE ON SEQUENCE crm.ticket_no TO reader WITH GRANT OPTION;
GRANT SELECT ON crm.events_2025 TO PUBLIC;
RESET ROLE;
"""

TABLES = ["crm.deals", "crm.notes", "crm.events", "crm.events_2025", "public.plain"]
SEQUENCES = ["crm.deals_id_seq", "crm.notes_id_seq", "crm.ticket_no"]
TYPES = ["crm.stage", "crm.amount"]


def owners(cluster) -> dict[str, str]:
    """The owner of every object of the scenario (indexes too: they follow
    their table)."""
    out = {"schema crm": cluster.one("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'crm'")}
    for rel in TABLES + SEQUENCES + ["crm.deals_pkey", "crm.notes_pkey"]:
        out[rel] = cluster.one("SELECT relowner::regrole::text FROM pg_class WHERE oid = %s::regclass", [rel])
    for typ in TYPES:
        out[typ] = cluster.one("SELECT typowner::regrole::text FROM pg_type WHERE oid = %s::regtype", [typ])
    return out


def grants(cluster) -> set[tuple]:
    """(object, grantee, privilege, grantable, grantor) of every ACL entry of
    the scenario's relations and schema crm, the owner's own left out."""
    rows = cluster.sql(
        "SELECT c.oid::regclass::text, coalesce(nullif(a.grantee, 0)::regrole::text, 'PUBLIC'), "
        "       a.privilege_type, a.is_grantable, a.grantor::regrole::text "
        "FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.oid = ANY (%s::regclass[]) AND a.grantee <> c.relowner "
        "UNION ALL "
        "SELECT 'schema ' || n.nspname, a.grantee::regrole::text, a.privilege_type, a.is_grantable, "
        "       a.grantor::regrole::text "
        "FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'crm' AND a.grantee <> n.nspowner",
        [TABLES + SEQUENCES])
    return set(rows)


def sync_all(pgdts, source, dest, *args: str):
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=list(args))
    app.wait_phase("incremental", timeout=300)
    return app


def test_schema_sync_keeps_the_source_owners_and_grants(pgdts, source, dest):
    run_on_both(source, dest, "CREATE ROLE alice LOGIN; CREATE ROLE reader")
    public_owner = dest.one("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'")
    source.sql(SOURCE_OBJECTS)
    app = sync_all(pgdts, source, dest)

    expected = owners(source)
    assert set(expected.values()) == {"alice"}
    assert owners(dest) == expected
    # A schema pgdts did not create keeps its owner.
    assert dest.one("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'") == public_owner
    # Every grant but the one to ghost, which the destination lacks.
    source_grants = {g for g in grants(source) if g[1] != "ghost"}
    assert any(g[2] == "SELECT" and g[0] == "crm.notes" for g in source_grants)
    assert grants(dest) == source_grants
    skipped = [line for line in app.logs().splitlines()
               if "event=schema_skipped" in line and "kind=grant" in line]
    assert len(skipped) == 1 and "grantee=ghost" in skipped[0], skipped

    # What alice does later is replayed as alice: her ALTER of her own table
    # (a superuser-owned copy would refuse it: not owner) and her rows.
    with source.connect() as conn:
        conn.execute("SET ROLE alice")
        conn.execute("ALTER TABLE crm.deals ADD COLUMN note text")
        conn.execute("INSERT INTO crm.deals (stage, amount, note) VALUES ('won', 5, 'after')")
    wait_caught_up(source, dest, app, timeout=120)
    assert "apply_failed" not in app.logs(), app.log_tail()
    assert_tables_equal(source, dest, ["crm.deals", "crm.notes", "crm.events_2025", "public.plain"])
    app.stop()


def test_no_owner_gives_everything_to_the_owner_role_without_grants(pgdts, source, dest):
    source.sql("CREATE ROLE alice LOGIN; CREATE ROLE reader")
    dest.sql("CREATE ROLE bob; GRANT CREATE ON DATABASE app_copy TO bob")
    source.sql(SOURCE_OBJECTS)
    app = sync_all(pgdts, source, dest, "--no-owner", "--owner-role", "bob")

    assert set(owners(dest).values()) == {"bob"}
    assert grants(dest) == set()
    source.sql("INSERT INTO crm.deals (stage, amount) VALUES ('lost', 7)")
    wait_caught_up(source, dest, app, timeout=120)
    assert_tables_equal(source, dest, ["crm.deals"])
    app.stop()


def test_sync_refuses_an_owner_the_destination_lacks(pgdts, source, dest):
    dest.sql("CREATE ROLE reader")
    source.sql("CREATE ROLE alice LOGIN; CREATE ROLE reader")
    source.sql(SOURCE_OBJECTS)
    r = pgdts.run(["sync", "--source", source.conninfo(), "--target", dest.conninfo(), "--task", "it",
                   "--phases", "schema,full,incremental", "--log-level", processes.LOG_LEVEL], timeout=120)
    assert r.returncode == 1, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "alice" in last and "pg_dumpall --roles-only" in last and "--no-owner" in last, last
    assert dest.one("SELECT to_regnamespace('crm') IS NULL")


def test_sync_refuses_a_type_owner_the_destination_lacks_before_creating_anything(
        pgdts, source, dest):
    """A type's owner missing on the destination is found before anything is
    created (by precheck; schema sync checks every owner again itself)."""
    run_on_both(source, dest, "CREATE ROLE alice LOGIN; CREATE ROLE reader")
    source.sql(SOURCE_OBJECTS)
    source.sql("CREATE ROLE carol; ALTER TYPE crm.stage OWNER TO carol")
    r = pgdts.run(["sync", "--source", source.conninfo(), "--target", dest.conninfo(), "--task", "it",
                   "--phases", "schema,full", "--log-level", processes.LOG_LEVEL], timeout=120)
    assert r.returncode == 1, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "carol" in last and "do not exist on the destination" in last, last
    assert dest.one("SELECT to_regnamespace('crm') IS NULL")

    # Once the role is there, the same task goes on.
    dest.sql("CREATE ROLE carol")
    r = pgdts.run(["sync", "--source", source.conninfo(), "--target", dest.conninfo(), "--task", "it",
                   "--phases", "schema,full", "--log-level", processes.LOG_LEVEL], timeout=300)
    assert r.returncode == 0, processes.tail(r.stderr, 30)
    assert dest.one("SELECT typowner::regrole::text FROM pg_type WHERE oid = 'crm.stage'::regtype") == "carol"
    assert owners(dest)["crm.deals"] == "alice"
