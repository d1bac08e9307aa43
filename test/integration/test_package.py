"""The installed Debian packages (marker `package`: test/package/run runs
these after `apt-get install ./build/deb/*.deb`, with PGDTS_BIN=/usr/bin/pgdts).

They check what the packages put on the machine, and run the service's own
command line the way systemd would (user, environment, signals): the CI
machine has no running systemd to start the unit itself."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from compare_rows import assert_tables_equal
from processes import REPO, run_on_both, wait_caught_up
from test_secrets import ROLE, require_password

pytestmark = pytest.mark.package

RELEASE = re.match(r"pgdts \(([^)]+)\)", (REPO / "debian" / "changelog").read_text()).group(1)
PG_MAJOR = "15"


def owner_package(path: str) -> str:
    r = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
    assert r.returncode == 0, f"{path} belongs to no package: {r.stderr.strip()}"
    return r.stdout.split(":")[0]


def unit_file() -> Path:
    for d in ("/lib/systemd/system", "/usr/lib/systemd/system"):
        if Path(d, "pgdts@.service").exists():
            return Path(d, "pgdts@.service")
    raise AssertionError("pgdts@.service is not installed")


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in unit_file().read_text().splitlines():
        if "=" in line and not line.startswith("#") and not line.startswith("["):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_each_installed_file_belongs_to_its_package():
    ext = f"/usr/share/postgresql/{PG_MAJOR}/extension"
    for path in (f"/usr/lib/postgresql/{PG_MAJOR}/lib/pgdts.so", f"{ext}/pgdts.control",
                 f"{ext}/pgdts--0.1.sql", f"{ext}/pgdts--0.2.sql", f"{ext}/pgdts--0.1--0.2.sql",
                 f"{ext}/pgdts--0.2--0.3.sql"):
        assert owner_package(path) == f"postgresql-{PG_MAJOR}-pgdts", path
    for path in ("/usr/bin/pgdts", str(unit_file()), "/usr/share/man/man1/pgdts.1.gz",
                 "/usr/share/bash-completion/completions/pgdts",
                 "/usr/share/doc/pgdts/examples/pgdts.conf.example",
                 "/usr/share/pgdts/monitoring/pgdts-alerts.yml",
                 "/usr/share/pgdts/monitoring/pgdts-dashboard.json"):
        assert owner_package(path) == "pgdts", path


def test_installed_pgdts_prints_the_release_of_debian_changelog():
    r = subprocess.run(["/usr/bin/pgdts", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith(f"pgdts {RELEASE}\nrecord format version "), \
        r.stdout + r.stderr
    for pkg in ("pgdts", f"postgresql-{PG_MAJOR}-pgdts"):
        v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                           text=True).stdout
        assert v == RELEASE, f"{pkg} {v}, debian/changelog {RELEASE}"


def test_service_unit_passes_systemd_analyze_verify():
    r = subprocess.run(["systemd-analyze", "verify", "pgdts@app.service"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    s = unit_settings()
    assert s["ExecStart"] == ["/usr/bin/pgdts sync --config /etc/pgdts/%i.conf"]
    assert s["User"] == ["pgdts"] and s["Restart"] == ["on-failure"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"] and s["KillSignal"] == ["SIGTERM"]
    assert not any("password" in v.lower() for v in s.get("Environment", [])), s["Environment"]


def test_service_user_is_a_system_user_and_only_it_and_root_read_etc_pgdts():
    user = pwd.getpwnam("pgdts")
    assert user.pw_uid < 1000 and user.pw_shell in ("/usr/sbin/nologin", "/bin/false"), user
    st = os.stat("/etc/pgdts")
    assert (st.st_uid, grp.getgrgid(st.st_gid).gr_name) == (0, "pgdts")
    assert stat.S_IMODE(st.st_mode) == 0o2750, oct(st.st_mode)


def test_bash_completion_offers_the_commands_and_a_command_s_options():
    script = ("source /usr/share/bash-completion/bash_completion 2>/dev/null || "
              "_init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; "
              "prev=${COMP_WORDS[COMP_CWORD-1]}; words=(\"${COMP_WORDS[@]}\"); cword=$COMP_CWORD; };"
              "source /usr/share/bash-completion/completions/pgdts; "
              "COMP_WORDS=(pgdts sy); COMP_CWORD=1; _pgdts; echo \"${COMPREPLY[*]}\"; "
              "COMP_WORDS=(pgdts sync --metrics-p); COMP_CWORD=2; _pgdts; echo \"${COMPREPLY[*]}\"")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert r.stdout.splitlines() == ["sync", "--metrics-port"], r.stdout + r.stderr


def test_service_command_runs_as_pgdts_with_passwords_from_its_pgpass_file(source, dest,
                                                                             test_dir):
    """ExecStart as systemd runs it: user pgdts, the unit's PGPASSFILE, the
    task file in /etc/pgdts; the passwords are in neither the unit nor the
    command line. SIGHUP (ExecReload) applies the throttles edited in the
    file; SIGTERM stops it with status 0."""
    task = "pkgtest"
    require_password(source, "src-Secret-1")
    require_password(dest, "dst-Secret-2")
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    s = unit_settings()
    env = dict(e.replace("%i", task).split("=", 1) for e in s["Environment"])
    conf, pgpass = Path(f"/etc/pgdts/{task}.conf"), Path(env["PGPASSFILE"])
    assert pgpass == Path(f"/etc/pgdts/{task}.pgpass")
    user = pwd.getpwnam("pgdts")
    conf.write_text(f"source = host=127.0.0.1 port={source.port} dbname={source.dbname} user={ROLE}\n"
                    f"target = host=127.0.0.1 port={dest.port} dbname={dest.dbname} user={ROLE}\n"
                    f"task = {task}\nphases = incremental\n")
    os.chown(conf, 0, grp.getgrnam("pgdts").gr_gid)
    os.chmod(conf, 0o640)
    pgpass.write_text(f"127.0.0.1:{source.port}:*:{ROLE}:src-Secret-1\n"
                      f"127.0.0.1:{dest.port}:*:{ROLE}:dst-Secret-2\n")
    os.chown(pgpass, user.pw_uid, user.pw_gid)
    os.chmod(pgpass, 0o600)
    argv = shlex.split(s["ExecStart"][0].replace("%i", task))
    assert not any("Secret" in a for a in argv)
    log = test_dir / "service.log"
    proc = None
    try:
        with open(log, "wb") as out:
            # as systemd starts it: the unit's user and environment, nothing else
            proc = subprocess.Popen(argv, user="pgdts", group="pgdts", extra_groups=[],
                                    env={"PATH": "/usr/bin:/bin", "HOME": user.pw_dir, **env},
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd="/")
        deadline = time.monotonic() + 60
        while "event=sync_starting" not in log.read_text() or not source.sql(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND "
                "confirmed_flush_lsn IS NOT NULL", [f"dts_sync_{task}"]):
            assert proc.poll() is None, f"exited {proc.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        uid = next(int(line.split()[1]) for line in
                   Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                   if line.startswith("Uid:"))
        assert uid == user.pw_uid, f"runs as uid {uid}"
        source.sql("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 500) g")
        wait_caught_up(source, dest, task)
        assert_tables_equal(source, dest, ["t"])

        # systemctl reload: ExecReload's SIGHUP re-reads the throttles from the file
        with open(conf, "a") as f:
            f.write("incr-rps = 5000\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "event=throttles_changed" not in log.read_text():
            assert proc.poll() is None, f"SIGHUP stopped it:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no throttles_changed after SIGHUP:\n{log.read_text()}"
            time.sleep(0.2)
        assert "5000" in next(line for line in log.read_text().splitlines()
                              if "event=throttles_changed" in line)
        proc.send_signal(signal.SIGTERM)    # systemctl stop
        assert proc.wait(60) == 0, log.read_text()
        assert "Secret" not in log.read_text()
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        conf.unlink(missing_ok=True)
        pgpass.unlink(missing_ok=True)
