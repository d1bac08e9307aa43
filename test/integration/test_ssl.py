"""SSL on both sides, verified in full: both clusters serve certificates of a
CA made here with openssl (subject alternative names IP:127.0.0.1 and
DNS:localhost), and admit the role pgdts connects as (`syncer`) only over
SSL with a client certificate (pg_hba `hostssl ... cert`, for normal and for
replication connections). pgdts connects with sslmode=verify-full, a client
key encrypted with a passphrase, and sslpassword: precheck, sync (its
default phases, then changes), status and release work, and the passphrase
shows in no output and no log. A wrong CA or a host name the certificate
does not name is one error line naming the side, exit status 1.

The harness's own connections (user postgres, no SSL) stay `trust`, so
that the helpers of processes.py work unchanged."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from compare_rows import assert_tables_equal
from processes import AS_ROOT, SERVER_USER, slot_row, wait_caught_up

PASSPHRASE = "corr3ct-h0rse-b4ttery"
ROLE = "syncer"


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, f"openssl {' '.join(args)} failed:\n{r.stderr}"


def _make_ca(d: Path, name: str) -> Path:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / f"{name}.crt"


def _sign(d: Path, ca: str, name: str, cn: str, extensions: str, key_args=("-nodes",)):
    """A key and a certificate for `cn`, signed by the CA `ca`."""
    _openssl("req", "-new", "-newkey", "rsa:2048", *key_args, "-subj", f"/CN={cn}",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(extensions + "\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
             "-out", f"{name}.crt", cwd=d)


@pytest.fixture
def pki(test_dir):
    """CA, server certificate, client certificate for ROLE with an encrypted
    key, and a second CA that signed none of them."""
    d = Path(test_dir) / "pki"
    d.mkdir()
    _make_ca(d, "ca")
    _make_ca(d, "other_ca")
    _sign(d, "ca", "server", "localhost",
          "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
    _sign(d, "ca", "client", ROLE, "extendedKeyUsage=clientAuth",
          key_args=("-passout", f"pass:{PASSPHRASE}"))
    assert "ENCRYPTED" in (d / "client.key").read_text()
    os.chmod(d / "client.key", 0o600)   # libpq refuses a key others may read
    return d


def _install_server_files(cluster, pki: Path) -> None:
    """Certificates in the data directory, the key owned by the server user
    with mode 0600 (PostgreSQL refuses it otherwise)."""
    for name in ("server.crt", "server.key", "ca.crt"):
        target = cluster.data / name
        shutil.copy(pki / name, target)
        os.chmod(target, 0o600)
        if AS_ROOT:
            shutil.chown(target, SERVER_USER, SERVER_USER)
    with open(cluster.data / "pg_hba.conf", "w") as f:
        f.write("# pgdts SSL test: the role pgdts uses comes with a certificate, over SSL only\n"
                f"hostssl all         {ROLE} 127.0.0.1/32 cert\n"
                f"hostssl replication {ROLE} 127.0.0.1/32 cert\n"
                f"host    all         {ROLE} 127.0.0.1/32 reject\n"
                "local   all         all                 trust\n"
                f"host    all         {SERVER_USER} 127.0.0.1/32 trust\n")


SSL_CONF = {"ssl": "on", "ssl_cert_file": "'server.crt'", "ssl_key_file": "'server.key'",
            "ssl_ca_file": "'ca.crt'"}


@pytest.fixture
def ssl_clusters(make_cluster, pki):
    src = make_cluster("src", "app", conf=SSL_CONF, logical=True, extension=True, start=False)
    dst = make_cluster("dst", "app_copy", conf=SSL_CONF, start=False)
    for c in (src, dst):
        _install_server_files(c, pki)
        c.start()
        c.create_database(c.dbname)
        c.sql(f"CREATE ROLE {ROLE} LOGIN SUPERUSER REPLICATION")
    src.sql("CREATE EXTENSION pgdts")
    return src, dst


def ssl_conninfo(cluster, pki: Path, host="localhost", ca="ca.crt") -> str:
    """verify-full: the server's certificate must come from `ca` and name
    `host`; hostaddr keeps the connection on 127.0.0.1 whatever `host` is."""
    return (f"host={host} hostaddr=127.0.0.1 port={cluster.port} dbname={cluster.dbname} "
            f"user={ROLE} sslmode=verify-full sslrootcert={pki / ca} "
            f"sslcert={pki / 'client.crt'} sslkey={pki / 'client.key'} sslpassword={PASSPHRASE}")


def _run(pgdts, *args, timeout=120):
    r = pgdts.run(list(args), timeout=timeout)
    for stream in (r.stdout, r.stderr):
        assert PASSPHRASE not in stream, f"the passphrase was printed by pgdts {args[0]}"
    return r


def _sync(test_dir, src_info, dst_info):
    """pgdts sync with its default phases (no --phases), in the background;
    its own runner, so that no command line with the passphrase is written
    to its log."""
    log = Path(test_dir) / "ssl-sync.log"
    f = open(log, "wb")
    proc = subprocess.Popen([_binary(), "sync",
                             "--source", src_info, "--target", dst_info, "--task", "it"],
                            stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
    f.close()
    proc.logfile = log
    return proc


def _binary():
    from processes import find_pgdts
    path, looked = find_pgdts()
    assert path, f"pgdts binary not found (looked at {looked})"
    return path


def _ssl_sessions(cluster, backend_type):
    return cluster.one("SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
                       " WHERE a.usename = %s AND a.backend_type = %s AND s.ssl"
                       " AND s.client_dn = %s", [ROLE, backend_type, f"/CN={ROLE}"])


def test_verify_full_on_both_sides_with_an_encrypted_client_key(ssl_clusters, pki, pgdts, test_dir):
    src, dst = ssl_clusters
    src_info, dst_info = ssl_conninfo(src, pki, host="127.0.0.1"), ssl_conninfo(dst, pki)
    src.sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    src.sql("INSERT INTO t SELECT i, 'copied ' || i FROM generate_series(1, 500) i")

    r = _run(pgdts, "precheck", "--source", src_info, "--target", dst_info, "--task", "it")
    assert r.returncode == 0, r.stdout + r.stderr

    proc = _sync(test_dir, src_info, dst_info)
    try:
        _wait_incremental(dst, proc)
        src.sql("INSERT INTO t SELECT i, 'streamed ' || i FROM generate_series(501, 600) i")
        src.sql("UPDATE t SET v = 'changed' WHERE id <= 10")
        wait_caught_up(src, dst, "it")
        assert _ssl_sessions(src, "walsender") >= 1     # the stream came over SSL
        assert _ssl_sessions(dst, "client backend") >= 2

        r = _run(pgdts, "status", "--source", src_info, "--target", dst_info, "--task", "it")
        assert r.returncode == 0, r.stderr
        assert "phase:         incremental" in r.stdout, r.stdout
        assert "source:" not in r.stdout, r.stdout      # the source was reachable
    finally:
        if proc.poll() is None:
            proc.terminate()
        assert proc.wait(60) == 0, Path(proc.logfile).read_text()[-3000:]
    assert_tables_equal(src, dst, ["t"])
    assert dst.one("SELECT count(*) FROM t WHERE v = 'changed'") == 10

    r = _run(pgdts, "release", "--source", src_info, "--target", dst_info, "--task", "it")
    assert r.returncode == 0, r.stdout + r.stderr
    assert slot_row(src, "dts_sync_it") is None

    sync_log = Path(proc.logfile).read_text()
    assert "apply_started" in sync_log
    for text, where in ((sync_log, "the sync log"), (src.log(), "the source's server log"),
                        (dst.log(), "the destination's server log")):
        assert PASSPHRASE not in text, f"the passphrase is in {where}"


def _wait_incremental(dst, proc, timeout=120):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, Path(proc.logfile).read_text()[-3000:]
        if dst.one("SELECT to_regclass('pgdts.task') IS NOT NULL") and \
                dst.sql("SELECT 1 FROM pgdts.task WHERE task = 'it' AND phase = 'incremental'"):
            return
        time.sleep(0.2)
    raise AssertionError("the task did not reach phase incremental:\n"
                         + Path(proc.logfile).read_text()[-3000:])


@pytest.mark.parametrize("side", ["source", "destination"])
@pytest.mark.parametrize("mistake", ["wrong CA", "host name not in the certificate"])
def test_a_certificate_that_does_not_verify_is_one_error_line_naming_the_side(
        ssl_clusters, pki, pgdts, side, mistake):
    src, dst = ssl_clusters
    good = {"source": ssl_conninfo(src, pki), "destination": ssl_conninfo(dst, pki)}
    cluster = src if side == "source" else dst
    good[side] = (ssl_conninfo(cluster, pki, ca="other_ca.crt") if mistake == "wrong CA"
                  else ssl_conninfo(cluster, pki, host="db.example.org"))
    hint = "certificate verify failed" if mistake == "wrong CA" else "does not match host name"
    # sync: one error line; precheck: its report, with one FAIL line
    for command, prefix, out in (("sync", "pgdts: error:", "stderr"), ("precheck", "FAIL", "stdout")):
        r = _run(pgdts, command, "--source", good["source"], "--target", good["destination"],
                 "--task", "it")
        assert r.returncode == 1, f"{command}: {r.stdout}{r.stderr}"
        lines = [l for l in getattr(r, out).splitlines() if l.startswith(prefix)]
        assert len(lines) == 1, f"{command}: {r.stdout}{r.stderr}"
        assert f"could not connect to the {side}" in lines[0], lines[0]
        assert hint in lines[0], lines[0]
    assert slot_row(src, "dts_sync_it") is None      # nothing was started
