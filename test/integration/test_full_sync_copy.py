"""Full sync (the copy under an exported snapshot) through the real CLI,
`pgdts sync --phases full`, into destination tables the test created.

Exactness *as of the snapshot*: as soon as a run logs `snapshot_created`,
the test imports that snapshot itself (SET TRANSACTION SNAPSHOT, while the
run's exporting connection is open) and computes each table's fingerprint
(row count and md5 of the rows' text in byte order, like
compare_rows._fingerprint). A destination table that matches it holds exactly the
source's rows at the snapshot: nothing missing, nothing twice, no row of a
writer that committed after it. Runs are throttled so that the snapshot
lives long enough to be imported.

PGDTS_FULL_SYNC_MIN_CHUNK_KB lowers the 32 MB chunk floor so that tables of
a few MB are split into block ranges.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql as pgsql

import compare_rows
import processes

FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def events(log: str, name: str) -> list[dict]:
    out = []
    for line in log.splitlines():
        if f"event={name} " not in line + " ":
            continue
        fields = {}
        for k, v in FIELD.findall(line):
            fields[k] = v[1:-1].replace('\\"', '"').replace("\\\\", "\\") if v.startswith('"') else v
        if fields.get("event") == name:
            out.append(fields)
    return out


def snapshot_fingerprints(source, snapshot: str, tables) -> dict[str, tuple[int, str]]:
    """Each table's (count, md5) as of an exported snapshot."""
    with source.connect() as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(pgsql.SQL("SET TRANSACTION SNAPSHOT {}").format(pgsql.Literal(snapshot)))
        out = {}
        for t in tables:
            q = pgsql.SQL("SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text "
                          "COLLATE \"C\")) FROM {} t").format(compare_rows._table_ident(t))
            count, md5 = conn.execute(q).fetchone()
            out[t] = (int(count), md5)
        conn.execute("COMMIT")
        return out


class FullSync:
    """One `pgdts sync --phases full` in the background, its output in a log
    file; a watcher imports the run's snapshot as soon as it is logged."""

    def __init__(self, binary: str, test_dir: Path, source, dest, tables, *args: str,
                 task: str = "it", min_chunk_kb: int | None = None):
        self.source, self.tables = source, list(tables)
        self.logfile = test_dir / f"pgdts-full-{time.monotonic_ns()}.log"
        self.args = [binary, "sync", "--source", source.conninfo(), "--target", dest.conninfo(),
                     "--task", task, "--phases", "full", "--tables", ",".join(tables),
                     "--log-level", "debug", *args]
        env = dict(os.environ)
        if min_chunk_kb is not None:
            env["PGDTS_FULL_SYNC_MIN_CHUNK_KB"] = str(min_chunk_kb)
        with open(self.logfile, "wb") as f:
            f.write(f"==== started: {' '.join(self.args)}\n".encode())
            f.flush()
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=f,
                                         stderr=subprocess.STDOUT, env=env)
        self._fps: dict | None = None
        self._fp_error: str | None = None
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = events(self.log(), "snapshot_created")
            if found:
                try:
                    self._fps = snapshot_fingerprints(self.source, found[0]["snapshot"],
                                                      self.tables)
                except psycopg.Error as e:
                    self._fp_error = f"could not import snapshot {found[0]['snapshot']}: {e}"
                return
            if self.proc.poll() is not None:
                self._fp_error = "the run ended before it logged snapshot_created"
                return
            time.sleep(0.02)
        self._fp_error = "no snapshot_created within 120 s"

    def log(self) -> str:
        return processes.read_text(self.logfile)

    def wait(self, timeout: float = 180) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"pgdts sync did not finish within {timeout} s; log tail:\n"
                                 f"{processes.tail(self.log(), 40)}")

    def finish(self, timeout: float = 180) -> str:
        rc = self.wait(timeout)
        log = self.log()
        assert rc == 0, f"pgdts sync exited {rc}; log tail:\n{processes.tail(log, 40)}"
        assert events(log, "sync_done"), f"no sync_done; log tail:\n{processes.tail(log, 40)}"
        return log

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def fingerprints(self) -> dict[str, tuple[int, str]]:
        self._watcher.join(130)
        assert self._fps is not None, self._fp_error
        return self._fps

    def snapshot_lsn(self) -> str:
        return events(self.log(), "snapshot_created")[0]["lsn"]


@pytest.fixture
def full_sync(test_dir, request):
    binary, looked = processes.find_pgdts()
    if binary is None:
        pytest.fail(f"the pgdts binary was not found (looked at {looked}); build it with `make`")
    started: list[FullSync] = []

    def run(source, dest, tables, *args, **kw) -> FullSync:
        r = FullSync(binary, test_dir, source, dest, tables, *args, **kw)
        started.append(r)
        return r

    yield run
    for r in started:
        r.kill9()


def wait_slot_gone(source, slot: str = "dts_copy_it", timeout: float = 30) -> None:
    """A killed run's temporary slot goes with its walsender."""
    deadline = time.monotonic() + timeout
    while source.sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [slot]):
        assert time.monotonic() < deadline, f"slot {slot} still there {timeout} s after the kill"
        time.sleep(0.1)


def dest_fingerprint(dest, table) -> tuple[int, str]:
    count, md5 = compare_rows._fingerprint(dest, table)
    return int(count), md5


def assert_matches_snapshot(dest, run: FullSync, tables) -> None:
    fps = run.fingerprints()
    for table in tables:
        assert table in fps, f"no fingerprint of {table} as of the run's snapshot"
        got = dest_fingerprint(dest, table)
        assert got == fps[table], (f"{table} on the destination {got} differs from the source "
                                   f"as of the snapshot {fps[table]}")


def table_sync(dest, task: str = "it") -> dict[str, tuple]:
    if not dest.one("SELECT to_regclass('pgdts.table_sync') IS NOT NULL"):
        return {}
    rows = dest.sql("SELECT source_schema || '.' || source_table, state, sync_lsn::text, "
                    "rows_copied, chunks_total, chunks_done FROM pgdts.table_sync WHERE task = %s",
                    [task])
    return {r[0]: r[1:] for r in rows}


class Writers:
    """Background writers (own connection each) that insert, update and
    delete on the given tables until stopped; counts what they committed."""

    def __init__(self, cluster, tables: list[str], pause: float = 0.002):
        self.cluster, self.tables, self.pause = cluster, tables, pause
        self.stop_flag = threading.Event()
        self.committed = 0
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(30)

    def _run(self) -> None:
        try:
            with self.cluster.connect() as conn:
                i = 0
                while not self.stop_flag.is_set():
                    t = self.tables[i % len(self.tables)]
                    conn.execute(f"INSERT INTO {t} (v) VALUES (md5(random()::text))")
                    conn.execute(f"UPDATE {t} SET v = 'upd ' || v WHERE id = "
                                 f"(SELECT (random() * max(id))::bigint FROM {t})")
                    conn.execute(f"DELETE FROM {t} WHERE id = "
                                 f"(SELECT (random() * max(id))::bigint FROM {t})")
                    self.committed += 3
                    i += 1
                    time.sleep(self.pause)
        except Exception as e:  # reported by the test
            self.errors.append(repr(e))


def create_filled(source, dest, table: str, rows: int, width: int = 80, extra_dest: str = "") -> None:
    ddl = (f"CREATE TABLE {table} (id bigserial PRIMARY KEY, v text, n numeric, "
           f"ts timestamptz, b bytea, j jsonb, a int[]) {extra_dest}")
    source.sql(ddl)
    dest.sql(ddl)
    source.sql(
        f"INSERT INTO {table} (v, n, ts, b, j, a) "
        f"SELECT repeat(md5(g::text), {max(1, width // 32)}) || "
        "CASE WHEN g % 7 = 0 THEN E'\\ttab\\nnewline\\\\back' ELSE '' END, "
        "CASE WHEN g % 5 = 0 THEN NULL ELSE g / 7.0 END, "
        "timestamptz '2024-01-01 12:00+02' + g * interval '1 minute', "
        "decode(md5(g::text), 'hex'), jsonb_build_object('g', g, 's', 'x\"y'), "
        "ARRAY[g, g + 1] "
        f"FROM generate_series(1, {rows}) g")
    source.sql(f"ANALYZE {table}")


def test_two_jobs_split_big_table_and_match_the_snapshot_while_writers_run(source, dest, full_sync):
    create_filled(source, dest, "public.big", 120_000)
    create_filled(source, dest, "public.mid", 8_000)
    create_filled(source, dest, "public.small", 50)
    source.sql("CREATE TABLE public.empty (id int PRIMARY KEY, v text)")
    dest.sql("CREATE TABLE public.empty (id int PRIMARY KEY, v text)")
    tables = ["public.big", "public.mid", "public.small", "public.empty"]

    with Writers(source, ["public.big", "public.mid"]) as w:
        time.sleep(0.3)  # writers are busy before the snapshot is taken
        run = full_sync(source, dest, tables, "--jobs", "2", "--full-rps", "60000",
                        min_chunk_kb=1024)
        log = run.finish()
        time.sleep(0.2)
    assert not w.errors, w.errors
    assert w.committed > 0

    assert_matches_snapshot(dest, run, tables)
    # The check means something: the source moved on after the snapshot.
    assert dest_fingerprint(source, "public.big") != run.fingerprints()["public.big"]

    state = table_sync(dest)
    lsn = run.snapshot_lsn()
    for t in tables:
        assert state[t][0] == "copied" and state[t][1] == lsn, state[t]
    chunks_total, chunks_done = state["public.big"][3], state["public.big"][4]
    assert chunks_total >= 3 and chunks_done == chunks_total, state["public.big"]
    # Both jobs copied ranges of the big table.
    assert len(events(log, "chunk_copied")) == chunks_total
    started = events(log, "full_sync_started")[0]
    assert started["jobs"] == "2"
    copied = {e["table"]: e for e in events(log, "table_copied")}
    assert int(copied["public.big"]["rows"]) == run.fingerprints()["public.big"][0]


def wait_for(predicate, timeout: float, what: str, run: FullSync) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if run.proc.poll() is not None:
            raise AssertionError(f"pgdts sync exited {run.proc.returncode} before {what}; "
                                 f"log tail:\n{processes.tail(run.log(), 30)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}; log tail:\n"
                                 f"{processes.tail(run.log(), 30)}")
        time.sleep(0.05)


def test_resume_after_kill9_recopies_only_unfinished_tables(source, dest, full_sync):
    create_filled(source, dest, "public.big", 40_000)
    create_filled(source, dest, "public.mid", 15_000)
    create_filled(source, dest, "public.small", 1_000)
    # A foreign key to big: the destination refuses TRUNCATE of big, so the
    # recopy empties it with DELETE.
    ddl = ("CREATE TABLE public.child (id int PRIMARY KEY, "
           "big_id bigint REFERENCES public.big (id), v text)")
    source.sql(ddl)
    dest.sql(ddl)
    source.sql("INSERT INTO public.child SELECT g, g, 'c' || g FROM generate_series(1, 500) g")
    tables = ["public.big", "public.mid", "public.small", "public.child"]

    def more_writes():
        for t in ("public.big", "public.mid", "public.small"):
            source.sql(f"INSERT INTO {t} (v) SELECT 'later ' || g FROM generate_series(1, 100) g")
            source.sql(f"UPDATE {t} SET v = 'changed' WHERE id % 97 = 0")

    slow = ("--jobs", "2", "--full-rps", "10000")
    # Run 1: killed once the big table has some ranges committed, not all.
    run1 = full_sync(source, dest, tables, *slow, min_chunk_kb=256)
    wait_for(lambda: table_sync(dest).get("public.big", ("", 0, 0, 0, 0))[4] > 0,
             60, "some ranges of public.big committed", run1)
    run1.kill9()
    partial = table_sync(dest)["public.big"]
    assert 0 < partial[4] < partial[3], partial
    committed = dest.one("SELECT count(*) FROM public.big")
    assert committed == partial[2] > 0, (committed, partial)
    more_writes()

    # Run 2: empties big and copies it again under its own snapshot; killed
    # once big is copied and before everything is.
    wait_slot_gone(source)
    run2 = full_sync(source, dest, tables, *slow, min_chunk_kb=256)
    wait_for(lambda: table_sync(dest).get("public.big", ("",))[0] == "copied",
             60, "public.big copied", run2)
    run2.kill9()
    log2 = run2.log()
    emptied = events(log2, "table_emptied_for_recopy")
    assert [e["table"] for e in emptied] == ["public.big"], emptied
    assert emptied[0]["method"] == "delete"
    state2 = table_sync(dest)
    assert any(s[0] != "copied" for s in state2.values()), \
        f"run 2 finished everything before it was killed; nothing left to resume: {state2}"
    more_writes()

    # Run 3: finishes the rest without copying big again.
    wait_slot_gone(source)
    run3 = full_sync(source, dest, tables, "--jobs", "2", "--full-rps", "10000",
                     min_chunk_kb=256)
    log3 = run3.finish()
    skipped = {e["table"] for e in events(log3, "table_skipped_already_copied")}
    copied3 = {e["table"] for e in events(log3, "table_copied")}
    assert "public.big" in skipped and "public.big" not in copied3, (skipped, copied3)
    assert skipped | copied3 == set(tables) and not skipped & copied3

    # Each table equals the source as of the snapshot it was copied under.
    state = table_sync(dest)
    assert state["public.big"][1] == run2.snapshot_lsn()
    assert_matches_snapshot(dest, run2, ["public.big"])
    assert_matches_snapshot(dest, run3, sorted(copied3))
    for t in copied3:
        assert state[t][1] == run3.snapshot_lsn()
    assert all(s[0] == "copied" for s in state.values())
    # The snapshots differ, so the comparison tells which run copied what.
    assert run2.fingerprints()["public.mid"] != run3.fingerprints()["public.mid"]


def test_conflict_ignore_keeps_destination_rows(source, dest, full_sync):
    ddl = "CREATE TABLE public.t (id int PRIMARY KEY, v text, extra int DEFAULT 7)"
    source.sql(ddl)
    dest.sql(ddl)
    source.sql("INSERT INTO public.t (id, v) SELECT g, 'src ' || g FROM generate_series(1, 1000) g")
    dest.sql("INSERT INTO public.t (id, v, extra) "
             "SELECT g, 'dst ' || g, 1 FROM generate_series(500, 1500) g")

    run = full_sync(source, dest, ["public.t"], "--conflict", "ignore", "--jobs", "2")
    log = run.finish()
    rows = dict(dest.sql("SELECT id, v FROM public.t"))
    assert len(rows) == 1500
    assert all(rows[i] == f"src {i}" for i in range(1, 500))
    assert all(rows[i] == f"dst {i}" for i in range(500, 1501))
    copied = events(log, "table_copied")[0]
    assert (copied["inserted"], copied["kept_existing"]) == ("499", "501"), copied


def test_full_rps_20000_copies_400k_rows_in_about_20_seconds(source, dest, full_sync):
    ddl = "CREATE TABLE public.t (id int PRIMARY KEY, v text)"
    source.sql(ddl)
    dest.sql(ddl)
    source.sql("INSERT INTO public.t SELECT g, md5(g::text) FROM generate_series(1, 400000) g")
    source.sql("ANALYZE public.t")

    run = full_sync(source, dest, ["public.t"], "--jobs", "2", "--full-rps", "20000",
               min_chunk_kb=1024)
    log = run.finish(timeout=120)
    elapsed = float(events(log, "table_copied")[0]["seconds"])
    chunks = int(events(log, "table_copied")[0]["chunks"])
    print(f"400000 rows at --full-rps 20000 with 2 jobs ({chunks} ranges): {elapsed:.1f} s "
          f"(expected 20 s)")
    assert 14 <= elapsed <= 26, f"copy took {elapsed:.1f} s, expected 20 s ± 30%"
    assert dest.one("SELECT count(*) FROM public.t") == 400000
    # Not a terminal: progress goes to the log every 10 s, at the limit's rate.
    progress = events(log, "full_sync_progress")
    assert progress, "no full_sync_progress event in a 20 s copy"
    rates = [int(p["rows_per_second"]) for p in progress[:-1]]
    assert all(14_000 <= r <= 26_000 for r in rates), rates


def test_sigterm_rolls_back_the_ranges_in_flight_and_the_next_run_finishes(source, dest, full_sync):
    create_filled(source, dest, "public.big", 60_000)
    run1 = full_sync(source, dest, ["public.big"], "--jobs", "2", "--full-rps", "10000",
                     min_chunk_kb=256)
    wait_for(lambda: table_sync(dest).get("public.big", ("", 0, 0, 0, 0))[4] > 0,
             60, "some ranges of public.big committed", run1)
    run1.proc.terminate()
    t0 = time.monotonic()
    rc = run1.wait(30)
    assert rc == 0, f"expected exit 0 (a clean stop), got {rc}; log:\n{processes.tail(run1.log(), 20)}"
    assert time.monotonic() - t0 < 5
    assert events(run1.log(), "full_sync_stopped")
    # The record claims exactly what is committed: the ranges in flight were
    # rolled back with their progress.
    state = table_sync(dest)["public.big"]
    assert state[0] == "copying" and 0 < state[4] < state[3], state
    assert dest.one("SELECT count(*) FROM public.big") == state[2]

    wait_slot_gone(source)
    run2 = full_sync(source, dest, ["public.big"], "--jobs", "2", "--full-rps", "30000",
                     min_chunk_kb=256)
    log2 = run2.finish()
    assert [e["method"] for e in events(log2, "table_emptied_for_recopy")] == ["truncate"]
    assert_matches_snapshot(dest, run2, ["public.big"])
    assert table_sync(dest)["public.big"][0] == "copied"


def test_destination_crash_during_the_copy_is_retried_and_ends_exact(source, dest, full_sync):
    create_filled(source, dest, "public.big", 60_000)
    create_filled(source, dest, "public.small", 2_000)
    tables = ["public.big", "public.small"]
    run = full_sync(source, dest, tables, "--jobs", "2", "--full-rps", "10000",
                    min_chunk_kb=256)
    wait_for(lambda: table_sync(dest).get("public.big", ("", 0, 0, 0, 0))[4] > 0,
             60, "some ranges of public.big committed", run)
    dest.restart("immediate")
    log = run.finish()
    failed = events(log, "apply_failed")
    assert failed and failed[0]["kind"] == "connection", processes.tail(log, 30)
    assert "destination" in failed[0]["error"] and "full sync of public." in failed[0]["error"]
    assert len(events(log, "snapshot_created")) == 2  # the retry copies under a new snapshot
    assert "public.big" in {e["table"] for e in events(log, "table_emptied_for_recopy")}
    # No writers: the source did not change, so the destination equals it.
    compare_rows.assert_tables_equal(source, dest, tables)


def test_sigterm_while_a_worker_waits_for_a_lock_cancels_it_and_exits(source, dest, full_sync):
    create_filled(source, dest, "public.t", 1_000)
    with dest.connect(autocommit=False) as locker:
        locker.execute("LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE")
        run = full_sync(source, dest, ["public.t"])
        wait_for(lambda: dest.one("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                                  "'Lock' AND query LIKE 'COPY%'") == 1,
                 30, "the worker's COPY waits for the lock", run)
        run.proc.terminate()
        t0 = time.monotonic()
        rc = run.wait(30)
        took = time.monotonic() - t0
        locker.rollback()
    assert rc == 0, f"expected exit 0 (a clean stop), got {rc}; log:\n{processes.tail(run.log(), 20)}"
    assert took < 8, f"stopping took {took:.1f} s"
    assert events(run.log(), "full_sync_cancelling")
    assert dest.one("SELECT count(*) FROM public.t") == 0


def test_status_shows_full_sync_progress_while_it_runs(source, dest, full_sync):
    import json
    create_filled(source, dest, "public.big", 60_000)
    create_filled(source, dest, "public.small", 1_000)
    run = full_sync(source, dest, ["public.big", "public.small"], "--jobs", "2",
                    "--full-rps", "10000", min_chunk_kb=256)
    wait_for(lambda: table_sync(dest).get("public.big", ("", 0, 0, 0, 0))[4] > 0,
             60, "some ranges of public.big committed", run)
    binary, _ = processes.find_pgdts()

    def status() -> dict:
        r = subprocess.run([binary, "status", "--target", dest.conninfo(), "--task", "it",
                            "--format", "json"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    during = status()
    full = during["full_sync"]
    assert during["phase"] == "full", during
    assert full["tables_total"] == 2 and full["tables_copied"] < 2, full
    assert 0 < full["rows_copied"] < 61_000, full
    assert full["rows_per_second"] > 0, full
    big = next(t for t in full["tables"] if t["source"] == "public.big")
    assert big["state"] == "copying" and 0 < big["chunks_done"] < big["chunks_total"], big

    run.finish()
    after = status()["full_sync"]
    assert (after["tables_copied"], after["rows_copied"]) == (2, 61_000), after


def test_a_terminal_gets_a_live_table_of_progress(source, dest, test_dir):
    create_filled(source, dest, "public.big", 30_000)
    create_filled(source, dest, "public.small", 500)
    binary, _ = processes.find_pgdts()
    cmd = " ".join([binary, "sync", "--source", f"'{source.conninfo()}'", "--target",
                    f"'{dest.conninfo()}'", "--task", "it", "--phases", "full", "--tables",
                    "public.big,public.small", "--full-rps", "10000"])
    # script(1) gives the command a pseudo-terminal as its stderr.
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, processes.tail(out, 30)
    assert "rows/s" in out and "ETA" in out, processes.tail(out, 30)
    assert "public.big" in out and "\x1b[" in out  # redrawn in place
    assert "total: 2/2 tables" in out, processes.tail(out, 30)
    # log lines still come out whole, above the block
    assert re.search(r"INFO event=table_copied task=it table=public.big .*sync_lsn=", out)
