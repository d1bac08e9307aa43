"""DDL on the source while full sync copies. A table being copied holds the
worker's lock, so its ALTER TABLE waits for the copy and is replayed from the
stream after it: ADD COLUMN and DROP COLUMN end equal. A table not copied yet
whose columns change cannot be copied into the table the snapshot described:
the task stops (not retried) with a line naming the table, and a second run
stops the same way instead of retrying for ever."""

import time

import compare_rows
import processes


def _copying(app, source, timeout=60):
    """Until a full sync worker's COPY of the table runs on the source."""
    deadline = time.monotonic() + timeout
    while source.one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%big%'") == 0:
        assert time.monotonic() < deadline, app.log_tail()
        time.sleep(0.05)


def test_add_column_on_the_table_being_copied_is_replayed_after_its_copy(pgdts, source, dest):
    source.sql("CREATE TABLE public.big (id int PRIMARY KEY, v text)")
    source.sql("INSERT INTO public.big SELECT g, repeat('x', 200) FROM generate_series(1, 60000) g")
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--tables", "public.big", "--jobs", "1", "--full-rps", "10000"])
    _copying(app, source)
    source.sql("ALTER TABLE public.big ADD COLUMN extra int DEFAULT 7")
    source.sql("INSERT INTO public.big VALUES (100001, 'new', 8)")
    app.wait_phase("incremental", timeout=120)
    processes.wait_caught_up(source, dest, app)
    assert "event=ddl_replayed" in app.logs()
    app.stop()
    compare_rows.assert_tables_equal(source, dest, ["public.big"])


def test_drop_column_on_the_table_being_copied_is_replayed_after_its_copy(pgdts, source, dest):
    source.sql("CREATE TABLE public.big (id int PRIMARY KEY, v text, gone int)")
    source.sql("INSERT INTO public.big SELECT g, repeat('x', 200), g FROM generate_series(1, 60000) g")
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--tables", "public.big", "--jobs", "1", "--full-rps", "10000"])
    _copying(app, source)
    source.sql("ALTER TABLE public.big DROP COLUMN gone")
    source.sql("INSERT INTO public.big VALUES (100001, 'new')")
    app.wait_phase("incremental", timeout=120)
    processes.wait_caught_up(source, dest, app)
    assert "event=ddl_replayed" in app.logs()
    app.stop()
    compare_rows.assert_tables_equal(source, dest, ["public.big"])


def test_columns_changed_on_a_table_not_yet_copied_stop_the_task_naming_it(pgdts, source, dest):
    source.sql("CREATE TABLE public.big (id int PRIMARY KEY, v text)")
    source.sql("INSERT INTO public.big SELECT g, repeat('x', 200) FROM generate_series(1, 60000) g")
    source.sql("CREATE TABLE public.later (id int PRIMARY KEY, v text, gone int)")
    source.sql("INSERT INTO public.later SELECT g, 'l', g FROM generate_series(1, 1000) g")
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--tables", "public.big,public.later", "--jobs", "1", "--full-rps", "10000"])
    _copying(app, source)
    source.sql("ALTER TABLE public.later DROP COLUMN gone")
    source.sql("ALTER TABLE public.later ADD COLUMN extra int DEFAULT 7")
    source.sql("INSERT INTO public.later VALUES (100001, 'new', 8)")
    assert app.wait_exit(120) == 1, app.log_tail()
    line = app.logs().strip().splitlines()[-1]
    assert "public.later" in line and "columns changed on the source" in line, line
    assert "event=apply_failed" not in app.logs(), "the change was retried"
    # big was copied and stays so; the second run stops at later again.
    again = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                       extra_args=["--tables", "public.big,public.later", "--jobs", "1"])
    assert again.wait_exit(120) == 1, again.log_tail()
    assert "public.later" in again.logs().strip().splitlines()[-1]
    assert "lacks" in again.logs(), again.log_tail()
    assert dest.one("SELECT count(*) FROM public.big") == 60000
