"""`pgdts stream` shows the change records as JSON lines without consuming the
slot (unless --consume); `pgdts release` removes everything a task keeps on
both sides, and is idempotent."""

import base64
import json
import time

from compare_rows import assert_tables_equal
from processes import (origin_exists, parse_json_lines, record_kind, run_on_both, slot_row,
                       wait_caught_up)

PROBE_ID = 424242
PROBE_TEXT = "pgdts-stream-probe"


def _mentions_probe(rec):
    text = json.dumps(rec)
    has_id = str(PROBE_ID) in text
    has_text = PROBE_TEXT in text or base64.b64encode(PROBE_TEXT.encode()).decode() in text
    return has_id and has_text


def _stream(pgdts, source, *extra):
    r = pgdts.stream(source, "st", "--idle-exit", "2", *extra)
    assert r.returncode == 0, f"pgdts stream exited {r.returncode}:\n{r.stderr[-2000:]}"
    return parse_json_lines(r.stdout)


def _confirmed(source):
    row = slot_row(source, "dts_sync_st")
    assert row is not None, "slot dts_sync_st does not exist"
    return row[3]


def _create_slot(pgdts, source):
    r = pgdts.stream(source, "st", "--create-slot", "--idle-exit", "1")
    assert r.returncode == 0, f"pgdts stream --create-slot exited {r.returncode}:\n{r.stderr[-2000:]}"
    assert slot_row(source, "dts_sync_st") is not None, "stream --create-slot made no slot"


def _kinds_around_probe(records):
    """Kinds of the records of the transaction holding the probe insert."""
    kinds = [record_kind(r) for r in records]
    probe = [i for i, r in enumerate(records) if kinds[i] == "insert" and _mentions_probe(r)]
    assert len(probe) == 1, (f"expected one insert record with {PROBE_ID} and {PROBE_TEXT!r}, "
                             f"found {len(probe)} in:\n" + "\n".join(json.dumps(r)[:300] for r in records))
    i = probe[0]
    begin = max((j for j in range(i) if kinds[j] == "begin"), default=None)
    commit = min((j for j in range(i + 1, len(kinds)) if kinds[j] == "commit"), default=None)
    assert begin is not None and commit is not None, f"insert not between begin and commit: {kinds}"
    return kinds[begin:commit + 1]


def test_stream_prints_begin_insert_commit_without_consuming_the_slot(source, pgdts):
    source.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    _create_slot(pgdts, source)
    source.sql("INSERT INTO t VALUES (%s, %s)", [PROBE_ID, PROBE_TEXT])
    before = _confirmed(source)

    records = _stream(pgdts, source)
    kinds = _kinds_around_probe(records)
    assert kinds[0] == "begin" and kinds[-1] == "commit" and "insert" in kinds
    assert _confirmed(source) == before, "pgdts stream without --consume moved the slot"

    again = _stream(pgdts, source)
    assert _kinds_around_probe(again) == kinds, "a second stream did not show the same transaction"
    assert _confirmed(source) == before


def test_stream_consume_moves_the_slot_past_what_it_printed(source, pgdts):
    source.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    _create_slot(pgdts, source)
    source.sql("INSERT INTO t VALUES (%s, %s)", [PROBE_ID, PROBE_TEXT])
    end = source.one("SELECT pg_current_wal_lsn()::text")
    _kinds_around_probe(_stream(pgdts, source, "--consume"))
    assert source.one("SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots "
                      "WHERE slot_name = 'dts_sync_st'", [end]), "--consume did not move the slot"
    later = _stream(pgdts, source)
    assert not any(_mentions_probe(r) for r in later), "a consumed transaction was streamed again"


def test_release_drops_slot_origin_and_task_state_and_is_idempotent(source, dest, pgdts):
    task = "reltask"
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    app = pgdts.sync(source, dest, task=task)
    source.sql("INSERT INTO t VALUES (1, 'one')")
    wait_caught_up(source, dest, app)
    app.stop()
    assert_tables_equal(source, dest, ["t"])
    assert slot_row(source, f"dts_sync_{task}") is not None
    assert origin_exists(dest, f"pgdts_{task}"), "sync made no replication origin pgdts_<task>"
    assert source.one("SELECT count(*) FROM pgdts.dts_postgres_heartbeat WHERE task = %s",
                      [task]) == 1, "sync wrote no heartbeat row on the source"

    r = pgdts.release(source, dest, task)
    assert r.returncode == 0, f"release exited {r.returncode}:\n{r.stderr[-2000:]}"
    assert slot_row(source, f"dts_sync_{task}") is None, "release left the slot"
    assert not origin_exists(dest, f"pgdts_{task}"), "release left the replication origin"
    assert source.one("SELECT count(*) FROM pgdts.dts_postgres_heartbeat WHERE task = %s",
                      [task]) == 0, "release left the task's heartbeat row"
    if dest.one("SELECT to_regclass('pgdts.task') IS NOT NULL"):
        left = dest.one("SELECT count(*) FROM pgdts.task t WHERE t::text LIKE %s", [f"%{task}%"])
        assert left == 0, "release left the task's row in pgdts.task"

    r = pgdts.release(source, dest, task)
    assert r.returncode == 0, f"second release exited {r.returncode}:\n{r.stderr[-2000:]}"


def test_release_of_a_task_that_never_ran_exits_0(source, dest, pgdts):
    r = pgdts.release(source, dest, "never")
    assert r.returncode == 0, f"release exited {r.returncode}:\n{r.stderr[-2000:]}"


def test_heartbeats_keep_latency_measured_on_an_idle_source(source, dest, pgdts):
    """With no writes at all, the heartbeat transactions reach the destination
    every few seconds: status shows a small latency, and the slot moves."""
    task = "beat"
    app = pgdts.sync(source, dest, task=task)
    first = slot_row(source, f"dts_sync_{task}")[3]
    time.sleep(13)  # heartbeats every 5 s; latency is stored every 10 s
    r = pgdts.run(["status", "--target", dest.conninfo(), "--source", source.conninfo(),
                   "--task", task, "--format", "json"])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["latency_ms"] is not None, doc
    assert 0 <= doc["latency_ms"] < 8000, doc
    assert doc["source"]["slot_active"] is True, doc
    later = slot_row(source, f"dts_sync_{task}")[3]
    assert source.one("SELECT %s::pg_lsn > %s::pg_lsn", [later, first]), (first, later)
    app.stop()


def test_captured_ddl_rows_are_pruned_once_no_task_needs_them(source, dest, make_cluster, pgdts):
    """dts_ddl_command keeps a DDL row while any pgdts slot may still decode
    it: releasing one task keeps the rows the other has not passed; releasing
    the last one empties the table."""
    dest2 = make_cluster("dst", "app_copy2")
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY)")
    dest2.sql("CREATE TABLE t (id int PRIMARY KEY)")
    ahead = pgdts.sync(source, dest, task="ahead")
    behind = pgdts.sync(source, dest2, task="behind")
    behind.stop()  # its slot stays before the DDL below
    source.sql("ALTER TABLE t ADD COLUMN note text")
    source.sql("CREATE INDEX t_note ON t (note)")
    wait_caught_up(source, dest, ahead)
    ahead.stop()
    assert source.one("SELECT count(*) FROM pgdts.dts_ddl_command") >= 2

    assert pgdts.release(source, dest, task="ahead").returncode == 0
    # "behind" has not decoded them yet: they stay.
    assert source.one("SELECT count(*) FROM pgdts.dts_ddl_command") >= 2

    behind = pgdts.sync(source, dest2, task="behind")
    wait_caught_up(source, dest2, behind)
    assert dest2.one("SELECT count(*) FROM pg_indexes WHERE indexname = 't_note'") == 1
    behind.stop()
    assert pgdts.release(source, dest2, task="behind").returncode == 0
    assert source.one("SELECT count(*) FROM pgdts.dts_ddl_command") == 0
