"""A change the destination refuses stops the apply at that transaction and is
retried: nothing after it is committed past it, and once the cause is gone
every source transaction is on the destination exactly once."""

import time

from compare_rows import assert_tables_equal
from processes import run_on_both, wait_caught_up


def _wait_for_log(app, needle: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while needle not in app.logs():
        assert app.alive(), f"pgdts exited:\n{app.log_tail()}"
        assert time.monotonic() < deadline, f"no {needle!r} in the log:\n{app.log_tail()}"
        time.sleep(0.2)


def test_failed_group_is_retried_not_skipped_by_the_groups_after_it(source, dest, pgdts):
    """The big transaction fills a group of its own and fails on its last row;
    the small transactions right behind it are sent in the next groups before
    the error is read. Those groups must not commit (and move the origin)
    past the failed one, or a retry would skip the big transaction."""
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    dest.sql("INSERT INTO t VALUES (15000, 'only on the destination')")
    app = pgdts.sync(source, dest)
    with source.connect() as conn:           # autocommit: one transaction each
        conn.execute("INSERT INTO t SELECT i, 'big' FROM generate_series(1, 15000) i")
        for i in range(20001, 20051):
            conn.execute("INSERT INTO t VALUES (%s, 'small')", (i,))
    _wait_for_log(app, "apply_failed")
    assert dest.one("SELECT count(*) FROM t WHERE v = 'big'") == 0
    assert dest.one("SELECT count(*) FROM t WHERE v = 'small'") == 0, \
        "transactions after the failed one were committed past it"
    dest.sql("DELETE FROM t WHERE id = 15000")   # the cause goes away; the retry succeeds
    wait_caught_up(source, dest, app, timeout=120)
    app.stop()
    assert_tables_equal(source, dest, ["t"])
    assert dest.one("SELECT count(*) FROM t") == 15050
