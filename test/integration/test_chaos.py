"""Chaos: pgdts moves a pgbench database through schema, full and
incremental sync while pgbench keeps writing, and faults land at random
moments: SIGKILL of pgdts (started again each time), immediate shutdowns of
the source and of the destination (started again at once), and SIGSTOP of
pgdts' destination backends for longer than the source's
wal_sender_timeout (then SIGCONT). At the end every row is on the
destination exactly once: the four pgbench tables compared row by row
(pgbench_history has no key, so a transaction applied twice or lost shows)
and `pgdts verify` equal.

The short run is part of the default suite; the soak (50 kills, 10
shutdowns of each side, 10 SIGSTOPs) runs when asked:

    /usr/bin/python3 -m pytest test/integration/test_chaos.py -m soak -s

PGDTS_CHAOS_SEED=<n> replays a run's schedule (each run prints its seed and
counts)."""

import os
import random
import signal
import time

import pytest

from compare_rows import assert_tables_equal
from processes import pgbench_args, run_pgbench, wait_caught_up

PGBENCH_TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]
WAL_SENDER_TIMEOUT_S = 5
PHASES = "schema,full,incremental"


class Chaos:
    """One run: the clusters, pgdts, pgbench, and what was done to them."""

    def __init__(self, source, dest, pgdts, background, rnd):
        self.source, self.dest, self.pgdts, self.background = source, dest, pgdts, background
        self.rnd = rnd
        self.done = {"kill9": 0, "source_shutdown": 0, "destination_shutdown": 0, "sigstop": 0}
        self.app = self.start_pgdts()
        self.bench = None
        self.keep_pgbench_running()

    def start_pgdts(self):
        return self.pgdts.sync(self.source, self.dest, task="chaos", phases=PHASES,
                               wait_ready=False, extra_args=["--jobs", "2"])

    def keep_pgbench_running(self):
        """pgbench dies with the source's sessions; a new one takes over."""
        if self.bench is None or self.bench.poll() is not None:
            self.bench = self.background.start("pgbench", pgbench_args(
                self.source, "-n", "-c", "2", "-j", "1", "-R", "150", "-T", "3600"))

    def assert_pgdts_alive(self, before: str):
        assert self.app.alive(), (f"pgdts exited with status {self.app.proc.returncode} before "
                                  f"{before}; log tail:\n{self.app.log_tail()}")

    def kill9(self):
        self.app.kill9()
        self.app = self.start_pgdts()

    def source_shutdown(self):
        self.source.restart("immediate")

    def destination_shutdown(self):
        self.dest.restart("immediate")

    def sigstop(self):
        """Freeze every backend pgdts has on the destination for longer than
        wal_sender_timeout; pgdts may be between connections, so wait for
        one to appear."""
        deadline = time.monotonic() + 60
        while True:
            pids = [r[0] for r in self.dest.sql(
                "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'pgdts%%' "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")]
            if pids:
                break
            assert time.monotonic() < deadline, "pgdts held no destination session for 60 s"
            self.assert_pgdts_alive("a SIGSTOP")
            time.sleep(0.2)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(WAL_SENDER_TIMEOUT_S + self.rnd.uniform(1.0, 3.0))
        finally:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def run(self, faults: dict):
        schedule = [name for name, n in faults.items() for _ in range(n)]
        self.rnd.shuffle(schedule)
        for i, fault in enumerate(schedule):
            time.sleep(self.rnd.uniform(0.3, 3.0))
            self.assert_pgdts_alive(f"fault {i + 1} ({fault})")
            self.keep_pgbench_running()
            getattr(self, fault)()
            self.done[fault] += 1
        time.sleep(self.rnd.uniform(1.0, 3.0))

    def finish(self):
        """pgbench stopped, pgdts caught up and stopped: every row once."""
        if self.bench.poll() is None:
            # SIGTERM: pgbench's SIGINT only cancels a running query, and a
            # rate-limited client is mostly between queries
            self.bench.terminate()
            self.bench.wait(30)
        self.assert_pgdts_alive("the end")
        self.app.wait_phase("incremental", timeout=600)
        wait_caught_up(self.source, self.dest, self.app, timeout=600)
        self.app.stop(timeout=120)
        assert self.source.one("SELECT count(*) FROM pgbench_history") > 0, "pgbench wrote nothing"
        assert_tables_equal(self.source, self.dest, PGBENCH_TABLES)
        self.pgdts.assert_verified_equal(self.source, self.dest, "chaos")


@pytest.fixture
def chaos_clusters(make_cluster):
    src = make_cluster("src", "app", logical=True, extension=True,
                       conf={"wal_sender_timeout": f"{WAL_SENDER_TIMEOUT_S}s"})
    dst = make_cluster("dst", "app_copy")
    return src, dst


@pytest.fixture
def seeded(record_property):
    seed = int(os.environ.get("PGDTS_CHAOS_SEED") or random.randrange(1 << 30))
    print(f"chaos seed {seed}")
    record_property("chaos_seed", seed)
    return random.Random(seed), seed


def run_chaos(chaos_clusters, pgdts, background, seeded, record_property, scale, faults):
    source, dest = chaos_clusters
    rnd, seed = seeded
    run_pgbench(source, "-i", "-s", str(scale), "-q")
    chaos = Chaos(source, dest, pgdts, background, rnd)
    chaos.run(faults)
    chaos.finish()
    assert chaos.done == faults, chaos.done
    rows = source.one("SELECT count(*) FROM pgbench_history")
    print(f"chaos seed {seed}: {chaos.done}; {rows} pgbench transactions, every row once")
    record_property("chaos_faults", chaos.done)


def test_chaos_short_run_every_row_once(chaos_clusters, pgdts, background, seeded, record_property):
    run_chaos(chaos_clusters, pgdts, background, seeded, record_property, scale=2,
              faults={"kill9": 4, "source_shutdown": 1, "destination_shutdown": 1, "sigstop": 1})


@pytest.mark.soak
def test_chaos_soak_every_row_once(chaos_clusters, pgdts, background, seeded, record_property):
    run_chaos(chaos_clusters, pgdts, background, seeded, record_property, scale=10,
              faults={"kill9": 50, "source_shutdown": 10, "destination_shutdown": 10, "sigstop": 10})
