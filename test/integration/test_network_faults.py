"""Network faults between pgdts and the databases: pgdts runs in a network
namespace of its own with one link to the source and one to the destination
(netfaults.FaultNetwork), so each link can be cut or made lossy alone while
the source keeps being written.

- a link cut for 30 s: the sync resumes by itself, nothing lost or doubled;
- the source's link cut for longer than --retry-connection: exit 1, the
  reason on the error line and in `pgdts status`, the position kept, and the
  next run resumes from it;
- 5% packet loss each way on both links and 50 ms more round trip on each
  (a delaying proxy): nothing lost or doubled.

Needs root, iproute2 and nftables (deps.sh)."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import netfaults
from netfaults import DelayProxy, FaultNetwork
from outages import (DDL, RowWriter, assert_resumes_from, assert_status_shows, error_line,
                     origin_lsn, verify_equal, write_rows)
from processes import AS_ROOT, current_wal_lsn, run_on_both, wait_caught_up

# pgdts' defaults take about a minute to notice a dead peer (keepalives,
# tcp_user_timeout); the test that waits out a retry window takes seconds
# instead (the connection string's values win over pgdts' defaults).
QUICK_TO_NOTICE = "connect_timeout=2 keepalives_idle=1 keepalives_interval=1 " \
                  "keepalives_count=2 tcp_user_timeout=3000"


@pytest.fixture
def net():
    if not AS_ROOT:   # the suite also runs as a plain user, who may not make namespaces
        pytest.skip("network namespaces need root")
    if netfaults.missing_tools():
        pytest.fail(f"network fault tests need {' and '.join(netfaults.missing_tools())}: "
                    "run ./deps.sh as root", pytrace=False)
    network = FaultNetwork()
    yield network
    network.remove()


@pytest.fixture
def linked(net, make_cluster):
    """The source and the destination, each also listening on the root
    namespace's end of its link and trusting pgdts' address there."""
    def on_link(link):
        peer = f"{link.ns_addr}/32"
        return {"conf": {"listen_addresses": f"'127.0.0.1, {link.host_addr}'"},
                "hba": (f"host all all {peer} trust", f"host replication all {peer} trust")}

    with ThreadPoolExecutor(2) as pool:
        src = pool.submit(make_cluster, "src", "app", logical=True, extension=True,
                          **on_link(net.source))
        dst = pool.submit(make_cluster, "dst", "app_copy", **on_link(net.dest))
        started = src.result(), dst.result()
    yield started
    # A test that failed during a cut: the servers stop without waiting
    # for their dead peers' timeouts.
    net.heal()


def _conninfo(cluster, host, port=None, extra=""):
    return f"host={host} port={port or cluster.port} dbname={cluster.dbname} " \
           f"user=postgres {extra}".strip()


def _sync_across(pgdts, net, source, dest, extra_args=(), conninfo_extra="", env=None,
                 via=None):
    """pgdts sync in the fault namespace, reaching each side over its link
    (or through the proxies `via` = (source proxy, destination proxy), which
    listen on the links' host addresses)."""
    src_port, dst_port = (via[0].port, via[1].port) if via else (None, None)
    return pgdts.sync(source, dest, extra_args=list(extra_args), command_prefix=net.prefix(),
                      source_conninfo=_conninfo(source, net.source.host_addr, src_port,
                                                conninfo_extra),
                      target_conninfo=_conninfo(dest, net.dest.host_addr, dst_port,
                                                conninfo_extra),
                      env=env)


def _assert_all_rows_once(pgdts, source, dest, batches, writer_first, writer_next):
    """Every row is on the destination once: pgdts verify and the row
    comparison find the sides equal, and the keyless table has exactly the
    rows written (a change applied twice would add one)."""
    verify_equal(pgdts, source, dest)
    expected = batches + (writer_next - writer_first)
    assert dest.one("SELECT count(*) FROM h") == expected
    assert dest.one("SELECT count(DISTINCT id) FROM h") == expected


# ---------------------------------------------------------------------------
# cuts that end


@pytest.mark.parametrize("side", ["dest", "source"])
def test_link_cut_for_30s_sync_resumes_by_itself(net, linked, pgdts, side):
    source, dest = linked
    link = getattr(net, side)
    run_on_both(source, dest, DDL)
    app = _sync_across(pgdts, net, source, dest)
    write_rows(source, 1, 100)                    # before
    wait_caught_up(source, dest, app)
    net.cut(link)
    writer = RowWriter(source, 1000)              # during, and after
    write_rows(source, 101, 200)
    time.sleep(30)
    assert app.alive(), f"pgdts sync gave up during a 30 s cut; log tail:\n{app.log_tail()}"
    net.heal(link)
    write_rows(source, 201, 300)
    time.sleep(1)
    last = writer.stop()
    wait_caught_up(source, dest, app, timeout=180)
    app.stop()
    _assert_all_rows_once(pgdts, source, dest, 300, 1000, last)


# ---------------------------------------------------------------------------
# a cut that outlasts the retry window


def test_source_cut_longer_than_retry_connection_exits_1_and_next_run_resumes(
        net, linked, pgdts):
    source, dest = linked
    run_on_both(source, dest, DDL)
    args = ["--retry-connection", "10", "--retry-other", "1"]
    minute_is_a_second = {"PGDTS_TEST_RETRY_MINUTE_SECONDS": "1"}
    app = _sync_across(pgdts, net, source, dest, args, QUICK_TO_NOTICE, minute_is_a_second)
    write_rows(source, 1, 100)
    wait_caught_up(source, dest, app)
    net.cut(net.source)
    writer = RowWriter(source, 1000)
    write_rows(source, 101, 200)                  # kept by the slot
    assert app.wait_exit(120) == 1, app.log_tail()
    line = error_line(app)
    assert "source" in line, line
    assert "retried for 10 minutes (--retry-connection), giving up" in line, line
    assert_status_shows(pgdts, dest, line.removeprefix("pgdts: error: "))
    # The position kept: the destination has none of what came after the
    # cut, and its origin (where the next run starts) is before those rows.
    origin = origin_lsn(dest)
    assert dest.one("SELECT count(*) FROM h WHERE id > 100") == 0
    assert dest.one("SELECT %s::pg_lsn < %s::pg_lsn", [origin, current_wal_lsn(source)])
    net.heal(net.source)
    app = _sync_across(pgdts, net, source, dest)
    assert_resumes_from(app, origin)
    last = writer.stop()
    wait_caught_up(source, dest, app)
    app.stop()
    _assert_all_rows_once(pgdts, source, dest, 200, 1000, last)
    assert "last error:" not in pgdts.run(["status", "--target", dest.conninfo(),
                                           "--task", "it"]).stdout


# ---------------------------------------------------------------------------
# a bad network all along


def test_5pct_packet_loss_and_50ms_rtt_lose_and_double_nothing(net, linked, pgdts):
    source, dest = linked
    run_on_both(source, dest, DDL)
    proxies = [DelayProxy(link.host_addr, "127.0.0.1", cluster.port, rtt_ms=50)
               for link, cluster in ((net.source, source), (net.dest, dest))]
    try:
        net.lose(5)
        app = _sync_across(pgdts, net, source, dest, via=proxies)
        writer = RowWriter(source, 100_000, pause=0.01)
        for first in range(1, 20_001, 2_000):     # bigger transactions among the small
            write_rows(source, first, first + 1_999)
            time.sleep(1)
        last = writer.stop()
        wait_caught_up(source, dest, app, timeout=180)
        app.stop()
        assert all(p.connections for p in proxies), "pgdts did not go through the proxies"
        assert net.dropped() > 100, "the links lost (almost) no packets"
    finally:
        net.heal()
        for p in proxies:
            p.close()
    _assert_all_rows_once(pgdts, source, dest, 20_000, 100_000, last)
