"""The README's first command, ``python3 dev.py demo``, stops with everything it started
on SIGTERM (``kill PID``) and on SIGINT (Ctrl-C), and its set-up installs only what a
command needs: the stamp in .venv remembers which extras are in.

The demo test runs dev.py against the repository's .venv as it is; it is skipped when
that .venv would first have to install packages (minutes), never installing anything."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from conftest import ROOT
from yibao.bench.server import free_port

STARTUP_SECONDS = 60
STOP_SECONDS = 20


def load_dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dev = load_dev()


@pytest.fixture
def stamp(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """dev.py's install stamp, in a scratch place."""
    path = tmp_path / ".yibao-installed"
    monkeypatch.setattr(dev, "STAMP", path)
    yield path


def write_stamp(path: Path, digest: str, extras: list[str]) -> None:
    path.write_text(json.dumps({"pyproject": digest, "extras": extras}))


def test_the_demo_installs_only_the_project_and_the_tests_add_their_extras(stamp):
    digest = dev.pyproject_digest()
    assert dev.to_install(dev.EXTRAS["demo"], digest) == []  # nothing in yet: `pip -e .`
    assert dev.to_install(dev.EXTRAS["test"], digest) == ["dev", "spark"]
    write_stamp(stamp, digest, [])  # after the demo's set-up
    assert dev.to_install(dev.EXTRAS["demo"], digest) is None
    assert dev.to_install(dev.EXTRAS["test"], digest) == ["dev", "spark"]
    write_stamp(stamp, digest, ["dev", "spark"])  # after the tests' set-up
    assert dev.to_install(dev.EXTRAS["demo"], digest) is None
    assert dev.to_install(dev.EXTRAS["test"], digest) is None


def test_a_changed_pyproject_or_an_older_stamp_installs_again(stamp):
    write_stamp(stamp, "0" * 64, ["dev", "spark"])
    assert dev.to_install(dev.EXTRAS["demo"], dev.pyproject_digest()) == []
    stamp.write_text(dev.pyproject_digest())  # the stamp of an older dev.py: a bare digest
    assert dev.to_install(dev.EXTRAS["test"], dev.pyproject_digest()) == ["dev", "spark"]


def demo_ready() -> bool:
    return (dev.BIN / "yibao").exists() and \
        dev.to_install(dev.EXTRAS["demo"], dev.pyproject_digest()) is None


@pytest.mark.skipif(sys.platform != "linux", reason="reads the process table in /proc")
@pytest.mark.skipif(not demo_ready(), reason="the repository's .venv is not set up for the "
                    "demo (run `python3 dev.py demo` once): this test never installs packages")
@pytest.mark.parametrize(("signum", "by_variable"), [(signal.SIGTERM, False),
                                                    (signal.SIGINT, True)],
                         ids=["SIGTERM, --port", "SIGINT, YIBAO_PORT"])
def test_a_signal_to_dev_py_demo_stops_everything_it_started(tmp_path, signum, by_variable):
    """The demo on the port given (--port, or the YIBAO_PORT variable), stopped."""
    port, log = free_port(), tmp_path / "demo.log"
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}  # this checkout's code
    at = [] if by_variable else ["--port", str(port)]
    if by_variable:
        env["YIBAO_PORT"] = str(port)
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, str(ROOT / "dev.py"), "demo", *at, "--db", str(tmp_path / "demo.db")],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    group = demo.pid  # a new session: its process group has the same id
    try:
        assert serves(port, demo), log.read_text()
        os.kill(demo.pid, signum)
        demo.wait(timeout=STOP_SECONDS)
        assert not answers(port)
        assert remaining(group) == []
    finally:
        if remaining(group):
            os.killpg(group, signal.SIGKILL)
        demo.wait(timeout=STOP_SECONDS)


def serves(port: int, demo: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and demo.poll() is None:
        if answers(port):
            return True
        time.sleep(0.2)
    return False


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def remaining(group: int) -> list[int]:
    """The processes still in ``group`` (and not zombies waiting to be reaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()

            except OSError:
                continue
            state, _parent, pgid = stat.rsplit(")", 1)[1].split()[:3]
            if int(pgid) == group and state != "Z":
                found.append(int(entry))
    return found
