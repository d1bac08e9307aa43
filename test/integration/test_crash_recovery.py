"""Exactly once across crashes: the applier killed with SIGKILL at random
moments under pgbench load, the destination and the source crash-restarted
(`pg_ctl restart -m immediate`) while the applier runs.  At the end every
pgbench table is equal on both sides, row by row: pgbench_history has no key,
so a transaction applied twice or lost shows as a count or content
difference.

Both sides start from `pgbench -i -s 1`, whose data is deterministic, before
the applier creates its slot; pgbench_history has no primary key on either
side (INSERT-only, which needs none)."""

import random
import signal
import subprocess
import time

import pytest

from compare_rows import assert_tables_equal
from processes import pgbench_args, run_pgbench, wait_caught_up

PGBENCH_TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]


@pytest.fixture
def rnd(record_property):
    seed = random.randrange(1 << 30)
    print(f"random seed {seed}")
    record_property("random_seed", seed)
    return random.Random(seed)


def _init_pgbench(source, dest):
    for cluster in (source, dest):
        run_pgbench(cluster, "-i", "-s", "1", "-q")


def _start_pgbench(background, source, seconds=600):
    return background.start("pgbench", pgbench_args(source, "-n", "-c", "4", "-j", "2",
                                                     "-T", str(seconds)))


def _stop(proc, timeout=30):
    """pgbench's SIGINT only cancels the query its clients run at that
    moment; one that arrives between queries changes nothing (seen on a
    loaded machine): SIGTERM then ends it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.terminate()
    proc.wait(timeout)


def _assert_pgbench_equal(source, dest):
    q = ("SELECT (SELECT count(*) FROM pgbench_history), (SELECT sum(delta) FROM pgbench_history), "
         "(SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers), "
         "(SELECT sum(bbalance) FROM pgbench_branches)")
    src, dst = source.sql(q)[0], dest.sql(q)[0]
    assert src[0] > 0, "pgbench wrote nothing"
    assert dst == src, (f"history rows, sum(delta), sum(abalance), sum(tbalance), sum(bbalance): "
                        f"destination {dst} != source {src}")
    assert_tables_equal(source, dest, PGBENCH_TABLES)


def _wait_until_writing(dest, app, table, timeout=120):
    """Until the applier's destination session is inside a transaction
    writing `table` (or the table already has rows: it was quick)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        writing = dest.one("SELECT count(*) FROM pg_stat_activity WHERE datname = 'app_copy' "
                           "AND backend_xid IS NOT NULL AND query ILIKE %s "
                           "AND pid <> pg_backend_pid()", [f"%{table}%"])
        if writing or dest.one(f"SELECT count(*) FROM {table}"):
            return
        assert app.alive(), f"applier exited early; log tail:\n{app.log_tail()}"
        time.sleep(0.05)


def test_applier_killed_repeatedly_applies_every_row_exactly_once(source, dest, pgdts, background, rnd):
    _init_pgbench(source, dest)
    app = pgdts.sync(source, dest, task="crash")
    bench = _start_pgbench(background, source)
    for i in range(10):
        time.sleep(rnd.uniform(0.2, 3.0))
        assert app.alive(), (f"applier exited with status {app.proc.returncode} before kill {i + 1}; "
                             f"log tail:\n{app.log_tail()}")
        app.kill9()
        app = pgdts.sync(source, dest, task="crash")
    time.sleep(rnd.uniform(0.5, 2.0))
    assert bench.poll() is None, f"pgbench stopped early:\n{background.output(bench)[-2000:]}"
    _stop(bench)
    wait_caught_up(source, dest, app, timeout=120)
    app.stop()
    _assert_pgbench_equal(source, dest)


def test_applier_killed_inside_a_large_transaction_applies_it_exactly_once(source, dest, pgdts):
    """SIGKILL while the destination is in the middle of a 300,000-row
    transaction: nothing of it is committed there, and after a restart all of
    it is, once."""
    for c in (source, dest):
        c.sql("CREATE TABLE big (id bigint PRIMARY KEY, payload text); CREATE TABLE hist (n int, note text)")
    app = pgdts.sync(source, dest, task="crash")
    source.sql("INSERT INTO hist VALUES (1, 'before')")
    source.sql("INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, 300000) i")
    source.sql("INSERT INTO hist VALUES (2, 'after')")
    _wait_until_writing(dest, app, "big")
    app.kill9()
    partial = dest.one("SELECT count(*) FROM big")
    assert partial in (0, 300000), f"a partly applied transaction is visible: {partial} rows"
    app = pgdts.sync(source, dest, task="crash")
    wait_caught_up(source, dest, app, timeout=180)
    app.stop()
    assert_tables_equal(source, dest, ["big", "hist"])


def test_sigterm_inside_a_large_transaction_stops_cleanly_and_resumes(source, dest, pgdts):
    """SIGTERM while a 300,000-row transaction is being applied: exit 0 in
    bounded time, the destination has all of it or none, and a restart
    completes it once."""
    for c in (source, dest):
        c.sql("CREATE TABLE big (id bigint PRIMARY KEY, payload text)")
    app = pgdts.sync(source, dest, task="crash")
    source.sql("INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, 300000) i")
    _wait_until_writing(dest, app, "big")
    app.stop(timeout=120)
    assert dest.one("SELECT count(*) FROM big") in (0, 300000), "a partly applied transaction is visible"
    app = pgdts.sync(source, dest, task="crash")
    wait_caught_up(source, dest, app, timeout=180)
    app.stop()
    assert_tables_equal(source, dest, ["big"])


def test_applier_reconnects_after_destination_restart(source, dest, pgdts, background, rnd):
    _init_pgbench(source, dest)
    app = pgdts.sync(source, dest, task="crash")
    bench = _start_pgbench(background, source)
    for _ in range(2):
        time.sleep(rnd.uniform(2.0, 5.0))
        dest.restart("immediate")
    time.sleep(rnd.uniform(2.0, 4.0))
    _stop(bench)
    wait_caught_up(source, dest, app, timeout=150)
    assert app.alive()
    app.stop()
    _assert_pgbench_equal(source, dest)


def test_applier_reconnects_after_source_restart(source, dest, pgdts, background, rnd):
    """The source crashes under load (pgbench's sessions die with it); the
    slot's confirmed position may move back to the last checkpoint, so the
    applier gets transactions again that it already applied: the
    destination's origin position must skip them."""
    _init_pgbench(source, dest)
    app = pgdts.sync(source, dest, task="crash")
    bench = _start_pgbench(background, source)
    time.sleep(rnd.uniform(3.0, 6.0))
    source.restart("immediate")
    bench.wait(30)                       # its connections are gone
    bench = _start_pgbench(background, source, seconds=5)
    bench.wait(60)
    assert bench.returncode == 0, f"pgbench after the restart failed:\n{background.output(bench)[-2000:]}"
    wait_caught_up(source, dest, app, timeout=150)
    assert app.alive()
    app.stop()
    _assert_pgbench_equal(source, dest)


def test_sync_stopped_with_sigint_resumes_without_loss_or_duplicates(source, dest, pgdts):
    """A clean stop (SIGINT), changes made while nothing runs, a start with
    the same task: the destination gets each of them once."""
    for c in (source, dest):
        c.sql("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE hist (n int, note text)")
    app = pgdts.sync(source, dest, task="resume")
    source.sql("INSERT INTO t SELECT i, 'first' FROM generate_series(1, 100) i")
    source.sql("INSERT INTO hist SELECT i, 'first' FROM generate_series(1, 100) i")
    wait_caught_up(source, dest, app)
    app.stop(sig=signal.SIGINT)

    source.sql("UPDATE t SET v = 'while stopped' WHERE id <= 50")
    source.sql("DELETE FROM t WHERE id > 90")
    source.sql("INSERT INTO hist SELECT i, 'while stopped' FROM generate_series(1, 100) i")

    app = pgdts.sync(source, dest, task="resume")
    source.sql("INSERT INTO hist SELECT i, 'after restart' FROM generate_series(1, 100) i")
    wait_caught_up(source, dest, app)
    app.stop(sig=signal.SIGINT)
    assert_tables_equal(source, dest, ["t", "hist"])
    assert dest.one("SELECT count(*) FROM hist") == 300
