"""The processes of the pgdts integration tests, and the waits on them.

Real PostgreSQL clusters (one per role, on free local ports, running as a
non-root user, each a copy of one initdb per run), the `pgdts` binary driven
as a subprocess (`Applier`, `Pgdts`), client programs (pgbench,
pg_recvlogical), and the waits: a slot ready, a task in a phase, the
destination caught up with the source's WAL position.  Deciding whether the
destination equals the source is not done here: `compare_rows` compares
table contents, `compare_catalogs` schemas; both build on this module, and
this module imports neither.

Environment knobs:
  PGDTS_BIN            the pgdts binary (default <repo>/build/applier/pgdts,
                       else `pgdts` on PATH)
  PGBIN                PostgreSQL's bin directory (default: pg_config --bindir,
                       else /usr/lib/postgresql/15/bin)
  PGDTS_IT_LOG_LEVEL   --log-level given to `pgdts sync` (default info)
  PGDTS_IT_KEEP        keep the temporary directory (clusters, logs) when set
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Sequence

import psycopg
from psycopg import sql as pgsql

REPO = Path(__file__).resolve().parents[2]
SERVER_USER = "postgres"
AS_ROOT = os.geteuid() == 0
LOG_LEVEL = os.environ.get("PGDTS_IT_LOG_LEVEL", "info")


def _pg_bindir() -> Path:
    if os.environ.get("PGBIN"):
        return Path(os.environ["PGBIN"])
    default = Path("/usr/lib/postgresql/15/bin")
    if default.is_dir():
        return default
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True,
                             text=True, check=True).stdout.strip()
        return Path(out)
    except (OSError, subprocess.CalledProcessError):
        return default


PGBIN = _pg_bindir()


def pgbin(name: str) -> str:
    return str(PGBIN / name)


def find_pgdts() -> tuple[str | None, str]:
    """Return (path or None, where we looked) for the pgdts binary."""
    env = os.environ.get("PGDTS_BIN")
    if env:
        return (env if os.access(env, os.X_OK) else None), f"PGDTS_BIN={env}"
    built = REPO / "build" / "applier" / "pgdts"
    if os.access(built, os.X_OK):
        return str(built), str(built)
    on_path = shutil.which("pgdts")
    return on_path, f"{built}, then `pgdts` on PATH"


def extension_files() -> list[Path]:
    """The files `make install` puts in place for the extension."""
    def cfg(flag: str) -> Path:
        return Path(subprocess.run([pgbin("pg_config"), flag], capture_output=True,
                                   text=True, check=True).stdout.strip())
    return [cfg("--sharedir") / "extension" / "pgdts.control", cfg("--pkglibdir") / "pgdts.so"]


def as_server_user(cmd: Sequence[str]) -> list[str]:
    """Servers never run as root: wrap the command with runuser when we are."""
    return (["runuser", "-u", SERVER_USER, "--"] if AS_ROOT else []) + list(cmd)


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------------------
# ports

_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A port nothing listens on (bind-tested on 127.0.0.1), below the
    ephemeral range so outgoing connections do not take it meanwhile, and never
    the same twice in one run."""
    rnd = random.Random()
    with _ports_lock:
        for _ in range(500):
            port = rnd.randint(20000, 32000)
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found on 127.0.0.1")


# ---------------------------------------------------------------------------
# work directory

class WorkDir:
    """A temporary directory the server user owns (pytest's tmp_path is
    root-only, which a postgres server cannot traverse)."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="pgdts-it-"))
        os.chmod(self.path, 0o755)
        if AS_ROOT:
            shutil.chown(self.path, SERVER_USER, SERVER_USER)
        self._n = 0
        self._lock = threading.Lock()

    def subdir(self, prefix: str) -> Path:
        with self._lock:
            self._n += 1
            d = self.path / f"{prefix}{self._n}"
        d.mkdir(mode=0o755)
        if AS_ROOT:
            shutil.chown(d, SERVER_USER, SERVER_USER)
        return d

    def remove(self) -> None:
        if os.environ.get("PGDTS_IT_KEEP"):
            print(f"keeping {self.path}")
            return
        shutil.rmtree(self.path, ignore_errors=True)


class Template:
    """One initdb per run; every cluster is a copy of it (cp -a is ~10x
    faster than initdb, which keeps function-scoped clusters cheap)."""

    def __init__(self, workdir: WorkDir) -> None:
        self.data = workdir.path / "template"
        r = subprocess.run(
            as_server_user([pgbin("initdb"), "-D", str(self.data), "-A", "trust",
                            "-U", SERVER_USER, "--no-sync", "-E", "UTF8",
                            "--locale=C.UTF-8"]),
            capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


# ---------------------------------------------------------------------------
# clusters

BASE_CONF = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "60",
    "shared_buffers": "64MB",
    "max_wal_size": "2GB",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "datestyle": "'iso, mdy'",
    "lc_messages": "'C'",
    "log_line_prefix": "'%m [%p] %a '",
    "log_min_messages": "warning",
    "max_replication_slots": "10",
    "max_wal_senders": "10",
}

# A source as the README configures it.
LOGICAL_CONF = {
    "wal_level": "logical",
    "output_plugin_libraries": "'pgoutput, test_decoding, pgdts'",
}
EXTENSION_CONF = {
    "session_preload_libraries": "'pgdts'",
}


class Cluster:
    """One PostgreSQL cluster: a copy of the template with its own port, socket
    directory and configuration, started and stopped with pg_ctl as the server
    user."""

    def __init__(self, template: Template, workdir: WorkDir, role: str,
                 dbname: str, conf: dict[str, str] | None = None,
                 hba: Sequence[str] = ()) -> None:
        """hba: lines added to pg_hba.conf (the template trusts 127.0.0.1
        only)."""
        self.role = role
        self.dir = workdir.subdir(role)
        self.data = self.dir / "data"
        self.logfile = self.dir / "server.log"
        self.dbname = dbname
        self.port = free_port()
        self.running = self.started_once = False
        r = subprocess.run(["cp", "-a", str(template.data), str(self.data)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"copying the template failed: {r.stderr}")
        settings = dict(BASE_CONF)
        settings.update(conf or {})
        settings["port"] = str(self.port)
        settings["unix_socket_directories"] = f"'{self.dir}'"
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n# pgdts integration test settings\n")
            for k, v in settings.items():
                f.write(f"{k} = {v}\n")
        if hba:
            with open(self.data / "pg_hba.conf", "a") as f:
                f.write("\n# pgdts integration test access\n" + "\n".join(hba) + "\n")

    # -- lifecycle ----------------------------------------------------------

    def _pg_ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            as_server_user([pgbin("pg_ctl"), "-D", str(self.data), *args]),
            capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        for attempt in range(3):
            r = self._pg_ctl("-l", str(self.logfile), "-w", "-t", "60", "start")
            if r.returncode == 0:
                self.running = self.started_once = True
                return
            log = tail(read_text(self.logfile), 30)
            if self.started_once or "could not bind" not in log or attempt == 2:
                raise RuntimeError(f"{self.role}: pg_ctl start failed:\n{r.stdout}{r.stderr}\n"
                                   f"server log:\n{log}")
            # Someone took the port since we bind-tested it (another test
            # run on this machine): a new port, once, before anyone knows it.
            self.port = free_port()
            with open(self.data / "postgresql.conf", "a") as f:
                f.write(f"port = {self.port}\n")

    def stop(self, mode: str = "fast") -> None:
        r = self._pg_ctl("-m", mode, "-w", "-t", "60", "stop")
        if r.returncode != 0 and self.is_up():
            raise RuntimeError(f"{self.role}: pg_ctl stop -m {mode} failed:\n{r.stdout}{r.stderr}")
        self.running = False

    def restart(self, mode: str = "fast") -> None:
        """Stop (mode immediate is a crash: no shutdown checkpoint) and start."""
        self.stop(mode)
        self.start()

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def is_up(self) -> bool:
        pid = self.postmaster_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def teardown(self) -> None:
        """Stop whatever state the test left it in: fast, then immediate, then
        SIGKILL of this cluster's postmaster PID as the last resort."""
        if not self.is_up():
            return
        for mode in ("fast", "immediate"):
            try:
                self.stop(mode)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        pid = self.postmaster_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # -- connecting -----------------------------------------------------------

    def conninfo(self, dbname: str | None = None, **extra: str) -> str:
        parts = {"host": "127.0.0.1", "port": str(self.port),
                 "dbname": dbname or self.dbname, "user": SERVER_USER}
        parts.update(extra)
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def connect(self, dbname: str | None = None, autocommit: bool = True,
                comparable: bool = True) -> psycopg.Connection:
        """A connection; `comparable` pins the settings that shape values' text
        so that the two sides render identical values identically."""
        conn = psycopg.connect(self.conninfo(dbname), autocommit=autocommit,
                               connect_timeout=10)
        if comparable:
            with conn.cursor() as cur:
                cur.execute("SET datestyle = 'ISO, MDY'; SET intervalstyle = 'postgres';"
                            "SET timezone = 'UTC'; SET extra_float_digits = 1;"
                            "SET bytea_output = 'hex'")
            if not autocommit:
                conn.commit()
        return conn

    def sql(self, query, params: Sequence | None = None, dbname: str | None = None):
        """Run one statement (autocommit) and return its rows, or None when it
        returns none."""
        with self.connect(dbname) as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description is not None else None

    def one(self, query, params: Sequence | None = None, dbname: str | None = None):
        rows = self.sql(query, params, dbname)
        assert rows is not None and len(rows) == 1, f"expected one row from {query!r}, got {rows!r}"
        return rows[0][0] if len(rows[0]) == 1 else rows[0]

    def create_database(self, name: str, options: str = "") -> None:
        self.sql(pgsql.SQL("CREATE DATABASE {} " + options).format(pgsql.Identifier(name)),
                 dbname="postgres")

    def with_db(self, dbname: str) -> "Cluster":
        """The same cluster, another database as the default of conninfo() and
        sql() (for tasks of a second database on one server)."""
        view = copy.copy(self)
        view.dbname = dbname
        return view

    def log(self) -> str:
        return read_text(self.logfile)

    def remove(self) -> None:
        """Delete the cluster's directory (after teardown) unless asked to keep it."""
        if not os.environ.get("PGDTS_IT_KEEP") and not self.is_up():
            shutil.rmtree(self.dir, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<Cluster {self.role} port={self.port} db={self.dbname}>"


def run_on_both(source: Cluster, dest: Cluster, ddl: str) -> None:
    """For tests that run `--phases incremental` (no schema or full sync
    phase creates the tables): the same DDL runs on both sides, before the
    applier starts."""
    source.sql(ddl)
    dest.sql(ddl)


# ---------------------------------------------------------------------------
# the pgdts binary

class Applier:
    """`pgdts sync ... --phases incremental` (or other phases) running in the
    background, its stdout and stderr in one log file."""

    def __init__(self, binary: str, source: Cluster, dest: Cluster, task: str,
                 logfile: Path, extra_args: Sequence[str] = (),
                 phases: str = "incremental", source_conninfo: str | None = None,
                 target_conninfo: str | None = None, env: dict | None = None,
                 command_prefix: Sequence[str] = ()) -> None:
        """source_conninfo / target_conninfo replace the clusters' own (e.g. to
        connect as another role with a password); env adds variables;
        command_prefix runs the binary through another command (`ip netns
        exec NS`, which execs it: the process's pid stays pgdts' own)."""
        self.source, self.dest, self.task = source, dest, task
        self.logfile = logfile
        self.args = [*command_prefix, binary, "sync", "--source", source_conninfo or source.conninfo(),
                     "--target", target_conninfo or dest.conninfo(), "--task", task,
                     "--phases", phases, "--log-level", LOG_LEVEL, *extra_args]
        with open(logfile, "ab") as log:   # the child keeps its own descriptor
            log.write(f"==== started: {' '.join(self.args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(env or {})})
        self.pid = self.proc.pid

    @property
    def slot(self) -> str:
        return f"dts_sync_{self.task}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def logs(self) -> str:
        return read_text(self.logfile)

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.logs(), lines)

    def last_count(self, field: str) -> int | None:
        """The last value the log gave for `field=N` (the shutdown summary's
        counts), or None when it never did."""
        values = re.findall(rf"\b{re.escape(field)}=(\d+)", self.logs())
        return int(values[-1]) if values else None

    def events(self, name: str) -> list[str]:
        """The log lines of event `name`."""
        return [ln for ln in self.logs().splitlines() if f"event={name} " in ln + " "]

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the slot exists and has reached its consistent point (only
        transactions committed after that are streamed, so tests write after
        this returns) and the process has started."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise AssertionError(
                    f"pgdts sync exited with status {self.proc.returncode} before its slot "
                    f"{self.slot} was ready; log tail:\n{self.log_tail()}")
            rows = self.source.sql("SELECT confirmed_flush_lsn FROM pg_replication_slots "
                                   "WHERE slot_name = %s", [self.slot])
            # sync_starting is logged once its stop signals are handled: a
            # restarted task's slot is ready before the new process is, and a
            # SIGTERM in between would kill it instead of stopping it.
            started = LOG_LEVEL not in ("info", "debug") or "event=sync_starting" in self.logs()
            if rows and rows[0][0] is not None and started:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"slot {self.slot} not ready {timeout:.0f} s after "
                                     f"pgdts sync started; log tail:\n{self.log_tail()}")
            time.sleep(0.1)

    def wait_phase(self, phase: str = "incremental", timeout: float = 300) -> None:
        """Until the task's row on the destination is in `phase` (the initial
        phases are done when it reaches `incremental` or `copied`)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = []
            if self.dest.one("SELECT to_regclass('pgdts.task') IS NOT NULL"):
                rows = self.dest.sql("SELECT phase FROM pgdts.task WHERE task = %s", [self.task])
            if rows and rows[0][0] == phase:
                return
            if not self.alive():
                raise AssertionError(
                    f"pgdts sync exited with status {self.proc.returncode} before the task "
                    f"reached phase {phase}; log tail:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"task {self.task} not in phase {phase} {timeout:.0f} s "
                                     f"after pgdts sync started (now {rows}); log tail:\n"
                                     f"{self.log_tail()}")
            time.sleep(0.2)

    def wait_exit(self, timeout: float = 300) -> int:
        """Waits for the process to end by itself; returns its exit status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"pgdts sync still running {timeout:.0f} s later; log tail:\n"
                                 f"{self.log_tail()}")

    def peak_rss_kb(self) -> int:
        """VmHWM of the running process, in kB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError(f"no VmHWM in /proc/{self.pid}/status")

    def stop(self, timeout: float = 60, sig: int = signal.SIGTERM) -> None:
        """SIGTERM (or `sig`), and the applier must exit 0 (a clean stop at a
        transaction boundary)."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError(f"pgdts sync did not exit within {timeout:.0f} s of "
                                     f"{signal.Signals(sig).name}; log tail:\n{self.log_tail()}")
        rc = self.proc.returncode
        assert rc == 0, (f"pgdts sync exited with status {rc} (expected 0 after a stop signal); "
                         f"log tail:\n{self.log_tail()}")

    def kill9(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()

    def teardown(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


class Pgdts:
    """The `pgdts` fixture: runs the binary, and keeps every background
    process it started so that teardown stops them."""

    def __init__(self, workdir: Path, binary: str | None) -> None:
        self.workdir = workdir
        self.binary = binary or "pgdts-binary-not-found"
        self.appliers: list[Applier] = []
        self._n = 0

    def sync(self, source: Cluster, dest: Cluster, task: str = "it",
             extra_args: Sequence[str] = (), wait_ready: bool = True,
             phases: str = "incremental", **conninfo_env) -> Applier:
        """conninfo_env: Applier's source_conninfo, target_conninfo, env,
        command_prefix."""
        self._n += 1
        app = Applier(self.binary, source, dest, task,
                      self.workdir / f"pgdts-sync-{task}-{self._n}.log", extra_args, phases,
                      **conninfo_env)
        self.appliers.append(app)
        if wait_ready:
            app.wait_ready()
        return app

    def run(self, args: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a pgdts command to completion; exceeding `timeout` is a test
        failure (the contract says: never a hang)."""
        try:
            return subprocess.run([self.binary, *args], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            raise AssertionError(f"`pgdts {' '.join(args)}` did not exit within {timeout:.0f} s\n"
                                 f"stdout tail:\n{tail(out, 20)}\nstderr tail:\n{tail(err, 20)}")

    def verify(self, source: Cluster, dest: Cluster, task: str = "it", *extra: str,
               timeout: float = 240) -> tuple[int, dict]:
        """`pgdts verify --format json`: (exit status, its JSON document)."""
        r = self.run(["verify", "--source", source.conninfo(), "--target", dest.conninfo(),
                      "--task", task, "--format", "json", *extra], timeout=timeout)
        assert r.returncode in (0, 1) and r.stdout.strip(), \
            f"verify failed to run (exit {r.returncode}):\n{tail(r.stdout)}\n{tail(r.stderr)}"
        return r.returncode, json.loads(r.stdout)

    def assert_verified_equal(self, source: Cluster, dest: Cluster, task: str = "it",
                              *extra: str) -> dict:
        """pgdts verify finds the task's tables equal (exit 0): rows and metadata."""
        status, doc = self.verify(source, dest, task, *extra)
        differing = [t for t in doc["tables"] if t["status"] != "equal"]
        assert status == 0 and doc["equal"], \
            f"verify of task {task}: exit {status}; tables differing: {differing}; " \
            f"metadata: {doc.get('metadata')}; notes: {doc.get('notes')}"
        return doc

    def stream(self, source: Cluster, task: str = "it", *extra: str,
               timeout: float = 60) -> subprocess.CompletedProcess:
        return self.run(["stream", "--source", source.conninfo(), "--task", task, *extra],
                        timeout=timeout)

    def release(self, source: Cluster, dest: Cluster, task: str = "it",
                timeout: float = 60) -> subprocess.CompletedProcess:
        return self.run(["release", "--source", source.conninfo(), "--target",
                         dest.conninfo(), "--task", task], timeout=timeout)

    def teardown(self) -> None:
        for app in self.appliers:
            app.teardown()



# ---------------------------------------------------------------------------
# waiting, and the source's and destination's replication state

def current_wal_lsn(source: Cluster) -> str:
    return source.one("SELECT pg_current_wal_lsn()::text")


def wait_caught_up(source: Cluster, dest: Cluster, task_or_applier, timeout: float = 60,
                   target_lsn: str | None = None) -> None:
    """Call after the writes are done: reads the source's current WAL position
    and waits until the slot dts_sync_<task> confirms it (the applier confirms
    the last keepalive position when idle, and confirms only what the
    destination has committed).  Fails the test on timeout, or at once if the
    applier process died."""
    app = task_or_applier if isinstance(task_or_applier, Applier) else None
    task = app.task if app else task_or_applier
    slot = f"dts_sync_{task}"
    target = target_lsn or current_wal_lsn(source)
    deadline = time.monotonic() + timeout
    nudged = False
    last = None
    while True:
        if app is not None and not app.alive():
            raise AssertionError(
                f"pgdts sync exited with status {app.proc.returncode} while waiting for slot "
                f"{slot} to reach {target}; log tail:\n{app.log_tail()}")
        with contextlib.suppress(psycopg.OperationalError):
            row = source.sql("SELECT confirmed_flush_lsn::text, confirmed_flush_lsn >= %s::pg_lsn "
                             "FROM pg_replication_slots WHERE slot_name = %s", [target, slot])
            if row:
                last = row[0][0]
                if row[0][1]:
                    return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            extra = f"; applier log tail:\n{app.log_tail()}" if app else ""
            raise AssertionError(
                f"destination did not catch up: slot {slot} confirmed_flush_lsn is {last} "
                f"(slot {'exists' if last is not None else 'missing or not confirmed'}), "
                f"wanted >= {target} within {timeout:.0f} s{extra}")
        if not nudged and remaining < timeout - 10:
            # A write after the target guarantees WAL beyond it, so keepalives
            # carry a position past the target even if the target sat on a page
            # boundary.  It does not mask an applier that never confirms
            # keepalives: the message is non-transactional, carries no data,
            # and its prefix does not start with "pgdts", so the plugin drops it.
            with contextlib.suppress(psycopg.Error):
                source.sql("SELECT pg_logical_emit_message(false, 'integration_test_nudge', '')")
            nudged = True
        time.sleep(0.2)



def slot_row(source: Cluster, slot: str):
    rows = source.sql("SELECT slot_name, plugin, active_pid, confirmed_flush_lsn::text "
                      "FROM pg_replication_slots WHERE slot_name = %s", [slot])
    return rows[0] if rows else None


def origin_exists(dest: Cluster, name: str) -> bool:
    return bool(dest.sql("SELECT 1 FROM pg_replication_origin WHERE roname = %s", [name]))


# ---------------------------------------------------------------------------
# pgbench and other client programs

def client_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


def pgbench_args(cluster: Cluster, *args: str) -> list[str]:
    return [pgbin("pgbench"), "-h", "127.0.0.1", "-p", str(cluster.port),
            "-U", SERVER_USER, *args, cluster.dbname]


def run_pgbench(cluster: Cluster, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    r = subprocess.run(pgbench_args(cluster, *args), capture_output=True, text=True,
                       env=client_env(), timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"pgbench {' '.join(args)} on {cluster.role} failed "
                             f"({r.returncode}):\n{tail(r.stderr, 20)}")
    return r


class Background:
    """Client processes started by a test (pgbench, pg_recvlogical), stopped by
    PID at teardown."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, args: Sequence[str]) -> subprocess.Popen:
        log = self.workdir / f"{name}-{len(self.procs) + 1}.log"
        f = open(log, "wb")
        p = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, env=client_env())
        f.close()
        p.logfile = log  # type: ignore[attr-defined]
        self.procs.append((p, log))
        return p

    @staticmethod
    def output(p: subprocess.Popen) -> str:
        return read_text(p.logfile)  # type: ignore[attr-defined]

    def teardown(self) -> None:
        for p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def parse_json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise AssertionError(f"pgdts stream printed a line that is not JSON ({e}): {line[:300]}")
    return out


RECORD_KINDS = ("begin", "commit", "relation", "insert", "update", "delete",
                "truncate", "message", "ddl")


def record_kind(rec: dict) -> str | None:
    """The kind of a JSON record, whether printed as protobuf's JSON mapping
    ({"insert": {...}}) or with an explicit kind/type field."""
    for key in ("kind", "type", "record", "op"):
        v = rec.get(key)
        if isinstance(v, str) and v.lower() in RECORD_KINDS:
            return v.lower()
    present = [k for k in rec if k.lower() in RECORD_KINDS]
    return present[0].lower() if len(present) == 1 else None
