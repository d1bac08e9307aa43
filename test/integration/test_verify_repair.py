"""pgdts verify --repair (docs/verify.md, "Repair"): rows changed, deleted or
added on the destination behind pgdts' back are written again from the
source, through the running sync's own stream, while writes go on: keyed
tables and tables without a key (a multiset difference), with a row filter,
with mapped names; the dry run lists and changes nothing; a source change
committed right after the repair wins; without a running sync the repair
waits in the stream and applies when sync runs."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import psycopg

import compare_rows
import processes
from test_apply_errors import _wait_for_log
from test_security import PROBE, _as_alice, _assert_never_superuser, _roles
from test_verify import TASK, start_sync, table_entry, verify

TABLES = "public.kv,public.log"
SETUP = ("CREATE TABLE public.kv (id int PRIMARY KEY, v text NOT NULL, n numeric, at timestamptz, doc jsonb);"
         "INSERT INTO public.kv SELECT g, 'value ' || g, g * 1.5, timestamptz '2026-01-01' + g * interval '1 min',"
         " jsonb_build_object('g', g) FROM generate_series(1, 1000) g;"
         "CREATE TABLE public.log (at date, msg text, doc json);"
         "INSERT INTO public.log VALUES ('2026-01-01', 'twice', '{\"a\": 1}'), ('2026-01-01', 'twice', '{\"a\": 1}'),"
         " ('2026-01-02', 'once', NULL), ('2026-01-03', 'thrice', '[]'), ('2026-01-03', 'thrice', '[]'),"
         " ('2026-01-03', 'thrice', '[]');")


class SourceWriter:
    """Keeps changing other rows of the same tables on the source while the
    repair runs (so the repair is ordered among real changes)."""

    def __init__(self, source) -> None:
        self.source = source
        self.stop_event = threading.Event()
        self.errors: list = []
        self.committed = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with psycopg.connect(self.source.conninfo(), autocommit=True) as conn:
                i = 0
                while not self.stop_event.is_set():
                    i += 1
                    conn.execute("UPDATE public.kv SET v = %s WHERE id = %s", [f"w{i}", 100 + i % 50])
                    conn.execute("INSERT INTO public.log VALUES (current_date, %s, NULL)", [f"w{i}"])
                    self.committed += 2
                    self.stop_event.wait(0.005)
        except Exception as e:  # reported by stop()
            self.errors.append(e)

    def __enter__(self) -> "SourceWriter":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join(30)
        assert not self.errors, self.errors
        assert self.committed > 10, f"the writer committed only {self.committed} changes"


def break_destination(dest, kv: str = "public.kv", log: str = "public.log") -> None:
    """Three keyed differences (changed, deleted, added) and two keyless ones
    (a copy missing, a stray row)."""
    dest.sql(f"UPDATE {kv} SET v = 'changed on the destination', doc = '{{\"x\": 1}}' WHERE id = 5")
    dest.sql(f"DELETE FROM {kv} WHERE id = 7")
    dest.sql(f"INSERT INTO {kv} (id, v) VALUES (5000, 'only on the destination')")
    dest.sql(f"DELETE FROM {log} WHERE ctid = (SELECT min(ctid) FROM {log} WHERE msg = 'thrice')")
    dest.sql(f"INSERT INTO {log} VALUES ('2020-01-01', 'stray', '{{}}')")


def test_dry_run_lists_and_repair_fixes_keyed_and_keyless_tables_while_writes_go_on(pgdts, source, dest):
    source.sql(SETUP)
    app = start_sync(pgdts, source, dest, "--tables", TABLES)
    processes.wait_caught_up(source, dest, app)
    break_destination(dest)
    before = dest.sql("SELECT id, v FROM public.kv WHERE id IN (5, 7, 5000) ORDER BY id")
    with SourceWriter(source):
        # The dry run lists what differs and changes nothing.
        status, doc, err = verify(pgdts, source, dest, "--tables", TABLES, "--repair", "--dry-run")
        assert status == 1, json.dumps(doc, indent=1) + err
        assert doc["repair"] == "dry_run" and doc["equal"] is False
        kv = table_entry(doc, "public.kv")
        assert sorted(kv["differing_keys"]) == ["(id)=(5)", "(id)=(5000)", "(id)=(7)"], kv
        assert kv["would_repair"] == 3 and kv["repaired"] is None
        log = table_entry(doc, "public.log")
        assert sorted((r["row"], r["source"], r["target"]) for r in log["differing_rows"]) == [
            ('(2020-01-01,stray,{})', 0, 1), ('(2026-01-03,thrice,[])', 3, 2)], log
        assert log["would_repair"] == 2
        text_status, text, _ = verify(pgdts, source, dest, "--tables", TABLES, "--repair", "--dry-run",
                                      json_format=False)
        assert text_status == 1
        assert "public.kv: 3 differing keys: " in text and "would repair 3 keys (dry run)" in text, text
        assert "dry run: would repair 5 keys or rows, nothing changed" in text.splitlines()[-1], text
        assert dest.sql("SELECT id, v FROM public.kv WHERE id IN (5, 7, 5000) ORDER BY id") == before
        assert not app.events("repair_applied")

        # The repair, while the writer goes on.
        status, doc, err = verify(pgdts, source, dest, "--tables", TABLES, "--repair")
        assert status == 0, json.dumps(doc, indent=1) + err
        assert doc["repair"] == "repair" and doc["equal"] is True and doc["repair_pending"] is False
        kv = table_entry(doc, "public.kv")
        assert kv["status"] == "equal" and kv["repaired"] == 3 and kv["differing_keys"] == [], kv
        log = table_entry(doc, "public.log")
        assert log["status"] == "equal" and log["repaired"] == 2, log
    processes.wait_caught_up(source, dest, app)
    assert dest.sql("SELECT id, v, doc FROM public.kv WHERE id IN (5, 7, 5000) ORDER BY id") == [
        (5, "value 5", {"g": 5}), (7, "value 7", {"g": 7})]
    assert dest.one("SELECT count(*) FROM public.log WHERE msg = 'thrice'") == 3
    assert dest.one("SELECT count(*) FROM public.log WHERE msg = 'stray'") == 0
    compare_rows.assert_tables_equal(source, dest, ["public.kv", "public.log"])
    status, text, _ = verify(pgdts, source, dest, "--tables", TABLES, json_format=False)
    assert status == 0, text
    # The sync counted what it wrote: per message, and in its summary.
    applied = app.events("repair_applied")
    assert any("upserted=2 deleted=1" in ln and "public.kv" in ln for ln in applied), applied
    assert any("upserted=3 deleted=2" in ln and "public.log" in ln for ln in applied), applied
    app.stop()
    assert app.last_count("repaired_rows") == 8, app.log_tail()


def test_repair_with_a_row_filter_deletes_a_stray_row_and_inserts_a_missing_kept_one(pgdts, source, dest):
    source.sql(SETUP)
    rule = ["--filter", "public.kv: id <= 500"]
    app = start_sync(pgdts, source, dest, "--tables", "public.kv", *rule)
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT count(*) FROM public.kv") == 500
    dest.sql("INSERT INTO public.kv (id, v) VALUES (600, 'outside the filter')")
    dest.sql("DELETE FROM public.kv WHERE id = 10")
    with SourceWriter(source):
        status, doc, err = verify(pgdts, source, dest, "--tables", "public.kv", *rule, "--repair")
    assert status == 0, json.dumps(doc, indent=1) + err
    assert table_entry(doc, "public.kv")["repaired"] == 2
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT count(*) FROM public.kv WHERE id = 600") == 0
    assert dest.one("SELECT v FROM public.kv WHERE id = 10") == "value 10"
    assert dest.one("SELECT count(*) FROM public.kv") == 500
    app.stop()


def test_repair_writes_a_column_expressions_value_not_the_source_column(pgdts, source, dest):
    source.sql(SETUP)
    rule = ["--transform", "public.kv.v: upper(v)"]
    app = start_sync(pgdts, source, dest, "--tables", "public.kv", *rule)
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT v FROM public.kv WHERE id = 5") == "VALUE 5"
    dest.sql("UPDATE public.kv SET v = 'value 5' WHERE id = 5")   # the source's own text: differs
    dest.sql("DELETE FROM public.kv WHERE id = 6")
    status, doc, err = verify(pgdts, source, dest, "--tables", "public.kv", *rule, "--repair")
    assert status == 0, json.dumps(doc, indent=1) + err
    assert table_entry(doc, "public.kv")["repaired"] == 2
    assert dest.sql("SELECT id, v FROM public.kv WHERE id IN (5, 6) ORDER BY id") == [(5, "VALUE 5"), (6, "VALUE 6")]
    app.stop()


def test_repair_with_mapped_names(pgdts, source, dest):
    source.sql("CREATE SCHEMA shop; "
               "CREATE TABLE shop.orders (id int PRIMARY KEY, email text NOT NULL, total numeric);"
               "INSERT INTO shop.orders SELECT g, 'u' || g || '@x', g FROM generate_series(1, 200) g;"
               "CREATE TABLE shop.log (at date, msg text);"
               "INSERT INTO shop.log VALUES ('2026-01-01', 'twice'), ('2026-01-01', 'twice');")
    maps = ["--map", "shop=store", "--map", "shop.orders=purchases", "--map", "shop.orders.email=mail"]
    app = start_sync(pgdts, source, dest, *maps)
    processes.wait_caught_up(source, dest, app)
    dest.sql("UPDATE store.purchases SET mail = 'changed', total = NULL WHERE id = 42")
    dest.sql("DELETE FROM store.purchases WHERE id = 43")
    dest.sql("DELETE FROM store.log WHERE ctid = (SELECT min(ctid) FROM store.log)")
    status, doc, err = verify(pgdts, source, dest, *maps, "--repair")
    assert status == 0, json.dumps(doc, indent=1) + err
    orders = table_entry(doc, "shop.orders")
    assert orders["target"] == "store.purchases" and orders["repaired"] == 2, orders
    assert table_entry(doc, "shop.log")["repaired"] == 1
    assert dest.sql("SELECT id, mail, total FROM store.purchases WHERE id IN (42, 43) ORDER BY id") == [
        (42, "u42@x", 42), (43, "u43@x", 43)]
    assert dest.one("SELECT count(*) FROM store.log") == 2
    compare_rows.assert_mapped_tables_equal(source, dest, [("shop.log", "store.log")])
    status, text, _ = verify(pgdts, source, dest, *maps, "--repair", json_format=False)
    assert status == 0, text
    assert "shop.orders -> store.purchases: equal (200 rows)" in text, text
    app.stop()


def test_repaired_rows_are_written_with_the_table_owners_rights(pgdts, source, dest, test_dir):
    """alice's tables call her function from a CHECK: the sync writes their
    rows through her run_as function, and so it writes their repairs."""
    marker = str(test_dir / "pwned")
    _roles(source, dest)
    for c in (source, dest):
        with _as_alice(c) as a:
            a.execute(PROBE.format(marker=marker))
            a.execute("CREATE TABLE app.t (id int PRIMARY KEY, v int CHECK (app.probe(v)))")
            a.execute("CREATE TABLE app.k (v int CHECK (app.probe(v)), w text)")
    with _as_alice(source) as a:
        a.execute("INSERT INTO app.t SELECT g, g FROM generate_series(1, 50) g")
        a.execute("INSERT INTO app.k SELECT g % 5, 'w' FROM generate_series(1, 20) g")
    tables = ["--tables", "app.t,app.k"]
    app = pgdts.sync(source, dest, task=TASK, phases="full,incremental", wait_ready=False, extra_args=tables)
    app.wait_phase("incremental", timeout=120)
    processes.wait_caught_up(source, dest, app)
    with _as_alice(dest) as a:     # behind pgdts' back, as alice
        a.execute("UPDATE app.t SET v = 99 WHERE id = 5")
        a.execute("DELETE FROM app.t WHERE id = 6")
        a.execute("DELETE FROM app.k WHERE v = 3")
    status, doc, err = verify(pgdts, source, dest, *tables, "--repair")
    assert status == 0, json.dumps(doc, indent=1) + err
    assert table_entry(doc, "app.t")["repaired"] == 2
    assert table_entry(doc, "app.k")["repaired"] == 1
    assert dest.one("SELECT count(*) FROM app.k WHERE v = 3") == 4
    compare_rows.assert_tables_equal(source, dest, ["app.t", "app.k"])
    assert "table_runs_code" in app.logs()
    _assert_never_superuser(dest, marker, app)
    app.stop()


def _locks_waiting(source, mode: str) -> int:
    return source.one("SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = %s "
                      "AND relation = 'public.kv'::regclass", [mode])


def _wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_a_source_update_committed_right_after_the_repair_wins(pgdts, source, dest):
    source.sql(SETUP)
    app = start_sync(pgdts, source, dest, "--tables", "public.kv")
    processes.wait_caught_up(source, dest, app)
    dest.sql("UPDATE public.kv SET v = 'changed on the destination' WHERE id = 5")
    # A writer's open transaction keeps verify's SHARE lock waiting (under
    # its lock timeout); an UPDATE of the repaired key queued behind that
    # lock request commits right after the repair's transaction.
    blocker = psycopg.connect(source.conninfo(), autocommit=False)
    blocker.execute("UPDATE public.kv SET v = 'blocker' WHERE id = 900")
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(
        out=verify(pgdts, source, dest, "--tables", "public.kv", "--repair")))
    run.start()
    after = threading.Thread(target=lambda: source.sql("UPDATE public.kv SET v = 'after the repair' WHERE id = 5"))
    try:
        _wait_until(lambda: _locks_waiting(source, "ShareLock") == 1, "verify's lock request")
        after.start()
        _wait_until(lambda: _locks_waiting(source, "RowExclusiveLock") == 1, "the UPDATE behind it")
    finally:
        blocker.commit()
        blocker.close()
    after.join(60)
    run.join(300)
    status, doc, err = result["out"]
    assert status == 0, json.dumps(doc, indent=1) + err
    assert table_entry(doc, "public.kv")["repaired"] == 1
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT v FROM public.kv WHERE id = 5") == "after the repair"
    assert dest.one("SELECT v FROM public.kv WHERE id = 900") == "blocker"
    compare_rows.assert_tables_equal(source, dest, ["public.kv"])
    app.stop()


def test_without_a_running_sync_the_repair_waits_in_the_stream_and_applies_when_sync_runs(pgdts, source, dest):
    source.sql(SETUP)
    app = start_sync(pgdts, source, dest, "--tables", "public.kv")
    processes.wait_caught_up(source, dest, app)
    app.stop()
    dest.sql("DELETE FROM public.kv WHERE id = 3")
    status, doc, err = verify(pgdts, source, dest, "--tables", "public.kv", "--repair")
    assert status == 1, json.dumps(doc, indent=1) + err
    assert doc["repair_pending"] is True and doc["equal"] is False
    assert any("is pgdts sync running" in n and "applies when pgdts sync runs" in n for n in doc["notes"]), \
        doc["notes"]
    assert dest.one("SELECT count(*) FROM public.kv WHERE id = 3") == 0
    app = pgdts.sync(source, dest, task=TASK, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--replica-identity-full", "--tables", "public.kv"])
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT v FROM public.kv WHERE id = 3") == "value 3"
    assert app.events("repair_applied"), app.log_tail()
    app.stop()


def _signed(payload: str, key: str) -> str:
    """The message bytes as verify writes them: the signature with a key, a
    newline, the payload."""
    k = key.encode()
    return hashlib.sha256(k + hashlib.sha256(k + payload.encode()).digest()).hexdigest() + "\n" + payload


def _sign(dest, payload: str, key: str = "test key") -> str:
    """Signed with the task's key, set here on the destination."""
    dest.sql("UPDATE pgdts.task SET repair_key = %s WHERE task = %s", [key, TASK])
    return _signed(payload, key)


def _emit_beside_an_insert(source, message: str, row_id: int) -> str:
    """One source transaction: an INSERT into public.kv and the message;
    returns the message's LSN."""
    with source.connect(autocommit=False) as conn:
        conn.execute("INSERT INTO public.kv (id, v) VALUES (%s, 'beside the message')", [row_id])
        lsn = conn.execute("SELECT pg_logical_emit_message(true, 'pgdts_repair', %s)::text", [message]).fetchone()[0]
        conn.commit()
    return lsn


def _repair_payload(schema: str, name: str, row: list) -> str:
    return json.dumps({"format": 1, "table": {"schema": schema, "name": name}, "columns": ["id", "v"],
                       "key": [0], "rows": [{"values": row}]})


def test_a_repair_message_without_the_tasks_signature_is_skipped_and_its_transaction_applies(
        pgdts, source, dest):
    source.sql(SETUP)
    app = start_sync(pgdts, source, dest, "--tables", "public.kv")
    dest.sql("UPDATE pgdts.task SET repair_key = 'the real key' WHERE task = %s", [TASK])
    forged = _repair_payload("public", "kv", ["1", "forged"])
    _emit_beside_an_insert(source, forged, 2001)                                # no signature at all
    _emit_beside_an_insert(source, _signed(forged, "another key"), 2002)       # another key's
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT v FROM public.kv WHERE id = 1") == "value 1"
    assert dest.one("SELECT count(*) FROM public.kv WHERE id IN (2001, 2002)") == 2
    skipped = app.events("repair_skipped")
    assert len(skipped) == 2 and all("not signed with the task's key" in ln for ln in skipped), app.log_tail()
    app.stop()


def test_a_signed_repair_message_for_a_table_outside_the_task_is_skipped(pgdts, source, dest):
    source.sql(SETUP)
    processes.run_on_both(source, dest, "CREATE TABLE public.other (id int PRIMARY KEY, v text)")
    app = start_sync(pgdts, source, dest, "--tables", "public.kv")
    _emit_beside_an_insert(source, _sign(dest, _repair_payload("public", "other", ["1", "forged"])), 2001)
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT v FROM public.kv WHERE id = 2001") == "beside the message"
    assert dest.one("SELECT count(*) FROM public.other") == 0
    skipped = app.events("repair_skipped")
    assert len(skipped) == 1 and "not in this task" in skipped[0], app.log_tail()
    app.stop()


def test_a_malformed_signed_repair_message_stops_the_apply_naming_its_lsn_and_commits_nothing_of_it(
        pgdts, source, dest):
    source.sql(SETUP)
    app = start_sync(pgdts, source, dest, "--tables", "public.kv")
    malformed = '{"format": 1, "table": {"schema": [[[[[[[[[[]]]]]]]]]]}}'
    lsn = _emit_beside_an_insert(source, _sign(dest, malformed), 2002)
    _wait_for_log(app, "repair message: nested too deep")
    failed = [ln for ln in app.events("apply_failed") if "repair message" in ln]
    assert failed and f"source LSN {lsn}" in failed[0], (lsn, app.log_tail())
    assert app.alive(), app.log_tail()
    assert dest.one("SELECT count(*) FROM public.kv WHERE id = 2002") == 0
    app.stop()
