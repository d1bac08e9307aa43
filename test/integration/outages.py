"""What the outage tests share (test_retry, test_network_faults,
test_disk_full): two tables, one keyed and one not, written in batches or by
a writer thread while a fault lasts; the checks that nothing was lost or
applied twice, that a failed run left the task's position where it was,
that the next run resumes from it, and that the reason is on the error line
and in `pgdts status`."""

from __future__ import annotations

import json
import threading
import time

from compare_rows import assert_tables_equal
from processes import Applier, Cluster, Pgdts

TABLES = ["t", "h"]
# t has a key; h has none, so a row applied twice shows as an extra row.
DDL = "CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE h (id int, v text)"


def verify_equal(pgdts: Pgdts, source: Cluster, dest: Cluster, tables=TABLES) -> None:
    """The destination equals the source: pgdts verify says so (rows and
    metadata), and so does the harness' own row comparison."""
    pgdts.assert_verified_equal(source, dest, "it")
    assert_tables_equal(source, dest, tables)


def write_rows(source: Cluster, first: int, last: int) -> None:
    """Rows first..last into t and into h, one transaction each."""
    source.sql("INSERT INTO t SELECT i, 'v' || i FROM generate_series(%s::int, %s::int) i", [first, last])
    source.sql("INSERT INTO h SELECT i, 'h' || i FROM generate_series(%s::int, %s::int) i", [first, last])


class RowWriter:
    """Writes one row to t and one to h every `pause` s on the source, each
    in its own transaction, until stopped: changes committed while a fault
    lasts.  Ids count up from `first`; stop() returns the next one, so
    `stop() - first` rows went to each table."""

    def __init__(self, source: Cluster, first: int, pause: float = 0.05) -> None:
        self.source, self.next, self.pause = source, first, pause
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self.source.connect() as conn:
                while not self._stop.is_set():
                    conn.execute("INSERT INTO t VALUES (%s, 'w')", [self.next])
                    conn.execute("INSERT INTO h VALUES (%s, 'w')", [self.next])
                    self.next += 1
                    time.sleep(self.pause)
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(30)
        assert self.error is None, f"the writer failed: {self.error}"
        return self.next


def origin_lsn(dest: Cluster, task: str = "it") -> str:
    """The origin's position; 0/0 while nothing was ever committed (the
    failing rows may come before the first heartbeat is applied)."""
    return dest.one("SELECT coalesce(pg_replication_origin_progress(%s, false), '0/0')::text",
                    [f"pgdts_{task}"])


def assert_origin_before(dest: Cluster, lsn: str) -> str:
    """The task's position (the destination's origin) has not passed `lsn`,
    the source's WAL position just after the changes that could not be
    applied: the failure moved nothing. Returns the origin."""
    origin = origin_lsn(dest)
    assert dest.one("SELECT %s::pg_lsn < %s::pg_lsn", [origin, lsn]), (origin, lsn)
    return origin


def assert_resumes_from(app: Applier, origin: str, timeout: float = 60) -> None:
    """A new sync streams from the origin the failed run left."""
    deadline = time.monotonic() + timeout
    while "event=apply_started" not in app.logs():
        assert app.alive() and time.monotonic() < deadline, app.log_tail()
        time.sleep(0.1)
    assert f"event=apply_started task=it slot=dts_sync_it origin=pgdts_it start_lsn={origin}" \
        in app.logs(), app.log_tail()


def error_line(app: Applier) -> str:
    lines = [l for l in app.logs().splitlines() if l.startswith("pgdts: error:")]
    assert len(lines) == 1, f"expected one error line; log tail:\n{app.log_tail()}"
    return lines[0]


def status_text(pgdts: Pgdts, dest: Cluster, fmt: str | None = None) -> str:
    args = ["status", "--target", dest.conninfo(), "--task", "it"]
    if fmt:
        args += ["--format", fmt]
    r = pgdts.run(args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def assert_status_shows(pgdts: Pgdts, dest: Cluster, reason: str) -> None:
    text = status_text(pgdts, dest)
    assert "last error:    " in text and reason in text, text
    doc = json.loads(status_text(pgdts, dest, "json"))
    assert reason in (doc["last_error"] or ""), doc
