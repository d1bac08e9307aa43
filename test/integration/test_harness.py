"""The harness checks itself: a comparison that always said "equal" would make
every other test worthless, and a cluster that did not come up as configured
would test the wrong thing.  Needs neither the binary nor the extension."""

import processes
from compare_rows import assert_tables_equal, table_diff
from processes import run_on_both


def test_clusters_come_up_with_their_settings(make_cluster):
    src = make_cluster("src", "app", logical=True)
    dst = make_cluster("dst", "app_copy")
    assert src.port != dst.port
    assert src.one("SHOW wal_level") == "logical"
    assert "pgdts" in src.one("SHOW output_plugin_libraries")
    assert dst.one("SHOW wal_level") == "replica"
    assert src.one("SELECT current_user") == "postgres"
    assert src.one("SELECT current_database()") == "app"
    assert dst.one("SELECT current_database()") == "app_copy"
    # servers never run as root
    pid = src.postmaster_pid()
    assert pid and open(f"/proc/{pid}/status").read().count("Uid:\t0\t") == 0


def test_cluster_survives_immediate_restart(make_cluster):
    c = make_cluster("src", "app")
    c.sql("CREATE TABLE t (id int PRIMARY KEY)")
    c.sql("INSERT INTO t SELECT generate_series(1, 100)")
    c.restart("immediate")
    assert c.one("SELECT count(*) FROM t") == 100


def test_table_diff_reports_missing_extra_and_duplicate_rows(make_cluster):
    src = make_cluster("src", "app")
    dst = make_cluster("dst", "app_copy")
    run_on_both(src, dst, "CREATE TABLE t (id int, v text)")
    src.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (2, 'b'), (3, E'tab\\there')")
    dst.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, E'tab\\there'), (4, 'x')")
    d = table_diff(src, dst, "t")
    assert d is not None
    assert "source has 4 rows, destination 4" in d
    assert "only on source:      (2,b)" in d
    assert "only on destination: (4,x)" in d
    dst.sql("DELETE FROM t WHERE id = 4")
    dst.sql("INSERT INTO t VALUES (2, 'b')")
    assert_tables_equal(src, dst, ["t"])


def test_table_diff_sees_negative_zero_and_trailing_spaces(make_cluster):
    src = make_cluster("src", "app")
    dst = make_cluster("dst", "app_copy")
    run_on_both(src, dst, "CREATE TABLE t (f float8, s text)")
    src.sql("INSERT INTO t VALUES ('-0', 'a ')")
    dst.sql("INSERT INTO t VALUES ('0', 'a ')")
    assert table_diff(src, dst, "t") is not None
    dst.sql("UPDATE t SET f = '-0'")
    assert table_diff(src, dst, "t") is None
    dst.sql("UPDATE t SET s = 'a'")
    assert table_diff(src, dst, "t") is not None


def test_pgbench_runs_against_a_cluster(make_cluster):
    c = make_cluster("src", "app")
    processes.run_pgbench(c, "-i", "-s", "1", "-q")
    processes.run_pgbench(c, "-n", "-c", "2", "-j", "2", "-t", "50")
    assert c.one("SELECT count(*) FROM pgbench_history") == 100


def test_source_fixture_is_configured_as_the_readme_says(source, dest):
    """wal_level, allowed plugin, preloaded library, extension in schema pgdts."""
    assert source.one("SHOW wal_level") == "logical"
    assert "pgdts" in source.one("SHOW output_plugin_libraries")
    assert source.one("SHOW session_preload_libraries") == "pgdts"
    assert source.one("SELECT extnamespace::regnamespace::text FROM pg_extension "
                      "WHERE extname = 'pgdts'") == "pgdts"
    assert dest.one("SELECT count(*) FROM pg_extension WHERE extname = 'pgdts'") == 0
