"""Schema sync: the fixture's 36 tables with their types, sequences,
constraints, indexes and partitions are created on the destination, with
names mapped, and compared through the catalogs.

Until `pgdts sync --phases schema` runs schema sync, the tests drive it with
the test-only `pgdts_schema_tool` (built next to pgdts): phase pre, then the
rows are copied here (as full sync will: into the source column names, in one
snapshot), then phase post and the sequence values.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import sql as pgsql

import harness
import schema_fixture
from harness import NameMapping, assert_catalogs_equal, assert_tables_equal


def _tool() -> str:
    path = os.environ.get("PGDTS_SCHEMA_TOOL")
    if path:
        return path
    binary, _ = harness.find_pgdts()
    candidates = [Path(binary).parent / "pgdts_schema_tool"] if binary else []
    candidates.append(harness.REPO / "build" / "applier" / "pgdts_schema_tool")
    for c in candidates:
        if c.exists():
            return str(c)
    pytest.fail("pgdts_schema_tool not found: build the applier (cmake --build build/applier) "
                "or set PGDTS_SCHEMA_TOOL", pytrace=False)


def run_tool(source, dest, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([_tool(), source.conninfo(), dest.conninfo(), *args], capture_output=True,
                       text=True, timeout=120, env=harness.client_env())
    if check and r.returncode != 0:
        raise AssertionError(f"pgdts_schema_tool {' '.join(args)} failed ({r.returncode}):\n"
                             f"{harness.tail(r.stderr, 30)}")
    return r


def copy_rows(source, dest, mapping: NameMapping) -> None:
    """Every leaf table's rows, read in one snapshot, into the destination
    tables under their mapped names and the source column names."""
    with source.connect(autocommit=False) as src, dest.connect() as dst:
        src.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        tables = src.execute(
            "SELECT n.nspname, c.relname, ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = c.oid "
            "  AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = ANY(%s)", [schema_fixture.SCHEMAS]).fetchall()
        for s, t, cols in tables:
            collist = pgsql.SQL(", ").join(pgsql.Identifier(c) for c in cols)
            out = pgsql.SQL("COPY (SELECT {} FROM ONLY {}) TO STDOUT").format(
                collist, pgsql.Identifier(s, t))
            into = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
                pgsql.Identifier(*mapping.table(s, t)), collist)
            with src.cursor().copy(out) as cout, dst.cursor().copy(into) as cin:
                for data in cout:
                    cin.write(data)
        src.commit()


def schema_sync(source, dest, mapping: NameMapping, *tool_args: str) -> None:
    run_tool(source, dest, "--phase", "pre", *tool_args)
    copy_rows(source, dest, mapping)
    run_tool(source, dest, "--phase", "post", *tool_args)
    run_tool(source, dest, "--phase", "sequences", *tool_args)


def mapped_leaf_tables(source, mapping: NameMapping):
    return [[*mapping.table(s, t)] for s, t in schema_fixture.leaf_tables(source)]


def test_schema_sync_creates_every_object_kind(source, dest):
    schema_fixture.create_schema(source)
    m = NameMapping()
    schema_sync(source, dest, m)
    assert_catalogs_equal(source, dest, m)
    assert_tables_equal(source, dest, schema_fixture.leaf_tables(source))
    # The rows passed every constraint created after them; serial and
    # identity columns go on after the copied values.
    dest.sql("INSERT INTO shop.orders (customer_id) VALUES (1)")
    dest.sql("INSERT INTO shop.customers (email) VALUES ('new@example.com')")
    assert dest.one("SELECT nextval('ref.invoice_no')") == source.one("SELECT last_value FROM ref.invoice_no") + 3


def test_schema_sync_is_idempotent(source, dest):
    schema_fixture.create_schema(source)
    m = NameMapping(columns={("shop", "orders", "note"): "remark"})
    schema_sync(source, dest, m, "--map", "shop.orders.note=remark")
    # A resumed task runs every phase again: nothing fails, nothing changes.
    run_tool(source, dest, "--map", "shop.orders.note=remark")
    assert_catalogs_equal(source, dest, m)


def test_schema_sync_renames_schema_table_and_columns(source, dest):
    schema_fixture.create_schema(source)
    m = NameMapping(schemas={"ref": "reference", "Sales Dept": "sales"},
                    tables={("shop", "orders"): "purchases", ("shop", "events_2025"): "ev 2025"},
                    columns={("shop", "order_items", "qty"): "quantity",
                             ("shop", "customers", "FullName"): "full_name",
                             ("Sales Dept", "Leads", "Score"): "Rating",
                             ("shop", "events", "kind"): "event_kind",
                             ("shop", "orders", "note"): "status_note"})
    args = ["--map", "ref=reference", "--map", '"Sales Dept"=sales', "--map", "shop.orders=purchases",
            "--map", 'shop.events_2025="ev 2025"', "--map", "shop.order_items.qty=quantity",
            "--map", 'shop.customers."FullName"=full_name', "--map", '"Sales Dept"."Leads"."Score"=Rating',
            "--map", "shop.events.kind=event_kind", "--map", "shop.orders.note=status_note"]
    schema_sync(source, dest, m, *args)
    assert_catalogs_equal(source, dest, m)
    assert dest.one("SELECT count(*) FROM shop.purchases") == source.one("SELECT count(*) FROM shop.orders")
    assert dest.one('SELECT count(*) FROM sales."Leads" WHERE "Rating" > 10') == \
        source.one('SELECT count(*) FROM "Sales Dept"."Leads" WHERE "Score" > 10')
    # The CHECK follows the renamed column.
    with pytest.raises(psycopg.errors.CheckViolation):
        dest.sql("UPDATE shop.order_items SET quantity = 0 WHERE line = 1")


def test_schema_sync_with_case_lower(source, dest):
    schema_fixture.create_schema(source)
    m = NameMapping(case="lower")
    schema_sync(source, dest, m, "--case", "lower")
    assert_catalogs_equal(source, dest, m)
    assert dest.one('SELECT count(*) FROM "sales dept".leads WHERE score > 10') == \
        source.one('SELECT count(*) FROM "Sales Dept"."Leads" WHERE "Score" > 10')


def test_column_mapping_that_collides_is_refused(source, dest):
    schema_fixture.create_schema(source, with_rows=False)
    r = run_tool(source, dest, "--phase", "pre", "--map", "shop.orders.note=status", check=False)
    assert r.returncode == 1, r.stderr
    assert 'table shop.orders: columns "status" and "note" would both be called "status"' in r.stderr \
        or 'columns "note" and "status"' in r.stderr, r.stderr
    assert dest.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'") == 0


def test_existing_tables_are_listed_and_left_alone(source, dest):
    schema_fixture.create_schema(source)
    dest.sql("CREATE SCHEMA shop; CREATE TABLE shop.coupons (code text PRIMARY KEY, extra int)")
    r = run_tool(source, dest, "--existing")
    assert r.stdout.split("\n")[:-1] == ["shop.coupons"], r.stdout
    run_tool(source, dest, "--phase", "pre")
    assert dest.one("SELECT count(*) FROM information_schema.columns "
                    "WHERE table_schema = 'shop' AND table_name = 'coupons'") == 2


def test_selected_schema_skips_foreign_keys_to_tables_outside(source, dest):
    schema_fixture.create_schema(source)
    r = run_tool(source, dest, "--schemas", "shop")
    assert "event=schema_skipped" in r.stderr and "customers_country_fkey" in r.stderr, r.stderr
    assert dest.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'ref'") == 0
    assert dest.one("SELECT count(*) FROM pg_tables WHERE schemaname = 'shop'") == 28
    assert dest.one("SELECT count(*) FROM pg_constraint WHERE conname = 'orders_customer_id_fkey'") == 1


def test_selected_partitioned_table_brings_all_its_partitions(source, dest):
    schema_fixture.create_schema(source)
    run_tool(source, dest, "--tables", "shop.events")
    names = [r[0] for r in dest.sql("SELECT relname FROM pg_class c JOIN pg_namespace n "
                                    "ON n.oid = c.relnamespace WHERE n.nspname = 'shop' "
                                    "AND relkind IN ('r', 'p') ORDER BY 1")]
    assert names == ["events", "events_2025", "events_2026", "events_2026_h1", "events_2026_h2",
                     "events_2027", "events_default"]


def test_schema_sync_while_writers_run(source, dest):
    schema_fixture.create_schema(source)
    writers = schema_fixture.Writers(source).start()
    try:
        m = NameMapping(tables={("shop", "payments"): "payment"})
        schema_sync(source, dest, m, "--map", "shop.payments=payment")
    finally:
        committed = writers.stop()
    assert committed > 0, f"the writers committed nothing (seed {writers.seed})"
    assert_catalogs_equal(source, dest, m)


def test_catalog_comparison_finds_differences(source, dest):
    schema_fixture.create_schema(source, with_rows=False)
    run_tool(source, dest)
    assert_catalogs_equal(source, dest)
    for change in ["DROP INDEX shop.products_active_name",
                   "ALTER TABLE shop.payments DROP CONSTRAINT payments_method_check",
                   "ALTER TABLE shop.orders ALTER COLUMN note SET DEFAULT 'x'",
                   "ALTER TABLE shop.events DETACH PARTITION shop.events_2027",
                   "ALTER TYPE shop.mood ADD VALUE 'new'"]:
        dest.sql(change)
        with pytest.raises(AssertionError, match="differ"):
            assert_catalogs_equal(source, dest)
        dest.sql("DROP SCHEMA shop CASCADE; DROP SCHEMA ref CASCADE; DROP SCHEMA \"Sales Dept\" CASCADE")
        run_tool(source, dest)
    # A mapping the destination does not have is a difference too.
    with pytest.raises(AssertionError, match="missing on the destination"):
        assert_catalogs_equal(source, dest, NameMapping(tables={("shop", "orders"): "purchases"}))
