"""The layers stay apart: no module under src/yibao/api/ builds or runs SQL. An api
module may receive a ``Connection`` to pass to services and catch sqlalchemy's
exceptions; queries live under store/ (one module per aggregate) or in the service that
owns the table (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

API = ROOT / "src" / "yibao" / "api"
# what an api module may import from sqlalchemy: the connection it passes on, the errors
ALLOWED_FROM_SQLALCHEMY = {"sqlalchemy": {"Connection"}, "sqlalchemy.exc": None}
SCHEMA = "yibao.store.schema"
RUNS_SQL = {"execute", "exec_driver_sql", "scalar", "scalars"}


def offences(source: str, name: str) -> list[str]:
    """Each import of a statement builder or of the schema, and each call running SQL, in
    ``source`` (module ``name``), as ``name:line: what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        for what in _offences_of(node):
            found.append(f"{name}:{getattr(node, 'lineno', 0)}: {what}")
    return found


def _offences_of(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [f"imports {a.name}" for a in node.names
                if a.name == SCHEMA or a.name.split(".")[0] == "sqlalchemy"]
    if isinstance(node, ast.ImportFrom):
        return _from_import(node.module or "", [a.name for a in node.names])
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in RUNS_SQL):
        return [f"calls .{node.func.attr}()"]
    return []


def _from_import(module: str, names: list[str]) -> list[str]:
    if module == SCHEMA or (module == "yibao.store" and "schema" in names):
        return [f"imports {SCHEMA}"]
    if module.split(".")[0] != "sqlalchemy":
        return []
    if module not in ALLOWED_FROM_SQLALCHEMY:
        return [f"imports from {module}"]
    allowed = ALLOWED_FROM_SQLALCHEMY[module]
    return [f"imports {name} from {module}" for name in names
            if allowed is not None and name not in allowed]


def test_no_module_under_api_builds_or_runs_sql():
    modules = sorted(API.glob("**/*.py"))
    assert len(modules) > 20  # the api package was found
    found = [o for path in modules
             for o in offences(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert found == [], "SQL under api/ (move it to store/ or the owning service):\n" + (
        "\n".join(found))


@pytest.mark.parametrize(("source", "expected"), [
    ("from sqlalchemy import Connection, select\n", "m.py:1: imports select from sqlalchemy"),
    ("import os\nfrom sqlalchemy import text\n", "m.py:2: imports text from sqlalchemy"),
    ("from sqlalchemy.sql import expression\n", "m.py:1: imports from sqlalchemy.sql"),
    ("import sqlalchemy\n", "m.py:1: imports sqlalchemy"),
    ("from yibao.store.schema import message\n", "m.py:1: imports yibao.store.schema"),
    ("from yibao.store import schema\n", "m.py:1: imports yibao.store.schema"),
    ("import yibao.store.schema\n", "m.py:1: imports yibao.store.schema"),
    ("def f(conn):\n    conn.execute(q)\n", "m.py:2: calls .execute()"),
    ("def f(conn):\n    conn.exec_driver_sql('SELECT 1')\n", "m.py:2: calls .exec_driver_sql()"),
    ("def f(conn):\n    return conn.scalar(q)\n", "m.py:2: calls .scalar()"),
])
def test_the_check_names_the_module_and_line_of_each_offence(source, expected):
    assert offences(source, "m.py") == [expected]


def test_the_check_lets_a_connection_errors_and_store_modules_through():
    source = ("from sqlalchemy import Connection\n"
              "from sqlalchemy.exc import DBAPIError, IntegrityError\n"
              "from yibao.store import messages, nonces\n"
              "from yibao.store.db import Database\n"
              "def f(conn: Connection) -> None:\n    messages.reserve(conn)\n")
    assert offences(source, "m.py") == []


def test_store_modules_are_found_where_the_docs_say():
    listed = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    store = Path(ROOT / "src" / "yibao" / "store")
    for module in ("messages", "nonces", "signins", "channels", "institutions"):
        assert (store / f"{module}.py").exists()
        assert f"{module}.py" in listed
