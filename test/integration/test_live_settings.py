"""Incremental throttling (--incr-rps) and throttles changed while pgdts sync
runs: SIGHUP reads the --config file again, the new limit takes effect and
shows in pgdts status.

The throttle assertions bound the applied count from above (never faster than
the limit allows, whatever the machine); none asserts a minimum speed."""

import json
import signal
import time

import urllib.request

from compare_rows import assert_tables_equal
from processes import free_port, wait_caught_up

BURST = 200  # a tenth of a second of tokens, the open group and timing slack


def dest_count(dest) -> int:
    return dest.one("SELECT count(*) FROM t")


def status_json(pgdts, dest, task="it") -> dict:
    r = pgdts.run(["status", "--target", dest.conninfo(), "--task", task, "--format", "json"])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def metric(port: int, name: str) -> str | None:
    """The value of an unlabelled-but-task series `name{task="it"}`, as text."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + '{task="it"}'):
                return line.split()[-1]
    return None


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_incr_rps_limits_the_apply_rate_and_sighup_changes_it(source, dest, pgdts, tmp_path):
    for c in (source, dest):
        c.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    config = tmp_path / "task.ini"
    config.write_text("incr-rps = 100\n")
    port = free_port()
    app = pgdts.sync(source, dest, extra_args=["--config", str(config), "--metrics-port", str(port)])
    assert metric(port, "pgdts_incr_rps_limit") == "100"
    wait_for(lambda: status_json(pgdts, dest).get("throttles") == "incr-rps 100", 30,
             "the throttle in status")

    source.sql("INSERT INTO t SELECT i, 'v' FROM generate_series(1, 3000) i")
    first = None
    for _ in range(10):
        n = dest_count(dest)
        now = time.monotonic()
        if n > 0 and first is None:
            first = now
        if first is not None:
            # Never faster than 100 changes per second since the first row.
            assert n <= 100 * (now - first) + BURST, (n, now - first)
        time.sleep(0.5)
    assert dest_count(dest) < 3000, "3000 changes at 100/s cannot be applied in 5 s"

    config.write_text("incr-rps = 1000000\n")
    app.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "throttles_changed" in app.logs(), 30, "the reload to be logged")
    assert app.alive(), app.log_tail()
    # At 100/s the rest would take about 25 s more; lifted, it drains now.
    wait_caught_up(source, dest, app, timeout=60)
    assert dest_count(dest) == 3000
    s = status_json(pgdts, dest)
    assert s["throttles"] == "incr-rps 1000000", s
    assert float(metric(port, "pgdts_incr_rps_limit")) == 1e6
    app.stop()
    assert_tables_equal(source, dest, ["t"])


def test_a_bad_config_file_on_sighup_keeps_the_limits(source, dest, pgdts, tmp_path):
    for c in (source, dest):
        c.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    config = tmp_path / "task.ini"
    config.write_text("incr-mbps = 5\n")
    app = pgdts.sync(source, dest, extra_args=["--config", str(config), "--incr-rps", "50000"])
    config.write_text("incr-mbps = fast\n")
    app.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload_failed" in app.logs(), 30, "the refused reload to be logged")
    assert app.alive(), app.log_tail()
    source.sql("INSERT INTO t VALUES (1, 'still applying')")
    wait_caught_up(source, dest, app)
    assert dest.one("SELECT v FROM t WHERE id = 1") == "still applying"
    assert status_json(pgdts, dest)["throttles"] == "incr-rps 50000, incr-mbps 5"
    app.stop()


def test_status_shows_applied_and_skipped_changes(source, dest, pgdts):
    for c in (source, dest):
        c.sql("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE nokey (v text)")
    app = pgdts.sync(source, dest)
    source.sql("INSERT INTO t SELECT i, 'v' FROM generate_series(1, 40) i")
    source.sql("INSERT INTO nokey VALUES ('a'); UPDATE nokey SET v = 'b'")
    wait_caught_up(source, dest, app)
    # The session stores its figures every 10 s.
    s = wait_for(lambda: (lambda j: j if (j.get("applied_changes") or 0) >= 41 else None)(
        status_json(pgdts, dest)), 30, "applied changes in status")
    assert s["skipped_changes"] == 1, s
    assert s["throttles"] == "none"
    text = pgdts.run(["status", "--target", dest.conninfo(), "--task", "it"]).stdout
    assert "applied:" in text and "1 skipped" in text, text
    app.stop()
