"""A real PostgreSQL server for the tests: Debian's packages, a throw-away cluster, 127.0.0.1 only, always stopped.

`initdb` refuses to run as root, and a database server should not: as root the cluster belongs to the unprivileged
`postgres` user (Debian's package creates it); otherwise to whoever runs the tests. Password authentication
(scram-sha-256) is on, so the tests exercise a URL with a password as a cluster's would be.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "sgen"
PASSWORD = "pg-secret-" + uuid.uuid4().hex[:10]  # distinctive, so a test can grep every output for it


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _install_if_missing() -> Path:
    bin_dir = _bin_dir()
    if bin_dir is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, timeout=900)
        bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql) and cannot be installed as non-root")
    return bin_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    port: int
    data_dir: Path

    def url(self, database: str, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; its URL (with the password)."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def start_server() -> tuple[PostgresServer, callable]:
    """Start a cluster; returns it and the function that stops it and deletes its files."""
    bin_dir = _install_if_missing()
    root = Path(tempfile.mkdtemp(prefix="sgen-pg-"))  # under /tmp: reachable by the server's user
    run_as: dict = {}
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        run_as = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    data, pwfile, log = root / "data", root / "pwfile", root / "server.log"
    pwfile.write_text(PASSWORD + "\n")
    if run_as:
        os.chown(pwfile, run_as["user"], run_as["group"])
    port = _free_port()

    def pg(*args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True, cwd=root,
                              timeout=120, **run_as, **kw)

    init = pg("initdb", "-D", str(data), "-U", USER, "--pwfile", str(pwfile), "--auth=scram-sha-256",
              "-E", "UTF8", "--no-sync")
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
    # TCP on 127.0.0.1 only, no Unix socket; fsync stays on: the cache's durability is what these tests are about.
    opts = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' -c max_connections=200"
    start = pg("pg_ctl", "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start")
    if start.returncode != 0:
        server_log = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {start.stderr[-1000:]} {server_log}")

    def stop() -> None:
        pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)

    server = PostgresServer(port, data)
    deadline = time.time() + 30
    while True:  # pg_ctl -w returns once it accepts connections; check the password path once
        try:
            server.create_database()
            break
        except Exception:
            if time.time() > deadline:
                stop()
                raise
            time.sleep(0.2)
    return server, stop
