"""`pgdts sync --metrics-port` serves Prometheus metrics while the task runs;
`--alert-command` gets one JSON event on stdin when the task fails, recovers,
or its latency stays above `--alert-latency` and comes back under it."""

import json
import re
import socket
import time
import urllib.error
import urllib.request

from compare_rows import assert_tables_equal
from processes import free_port, run_on_both, wait_caught_up

# ---------------------------------------------------------------------------
# helpers of this module

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_ISO8601 = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')


class Metrics:
    """One scrape, parsed: every sample line must be well formed and belong
    to a family announced by # HELP and # TYPE lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.types: dict[str, str] = {}
        self.helps: set[str] = set()
        self.samples: dict[tuple[str, frozenset], float] = {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                self.helps.add(line.split(" ")[2])
            elif line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                assert kind in ("counter", "gauge"), line
                self.types[name] = kind
            else:
                m = _SAMPLE.match(line)
                assert m, f"not a sample line: {line!r}"
                assert m.group(1) in self.types and m.group(1) in self.helps, \
                    f"{m.group(1)} has no # HELP / # TYPE line"
                labels = frozenset(_LABEL.findall(m.group(2) or ""))
                self.samples[(m.group(1), labels)] = float(m.group(3))

    def get(self, name: str, **labels) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))


def scrape(port: int) -> Metrics:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), \
            r.headers["Content-Type"]
        return Metrics(r.read().decode())


def wait_for_metrics(app, port: int, want: dict, timeout: float = 60) -> Metrics:
    """Scrapes until every (name, labels) in `want` has its value (a number,
    or a callable that accepts it). The session publishes once a second."""
    deadline = time.monotonic() + timeout
    while True:
        m = scrape(port)
        missing = []
        for (name, labels), expected in want.items():
            got = m.get(name, **dict(labels))
            ok = got is not None and (expected(got) if callable(expected) else got == expected)
            if not ok:
                missing.append(f"{name}{dict(labels)} = {got}")
        if not missing:
            return m
        assert app.alive(), f"pgdts sync exited; log tail:\n{app.log_tail()}"
        assert time.monotonic() < deadline, \
            f"metrics not as expected: {missing}\nscrape:\n{m.text}"
        time.sleep(0.5)


def key(name: str, **labels) -> tuple[str, tuple]:
    return (name, tuple(sorted(labels.items())))


def read_events(path) -> list[dict]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_for_event(app, path, event: str, timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        events = read_events(path)
        if any(e["event"] == event for e in events):
            return events
        assert time.monotonic() < deadline, \
            f"no {event} event in {path} ({events}); log tail:\n{app.log_tail()}"
        time.sleep(0.2)


def count_in_log(app, needle: str) -> int:
    return app.logs().count(needle)


def alert_command(path) -> list[str]:
    """A shell line that appends the event (one JSON line) to path."""
    return ["--alert-command", f"cat >> '{path}'"]


def check_event_fields(e: dict, task: str = "it") -> None:
    assert set(e) == {"task", "event", "at", "message", "latency_seconds", "phase"}, e
    assert e["task"] == task, e
    assert _ISO8601.match(e["at"]), e
    assert isinstance(e["message"], str) and e["message"], e
    assert e["latency_seconds"] is None or e["latency_seconds"] >= 0, e


# ---------------------------------------------------------------------------
# metrics

def test_metrics_count_applied_changes_per_table_and_operation(source, dest, pgdts):
    run_on_both(source, dest, """
        CREATE TABLE a (id int PRIMARY KEY, v text);
        CREATE TABLE b (id int PRIMARY KEY, v text);
        CREATE TABLE nokey (id int, v text)""")
    port = free_port()
    app = pgdts.sync(source, dest, extra_args=["--metrics-port", str(port), "--incr-rps", "100000"])
    with source.connect() as conn:           # autocommit: one transaction each
        conn.execute("INSERT INTO a SELECT i, 'x' FROM generate_series(1, 40) i")
        for i in range(1, 11):               # successive UPDATEs of rows: merged or not, counted
            conn.execute("UPDATE a SET v = 'y' WHERE id = %s", (i % 3 + 1,))
        conn.execute("DELETE FROM a WHERE id > 35")
        for i in range(1, 8):
            conn.execute("INSERT INTO b VALUES (%s, 'b')", (i,))
        conn.execute("INSERT INTO nokey VALUES (1, 'n'), (2, 'n'), (3, 'n')")
        conn.execute("UPDATE nokey SET v = 'm' WHERE id = 1")   # no identity: skipped
        conn.execute("DELETE FROM nokey WHERE id = 2")          # skipped
    wait_caught_up(source, dest, app)

    changes = "pgdts_applied_changes_total"
    m = wait_for_metrics(app, port, {
        key(changes, task="it", table="public.a", op="insert"): 40,
        key(changes, task="it", table="public.a", op="update"): 10,
        key(changes, task="it", table="public.a", op="delete"): 5,
        key(changes, task="it", table="public.b", op="insert"): 7,
        key(changes, task="it", table="public.nokey", op="insert"): 3,
        key("pgdts_skipped_changes_total", task="it", table="public.nokey"): 2,
        key("pgdts_applied_bytes_total", task="it", table="public.a"): lambda v: v > 0,
        key("pgdts_applied_transactions_total", task="it"): lambda v: v >= 22,
        key("pgdts_phase", task="it", phase="incremental"): 1,
        key("pgdts_phase", task="it", phase="full"): 0,
        key("pgdts_latency_seconds", task="it"): lambda v: v >= 0,
        key("pgdts_applied_lsn", task="it"): lambda v: v > 0,
        key("pgdts_source_lsn", task="it"): lambda v: v > 0,
        # polled on its own connection every 15 s, the first time 2 s after the task started
        key("pgdts_wal_retained_bytes", task="it"): lambda v: v >= 0,
        key("pgdts_incr_rps_limit", task="it"): 100000,
        key("pgdts_task_failing", task="it"): 0,
    })
    assert m.get(changes, task="it", table="public.nokey", op="update") is None
    assert m.types["pgdts_applied_changes_total"] == "counter"
    assert m.types["pgdts_latency_seconds"] == "gauge"
    assert m.get("pgdts_full_qps_limit", task="it") is None, "an unset limit has no series"
    assert m.get("pgdts_applied_lsn", task="it") <= m.get("pgdts_source_lsn", task="it")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=10)
        raise AssertionError("/other was served")
    except urllib.error.HTTPError as e:
        assert e.code == 404
    app.stop()
    assert_tables_equal(source, dest, ["a", "b"])


def test_metrics_show_rows_copied_per_table_by_the_full_sync(source, dest, pgdts):
    source.sql("""
        CREATE TABLE big (id int PRIMARY KEY, v text);
        CREATE TABLE small (id int PRIMARY KEY, v text);
        INSERT INTO big SELECT i, repeat('v', 50) FROM generate_series(1, 5000) i;
        INSERT INTO small SELECT i, 's' FROM generate_series(1, 10) i""")
    port = free_port()
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--metrics-port", str(port)])
    app.wait_phase("incremental", timeout=300)
    wait_for_metrics(app, port, {
        key("pgdts_full_sync_rows", task="it", table="public.big"): 5000,
        key("pgdts_full_sync_rows", task="it", table="public.small"): 10,
        key("pgdts_full_sync_bytes", task="it", table="public.big"): lambda v: v > 5000 * 50,
        key("pgdts_full_sync_tables", task="it"): 2,
        key("pgdts_full_sync_tables_done", task="it"): 2,
        key("pgdts_phase", task="it", phase="incremental"): 1,
        key("pgdts_phase", task="it", phase="schema"): 0,
    })
    app.stop()
    assert_tables_equal(source, dest, ["big", "small"])


def test_metrics_port_in_use_is_a_clear_error_before_anything_starts(source, dest, pgdts):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = pgdts.run(["sync", "--source", source.conninfo(), "--target", dest.conninfo(),
                       "--task", "it", "--phases", "incremental", "--metrics-port", str(port)])
    assert r.returncode == 2, r
    lines = [l for l in r.stderr.splitlines() if l.startswith("pgdts: error:")]
    assert len(lines) == 1, r.stderr
    assert f"--metrics-port {port}" in lines[0] and "Address already in use" in lines[0], lines[0]
    assert "sync_starting" not in r.stderr, r.stderr
    # nothing started: no slot on the source, no task state on the destination
    assert source.one("SELECT count(*) FROM pg_replication_slots") == 0
    assert dest.one("SELECT to_regclass('pgdts.task') IS NULL")


# ---------------------------------------------------------------------------
# alerts

def test_failing_apply_alerts_once_then_recovered(source, dest, pgdts):
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    dest.sql("ALTER TABLE t ADD CONSTRAINT t_v_not_bad CHECK (v <> 'bad')")
    events_file = pgdts.workdir / "alerts-failing.jsonl"
    port = free_port()
    app = pgdts.sync(source, dest, extra_args=[
        "--retry-other", "1", "--retry-connection", "10", "--metrics-port", str(port),
        *alert_command(events_file)])
    source.sql("INSERT INTO t VALUES (1, 'bad')")

    # retried at least twice: still one task_failing
    deadline = time.monotonic() + 60
    while count_in_log(app, "event=apply_failed") < 2:
        assert app.alive() and time.monotonic() < deadline, app.log_tail()
        time.sleep(0.2)
    events = wait_for_event(app, events_file, "task_failing")
    wait_for_metrics(app, port, {
        key("pgdts_task_failing", task="it"): 1,
        key("pgdts_retries_total", task="it", kind="other"): lambda v: v >= 2,
        key("pgdts_apply_errors_total", task="it", kind="other"): lambda v: v >= 2,
    })

    dest.sql("ALTER TABLE t DROP CONSTRAINT t_v_not_bad")   # the cause goes away
    wait_caught_up(source, dest, app, timeout=120)
    events = wait_for_event(app, events_file, "task_recovered")
    assert [e["event"] for e in events] == ["task_failing", "task_recovered"], events
    for e in events:
        check_event_fields(e)
        assert e["phase"] == "incremental", e
    assert "t_v_not_bad" in events[0]["message"], events[0]
    wait_for_metrics(app, port, {key("pgdts_task_failing", task="it"): 0})
    app.stop()
    assert_tables_equal(source, dest, ["t"])
    assert [e["event"] for e in read_events(events_file)] == ["task_failing", "task_recovered"]


def test_used_up_retry_window_alerts_task_failed_before_exit(source, dest, pgdts):
    """--retry-other 1 is the shortest window: this test takes a minute."""
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    dest.sql("ALTER TABLE t ADD CONSTRAINT t_v_not_bad CHECK (v <> 'bad')")
    events_file = pgdts.workdir / "alerts-failed.jsonl"
    app = pgdts.sync(source, dest, extra_args=[
        "--retry-other", "1", "--retry-connection", "10", *alert_command(events_file)])
    source.sql("INSERT INTO t VALUES (1, 'bad')")
    assert app.wait_exit(timeout=180) == 1, app.log_tail()
    # read right after the exit: the event was delivered before it
    events = read_events(events_file)
    assert [e["event"] for e in events] == ["task_failing", "task_failed"], events
    for e in events:
        check_event_fields(e)
    assert "giving up" in events[1]["message"] and "t_v_not_bad" in events[1]["message"], events[1]


def test_latency_alerts_high_then_recovered(source, dest, pgdts, monkeypatch):
    # the minute latency must stay high, shortened for the test
    monkeypatch.setenv("PGDTS_TEST_ALERT_HOLD_SECONDS", "2")
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    events_file = pgdts.workdir / "alerts-latency.jsonl"
    port = free_port()
    app = pgdts.sync(source, dest, extra_args=[
        "--alert-latency", "1", "--metrics-port", str(port), *alert_command(events_file)])
    source.sql("INSERT INTO t VALUES (1, 'before')")
    wait_caught_up(source, dest, app)
    assert read_events(events_file) == [], "latency alerted while the task keeps up"

    with dest.connect(autocommit=False) as blocker:
        # the destination is slow: the applier's INSERT waits for this lock
        blocker.execute("LOCK TABLE t IN SHARE MODE")
        source.sql("INSERT INTO t VALUES (2, 'while locked')")
        events = wait_for_event(app, events_file, "latency_high", timeout=60)
        m = scrape(port)
        assert m.get("pgdts_latency_seconds", task="it") > 1, m.text
        blocker.rollback()                   # released
    wait_caught_up(source, dest, app)
    events = wait_for_event(app, events_file, "latency_recovered", timeout=60)
    assert [e["event"] for e in events] == ["latency_high", "latency_recovered"], events
    for e in events:
        check_event_fields(e)
    assert events[0]["latency_seconds"] > 1, events[0]
    assert events[1]["latency_seconds"] <= 1, events[1]
    app.stop()
    assert_tables_equal(source, dest, ["t"])
