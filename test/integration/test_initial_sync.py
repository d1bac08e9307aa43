"""Schema sync and full sync handed over to the change stream: `pgdts sync`
with its default phases moves a live database (the 36-table fixture of
schema_fixture.py, written to the whole time) and ends with a destination
that equals the source row by row and catalog by catalog; with names mapped
and case folded; across kill -9 during full sync; with conflicting tables."""

from __future__ import annotations

import random
import re
import time

import pytest

import compare_catalogs
import compare_rows
import processes
import schema_fixture
from schema_fixture import Writers

EVENT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def events(log: str, name: str) -> list[dict]:
    """The fields of every log line of event `name`."""
    out = []
    for line in log.splitlines():
        if f"event={name} " not in line + " ":
            continue
        fields = {k: (v[1:-1].replace('\\"', '"') if v.startswith('"') else v)
                  for k, v in EVENT.findall(line)}
        out.append(fields)
    return out


def catch_up(source, dest, app) -> None:
    processes.wait_caught_up(source, dest, app, timeout=120)


def sync_under_writes(pgdts, source, dest, extra=(), task="it", write_after=3.0):
    """Fixture schema on the source, writers running from before the sync
    starts until after the copy is done; returns the applier, caught up."""
    schema_fixture.create_schema(source)
    writers = Writers(source).start()
    try:
        app = pgdts.sync(source, dest, task=task, phases="schema,full,incremental",
                         extra_args=["--jobs", "2", "--replica-identity-full", *extra],
                         wait_ready=False)
        app.wait_phase("incremental", timeout=300)
        time.sleep(write_after)
    finally:
        committed = writers.stop()
    assert committed > 50, f"the writers committed only {committed} transactions"
    catch_up(source, dest, app)
    return app


def test_default_phases_move_a_live_database(pgdts, source, dest):
    app = sync_under_writes(pgdts, source, dest)
    tables = schema_fixture.leaf_tables(source)
    assert len(tables) >= 30
    compare_rows.assert_tables_equal(source, dest, tables)
    compare_catalogs.assert_catalogs_equal(source.connect(), dest.connect())
    copied = {e["table"] for e in events(app.logs(), "table_copied")}
    assert len(copied) == len(tables), f"table_copied events for {len(copied)} of {len(tables)} tables"
    app.stop()


def test_mapped_names_are_used_by_every_phase(pgdts, source, dest):
    mapping = compare_catalogs.NameMapping(schemas={"shop": "store"},
                                           tables={("shop", "orders"): "purchases"},
                                           columns={("shop", "customers", "email"): "mail"})
    app = sync_under_writes(pgdts, source, dest, extra=[
        "--map", "shop=store", "--map", "shop.orders=purchases",
        "--map", "shop.customers.email=mail"])
    pairs = [((s, t), mapping.table(s, t)) for s, t in schema_fixture.leaf_tables(source)]
    assert ((("shop", "orders"), ("store", "purchases"))) in pairs
    assert dest.one("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'store' "
                    "AND table_name = 'customers' AND column_name = 'mail'") == 1
    compare_rows.assert_mapped_tables_equal(source, dest, pairs)
    compare_catalogs.assert_catalogs_equal(source.connect(), dest.connect(), mapping=mapping)
    app.stop()


def test_case_lower_folds_every_destination_name(pgdts, source, dest):
    app = sync_under_writes(pgdts, source, dest, extra=["--case", "lower"])
    pairs = [((s, t), (s.lower(), t.lower())) for s, t in schema_fixture.leaf_tables(source)]
    assert any(s != d for s, d in pairs), "the fixture has no mixed-case names"
    upper = dest.sql("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                     "WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'pgdts') "
                     "AND (column_name <> lower(column_name) OR table_name <> lower(table_name) "
                     "OR table_schema <> lower(table_schema))")
    assert upper == [], f"names not folded to lower case: {upper[:5]}"
    compare_rows.assert_mapped_tables_equal(source, dest, pairs)
    compare_catalogs.assert_catalogs_equal(source.connect(), dest.connect(),
                                           mapping=compare_catalogs.NameMapping(case="lower"))
    app.stop()


def add_big_table(source, rows: int) -> None:
    source.sql("CREATE SCHEMA IF NOT EXISTS bulk")
    source.sql(f"CREATE TABLE bulk.events AS SELECT g AS id, md5(g::text) AS v, now() AS at "
               f"FROM generate_series(1, {rows}) g")
    source.sql("ALTER TABLE bulk.events ADD PRIMARY KEY (id)")
    source.sql("ANALYZE bulk.events")


def test_kill9_during_full_sync_resumes_without_recopying(pgdts, source, dest):
    schema_fixture.create_schema(source)
    add_big_table(source, 300_000)
    rnd = random.Random()
    writers = Writers(source).start()
    apps = []
    try:
        for _ in range(3):
            # Throttled so that the copy lasts long enough to be interrupted.
            app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                             extra_args=["--jobs", "2", "--replica-identity-full",
                                         "--full-rps", "60000"])
            apps.append(app)
            app.wait_phase("full", timeout=120)
            time.sleep(rnd.uniform(0.3, 3.0))
            assert app.alive(), f"pgdts sync ended early; log tail:\n{app.log_tail()}"
            app.kill9()
        app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                         extra_args=["--jobs", "2", "--replica-identity-full"])
        apps.append(app)
        app.wait_phase("incremental", timeout=300)
        time.sleep(2)
    finally:
        writers.stop()
    catch_up(source, dest, app)
    tables = schema_fixture.leaf_tables(source) + [("bulk", "events")]
    compare_rows.assert_tables_equal(source, dest, tables)
    wait_foreign_keys_validated(dest, app)
    compare_catalogs.assert_catalogs_equal(source.connect(), dest.connect())

    copied: dict[str, int] = {}
    skipped = 0
    for a in apps:
        log = a.logs()
        for e in events(log, "table_copied"):
            copied[e["table"]] = copied.get(e["table"], 0) + 1
        skipped += len(events(log, "table_skipped_already_copied"))
    recopied = {t: n for t, n in copied.items() if n > 1}
    assert not recopied, f"tables copied more than once: {recopied}"
    assert len(copied) == len(tables), f"{len(copied)} tables copied of {len(tables)}"
    assert skipped > 0, "no run found a finished table to skip: the kills came too early to tell"
    app.stop()


def wait_foreign_keys_validated(dest, app, task: str = "it", timeout: float = 120) -> None:
    """Until foreign keys a resumed copy left NOT VALID are validated
    (pgdts.task.fks_valid_after cleared: task/deferred_fks.h)."""
    deadline = time.monotonic() + timeout
    while dest.one("SELECT fks_valid_after IS NOT NULL FROM pgdts.task WHERE task = %s", [task]):
        assert time.monotonic() < deadline, f"foreign keys not validated; log tail:\n{app.log_tail()}"
        assert app.alive(), app.log_tail()
        time.sleep(0.5)


@pytest.mark.parametrize("partitioned", [False, True], ids=["plain_child", "partitioned_child"])
def test_a_child_copied_after_a_resume_may_refer_to_a_parent_only_the_stream_brings(
        pgdts, source, dest, partitioned):
    """The parent table is copied in the first run, the child (blocked by a
    destination lock) only after a resume, under a later snapshot: it holds a
    row whose parent came after the first snapshot. The foreign key is
    created NOT VALID, the stream brings the parent, then the key is
    validated; nothing waits on anything else."""
    child = ("CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent) "
             "PARTITION BY RANGE (id); "
             "CREATE TABLE child_1 PARTITION OF child FOR VALUES FROM (0) TO (1000000); "
             if partitioned else
             "CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent); ")
    source.sql("CREATE TABLE parent (id int PRIMARY KEY, pad text); " + child +
               "INSERT INTO parent SELECT i, repeat('p', 200) FROM generate_series(1, 20000) i; "
               "INSERT INTO child SELECT i, i FROM generate_series(1, 100) i")
    # One job, throttled: parent (the bigger table) is copied first and slowly.
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--jobs", "1", "--full-rps", "5000"])
    app.wait_phase("full", timeout=120)
    with dest.connect(autocommit=False, comparable=False) as locker:
        locker.execute("LOCK TABLE child IN ACCESS EXCLUSIVE MODE")
        deadline = time.monotonic() + 120
        while dest.one("SELECT count(*) FROM pgdts.table_sync WHERE task = 'it' "
                       "AND source_table = 'parent' AND state = 'copied'") == 0:
            assert time.monotonic() < deadline and app.alive(), app.log_tail()
            time.sleep(0.2)
        app.kill9()
        locker.rollback()
    source.sql("INSERT INTO parent VALUES (30001, 'late')")
    source.sql("INSERT INTO child VALUES (30001, 30001)")

    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--jobs", "1"])
    app.wait_phase("incremental", timeout=180)
    assert "event=foreign_keys_deferred" in app.logs(), app.log_tail()
    source.sql("INSERT INTO parent VALUES (30002, 'after'); INSERT INTO child VALUES (30002, 30002)")
    catch_up(source, dest, app)
    wait_foreign_keys_validated(dest, app)
    # (on a partitioned child, PostgreSQL refuses NOT VALID: the key is created then)
    assert dest.one("SELECT bool_and(convalidated) AND count(*) > 0 FROM pg_constraint "
                    "WHERE conname = 'child_parent_id_fkey'")
    assert "event=foreign_keys_validated" in app.logs()
    pgdts.assert_verified_equal(source, dest, "it")
    app.stop()


def test_conflict_precheck_names_the_existing_table(pgdts, source, dest):
    schema_fixture.create_schema(source)
    dest.sql("CREATE SCHEMA shop")
    dest.sql("CREATE TABLE shop.customers (id int)")
    r = pgdts.run(["sync", "--source", source.conninfo(), "--target", dest.conninfo(),
                   "--task", "it"], timeout=120)
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("pgdts: error:")]
    assert len(lines) == 1, r.stderr
    assert "shop.customers" in lines[0] and "already exists" in lines[0], lines[0]
    assert "--conflict ignore" in lines[0]
    # Nothing was created: the destination holds the one table it had.
    assert dest.one("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                    "('pg_catalog', 'information_schema', 'pgdts')") == 1


def test_conflict_ignore_keeps_destination_rows_until_the_source_changes_them(pgdts, source, dest):
    source.sql("CREATE TABLE public.kv (id int PRIMARY KEY, v text NOT NULL)")
    source.sql("INSERT INTO public.kv SELECT g, 'source ' || g FROM generate_series(1, 1000) g")
    dest.sql("CREATE TABLE public.kv (id int PRIMARY KEY, v text NOT NULL)")
    dest.sql("INSERT INTO public.kv VALUES (1, 'destination 1'), (2, 'destination 2'), "
             "(5000, 'destination only')")
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--conflict", "ignore", "--tables", "public.kv"])
    app.wait_phase("incremental", timeout=120)
    assert dest.sql("SELECT id, v FROM public.kv WHERE id IN (1, 2, 3, 5000) ORDER BY id") == [
        (1, "destination 1"), (2, "destination 2"), (3, "source 3"), (5000, "destination only")]
    assert dest.one("SELECT count(*) FROM public.kv") == 1001
    source.sql("UPDATE public.kv SET v = 'changed on source' WHERE id = 1")
    catch_up(source, dest, app)
    assert dest.sql("SELECT id, v FROM public.kv WHERE id IN (1, 2) ORDER BY id") == [
        (1, "changed on source"), (2, "destination 2")]
    app.stop()


def test_conflict_ignore_lets_an_incremental_insert_overwrite_the_row_with_its_key(pgdts, source, dest):
    """Rows the destination had before the task (keys 10..19) are overwritten
    by the source's INSERTs of those keys, one by one and in multi-row
    INSERTs alike; later changes of those rows replay as usual."""
    processes.run_on_both(source, dest, "CREATE TABLE public.kv (id int PRIMARY KEY, v text NOT NULL, n int)")
    dest.sql("INSERT INTO public.kv SELECT g, 'destination ' || g, -1 FROM generate_series(10, 19) g")
    app = pgdts.sync(source, dest, extra_args=["--conflict", "ignore"])
    source.sql("INSERT INTO public.kv VALUES (10, 'source 10', 10)")
    # One transaction of many rows: they are applied as multi-row INSERTs.
    source.sql("INSERT INTO public.kv SELECT g, 'source ' || g, g FROM generate_series(11, 19) g "
               "UNION ALL SELECT g, 'source ' || g, g FROM generate_series(100, 199) g")
    source.sql("UPDATE public.kv SET v = 'updated' WHERE id = 15")
    source.sql("DELETE FROM public.kv WHERE id = 16")
    catch_up(source, dest, app)
    app.stop()
    compare_rows.assert_tables_equal(source, dest, ["public.kv"])
    assert dest.sql("SELECT id, v, n FROM public.kv WHERE id BETWEEN 10 AND 17 ORDER BY id") == [
        (10, "source 10", 10), (11, "source 11", 11), (12, "source 12", 12), (13, "source 13", 13),
        (14, "source 14", 14), (15, "updated", 15), (17, "source 17", 17)]
    assert (app.last_count("batched_inserts") or 0) > 0, "the held INSERT path was not taken"
    # 109 rows in one transaction: written as one set, ON CONFLICT included
    assert (app.last_count("rows_in_sets") or 0) >= 100, "the INSERT set path was not taken"


def test_a_unique_index_on_not_null_columns_keys_a_table_without_a_primary_key(pgdts, source, dest):
    """No primary key, but a unique index on NOT NULL columns (and a wider
    one, and a partial one, which are not chosen): precheck names the index,
    sync makes it the replica identity, and UPDATEs and DELETEs replay."""
    source.sql("CREATE TABLE public.acct (region text NOT NULL, no int NOT NULL, note text, n int)")
    source.sql("CREATE UNIQUE INDEX acct_wide ON public.acct (region, no, n)")
    source.sql("CREATE UNIQUE INDEX acct_partial ON public.acct (no) WHERE n > 0")
    source.sql("CREATE UNIQUE INDEX acct_key ON public.acct (region, no)")
    source.sql("INSERT INTO public.acct SELECT 'eu', g, 'x', 0 FROM generate_series(1, 300) g")
    r = pgdts.run(["precheck", "--source", source.conninfo(), "--target", dest.conninfo(),
                   "--task", "it", "--tables", "public.acct"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'public.acct by acct_key' in r.stdout, r.stdout
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--tables", "public.acct"])
    app.wait_phase("incremental", timeout=120)
    assert source.one("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                      "WHERE i.indrelid = 'public.acct'::regclass AND i.indisreplident") == "acct_key"
    source.sql("UPDATE public.acct SET note = 'updated', n = no WHERE no <= 50")
    source.sql("DELETE FROM public.acct WHERE no > 250")
    catch_up(source, dest, app)
    app.stop()
    compare_rows.assert_tables_equal(source, dest, ["public.acct"])
    assert dest.one("SELECT count(*) FROM public.acct WHERE note = 'updated'") == 50
    assert dest.one("SELECT count(*) FROM public.acct") == 250
    assert "skipped_changes=0" in app.logs().split("event=shutdown")[-1]


def test_status_reports_the_finished_copy(pgdts, source, dest):
    source.sql("CREATE TABLE public.a (id int PRIMARY KEY)")
    source.sql("INSERT INTO public.a SELECT generate_series(1, 500)")
    app = pgdts.sync(source, dest, phases="schema,full", wait_ready=False)
    assert app.wait_exit(120) == 0, app.log_tail()
    r = pgdts.run(["status", "--target", dest.conninfo(), "--source", source.conninfo(),
                   "--task", "it", "--format", "json"])
    assert r.returncode == 0, r.stderr
    import json
    doc = json.loads(r.stdout)
    assert doc["phase"] == "copied"
    assert doc["full_sync"]["tables_total"] == 1 and doc["full_sync"]["tables_copied"] == 1
    assert doc["full_sync"]["rows_copied"] == 500
    # No task slot outlives a copy without the incremental phase.
    assert source.one("SELECT count(*) FROM pg_replication_slots") == 0
    text = pgdts.run(["status", "--target", dest.conninfo(), "--task", "it"])
    assert "1/1 tables copied, 500 rows" in text.stdout, text.stdout
