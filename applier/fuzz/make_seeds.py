#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into applier/fuzz/corpus/.

    applier/fuzz/make_seeds.py            # all three
    applier/fuzz/make_seeds.py record     # one

record:      real records: a throwaway cluster (the integration tests'
             Cluster, with the installed pgdts extension) runs DML, DDL,
             TRUNCATE and a logical message; each transaction's records,
             read with pg_logical_slot_peek_binary_changes on a pgdts slot,
             become one input (payloads joined by "\\n#next\\n").
ddl_planner: the DDL statements of test/regress/sql, each under a few task
             contexts (header lines, see ddl_planner_fuzzer.cpp).
options:     command lines and config files as the README gives them.

Seeds are small on purpose: the fuzzers find the rest. Run as root or as a
user that may run PostgreSQL (root runs the server as postgres).
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = HERE / "corpus"
NEXT = b"\n#next\n"


def write(target: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


# -- record ---------------------------------------------------------------

RECORD_WORKLOAD = [
    "CREATE TABLE t (id int PRIMARY KEY, i8 bigint, f float8, f4 real, b bool, "
    "by bytea, tx text, n numeric, ts timestamptz, j jsonb, arr int[])",
    "INSERT INTO t VALUES (1, 9007199254740993, 'NaN', -0, true, '\\x00ff', "
    "'héllo', 1.5, '2026-01-01 00:00:00+00', '{\"a\": 1}', '{1,2,NULL}')",
    "INSERT INTO t (id, tx) VALUES (2, repeat('x', 5000)), (3, NULL)",
    "UPDATE t SET f = 'Infinity', tx = tx || '!' WHERE id = 1",
    "UPDATE t SET id = 4 WHERE id = 3",
    "DELETE FROM t WHERE id = 2",
    "CREATE TABLE f (a int, b text)",
    "ALTER TABLE f REPLICA IDENTITY FULL",
    "INSERT INTO f VALUES (1, 'a')",
    "UPDATE f SET b = 'b'",
    "DELETE FROM f",
    "ALTER TABLE t ADD COLUMN c int DEFAULT 7",
    "TRUNCATE t, f RESTART IDENTITY",
    "SELECT pg_logical_emit_message(true, 'pgdts_heartbeat', 'beat')",
]


def record_seeds() -> None:
    sys.path.insert(0, str(REPO / "test" / "integration"))
    import processes  # the integration tests' clusters

    workdir = processes.WorkDir()
    cluster = None
    try:
        conf = dict(processes.LOGICAL_CONF)
        conf.update(processes.EXTENSION_CONF)
        cluster = processes.Cluster(processes.Template(workdir), workdir, "seeds", "app", conf)
        cluster.start()
        cluster.create_database("app")
        cluster.sql("CREATE EXTENSION pgdts")
        cluster.sql("SELECT pg_create_logical_replication_slot('dts_sync_seeds', 'pgdts')")
        for statement in RECORD_WORKLOAD:
            cluster.sql(statement)
        rows = cluster.sql("SELECT xid::text, data FROM "
                           "pg_logical_slot_peek_binary_changes('dts_sync_seeds', NULL, NULL)")
        by_xid: dict[str, list[bytes]] = {}
        for xid, data in rows:
            by_xid.setdefault(xid, []).append(bytes(data))
        for records in by_xid.values():
            write("record", NEXT.join(records))
        write("record", bytes(rows[0][1]))  # a BEGIN alone
        cluster.sql("SELECT pg_drop_replication_slot('dts_sync_seeds')")
    finally:
        if cluster:
            cluster.teardown()
        workdir.remove()


# -- ddl_planner ----------------------------------------------------------

DDL_CONTEXTS = [
    "#schemas public\n#identity public.t\n",
    "#tables public.t,public.u\n#map public=dst\n#map public.t.a=aa\n#resolved t public\n",
    "#schemas public,s\n#exclude s.x\n#case upper\n#no-owner\n#seen public.u\n#has public.i\n"
    "#setting DateStyle ISO, MDY\n#search_path s, public\n",
]
DDL_SEEDS = 100
DDL_START = re.compile(r"^\s*(CREATE|ALTER|DROP|COMMENT|GRANT|REVOKE|SELECT .* INTO|"
                       r"TRUNCATE|DO)\b", re.I | re.S)


def regress_statements() -> list[str]:
    """Whole statements that start a line and end with ';' at a line end."""
    found = []
    for path in sorted((REPO / "test" / "regress" / "sql").glob("*.sql")):
        current: list[str] = []
        for line in path.read_text().splitlines():
            if not current and not DDL_START.match(line):
                continue
            current.append(line)
            if line.rstrip().endswith(";"):
                text = "\n".join(current).rstrip().rstrip(";")
                current = []
                if len(text) < 600 and text not in found:
                    found.append(text)
    return found


def ddl_seeds() -> None:
    statements = regress_statements()
    step = max(1, len(statements) // DDL_SEEDS)  # an even spread of kinds
    for i, statement in enumerate(statements[::step][:DDL_SEEDS]):
        context = DDL_CONTEXTS[i % len(DDL_CONTEXTS)]
        write("ddl_planner", (context + statement).encode())


# -- options --------------------------------------------------------------

OPTIONS = [
    "sync\n--source\nhost=src dbname=app\n--target\npostgres://dst/app\n--task\napp",
    "sync\n--source=host=a dbname=app\n--target=host=b dbname=app\n--schemas\npublic,s\n"
    "--exclude\ns.log_*\n--map\npublic=dst\n--map\ns.t.c=col\n--case\nlower\n--jobs\n4",
    "sync\n--source\nhost=a\n--target\nhost=b\n--phases\nincremental\n--incr-rps\n500\n"
    "--filter\npublic.t: tenant <> 7\n--transform\npublic.t.email: md5(email)",
    "precheck\n--source\nhost=a sslmode=verify-full\n--target\nhost=b\n--format\njson",
    "stream\n--source\npostgresql://u@h:5433/app?sslmode=require\n--idle-exit\n5\n--start\n0/16B3748",
    "cutover\n--source\nhost=a\n--target\nhost=b\n--sequence-margin\n1000\n--timeout\n60",
    "status\n--target\nhost=b port=5432,5433 host=b1,b2",
    "sync\n--source\nhost=a\n--target\nhost=b\n#config\n# throttles, read again on SIGHUP\n"
    "full-rps = 20000\nincr-mbps = 5\nretry-connection = 60\nretry-other = 5\n"
    "metrics-port = 9187\nalert-command = logger pgdts\nalert-latency = 120\n",
    "verify\n#config\nsource = host=a dbname=app password=secret\ntarget = host=b\n"
    "tables = public.t,public.u\nmap = public.t=t2\nformat = json\n",
    "sync\n--help",
]


def options_seeds() -> None:
    for text in OPTIONS:
        write("options", text.encode())


def main() -> None:
    chosen = sys.argv[1:] or ["record", "ddl_planner", "options"]
    for target in chosen:
        {"record": record_seeds, "ddl_planner": ddl_seeds, "options": options_seeds}[target]()


if __name__ == "__main__":
    main()
