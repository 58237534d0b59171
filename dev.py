#!/usr/bin/env python3
"""Set up and run yibao on a fresh machine that has only Python 3.11+.

    python3 dev.py demo   # virtualenv + what serving needs, SQLite + demo dataset, serve on :8080
    python3 dev.py test   # virtualenv + the dev and spark extras, ruff, mypy --strict, the tests

Extra arguments go to the command (``demo --port 9000``, ``test -k engine``).
The test suite also runs on PostgreSQL when YIBAO_TEST_PG_URL is set (as CI does).
pytest runs in parallel, one worker per CPU core (pytest-xdist, a test file per worker
at a time); ``test -n 0`` runs it in this one process, ``test -n 3`` with three workers.
The tests marked ``alone`` (restarting the database server) run after the others, by
themselves.
Ctrl-C or SIGTERM stops everything the command started: ``demo`` becomes the server
process itself (same pid), ``test`` passes the signal on to the step that runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".yibao-installed"  # {"pyproject": sha256, "extras": [...]}
EXTRAS = {"demo": (), "test": ("dev", "spark")}
# pytest's workers (pytest-xdist): one per core, each test file on one worker (its module
# fixtures, e.g. a browser, are made once); a later ``-n N`` among the arguments wins
PARALLEL = ("-n", "auto", "--dist", "loadfile")
NO_TESTS = 5  # pytest's exit code when the selection holds no test
PASSED_ON = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
                  if s is not None)


def ensure_environment(extras: tuple[str, ...]) -> None:
    """Create .venv and install the project with ``extras``: again only when
    pyproject.toml changed or an extra is missing (the stamp remembers which are in)."""
    if sys.version_info < (3, 11):
        sys.exit("yibao needs Python 3.11 or newer")
    started = time.monotonic()
    if not (BIN / "python").exists():
        step("creating the virtual environment .venv ...", started)
        venv.create(VENV, with_pip=True)
    digest = pyproject_digest()
    wanted = to_install(extras, digest)
    if wanted is None:
        return
    target = f"{ROOT}[{','.join(wanted)}]" if wanted else str(ROOT)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check",
           "--progress-bar", "on"]
    step("upgrading pip ...", started)
    run(*pip, "--quiet", "--upgrade", "pip", check=True)
    step(f"installing yibao{'[' + ','.join(wanted) + ']' if wanted else ''} and its "
         "packages (pip's progress follows) ...", started)
    run(*pip, "-e", target, check=True)
    STAMP.write_text(json.dumps({"pyproject": digest, "extras": wanted}))
    step("set-up done", started)


def pyproject_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def to_install(extras: tuple[str, ...], digest: str) -> list[str] | None:
    """The extras to install the project with (those asked for and those already in),
    or None when the stamp says the project and ``extras`` are installed already."""
    installed = installed_extras(digest)
    if installed is not None and set(extras) <= installed:
        return None
    return sorted(set(extras) | (installed or set()))


def installed_extras(digest: str) -> set[str] | None:
    """The extras installed for this pyproject.toml (None: install again)."""
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return None  # no stamp, or one of an older dev.py (its bare digest)
    if not isinstance(stamp, dict) or stamp.get("pyproject") != digest:
        return None
    return set(stamp.get("extras", ()))


def step(what: str, started: float) -> None:
    print(f"[set-up {time.monotonic() - started:5.1f} s] {what}", flush=True)


def run(*command: str, check: bool = False) -> int:
    """Run ``command`` to its end; SIGINT, SIGTERM or SIGHUP sent to dev.py reach it too,
    and dev.py then stops with it (exit 128 + the signal's number)."""
    child = subprocess.Popen(command, cwd=ROOT)
    received: list[int] = []

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        child.send_signal(signum)

    previous = {s: signal.signal(s, pass_on) for s in PASSED_ON}
    try:
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        sys.exit(128 + received[0])
    if check and code:
        sys.exit(f"{' '.join(command[:4])} ... failed (exit {code})")
    return code


def serve_demo(extra: list[str]) -> int:
    """``yibao demo``: on POSIX dev.py becomes it (the same pid), so a signal to the pid
    the shell shows reaches the server; elsewhere it runs as a child."""
    command = [str(BIN / "yibao"), "demo", *extra]
    if os.name != "posix":
        return run(*command)
    sys.stdout.flush()
    os.chdir(ROOT)
    os.execv(command[0], command)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in EXTRAS:
        print(__doc__)
        return 2
    action, extra = sys.argv[1], sys.argv[2:]
    ensure_environment(EXTRAS[action])
    if action == "demo":
        return serve_demo(extra)
    lint = run(str(BIN / "ruff"), "check", "src", "tests", "tools", "bench")
    types = run(str(BIN / "mypy"), "--strict", "src/yibao")
    pytest = (str(BIN / "python"), "-m", "pytest")
    tests = run(*pytest, *PARALLEL, "-m", "not alone", *extra)
    # a test marked alone restarts the database server: nothing else may run meanwhile
    alone = run(*pytest, "-n", "0", "-m", "alone", *extra)
    return tests or (0 if alone == NO_TESTS else alone) or lint or types


if __name__ == "__main__":
    sys.exit(main())
