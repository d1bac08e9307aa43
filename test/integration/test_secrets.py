"""Secrets stay secret: passwords planted in both connection strings (the
source's as key=value with a quoted value holding a space and an escaped
quote, the destination's as a URI whose password holds '/', '%' and '@'),
in the --alert-command, and in DDL run on the source while sync runs
(CREATE/ALTER SERVER and USER MAPPING with password options, ALTER ROLE ...
PASSWORD, a dblink-style conninfo and a URI in a column default, a failing
ALTER TABLE whose default holds a conninfo) reach no output: stdout and
stderr of every pgdts command, the sync log, `pgdts status` (text and
JSON), the alert payloads, the metrics endpoint and every row of every
table in the destination's pgdts schema.

Every secret is spelled <head marker>...<tail marker>, both markers
unique, and each marker is searched on its own: half a password is a leak
too.

The role pgdts connects as (`syncer`) must give its password on both sides
(pg_hba scram-sha-256); the harness's own connections (user postgres) stay
`trust`."""

import json
import re
import time
import urllib.parse
import urllib.request

from compare_rows import assert_tables_equal
from processes import free_port, read_text, tail, wait_caught_up

ROLE = "syncer"
SOURCE_PASSWORD = "Ksrc1 pw's-Tsrc2"       # key=value: quoted, a space, an escaped quote
TARGET_PASSWORD = "Kdst1/p%w@Tdst2"        # URI: '/', '%' and '@', percent-encoded
ALERT_SECRET = "Kalr1-Talr2"
DDL_SECRETS = {
    "server": "Ksrv1-Tsrv2",
    "server_set": "Ksrs1-Tsrs2",
    "mapping": "Kmap1-Tmap2",
    "mapping_set": "Kmps1-Tmps2",
    "role": "Krol1-Trol2",
    "role_create": "Krlc1-Trlc2",
    "dblink": "Kdbl1-Tdbl2",
    "uri": "Kuri1/Turi2",
    "failing": "Kfal1-Tfal2",
}
MARKERS = [m for s in [SOURCE_PASSWORD, TARGET_PASSWORD, ALERT_SECRET, *DDL_SECRETS.values()]
           for m in re.findall(r"K[a-z]{3}1|T[a-z]{3}2", s)]


def source_conninfo(cluster) -> str:
    quoted = SOURCE_PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
    return (f"host=127.0.0.1 port={cluster.port} dbname={cluster.dbname} user={ROLE} "
            f"password='{quoted}'")


def target_uri(cluster) -> str:
    return (f"postgresql://{ROLE}:{urllib.parse.quote(TARGET_PASSWORD, safe='')}"
            f"@127.0.0.1:{cluster.port}/{cluster.dbname}")


def require_password(cluster, password: str) -> None:
    """Role ROLE (superuser, replication) logs in with its password only."""
    literal = password.replace("'", "''")
    cluster.sql(f"CREATE ROLE {ROLE} LOGIN SUPERUSER REPLICATION PASSWORD '{literal}'")
    hba = cluster.data / "pg_hba.conf"
    rules = (f"host all         {ROLE} 127.0.0.1/32 scram-sha-256\n"
             f"host replication {ROLE} 127.0.0.1/32 scram-sha-256\n")
    hba.write_text(rules + hba.read_text())
    cluster.sql("SELECT pg_reload_conf()")
    time.sleep(0.5)


def pgdts_log(app) -> str:
    """The sync's output, without the harness' own header line (the command
    line it ran, passwords included)."""
    return "\n".join(line for line in app.logs().splitlines()
                     if not line.startswith("==== started:"))


def leaks(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


class Outputs:
    """Everything pgdts printed, stored or sent, by where it was seen."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.seen.append((where, text or ""))

    def run(self, pgdts, where: str, args, timeout: float = 120, status=None):
        r = pgdts.run(args, timeout=timeout)
        self.add(f"{where} stdout", r.stdout)
        self.add(f"{where} stderr", r.stderr)
        if status is not None:
            assert r.returncode in status, \
                f"{where}: exit {r.returncode}\n{tail(r.stdout)}\n{tail(r.stderr)}"
        return r

    def pgdts_tables(self, dest) -> None:
        for (table,) in dest.sql("SELECT c.relname FROM pg_class c JOIN pg_namespace n "
                                 "ON n.oid = c.relnamespace WHERE n.nspname = 'pgdts' "
                                 "AND c.relkind = 'r'"):
            rows = dest.sql(f'SELECT t::text FROM pgdts."{table}" t')
            self.add(f"destination table pgdts.{table}", "\n".join(r[0] for r in rows))

    def assert_no_secret(self) -> None:
        found = [(where, leaks(text), tail(text, 5)) for where, text in self.seen if leaks(text)]
        assert not found, "secrets leaked:\n" + "\n".join(
            f"  {where}: {markers}\n{excerpt}" for where, markers, excerpt in found)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def wait_for(predicate, what: str, timeout: float = 60, app=None):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}" + (
            f"; log tail:\n{app.log_tail()}" if app else "")
        time.sleep(0.2)


def test_passwords_reach_no_output_log_status_alert_metric_or_table(source, dest, pgdts,
                                                                    test_dir, monkeypatch):
    require_password(source, SOURCE_PASSWORD)
    require_password(dest, TARGET_PASSWORD)
    src, dst = source_conninfo(source), target_uri(dest)
    # The harness connects as postgres (trust); pgdts only as ROLE.
    source.sql("CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY, v text);"
               "INSERT INTO app.t SELECT i, 'r' || i FROM generate_series(1, 50) i;"
               "CREATE FOREIGN DATA WRAPPER dummy_fdw; CREATE ROLE app_user;"
               "CREATE DOMAIN public.ztype AS text")
    dest.sql("CREATE DOMAIN public.ztype AS int")
    alerts = test_dir / "alerts.jsonl"
    alert_command = f"PGDTS_ALERT_PASSWORD={ALERT_SECRET} sh -c 'cat >> {alerts}'"
    metrics_port = free_port()
    env = {"PGDTS_TEST_RETRY_MINUTE_SECONDS": "3", "PGDTS_TEST_ALERT_HOLD_SECONDS": "1"}
    out = Outputs()
    common = ["--source", src, "--target", dst, "--task", "s"]

    out.run(pgdts, "precheck", ["precheck", *common, "--schemas", "app"], status=(0,))
    out.run(pgdts, "precheck json", ["precheck", *common, "--schemas", "app", "--format", "json"],
            status=(0,))

    sync_args = ["--schemas", "app", "--retry-other", "1", "--alert-command", alert_command,
                 "--metrics-port", str(metrics_port), "--alert-latency", "1"]
    app = pgdts.sync(source, dest, "s", sync_args, phases="schema,full,incremental",
                     source_conninfo=src, target_conninfo=dst, env=env)
    app.wait_phase("incremental")
    metrics = scrape(metrics_port)

    # DDL carrying passwords, run on the source while sync runs.
    source.sql(f"CREATE SERVER s1 FOREIGN DATA WRAPPER dummy_fdw "
               f"OPTIONS (host 'h', password '{DDL_SECRETS['server']}')")
    source.sql(f"ALTER SERVER s1 OPTIONS (SET password '{DDL_SECRETS['server_set']}')")
    source.sql(f"CREATE USER MAPPING FOR app_user SERVER s1 "
               f"OPTIONS (user 'u', password '{DDL_SECRETS['mapping']}')")
    source.sql(f"ALTER USER MAPPING FOR app_user SERVER s1 "
               f"OPTIONS (SET \"password\" '{DDL_SECRETS['mapping_set']}')")
    # (Roles are global objects: no event trigger sees ALTER ROLE, so it never
    # reaches pgdts; run anyway, in case capture ever does.)
    source.sql(f"ALTER ROLE app_user PASSWORD '{DDL_SECRETS['role']}'")
    source.sql(f"CREATE ROLE app_other LOGIN PASSWORD '{DDL_SECRETS['role_create']}'")
    source.sql("CREATE TABLE app.conn (id int PRIMARY KEY,"
               f" c text DEFAULT 'host=x dbname=y password={DDL_SECRETS['dblink']}',"
               f" u text DEFAULT 'postgresql://u:{urllib.parse.quote(DDL_SECRETS['uri'], safe='')}"
               "@h/db');"
               "INSERT INTO app.conn (id) VALUES (1)")
    source.sql("INSERT INTO app.t VALUES (51, 'before the failing DDL')")
    wait_caught_up(source, dest, app)

    # A DDL with a conninfo in its text that the destination rejects, its
    # message quoting that text (the type ztype differs on the two sides):
    # it reaches the retry log, the alerts, the stopped run's error line,
    # pgdts status and pgdts.task.last_error.
    source.sql("ALTER TABLE app.t ADD COLUMN z public.ztype "
               f"DEFAULT 'host=x user=u password={DDL_SECRETS['failing']}'")
    assert app.wait_exit(120) == 1, app.log_tail()
    out.add("sync log (failed run)", pgdts_log(app))
    out.add("metrics (streaming)", metrics)
    out.run(pgdts, "status", ["status", *common], status=(0,))
    status_json = out.run(pgdts, "status json", ["status", *common, "--format", "json"], status=(0,))
    doc = json.loads(status_json.stdout)
    assert doc["last_error"] and "invalid input syntax" in doc["last_error"], doc
    out.pgdts_tables(dest)
    last_error = dest.one("SELECT last_error FROM pgdts.task WHERE task = 's'")
    assert "password=" in last_error, f"the failing DDL's text is not in last_error: {last_error}"

    # Fixed on the destination, started again: it recovers and goes on.
    dest.sql("DROP DOMAIN public.ztype; CREATE DOMAIN public.ztype AS text")
    app = pgdts.sync(source, dest, "s", sync_args, phases="schema,full,incremental",
                     source_conninfo=src, target_conninfo=dst, env=env)
    source.sql("INSERT INTO app.t VALUES (52, 'after')")
    wait_caught_up(source, dest, app, timeout=120)
    out.add("metrics (after recovery)", scrape(metrics_port))
    out.run(pgdts, "status (running)", ["status", *common, "--format", "json"], status=(0,))
    app.stop()
    out.add("sync log (second run)", pgdts_log(app))
    assert_tables_equal(source, dest, ["app.t", "app.conn"])

    # More DDL with passwords, read back with pgdts stream (not consumed).
    source.sql(f"ALTER SERVER s1 OPTIONS (SET password '{DDL_SECRETS['server_set']}')")
    stream = out.run(pgdts, "stream", ["stream", "--source", src, "--task", "s", "--idle-exit", "2"],
                     status=(0,))
    assert "ALTER SERVER" in stream.stdout, tail(stream.stdout)
    out.run(pgdts, "verify", ["verify", *common, "--format", "json"], status=(0, 1))
    out.run(pgdts, "cutover", ["cutover", *common, "--timeout", "30"], status=(0, 1))

    alert_text = read_text(alerts) if alerts.exists() else ""
    events = [json.loads(line)["event"] for line in alert_text.splitlines()]
    assert "task_failing" in events and "task_failed" in events, alert_text
    assert "password=" in alert_text, f"the failing DDL's text is not in the alerts:\n{alert_text}"
    out.add("alert payloads", alert_text)
    out.pgdts_tables(dest)
    out.run(pgdts, "release", ["release", *common], status=(0,))
    out.assert_no_secret()

    # The outputs do hold the masked texts (what was searched is not empty).
    everything = "\n".join(text for _, text in out.seen)
    assert "****" in everything and "password" in everything


def test_cli_errors_with_passwords_are_one_line_exit_2_without_the_password(source, dest, pgdts,
                                                                         test_dir):
    secret = "Kcli1/p@ss%Tcli2"
    uri = urllib.parse.quote(secret, safe="")
    good_source, good_target = source.conninfo(), dest.conninfo()
    directory = test_dir / "conf.d"
    directory.mkdir()
    bad_conninfos = [
        f"host=127.0.0.1 port=abc password='{secret}'",
        f"postgresql://u:{uri}@127.0.0.1:abc/app",
        f"postgresql://u:Kcli1/p@127.0.0.1/Tcli2",        # '/' not encoded
        f"postgresql://u:Kcli1%zzTcli2@127.0.0.1/app",    # bad escape
        f"host=127.0.0.1 password={secret} sslmode=sometimes",
        f"host=127.0.0.1 password='Kcli1 Tcli2",           # unterminated quote
        f"host=127.0.0.1 password=Kcli1 Tcli2",            # space: two words
        f"postgresql://127.0.0.1/app?pass%77ord=Kcli1&Tcli2&port=0",
    ]
    cases = []  # (args, what the line must name)
    for bad in bad_conninfos:
        cases.append((["sync", "--source", bad, "--target", good_target], "--source"))
        cases.append((["precheck", "--source", good_source, "--target", bad], "--target"))
        cases.append((["status", "--target", bad], "--target"))
    for option, value in [("--incr-mbps", "inf"), ("--incr-rps", "nan"), ("--full-mbps", "1e400"),
                          ("--full-rps", "-5"), ("--full-qps", "0"), ("--metrics-port", "70000"),
                          ("--retry-other", "0"), ("--retry-connection", "5000"),
                          ("--jobs", "0"), ("--alert-latency", "0")]:
        cases.append((["sync", "--source", f"{good_source} password={secret}",
                       "--target", good_target, option, value], option))
    cases.append((["sync", "--source", good_source, "--target", good_target,
                   "--config", str(directory)], "is a directory"))
    cases.append((["sync", "--source", good_source, "--target", good_target,
                   "--config", str(test_dir / "missing.ini")], "config file"))
    for args, named in cases:
        r = pgdts.run(args + ["--task", "c"], timeout=30)
        shown = f"{args}: exit {r.returncode}\nstdout:\n{tail(r.stdout)}\nstderr:\n{tail(r.stderr)}"
        assert r.returncode == 2, shown
        assert r.stdout == "", shown
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("pgdts: error: "), shown
        assert named in lines[0], shown
        assert not re.search(r"Kcli1|Tcli2", r.stderr), shown
