"""Real servers for the tests that need them: yibao served by uvicorn in a thread, a
payment platform's simulator (``yibao paysim``, WeChat Pay or Alipay) in a process of its
own, and a client that calls a served yibao as tests/apps.py's ChannelApp expects."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from conftest import ROOT
from yibao.bench.server import free_port

START_SECONDS_MAX = 30.0


class Served:
    """An ASGI app served by uvicorn in a thread on ``port``, reached as ``host``."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + START_SECONDS_MAX
        while not self.server.started:
            assert time.monotonic() < deadline, f"{self.url} did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(START_SECONDS_MAX)


class Remote:
    """What ChannelApp needs of a client, against the running server."""

    def __init__(self, base: str, app: FastAPI) -> None:
        self.client = httpx.Client(base_url=base, timeout=10)
        self.app = app  # its state.clock: the app's business clock

    def post(self, path: str, **kwargs):
        return self.client.post(path, **kwargs)


@contextmanager
def simulator(retry_scale: str = "0.001", style: str = "wechat") -> Iterator[str]:
    """A payment platform's simulator (WeChat Pay, or ``style="alipay"``) in its own
    process; its base URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "yibao.cli", "paysim", "--port", str(port),
         "--retry-scale", retry_scale, "--style", style], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS_MAX
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else b""
        try:
            if httpx.get(f"{url}/_sim/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the simulator did not start")
