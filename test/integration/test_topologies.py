"""Several tasks at once: one source to two destinations (a slot each), two
source databases into one destination (an origin each), and two tasks in
opposite directions, which must not loop (changes replayed by pgdts carry its
origin and are not sent again)."""

from compare_rows import assert_tables_equal
from processes import origin_exists, run_on_both, slot_row, wait_caught_up


def test_one_source_to_two_destinations_each_with_its_own_slot(source, make_cluster, pgdts):
    dests = [make_cluster("dst", "app_copy"), make_cluster("dst", "app_copy2")]
    for d in [source] + dests:
        d.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    apps = [pgdts.sync(source, dests[0], task="east"), pgdts.sync(source, dests[1], task="west")]
    source.sql("INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 500) i")
    source.sql("UPDATE t SET v = 'changed' WHERE id % 7 = 0")
    source.sql("DELETE FROM t WHERE id % 11 = 0")
    for app in apps:
        wait_caught_up(source, app.dest, app)
    # Verified while both tasks run (their heartbeats keep the origins moving).
    for d, task in zip(dests, ["east", "west"]):
        pgdts.assert_verified_equal(source, d, task)
    for app in apps:
        app.stop()
    for d in dests:
        assert_tables_equal(source, d, ["t"])
    assert slot_row(source, "dts_sync_east") and slot_row(source, "dts_sync_west")


def test_two_source_databases_into_one_destination_each_with_its_own_origin(source, dest, pgdts):
    source.create_database("app2")
    second = source.with_db("app2")
    second.sql("CREATE EXTENSION pgdts")
    source.sql("CREATE TABLE orders (id int PRIMARY KEY, v text)")
    second.sql("CREATE TABLE customers (id int PRIMARY KEY, v text)")
    dest.sql("CREATE TABLE orders (id int PRIMARY KEY, v text); "
             "CREATE TABLE customers (id int PRIMARY KEY, v text)")
    apps = [pgdts.sync(source, dest, task="one"), pgdts.sync(second, dest, task="two")]
    for i in range(20):
        source.sql("INSERT INTO orders VALUES (%s, 'o')", [i])
        second.sql("INSERT INTO customers VALUES (%s, 'c')", [i])
    second.sql("UPDATE customers SET v = 'changed' WHERE id < 5")
    for app in apps:
        wait_caught_up(app.source, dest, app)
    # Verified while both tasks run: each compares the tables of its own source.
    pgdts.assert_verified_equal(source, dest, "one")
    pgdts.assert_verified_equal(second, dest, "two")
    for app in apps:
        app.stop()
    assert_tables_equal(source, dest, ["orders"])
    assert_tables_equal(second, dest, ["customers"])
    assert origin_exists(dest, "pgdts_one") and origin_exists(dest, "pgdts_two")


def test_tasks_in_both_directions_do_not_loop(make_cluster, pgdts):
    """A -> B and B -> A on one table, each side writing its own keys: every
    row ends up on both sides once, and nothing comes back around."""
    a = make_cluster("src", "app", logical=True, extension=True)
    b = make_cluster("dst", "app_copy", logical=True, extension=True)
    run_on_both(a, b, "CREATE TABLE t (id int PRIMARY KEY, side text, n int)")
    ab = pgdts.sync(a, b, task="a_to_b")
    ba = pgdts.sync(b, a, task="b_to_a")
    for i in range(50):
        a.sql("INSERT INTO t VALUES (%s, 'a', 0)", [i])
        b.sql("INSERT INTO t VALUES (%s, 'b', 0)", [1000 + i])
    a.sql("UPDATE t SET n = n + 1 WHERE id < 10")            # A updates its own rows
    b.sql("UPDATE t SET n = n + 1 WHERE id >= 1040")          # B updates its own rows
    for _ in range(2):   # twice: anything echoed by one direction would show in the second round
        wait_caught_up(a, b, ab)
        wait_caught_up(b, a, ba)
    ab.stop()
    ba.stop()
    assert_tables_equal(a, b, ["t"])
    assert a.one("SELECT count(*) FROM t") == 100
    assert a.one("SELECT sum(n) FROM t") == 20


def test_a_table_fed_by_two_tasks_is_refused_by_precheck(source, dest, pgdts):
    source.create_database("app2")
    second = source.with_db("app2")
    second.sql("CREATE EXTENSION pgdts")
    for c in (source, second):
        c.sql("CREATE TABLE shared (id int PRIMARY KEY, v text); CREATE TABLE own (id int PRIMARY KEY)")
    dest.sql("CREATE TABLE shared (id int PRIMARY KEY, v text); CREATE TABLE own (id int PRIMARY KEY)")
    one = pgdts.sync(source, dest, task="one")

    args = ["--source", second.conninfo(), "--target", dest.conninfo(), "--task", "two",
            "--phases", "incremental"]
    r = pgdts.run(["precheck", *args])
    assert r.returncode == 1, r.stdout + r.stderr
    fail = [line for line in r.stdout.splitlines() if "tables_of_other_tasks" in line]
    assert fail and fail[0].startswith("FAIL"), r.stdout
    assert "public.shared (task one)" in fail[0] and "public.own (task one)" in fail[0], fail[0]

    r = pgdts.run(["sync", *args], timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "already fed by another task" in r.stderr, r.stderr
    assert second.one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dts_sync_two'") == 0

    # Disjoint tables: accepted.
    r = pgdts.run(["precheck", *args, "--exclude", "public.shared,public.own"])
    assert "tables_of_other_tasks" in r.stdout and "FAIL  tables_of_other_tasks" not in r.stdout, r.stdout

    # Once the first task is released, its tables are free again.
    one.stop()
    assert pgdts.release(source, dest, task="one").returncode == 0
    # The last task gone, release drops the whole pgdts schema.
    assert dest.one("SELECT to_regclass('pgdts.task_table')") is None
    r = pgdts.run(["precheck", *args])
    assert "FAIL  tables_of_other_tasks" not in r.stdout, r.stdout


def test_forward_origins_cascades_a_to_b_to_c_and_the_default_leaves_replicated_changes_out(
        make_cluster, pgdts):
    """A -> B -> C with --forward-origins on the second hop: C gets A's changes
    and DDL (which reached B by replication) and B's own. A task from B
    without the option (B -> D) gets B's own changes only, as two-way setups
    need."""
    a = make_cluster("src", "app", logical=True, extension=True)
    b = make_cluster("dst", "app_b", logical=True, extension=True)
    c = make_cluster("dst", "app_c")
    d = make_cluster("dst", "app_d")
    for node in (a, b, c, d):
        node.sql("CREATE TABLE t (id int PRIMARY KEY, side text, n int)")
    ab = pgdts.sync(a, b, task="a_to_b")
    bc = pgdts.sync(b, c, task="b_to_c", extra_args=["--forward-origins"])
    bd = pgdts.sync(b, d, task="b_to_d")
    # B's own rows first: written after A's ALTER had reached B they would
    # carry its column, which B -> D (no --forward-origins) never replays.
    b.sql("INSERT INTO t SELECT i, 'b', 0 FROM generate_series(1001, 1050) i")
    a.sql("INSERT INTO t SELECT i, 'a', 0 FROM generate_series(1, 200) i")
    a.sql("UPDATE t SET n = n + 1 WHERE id <= 20")
    a.sql("DELETE FROM t WHERE id > 190")
    a.sql("ALTER TABLE t ADD COLUMN note text")
    a.sql("UPDATE t SET note = 'from a' WHERE id <= 5")
    wait_caught_up(a, b, ab)
    wait_caught_up(b, c, bc)
    wait_caught_up(b, d, bd)
    for app in (ab, bc, bd):
        app.stop()
    assert_tables_equal(b, c, ["t"])
    assert c.one("SELECT count(*) FROM t WHERE side = 'a'") == 190
    assert c.one("SELECT sum(n) FROM t") == 20
    assert c.one("SELECT count(*) FROM t WHERE note = 'from a'") == 5
    assert d.sql("SELECT side, count(*) FROM t GROUP BY side") == [("b", 50)]
