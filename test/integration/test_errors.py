"""Startup problems end with exactly one clear line `pgdts: error: ...` on
stderr and exit status 1 (2 for bad usage), within a bounded time: never a
hang, a crash or a stack of messages.  Passwords never appear in any output."""

import time

import pytest

import processes
from processes import pgbin

TIMEOUT = 30
PASSWORD = "Sekr1tPass"


def _sync_args(source_conninfo, target_conninfo, task="e"):
    return ["sync", "--source", source_conninfo, "--target", target_conninfo, "--task", task,
            "--phases", "incremental"]


def _error_line(result, status, *mentions):
    """Assert the exit status and exactly one `pgdts: error:` line on stderr
    mentioning each of `mentions` (case-insensitive); return that line."""
    shown = f"exit status {result.returncode}\nstdout:\n{processes.tail(result.stdout, 15)}\n" \
            f"stderr:\n{processes.tail(result.stderr, 15)}"
    assert result.returncode == status, f"expected exit status {status}; {shown}"
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("pgdts: error:")]
    assert len(lines) == 1, f"expected exactly one 'pgdts: error:' line on stderr; {shown}"
    for m in mentions:
        assert m.lower() in lines[0].lower(), f"error line does not mention {m!r}: {lines[0]}"
    return lines[0]


@pytest.mark.parametrize("side", ["source", "target"])
def test_malformed_conninfo_exits_2(make_cluster, pgdts, side):
    dest = make_cluster("dst", "app_copy")
    bad = "host=127.0.0.1 this is not a conninfo"
    good = dest.conninfo()
    args = _sync_args(bad, good) if side == "source" else _sync_args(good, bad)
    _error_line(pgdts.run(args, timeout=TIMEOUT), 2)


@pytest.mark.parametrize("side", ["source", "target"])
def test_unreachable_port_exits_1(source, dest, pgdts, side):
    nowhere = f"host=127.0.0.1 port={processes.free_port()} dbname=app user=postgres connect_timeout=5"
    args = (_sync_args(nowhere, dest.conninfo()) if side == "source"
            else _sync_args(source.conninfo(), nowhere))
    _error_line(pgdts.run(args, timeout=TIMEOUT), 1)


def test_source_without_extension_exits_1_naming_create_extension(make_cluster, pgdts):
    dest = make_cluster("dst", "app_copy")
    bare = make_cluster("src", "app", logical=True, extension=False)
    result = pgdts.run(_sync_args(bare.conninfo(), dest.conninfo()), timeout=TIMEOUT)
    _error_line(result, 1, "CREATE EXTENSION pgdts")
    assert processes.slot_row(bare, "dts_sync_e") is None, "a slot was left behind"


def test_source_with_wal_level_replica_exits_1_naming_wal_level(make_cluster, pgdts):
    dest = make_cluster("dst", "app_copy")
    # pgdts is an allowed plugin there: wal_level is the only problem.
    replica = make_cluster("src", "app", logical=True, conf={"wal_level": "replica"}, extension=True)
    result = pgdts.run(_sync_args(replica.conninfo(), dest.conninfo()), timeout=TIMEOUT)
    _error_line(result, 1, "wal_level")


def test_source_not_allowing_pgdts_plugin_exits_1_naming_output_plugin_libraries(make_cluster, pgdts):
    dest = make_cluster("dst", "app_copy")
    strict = make_cluster("src", "app", logical=True, extension=True,
                          conf={"output_plugin_libraries": "'pgoutput, test_decoding'"})
    result = pgdts.run(_sync_args(strict.conninfo(), dest.conninfo()), timeout=TIMEOUT)
    _error_line(result, 1, "output_plugin_libraries")


def test_slot_held_by_another_process_exits_1_naming_the_slot(source, dest, pgdts, background):
    slot = "dts_sync_held"
    source.sql("SELECT pg_create_logical_replication_slot(%s, 'pgdts')", [slot])
    holder = background.start("pg_recvlogical", [
        pgbin("pg_recvlogical"), "-d", source.conninfo(), "-S", slot, "--start", "-f", "/dev/null"])
    deadline = time.monotonic() + 30
    while processes.slot_row(source, slot)[2] is None:
        assert holder.poll() is None, f"pg_recvlogical exited: {background.output(holder)}"
        assert time.monotonic() < deadline, "pg_recvlogical never took the slot"
        time.sleep(0.1)
    started = time.monotonic()
    result = pgdts.run(_sync_args(source.conninfo(), dest.conninfo(), task="held"), timeout=TIMEOUT)
    print(f"pgdts exited {result.returncode} after {time.monotonic() - started:.1f} s")
    _error_line(result, 1, slot)
    assert holder.poll() is None, ("pg_recvlogical lost the slot (pgdts must not take it): "
                                   f"{background.output(holder)}\nslot: {processes.slot_row(source, slot)}")


@pytest.mark.parametrize("command,form", [
    ("sync", "keyword"), ("sync", "uri"), ("sync", "target"), ("stream", "keyword"),
    ("release", "uri"),
])
def test_password_never_printed(make_cluster, pgdts, command, form):
    """Unreachable servers, conninfos carrying a password: whatever the
    commands print, the password is not in it."""
    port = processes.free_port()
    keyword = f"host=127.0.0.1 port={port} dbname=app user=postgres password={PASSWORD} connect_timeout=5"
    uri = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/app?connect_timeout=5"
    if form == "target":
        reachable = make_cluster("src", "app", logical=True, extension=True)
        source, target = reachable.conninfo(), keyword
    else:
        source = target = keyword if form == "keyword" else uri
    if command == "sync":
        args = _sync_args(source, target)
    elif command == "stream":
        args = ["stream", "--source", source, "--task", "e", "--idle-exit", "1"]
    else:
        args = ["release", "--source", source, "--target", target, "--task", "e"]
    result = pgdts.run(args + ["--log-level", "debug"], timeout=TIMEOUT)
    assert PASSWORD not in result.stdout, f"password printed on stdout:\n{result.stdout}"
    assert PASSWORD not in result.stderr, f"password printed on stderr:\n{result.stderr}"
    _error_line(result, 1)
