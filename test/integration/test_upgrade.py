"""Upgrades: `ALTER EXTENSION pgdts UPDATE` from the released extension
version (0.1) to the next while a task runs; an extension newer than pgdts
knows, and a pgdts and a plugin of different record format versions
(proto/pgdts.proto, FORMAT_VERSION): sync stops at once with one line saying
which side to upgrade, never retrying.

A pgdts of another record format is played by this one with the environment
variable PGDTS_FORMAT_VERSION (it then asks for, and reads, that version only):
one above the plugin's plays a newer pgdts against an older plugin, one below
an older pgdts against a newer plugin."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from compare_rows import assert_tables_equal
from processes import REPO, wait_caught_up

FORMAT_VERSION = int(re.search(r"\bFORMAT_VERSION = (\d+);",
                               (REPO / "proto" / "pgdts.proto").read_text()).group(1))


def extversion(source) -> str:
    return source.one("SELECT extversion FROM pg_extension WHERE extname = 'pgdts'")


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("pgdts: error:")]


def test_alter_extension_update_from_0_1_while_a_task_runs_keeps_rows_and_ddl_flowing(
        source, dest, pgdts):
    source.sql("DROP EXTENSION pgdts")
    source.sql("CREATE EXTENSION pgdts VERSION '0.1'")
    assert extversion(source) == "0.1"
    for c in (source, dest):
        c.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    app = pgdts.sync(source, dest)
    warnings = [line for line in app.logs().splitlines() if "event=source_check" in line]
    assert len(warnings) == 1 and "is version 0.1" in warnings[0] and \
        "ALTER EXTENSION pgdts UPDATE" in warnings[0], warnings

    # on 0.1: rows, and DDL captured into 0.1's dts_ddl_command
    source.sql("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g")
    source.sql("ALTER TABLE t ADD COLUMN on_0_1 int")
    source.sql("UPDATE t SET on_0_1 = id WHERE id <= 50")
    wait_caught_up(source, dest, app)

    source.sql("ALTER EXTENSION pgdts UPDATE TO '0.2'")
    assert extversion(source) == "0.2"

    # on 0.2, the same running task: rows, and DDL with 0.2's fields
    source.sql("INSERT INTO t SELECT g, 'after' FROM generate_series(101, 200) g")
    source.sql("ALTER TABLE t ADD COLUMN on_0_2 text DEFAULT 'd'")
    source.sql("UPDATE t SET on_0_2 = 'u' WHERE id % 3 = 0")
    wait_caught_up(source, dest, app)

    assert app.alive(), f"pgdts sync exited during the update; log tail:\n{app.log_tail()}"
    assert dest.sql("SELECT attname FROM pg_attribute WHERE attrelid = 't'::regclass "
                    "AND attnum > 0 AND NOT attisdropped ORDER BY attnum") == \
        [("id",), ("v",), ("on_0_1",), ("on_0_2",)]
    assert_tables_equal(source, dest, ["t"])
    assert source.one("SELECT settings IS NOT NULL FROM pgdts.dts_ddl_command "
                      "WHERE statement LIKE '%on_0_2%' ORDER BY id DESC LIMIT 1"), \
        "DDL captured after the update lacks 0.2's settings column"

    # on to 0.3, the current version, still the same running task
    source.sql("ALTER EXTENSION pgdts UPDATE")
    assert extversion(source) == "0.3"
    source.sql("INSERT INTO t (id, v) SELECT g, 'on 0.3' FROM generate_series(201, 300) g")
    source.sql("ALTER TABLE t ADD COLUMN on_0_3 int")
    wait_caught_up(source, dest, app)
    assert app.alive(), f"pgdts sync exited during the update; log tail:\n{app.log_tail()}"
    assert_tables_equal(source, dest, ["t"])
    app.stop()


def test_extension_newer_than_pgdts_knows_stops_sync_with_one_line_naming_pgdts(
        source, dest, pgdts):
    # as a later release's ALTER EXTENSION pgdts UPDATE would leave it
    source.sql("UPDATE pg_extension SET extversion = '9.9' WHERE extname = 'pgdts'")
    app = pgdts.sync(source, dest, wait_ready=False)
    status = app.wait_exit(timeout=60)
    errors = error_lines(app.logs())
    assert status == 1, f"exit status {status}; log tail:\n{app.log_tail()}"
    assert len(errors) == 1, f"want one error line, got {errors}"
    assert "is version 9.9, newer than this pgdts knows" in errors[0] and \
        "upgrade pgdts (package pgdts)" in errors[0], errors[0]


@pytest.mark.parametrize("offset, upgrade", [
    (+1, "upgrade the pgdts extension on the source"),
    (-1, "upgrade pgdts, the applier"),
], ids=["pgdts_newer_than_plugin", "pgdts_older_than_plugin"])
def test_record_format_mismatch_stops_sync_with_one_line_naming_the_side_to_upgrade(
        source, dest, pgdts, offset, upgrade):
    asked = FORMAT_VERSION + offset
    app = pgdts.sync(source, dest, wait_ready=False, env={"PGDTS_FORMAT_VERSION": str(asked)})
    status = app.wait_exit(timeout=60)
    errors = error_lines(app.logs())
    assert status == 1, f"exit status {status}; log tail:\n{app.log_tail()}"
    assert len(errors) == 1, f"want one error line, got {errors}; log tail:\n{app.log_tail()}"
    assert (f"writes record format version {FORMAT_VERSION}, this pgdts reads {asked}: "
            f"{upgrade}") in errors[0], errors[0]
    assert "retry_in" not in app.logs(), "a format mismatch was retried"


def test_stream_of_a_newer_pgdts_stops_with_the_same_line(source, pgdts):
    asked = FORMAT_VERSION + 1
    r = subprocess.run([pgdts.binary, "stream", "--source", source.conninfo(), "--task", "it",
                        "--create-slot", "--idle-exit", "5"], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PGDTS_FORMAT_VERSION": str(asked)})
    assert r.returncode == 1, (r.returncode, r.stderr)
    errors = error_lines(r.stderr)
    assert len(errors) == 1 and "upgrade the pgdts extension on the source" in errors[0], r.stderr


def test_version_prints_the_release_from_debian_changelog_and_the_record_format(pgdts):
    r = pgdts.run(["--version"])
    release = re.match(r"pgdts \(([^)]+)\)", (REPO / "debian" / "changelog").read_text()).group(1)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"pgdts {release}\nrecord format version {FORMAT_VERSION}\n", r.stdout
    # PGXN's metadata follows the release too
    meta = json.loads((REPO / "META.json").read_text())
    assert meta["version"] == release, f"META.json says {meta['version']}, debian/changelog {release}"
