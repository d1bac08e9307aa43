"""pgdts verify: every table of a task compared between source and
destination, row by row (key ranges, hashes first) and catalog by catalog,
while pgdts sync keeps applying changes: equal after a sync under writes,
also while the writes go on; a row in flight is rechecked, not reported;
rows changed on the destination behind pgdts' back are named by key; mapped
names and tables without a key; metadata differences; exit statuses."""

from __future__ import annotations

import json
import threading
import time

import psycopg

import processes
import schema_fixture
from schema_fixture import Writers

TASK = "it"


def verify(pgdts, source, dest, *extra: str, task: str = TASK, json_format: bool = True,
           timeout: float = 240):
    """Runs pgdts verify; returns (exit status, JSON document or text, stderr)."""
    args = ["verify", "--source", source.conninfo(), "--target", dest.conninfo(), "--task", task,
            *extra]
    if json_format:
        args += ["--format", "json"]
    r = pgdts.run(args, timeout=timeout)
    if not json_format:
        return r.returncode, r.stdout, r.stderr
    assert r.stdout.strip(), f"verify printed nothing (exit {r.returncode}); stderr:\n{r.stderr}"
    return r.returncode, json.loads(r.stdout), r.stderr


def table_entry(doc: dict, source_name: str) -> dict:
    found = [t for t in doc["tables"] if t["source"] == source_name]
    assert len(found) == 1, f"table {source_name} not in the report: {[t['source'] for t in doc['tables']]}"
    return found[0]


def start_sync(pgdts, source, dest, *extra: str):
    app = pgdts.sync(source, dest, task=TASK, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--replica-identity-full", *extra])
    app.wait_phase("incremental", timeout=300)
    return app


KV_DDL = ("CREATE TABLE public.kv (id int PRIMARY KEY, v text NOT NULL, n numeric, at timestamptz);"
          "INSERT INTO public.kv SELECT g, 'value ' || g, g * 1.5, timestamptz '2026-01-01' + g * interval '1 min' "
          "FROM generate_series(1, 1000) g;"
          "CREATE TABLE public.pairs (a int NOT NULL, b text NOT NULL, c jsonb, UNIQUE (a, b));"
          "INSERT INTO public.pairs SELECT g % 10, 'b' || g, jsonb_build_object('g', g) FROM generate_series(1, 300) g;")


def test_equal_after_a_sync_under_writes_and_while_writes_go_on(pgdts, source, dest):
    schema_fixture.create_schema(source)
    writers = Writers(source).start()
    try:
        app = start_sync(pgdts, source, dest, "--jobs", "2")
        # The writers go on during verify: whatever it finds in flight it must
        # recheck rather than report.
        status, doc, err = verify(pgdts, source, dest)
        text_status, text, _ = verify(pgdts, source, dest, json_format=False)
    finally:
        committed = writers.stop()
    assert committed > 50, f"the writers committed only {committed} transactions"
    assert status == 0, json.dumps(doc, indent=1) + err
    assert doc["equal"] is True and doc["task"] == TASK
    leaves = schema_fixture.leaf_tables(source)
    assert sorted(t["source"] for t in doc["tables"]) == sorted(_display(s, t) for s, t in leaves)
    assert all(t["status"] == "equal" for t in doc["tables"])
    assert doc["metadata"] == []
    assert all(s["status"] in ("equal", "behind") for s in doc["sequences"]) and doc["sequences"]
    # rows as each side counted them in the first pass (writes went on)
    customers = table_entry(doc, "shop.customers")
    assert customers["rows"]["source"] >= 40 and customers["rows"]["target"] >= 40
    assert text_status == 0, text
    lines = text.splitlines()
    assert any(ln.startswith("shop.customers: equal (") for ln in lines), text
    assert lines[-1].startswith(f"equal: {len(leaves)} of {len(leaves)} tables equal"), text
    app.stop()


def test_fixture_with_mapped_and_lower_cased_names_is_equal(pgdts, source, dest):
    """Every --map kind and --case lower on the 36-table fixture: rows,
    columns inside constraint and index definitions, types in a renamed
    schema and sequences all compare equal through the mapping."""
    schema_fixture.create_schema(source)
    maps = ["--map", "shop=store", "--map", "shop.orders=purchases", "--map", "shop.customers.email=mail",
            "--case", "lower"]
    writers = Writers(source).start()
    try:
        app = start_sync(pgdts, source, dest, "--jobs", "2", *maps)
        status, doc, err = verify(pgdts, source, dest, *maps)
    finally:
        writers.stop()
    assert status == 0, json.dumps(doc, indent=1) + err
    assert doc["metadata"] == [] and len(doc["tables"]) == len(schema_fixture.leaf_tables(source))
    assert table_entry(doc, "shop.orders")["target"] == "store.purchases"
    assert table_entry(doc, '"Sales Dept"."Leads"')["target"] == '"sales dept".leads'
    # A renamed column's index is still found when it is gone. Verify is
    # given no --map here: it takes the mapping sync stored with the task.
    dest.sql("DROP INDEX store.customers_email_lower")
    status, doc, err = verify(pgdts, source, dest)
    assert status == 1
    assert table_entry(doc, "shop.orders")["target"] == "store.purchases"
    assert [m["difference"] for m in doc["metadata"]] == [
        'index "customers_email_lower" (btree (lower((email)::text))) missing on the destination'], doc["metadata"]
    app.stop()


def _display(schema: str, table: str) -> str:
    """"schema"."table" as pgdts prints names (quoted where needed)."""
    def q(n: str) -> str:
        plain = n.isidentifier() and n == n.lower() and n.isascii()
        return n if plain else '"' + n.replace('"', '""') + '"'
    return f"{q(schema)}.{q(table)}"


def test_a_row_in_flight_is_rechecked_not_reported(pgdts, source, dest):
    """A source change the destination has not applied yet (its apply is
    blocked by a lock) is a difference at first; verify waits for the
    replication origin to pass the source's position and finds it equal."""
    source.sql(KV_DDL)
    app = start_sync(pgdts, source, dest, "--tables", "public.kv")
    processes.wait_caught_up(source, dest, app)
    blocker = dest.connect(autocommit=False)
    blocker.execute("LOCK TABLE public.kv IN SHARE MODE")   # reads pass, the apply waits
    source.sql("UPDATE public.kv SET v = 'in flight' WHERE id = 500")
    result: dict = {}

    def run() -> None:
        result["out"] = verify(pgdts, source, dest, "--tables", "public.kv")

    t = threading.Thread(target=run)
    t.start()
    try:
        # Until verify waits for the origin: then it has seen the difference.
        deadline = time.monotonic() + 120
        while not dest.sql("SELECT 1 FROM pg_stat_activity WHERE application_name = 'pgdts_verify' "
                           "AND query LIKE '%pg_replication_origin_progress%' AND pid <> pg_backend_pid()"):
            assert t.is_alive(), f"verify ended before waiting for the origin: {result}"
            assert time.monotonic() < deadline, "verify never waited for the replication origin"
            time.sleep(0.02)
    finally:
        blocker.rollback()
        blocker.close()
        t.join(240)
    status, doc, err = result["out"]
    assert status == 0, json.dumps(doc, indent=1) + err
    assert doc["equal"] is True
    assert doc["rechecked"] >= 1 and doc["recheck_rounds"] >= 1, doc
    assert dest.one("SELECT v FROM public.kv WHERE id = 500") == "in flight"
    app.stop()


def test_rows_changed_behind_pgdts_back_are_named_by_key(pgdts, source, dest):
    source.sql(KV_DDL)
    app = start_sync(pgdts, source, dest, "--tables", "public.kv,public.pairs")
    stop = threading.Event()
    errors: list = []

    def write() -> None:   # the source keeps changing other rows of the same tables
        try:
            with psycopg.connect(source.conninfo(), autocommit=True) as conn:
                i = 0
                while not stop.is_set():
                    i += 1
                    conn.execute("UPDATE public.kv SET v = %s WHERE id = %s", [f"w{i}", 100 + i % 50])
                    conn.execute("UPDATE public.pairs SET c = %s WHERE a = 3 AND b = %s",
                                 [json.dumps({"i": i}), f"b{3 + 10 * (i % 30)}"])
                    stop.wait(0.005)
        except Exception as e:  # reported below
            errors.append(e)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        processes.wait_caught_up(source, dest, app)
        dest.sql("UPDATE public.kv SET v = 'changed on the destination' WHERE id = 5")
        dest.sql("DELETE FROM public.kv WHERE id = 7")
        dest.sql("INSERT INTO public.kv VALUES (5000, 'only on the destination')")
        dest.sql("UPDATE public.pairs SET c = '{\"x\": 1}' WHERE a = 2 AND b = 'b2'")
        status, doc, err = verify(pgdts, source, dest, "--tables", "public.kv,public.pairs")
        text_status, text, _ = verify(pgdts, source, dest, "--tables", "public.kv,public.pairs",
                                      json_format=False)
    finally:
        stop.set()
        writer.join(30)
    assert not errors, errors
    assert status == 1, json.dumps(doc, indent=1) + err
    assert doc["equal"] is False
    kv = table_entry(doc, "public.kv")
    assert kv["status"] == "different"
    assert sorted(kv["differing_keys"]) == ["(id)=(5)", "(id)=(5000)", "(id)=(7)"], kv
    assert kv["differing_count"] == 3
    pairs = table_entry(doc, "public.pairs")
    assert pairs["differing_keys"] == ["(a, b)=(2, b2)"], pairs
    assert text_status == 1
    line = next(ln for ln in text.splitlines() if ln.startswith("public.kv:"))
    assert line.startswith("public.kv: 3 differing keys: ") and "(id)=(5000)" in line, text
    assert text.splitlines()[-1].startswith("different: 0 of 2 tables equal, 4 differing keys or rows"), text
    app.stop()


def test_a_big_table_is_hashed_in_key_ranges_and_only_differing_ranges_are_fetched(pgdts, source, dest):
    """130,000 rows with a two-column key: 7 ranges of 20,000 rows (the last
    one open-ended); differences in the first range, in the middle and past
    the source's last key are found, and only their ranges' rows fetched."""
    source.sql("CREATE TABLE public.big (tenant int NOT NULL, id bigint NOT NULL, v text, "
               "PRIMARY KEY (tenant, id));"
               "INSERT INTO public.big SELECT g % 7, g, md5(g::text) FROM generate_series(1, 130000) g")
    app = start_sync(pgdts, source, dest, "--tables", "public.big")
    app.stop()
    dest.sql("UPDATE public.big SET v = 'x' WHERE tenant = 0 AND id = 7")
    dest.sql("DELETE FROM public.big WHERE tenant = 3 AND id = 66678")
    dest.sql("INSERT INTO public.big VALUES (9, 1, 'beyond the last key')")
    args = ["verify", "--source", source.conninfo(), "--target", dest.conninfo(), "--task", TASK,
            "--tables", "public.big", "--format", "json", "--log-level", "debug"]
    r = pgdts.run(args, timeout=240)
    assert r.returncode == 1, r.stdout + r.stderr
    big = table_entry(json.loads(r.stdout), "public.big")
    assert big["rows"] == {"source": 130000, "target": 130000}
    assert sorted(big["differing_keys"]) == ["(tenant, id)=(0, 7)", "(tenant, id)=(3, 66678)",
                                             "(tenant, id)=(9, 1)"], big
    event = [ln for ln in r.stderr.splitlines() if "event=verify_table " in ln]
    assert len(event) == 1, r.stderr
    assert " ranges=7 " in event[0] and " differing_ranges=3 " in event[0], event[0]


def test_mapped_names_and_a_table_without_a_key(pgdts, source, dest):
    source.sql("CREATE SCHEMA shop; "
               "CREATE TABLE shop.orders (id int PRIMARY KEY, email text NOT NULL, total numeric);"
               "INSERT INTO shop.orders SELECT g, 'u' || g || '@x', g FROM generate_series(1, 200) g;"
               "CREATE TABLE shop.log (at date, msg text);"
               "INSERT INTO shop.log VALUES ('2026-01-01', 'twice'), ('2026-01-01', 'twice'), "
               "('2026-01-02', 'once');")
    maps = ["--map", "shop=store", "--map", "shop.orders=purchases", "--map", "shop.orders.email=mail"]
    app = start_sync(pgdts, source, dest, *maps)
    source.sql("INSERT INTO shop.orders VALUES (201, 'new@x', 1); UPDATE shop.orders SET total = 0 WHERE id = 1;"
               "INSERT INTO shop.log VALUES ('2026-01-03', 'later')")
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT mail FROM store.purchases WHERE id = 201") == "new@x"
    status, doc, err = verify(pgdts, source, dest, *maps)
    assert status == 0, json.dumps(doc, indent=1) + err
    orders = table_entry(doc, "shop.orders")
    assert orders["target"] == "store.purchases" and orders["rows"] == {"source": 201, "target": 201}

    # One of the two equal rows of the keyless table goes, behind pgdts' back.
    dest.sql("DELETE FROM store.log WHERE ctid = (SELECT min(ctid) FROM store.log WHERE msg = 'twice')")
    dest.sql("UPDATE store.purchases SET mail = 'changed' WHERE id = 42")
    status, doc, err = verify(pgdts, source, dest, *maps)
    assert status == 1, json.dumps(doc, indent=1) + err
    log = table_entry(doc, "shop.log")
    assert log["target"] == "store.log" and log["status"] == "different"
    assert log["differing_rows"] == [{"row": "(2026-01-01,twice)", "source": 2, "target": 1}], log
    assert table_entry(doc, "shop.orders")["differing_keys"] == ["(id)=(42)"]
    status, text, _ = verify(pgdts, source, dest, *maps, json_format=False)
    assert "shop.log -> store.log: 1 differing row: (2026-01-01,twice) (source 2, destination 1)" in text, text
    assert "shop.orders -> store.purchases: 1 differing key: (id)=(42)" in text, text
    app.stop()


def test_metadata_differences_are_reported(pgdts, source, dest):
    source.sql("CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL, qty int CHECK (qty >= 0), "
               "price numeric(10,2));"
               "CREATE INDEX items_name ON public.items (lower(name));"
               "CREATE SEQUENCE public.tickets;"
               "INSERT INTO public.items SELECT g, 'item ' || g, g, g FROM generate_series(1, 50) g;")
    app = start_sync(pgdts, source, dest)
    processes.wait_caught_up(source, dest, app)
    status, doc, err = verify(pgdts, source, dest)
    assert status == 0, json.dumps(doc, indent=1) + err
    app.stop()
    dest.sql("DROP INDEX public.items_name")
    dest.sql("ALTER TABLE public.items ALTER COLUMN price TYPE numeric(12,2)")
    dest.sql("ALTER TABLE public.items DROP CONSTRAINT items_qty_check")
    dest.sql("DROP SEQUENCE public.tickets")
    status, doc, err = verify(pgdts, source, dest)
    assert status == 1, json.dumps(doc, indent=1) + err
    messages = [f"{m['object']}: {m['difference']}" for m in doc["metadata"]]
    assert any("items_name" in m and "lower(name)" in m and "missing on the destination" in m
               for m in messages), messages
    assert any('column "price"' in m and "numeric(12,2)" in m and "numeric(10,2)" in m for m in messages), messages
    assert any("items_qty_check" in m for m in messages), messages
    assert len(messages) == 3, messages
    tickets = [s for s in doc["sequences"] if s["source"] == "public.tickets"]
    assert tickets and tickets[0]["status"] == "missing", doc["sequences"]
    # rows still equal; the sync is stopped: verify says so when it has to recheck
    assert table_entry(doc, "public.items")["status"] == "equal"
    status, text, _ = verify(pgdts, source, dest, json_format=False)
    assert "metadata: table public.items: index \"items_name\"" in text, text
    assert "sequence public.tickets: missing on destination" in text, text


def test_differences_without_a_running_sync_are_reported_once_with_a_note(pgdts, source, dest):
    source.sql(KV_DDL)
    app = pgdts.sync(source, dest, task=TASK, phases="schema,full", wait_ready=False,
                     extra_args=["--tables", "public.kv"])
    assert app.wait_exit(120) == 0, app.log_tail()
    dest.sql("DELETE FROM public.kv WHERE id = 3")
    status, doc, err = verify(pgdts, source, dest, "--tables", "public.kv")
    assert status == 1, json.dumps(doc, indent=1) + err
    assert table_entry(doc, "public.kv")["differing_keys"] == ["(id)=(3)"]
    assert doc["recheck_rounds"] == 0
    # The task has no incremental phase: its origin is missing or never moves.
    assert any("pgdts_it" in n and ("does not exist" in n or "did not move" in n) for n in doc["notes"]), \
        doc["notes"]


def test_missing_destination_table_and_usage_errors(pgdts, source, dest):
    source.sql("CREATE TABLE public.a (id int PRIMARY KEY); INSERT INTO public.a VALUES (1)")
    status, doc, _ = verify(pgdts, source, dest)
    assert status == 1
    assert table_entry(doc, "public.a")["status"] == "missing"
    status, text, _ = verify(pgdts, source, dest, json_format=False)
    assert "public.a: missing on destination" in text, text

    r = pgdts.run(["verify", "--source", source.conninfo()])
    assert r.returncode == 2 and "--target" in r.stderr, r.stderr
    r = pgdts.run(["verify", "--source", source.conninfo(), "--target",
                   f"host=127.0.0.1 port={processes.free_port()} dbname=x user=postgres connect_timeout=5"])
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("pgdts: error:")]
    assert r.returncode == 1 and len(lines) == 1 and "destination" in lines[0], r.stderr
