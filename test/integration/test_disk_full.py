"""The destination's disk fills up (issue 14, part 5): the synced tables live
in a tablespace on a small ext4 filesystem the test mounts from a loop
device, and a ballast file takes its last free block.  pgdts must stop
applying with a message naming the cause (SQLSTATE 53100, "No space left on
device"), keep its position (the origin does not move past what could not
be written), and go on by itself once the ballast is deleted, nothing lost
or doubled.

Only the tables are on the small filesystem: the destination's WAL and
catalogs stay on the big one, as a DBA would lay it out, so that PostgreSQL
itself keeps running (a full pg_wal is a PANIC, which is another test's
business: test_retry's stopped destination)."""

import contextlib
import json
import errno
import shutil
import subprocess
import time

import pytest

from outages import RowWriter, origin_lsn, verify_equal, write_rows
from processes import AS_ROOT, SERVER_USER, current_wal_lsn, wait_caught_up

SMALL_FS_MB = 32
# The same tables as outages.DDL, on the destination in the small tablespace.
SOURCE_DDL = "CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE h (id int, v text)"
DEST_DDL = ("CREATE TABLE t (id int PRIMARY KEY USING INDEX TABLESPACE small, v text) "
            "TABLESPACE small; CREATE TABLE h (id int, v text) TABLESPACE small")


def _run(*cmd):
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    assert r.returncode == 0, f"`{' '.join(cmd)}` failed ({r.returncode}): {r.stderr.strip()}"


@pytest.fixture
def small_fs(test_dir):
    """An ext4 filesystem of SMALL_FS_MB on a loop device (mount -o loop:
    the device is detached when it is unmounted), owned by the server
    user; unmounted in the finalizer even when the test failed."""
    if not AS_ROOT:   # the suite also runs as a plain user, who may not mount
        pytest.skip("mounting a loop device needs root")
    if not shutil.which("mkfs.ext4"):
        pytest.fail("the disk full test needs mkfs.ext4: run ./deps.sh as root (e2fsprogs)",
                    pytrace=False)
    image, mount = test_dir / "small.img", test_dir / "small"
    with open(image, "wb") as f:
        f.truncate(SMALL_FS_MB << 20)
    # -m 0: no blocks reserved for root, so the ballast (root's) and the
    # server (postgres) run out at the same point.
    _run("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
    mount.mkdir()
    _run("mount", "-o", "loop", str(image), str(mount))
    try:
        (mount / "ts").mkdir()
        shutil.chown(mount / "ts", SERVER_USER, SERVER_USER)
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            # still busy (a server that did not stop): detach it lazily
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        image.unlink(missing_ok=True)


def _fill(mount):
    """Writes a ballast file until the filesystem has no block left."""
    ballast = mount / "ballast"
    chunk = b"\0" * (1 << 20)
    with open(ballast, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
        # the last partial megabyte
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 4096)
    return ballast


def _wait_for_log(app, text, timeout=60):
    deadline = time.monotonic() + timeout
    while text not in app.logs():
        assert app.alive(), f"pgdts sync exited; log tail:\n{app.log_tail()}"
        assert time.monotonic() < deadline, f"no {text!r} in the log; tail:\n{app.log_tail()}"
        time.sleep(0.2)


def test_destination_disk_full_stops_applying_says_why_and_resumes_once_space_is_freed(
        small_fs, source, dest, pgdts):
    # small_fs comes first: set up before the clusters, it is unmounted
    # after they stop.
    dest.sql(f"CREATE TABLESPACE small LOCATION '{small_fs / 'ts'}'")
    source.sql(SOURCE_DDL)
    dest.sql(DEST_DDL)
    app = pgdts.sync(source, dest)
    write_rows(source, 1, 100)
    wait_caught_up(source, dest, app)
    before = origin_lsn(dest)
    ballast = _fill(small_fs)
    writer = RowWriter(source, 100_000)
    write_rows(source, 101, 20_000)               # needs new blocks: refused
    written = current_wal_lsn(source)
    _wait_for_log(app, "sqlstate=53100")
    failed = app.events("apply_failed")
    assert "No space left on device" in failed[-1], failed[-1]
    time.sleep(5)                                  # a few retries, all refused
    assert app.alive(), app.log_tail()
    status = pgdts.run(["status", "--target", dest.conninfo(), "--task", "it", "--format", "json"])
    shown = json.loads(status.stdout)["last_error"] or ""
    # an outage like a lost connection: retried as long as one
    assert shown.startswith("retrying (--retry-connection") and "No space left on device" in shown, \
        status.stdout
    assert "kind=resource" in failed[-1], failed[-1]
    assert dest.one("SELECT %s::pg_lsn < %s::pg_lsn", [origin_lsn(dest), written]), \
        f"the origin moved past rows the destination could not write (was {before})"
    assert dest.one("SELECT count(*) FROM h WHERE id BETWEEN 101 AND 20000") == 0
    ballast.unlink()
    last = writer.stop()
    wait_caught_up(source, dest, app, timeout=120)
    status = pgdts.run(["status", "--target", dest.conninfo(), "--task", "it", "--format", "json"])
    assert json.loads(status.stdout)["last_error"] is None, status.stdout  # over: cleared
    app.stop()
    verify_equal(pgdts, source, dest)
    assert dest.one("SELECT count(*) FROM h") == 20_000 + (last - 100_000)
    assert dest.one("SELECT count(DISTINCT id) FROM h") == 20_000 + (last - 100_000)
