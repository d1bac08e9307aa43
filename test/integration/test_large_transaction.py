"""One source transaction of 2,000,000 rows: replayed whole, and without the
applier's memory growing with the transaction's size."""

from compare_rows import assert_tables_equal
from processes import run_on_both, wait_caught_up


def _insert_rows(source, first, count):
    source.sql(f"INSERT INTO big SELECT i, i % 1000, md5(i::text) "
               f"FROM generate_series({first}, {first + count - 1}) i")


def test_two_million_row_transaction_applies_whole_with_bounded_memory(source, dest, pgdts,
                                                                       record_property):
    run_on_both(source, dest, "CREATE TABLE big (id bigint PRIMARY KEY, grp int, payload text)")

    # Reference: a fresh applier replays a 200,000-row transaction.
    app = pgdts.sync(source, dest)
    _insert_rows(source, 1, 200_000)
    wait_caught_up(source, dest, app, timeout=300)
    peak_200k = app.peak_rss_kb()
    app.stop()
    assert dest.one("SELECT count(*) FROM big") == 200_000

    # A fresh applier (same task, resumes) replays a 2,000,000-row one.
    app = pgdts.sync(source, dest)
    _insert_rows(source, 200_001, 2_000_000)
    wait_caught_up(source, dest, app, timeout=600)
    peak_2m = app.peak_rss_kb()
    app.stop()

    print(f"applier peak RSS (VmHWM): 200k-row transaction {peak_200k} kB, "
          f"2M-row transaction {peak_2m} kB")
    record_property("applier_peak_rss_kb_200k_rows", peak_200k)
    record_property("applier_peak_rss_kb_2m_rows", peak_2m)

    assert dest.one("SELECT count(*) FROM big") == 2_200_000
    assert_tables_equal(source, dest, ["big"])
    assert peak_2m < 2 * peak_200k, (
        f"applier memory grows with transaction size: peak RSS {peak_2m} kB for 2,000,000 rows "
        f"vs {peak_200k} kB for 200,000 rows (must stay under 2x)")
