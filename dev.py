#!/usr/bin/env python3
"""Set up and run yibao on a fresh machine that has only Python 3.11+.

    python3 dev.py demo   # virtualenv + packages, SQLite + demo dataset, serve on :8080
    python3 dev.py test   # virtualenv + packages, ruff, mypy --strict, the whole test suite

Extra arguments go to the command (``yibao demo --port 9000``, ``pytest -k engine``).
The test suite also runs on PostgreSQL when YIBAO_TEST_PG_URL is set (as CI does).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def ensure_environment() -> None:
    """Create .venv and install the project (again only when pyproject.toml changed)."""
    if sys.version_info < (3, 11):
        sys.exit("yibao needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    stamp = VENV / ".yibao-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("installing packages ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    stamp.write_text(digest)


def run(*command: str) -> int:
    return subprocess.run(command, cwd=ROOT).returncode


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        print(__doc__)
        return 2
    ensure_environment()
    action, extra = sys.argv[1], sys.argv[2:]
    if action == "demo":
        return run(str(BIN / "yibao"), "demo", *extra)
    lint = run(str(BIN / "ruff"), "check", "src", "tests", "tools", "bench")
    types = run(str(BIN / "mypy"), "--strict", "src/yibao")
    tests = run(str(BIN / "python"), "-m", "pytest", *extra)
    return tests or lint or types


if __name__ == "__main__":
    sys.exit(main())
