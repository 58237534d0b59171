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
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError("the server did not come up")

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
