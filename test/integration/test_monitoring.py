"""The monitoring files shipped in the pgdts package (packaging/monitoring/):
Prometheus accepts the alert rules, the rules fire on the conditions they
name, and every metric the rules and the Grafana dashboard use is served by a
running `pgdts sync --metrics-port`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from processes import REPO, free_port, wait_caught_up
from test_metrics_alerts import scrape

MONITORING = REPO / "packaging" / "monitoring"
RULES_TEST = MONITORING / "pgdts-alerts.test.yml"
# PGDTS_MONITORING_DIR=/usr/share/pgdts/monitoring: the files the pgdts
# package installed (test/package/run), instead of this tree's.
INSTALLED = Path(os.environ.get("PGDTS_MONITORING_DIR", MONITORING))
RULES = INSTALLED / "pgdts-alerts.yml"
DASHBOARD = INSTALLED / "pgdts-dashboard.json"
# Series Prometheus makes itself for every scrape, not served by pgdts.
PROMETHEUS_OWN = {"up"}
_METRIC = re.compile(r"\b(pgdts_[a-z0-9_]+|up)\b")


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: it comes with Debian's package prometheus (deps.sh)"
    return path


def rule_expressions() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in doc["templating"]["list"] if "definition" in v]
    return exprs


def metrics_used() -> set[str]:
    return {m for e in rule_expressions() + dashboard_expressions() for m in _METRIC.findall(e)}


def test_promtool_accepts_the_alert_rules():
    r = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 5 rules found" in r.stdout, r.stdout


def test_alert_rules_fire_on_failing_latency_wal_growth_and_stalled_apply():
    # promtool's rule unit tests: synthetic series in, the alerts expected out
    r = subprocess.run([promtool(), "test", "rules", str(RULES_TEST)], capture_output=True,
                       text=True, cwd=MONITORING)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout, r.stdout


def test_the_rules_and_the_dashboard_cover_the_four_conditions():
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"]
              for rule in group["rules"]}
    assert {"PgdtsTaskFailing", "PgdtsLatencyHigh", "PgdtsWalRetainedGrowing",
            "PgdtsApplyStalled"} <= alerts, alerts
    used = metrics_used()
    assert {"pgdts_task_failing", "pgdts_latency_seconds", "pgdts_wal_retained_bytes",
            "pgdts_applied_lsn", "pgdts_source_lsn", "pgdts_phase"} <= used, used


def test_every_metric_the_rules_and_the_dashboard_use_is_served_by_a_running_sync(
        source, dest, pgdts):
    source.sql("CREATE TABLE nokey (id int, v text)")
    source.sql("CREATE TABLE a (id int PRIMARY KEY, v text)")
    source.sql("INSERT INTO a SELECT g, 'x' FROM generate_series(1, 1000) g")
    port = free_port()
    # all phases: the full sync's metrics get their series too
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--tables", "public.a,public.nokey", "--metrics-port", str(port)])
    app.wait_phase("incremental")
    source.sql("INSERT INTO a SELECT g, 'y' FROM generate_series(1001, 1100) g")
    source.sql("INSERT INTO nokey VALUES (1, 'n')")
    source.sql("UPDATE nokey SET v = 'm'")                 # no identity: skipped, counted
    wait_caught_up(source, dest, app)

    used = metrics_used() - PROMETHEUS_OWN
    # families that only get series from failures and alerts
    failure_only = {"pgdts_apply_errors_total", "pgdts_retries_total", "pgdts_alerts_total"}
    deadline = time.monotonic() + 60
    while True:
        m = scrape(port)
        not_served = sorted(used - set(m.types))
        without_series = sorted(n for n in used - failure_only
                                if not any(name == n and ("task", "it") in labels
                                           for name, labels in m.samples))
        # the WAL probe runs every 15 s, the first time 2 s in
        if not not_served and not without_series or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not not_served, f"used by the rules or the dashboard but not served: {not_served}"
    assert not without_series, f"served without a series of task it: {without_series}"
    assert m.get("pgdts_phase", task="it", phase="incremental") == 1
    app.stop()
