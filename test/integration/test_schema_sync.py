"""Schema sync: the fixture's 36 tables with their types, sequences,
constraints, indexes and partitions are created on the destination by
`pgdts sync --phases schema[,full]`, with names mapped, and compared with the
source through the catalogs (compare_catalogs.assert_catalogs_equal).
"""

from __future__ import annotations

import psycopg
import pytest

import processes
import schema_fixture
from compare_catalogs import NameMapping, assert_catalogs_equal
from compare_rows import assert_tables_equal


def run_sync(pgdts, source, dest, *args: str, phases: str = "schema,full", check: bool = True):
    """`pgdts sync --phases <phases>` to its end (without the incremental
    phase it exits once the copy and the post-data are done)."""
    r = pgdts.run(["sync", "--source", source.conninfo(), "--target", dest.conninfo(), "--task", "it",
                   "--phases", phases, "--log-level", processes.LOG_LEVEL, *args], timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"pgdts sync --phases {phases} {' '.join(args)} failed ({r.returncode}):\n"
                             f"{processes.tail(r.stderr, 30)}")
    return r


def schema_sync(pgdts, source, dest, mapping: NameMapping, *args: str):
    return run_sync(pgdts, source, dest, *args)


def mapped_leaf_tables(source, mapping: NameMapping):
    return [[*mapping.table(s, t)] for s, t in schema_fixture.leaf_tables(source)]


def test_schema_sync_creates_every_object_kind(pgdts, source, dest):
    schema_fixture.create_schema(source)
    m = NameMapping()
    schema_sync(pgdts, source, dest, m)
    assert_catalogs_equal(source, dest, m)
    assert_tables_equal(source, dest, schema_fixture.leaf_tables(source))
    # The rows passed every constraint created after them; serial and
    # identity columns go on after the copied values.
    dest.sql("INSERT INTO shop.orders (customer_id) VALUES (1)")
    dest.sql("INSERT INTO shop.customers (email) VALUES ('new@example.com')")
    assert dest.one("SELECT nextval('ref.invoice_no')") == source.one("SELECT last_value FROM ref.invoice_no") + 3


def test_schema_sync_of_a_second_task_into_existing_tables_changes_nothing(pgdts, source, dest):
    schema_fixture.create_schema(source)
    m = NameMapping(columns={("shop", "orders", "note"): "remark"})
    schema_sync(pgdts, source, dest, m, "--map", "shop.orders.note=remark")
    # Every object exists already: left alone, nothing fails.
    r = pgdts.run(["sync", "--source", source.conninfo(), "--target", dest.conninfo(), "--task", "again",
                   "--phases", "schema", "--conflict", "ignore", "--map", "shop.orders.note=remark"],
                  timeout=300)
    assert r.returncode == 0, r.stderr
    assert "event=schema_created kind=table" not in r.stderr, r.stderr
    assert_catalogs_equal(source, dest, m)


def test_schema_sync_renames_schema_table_and_columns(pgdts, source, dest):
    schema_fixture.create_schema(source)
    m = NameMapping(schemas={"ref": "reference", "Sales Dept": "sales", "shop": "store"},
                    tables={("shop", "orders"): "purchases", ("shop", "events_2025"): "ev 2025"},
                    columns={("shop", "order_items", "qty"): "quantity",
                             ("shop", "customers", "FullName"): "full_name",
                             ("Sales Dept", "Leads", "Score"): "Rating",
                             ("shop", "events", "kind"): "event_kind",
                             ("shop", "orders", "note"): "status_note"})
    args = ["--map", "ref=reference", "--map", '"Sales Dept"=sales', "--map", "shop=store",
            "--map", "shop.orders=purchases",
            "--map", 'shop.events_2025="ev 2025"', "--map", "shop.order_items.qty=quantity",
            "--map", 'shop.customers."FullName"=full_name', "--map", '"Sales Dept"."Leads"."Score"=Rating',
            "--map", "shop.events.kind=event_kind", "--map", "shop.orders.note=status_note"]
    schema_sync(pgdts, source, dest, m, *args)
    assert_catalogs_equal(source, dest, m)
    assert dest.one("SELECT count(*) FROM store.purchases") == source.one("SELECT count(*) FROM shop.orders")
    assert dest.one('SELECT count(*) FROM sales."Leads" WHERE "Rating" > 10') == \
        source.one('SELECT count(*) FROM "Sales Dept"."Leads" WHERE "Score" > 10')
    # The CHECK follows the renamed column.
    with pytest.raises(psycopg.errors.CheckViolation):
        dest.sql("UPDATE store.order_items SET quantity = 0 WHERE line = 1")
    # An expression referring to another renamed schema of the task.
    assert dest.one("SELECT column_default FROM information_schema.columns WHERE table_schema = 'sales' "
                    "AND table_name = 'calls' AND column_name = 'outcome'") == "'ok'::store.mood"


def test_schema_sync_with_case_lower(pgdts, source, dest):
    schema_fixture.create_schema(source)
    m = NameMapping(case="lower")
    schema_sync(pgdts, source, dest, m, "--case", "lower")
    assert_catalogs_equal(source, dest, m)
    assert dest.one('SELECT count(*) FROM "sales dept".leads WHERE score > 10') == \
        source.one('SELECT count(*) FROM "Sales Dept"."Leads" WHERE "Score" > 10')


def test_column_mapping_that_collides_is_refused(pgdts, source, dest):
    schema_fixture.create_schema(source, with_rows=False)
    r = run_sync(pgdts, source, dest, "--map", "shop.orders.note=status", phases="schema", check=False)
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("pgdts: error:")]
    assert len(lines) == 1 and 'table shop.orders: columns "status" and "note" would both be called ' \
        '"status"' in lines[0], r.stderr
    assert dest.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'") == 0


def test_existing_table_is_left_alone_with_conflict_ignore(pgdts, source, dest):
    schema_fixture.create_schema(source)
    dest.sql("CREATE SCHEMA shop; CREATE TABLE shop.coupons (code text PRIMARY KEY, extra int)")
    r = run_sync(pgdts, source, dest, phases="schema", check=False)
    assert r.returncode == 1 and "shop.coupons already exists" in r.stderr, r.stderr
    run_sync(pgdts, source, dest, "--conflict", "ignore", phases="schema")
    assert dest.one("SELECT count(*) FROM information_schema.columns "
                    "WHERE table_schema = 'shop' AND table_name = 'coupons'") == 2


def test_selected_schema_skips_foreign_keys_to_tables_outside(pgdts, source, dest):
    schema_fixture.create_schema(source)
    r = run_sync(pgdts, source, dest, "--schemas", "shop", phases="schema")
    assert "event=schema_skipped" in r.stderr and "customers_country_fkey" in r.stderr, r.stderr
    assert dest.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'ref'") == 0
    assert dest.one("SELECT count(*) FROM pg_tables WHERE schemaname = 'shop'") == 28
    assert dest.one("SELECT count(*) FROM pg_constraint WHERE conname = 'orders_customer_id_fkey'") == 1


def test_selected_partitioned_table_brings_all_its_partitions(pgdts, source, dest):
    schema_fixture.create_schema(source)
    run_sync(pgdts, source, dest, "--tables", "shop.events", phases="schema")
    names = [r[0] for r in dest.sql("SELECT relname FROM pg_class c JOIN pg_namespace n "
                                    "ON n.oid = c.relnamespace WHERE n.nspname = 'shop' "
                                    "AND relkind IN ('r', 'p') ORDER BY 1")]
    assert names == ["events", "events_2025", "events_2026", "events_2026_h1", "events_2026_h2",
                     "events_2027", "events_default"]


def test_schema_sync_while_writers_run(pgdts, source, dest):
    schema_fixture.create_schema(source)
    writers = schema_fixture.Writers(source).start()
    try:
        m = NameMapping(tables={("shop", "payments"): "payment"})
        schema_sync(pgdts, source, dest, m, "--map", "shop.payments=payment", "--jobs", "2")
    finally:
        committed = writers.stop()
    assert committed > 0, f"the writers committed nothing (seed {writers.seed})"
    assert_catalogs_equal(source, dest, m)


def test_catalog_comparison_finds_differences(pgdts, source, dest):
    schema_fixture.create_schema(source, with_rows=False)
    run_sync(pgdts, source, dest, phases="schema")
    assert_catalogs_equal(source, dest)
    for change in ["DROP INDEX shop.products_active_name",
                   "ALTER TABLE shop.payments DROP CONSTRAINT payments_method_check",
                   "ALTER TABLE shop.orders ALTER COLUMN note SET DEFAULT 'x'",
                   "ALTER TABLE shop.events DETACH PARTITION shop.events_2027",
                   "ALTER TYPE shop.mood ADD VALUE 'new'"]:
        dest.sql(change)
        with pytest.raises(AssertionError, match="differ"):
            assert_catalogs_equal(source, dest)
        dest.sql("DROP SCHEMA shop CASCADE; DROP SCHEMA ref CASCADE; DROP SCHEMA \"Sales Dept\" CASCADE; "
                 "DROP SCHEMA pgdts CASCADE")
        run_sync(pgdts, source, dest, phases="schema")
    # A mapping the destination does not have is a difference too.
    with pytest.raises(AssertionError, match="missing on the destination"):
        assert_catalogs_equal(source, dest, NameMapping(tables={("shop", "orders"): "purchases"}))


def test_partition_without_its_parent_is_a_table_of_its_own(pgdts, source, dest):
    schema_fixture.create_schema(source)
    r = run_sync(pgdts, source, dest, "--tables", "shop.events_2027", phases="schema")
    assert dest.one("SELECT relkind::text || relispartition::text FROM pg_class "
                    "WHERE oid = 'shop.events_2027'::regclass") == "rfalse"
    # What it inherited from its parent is written out on it.
    assert dest.one("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'shop.events_2027'::regclass AND contype = 'p'") == "PRIMARY KEY (id, at)"
    assert dest.one("SELECT count(*) FROM pg_index WHERE indrelid = 'shop.events_2027'::regclass") == 2
    assert "event=schema_skipped kind=foreign_key" in r.stderr, r.stderr
