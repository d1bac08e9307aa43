"""A task past its copy depends on its replication slot: the changes since
the destination's position exist only there. When the slot is dropped, or
replaced by a slot of another plugin under the same name, while rows are
being written, sync stops (exit 1, one line saying what happened and how to
recover, the reason in `pgdts status`), and so does every later plain sync:
never a fresh slot that would skip the rows committed meanwhile.
`pgdts sync --resync` recovers: a new slot, every table compared with its
snapshot by key ranges and only the differing rows copied again (a table
without a key whole, when it differs), then the stream from that slot; every
row is equal at the end, rows that did not differ are not rewritten, and a
resync killed with -9 is finished by a plain sync. --resync refuses (exit 2)
when there is nothing to recover."""

import json
import threading
import time

import psycopg
import pytest

from compare_rows import assert_tables_equal
from processes import slot_row, tail, wait_caught_up

TABLES = ["t", "h"]
# t has a key; h has none, so a row copied twice shows as an extra row.
DDL = ("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE h (id int, v text);"
       "INSERT INTO t SELECT i, 'r' || i FROM generate_series(1, 200) i;"
       "INSERT INTO h SELECT i, 'r' || i FROM generate_series(1, 200) i")
PHASES = "schema,full,incremental"


class Writer:
    """Inserts a row into each table every 20 ms, in its own transactions,
    and now and then updates and deletes older rows of t (h has no key: its
    UPDATEs and DELETEs are not replayed), until stopped."""

    def __init__(self, source, first):
        self.source, self.next = source, first
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            with self.source.connect() as conn:
                while not self._stop.is_set():
                    n = self.next
                    conn.execute("INSERT INTO t VALUES (%s, 'w')", [n])
                    conn.execute("INSERT INTO h VALUES (%s, 'w')", [n])
                    if n % 10 == 0:
                        conn.execute("UPDATE t SET v = 'u' || %s WHERE id = %s", [n, n - 950])
                        conn.execute("DELETE FROM t WHERE id = %s", [n - 990])
                    self.next += 1
                    time.sleep(0.02)
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        assert self.error is None, f"writer failed: {self.error}"


def lose_slot(source, slot: str, replacement: str | None = None) -> None:
    """Ends the walsender reading the slot and drops the slot (retried while
    the walsender is still there); with replacement, a slot of that plugin
    takes its name in the same statement."""
    deadline = time.monotonic() + 30
    while True:
        source.sql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                   "WHERE slot_name = %s AND active_pid IS NOT NULL", [slot])
        try:
            if replacement:
                source.sql("SELECT pg_drop_replication_slot(%s), "
                           "pg_create_logical_replication_slot(%s, %s)", [slot, slot, replacement])
            else:
                source.sql("SELECT pg_drop_replication_slot(%s)", [slot])
            return
        except psycopg.errors.ObjectInUse:
            assert time.monotonic() < deadline, f"slot {slot} stayed in use"
            time.sleep(0.02)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("pgdts: error:")]


def sync_args(source, dest, *extra) -> list[str]:
    return ["sync", "--source", source.conninfo(), "--target", dest.conninfo(), "--task", "it",
            "--phases", PHASES, *extra]


@pytest.mark.parametrize("replacement", [None, "test_decoding"])
def test_lost_slot_stops_sync_until_resync_recopies_every_row(source, dest, pgdts, replacement):
    source.sql(DDL)
    app = pgdts.sync(source, dest, "it", phases=PHASES)
    app.wait_phase("incremental")
    writer = Writer(source, 1001)
    time.sleep(1)
    lose_slot(source, app.slot, replacement)

    # The running sync stops at its next connection: exit 1, one line.
    assert app.wait_exit(60) == 1, app.log_tail()
    lines = error_lines(app.logs())
    assert len(lines) == 1, app.log_tail()
    expected = "is now a slot of output plugin \"test_decoding\"" if replacement else "no longer exists"
    for part in (expected, app.slot, "pgdts sync --resync --task it"):
        assert part in lines[0], lines[0]
    if replacement:
        assert "pg_drop_replication_slot('dts_sync_it')" in lines[0], lines[0]

    # While stopped, pgdts status shows the reason.
    status = pgdts.run(["status", "--target", dest.conninfo(), "--task", "it", "--format", "json"])
    assert status.returncode == 0, status.stderr
    assert expected in json.loads(status.stdout)["last_error"], status.stdout
    text = pgdts.run(["status", "--target", dest.conninfo(), "--task", "it"])
    assert "--resync" in text.stdout, text.stdout

    # Rows keep coming; a plain sync refuses again, and creates no slot.
    time.sleep(1)
    again = pgdts.run(sync_args(source, dest), timeout=60)
    assert again.returncode == 1, f"{tail(again.stdout)}\n{tail(again.stderr)}"
    assert len(error_lines(again.stderr)) == 1 and expected in again.stderr, again.stderr
    slot = slot_row(source, app.slot)
    if replacement:
        assert slot is not None, "the other plugin's slot was dropped by pgdts"
        assert source.one("SELECT plugin FROM pg_replication_slots WHERE slot_name = %s",
                          [app.slot]) == replacement
        # --resync does not drop another plugin's slot either.
        refused = pgdts.run(sync_args(source, dest, "--resync"), timeout=60)
        assert refused.returncode == 1 and "pg_drop_replication_slot" in refused.stderr, \
            refused.stderr
        source.sql("SELECT pg_drop_replication_slot(%s)", [app.slot])  # as the line says
    else:
        assert slot is None, f"a fresh slot was created: {slot}"

    # The recovery: every table compared with a new slot, what differs copied
    # again, then streamed.
    resync = pgdts.sync(source, dest, "it", ["--resync"], phases=PHASES)
    resync.wait_phase("incremental", timeout=120)
    time.sleep(1)
    writer.stop()
    wait_caught_up(source, dest, resync, timeout=120)
    assert_tables_equal(source, dest, TABLES)
    pgdts.assert_verified_equal(source, dest, "it")
    assert "resync_started" in resync.logs() and resync.events("resync_finished"), \
        resync.log_tail()
    assert "table_emptied_for_recopy" not in resync.logs(), resync.log_tail()
    resync.stop()

    # Healthy again: a plain sync resumes, and --resync refuses (exit 2).
    healthy = pgdts.run(sync_args(source, dest, "--resync"), timeout=60)
    assert healthy.returncode == 2, f"{tail(healthy.stdout)}\n{tail(healthy.stderr)}"
    assert len(error_lines(healthy.stderr)) == 1 and "healthy" in healthy.stderr, healthy.stderr
    source.sql("INSERT INTO t VALUES (100000, 'after'); INSERT INTO h VALUES (100000, 'after')")
    app = pgdts.sync(source, dest, "it", phases=PHASES)
    wait_caught_up(source, dest, app)
    assert_tables_equal(source, dest, TABLES)
    app.stop()


def test_resync_of_a_task_that_never_streamed_is_refused_with_exit_2(source, dest, pgdts):
    source.sql(DDL)
    r = pgdts.run(sync_args(source, dest, "--resync"), timeout=60)
    assert r.returncode == 2, f"{tail(r.stdout)}\n{tail(r.stderr)}"
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and "no slot to recover" in lines[0], r.stderr
    assert slot_row(source, "dts_sync_it") is None


def test_slot_dropped_while_stopped_is_not_replaced_by_a_fresh_one(source, dest, pgdts):
    """The reported case: the sync had stopped; the slot was dropped; the
    next sync must not create a fresh slot (rows committed meanwhile would
    never arrive)."""
    source.sql(DDL)
    app = pgdts.sync(source, dest, "it", phases=PHASES)
    app.wait_phase("incremental")
    wait_caught_up(source, dest, app)
    app.stop()
    source.sql("INSERT INTO t VALUES (5000, 'while stopped')")
    source.sql("SELECT pg_drop_replication_slot('dts_sync_it')")
    r = pgdts.run(sync_args(source, dest), timeout=60)
    assert r.returncode == 1, f"{tail(r.stdout)}\n{tail(r.stderr)}"
    assert len(error_lines(r.stderr)) == 1 and "--resync" in r.stderr, r.stderr
    assert slot_row(source, "dts_sync_it") is None
    # The old way, kept as an option: every table emptied and copied whole.
    resync = pgdts.sync(source, dest, "it", ["--resync", "--copy-all"], phases=PHASES)
    resync.wait_phase("incremental", timeout=120)
    wait_caught_up(source, dest, resync)
    assert_tables_equal(source, dest, TABLES)
    assert len(resync.events("table_emptied_for_recopy")) == len(TABLES), resync.log_tail()
    assert not resync.events("resync_table"), resync.log_tail()
    resync.stop()


# Several tables in ranges of RANGE_ROWS keys: a and b keyed (b left alone on
# the source), p partitioned, h without a key.
RANGE_ROWS = 100
GAP_DDL = ("CREATE TABLE a (id int PRIMARY KEY, v text);"
           "CREATE TABLE b (id int PRIMARY KEY, v text);"
           "CREATE TABLE h (id int, v text);"
           "CREATE TABLE p (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);"
           "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (501);"
           "CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (501) TO (1001);"
           "INSERT INTO a SELECT i, 'r' || i FROM generate_series(1, 1000) i;"
           "INSERT INTO b SELECT i, 'r' || i FROM generate_series(1, 1000) i;"
           "INSERT INTO p SELECT i, 'r' || i FROM generate_series(1, 1000) i;"
           "INSERT INTO h SELECT i, 'r' || i FROM generate_series(1, 200) i")
GAP_TABLES = ["a", "b", "h", "p1", "p2"]
RESYNC_ENV = {"PGDTS_TEST_RESYNC_RANGE_ROWS": str(RANGE_ROWS)}


def xmins(cluster, table: str) -> dict[int, str]:
    return dict(cluster.sql(f"SELECT id, xmin::text FROM {table}"))


def rewritten(before: dict[int, str], after: dict[int, str]) -> set[int]:
    """Keys whose row is new, gone or written again (another xmin)."""
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def summary(app, table: str) -> dict[str, str]:
    lines = [ln for ln in app.events("resync_summary") if f" table=public.{table} " in ln + " "]
    assert len(lines) == 1, app.log_tail()
    return dict(f.split("=", 1) for f in lines[0].split() if "=" in f)


def synced_then_slot_lost(source, dest, pgdts, ddl):
    source.sql(ddl)
    app = pgdts.sync(source, dest, "it", phases=PHASES)
    app.wait_phase("incremental")
    wait_caught_up(source, dest, app)
    app.stop()
    lose_slot(source, app.slot)


def test_resync_rewrites_only_the_rows_that_differ(source, dest, pgdts):
    synced_then_slot_lost(source, dest, pgdts, GAP_DDL)
    # While the slot is lost the source goes on (b untouched, p only in
    # p1) and someone writes on the destination too.
    source.sql("UPDATE a SET v = 'gap' WHERE id BETWEEN 10 AND 20; DELETE FROM a WHERE id = 500;"
               "INSERT INTO a VALUES (2000, 'new'); UPDATE p SET v = 'gap' WHERE id IN (3, 250);"
               "DELETE FROM p WHERE id = 400; INSERT INTO h VALUES (201, 'gap');"
               "DELETE FROM h WHERE id = 7")
    dest.sql("UPDATE a SET v = 'dest' WHERE id = 900; DELETE FROM b WHERE id = 700;"
             "INSERT INTO h VALUES (999, 'dest only')")
    before = {t: xmins(dest, t) for t in ("a", "b", "p1", "p2")}

    resync = pgdts.sync(source, dest, "it", ["--resync"], phases=PHASES, env=RESYNC_ENV)
    resync.wait_phase("incremental", timeout=120)
    source.sql("UPDATE a SET v = 'after' WHERE id = 1")  # streamed from the new slot
    wait_caught_up(source, dest, resync)
    resync.stop()
    assert_tables_equal(source, dest, GAP_TABLES + ["p"])

    after = {t: xmins(dest, t) for t in ("a", "b", "p1", "p2")}
    assert rewritten(before["a"], after["a"]) == set(range(10, 21)) | {1, 500, 900, 2000}
    assert rewritten(before["b"], after["b"]) == {700}
    assert rewritten(before["p1"], after["p1"]) == {3, 250, 400}
    assert rewritten(before["p2"], after["p2"]) == set()

    # The summary says the same, per table: ranges compared and recopied.
    a, b, p2, h = (summary(resync, t) for t in ("a", "b", "p2", "h"))
    assert int(a["ranges"]) == 1000 // RANGE_ROWS + 1, a
    assert (a["ranges_recopied"], a["rows_copied"], a["rows_deleted"]) == ("4", "13", "13"), a
    assert (b["ranges_recopied"], b["rows_copied"], b["rows_deleted"]) == ("1", "1", "0"), b
    assert (p2["ranges_recopied"], p2["rows_copied"]) == ("0", "0"), p2
    assert (h["method"], h["ranges_recopied"], h["rows_copied"]) == ("whole_table", "1", "200"), h
    assert resync.events("resync_finished"), resync.log_tail()


def test_resync_killed_half_way_is_finished_by_a_plain_sync(source, dest, pgdts):
    rows = 40000
    synced_then_slot_lost(source, dest, pgdts,
                          "CREATE TABLE a (id int PRIMARY KEY, v text);"
                          f"INSERT INTO a SELECT i, 'r' || i FROM generate_series(1, {rows}) i")
    # Every range differs: a row in ten changed.
    source.sql("UPDATE a SET v = 'gap' WHERE id % 10 = 0")
    env = {"PGDTS_TEST_RESYNC_RANGE_ROWS": "50"}
    resync = pgdts.sync(source, dest, "it", ["--resync"], phases=PHASES, env=env)
    deadline = time.monotonic() + 120
    while dest.one("SELECT count(*) FROM a WHERE v = 'gap'") < 50:
        assert resync.alive() and time.monotonic() < deadline, resync.log_tail()
        time.sleep(0.05)
    resync.kill9()
    repaired = dest.one("SELECT count(*) FROM a WHERE v = 'gap'")
    assert repaired < rows // 10, "the resync was done before it could be killed"
    # Each range of 50 keys is either as it was or repaired, never half.
    halves = dest.sql("SELECT (id - 1) / 50, count(*) FILTER (WHERE v = 'gap') FROM a "
                      "WHERE id % 10 = 0 GROUP BY 1 HAVING count(*) FILTER (WHERE v = 'gap') "
                      "NOT IN (0, 5)")
    assert halves == [], halves
    assert dest.one("SELECT phase FROM pgdts.task WHERE task = 'it'") == "full"

    source.sql("UPDATE a SET v = 'later' WHERE id = 3")  # after the first snapshot
    again = pgdts.sync(source, dest, "it", phases=PHASES, env=env)
    again.wait_phase("incremental", timeout=120)
    wait_caught_up(source, dest, again)
    assert_tables_equal(source, dest, ["a"])
    again.stop()
