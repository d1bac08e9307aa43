"""Changing a running task's objects: a wider selection given to `pgdts sync`
adds tables (created, copied from a snapshot of their own, then streamed from
that snapshot's position, with no gap and no overlap); a narrower one stops
applying the left-out tables' changes and keeps them on the destination; a
kill -9 during an added table's copy resumes it."""

import json
import threading
import time

import compare_rows
import processes

PHASES = "schema,full,incremental"


class Writer:
    """Steady writes to the given tables until stopped."""

    def __init__(self, source, tables):
        self.source, self.tables, self.done = source, tables, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.n = 0

    def run(self):
        with self.source.connect() as conn, conn.cursor() as cur:
            while not self.done.is_set():
                self.n += 1
                for t in self.tables:
                    cur.execute(f"INSERT INTO {t} (id, v) VALUES (%s, 'live')", [1_000_000 + self.n])
                    cur.execute(f"UPDATE {t} SET v = 'touched' WHERE id = %s", [self.n % 500 + 1])
                time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(10)


def wait_added(app, timeout=120):
    """Until the run has copied the tables its selection added (the task's
    phase says incremental all along)."""
    deadline = time.monotonic() + timeout
    while "event=tables_added_copied" not in app.logs():
        assert app.alive(), app.log_tail()
        assert time.monotonic() < deadline, app.log_tail()
        time.sleep(0.2)


def make_tables(source, rows_b=2000):
    source.sql("CREATE TABLE public.a (id int PRIMARY KEY, v text)")
    source.sql("CREATE TABLE public.b (id int PRIMARY KEY, v text)")
    source.sql("INSERT INTO public.a SELECT g, 'a' FROM generate_series(1, 1000) g")
    source.sql(f"INSERT INTO public.b SELECT g, repeat('b', 200) FROM generate_series(1, {rows_b}) g")


def test_a_wider_selection_adds_a_table_under_writes(pgdts, source, dest):
    make_tables(source)
    first = pgdts.sync(source, dest, phases=PHASES, wait_ready=False, extra_args=["--tables", "public.a"])
    first.wait_phase("incremental", timeout=120)
    first.stop()
    assert dest.one("SELECT to_regclass('public.b') IS NULL")
    with Writer(source, ["public.a", "public.b"]):
        app = pgdts.sync(source, dest, phases=PHASES, wait_ready=False,
                         extra_args=["--tables", "public.a,public.b"])
        wait_added(app)
        time.sleep(1)   # writes go on while the stream hands b over
    processes.wait_caught_up(source, dest, app)
    pgdts.assert_verified_equal(source, dest, "it")
    status = pgdts.run(["status", "--target", dest.conninfo(), "--task", "it", "--format", "json"])
    tables = {t["source"]: t for t in json.loads(status.stdout)["full_sync"]["tables"]}
    assert tables["public.b"]["state"] == "copied", status.stdout
    app.stop()
    compare_rows.assert_tables_equal(source, dest, ["public.a", "public.b"])
    assert "event=table_added" in app.logs() and "table=public.b" in app.logs()


def test_the_stream_applies_the_other_tables_while_an_added_table_is_copied(pgdts, source, dest):
    """The added table's copy runs beside the stream: a row written to
    another table arrives while the copy is still going; a change of the
    added table made during its copy waits for it (the session stops there
    and resumes from the origin once the copy is done), and at the end
    every row is there once."""
    make_tables(source, rows_b=60000)
    first = pgdts.sync(source, dest, phases=PHASES, wait_ready=False, extra_args=["--tables", "public.a"])
    first.wait_phase("incremental", timeout=120)
    first.stop()
    app = pgdts.sync(source, dest, phases=PHASES, wait_ready=False,
                     extra_args=["--tables", "public.a,public.b", "--jobs", "1", "--full-rps", "8000"])
    deadline = time.monotonic() + 60
    while source.one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%public%b%'") == 0:
        assert time.monotonic() < deadline, app.log_tail()
        time.sleep(0.05)
    source.sql("INSERT INTO public.a VALUES (7001, 'during the copy')")
    deadline = time.monotonic() + 30
    while dest.one("SELECT count(*) FROM public.a WHERE id = 7001") == 0:
        assert time.monotonic() < deadline, app.log_tail()
        time.sleep(0.05)
    assert "event=tables_added_copied" not in app.logs(), "the copy was over before the row arrived"
    source.sql("UPDATE public.b SET v = 'during the copy' WHERE id <= 20")
    source.sql("INSERT INTO public.a VALUES (7002, 'after the b update')")
    wait_added(app)
    processes.wait_caught_up(source, dest, app, timeout=120)
    pgdts.assert_verified_equal(source, dest, "it")
    app.stop()
    compare_rows.assert_tables_equal(source, dest, ["public.a", "public.b"])
    assert dest.one("SELECT count(*) FROM public.b WHERE v = 'during the copy'") == 20
    assert app.events("stream_waits_for_added_tables"), app.log_tail()


def test_a_narrower_selection_stops_applying_and_keeps_the_table(pgdts, source, dest):
    make_tables(source)
    app = pgdts.sync(source, dest, phases=PHASES, wait_ready=False,
                     extra_args=["--tables", "public.a,public.b"])
    app.wait_phase("incremental", timeout=120)
    app.stop()
    narrower = pgdts.sync(source, dest, phases=PHASES, wait_ready=False, extra_args=["--tables", "public.a"])
    narrower.wait_phase("incremental", timeout=120)
    source.sql("INSERT INTO public.a VALUES (5001, 'after')")
    source.sql("INSERT INTO public.b VALUES (5001, 'after')")
    processes.wait_caught_up(source, dest, narrower)
    narrower.stop()
    assert dest.one("SELECT v FROM public.a WHERE id = 5001") == "after"
    assert dest.one("SELECT count(*) FROM public.b") == 2000      # kept, no longer fed
    assert dest.one("SELECT count(*) FROM public.b WHERE id = 5001") == 0
    assert "outside_task_changes=1" in narrower.logs()


def test_kill9_during_an_added_tables_copy_resumes_it(pgdts, source, dest):
    make_tables(source, rows_b=60000)
    first = pgdts.sync(source, dest, phases=PHASES, wait_ready=False, extra_args=["--tables", "public.a"])
    first.wait_phase("incremental", timeout=120)
    first.stop()
    slow = ["--tables", "public.a,public.b", "--jobs", "1", "--full-rps", "10000"]
    app = pgdts.sync(source, dest, phases=PHASES, wait_ready=False, extra_args=slow)
    deadline = time.monotonic() + 60
    while source.one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%public%b%'") == 0:
        assert time.monotonic() < deadline, app.log_tail()
        time.sleep(0.05)
    time.sleep(1)
    app.kill9()
    source.sql("UPDATE public.b SET v = 'after the kill' WHERE id <= 10")
    source.sql("INSERT INTO public.a VALUES (9001, 'after the kill')")
    again = pgdts.sync(source, dest, phases=PHASES, wait_ready=False,
                       extra_args=["--tables", "public.a,public.b"])
    again.wait_phase("incremental", timeout=180)
    processes.wait_caught_up(source, dest, again, timeout=120)
    pgdts.assert_verified_equal(source, dest, "it")
    again.stop()
    compare_rows.assert_tables_equal(source, dest, ["public.a", "public.b"])
    assert dest.one("SELECT count(*) FROM public.b WHERE v = 'after the kill'") == 10


def test_a_table_created_in_a_selected_schema_is_streamed_not_added_on_restart(pgdts, source, dest):
    """A table that joined through DDL is the task's already: a restart with
    the same selection neither refuses it (it exists on the destination) nor
    copies it again."""
    make_tables(source)
    app = pgdts.sync(source, dest, phases=PHASES, wait_ready=False, extra_args=["--schemas", "public"])
    app.wait_phase("incremental", timeout=120)
    source.sql("CREATE TABLE public.c (id int PRIMARY KEY, v text)")
    source.sql("INSERT INTO public.c VALUES (1, 'streamed')")
    processes.wait_caught_up(source, dest, app)
    app.stop()
    again = pgdts.sync(source, dest, phases=PHASES, wait_ready=False, extra_args=["--schemas", "public"])
    again.wait_phase("incremental", timeout=120)
    source.sql("INSERT INTO public.c VALUES (2, 'after restart')")
    processes.wait_caught_up(source, dest, again)
    again.stop()
    assert "event=table_added" not in again.logs(), again.log_tail()
    compare_rows.assert_tables_equal(source, dest, ["public.a", "public.b", "public.c"])


def test_a_keyless_table_added_with_replica_identity_full_gets_it_before_its_copy(pgdts, source, dest):
    make_tables(source)
    source.sql("CREATE TABLE public.k (n int, v text)")
    source.sql("INSERT INTO public.k SELECT g, 'k' FROM generate_series(1, 100) g")
    first = pgdts.sync(source, dest, phases=PHASES, wait_ready=False,
                       extra_args=["--tables", "public.a", "--replica-identity-full"])
    first.wait_phase("incremental", timeout=120)
    first.stop()
    assert source.one("SELECT relreplident FROM pg_class WHERE oid = 'public.k'::regclass") == "d"
    app = pgdts.sync(source, dest, phases=PHASES, wait_ready=False,
                     extra_args=["--tables", "public.a,public.k", "--replica-identity-full"])
    wait_added(app)
    assert source.one("SELECT relreplident FROM pg_class WHERE oid = 'public.k'::regclass") == "f"
    source.sql("UPDATE public.k SET v = 'updated' WHERE n <= 10")
    source.sql("DELETE FROM public.k WHERE n > 90")
    processes.wait_caught_up(source, dest, app)
    app.stop()
    compare_rows.assert_tables_equal(source, dest, ["public.a", "public.k"])
    assert dest.one("SELECT count(*) FROM public.k WHERE v = 'updated'") == 10


def relreplident(source, table):
    return source.one("SELECT relreplident FROM pg_class WHERE oid = %s::regclass", [table])


def test_a_keyless_table_created_later_gets_replica_identity_full_in_its_own_transaction(
        pgdts, source, dest):
    """--replica-identity-full keeps up with tables that join the task later
    without a key: the source's DDL capture sets FULL at the end of the
    creating command, so UPDATEs and DELETEs in that very transaction replay.
    A keyed table, a table outside the task's schemas and a table left
    keyless by an ALTER are each treated as they should be."""
    source.sql("CREATE SCHEMA other")
    make_tables(source)
    source.sql("CREATE TABLE public.keyed_later (id int PRIMARY KEY, v text)")
    app = pgdts.sync(source, dest, phases=PHASES, wait_ready=False,
                     extra_args=["--schemas", "public", "--replica-identity-full"])
    app.wait_phase("incremental", timeout=120)
    assert source.sql("SELECT task, replica_identity_full, schemas FROM pgdts.dts_task_setting") == \
        [("it", True, ["public"])]
    with source.connect() as conn:
        with conn.transaction():
            conn.execute("CREATE TABLE public.later (n int, v text)")
            conn.execute("INSERT INTO public.later SELECT g, 'new' FROM generate_series(1, 50) g")
            conn.execute("UPDATE public.later SET v = 'same txn' WHERE n <= 5")
            conn.execute("DELETE FROM public.later WHERE n > 45")
    source.sql("CREATE TABLE public.copied AS SELECT n, v FROM public.later")
    source.sql("CREATE TABLE other.outside (n int)")
    source.sql("CREATE TABLE public.pk_dropped (id int PRIMARY KEY, v text)")
    source.sql("INSERT INTO public.pk_dropped SELECT g, 'p' FROM generate_series(1, 20) g")
    source.sql("ALTER TABLE public.pk_dropped DROP CONSTRAINT pk_dropped_pkey")
    assert [relreplident(source, t) for t in
            ("public.later", "public.copied", "public.pk_dropped", "public.keyed_later",
             "other.outside")] == ["f", "f", "f", "d", "d"]
    source.sql("UPDATE public.later SET v = 'later txn' WHERE n BETWEEN 6 AND 10")
    source.sql("UPDATE public.copied SET v = 'ctas' WHERE n <= 3")
    source.sql("DELETE FROM public.pk_dropped WHERE id <= 4")
    source.sql("UPDATE public.pk_dropped SET v = 'q' WHERE id = 20")
    processes.wait_caught_up(source, dest, app)
    assert app.last_count("skipped_changes") in (None, 0), app.log_tail()
    app.stop()
    compare_rows.assert_tables_equal(
        source, dest, ["public.later", "public.copied", "public.pk_dropped"])
    assert dest.one("SELECT count(*) FROM public.later WHERE v = 'same txn'") == 5
    pgdts.assert_verified_equal(source, dest)
    released = pgdts.run(["release", "--source", source.conninfo(), "--target", dest.conninfo(),
                          "--task", "it"])
    assert released.returncode == 0, released.stderr
    assert source.sql("SELECT task FROM pgdts.dts_task_setting") == []
