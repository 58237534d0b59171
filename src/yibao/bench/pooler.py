"""A private PgBouncer in transaction mode in front of one PostgreSQL server, for the
scaling benchmark and the pooler tests: its configuration, socket, pid file and log in a
temporary directory, on a free port, started as a child process and stopped with it.

PgBouncer refuses to run as root: run as root, it runs as the ``postgres`` user (``runuser
-u postgres --``, the temporary directory handed to that user). Clients authenticate with
``auth_type = trust`` (the user must still be listed in the auth file: the URL's user).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import make_url

from yibao.bench.cpu import group_seconds
from yibao.bench.server import free_port
from yibao.store.db import POOLER_OPTION, normalize_url, pooler_mode

PGBOUNCER = "/usr/sbin/pgbouncer"
RUN_AS = "postgres"  # when started by root
START_SECONDS_MAX = 15.0


def installed() -> str | None:
    """The pgbouncer executable, or None when it is not installed."""
    return shutil.which("pgbouncer") or (PGBOUNCER if os.access(PGBOUNCER, os.X_OK) else None)


def config(*, port: int, directory: Path, server_host: str, server_port: int, user: str,
           pool_size: int, max_clients: int) -> str:
    """pgbouncer.ini: every database of the server, transaction pooling, ``pool_size``
    server connections per database and user, up to ``max_clients`` client connections."""
    return "\n".join([
        "[databases]",
        f"* = host={server_host} port={server_port}",
        "",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        f"unix_socket_dir = {directory}",
        "auth_type = trust",
        f"auth_file = {directory / 'userlist.txt'}",
        f"admin_users = {user}",
        "pool_mode = transaction",
        f"max_client_conn = {max_clients}",
        f"default_pool_size = {pool_size}",
        "min_pool_size = 0",
        "reserve_pool_size = 0",
        "server_reset_query =",  # transaction mode: nothing outlives a transaction
        "ignore_startup_parameters = extra_float_digits",
        f"logfile = {directory / 'pgbouncer.log'}",
        f"pidfile = {directory / 'pgbouncer.pid'}",
        "log_connections = 0",
        "log_disconnections = 0",
        "",
    ])


class Pooler:
    """A PgBouncer in transaction mode in front of the server of ``url`` (a PostgreSQL
    URL); ``url_for(database)`` gives the URL through it, ``stop()`` ends it."""

    def __init__(self, url: str, *, pool_size: int = 20, max_clients: int = 1000,
                 port: int = 0) -> None:
        executable = installed()
        if executable is None:
            raise RuntimeError("pgbouncer is not installed (Debian: apt-get install "
                               "pgbouncer)")
        bare, _ = pooler_mode(normalize_url(url))
        self.server = make_url(bare)
        self.user = self.server.username or RUN_AS
        self.port = free_port(port)
        self.directory = Path(tempfile.mkdtemp(prefix="yibao-pgbouncer-"))
        (self.directory / "userlist.txt").write_text(f'"{self.user}" ""\n')
        ini = self.directory / "pgbouncer.ini"
        ini.write_text(config(port=self.port, directory=self.directory,
                              server_host=self.server.host or "127.0.0.1",
                              server_port=self.server.port or 5432, user=self.user,
                              pool_size=pool_size, max_clients=max_clients))
        command = [executable, str(ini)]
        if os.geteuid() == 0:  # pgbouncer refuses root
            shutil.chown(self.directory, RUN_AS)
            for path in self.directory.iterdir():
                shutil.chown(path, RUN_AS)
            command = ["runuser", "-u", RUN_AS, "--", *command]
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # its own process group: metered and stopped as one
        self._wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def url_for(self, database: str | None = None) -> str:
        """The URL of ``database`` (default: the given URL's) through the pooler, with
        ``?pooler=transaction``."""
        through = self.server.set(host="127.0.0.1", port=self.port,
                                  database=database or self.server.database)
        through = through.update_query_dict({POOLER_OPTION: "transaction"})
        return through.render_as_string(hide_password=False)

    def cpu_seconds(self) -> float:
        """CPU seconds of the pooler's processes so far."""
        return group_seconds(self.pid)

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _wait(self) -> None:
        deadline = time.time() + START_SECONDS_MAX
        while time.time() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                log = self.log()
                self.stop()
                raise RuntimeError(f"pgbouncer exited at start: {log[-800:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("pgbouncer did not start listening")

    def stop(self) -> None:
        """SIGTERM to its process group (PgBouncer's immediate shutdown), SIGKILL if it
        has not ended within five seconds; the temporary directory removed."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Pooler:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
