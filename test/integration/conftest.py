"""Fixtures of the pgdts integration tests.

Every test gets its own clusters (copies of one initdb per run, so they cost
about a second): `source` (wal_level=logical, pgdts allowed as an output
plugin, database `app` with CREATE EXTENSION pgdts) and `dest` (plain, database
`app_copy`), a `pgdts` runner for the binary, and `background` for client
processes.  Everything a test starts is stopped in teardown, also when the test
fails; a failing test's report carries the tail of each applier log and of the
server logs.

A missing binary or extension makes the tests FAIL with a message saying what
to build, never skip.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

import processes
from processes import Background, Cluster, Pgdts, Template, WorkDir

PREREQ = pytest.StashKey[list]()
ARTIFACTS = pytest.StashKey[dict]()


def _prereq_missing(request, message: str) -> None:
    request.node.stash.setdefault(PREREQ, []).append(message)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    missing = pyfuncitem.stash.get(PREREQ, None)
    if missing:
        pytest.fail("prerequisite missing:\n  " + "\n  ".join(missing), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed or item.stash.get(PREREQ, None):
        return
    arts = item.stash.get(ARTIFACTS, {})
    for app in arts.get("appliers", []):
        rep.sections.append((f"applier log tail ({app.logfile})", app.log_tail(80)))
    for cluster in arts.get("clusters", []):
        rep.sections.append((f"{cluster.role} server log tail (port {cluster.port})",
                             processes.tail(cluster.log(), 25)))


def _artifacts(request) -> dict:
    return request.node.stash.setdefault(ARTIFACTS, {"appliers": [], "clusters": []})


@pytest.fixture(scope="session")
def workdir():
    wd = WorkDir()
    yield wd
    wd.remove()


@pytest.fixture(scope="session")
def template(workdir):
    return Template(workdir)


@pytest.fixture
def test_dir(workdir, request):
    name = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:60]
    return workdir.subdir(f"{name}-")


@pytest.fixture
def make_cluster(template, workdir, request):
    """Factory: make_cluster(role, dbname, conf=..., logical=..., extension=...,
    hba=...) starts a cluster and creates its database (and the extension
    when asked)."""
    made: list[Cluster] = []
    # Created here, not lazily: clusters may be made from two threads.
    _artifacts(request)
    request.node.stash.setdefault(PREREQ, [])

    def make(role: str, dbname: str, conf: dict | None = None, logical: bool = False,
             extension: bool = False, start: bool = True, hba: tuple = ()) -> Cluster:
        settings = dict(processes.LOGICAL_CONF) if logical else {}
        if extension:
            missing = [str(f) for f in processes.extension_files() if not f.exists()]
            if missing:
                # Preloading a library that is not there would refuse every
                # connection: report what is missing instead.
                _prereq_missing(request, f"extension pgdts is not installed ({', '.join(missing)} "
                                "missing); build and install it with `make && make install` "
                                "at the repository top")
                extension = False
            else:
                settings.update(processes.EXTENSION_CONF)
        settings.update(conf or {})
        c = Cluster(template, workdir, role, dbname, settings, hba)
        made.append(c)
        _artifacts(request)["clusters"].append(c)
        if not start:
            return c
        c.start()
        c.create_database(dbname)
        if extension:
            try:
                c.sql("CREATE EXTENSION pgdts")
            except psycopg.Error as e:
                _prereq_missing(request, "CREATE EXTENSION pgdts failed on the source "
                                f"({str(e).strip()}); build and install it with "
                                "`make && make install` at the repository top")
        return c

    yield make
    def stop(c: Cluster) -> str | None:
        try:
            c.teardown()
            c.remove()
            return None
        except Exception as e:  # keep stopping the others
            return f"{c.role}: {e}"

    with ThreadPoolExecutor(4) as pool:
        errors = [e for e in pool.map(stop, made) if e]
    assert not errors, "cluster teardown failed: " + "; ".join(errors)


@pytest.fixture
def clusters(make_cluster):
    """The source and the destination, started side by side."""
    with ThreadPoolExecutor(2) as pool:
        src = pool.submit(make_cluster, "src", "app", logical=True, extension=True)
        dst = pool.submit(make_cluster, "dst", "app_copy")
        return src.result(), dst.result()


@pytest.fixture
def source(clusters):
    """wal_level=logical, pgdts an allowed output plugin, database app with
    CREATE EXTENSION pgdts."""
    return clusters[0]


@pytest.fixture
def dest(clusters):
    """A plain cluster, database app_copy."""
    return clusters[1]


@pytest.fixture
def pgdts(test_dir, make_cluster, request):
    # Depends on make_cluster so that appliers stop before the clusters do.
    binary, looked = processes.find_pgdts()
    if binary is None:
        _prereq_missing(request, f"the pgdts binary was not found (looked at {looked}); "
                        "build it with `make` at the repository top or set PGDTS_BIN")
    runner = Pgdts(test_dir, binary)
    _artifacts(request)["appliers"] = runner.appliers
    yield runner
    runner.teardown()


@pytest.fixture
def background(test_dir, make_cluster):
    bg = Background(test_dir)
    yield bg
    bg.teardown()
