"""Test fixtures: every test that takes ``db`` runs on SQLite and, when
YIBAO_TEST_PG_URL is set, on PostgreSQL too (CI sets it); with YIBAO_TEST_PG_PARTITIONED=1
that PostgreSQL database is partitioned after it is migrated (``yibao db partition``:
docs/scaling.md), so the same tests run on the partitioned schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, select, text

from browser import browser  # noqa: F401 (Chromium for a test module, a fixture)
from calls import command_call
from yibao.api.app import create_app
from yibao.client import HisClient, httpx_transport
from yibao.domain import roles
from yibao.services import ledger, operators
from yibao.store import partitioning
from yibao.store.db import Database
from yibao.store.demo import HEBEI, REGION, demo_token, seed_demo
from yibao.store.schema import metadata


def worker_database(url: str, worker: str) -> str:
    """Under pytest-xdist each worker (gw0, gw1, ...) has a PostgreSQL database of its
    own, ``<database>_<worker>`` beside the one YIBAO_TEST_PG_URL names, created when
    missing; without a worker, that database itself."""
    if not url or not worker:
        return url
    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                            {"name": own.database}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        admin.dispose()
    return own.render_as_string(hide_password=False)


# this worker's database; set in the environment too, so that the tests reading the
# variable (the OpenAPI fuzzing's schema, servers started as processes) use it as well
PG_URL = worker_database(os.environ.get("YIBAO_TEST_PG_URL", ""),
                         os.environ.get("PYTEST_XDIST_WORKER", ""))
if PG_URL:
    os.environ["YIBAO_TEST_PG_URL"] = PG_URL
# every console page a test renders must have all its texts in Chinese and English
os.environ.setdefault("YIBAO_CONSOLE_STRICT_I18N", "1")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# the demo operators (store/demo.py), one per role; tests act as the role an action needs
CLERK_TOKEN, REVIEWER_TOKEN, APPROVER_TOKEN, APPROVER2_TOKEN = (
    "demo-clerk", "demo-reviewer", "demo-approver", "demo-approver2")
FINANCE_TOKEN, AUDITOR_TOKEN, ADMIN_TOKEN = "demo-finance", "demo-auditor", "demo-admin"
CLERK, REVIEWER, APPROVER, APPROVER2 = (bearer(t) for t in (
    CLERK_TOKEN, REVIEWER_TOKEN, APPROVER_TOKEN, APPROVER2_TOKEN))
FINANCE, AUDITOR, ADMIN = (bearer(t) for t in (FINANCE_TOKEN, AUDITOR_TOKEN, ADMIN_TOKEN))
EVERY_ROLE_TOKEN = "test-every-role"  # the ``every_role`` fixture's operator
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
# the PostgreSQL test database partitioned by co-ordination area (the demo's areas)
PG_PARTITIONED = bool(PG_URL) and os.environ.get("YIBAO_TEST_PG_PARTITIONED") == "1"


class FakeClock:
    """The business clock (China Standard Time), settable by tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session", params=BACKENDS)
def migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "sqlite":
        database = Database(str(tmp_path_factory.mktemp("db") / "yibao.db"))
    else:
        database = Database(PG_URL)
        with database.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    database.migrate()
    if PG_PARTITIONED and not database.is_sqlite:
        partitioning.partition(database, areas=(REGION, HEBEI))
    yield database
    database.dispose()


def reset(database: Database) -> None:
    """Empty every table and load the demo dataset again: seed_demo itself the first
    time on each database, after that the rows (and sequences) it left, copied back in a
    statement a table (seeding row by row costs more than many a test)."""
    _empty(database)
    demo = _DEMO.get(database.url)
    if demo is None:
        with database.write() as conn:
            seed_demo(conn)
        _DEMO[database.url] = demo_rows(database)
        return
    rows, sequences = demo
    with database.engine.begin() as conn:
        for table in metadata.sorted_tables:  # parents first
            if rows.get(table.name):
                conn.execute(table.insert(), rows[table.name])
        if sequences:
            conn.exec_driver_sql("SELECT " + ", ".join(
                f"setval('{name}', {value}, {'true' if called else 'false'})"
                for name, (value, called) in sequences.items()))


# per database URL: the demo dataset's rows by table, and its sequences' states
_DEMO: dict[str, tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[int, bool]]]] = {}
_SEQUENCES: dict[str, list[str]] = {}  # per PostgreSQL URL: the tables' own sequences


def demo_rows(database: Database) -> tuple[dict[str, list[dict[str, Any]]],
                                           dict[str, tuple[int, bool]]]:
    """Every table's rows (in the order they were stored) and, on PostgreSQL, the state
    of each sequence a column owns."""
    with database.read() as conn:
        rows = {table.name: [dict(r) for r in conn.execute(select(table)).mappings()]
                for table in metadata.sorted_tables}
        sequences = {name: (int(value), bool(called)) for name in _owned_sequences(database)
                     for value, called in conn.execute(text(
                         f"SELECT last_value, is_called FROM {name}"))}
    return {name: found for name, found in rows.items() if found}, sequences


def _owned_sequences(database: Database) -> list[str]:
    """The sequences a column owns (those TRUNCATE ... RESTART IDENTITY restarts)."""
    if database.is_sqlite:
        return []
    if database.url not in _SEQUENCES:
        with database.read() as conn:
            _SEQUENCES[database.url] = sorted(conn.execute(text(
                "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
                "JOIN pg_namespace n ON n.oid = s.relnamespace "
                "WHERE s.relkind = 'S' AND d.refclassid = 'pg_class'::regclass "
                "AND d.deptype IN ('a', 'i') AND n.nspname = current_schema()")).scalars())
    return _SEQUENCES[database.url]


def _empty(database: Database) -> None:
    """Every table emptied (children first) and, on PostgreSQL, the tables' sequences
    restarted, as TRUNCATE ... RESTART IDENTITY would: DELETE of the few rows a test
    leaves costs a fraction of TRUNCATE's new files for ~80 tables and their indexes."""
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.is_sqlite:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
            return
        conn.exec_driver_sql("; ".join(f"DELETE FROM {name}" for name in tables))
        sequences = _owned_sequences(database)
        if sequences:
            conn.exec_driver_sql("SELECT " + ", ".join(
                f"setval('{name}', (SELECT start_value FROM pg_sequences "
                f"WHERE schemaname = current_schema() AND sequencename = '{name}'), false)"
                for name in sequences))


@pytest.fixture
def db(migrated: Database, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A migrated database holding exactly the demo dataset. After the test, the fund
    ledger must agree with the settlements to the fen (``yibao ledger verify``), unless
    the test corrupts records on purpose (marked ``corrupts``)."""
    reset(migrated)
    yield migrated
    if request.node.get_closest_marker("corrupts") is None:
        with migrated.read() as conn:
            assert ledger.verify(conn) == []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 5, 11, 9, 30, 0))


@pytest.fixture
def app(db: Database, clock: FakeClock):
    made = create_app(db, clock=clock)
    made.state.clock = clock  # the time a test app's real-person checks happen (tests/apps.py)
    return made


@pytest.fixture
def every_role(db: Database, clock: FakeClock) -> dict[str, str]:
    """Headers of an operator holding every role, for tests of something else than roles
    (hostile input on every route); never for flows that separation of duties governs."""
    with db.write() as conn:
        operators.create(command_call(conn, clock), "every-role", list(roles.ROLES),
                         token=EVERY_ROLE_TOKEN)
    return bearer(EVERY_ROLE_TOKEN)


@pytest.fixture
def http(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def his_factory(http: TestClient):
    def make(code: str = "H11010500001", *, signed_in: bool = True) -> HisClient:
        his = HisClient(httpx_transport(http), code, demo_token(code))
        if signed_in:
            his.sign_in()
        return his

    return make


@pytest.fixture
def his(his_factory) -> HisClient:
    return his_factory()


def pytest_report_header() -> str:
    partitioned = " (partitioned)" if PG_PARTITIONED else ""
    return f"yibao backends: {', '.join(BACKENDS)}{partitioned}"


ROOT = Path(__file__).resolve().parent.parent
