"""yibao behind PgBouncer in transaction mode (docs/operations.md, "Through a connection
pooler"): the URL option ``?pooler=transaction`` turns off the server-side prepared
statements, and the platform works end to end through a real pgbouncer on PostgreSQL: a
HIS flow 1101 -> 2201 -> 2204 -> 2206 -> 2207, and the same person settled at the same
moment by three hospitals (threads and processes, more transactions than the pooler's
two server connections) still uses the deductible once.

The pgbouncer tests are skipped when pgbouncer is not installed, unless
YIBAO_REQUIRE_PGBOUNCER=1 (CI installs it and sets it): then they fail."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, literal, select, text

from concurrency import run_processes, run_threads
from conftest import PG_URL, FakeClock
from flows import WANG_FANG, line, ok, person, register, settle_payload, upload
from test_concurrency import check_deductible_used_once, prepared_settlement
from yibao.api.app import create_app
from yibao.bench import pooler
from yibao.client import HisClient, httpx_transport
from yibao.store.db import Database, Need, pooler_mode, problem
from yibao.store.demo import demo_token
from yibao.store.lean import Lean
from yibao.store.schema import settlement

REQUIRED = os.environ.get("YIBAO_REQUIRE_PGBOUNCER") == "1"
SERVER_CONNECTIONS = 2  # fewer than the concurrent transactions: they share them


def test_the_pooler_option_is_taken_off_the_url() -> None:
    url = "postgresql+psycopg://u:p@h:6432/db?application_name=x&pooler=transaction"
    assert pooler_mode(url) == ("postgresql+psycopg://u:p@h:6432/db?application_name=x",
                                "transaction")
    assert pooler_mode("postgresql+psycopg://h/db") == ("postgresql+psycopg://h/db", None)
    for wrong in ("postgresql+psycopg://h/db?pooler=session",
                  "postgresql+psycopg://h/db?pooler=transaction&pooler=transaction",
                  "sqlite:///x.db?pooler=transaction"):
        with pytest.raises(ValueError, match="pooler"):
            pooler_mode(wrong)
    assert "unknown pooler=statement" in str(problem(
        "postgresql://h/db?pooler=statement", Need.SCHEMA))


@pytest.mark.skipif(not PG_URL, reason="YIBAO_TEST_PG_URL is not set")
def test_no_statement_is_prepared_on_the_server_in_transaction_mode() -> None:
    """Straight to PostgreSQL, so that the session's prepared statements can be read: the
    lean path's statements (the driver's cursor) run ten times, none is prepared."""
    statement = Lean(select(literal(1).label("one")))
    for option, prepared in (("", True), ("?pooler=transaction", False)):
        database = Database(PG_URL + option, pool_size=1)
        try:
            with database.write() as conn:
                for _ in range(10):
                    assert statement.all(conn, {}) == [{"one": 1}]
                count = conn.execute(text(
                    "SELECT count(*) FROM pg_prepared_statements")).scalar_one()
        finally:
            database.dispose()
        assert (count > 0) is prepared, option


@pytest.fixture(scope="module")
def bouncer() -> Iterator[pooler.Pooler]:
    if not PG_URL:
        pytest.skip("YIBAO_TEST_PG_URL is not set: the pooler sits in front of PostgreSQL")
    if pooler.installed() is None:
        if REQUIRED:
            pytest.fail("pgbouncer is not installed and YIBAO_REQUIRE_PGBOUNCER=1")
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer; CI sets "
                    "YIBAO_REQUIRE_PGBOUNCER=1)")
    with pooler.Pooler(PG_URL, pool_size=SERVER_CONNECTIONS) as running:
        yield running


@pytest.fixture
def pooled(db: Database, bouncer: pooler.Pooler) -> Iterator[Database]:
    """The test database (demo dataset) through the pooler, with more connections of its
    own than the pooler has to the server."""
    if db.is_sqlite:
        pytest.skip("a connection pooler sits in front of PostgreSQL")
    database = Database(bouncer.url_for(), pool_size=6)
    assert database.pooler == "transaction"
    yield database
    database.dispose()


@pytest.fixture
def pooled_app(pooled: Database, clock: FakeClock):
    made = create_app(pooled, clock=clock)
    made.state.clock = clock
    return made


@pytest.fixture
def pooled_http(pooled_app) -> Iterator[TestClient]:
    with TestClient(pooled_app) as client:
        yield client


def his_at(http: TestClient, code: str) -> HisClient:
    his = HisClient(httpx_transport(http), code, demo_token(code))
    his.sign_in()
    return his


def test_a_flow_settles_through_pgbouncer(pooled_http: TestClient,
                                          pooled: Database) -> None:
    his = his_at(pooled_http, "H11010500001")
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "300.00"),
                                   line("2", "XA01AAA0001", "200.00")])
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "500.00")
    pre = ok(his.call("2206", payload))["setlinfo"]
    done = ok(his.call("2207", payload))["setlinfo"]
    assert done["medfee_sumamt"] == pre["medfee_sumamt"]
    assert done["fund_pay_sumamt"] == pre["fund_pay_sumamt"]
    with pooled.read() as conn:
        stored = conn.execute(select(settlement.c.setl_id)).scalars().all()
    assert stored == [done["setl_id"]]


def test_same_person_at_three_hospitals_settles_once_through_pgbouncer(
        pooled_app, pooled_http: TestClient) -> None:
    hospitals = [his_at(pooled_http, code) for code in (
        "H11010500001", "H11010500002", "H11010500003")]
    requests = [prepared_settlement(h, WANG_FANG, "1000.00") for h in hospitals]
    answers = run_threads(pooled_app.state.hospital.handle, requests)
    check_deductible_used_once(hospitals[0], WANG_FANG, answers, "1000.00")


def test_same_person_in_two_processes_settles_once_through_pgbouncer(
        pooled_http: TestClient, pooled: Database, clock: FakeClock) -> None:
    hospitals = [his_at(pooled_http, code) for code in ("H11010500001", "H11010500002")]
    requests = [prepared_settlement(h, WANG_FANG, "1500.00") for h in hospitals]
    answers = run_processes(pooled.url, clock.now, requests)
    check_deductible_used_once(hospitals[0], WANG_FANG, answers, "1500.00")
    with pooled.read() as conn:
        assert conn.execute(select(func.count()).select_from(settlement)).scalar_one() == 2
