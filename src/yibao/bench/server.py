"""`yibao serve` as a child process for benchmarks and fault runs: started, waited for
(/health), killed with SIGKILL or stopped, and started again on the same port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

START_SECONDS_MAX = 60.0
_KEYS = frozenset({"YIBAO_TEMPLATE_KEY", "YIBAO_MPC_PRIVATE_KEY"})  # without both: --demo


def free_port(preferred: int = 0) -> int:
    """``preferred`` if nothing listens there, else any free port."""
    if preferred:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", preferred)) != 0:
                return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on ``port`` (Linux /proc/net/tcp, tcp6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # local address "0100007F:1F90", state 0A: LISTEN, the inode tenth
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1],
                                                              16) == port:
                inodes.add(fields[9])
    return inodes


def listens(pgid: int, port: int) -> bool:
    """Whether a process of the process group ``pgid`` holds a socket listening on
    ``port``."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if stat[2] != str(pgid):
                continue
            fds = os.listdir(f"/proc/{pid}/fd")
        except (OSError, IndexError):
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    return True
            except OSError:
                continue
    return False


class ServerProcess:
    def __init__(self, url: str, port: int, *, workers: int = 1,
                 env: Mapping[str, str] | None = None) -> None:
        """``env``: variables added to this process's environment for the server."""
        self.url, self.port, self.workers = url, port, workers
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Serve; in demo mode unless both production keys are set (face, mobile pay)."""
        # logs as in production (a line per message), thrown away
        env = dict(os.environ, YIBAO_LOG_LEVEL="INFO", **self.env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "yibao.cli", "serve", "--db", self.url, "--port",
             str(self.port), "--workers", str(self.workers),
             *([] if all(key in os.environ for key in _KEYS) else ["--demo"])],  # no faces, no 62xx
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: workers die with it
        )
        deadline = time.time() + START_SECONDS_MAX
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited (code {self.process.returncode}) "
                                   f"before answering /health on port {self.port}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1)
            except OSError:
                time.sleep(0.2)
                continue
            self._check_answered_by_us()
            return
        self.kill()
        raise RuntimeError("the server did not come up")

    def _check_answered_by_us(self) -> None:
        """/health answered: make sure the server started here answered it, i.e. that it
        still runs and one of its processes holds the listening socket of the port (not
        another process that had the port, and answered /health, while ours failed to
        bind it and exited). Raises RuntimeError otherwise."""
        assert self.process is not None
        deadline = time.time() + 5.0
        while time.time() < deadline:
            if self.process.poll() is not None:
                break
            if listens(self.pid, self.port):
                return
            time.sleep(0.1)
        code = self.process.poll()
        if code is None:
            self.kill()
        raise RuntimeError(
            f"port {self.port} answered /health, but not from the server started here "
            f"({'it exited, code ' + str(code) if code is not None else 'it does not hold it'}"
            "): another process holds the port; choose another --port")

    def kill(self) -> None:
        """SIGKILL to the whole process group, as a crash would."""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
