"""Retries: a destination or source that goes away and comes back is waited
for and the sync resumes by itself, nothing lost or doubled; one that stays
away ends the run once its retry window is used up (exit 1, the reason on one
line and in `pgdts status`, the task's position unchanged so that a later
sync resumes from it); SIGTERM while the apply session waits on a
destination lock rolls the open transaction back and exits 0.

The retry windows are minutes long; PGDTS_TEST_RETRY_MINUTE_SECONDS=1 (read
by pgdts itself, test-only) makes each of their minutes one second."""

import time

import pytest

from outages import (DDL, RowWriter, assert_origin_before, assert_resumes_from,
                     assert_status_shows, error_line, origin_lsn, status_text, verify_equal,
                     write_rows)
from processes import current_wal_lsn, run_on_both, wait_caught_up

@pytest.fixture
def minute_is_a_second(monkeypatch):
    monkeypatch.setenv("PGDTS_TEST_RETRY_MINUTE_SECONDS", "1")


# ---------------------------------------------------------------------------
# outages that end


def test_destination_stopped_20s_sync_resumes_by_itself(source, dest, pgdts):
    run_on_both(source, dest, DDL)
    app = pgdts.sync(source, dest)
    write_rows(source, 1, 100)                   # before
    wait_caught_up(source, dest, app)
    dest.stop()
    writer = RowWriter(source, 1000)              # during
    write_rows(source, 101, 200)
    time.sleep(20)
    assert app.alive(), f"pgdts sync gave up during a 20 s outage; log tail:\n{app.log_tail()}"
    dest.start()
    write_rows(source, 201, 300)                 # after
    last = writer.stop()
    assert last > 1000, "the writer wrote nothing during the outage"
    wait_caught_up(source, dest, app, timeout=120)
    assert "event=apply_failed kind=connection" in app.logs()
    # The restart released the task's lock on the destination; it was taken
    # again, so a second process for the task is still refused.
    second = pgdts.sync(source, dest, wait_ready=False)
    assert second.wait_exit(60) == 1, second.log_tail()
    assert "is being run by another pgdts process" in second.logs(), second.log_tail()
    app.stop()
    verify_equal(pgdts, source, dest)
    assert dest.one("SELECT count(*) FROM h") == 300 + (last - 1000)


def test_source_stopped_briefly_sync_resumes_by_itself(source, dest, pgdts):
    run_on_both(source, dest, DDL)
    app = pgdts.sync(source, dest)
    write_rows(source, 1, 100)
    wait_caught_up(source, dest, app)
    source.stop()
    time.sleep(5)
    source.start()
    write_rows(source, 101, 200)
    wait_caught_up(source, dest, app, timeout=120)
    app.stop()
    verify_equal(pgdts, source, dest)
    assert dest.one("SELECT count(*) FROM h") == 200


# ---------------------------------------------------------------------------
# retry windows that end


def test_destination_that_stays_away_ends_the_run_after_the_connection_window(
        source, dest, pgdts, minute_is_a_second):
    run_on_both(source, dest, DDL)
    app = pgdts.sync(source, dest, extra_args=["--retry-connection", "10", "--retry-other", "1"])
    write_rows(source, 1, 100)
    wait_caught_up(source, dest, app)
    dest.stop()
    write_rows(source, 101, 200)                 # kept by the slot
    written = current_wal_lsn(source)
    assert app.wait_exit(120) == 1, app.log_tail()
    line = error_line(app)
    assert "destination" in line, line
    assert "retried for 10 minutes (--retry-connection), giving up" in line, line
    dest.start()
    origin = assert_origin_before(dest, written)
    assert dest.one("SELECT count(*) FROM h") == 100
    app = pgdts.sync(source, dest)
    assert_resumes_from(app, origin)
    wait_caught_up(source, dest, app)
    app.stop()
    verify_equal(pgdts, source, dest)
    assert dest.one("SELECT count(*) FROM h") == 200


def test_source_that_stays_away_ends_the_run_and_status_says_why(
        source, dest, pgdts, minute_is_a_second):
    run_on_both(source, dest, DDL)
    app = pgdts.sync(source, dest, extra_args=["--retry-connection", "10", "--retry-other", "1"])
    write_rows(source, 1, 100)
    wait_caught_up(source, dest, app)
    source.stop()
    assert app.wait_exit(120) == 1, app.log_tail()
    line = error_line(app)
    assert "source" in line, line
    giving_up = "retried for 10 minutes (--retry-connection), giving up"
    assert giving_up in line, line
    reason = line.removeprefix("pgdts: error: ")
    assert_status_shows(pgdts, dest, reason)
    origin = origin_lsn(dest)
    source.start()
    write_rows(source, 101, 200)
    app = pgdts.sync(source, dest)
    assert_resumes_from(app, origin)
    wait_caught_up(source, dest, app)
    app.stop()
    verify_equal(pgdts, source, dest)
    assert dest.one("SELECT count(*) FROM h") == 200
    assert "last error:" not in status_text(pgdts, dest)   # a new run starts with a clean slate


def test_connections_that_are_made_then_lost_still_use_up_the_window(
        source, dest, pgdts, minute_is_a_second):
    """Each retry connects and starts streaming, then loses its destination
    connection on the same row: starting to stream is no success, so the
    window ends all the same."""
    run_on_both(source, dest, DDL)
    dest.sql("CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS "
             "$$BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END$$;"
             "CREATE TRIGGER t_die BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION die();"
             "ALTER TABLE t ENABLE ALWAYS TRIGGER t_die")   # fires under replica role too
    app = pgdts.sync(source, dest, extra_args=["--retry-connection", "10", "--retry-other", "1"])
    write_rows(source, 1, 100)
    written = current_wal_lsn(source)
    assert app.wait_exit(120) == 1, app.log_tail()
    line = error_line(app)
    # the FATAL, or the lost connection behind it when libpq saw that first
    assert line.startswith("pgdts: error: destination: "), line
    assert "retried for 10 minutes (--retry-connection), giving up" in line, line
    assert app.logs().count("event=apply_started") >= 3, app.log_tail()
    assert_status_shows(pgdts, dest, line.removeprefix("pgdts: error: "))
    origin = assert_origin_before(dest, written)
    dest.sql("DROP TRIGGER t_die ON t")
    app = pgdts.sync(source, dest)
    assert_resumes_from(app, origin)
    wait_caught_up(source, dest, app)
    app.stop()
    verify_equal(pgdts, source, dest)
    assert dest.one("SELECT count(*) FROM h") == 100


def test_other_error_ends_the_run_after_the_other_window(source, dest, pgdts, minute_is_a_second):
    run_on_both(source, dest, DDL)
    app = pgdts.sync(source, dest, extra_args=["--retry-connection", "10", "--retry-other", "1"])
    write_rows(source, 1, 100)
    wait_caught_up(source, dest, app)
    dest.sql("ALTER TABLE t ALTER COLUMN v TYPE int USING 0")   # incompatible: 'v101' is no int
    write_rows(source, 101, 200)
    written = current_wal_lsn(source)
    assert app.wait_exit(120) == 1, app.log_tail()
    line = error_line(app)
    assert "invalid input syntax for type integer" in line, line
    assert "retried for 1 minute (--retry-other), giving up" in line, line
    assert_status_shows(pgdts, dest, line.removeprefix("pgdts: error: "))
    origin = assert_origin_before(dest, written)
    assert dest.one("SELECT count(*) FROM h") == 100
    dest.sql("ALTER TABLE t ALTER COLUMN v TYPE text")
    dest.sql("UPDATE t SET v = 'v' || id")
    app = pgdts.sync(source, dest)
    assert_resumes_from(app, origin)
    wait_caught_up(source, dest, app)
    app.stop()
    verify_equal(pgdts, source, dest)
    assert dest.one("SELECT count(*) FROM h") == 200


# ---------------------------------------------------------------------------
# stops that never hang


def _wait_for_lock_wait(dest, app, timeout=60):
    """Until a pgdts session on the destination waits for a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dest.one("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgdts_it'"
                    " AND wait_event_type = 'Lock'"):
            return
        assert app.alive(), f"pgdts sync exited; log tail:\n{app.log_tail()}"
        time.sleep(0.1)
    raise AssertionError(f"no pgdts session waited for the lock; log tail:\n{app.log_tail()}")


def test_sigterm_while_waiting_on_a_destination_lock_rolls_back_and_exits_0(source, dest, pgdts):
    run_on_both(source, dest, DDL)
    app = pgdts.sync(source, dest)
    write_rows(source, 1, 100)
    wait_caught_up(source, dest, app)
    with dest.connect(autocommit=False, comparable=False) as locker:
        locker.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        write_rows(source, 101, 200)             # the insert into t waits for the lock
        written = current_wal_lsn(source)
        _wait_for_lock_wait(dest, app)
        app.stop(timeout=60)                      # exit 0, the lock still held
        assert locker.execute("SELECT 1").fetchone() == (1,)
        assert "transaction_rolled_back" in app.logs()
        origin = assert_origin_before(dest, written)
        locker.rollback()
    assert dest.one("SELECT count(*) FROM t") == 100   # rolled back, not committed once unlocked
    assert origin_lsn(dest) == origin
    app = pgdts.sync(source, dest)
    assert_resumes_from(app, origin)
    wait_caught_up(source, dest, app)
    app.stop()
    verify_equal(pgdts, source, dest)
    assert dest.one("SELECT count(*) FROM h") == 200


def test_sigterm_while_a_replayed_create_index_concurrently_waits_exits_0(source, dest, pgdts):
    """CREATE INDEX CONCURRENTLY runs alone on the destination; blocked by a
    lock, a stop cancels it (after the grace) instead of hanging, and the
    next start builds the index (an invalid leftover is dropped first)."""
    run_on_both(source, dest, DDL)
    app = pgdts.sync(source, dest)
    write_rows(source, 1, 50)
    wait_caught_up(source, dest, app)
    with dest.connect(autocommit=False, comparable=False) as locker:
        locker.execute("LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE")
        source.sql("CREATE INDEX CONCURRENTLY t_v ON t (v)")
        _wait_for_lock_wait(dest, app)
        app.stop(timeout=60)                      # exit 0, the lock still held
        assert locker.execute("SELECT 1").fetchone() == (1,)
        locker.rollback()
    app = pgdts.sync(source, dest)
    write_rows(source, 51, 60)
    wait_caught_up(source, dest, app)
    app.stop()
    assert dest.one("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = 'public.t_v'::regclass")
    verify_equal(pgdts, source, dest)
