"""ETL (docs/etl.md). Row filters (--filter "schema.table: condition"): only
the rows a filter keeps reach the destination, in full sync and in the
stream, under writes that keep moving rows across the filter; UPDATEs that
cross it become INSERTs (with unchanged TOASTed values) and DELETEs;
verify compares the kept rows; bad filters are refused before anything
starts, with one line and exit status 2. Column expressions (--transform
"schema.table.column: expression"): the source value never reaches the
destination, in the copy or the stream, and verify agrees."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

import compare_rows
import processes

FILTER = "region = 'eu' AND created_at >= '2024-01-01'"
FILTER_ARG = f"shop.orders: {FILTER}"

SCHEMA = """
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id int PRIMARY KEY, region text NOT NULL, created_at timestamptz NOT NULL,
                          qty int, note text);
ALTER TABLE shop.orders ALTER COLUMN note SET STORAGE EXTERNAL;
CREATE TABLE shop.customers (id int PRIMARY KEY, name text);
INSERT INTO shop.orders
  SELECT g, (ARRAY['eu', 'us', 'apac'])[g % 3 + 1],
         timestamptz '2023-10-01 00:00+00' + g * interval '1 hour', g, 'note ' || g
  FROM generate_series(1, 3000) g;
INSERT INTO shop.customers SELECT g, 'c' || g FROM generate_series(1, 100) g;
"""

# incompressible and longer than the TOAST threshold: stored out of line
LONG_NOTE = "SELECT string_agg(md5(g::text || %s), '') FROM generate_series(1, 200) g"


def long_note(source, seed: str) -> str:
    return source.one(LONG_NOTE, [seed])


def kept_rows(source):
    return source.sql(f"SELECT id, region, created_at, qty, note FROM shop.orders WHERE {FILTER} "
                      "ORDER BY id")


def dest_rows(dest):
    return dest.sql("SELECT id, region, created_at, qty, note FROM shop.orders ORDER BY id")


def assert_destination_is_the_filtered_source(source, dest):
    src, dst = kept_rows(source), dest_rows(dest)
    src_ids, dst_ids = {r[0] for r in src}, {r[0] for r in dst}
    assert src_ids - dst_ids == set(), f"kept rows missing on the destination: {sorted(src_ids - dst_ids)[:10]}"
    assert dst_ids - src_ids == set(), f"rows the filter drops on the destination: {sorted(dst_ids - src_ids)[:10]}"
    differing = [(s[0]) for s, d in zip(src, dst) if s != d]
    assert differing == [], f"rows with other values on the destination: {differing[:10]}"


class CrossingWriters:
    """Transactions that keep moving rows into and out of the filter (region
    and created_at updated both ways, keys changed), insert and delete."""

    def __init__(self, source) -> None:
        self.source = source
        self.stop_event = threading.Event()
        self.committed = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "CrossingWriters":
        self.thread.start()
        return self

    def _run(self) -> None:
        rnd = random.Random(12)
        next_id = 100_000
        try:
            with self.source.connect() as conn:
                while not self.stop_event.is_set():
                    with conn.transaction():
                        for _ in range(rnd.randint(1, 5)):
                            i = rnd.randint(1, 3000)
                            op = rnd.random()
                            if op < 0.3:
                                conn.execute("UPDATE shop.orders SET region = %s, qty = qty + 1 "
                                             "WHERE id = %s", [rnd.choice(["eu", "us"]), i])
                            elif op < 0.45:
                                conn.execute("UPDATE shop.orders SET created_at = created_at + %s "
                                             "WHERE id = %s",
                                             [rnd.choice(["-100 days", "100 days"]), i])
                            elif op < 0.55:
                                next_id += 1
                                conn.execute("UPDATE shop.orders SET id = %s WHERE id = %s",
                                             [next_id, rnd.randint(1, next_id)])
                            elif op < 0.7:
                                conn.execute("DELETE FROM shop.orders WHERE id = %s", [i])
                            else:
                                next_id += 1
                                conn.execute("INSERT INTO shop.orders VALUES (%s, %s, now(), 1, 'new')",
                                             [next_id, rnd.choice(["eu", "us"])])
                    self.committed += 1
        except BaseException as e:   # reported by stop()
            self.error = e

    def stop(self) -> int:
        self.stop_event.set()
        self.thread.join(30)
        if self.error:
            raise self.error
        return self.committed


def sync_filtered(pgdts, source, dest, *extra):
    return pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                      extra_args=["--schemas", "shop", "--filter", FILTER_ARG,
                                  "--replica-identity-full", *extra])


def test_filtered_table_holds_exactly_the_kept_rows_under_crossing_writes(pgdts, source, dest):
    source.sql(SCHEMA)
    writers = CrossingWriters(source).start()
    try:
        app = sync_filtered(pgdts, source, dest, "--jobs", "2")
        app.wait_phase("incremental", timeout=300)
        time.sleep(3)
    finally:
        committed = writers.stop()
    assert committed > 50, f"the writers committed only {committed} transactions"
    processes.wait_caught_up(source, dest, app, timeout=120)

    assert_destination_is_the_filtered_source(source, dest)
    assert dest.one("SELECT count(*) FROM shop.orders WHERE NOT (" + FILTER + ")") == 0
    compare_rows.assert_tables_equal(source, dest, [("shop", "customers")])
    # --replica-identity-full gave the filtered table, which has a key, FULL
    assert source.one("SELECT relreplident FROM pg_class WHERE oid = 'shop.orders'::regclass") == "f"
    app.stop()


def test_kill9_of_a_filtered_sync_resumes_with_the_kept_rows_only(pgdts, source, dest):
    source.sql(SCHEMA)
    writers = CrossingWriters(source).start()
    try:
        app = sync_filtered(pgdts, source, dest)
        app.wait_phase("incremental", timeout=300)
        time.sleep(2)
        app.kill9()
        time.sleep(1)
        app = sync_filtered(pgdts, source, dest)
        app.wait_phase("incremental", timeout=300)
        time.sleep(2)
    finally:
        committed = writers.stop()
    assert committed > 20, f"the writers committed only {committed} transactions"
    processes.wait_caught_up(source, dest, app, timeout=120)
    assert_destination_is_the_filtered_source(source, dest)
    pgdts.assert_verified_equal(source, dest)
    app.stop()


def test_updates_crossing_the_filter_insert_and_delete_on_the_destination(pgdts, source, dest):
    source.sql(SCHEMA)
    app = sync_filtered(pgdts, source, dest)
    app.wait_phase("incremental", timeout=300)
    out_row = source.one(f"SELECT min(id) FROM shop.orders WHERE region = 'us'")
    in_row = source.one(f"SELECT min(id) FROM shop.orders WHERE {FILTER}")
    assert dest.one("SELECT count(*) FROM shop.orders WHERE id = %s", [out_row]) == 0
    assert dest.one("SELECT count(*) FROM shop.orders WHERE id = %s", [in_row]) == 1
    # out -> in: the whole row arrives; in -> out: it goes
    source.sql("UPDATE shop.orders SET region = 'eu', created_at = '2025-01-01' WHERE id = %s", [out_row])
    source.sql("UPDATE shop.orders SET created_at = '2020-01-01' WHERE id = %s", [in_row])
    # in -> in with a key change; out -> out stays out
    source.sql("UPDATE shop.orders SET id = 900001, qty = 7 WHERE id = %s", [out_row])
    source.sql("UPDATE shop.orders SET qty = -1 WHERE region = 'apac'")
    processes.wait_caught_up(source, dest, app)
    assert dest.sql("SELECT id, region, qty FROM shop.orders WHERE id IN (%s, %s, 900001) ORDER BY id",
                    [out_row, in_row]) == [(900001, "eu", 7)]
    assert dest.one("SELECT count(*) FROM shop.orders WHERE region = 'apac'") == 0
    assert_destination_is_the_filtered_source(source, dest)
    # pgdts status shows the rule in force
    r = pgdts.run(["status", "--target", dest.conninfo(), "--task", "it", "--format", "json"])
    assert r.returncode == 0 and json.loads(r.stdout)["filters"] == [FILTER_ARG], r.stdout + r.stderr
    # TRUNCATE still empties the destination table
    source.sql("TRUNCATE shop.orders")
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT count(*) FROM shop.orders") == 0
    app.stop()


def test_row_crossing_in_brings_its_unchanged_toasted_value(pgdts, source, dest):
    source.sql(SCHEMA)
    app = sync_filtered(pgdts, source, dest)
    app.wait_phase("incremental", timeout=300)
    note = long_note(source, "toast")
    assert len(note) > 6000
    source.sql("INSERT INTO shop.orders VALUES (800001, 'us', '2025-02-01', 1, %s)", [note])
    # only qty and region change: note is an unchanged TOASTed value, which
    # the UPDATE's new row does not carry
    source.sql("UPDATE shop.orders SET region = 'eu', qty = 2 WHERE id = 800001")
    toasted = source.one("SELECT pg_column_size(note) < length(note) OR "
                         "pg_relation_size(reltoastrelid) > 0 FROM shop.orders, pg_class "
                         "WHERE id = 800001 AND pg_class.oid = 'shop.orders'::regclass")
    assert toasted, "the long note is not stored out of line: the test does not test TOAST"
    processes.wait_caught_up(source, dest, app)
    assert dest.sql("SELECT region, qty, note = %s, length(note) FROM shop.orders WHERE id = 800001",
                    [note]) == [("eu", 2, True, len(note))]
    app.stop()


def test_verify_compares_only_the_kept_rows_and_finds_a_stray_one(pgdts, source, dest):
    source.sql(SCHEMA)
    app = sync_filtered(pgdts, source, dest)
    app.wait_phase("incremental", timeout=300)
    source.sql("UPDATE shop.orders SET region = 'eu' WHERE id % 7 = 0")
    source.sql("UPDATE shop.orders SET region = 'us' WHERE id % 11 = 0")
    processes.wait_caught_up(source, dest, app)
    # no filter on the verify command line: it takes the task's stored one
    doc = pgdts.assert_verified_equal(source, dest)
    kept = len(kept_rows(source))
    orders = [t for t in doc["tables"] if t["source"] == "shop.orders"]
    assert orders and orders[0]["rows"] == {"source": kept, "target": kept}, \
        f"verify did not count the kept rows ({kept}) of shop.orders: {doc['tables']}"
    # a row the filter drops, written on the destination, is a difference
    dest.sql("INSERT INTO shop.orders VALUES (999999, 'us', now(), 0, 'stray')")
    status, doc = pgdts.verify(source, dest)
    orders = [t for t in doc["tables"] if t["source"] == "shop.orders"]
    assert status == 1 and orders[0]["differing_keys"] == ["(id)=(999999)"], \
        f"verify missed a stray row: {orders}"
    app.stop()


def run_refused(pgdts, source, dest, command, *args):
    r = pgdts.run([command, "--source", source.conninfo(), "--target", dest.conninfo(),
                   "--task", "it", "--schemas", "shop", "--replica-identity-full", *args], timeout=60)
    lines = r.stderr.strip().splitlines()
    return r.returncode, lines


@pytest.mark.parametrize("condition, says", [
    ("random() < 0.5", "calls volatile function random(); row filters may not call volatile functions"),
    ("id IN (SELECT id FROM shop.customers)", "row filters may not use subqueries"),
    ("regoin = 'eu'", 'column "regoin" does not exist'),
    ("region = ", "syntax error"),
    ("region", "argument of WHERE must be type boolean"),
])
def test_bad_filter_is_refused_with_one_line_before_anything_starts(pgdts, source, dest, condition, says):
    source.sql(SCHEMA)
    for command in ("sync", "precheck"):
        status, lines = run_refused(pgdts, source, dest, command, "--filter", f"shop.orders: {condition}")
        assert status == 2, f"{command}: exit {status}, stderr {lines}"
        errors = [ln for ln in lines if ln.startswith("pgdts: error:")]
        assert len(errors) == 1 and says in errors[0] and "shop.orders" in errors[0], \
            f"{command}: {lines}"
    assert source.sql("SELECT slot_name FROM pg_replication_slots") == []
    assert dest.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'") == 0
    # the check's temporary view did not outlive it
    assert source.one("SELECT count(*) FROM pg_class WHERE relname LIKE 'pgdts_etl_%'") == 0


def test_filter_on_a_table_outside_the_task_is_refused(pgdts, source, dest):
    source.sql(SCHEMA)
    source.sql("CREATE SCHEMA other; CREATE TABLE other.t (id int PRIMARY KEY)")
    status, lines = run_refused(pgdts, source, dest, "sync", "--filter", "other.t: id > 1")
    assert status == 2, lines
    assert any("other.t" in ln and "is not in the task" in ln for ln in lines), lines
    assert source.sql("SELECT slot_name FROM pg_replication_slots") == []


def test_precheck_asks_replica_identity_full_of_each_filtered_table(pgdts, source, dest, tmp_path):
    source.sql(SCHEMA)
    config = tmp_path / "task.ini"
    config.write_text(f"schemas = shop\nfilter = {FILTER_ARG}\nfilter = shop.customers: id > 10\n")
    args = ["precheck", "--source", source.conninfo(), "--target", dest.conninfo(), "--config",
            str(config)]
    r = pgdts.run(args)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if "etl_replica_identity" in ln]
    assert len(lines) == 2 and all(ln.startswith("FAIL") for ln in lines), r.stdout
    assert any("shop.orders" in ln and "REPLICA IDENTITY DEFAULT" in ln for ln in lines), lines
    assert "2 ETL rules analyzed on the source" in r.stdout
    source.sql("ALTER TABLE shop.orders REPLICA IDENTITY FULL; ALTER TABLE shop.customers REPLICA IDENTITY FULL")
    r = pgdts.run(args)
    lines = [ln for ln in r.stdout.splitlines() if "etl_replica_identity" in ln]
    assert len(lines) == 2 and all(ln.startswith("PASS") for ln in lines), r.stdout


# ---- column expressions -----------------------------------------------------

CRM = """
CREATE SCHEMA crm;
CREATE TABLE crm.customers (id int PRIMARY KEY, email text, phone varchar(20), bio text,
                            visits int);
ALTER TABLE crm.customers ALTER COLUMN bio SET STORAGE EXTERNAL;
INSERT INTO crm.customers SELECT g, 'user' || g || '@real.example', '+1-555-' || g, 'bio ' || g, g
  FROM generate_series(1, 500) g;
"""
MASK = "md5(email) || '@example.invalid'"


def masked_mismatches(source, dest):
    """Ids whose destination email is not the source's masked one (or whose
    other columns differ)."""
    src = {r[0]: r[1:] for r in source.sql(
        f"SELECT id, {MASK}, phone, bio FROM crm.customers")}
    dst = {r[0]: r[1:] for r in dest.sql("SELECT id, email, phone, bio FROM crm.customers")}
    return sorted(set(src) ^ set(dst)) + sorted(i for i in set(src) & set(dst) if src[i] != dst[i])


def test_column_expression_masks_the_value_in_copy_and_stream(pgdts, source, dest):
    source.sql(CRM)
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--schemas", "crm", "--replica-identity-full",
                                 "--transform", f"crm.customers.email: {MASK}"])
    app.wait_phase("incremental", timeout=300)
    source.sql("INSERT INTO crm.customers VALUES (501, 'new@real.example', '+1', 'b', 0)")
    source.sql("UPDATE crm.customers SET email = 'changed' || id || '@real.example' WHERE id % 10 = 0")
    source.sql("UPDATE crm.customers SET phone = '+44' WHERE id % 7 = 0")   # email unchanged
    # email is read by the expression; bio, a TOASTed value left unchanged, is not
    source.sql("UPDATE crm.customers SET bio = %s WHERE id = 3", [long_note(source, "bio")])
    source.sql("UPDATE crm.customers SET email = 'x3@real.example' WHERE id = 3")
    source.sql("DELETE FROM crm.customers WHERE id % 13 = 0")
    processes.wait_caught_up(source, dest, app)
    assert masked_mismatches(source, dest) == []
    assert dest.one("SELECT count(*) FROM crm.customers WHERE email LIKE '%@real.example'") == 0
    assert dest.one("SELECT count(*) FROM crm.customers") == source.one("SELECT count(*) FROM crm.customers")
    pgdts.assert_verified_equal(source, dest)
    app.stop()
    # pgdts stream given the task's expression shows the masked value only
    source.sql("UPDATE crm.customers SET email = 'streamed@real.example' WHERE id = 1")
    masked = source.one(f"SELECT {MASK} FROM crm.customers WHERE id = 1")
    shown = pgdts.stream(source, "it", "--idle-exit", "2", "--transform", f"crm.customers.email: {MASK}")
    assert shown.returncode == 0 and masked in shown.stdout, shown.stdout + shown.stderr
    assert "real.example" not in shown.stdout, shown.stdout
    unmasked = pgdts.stream(source, "it", "--idle-exit", "2")
    assert "streamed@real.example" in unmasked.stdout, unmasked.stdout + unmasked.stderr


ADDED = {"email_domain": "split_part(email, '@', 2)",
         "visits_cents": "(visits * 100)::bigint"}


def added_mismatches(source, dest):
    """Ids whose destination added columns are not their expressions' values
    on the source row (or that only one side has)."""
    exprs = ", ".join(ADDED.values())
    src = {r[0]: r[1:] for r in source.sql(f"SELECT id, {exprs}, email FROM crm.customers")}
    dst = {r[0]: r[1:] for r in dest.sql(
        f"SELECT id, {', '.join(ADDED)}, email FROM crm.customers")}
    return sorted(set(src) ^ set(dst)) + sorted(i for i in set(src) & set(dst) if src[i] != dst[i])


def test_column_expression_adds_a_column_the_source_lacks(pgdts, source, dest):
    """A destination column that exists only there, given by an expression:
    schema sync creates it with the expression's type, the copy and the
    stream fill it, a kill -9 in between loses nothing, verify agrees."""
    source.sql(CRM)
    transforms = [a for name, expr in ADDED.items()
                  for a in ("--transform", f"crm.customers.{name}: {expr}")]
    args = ["--schemas", "crm", "--replica-identity-full", *transforms]
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=args)
    app.wait_phase("incremental", timeout=300)
    assert dest.sql("SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = 'crm.customers'::regclass AND attnum > 5 ORDER BY attnum") == \
        [("email_domain", "text"), ("visits_cents", "bigint")]
    assert source.one("SELECT count(*) FROM pg_attribute WHERE attrelid = 'crm.customers'::regclass "
                      "AND attname IN ('email_domain', 'visits_cents')") == 0
    source.sql("INSERT INTO crm.customers VALUES (501, 'new@other.example', '+1', 'b', 7)")
    source.sql("UPDATE crm.customers SET visits = visits + 1 WHERE id % 10 = 0")
    app.kill9()
    source.sql("UPDATE crm.customers SET email = 'moved' || id || '@else.example' WHERE id % 7 = 0")
    source.sql("DELETE FROM crm.customers WHERE id % 13 = 0")
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=args)
    processes.wait_caught_up(source, dest, app)
    assert added_mismatches(source, dest) == []
    assert dest.one("SELECT count(*) FROM crm.customers WHERE email_domain = 'else.example'") > 0
    pgdts.assert_verified_equal(source, dest)
    app.stop()


PARTS = """
CREATE SCHEMA sales;
CREATE TABLE sales.orders (id int, month int, region text, email text, PRIMARY KEY (id, month))
  PARTITION BY LIST (month);
CREATE TABLE sales.orders_1 PARTITION OF sales.orders FOR VALUES IN (1);
CREATE TABLE sales.orders_2 PARTITION OF sales.orders FOR VALUES IN (2);
INSERT INTO sales.orders SELECT g, g % 2 + 1, (ARRAY['eu', 'us'])[g % 2 + 1] || '',
                                'p' || g || '@real.example'
  FROM generate_series(1, 400) g;
"""
PART_FILTER = "region = 'eu' OR id % 5 = 0"
PART_MASK = "md5(email)"


def test_rules_on_a_partitioned_table_shape_every_partition_even_later_ones(pgdts, source, dest):
    """A filter and an expression given on a partitioned table apply to its
    partitions' rows, in the copy, the stream and verify, and to a
    partition created while the task runs (which gets REPLICA IDENTITY FULL
    as it is created): no unmasked value reaches the destination through
    it."""
    source.sql(PARTS)
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--schemas", "sales", "--replica-identity-full",
                                 "--filter", f"sales.orders: {PART_FILTER}",
                                 "--transform", f"sales.orders.email: {PART_MASK}"])
    app.wait_phase("incremental", timeout=300)
    source.sql("CREATE TABLE sales.orders_3 PARTITION OF sales.orders FOR VALUES IN (3)")
    # keyed, but under a ruled table: the DDL capture gives it FULL at once
    assert source.one("SELECT relreplident FROM pg_class WHERE oid = 'sales.orders_3'::regclass") == "f"
    source.sql("INSERT INTO sales.orders SELECT g, 3, (ARRAY['eu', 'us'])[g % 2 + 1], "
               "'late' || g || '@real.example' FROM generate_series(1001, 1100) g")
    source.sql("UPDATE sales.orders SET region = 'us' WHERE id % 7 = 0")
    source.sql("UPDATE sales.orders SET email = 'changed' || id || '@real.example' WHERE id % 3 = 0")
    processes.wait_caught_up(source, dest, app)
    want = source.sql(f"SELECT id, month, region, {PART_MASK} FROM sales.orders "
                      f"WHERE {PART_FILTER} ORDER BY id, month")
    got = dest.sql("SELECT id, month, region, email FROM sales.orders ORDER BY id, month")
    assert got == want
    assert dest.one("SELECT count(*) FROM sales.orders_3") > 0
    assert dest.one("SELECT count(*) FROM sales.orders WHERE email LIKE '%real.example'") == 0
    pgdts.assert_verified_equal(source, dest)
    app.stop()


@pytest.mark.parametrize("rule, says", [
    ("crm.customers.email: email || random()::text", "volatile function random()"),
    ("crm.customers.id: id + 1", "column expressions may not change key columns"),
    ("crm.customers.visits: 'many'::text", 'column "visits" is of type integer but expression is of type text'),
    ("crm.customers.nope: ROW(id, email)", 'column "nope" has pseudo-type record'),
    ("other.t.id2: 1", "is not in the task"),
])
def test_bad_column_expression_is_refused_with_one_line(pgdts, source, dest, rule, says):
    source.sql(CRM)
    r = pgdts.run(["sync", "--source", source.conninfo(), "--target", dest.conninfo(), "--task", "it",
                   "--schemas", "crm", "--replica-identity-full", "--transform", rule], timeout=60)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("pgdts: error:")]
    assert r.returncode == 2 and len(errors) == 1 and says in errors[0], (r.returncode, r.stderr)
    assert source.sql("SELECT slot_name FROM pg_replication_slots") == []


def test_dropping_a_column_a_filter_uses_stops_the_task_naming_the_filter(pgdts, source, dest):
    """Never silently, and not retried for hours: the plugin refuses to judge
    rows without the column, and sync stops (exit 1) naming the filter, with
    no change after the DDL applied."""
    source.sql(SCHEMA)
    app = sync_filtered(pgdts, source, dest)
    app.wait_phase("incremental", timeout=300)
    source.sql("ALTER TABLE shop.orders DROP COLUMN region")
    source.sql("INSERT INTO shop.orders (id, created_at) VALUES (700001, '2025-01-01')")
    assert app.wait_exit(120) == 1, app.log_tail()
    last = app.logs().strip().splitlines()[-1]
    assert "pgdts row filter" in last and 'column "region" does not exist' in last, last
    assert "event=apply_failed" not in app.logs(), "the broken rule was retried"
    assert dest.one("SELECT count(*) FROM shop.orders WHERE id = 700001") == 0
